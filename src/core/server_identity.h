// The keys a database is bound to. Every keywardd node of an installation
// must hold the same server.key (peppers, token and code keys) and the same
// recovery.key (pk_srv): a node with another server.key rejects every login
// and session, one with another recovery.key seals new server shares to a key
// the other nodes cannot open. The first keywardd that starts on a database
// records, in server_meta (store/store.h):
//   "server_key_check"     H(pepper, "keyward server key check v1"), 32
//                          bytes: only the holder of server.key can compute
//                          it, and it reveals nothing about the key (the
//                          pepper's other input, an auth key, is 32 raw
//                          bytes, never this label);
//   "recovery_public_key"  pk_srv, 32 bytes, public anyway.
// Every later start compares its own values with them (constant time). A
// database upgraded from before migration 5 has neither row: the first start
// after the upgrade records them.
#pragma once

#include "common/error.h"
#include "core/context.h"

namespace keyward::core {

inline constexpr char kServerKeyCheckName[] = "server_key_check";
inline constexpr char kRecoveryPublicKeyName[] = "recovery_public_key";

// Records the keys of ctx (ctx.keys, and ctx.config.recovery_key's public
// half when set) on a database that has none, or checks them against the
// recorded ones; both rows in one transaction, so a failure writes nothing.
// Two nodes starting at once on a fresh database: one records, the other
// compares. Errors: server.keys_mismatch (kConflict; the message names the
// file that differs and is meant for the operator), or the store's.
[[nodiscard]] Status BindServerKeys(const Context& ctx);

}  // namespace keyward::core
