// What every service shares: the store, the mail queue, the clock, the server
// subkeys and the rules. Services hold a reference; the owner (api::Api or a
// test) keeps the Context alive.
#pragma once

#include "common/clock.h"
#include "common/try.h"
#include "core/config.h"
#include "core/deferred.h"
#include "core/mail.h"
#include "core/mail_queue.h"
#include "core/server_keys.h"
#include "store/store.h"

namespace keyward::core {

struct Context {
  store::Store& store;
  // Every email goes through it, in the transaction that causes it
  // (ctx.mail.Enqueue(tx, message)).
  MailQueue& mail;
  const Clock& clock;
  const ServerKeys& keys;
  const CoreConfig& config;
  // Work left for after the answer (core/deferred.h).
  Deferred& deferred;
};

// Who is calling an authenticated route.
struct Caller {
  std::string account_id;
  std::string device_id;
  store::Bytes token_hash;
  std::string remote_address;
  // An admin reset the master password (admin-reset mode): only the routes
  // that let the member choose a new one are open (api::Access).
  bool must_change_password = false;
};

// A store error seen by a service: conflicts and not-founds that the service
// did not expect are still clean errors; the message names no value.
inline Error Internal() {
  return Error::Internal("internal", "Something went wrong on the server; try again.");
}

template <class T>
[[nodiscard]] Status Discard(Result<T> r) {
  KW_TRY(std::move(r));
  return {};
}

}  // namespace keyward::core
