// libpq, loaded when a PostgreSQL store is first opened rather than linked:
// a node on SQLite (the default) then never maps libpq and what it pulls in
// (LDAP, Kerberos, SASL, GnuTLS: ~2 MiB of resident pages; issue 16, idle
// RSS). libpq_shim.cc defines each PQ* function keywardd calls, with
// libpq-fe.h's own signature, as a call through the loaded library.
#pragma once

#include "common/error.h"

namespace keyward::store::postgres {

// Loads libpq.so.5 once (thread-safe); a clear store.unavailable error,
// naming the Debian package, when it cannot be.
[[nodiscard]] Status LoadLibpq();

}  // namespace keyward::store::postgres
