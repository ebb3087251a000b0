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

// Organizations (docs/architecture.md, docs/recovery.md). Roles and
// permissions are stored as their text names (core/roles.h). org_events is
// the organization's audit chain: it has no foreign key to accounts, so
// deleting an account never rewrites the history (and the chain) that names
// it.
constexpr const char* kV2Organizations = R"sql(
CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) STRICT;

CREATE TABLE org_members (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'custom', 'user')),
  permissions TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, account_id)
) STRICT;
CREATE INDEX org_members_account_id ON org_members(account_id);

CREATE TABLE org_invites (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  email TEXT NOT NULL COLLATE NOCASE,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'custom', 'user')),
  permissions TEXT NOT NULL,
  token_hash BLOB NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  accepted_at INTEGER
) STRICT;
CREATE INDEX org_invites_org_id ON org_invites(org_id);
CREATE INDEX org_invites_expires_at ON org_invites(expires_at);

CREATE TABLE org_events (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq >= 1),
  type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  target_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  time INTEGER NOT NULL,
  details_json TEXT NOT NULL,
  hash BLOB NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (org_id, seq)
) STRICT;
)sql";

// Organization recovery (docs/recovery.md "Before anything goes wrong";
// docs/protocol.md "Escrow, links, grants and signed statements"): the newest
// signed statement decoded into orgs, every statement kept in org_statements,
// recovery key grants and escrows. Grants and escrows reference the
// membership, so removing a member or deleting an account (which removes its
// memberships) removes them too; org_events still has no foreign key to
// accounts. The org_events indexes serve ListEvents' filters.
constexpr const char* kV3Recovery = R"sql(
ALTER TABLE accounts ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

ALTER TABLE orgs ADD COLUMN statement_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN recovery_public_key BLOB NOT NULL DEFAULT x'';
ALTER TABLE orgs ADD COLUMN policy_json TEXT NOT NULL DEFAULT '';

ALTER TABLE org_members ADD COLUMN last_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE org_statements (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  statement BLOB NOT NULL,
  signature BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, version)
) STRICT;

CREATE TABLE org_grants (
  org_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  recovery_grant BLOB NOT NULL,
  signing_grant BLOB NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, account_id, key_version),
  FOREIGN KEY (org_id, account_id) REFERENCES org_members(org_id, account_id) ON DELETE CASCADE
) STRICT;

CREATE TABLE escrows (
  org_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  key_version INTEGER NOT NULL,
  wrapped_vault_key BLOB NOT NULL,
  admin_share BLOB NOT NULL,
  server_share BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, account_id),
  FOREIGN KEY (org_id, account_id) REFERENCES org_members(org_id, account_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX escrows_org_key_version ON escrows(org_id, key_version, account_id);
CREATE INDEX escrows_account_id ON escrows(account_id, org_id);

CREATE INDEX org_events_type ON org_events(org_id, type, seq);
CREATE INDEX org_events_actor ON org_events(org_id, actor_id, seq);
CREATE INDEX org_events_target ON org_events(org_id, target_id, seq);
)sql";

// Recovery requests (docs/recovery.md "Statuses"; docs/protocol.md "Escrow,
// links, grants and signed statements"). A request references the
// membership, so removing the member or deleting the account removes its
// requests and their approvals; the organization's events keep the history.
// token_hash is NULL until approval (UNIQUE admits many NULLs). The partial
// unique index keeps one open request per account across every organization
// even when two submissions race; the org indexes serve the newest-first
// keyset listings without a sort; the (status, expires_at) index serves the
// expiry sweeper; (account_id, org_id) serves the cascade from org_members.
// recovery_approvals.admin_id is not a foreign key: an approval stays on
// record when its admin is deleted.
constexpr const char* kV4RecoveryRequests = R"sql(
CREATE TABLE recovery_requests (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('pending', 'approved', 'link_used', 'expired', 'declined')),
  initiated_by TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  device_name TEXT NOT NULL,
  remote_address TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  decided_at INTEGER NOT NULL,
  decided_by TEXT NOT NULL,
  decline_reason TEXT NOT NULL,
  token_hash BLOB UNIQUE CHECK (token_hash IS NULL OR length(token_hash) > 0),
  link_share BLOB NOT NULL,
  completed_at INTEGER NOT NULL,
  FOREIGN KEY (org_id, account_id) REFERENCES org_members(org_id, account_id) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX recovery_requests_one_open ON recovery_requests(account_id)
  WHERE status IN ('pending', 'approved');
CREATE INDEX recovery_requests_member ON recovery_requests(account_id, org_id);
CREATE INDEX recovery_requests_org_status
  ON recovery_requests(org_id, status, created_at DESC, id DESC);
CREATE INDEX recovery_requests_org ON recovery_requests(org_id, created_at DESC, id DESC);
CREATE INDEX recovery_requests_expiry ON recovery_requests(status, expires_at);

CREATE TABLE recovery_approvals (
  request_id TEXT NOT NULL REFERENCES recovery_requests(id) ON DELETE CASCADE,
  admin_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (request_id, admin_id)
) STRICT;
)sql";

// Facts about the installation itself, one row per name (core/server_identity.h):
// "server_key_check" (a keyed hash that only the holder of server.key can
// compute) and "recovery_public_key" (pk_srv), written by the first keywardd
// that starts on the database and compared by every later one, so that a node
// with other key files refuses to start.
constexpr const char* kV5ServerMeta = R"sql(
CREATE TABLE server_meta (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
)sql";

// The recovery mode each escrow was made under (core::Escrow::mode): a
// policy change never weakens an existing escrow. Escrows made before this
// version read as dual-control, the stronger promise: under admin-reset,
// their members enroll again before an administrator can reset them.
constexpr const char* kV6EscrowMode = R"sql(
ALTER TABLE escrows ADD COLUMN mode TEXT NOT NULL DEFAULT 'dual-control'
  CHECK (mode IN ('dual-control', 'admin-reset'));
)sql";

// Device pairings (docs/protocol.md "Device pairing"): the server relays the
// CPace messages and never sees a code or a key. account_id is NULL for a
// decoy (an email with no waiting pairing gets one too, so the answer does
// not tell whether the account exists); deleting the account deletes its
// pairings. The fields a later step fills are empty ('' or x''), never NULL,
// until then. (account_id, state, created_at, id) serves FindWaitingPairing's
// newest-first lookup, CloseOpenPairings and the cascade from accounts;
// expires_at serves the sweep.
constexpr const char* kV7Pairings = R"sql(
CREATE TABLE pairings (
  id TEXT PRIMARY KEY,
  account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
  shown_device_id TEXT NOT NULL,
  joining_device_id TEXT NOT NULL,
  ya BLOB NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('waiting', 'answered', 'released', 'done', 'closed')),
  yb BLOB NOT NULL DEFAULT x'',
  joining_name TEXT NOT NULL DEFAULT '',
  joining_type TEXT NOT NULL DEFAULT '',
  tb BLOB NOT NULL DEFAULT x'',
  joining_address TEXT NOT NULL DEFAULT '',
  claim_hash BLOB NOT NULL DEFAULT x'',
  ta BLOB NOT NULL DEFAULT x'',
  payload BLOB NOT NULL DEFAULT x'',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pairings_account_state ON pairings(account_id, state, created_at, id);
CREATE INDEX pairings_expires_at ON pairings(expires_at);
)sql";

// Cloud snapshots and restores (docs/recovery.md "Restore a cloud backup").
// A recovery request is now of a kind: "recovery" (every request made before
// this version) or "restore", which names the snapshot the vault goes back
// to and, when asked in a session, the device it keeps ('' otherwise) and
// how many items its client stages (item_count).
// snapshots holds what the server knows of an encrypted snapshot (never a
// key) and snapshot_parts its uploaded parts; deleting the account deletes
// its snapshots and, with them, their parts. staged_items holds the item rows
// a restore will write, deleted with their request (and so with the
// membership or the account). (account_id, created_at DESC, id DESC) serves
// the newest-first listing and the cascade from accounts; (state, created_at)
// serves the sweep of uploads never finished.
constexpr const char* kV8Snapshots = R"sql(
ALTER TABLE recovery_requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'recovery'
  CHECK (kind IN ('recovery', 'restore'));
ALTER TABLE recovery_requests ADD COLUMN snapshot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE recovery_requests ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE recovery_requests ADD COLUMN item_count INTEGER NOT NULL DEFAULT 0;

CREATE TABLE snapshots (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('uploading', 'ready')),
  size INTEGER NOT NULL,
  parts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  ready_at INTEGER NOT NULL
) STRICT;
CREATE INDEX snapshots_account ON snapshots(account_id, created_at DESC, id DESC);
CREATE INDEX snapshots_state ON snapshots(state, created_at);

CREATE TABLE snapshot_parts (
  snapshot_id TEXT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
  n INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (snapshot_id, n)
) STRICT;

CREATE TABLE staged_items (
  request_id TEXT NOT NULL REFERENCES recovery_requests(id) ON DELETE CASCADE,
  item_id TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (request_id, item_id)
) STRICT;
)sql";

// Single sign-on (docs/sso.md). sso_identities binds an account to the
// subject an organization's identity provider vouched for (the ID token's
// iss and sub, compared exactly): one account per (org, issuer, subject), one
// identity per (org, account). sso_logins holds each sign-in between the
// redirect to the provider and its answer, found by a keyed hash of its
// state (never the state itself) and deleted when taken or expired. Both go
// with their organization; an identity goes with its account too.
// (account_id) serves the cascade from accounts; expires_at serves the sweep.
// sso_logins has no index on org_id: its rows live minutes (taken, or swept
// once expired), so the cascade from orgs reads few.
constexpr const char* kV9Sso = R"sql(
CREATE TABLE sso_identities (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  last_login_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, issuer, subject),
  UNIQUE (org_id, account_id)
) STRICT;
CREATE INDEX sso_identities_account ON sso_identities(account_id);

CREATE TABLE sso_logins (
  id TEXT PRIMARY KEY,
  state_hash BLOB NOT NULL UNIQUE CHECK (length(state_hash) = 32),
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  nonce TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  redirect_uri TEXT NOT NULL,
  client_kind TEXT NOT NULL CHECK (client_kind IN ('cli', 'web')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sso_logins_expires_at ON sso_logins(expires_at);
)sql";

// Single sign-on tickets (docs/sso.md): sso_logins also holds the short-lived
// ticket the server hands the client once the provider vouched for the user.
// issuer and subject are NULL while a sign-in waits for the provider; once it
// answered they are the verified ID token's iss and sub (both set), and the
// row is the sign-in ticket presented at login (its nonce, code_verifier and
// redirect_uri are then empty).
constexpr const char* kV10SsoTickets = R"sql(
ALTER TABLE sso_logins ADD COLUMN issuer TEXT;
ALTER TABLE sso_logins ADD COLUMN subject TEXT;
)sql";

// Trusted devices (docs/sso.md): a member's signed-in device made trusted
// keeps a secret locally, and the server keeps, per (account, device), the
// device's Ed25519 public key (32 bytes: the device proves possession at
// login by signing) and the account's vault key wrapped by the device with
// its local key (an opaque AEAD blob the server cannot open: only the
// device's local key unwraps it). A row goes with its device, and so with
// the account. The primary key (account_id, device_id) serves the listing
// and the cascade from devices.
constexpr const char* kV11TrustedDevices = R"sql(
CREATE TABLE trusted_devices (
  account_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  sign_public_key BLOB NOT NULL CHECK (length(sign_public_key) = 32),
  wrapped_vault_key BLOB NOT NULL CHECK (length(wrapped_vault_key) BETWEEN 1 AND 4096),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, device_id),
  FOREIGN KEY (account_id, device_id) REFERENCES devices(account_id, id) ON DELETE CASCADE
) STRICT;
)sql";

// Device requests (docs/sso.md "A new device, approved by the admins"): a
// recovery request whose approval releases the escrow's shares to a new
// device's X25519 public key (32 bytes) instead of making a link. Its kind
// column stays 'recovery' (the CHECK of version 8 admits no other name and
// SQLite cannot widen a CHECK in place): a non-empty device_key is what
// makes a request a device request, on both stores alike. Its token_hash
// holds, from the start, the keyed hash of the claim the device keeps.
constexpr const char* kV12DeviceRequests = R"sql(
ALTER TABLE recovery_requests ADD COLUMN device_key BLOB NOT NULL DEFAULT x''
  CHECK (length(device_key) IN (0, 32));
)sql";

// The mail queue (core/mail_queue.h): every email is written in the
// transaction of the change that causes it and sent from here, so a node
// that dies between the commit and the send loses nothing.
constexpr const char* kV13MailQueue = R"sql(
CREATE TABLE mail_queue (
  id TEXT PRIMARY KEY,
  sealed BLOB NOT NULL CHECK (length(sealed) BETWEEN 1 AND 1048576),
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,
  claimed_by TEXT NOT NULL DEFAULT '',
  claimed_until INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at, id);
)sql";

// The vault revision (Tx::VaultRevision): moves on with every change to an
// account's items, so GET /v1/items answers an unchanged vault with a 304.
constexpr const char* kV14VaultRevision = R"sql(
ALTER TABLE accounts ADD COLUMN vault_revision INTEGER NOT NULL DEFAULT 0;
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const auto kMigrations = sql::NumberMigrations(
      {kV1Accounts, kV2Organizations, kV3Recovery, kV4RecoveryRequests, kV5ServerMeta,
       kV6EscrowMode, kV7Pairings, kV8Snapshots, kV9Sso, kV10SsoTickets, kV11TrustedDevices,
       kV12DeviceRequests, kV13MailQueue, kV14VaultRevision});
  return kMigrations;
}

}  // namespace keyward::store::sqlite
