#include "store/sqlite/migrations.h"

namespace keyward::store::sqlite {

namespace {

// Emails are stored normalized (lower case) by core; COLLATE NOCASE makes the
// uniqueness hold even for a row written by something that did not normalize.
constexpr const char* kV1Accounts = R"sql(
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL COLLATE NOCASE UNIQUE,
  kdf_ops INTEGER NOT NULL,
  kdf_mem INTEGER NOT NULL,
  salt BLOB NOT NULL,
  verifier BLOB NOT NULL,
  wrapped_vault_key BLOB NOT NULL,
  public_key BLOB NOT NULL,
  wrapped_private_key BLOB NOT NULL,
  verified INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  totp_secret_sealed BLOB,
  totp_enabled INTEGER NOT NULL DEFAULT 0,
  totp_last_step INTEGER NOT NULL DEFAULT -1
) STRICT;

CREATE TABLE email_codes (
  purpose TEXT NOT NULL,
  subject TEXT NOT NULL,
  account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
  challenge BLOB NOT NULL,
  code_hash BLOB NOT NULL,
  expires_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  used INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (purpose, subject)
) STRICT;
CREATE INDEX email_codes_expires_at ON email_codes(expires_at);
CREATE INDEX email_codes_account_id ON email_codes(account_id);

CREATE TABLE devices (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (account_id, id)
) STRICT;

CREATE TABLE sessions (
  token_hash BLOB PRIMARY KEY,
  account_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sessions_account_device ON sessions(account_id, device_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);

CREATE TABLE items (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, id)
) STRICT;

CREATE TABLE totp_recovery_codes (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  code_hash BLOB NOT NULL,
  used INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX totp_recovery_codes_account_id ON totp_recovery_codes(account_id);

CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_limits_window_start ON rate_limits(window_start);
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, kV1Accounts},
  };
  return kMigrations;
}

}  // namespace keyward::store::sqlite
