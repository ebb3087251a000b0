// Tunable rules of the domain. Defaults are the production values; tests
// lower the KDF minimum and may shorten windows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/sso_provider.h"
#include "crypto/crypto.h"

namespace keyward::core {

struct CoreConfig {
  std::string public_url = "http://127.0.0.1:8080";  // named in emails
  crypto::KdfParams kdf_minimum = crypto::kDefaultKdf;
  // Answered by pre-login for an unknown email (never below kdf_minimum).
  crypto::KdfParams kdf_default = crypto::kDefaultKdf;
  int64_t session_ttl_seconds = 12 * 3600;

  // One-time email codes (docs/protocol.md "TOTP (two-step login)").
  int64_t code_ttl_seconds = 10 * 60;
  int code_max_attempts = 5;

  // Failed logins (and wrong auth keys on sensitive calls), counted in the
  // database so they hold across server nodes.
  int64_t login_window_seconds = 15 * 60;
  int login_max_failures_per_account = 5;
  int64_t login_lockout_seconds = 15 * 60;
  int login_max_failures_per_address = 20;

  // Registration and resend requests per remote address.
  int64_t register_window_seconds = 3600;
  int register_max_per_address = 20;
  // Code and notice emails per address, so nobody can flood a mailbox.
  int64_t mail_window_seconds = 3600;
  int mail_max_per_email = 5;

  // Wrong codes while confirming a TOTP enrolment.
  int64_t totp_confirm_window_seconds = 15 * 60;
  int totp_confirm_max_failures = 10;

  // Device pairing: how long a code lives (docs/recovery.md "Pair with a
  // device"); keywardd --pairing-lifetime shortens it for tests.
  int64_t pairing_ttl_seconds = 120;

  // Items.
  size_t item_max_bytes = 64 * 1024;  // decoded ciphertext

  // Organizations.
  int64_t invite_ttl_seconds = 7 * 86400;
  // Invitations sent, per organization and per inviter, counted in the
  // database so they hold across server nodes (org.invite_rate_limited).
  int64_t invite_window_seconds = 3600;
  int invite_max_per_org = 50;
  int invite_max_per_inviter = 20;
  // Who may create organizations (keywardd org_creation / org_creators):
  // anyone signed in, or only the accounts whose emails the operator lists
  // (normalized, lower case; org.creation_forbidden otherwise).
  bool org_creation_operator_only = false;
  std::vector<std::string> org_creators;
  // The server recovery key pair (pk_srv / sk_srv of docs/protocol.md
  // "Escrow, links, grants and signed statements"):
  // the server opens server shares with it (validation at enrollment, U for
  // admin reset and redemption). Null: enrollment answers
  // server.recovery_key_missing.
  std::shared_ptr<const crypto::BoxKeyPair> recovery_key;
  // Single sign-on providers by organization id (keywardd's [sso.ORG]
  // tables; docs/sso.md). An organization without one cannot require SSO.
  SsoConfig sso;
  // The mail queue's first retry (core/mail_queue.h); doubles up to an hour.
  int64_t mail_retry_after_seconds = 30;
};

}  // namespace keyward::core
