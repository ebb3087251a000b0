// Persistent state of the server, behind one interface so that SQLite (the
// embedded default) and PostgreSQL (several keywardd nodes on one database)
// share the same semantics and the same contract test suite
// (store_contract_test.h).
//
// Every state change happens inside Store::Transact: the callback receives a
// Tx, composes as many operations as it needs, and either everything it wrote
// is committed durably or nothing is. The callback may run more than once
// (the store retries when the database is busy), so it must not have side
// effects outside the Tx other than assigning to its own outputs.
//
// Store errors use these codes; core maps them to domain errors:
//   store.conflict   (kConflict)    a uniqueness constraint would be broken
//   store.not_found  (kNotFound)    the row to change does not exist
//   store.stale      (kConflict)    an expected revision did not match
//   store.busy       (kUnavailable) the database stayed locked too long
//   store.error      (kInternal)    anything else (I/O, corruption, bug)
// Messages name the operation, never a value.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/domain.h"

namespace keyward::store {

using Bytes = core::Bytes;

// Keyset position in a request listing (newest first).
struct RequestCursor {
  int64_t created_at = 0;
  std::string id;
};

// How many requests are in each status, for CountRequestsByStatus.
using RequestCounts = std::vector<std::pair<core::RequestStatus, int64_t>>;
// (account id, email) pairs (Tx::AccountEmails).
using AccountEmailList = std::vector<std::pair<std::string, std::string>>;

// What authenticating a request reads (Tx::FindSessionCaller): the session,
// and of its device and account what the check needs.
struct SessionCaller {
  core::Session session;
  bool device_active = false;
  int64_t device_last_seen = 0;
  bool must_change_password = false;
};

// What a member list shows of a member's account (Tx::ListMemberAccounts).
struct MemberAccount {
  std::string account_id;
  std::string email;
  Bytes public_key;
};

// CountSnapshotParts: the parts stored so far.
struct SnapshotPartsTotal {
  int64_t parts = 0;
  int64_t bytes = 0;
};

// Filters of ListEvents; empty / nullopt fields do not filter. g++ -Wextra
// warns about designated initializers that leave fields out: set the fields
// of a default-constructed filter instead.
struct EventFilter {
  std::string type;              // exact type, e.g. "recovery.enrolled"
  std::string actor_id;          // exact
  std::string target_id;         // exact
  std::optional<int64_t> since;  // time >= since
  std::optional<int64_t> until;  // time < until
};

// The operations available inside one transaction.
class Tx {
 public:
  virtual ~Tx() = default;

  // ---- accounts ----
  // store.conflict when the id or the email (case-insensitively) exists.
  [[nodiscard]] virtual Status InsertAccount(const core::Account& account) = 0;
  [[nodiscard]] virtual Result<std::optional<core::Account>> FindAccountById(
      std::string_view id) = 0;
  // Case-insensitive.
  [[nodiscard]] virtual Result<std::optional<core::Account>> FindAccountByEmail(
      std::string_view email) = 0;
  // Replaces every field of the account with this id; store.not_found.
  [[nodiscard]] virtual Status UpdateAccount(const core::Account& account) = 0;
  // Removes the account and everything that belongs to it (codes, devices,
  // trusted devices, sessions, items, recovery codes, organization memberships and with them
  // its escrows and grants); the organizations' events naming it stay.
  // store.not_found.
  [[nodiscard]] virtual Status DeleteAccount(std::string_view id) = 0;

  // ---- one-time email codes ----
  [[nodiscard]] virtual Status PutEmailCode(const core::EmailCode& code) = 0;  // insert or replace
  [[nodiscard]] virtual Result<std::optional<core::EmailCode>> FindEmailCode(
      std::string_view purpose, std::string_view subject) = 0;
  // Writes attempts and used; store.not_found.
  [[nodiscard]] virtual Status UpdateEmailCode(const core::EmailCode& code) = 0;
  [[nodiscard]] virtual Status DeleteEmailCode(std::string_view purpose,
                                               std::string_view subject) = 0;
  // Codes expired before `now` (used or not); returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteExpiredEmailCodes(int64_t now) = 0;

  // ---- devices ----
  [[nodiscard]] virtual Result<std::optional<core::Device>> FindDevice(
      std::string_view account_id, std::string_view device_id) = 0;
  // Insert or replace (name, type, first_seen, last_seen, active).
  [[nodiscard]] virtual Status UpsertDevice(const core::Device& device) = 0;
  // Ordered by id.
  [[nodiscard]] virtual Result<std::vector<core::Device>> ListDevices(
      std::string_view account_id) = 0;

  // ---- trusted devices ----
  // Insert or replace the trusted device of (account, device): a device
  // trusted again gets the new keys and created_at. store.not_found when the
  // device does not exist.
  [[nodiscard]] virtual Status UpsertTrustedDevice(const core::TrustedDevice& trusted) = 0;
  [[nodiscard]] virtual Result<std::optional<core::TrustedDevice>> FindTrustedDevice(
      std::string_view account_id, std::string_view device_id) = 0;
  // The account's trusted devices, ordered by device id.
  [[nodiscard]] virtual Result<std::vector<core::TrustedDevice>> ListTrustedDevices(
      std::string_view account_id) = 0;
  // Returns whether a trusted device was deleted (false when there was none).
  // The device itself stays.
  [[nodiscard]] virtual Result<bool> DeleteTrustedDevice(std::string_view account_id,
                                                         std::string_view device_id) = 0;

  // ---- sessions ----
  // The device must exist (store.not_found otherwise); store.conflict on a
  // duplicate token hash.
  [[nodiscard]] virtual Status InsertSession(const core::Session& session) = 0;
  [[nodiscard]] virtual Result<std::optional<core::Session>> FindSession(
      std::span<const uint8_t> token_hash) = 0;
  // The session of `token_hash` with its device and account, in one query:
  // nullopt unless all three exist (revoked, expired and inactive are for
  // the caller to check).
  [[nodiscard]] virtual Result<std::optional<SessionCaller>> FindSessionCaller(
      std::span<const uint8_t> token_hash) = 0;
  [[nodiscard]] virtual Status RevokeSession(std::span<const uint8_t> token_hash) = 0;
  // Revokes every session of the account except `keep` (empty: keep none);
  // returns how many were revoked.
  [[nodiscard]] virtual Result<int64_t> RevokeAccountSessions(std::string_view account_id,
                                                              std::span<const uint8_t> keep) = 0;
  [[nodiscard]] virtual Result<int64_t> RevokeDeviceSessions(std::string_view account_id,
                                                             std::string_view device_id) = 0;
  // Deletes sessions expired before `now` and revoked ones.
  [[nodiscard]] virtual Result<int64_t> DeleteDeadSessions(int64_t now) = 0;

  // ---- device pairings ----
  // store.conflict when the id exists.
  [[nodiscard]] virtual Status InsertPairing(const core::Pairing& pairing) = 0;
  [[nodiscard]] virtual Result<std::optional<core::Pairing>> FindPairing(std::string_view id) = 0;
  // The account's newest pairing in state waiting, expired or not.
  [[nodiscard]] virtual Result<std::optional<core::Pairing>> FindWaitingPairing(
      std::string_view account_id) = 0;
  // The newest pairing of the account that made `device_id` (its joining
  // device), in any state.
  [[nodiscard]] virtual Result<std::optional<core::Pairing>> FindPairingOfDevice(
      std::string_view account_id, std::string_view device_id) = 0;
  // Replaces every field but id, account_id and created_at; store.not_found.
  [[nodiscard]] virtual Status UpdatePairing(const core::Pairing& pairing) = 0;
  // Closes (state closed) every pairing of the account in state waiting or
  // answered; returns how many.
  [[nodiscard]] virtual Result<int64_t> CloseOpenPairings(std::string_view account_id,
                                                          int64_t now) = 0;
  // Deletes pairings that expired before `now`; returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteExpiredPairings(int64_t now) = 0;

  // ---- cloud snapshots ----
  // store.conflict when the id exists; store.not_found without the account.
  [[nodiscard]] virtual Status InsertSnapshot(const core::Snapshot& snapshot) = 0;
  [[nodiscard]] virtual Result<std::optional<core::Snapshot>> FindSnapshot(std::string_view id) = 0;
  // The account's snapshots in any state, newest first (created_at desc, id desc).
  [[nodiscard]] virtual Result<std::vector<core::Snapshot>> ListSnapshots(
      std::string_view account_id) = 0;
  // Writes state and ready_at; store.not_found.
  [[nodiscard]] virtual Status UpdateSnapshot(const core::Snapshot& snapshot) = 0;
  // Deletes the snapshot with its parts; store.not_found.
  [[nodiscard]] virtual Status DeleteSnapshot(std::string_view id) = 0;
  // Every snapshot of the account, with their parts; returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteAccountSnapshots(std::string_view account_id) = 0;
  // Snapshots still uploading that were created before `before`, with their
  // parts; returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteStaleSnapshots(int64_t before) = 0;
  // Insert or replace part `n`; store.not_found without the snapshot.
  [[nodiscard]] virtual Status PutSnapshotPart(std::string_view snapshot_id, uint32_t n,
                                               std::span<const uint8_t> data) = 0;
  [[nodiscard]] virtual Result<std::optional<Bytes>> FindSnapshotPart(std::string_view snapshot_id,
                                                                      uint32_t n) = 0;
  // How many parts are stored and their total size in bytes.
  [[nodiscard]] virtual Result<SnapshotPartsTotal> CountSnapshotParts(
      std::string_view snapshot_id) = 0;

  // ---- items staged for a restore ----
  // Insert or replace each (request_id, item_id); store.not_found without
  // the request.
  [[nodiscard]] virtual Status PutStagedItems(std::string_view request_id,
                                              std::span<const core::StagedItem> items) = 0;
  // Ordered by item id.
  [[nodiscard]] virtual Result<std::vector<core::StagedItem>> ListStagedItems(
      std::string_view request_id) = 0;
  [[nodiscard]] virtual Result<int64_t> CountStagedItems(std::string_view request_id) = 0;
  // Returns how many were deleted.
  [[nodiscard]] virtual Result<int64_t> DeleteStagedItems(std::string_view request_id) = 0;

  // ---- single sign-on identities ----
  // store.conflict when (org, issuer, subject) or (org, account) exists: one
  // identity per subject and one per account in each organization, even when
  // two first sign-ins race; store.not_found without the organization or the
  // account.
  [[nodiscard]] virtual Status InsertSsoIdentity(const core::SsoIdentity& identity) = 0;
  // Issuer and subject compared exactly (byte for byte).
  [[nodiscard]] virtual Result<std::optional<core::SsoIdentity>> FindSsoIdentity(
      std::string_view org_id, std::string_view issuer, std::string_view subject) = 0;
  [[nodiscard]] virtual Result<std::optional<core::SsoIdentity>> FindSsoIdentityOfAccount(
      std::string_view org_id, std::string_view account_id) = 0;
  // Writes last_login_at; store.not_found.
  [[nodiscard]] virtual Status TouchSsoIdentity(std::string_view org_id, std::string_view issuer,
                                                std::string_view subject,
                                                int64_t last_login_at) = 0;
  // The account's identity in the organization; store.not_found.
  [[nodiscard]] virtual Status DeleteSsoIdentity(std::string_view org_id,
                                                 std::string_view account_id) = 0;

  // ---- pending single sign-on logins ----
  // store.conflict when the id or the state hash exists; store.not_found
  // without the organization.
  [[nodiscard]] virtual Status InsertSsoLogin(const core::SsoLogin& login) = 0;
  // Deletes the login with this state hash and returns it, in one statement:
  // a login is taken once, even when two answers race (the other finds
  // nothing). Expired or not: the caller checks expires_at. A write.
  [[nodiscard]] virtual Result<std::optional<core::SsoLogin>> TakeSsoLogin(
      std::span<const uint8_t> state_hash) = 0;
  // Deletes at most `limit` logins with expires_at <= now, oldest deadline
  // first (for the expiry sweeper); returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteExpiredSsoLogins(int64_t now, int64_t limit) = 0;

  // ---- items ----
  // store.conflict when (account, id) exists; store.not_found without account.
  [[nodiscard]] virtual Status InsertItem(const core::Item& item) = 0;
  [[nodiscard]] virtual Result<std::optional<core::Item>> FindItem(std::string_view account_id,
                                                                   std::string_view item_id) = 0;
  // Ordered by id.
  [[nodiscard]] virtual Result<std::vector<core::Item>> ListItems(std::string_view account_id) = 0;
  // A number that moves on (by one per transaction) whenever the account's
  // items change: InsertItem, UpdateItem and DeleteItem bump it. Never goes
  // back, so (account id, revision) names one state of a vault (the ETag of
  // GET /v1/items). 0 for an account with no change yet, or none.
  [[nodiscard]] virtual Result<int64_t> VaultRevision(std::string_view account_id) = 0;
  // Sets data and updated_at and bumps the revision, only if the stored
  // revision equals expected_revision: store.stale otherwise, store.not_found
  // when absent. Returns the new row.
  [[nodiscard]] virtual Result<core::Item> UpdateItem(std::string_view account_id,
                                                      std::string_view item_id,
                                                      int64_t expected_revision, const Bytes& data,
                                                      int64_t now) = 0;
  [[nodiscard]] virtual Status DeleteItem(std::string_view account_id,
                                          std::string_view item_id) = 0;

  // ---- TOTP recovery codes ----
  // Replaces the account's whole set.
  [[nodiscard]] virtual Status ReplaceRecoveryCodes(std::string_view account_id,
                                                    const std::vector<Bytes>& code_hashes) = 0;
  [[nodiscard]] virtual Result<std::vector<core::RecoveryCode>> ListRecoveryCodes(
      std::string_view account_id) = 0;
  // store.conflict when already used, store.not_found when absent: a code
  // works once even when two logins race.
  [[nodiscard]] virtual Status MarkRecoveryCodeUsed(std::string_view account_id,
                                                    int64_t code_id) = 0;

  // ---- rate limits (fixed windows, shared by every server node) ----
  // Counts one hit on `key`; a window older than window_seconds restarts at
  // `now`. Returns the count in the current window, this hit included.
  [[nodiscard]] virtual Result<int64_t> HitRateLimit(std::string_view key, int64_t now,
                                                     int64_t window_seconds) = 0;
  // The count in the current window (0 when none or elapsed); writes nothing.
  [[nodiscard]] virtual Result<int64_t> PeekRateLimit(std::string_view key, int64_t now,
                                                      int64_t window_seconds) = 0;
  [[nodiscard]] virtual Status ClearRateLimit(std::string_view key) = 0;
  // Deletes windows that started before `before`.
  [[nodiscard]] virtual Result<int64_t> DeleteRateLimitsBefore(int64_t before) = 0;

  // ---- organizations ----
  // store.conflict when the id exists.
  [[nodiscard]] virtual Status CreateOrg(const core::Org& org) = 0;
  [[nodiscard]] virtual Result<std::optional<core::Org>> FindOrg(std::string_view org_id) = 0;
  // Replaces name, statement_version, key_version, recovery_public_key and
  // policy_json; store.not_found.
  [[nodiscard]] virtual Status UpdateOrg(const core::Org& org) = 0;

  // ---- signed organization statements ----
  // store.conflict when (org, version) exists; store.not_found without the
  // organization.
  [[nodiscard]] virtual Status InsertStatement(const core::OrgStatementRow& statement) = 0;
  // Statements with version > after_version, ascending.
  [[nodiscard]] virtual Result<std::vector<core::OrgStatementRow>> ListStatements(
      std::string_view org_id, uint64_t after_version) = 0;

  // ---- organization members ----
  // store.conflict when (org, account) exists; store.not_found when the
  // organization or the account does not.
  [[nodiscard]] virtual Status InsertMember(const core::OrgMember& member) = 0;
  [[nodiscard]] virtual Result<std::optional<core::OrgMember>> FindMember(
      std::string_view org_id, std::string_view account_id) = 0;
  // Every member, revoked ones included, ordered by joined_at then account id.
  [[nodiscard]] virtual Result<std::vector<core::OrgMember>> ListMembers(
      std::string_view org_id) = 0;
  // The account of every member of `org_id` (revoked ones included), in
  // one query whatever their number, in no particular order.
  [[nodiscard]] virtual Result<std::vector<MemberAccount>> ListMemberAccounts(
      std::string_view org_id) = 0;
  // store.not_found when not a member.
  [[nodiscard]] virtual Status UpdateMemberRole(std::string_view org_id,
                                                std::string_view account_id, std::string_view role,
                                                std::string_view permissions) = 0;
  [[nodiscard]] virtual Status SetMemberStatus(std::string_view org_id, std::string_view account_id,
                                               core::MemberStatus status) = 0;
  [[nodiscard]] virtual Status DeleteMember(std::string_view org_id,
                                            std::string_view account_id) = 0;
  // Active members with the role "owner" (for core::CheckNotLastOwner, inside
  // the transaction that changes a role or a status).
  [[nodiscard]] virtual Result<int64_t> CountOwners(std::string_view org_id) = 0;
  // The account's memberships (any status), ordered by organization id.
  [[nodiscard]] virtual Result<std::vector<core::OrgMember>> ListOrgsOfAccount(
      std::string_view account_id) = 0;
  // Sets last_epoch; store.not_found when not a member.
  [[nodiscard]] virtual Status SetMemberLastEpoch(std::string_view org_id,
                                                  std::string_view account_id,
                                                  uint64_t last_epoch) = 0;

  // ---- recovery key grants ----
  // Insert or replace the row of (org, account, key_version); store.not_found
  // when the account is not a member.
  [[nodiscard]] virtual Status PutGrant(const core::OrgGrant& grant) = 0;
  [[nodiscard]] virtual Result<std::optional<core::OrgGrant>> FindGrant(std::string_view org_id,
                                                                        std::string_view account_id,
                                                                        uint64_t key_version) = 0;
  // Every grant of the organization, ordered by account id then key_version.
  [[nodiscard]] virtual Result<std::vector<core::OrgGrant>> ListGrants(std::string_view org_id) = 0;
  // Removes every grant of one member (the member lost the permission);
  // returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteMemberGrants(std::string_view org_id,
                                                           std::string_view account_id) = 0;
  // Removes the grants of key versions below key_version (a retired key);
  // returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteGrantsBelow(std::string_view org_id,
                                                          uint64_t key_version) = 0;

  // ---- escrows ----
  // Insert or replace the member's escrow; store.not_found when the account
  // is not a member.
  [[nodiscard]] virtual Status PutEscrow(const core::Escrow& escrow) = 0;
  [[nodiscard]] virtual Result<std::optional<core::Escrow>> FindEscrow(
      std::string_view org_id, std::string_view account_id) = 0;
  // store.not_found when absent.
  [[nodiscard]] virtual Status DeleteEscrow(std::string_view org_id,
                                            std::string_view account_id) = 0;
  // Every escrow of the organization, ordered by account id.
  [[nodiscard]] virtual Result<std::vector<core::Escrow>> ListEscrows(std::string_view org_id) = 0;
  // The account's escrows in every organization, ordered by organization id.
  [[nodiscard]] virtual Result<std::vector<core::Escrow>> ListEscrowsOfAccount(
      std::string_view account_id) = 0;
  // Escrows whose key_version is below key_version with account id >
  // after_account_id, ascending by account id, at most `limit` (keyset pages
  // for a key rotation).
  [[nodiscard]] virtual Result<std::vector<core::Escrow>> ListEscrowsBelowKeyVersion(
      std::string_view org_id, uint64_t key_version, std::string_view after_account_id,
      int64_t limit) = 0;
  [[nodiscard]] virtual Result<int64_t> CountEscrowsBelowKeyVersion(std::string_view org_id,
                                                                    uint64_t key_version) = 0;
  // Replaces admin_share and key_version (and updated_at) only if the stored
  // escrow still has this epoch and from_key_version: store.stale otherwise
  // (re-enrolled or already re-wrapped), store.not_found when absent.
  [[nodiscard]] virtual Status RewrapEscrow(std::string_view org_id, std::string_view account_id,
                                            uint64_t epoch, uint64_t from_key_version,
                                            uint64_t to_key_version, const Bytes& admin_share,
                                            int64_t now) = 0;

  // ---- organization invites ----
  // store.conflict when the id or the token hash exists; store.not_found
  // without the organization.
  [[nodiscard]] virtual Status InsertInvite(const core::OrgInvite& invite) = 0;
  [[nodiscard]] virtual Result<std::optional<core::OrgInvite>> FindInviteByTokenHash(
      std::span<const uint8_t> token_hash) = 0;
  // Sets accepted_at; store.conflict when already accepted, store.not_found
  // when absent: an invite works once even when two joins race.
  [[nodiscard]] virtual Status MarkInviteAccepted(std::string_view invite_id, int64_t now) = 0;
  // The organization's invites not accepted yet and not expired at `now`
  // (expires_at > now), ordered by created_at then id.
  [[nodiscard]] virtual Result<std::vector<core::OrgInvite>> ListOpenInvites(
      std::string_view org_id, int64_t now) = 0;
  // Invites expired before `now` (accepted or not); returns how many.
  [[nodiscard]] virtual Result<int64_t> DeleteExpiredInvites(int64_t now) = 0;

  // ---- recovery requests ----
  // store.conflict when the id or the (non-empty) token hash exists or the
  // account already has an open (pending or approved) request in any
  // organization: one open request per member, even when two submissions
  // race. store.not_found when the account is not a member of the
  // organization.
  [[nodiscard]] virtual Status InsertRequest(const core::RecoveryRequest& request) = 0;
  [[nodiscard]] virtual Result<std::optional<core::RecoveryRequest>> FindRequest(
      std::string_view request_id) = 0;
  // The account's open (pending or approved) request, if any.
  [[nodiscard]] virtual Result<std::optional<core::RecoveryRequest>> FindOpenRequest(
      std::string_view account_id) = 0;
  // An empty hash (a request not approved yet has none) finds nothing.
  [[nodiscard]] virtual Result<std::optional<core::RecoveryRequest>> FindRequestByTokenHash(
      std::span<const uint8_t> token_hash) = 0;
  // Replaces every field but id, org_id, account_id and created_at, only if
  // the stored status is `expected`: store.stale otherwise (so of two admins
  // acting at once exactly one wins), store.not_found when absent;
  // store.conflict when the new token hash is another request's or the
  // change would give the account a second open request.
  [[nodiscard]] virtual Status UpdateRequest(const core::RecoveryRequest& request,
                                             core::RequestStatus expected) = 0;
  // The organization's requests, newest first (created_at desc, id desc),
  // those strictly after `after` when given, with this status when given; at
  // most `limit`. Pass the last row of a page as `after` to get the next.
  [[nodiscard]] virtual Result<std::vector<core::RecoveryRequest>> ListRequests(
      std::string_view org_id, std::optional<core::RequestStatus> status,
      const std::optional<RequestCursor>& after, int64_t limit) = 0;
  // The same, for one member's requests only (the console's search by
  // email).
  [[nodiscard]] virtual Result<std::vector<core::RecoveryRequest>> ListAccountRequests(
      std::string_view org_id, std::string_view account_id,
      std::optional<core::RequestStatus> status, const std::optional<RequestCursor>& after,
      int64_t limit) = 0;
  // How many of the organization's requests are stored in each status
  // (statuses with none are left out), as stored: a request past its
  // deadline counts as open until it is read or swept.
  [[nodiscard]] virtual Result<RequestCounts> CountRequestsByStatus(std::string_view org_id) = 0;
  // Open requests (pending or approved) with expires_at <= now, oldest
  // deadline first (then by id), at most `limit` (for the expiry sweeper).
  [[nodiscard]] virtual Result<std::vector<core::RecoveryRequest>> ListExpiredOpenRequests(
      int64_t now, int64_t limit) = 0;
  // store.conflict when this admin already approved this request;
  // store.not_found without the request.
  [[nodiscard]] virtual Status InsertApproval(const core::RecoveryApproval& approval) = 0;
  // Oldest first (created_at, then admin id).
  [[nodiscard]] virtual Result<std::vector<core::RecoveryApproval>> ListApprovals(
      std::string_view request_id) = 0;
  // The approvals of every request in `request_ids`, in one query (a page
  // of a list costs the same few statements whatever its size): ordered by
  // request id, then oldest first. Ids that match nothing are skipped.
  [[nodiscard]] virtual Result<std::vector<core::RecoveryApproval>> ListApprovalsOf(
      std::span<const std::string> request_ids) = 0;
  // The email of every account in `account_ids` that exists, in one query:
  // (account id, email) pairs, in no particular order.
  [[nodiscard]] virtual Result<AccountEmailList> AccountEmails(
      std::span<const std::string> account_ids) = 0;

  // ---- organization event log ----
  // Appends event.seq to the log of event.org_id: store.conflict unless it is
  // the last stored seq + 1 (1 for the first), so of two concurrent appends
  // of the same seq only one wins; store.not_found without the organization.
  [[nodiscard]] virtual Status AppendEvent(const core::OrgEvent& event) = 0;
  // The event with the highest seq; nullopt when the log is empty.
  [[nodiscard]] virtual Result<std::optional<core::OrgEvent>> LastEvent(
      std::string_view org_id) = 0;
  // At most `limit` events with seq > after_seq that pass the filter,
  // ascending (keyset pagination: pass the last seq of a page to get the
  // next).
  [[nodiscard]] virtual Result<std::vector<core::OrgEvent>> ListEvents(
      std::string_view org_id, uint64_t after_seq, int64_t limit,
      const EventFilter& filter = {}) = 0;

  // ---- mail queue (core/mail_queue.h) ----
  // store.conflict when the id exists.
  [[nodiscard]] virtual Status InsertMail(const core::QueuedMail& mail) = 0;
  // Leases up to `limit` rows that are due (next_attempt_at <= now) and not
  // leased (claimed_until <= now) to `claimant` until `lease_until`, oldest
  // due first (then by id), and returns them as leased. Of two transactions
  // claiming at once, each row goes to one.
  [[nodiscard]] virtual Result<std::vector<core::QueuedMail>> ClaimDueMail(
      std::string_view claimant, int64_t now, int64_t lease_until, int64_t limit) = 0;
  // Delivered (or given up): the row is gone. False when it was not there.
  [[nodiscard]] virtual Result<bool> DeleteMail(std::string_view id) = 0;
  // A failed delivery: attempts and next_attempt_at as given, the lease
  // released. store.not_found without the row.
  [[nodiscard]] virtual Status RescheduleMail(std::string_view id, int64_t attempts,
                                              int64_t next_attempt_at) = 0;
  [[nodiscard]] virtual Result<core::MailQueueDepth> CountMail() = 0;

  // ---- facts about the installation (core/server_identity.h) ----
  // Written once per name and never changed: store.conflict when the name
  // exists. The values are public or keyed digests, never secrets.
  [[nodiscard]] virtual Status InsertServerMeta(std::string_view name, const Bytes& value,
                                                int64_t now) = 0;
  // nullopt when the name was never written.
  [[nodiscard]] virtual Result<std::optional<Bytes>> FindServerMeta(std::string_view name) = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Runs fn in one write transaction: committed durably when fn succeeds,
  // rolled back entirely when it fails (fn's error is returned). Retries fn
  // while the database is busy.
  [[nodiscard]] virtual Status Transact(const std::function<Status(Tx&)>& fn) = 0;
  // Runs fn in a read-only snapshot; writes inside it fail.
  [[nodiscard]] virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;
  // The newest migration applied to the database.
  [[nodiscard]] virtual Result<int> SchemaVersion() = 0;
  // Runs fn unless another holder of `task` (on this node or, on PostgreSQL,
  // on any node sharing the database) is running it right now; returns
  // whether fn ran. For periodic jobs that must not run twice at once (the
  // expiry sweeper). PostgreSQL: pg_try_advisory_lock on a key derived from
  // `task`, held on a connection of its own (outside the pool) for the
  // duration of fn; SQLite (one process per database file): a process-wide
  // try-lock. fn runs its own transactions.
  [[nodiscard]] virtual Result<bool> RunExclusive(std::string_view task,
                                                  const std::function<Status()>& fn) = 0;
};

// "sqlite:/path/file.db", "sqlite:relative.db", "sqlite::memory:" (one private
// in-memory database, for tests), or a libpq URL "postgresql://user@host:port/db"
// ("postgres://" too; libpq parameters such as ?host=/socket/dir or
// ?sslmode=verify-full pass through). The store is created and migrated if
// needed (on PostgreSQL the tables must be creatable by the URL's user).
// Errors: store.invalid_url, store.unavailable (the PostgreSQL server cannot
// be reached or refused the login), store.schema_too_new (the database was
// written by a newer keywardd), store.error.
[[nodiscard]] Result<std::unique_ptr<Store>> Open(std::string_view url);

// Helpers for implementations and core.
Error StoreError(std::string_view operation);  // store.error
Error ConflictError(std::string_view operation);
Error NotFoundError(std::string_view operation);
Error StaleError(std::string_view operation);
inline bool IsCode(const Error& e, std::string_view code) { return e.code() == code; }

}  // namespace keyward::store
