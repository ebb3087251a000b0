// The domain types of Keyward: what an account, a device, an organization,
// a membership, an escrow, a recovery request ... is. Plain data, owned by
// core; the store keeps them as rows (store/store.h) and the services of
// core act on them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyward::core {

using Bytes = std::vector<uint8_t>;

struct Account {
  std::string id;     // client-chosen, base64url of 16 bytes
  std::string email;  // normalized; unique case-insensitively
  uint64_t kdf_ops = 0;
  uint64_t kdf_mem = 0;
  Bytes salt;
  Bytes verifier;  // H(pepper, auth_key)
  Bytes wrapped_vault_key;
  Bytes public_key;
  Bytes wrapped_private_key;
  bool verified = false;
  int64_t created_at = 0;
  // TOTP two-step login. A non-empty secret with enabled == false is an
  // enrolment waiting for its confirming code.
  Bytes totp_secret_sealed;  // Enc(totp key, secret); empty: none
  bool totp_enabled = false;
  int64_t totp_last_step = -1;  // last accepted time step, refuses replays
  // Set when an admin reset the master password to a temporary one
  // (admin-reset mode): the member must choose a new one before anything else.
  bool must_change_password = false;
};

// One live one-time code per (purpose, subject): a new one replaces the old.
struct EmailCode {
  std::string purpose;     // "register", later "recovery", ...
  std::string subject;     // what the code is bound to (an email, a request id)
  std::string account_id;  // may be empty
  Bytes challenge;         // random, bound into the hash
  Bytes code_hash;         // H(code key, challenge || code)
  int64_t expires_at = 0;
  int attempts = 0;  // wrong tries so far
  bool used = false;
  int64_t created_at = 0;
};

struct Device {
  std::string account_id;
  std::string id;  // client-chosen
  std::string name;
  std::string type;  // cli | web | desktop | mobile
  int64_t first_seen = 0;
  int64_t last_seen = 0;
  bool active = true;
};

struct Session {
  Bytes token_hash;  // H(token key, token); the token itself is never stored
  std::string account_id;
  std::string device_id;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  bool revoked = false;
};

// A signed-in device the member made trusted (docs/sso.md): the device keeps
// a secret locally; the server keeps its Ed25519 public key (the device
// proves possession at login by signing) and the account's vault key wrapped
// by the device with its local key, which the server cannot open. One per
// (account, device); belongs to its device: deleted with it (and so with the
// account).
struct TrustedDevice {
  std::string account_id;
  std::string device_id;
  Bytes sign_public_key;    // Ed25519, 32 bytes
  Bytes wrapped_vault_key;  // AEAD under the device's local key, 1..4096 bytes
  int64_t created_at = 0;

  friend bool operator==(const TrustedDevice&, const TrustedDevice&) = default;
};

// A device pairing relayed by the server (docs/protocol.md "Device
// pairing"): the server stores the CPace messages, never a code or a key.
enum class PairingState {
  kWaiting,   // A posted Ya; no answer yet
  kAnswered,  // B answered (Yb, Tb); A has not decided
  kReleased,  // A sent Ta and the sealed vault key; B has not picked it up
  kDone,      // B picked them up with its session
  kClosed,    // a wrong code, a refusal, or a newer pairing; final
};

struct Pairing {
  std::string id;          // base64url of the 16-byte sid
  std::string account_id;  // empty for a decoy (an email with no waiting pairing)
  std::string shown_device_id;
  std::string joining_device_id;
  Bytes ya;
  PairingState state = PairingState::kWaiting;
  Bytes yb;  // from here: empty until answered
  std::string joining_name;
  std::string joining_type;
  Bytes tb;
  std::string joining_address;  // where the answer came from
  Bytes claim_hash;             // H(token key, B's claim secret)
  Bytes ta;                     // from here: empty until released
  Bytes payload;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t updated_at = 0;
};

struct Item {
  std::string account_id;
  std::string id;  // client-chosen
  int64_t revision = 0;
  Bytes data;  // opaque ciphertext
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct RecoveryCode {
  int64_t id = 0;
  Bytes code_hash;
  bool used = false;
};

// ---- organizations (docs/recovery.md) ----

struct Org {
  std::string id;  // client-chosen
  std::string name;
  int64_t created_at = 0;
  // The creating account. Not a foreign key: the organization outlives it.
  std::string created_by;
  // The newest signed statement (see OrgStatementRow) and what the server
  // decoded from it. key_version counts organization recovery keys: 1 at
  // creation, +1 at every rotation.
  uint64_t statement_version = 0;
  uint64_t key_version = 0;
  Bytes recovery_public_key;  // pk_org of key_version, 32 bytes
  std::string policy_json;    // protocol::EncodePolicy of the newest statement
};

// One signed statement of an organization (protocol/statement.h), kept for
// ever so that a member's client that missed some can verify the chain.
// Belongs to its organization.
struct OrgStatementRow {
  std::string org_id;
  uint64_t version = 0;
  Bytes statement;  // protocol::EncodeOrgStatement bytes
  Bytes signature;  // Ed25519, 64 bytes
  int64_t created_at = 0;

  friend bool operator==(const OrgStatementRow&, const OrgStatementRow&) = default;
};

enum class MemberStatus { kActive, kRevoked };  // stored as "active" / "revoked"

// Belongs to its organization and to its account: deleted with either.
struct OrgMember {
  std::string org_id;
  std::string account_id;
  std::string role;         // core::RoleName: "owner", "admin", "custom", "user"
  std::string permissions;  // core::PermissionsText, e.g. "manage_account_recovery"
  MemberStatus status = MemberStatus::kActive;
  int64_t joined_at = 0;
  // The highest escrow epoch this member ever uploaded to this organization
  // (0: never). Kept through withdrawal, so a re-enrollment always moves to a
  // new epoch and anything bound to an old one stays dead.
  uint64_t last_epoch = 0;
};

// The organization's recovery key sk_org (and, for owners and admins, its
// signing key) sealed to one member by another admin's client
// (protocol/grant.h). One row per (org, member, key_version); belongs to the
// membership: deleted with it.
struct OrgGrant {
  std::string org_id;
  std::string account_id;
  uint64_t key_version = 0;
  Bytes recovery_grant;  // Seal(pk_member, hdr("grant", ...) || sk_org)
  Bytes signing_grant;   // Seal(pk_member, hdr("sign-grant", ...) || seed); may be empty
  std::string created_by;
  int64_t created_at = 0;

  friend bool operator==(const OrgGrant&, const OrgGrant&) = default;
};

// A member's current escrow in one organization (docs/protocol.md "Escrow, links, grants and signed
// statements"): one row per (org, member); belongs to the membership, so removing the member or
// deleting the account removes it.
struct Escrow {
  std::string org_id;
  std::string account_id;
  uint64_t epoch = 0;
  uint64_t key_version = 0;  // the org recovery key admin_share is sealed to
  Bytes wrapped_vault_key;   // W
  Bytes admin_share;         // SA
  Bytes server_share;        // SU
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // The recovery mode of the organization's policy when the member made this
  // escrow (protocol::RecoveryModeName: "dual-control" or "admin-reset"). It
  // stays until the member enrolls again: a policy change never weakens an
  // existing escrow (docs/recovery.md "Changing the policy"). Escrows stored
  // before schema version 6 read as "dual-control".
  std::string mode = "dual-control";

  friend bool operator==(const Escrow&, const Escrow&) = default;
};

// Belongs to its organization. created_by is not a foreign key: an invite
// stays valid when the admin who sent it is deleted.
struct OrgInvite {
  std::string id;
  std::string org_id;
  std::string email;  // normalized
  std::string role;
  std::string permissions;
  Bytes token_hash;  // H(token key, token); unique
  std::string created_by;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> accepted_at;  // nullopt: not accepted yet
};

// One stored event of the organization's audit chain: exactly what a
// protocol::audit::Record holds (the event and its chain hash). The history of the
// organization: NOT deleted with the accounts it names.
struct OrgEvent {
  uint64_t seq = 0;  // 1, 2, 3, ... per organization, without gaps
  std::string org_id;
  std::string type;
  std::string actor_id;
  std::string target_id;
  std::string device_id;
  int64_t time = 0;
  std::map<std::string, std::string> details;
  Bytes hash;  // 32 bytes, protocol::audit::Digest

  friend bool operator==(const OrgEvent&, const OrgEvent&) = default;
};

// ---- recovery requests (docs/recovery.md, the Enpass flow) ----

// Exactly the five statuses of the product; stored as "pending", "approved",
// "link_used", "expired", "declined".
enum class RequestStatus { kPending, kApproved, kLinkUsed, kExpired, kDeclined };

// What a request asks for: "recovery" (a recovery link, the Enpass flow),
// "restore" (roll the vault back to a cloud snapshot, docs/recovery.md
// "Restore a cloud backup") or "device" (release the escrow's shares to a
// new device's key, docs/sso.md "A new device, approved by the admins").
// All go through the same statuses, quorum, hierarchy, expiry and decline.
enum class RequestKind { kRecovery, kRestore, kDevice };

// A member's request to get back into the vault through one organization's
// escrow. Belongs to the membership (deleted with it, so a deleted account's
// requests go too; the organization's events keep the history).
struct RecoveryRequest {
  std::string id;  // server-chosen, 16 random bytes base64url
  std::string org_id;
  std::string account_id;
  RequestStatus status = RequestStatus::kPending;
  // Empty: the member asked (email + code). Else the admin who started it
  // (admin-initiated recovery).
  std::string initiated_by;
  uint64_t epoch = 0;          // the escrow epoch the request recovers
  std::string device_name;     // what the requesting client called itself
  std::string remote_address;  // where the request came from
  int64_t created_at = 0;
  // Pending: when it expires unapproved. Approved: when the link expires.
  int64_t expires_at = 0;
  int64_t decided_at = 0;      // approved (last approval) or declined; 0 before
  std::string decided_by;      // the admin who approved last or declined
  std::string decline_reason;  // 1-500 characters when declined
  Bytes token_hash;            // H(token key, T) once approved; unique; empty before
  Bytes link_share;            // LA once approved
  int64_t completed_at = 0;    // Link Used at (a restore: rolled back at)
  RequestKind kind = RequestKind::kRecovery;
  std::string snapshot_id;  // a restore: the snapshot the vault goes back to
  // A restore asked for in a session: that session's device, the one kept
  // when every other device is unpaired; its items are staged with the
  // request and the last approval rolls the vault back. Empty for a restore
  // asked by email (the password is lost too): the approval brings a link,
  // and the rollback happens when it is redeemed.
  std::string device_id;
  // A restore asked for in a session: how many items its client stages; the
  // rollback waits until exactly that many are.
  int64_t item_count = 0;
  // A device request: the new device's X25519 public key (32 bytes), to
  // which the approval releases the shares; device_id is then the id the
  // device will sign in with, and token_hash the keyed hash of its claim.
  Bytes device_key;

  friend bool operator==(const RecoveryRequest&, const RecoveryRequest&) = default;
};

// ---- cloud snapshots (docs/recovery.md "Restore a cloud backup") ----

// Uploaded in parts: "uploading" until the member's client finishes it,
// then "ready" (only ready snapshots are listed to the member or restored).
enum class SnapshotState { kUploading, kReady };

// An encrypted snapshot of a vault (docs/protocol.md "Cloud snapshot"): the
// server holds its parts and size, never a key. Belongs to its account.
struct Snapshot {
  std::string id;  // client-chosen (it is inside the encrypted header), 22 chars base64url
  std::string account_id;
  SnapshotState state = SnapshotState::kUploading;
  uint64_t size = 0;   // bytes, declared when the upload starts
  uint32_t parts = 0;  // declared when the upload starts
  int64_t created_at = 0;
  int64_t ready_at = 0;  // 0 while uploading

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// An item row staged for a restore: what the vault's row `item_id` will hold
// once the restore is done (ciphertext, as core::Item::data). Belongs to its
// request.
struct StagedItem {
  std::string item_id;
  Bytes data;

  friend bool operator==(const StagedItem&, const StagedItem&) = default;
};

// One admin's approval of a request (quorum of M distinct admins). Belongs to
// its request: deleted with it. admin_id is not a foreign key: the approval
// stays on record when that admin's account is deleted.
struct RecoveryApproval {
  std::string request_id;
  std::string admin_id;
  int64_t created_at = 0;

  friend bool operator==(const RecoveryApproval&, const RecoveryApproval&) = default;
};

// ---- single sign-on (docs/sso.md) ----

// An account bound to the subject an organization's identity provider vouched
// for: the ID token's `iss` and `sub`, compared exactly (never the email
// claim). One per (org, issuer, subject) and one per (org, account): an
// account has at most one identity in each organization. Belongs to its
// organization and to its account: deleted with either.
struct SsoIdentity {
  std::string org_id;
  std::string issuer;   // the provider's `iss`, as configured
  std::string subject;  // the provider's `sub`
  std::string account_id;
  int64_t created_at = 0;
  int64_t last_login_at = 0;  // the last sign-in through this identity

  friend bool operator==(const SsoIdentity&, const SsoIdentity&) = default;
};

// Which client started a sign-in: keyward login --sso (an RFC 8252 loopback
// redirect) or the web vault. Stored as "cli" / "web".
enum class SsoClientKind { kCli, kWeb };

// A row of the mail queue (core/mail_queue.h): one email, written in the
// transaction of the change that causes it and deleted once delivered. The
// message (address, subject, body) is sealed under the server's mail key,
// padded to a multiple of 1 KiB: the database holds no readable address or
// code. A node claims due rows for a lease (claimed_by, claimed_until) so
// two nodes never send the same message at once.
struct QueuedMail {
  std::string id;  // server-chosen, random; the Message-ID's local part
  Bytes sealed;
  int64_t created_at = 0;
  int64_t attempts = 0;         // failed deliveries so far
  int64_t next_attempt_at = 0;  // not before
  std::string claimed_by;       // the node holding the lease ("" when none)
  int64_t claimed_until = 0;

  friend bool operator==(const QueuedMail&, const QueuedMail&) = default;
};

// How much mail waits (/v1/server "mail_queue").
struct MailQueueDepth {
  int64_t messages = 0;
  int64_t oldest_created_at = 0;  // 0 when empty

  friend bool operator==(const MailQueueDepth&, const MailQueueDepth&) = default;
};

// A row of sso_logins, one of two things (docs/sso.md):
// - a pending sign-in, between the redirect to the provider and its answer:
//   what the relying party needs to finish it; issuer and subject are empty
//   (nullopt);
// - once the provider vouched for the user, the short-lived sign-in ticket
//   the server hands the client: issuer and subject are the verified ID
//   token's iss and sub, and nonce, code_verifier and redirect_uri are empty
//   strings.
// The server keeps only a keyed hash of the random token (`state`, or the
// ticket), unique, so a stolen database row cannot be answered for; a row is
// taken (deleted) once, by that hash. Belongs to its organization: deleted
// with it.
struct SsoLogin {
  std::string id;             // server-chosen, random
  Bytes state_hash;           // H(key, state or ticket), 32 bytes; unique
  std::string org_id;         // whose provider
  std::string nonce;          // sent in the request, expected in the ID token
  std::string code_verifier;  // PKCE (RFC 7636)
  std::string redirect_uri;   // as sent in the request, repeated in the exchange
  // Both nullopt while waiting for the provider; once it answered, the
  // verified ID token's iss and sub (both set): the row is then a ticket.
  std::optional<std::string> issuer;
  std::optional<std::string> subject;
  SsoClientKind client_kind = SsoClientKind::kCli;
  int64_t created_at = 0;
  int64_t expires_at = 0;  // expired once now >= expires_at

  friend bool operator==(const SsoLogin&, const SsoLogin&) = default;
};

// The stored and wire names of a request status: "pending", "approved",
// "link_used", "expired", "declined".
std::string_view RequestStatusName(RequestStatus status);
// The inverse; nullopt for anything else.
std::optional<RequestStatus> ParseRequestStatus(std::string_view name);
// "recovery" / "restore", and the inverse.
std::string_view RequestKindName(RequestKind kind);
std::optional<RequestKind> ParseRequestKind(std::string_view name);
// "uploading" / "ready", and the inverse.
std::string_view SnapshotStateName(SnapshotState state);
std::optional<SnapshotState> ParseSnapshotState(std::string_view name);
// "active" / "revoked".
std::string_view MemberStatusName(MemberStatus status);
// "cli" / "web", and the inverse.
std::string_view SsoClientKindName(SsoClientKind kind);
std::optional<SsoClientKind> ParseSsoClientKind(std::string_view name);
// The stored and wire names of a pairing state: "waiting", "answered",
// "released", "done", "closed".
std::string_view PairingStateName(PairingState state);
std::optional<PairingState> ParsePairingState(std::string_view name);

}  // namespace keyward::core
