// The /v1 API: owns the store it is given and the domain services, and
// registers its routes on a Router. keywardd's wiring (src/server) opens the
// store and builds the API.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "core/sso_provider.h"
#include "crypto/crypto.h"
#include "http/router.h"
#include "mail/mailer.h"
#include "store/store.h"

namespace keyward::api {

struct ApiConfig {
  std::string public_url;  // used in emails and links, never the Host header
  crypto::KdfParams kdf_minimum = crypto::kDefaultKdf;
  int64_t session_ttl_seconds = 12 * 3600;
  int64_t pairing_ttl_seconds = 120;
  int64_t web_lock_seconds = 15 * 60;  // GET /v1/server: the pages' idle lock
  // Answered by pre-login for unknown emails (raised to kdf_minimum if lower).
  crypto::KdfParams kdf_default = crypto::kDefaultKdf;
  std::string version = "0.1.0";  // GET /v1/server
  // The server recovery key pair (pk_srv of docs/protocol.md "Escrow, links,
  // grants and signed statements"; keywardd
  // loads it from <data>/recovery.key). GET /v1/server serves its public key
  // and fingerprint; the secret half is kept for the redeem flow. Shared so
  // that ApiConfig stays copyable. When null (tests that do not need it) the
  // two fields are left out of GET /v1/server.
  std::shared_ptr<const crypto::BoxKeyPair> recovery_key;
  // keywardd org_creation = operator: only accounts whose email is in
  // org_creators (lower case) create organizations.
  bool org_creation_operator_only = false;
  std::vector<std::string> org_creators;
  // Single sign-on providers by organization id (keywardd's [sso.ORG]).
  core::SsoConfig sso;
  // The mail queue delivers from a thread of its own (keywardd), instead of
  // on the thread that committed (tests): core/mail_queue.h.
  bool mail_in_background = false;
  int64_t mail_retry_after_seconds = 30;
};

class Api {
 public:
  virtual ~Api() = default;
  virtual void RegisterRoutes(http::Router& router) = 0;
  // Periodic housekeeping (expired sessions, codes); called by the server
  // about once a minute from one thread.
  virtual void Sweep() = 0;
};

// Takes an open (and migrated) store, store::Open's, and binds it to the
// server's keys (core/server_identity.h: server.keys_mismatch when the
// database was set up with another server.key or recovery.key). A
// recovery_key whose halves are not 32 bytes each is refused
// (api.bad_recovery_key).
[[nodiscard]] Result<std::unique_ptr<Api>> MakeApi(const ApiConfig& config,
                                                   std::unique_ptr<store::Store> store,
                                                   mail::Mailer& mailer, const Clock& clock,
                                                   const crypto::ServerSecret& secret);

}  // namespace keyward::api
