// Keyward client library, organizations (docs/api.md "Organizations";
// docs/protocol.md "Escrow, links, grants and signed statements"). The
// client makes every organization key, seals every grant and escrow, and
// verifies every signed statement against the signing key the member pinned
// when joining; the server stores what it cannot open.
//
// Every call that seals to pk_org first verifies the organization's
// statements against the caller's pin (VerifyOrg): a server that swaps pk_org
// or rolls the policy back is refused with the protocol's org.* error.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"
#include "protocol/audit_chain.h"
#include "protocol/escrow.h"
#include "protocol/policy.h"
#include "protocol/statement.h"

namespace keyward::client {

class Client;

struct Enrollment {
  std::string state = "not_enrolled";  // "enrolled" | "not_enrolled"
  uint64_t epoch = 0;
  uint64_t key_version = 0;
  bool enrolled() const { return state == "enrolled"; }
};

struct SignedStatement {
  uint64_t version = 0;
  crypto::Bytes statement;
  crypto::Bytes signature;
};

struct Org {
  std::string id;
  std::string name;
  std::string role;
  std::string permissions;
  std::string status;
  uint64_t key_version = 0;
  crypto::Bytes recovery_public_key;
  uint64_t statement_version = 0;
  protocol::RecoveryPolicy policy;  // as the server decoded it: display only
  Enrollment enrollment;
  std::string created_at;
};

struct OrgMember {
  std::string account_id;
  std::string email;
  std::string role;
  std::string permissions;
  std::string status;
  std::string joined_at;
  crypto::Bytes public_key;
  Enrollment enrollment;
  bool recovery_admin = false;
  uint64_t grant_key_version = 0;
};

struct OrgInvite {
  std::string id;
  std::string email;
  std::string role;
  std::string permissions;
  std::string expires_at;
};

struct MemberList {
  std::vector<OrgMember> members;
  std::vector<OrgInvite> invites;
};

struct InviteInfo {
  std::string invite_id;
  std::string org_id;
  std::string org_name;
  std::string role;
  std::string permissions;
  std::string email;
  std::string expires_at;
  std::vector<SignedStatement> statements;
};

// An organization checked against the caller's pin.
struct VerifiedOrg {
  Org org;
  protocol::OrgStatement statement;  // the newest, verified
  protocol::OrgPin next_pin;         // store in the profile in place of the old one
  std::string signing_fingerprint;   // crypto::Fingerprint of the pinned signing key
  std::string recovery_fingerprint;  // crypto::Fingerprint(pk_org)
};

// The caller's identity as an organization member: account id and the
// member key pair (pk_u, sk_u = Dec(UK, wrapped_private_key)).
struct MemberKeys {
  std::string account_id;
  crypto::BoxKeyPair key_pair;
};
// Unwraps sk_u from the account with the vault key.
[[nodiscard]] Result<MemberKeys> UnwrapMemberKeys(const crypto::VaultKey& uk,
                                                  std::string_view account_id,
                                                  std::span<const uint8_t> public_key,
                                                  std::span<const uint8_t> wrapped_private_key);

struct EventQuery {
  uint64_t after = 0;
  int limit = 100;
  std::string type;
  std::string actor;
  std::string target;
  std::string since;  // RFC 3339, empty: none
  std::string until;
};

struct EventPage {
  std::vector<protocol::audit::Record> records;
  std::optional<uint64_t> next_after;
};

// One admin share still sealed to an older organization key.
struct PendingShare {
  std::string account_id;
  uint64_t epoch = 0;
  uint64_t key_version = 0;
  crypto::Bytes admin_share;
};
struct RewrappedShare {
  std::string account_id;
  uint64_t epoch = 0;
  uint64_t from_key_version = 0;
  crypto::Bytes admin_share;
};

// Re-seals every share from old_key to new_public_key
// (protocol::ResealAdminShare), split over `threads` worker threads (0: one
// per core). Fails on the first share that does not open, naming no id.
[[nodiscard]] Result<std::vector<RewrappedShare>> RewrapShares(
    const crypto::BoxKeyPair& old_key, std::span<const uint8_t> new_public_key,
    std::string_view org_id, std::span<const PendingShare> shares, unsigned threads = 0);

// The role rules every client applies: owners, admins and custom members
// with manage_account_recovery are recovery admins; owners and admins also
// hold the signing key.
bool IsRecoveryAdminRole(std::string_view role, std::string_view permissions);
bool HoldsSigningKey(std::string_view role);
// Whether giving `member` this role seals a grant to them: it makes a
// recovery admin who lacks the current key, or the signing key that comes
// with owner or admin. OrgClient::SetRole then needs the member's
// confirmed public key.
bool RoleChangeNeedsGrant(const VerifiedOrg& org, const OrgMember& member, std::string_view role,
                          std::string_view permissions);

// Called as work progresses: done of total members.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Whether the caller may seal to this member's public key (as the server
// lists it): true only for a key the caller pinned or confirmed by its
// fingerprint. The server picks the member list, so nothing else is trusted.
using MemberKeyCheck = std::function<Result<bool>(const OrgMember& member)>;

struct RotationResult {
  uint64_t key_version = 0;  // the new one
  uint64_t rewrapped = 0;
  uint64_t skipped = 0;  // changed meanwhile (re-enrolled); already current
  bool resumed = false;  // an interrupted rotation was finished
  // Recovery admins not granted the new key: their public key was not
  // confirmed (MemberKeyCheck said no); grant them with GrantRecovery.
  std::vector<OrgMember> not_granted;
};

struct AdminResetResult {
  crypto::SecureBytes temporary_password;  // show to the admin once
};

// A fresh escrow for one organization (master password change).
struct EscrowForOrg {
  std::string org_id;
  uint64_t key_version = 0;
  protocol::Escrow escrow;
};

// Organization operations of one signed-in member. Holds references: the
// client (with its session) and the caller's keys outlive it.
class OrgClient {
 public:
  OrgClient(Client& client, const crypto::VaultKey& vault_key, MemberKeys me)
      : client_(client), vault_key_(vault_key), me_(std::move(me)) {}

  // ---- create, read, verify ----
  // Makes the signing key, the recovery key pair, statement v1 with the
  // default policy (protocol::RecoveryPolicy{}) and the caller's grant;
  // returns the verified organization, whose next_pin the caller stores.
  [[nodiscard]] Result<VerifiedOrg> Create(std::string_view name);
  [[nodiscard]] Result<std::vector<Org>> List();
  [[nodiscard]] Result<Org> Get(std::string_view org_id);
  // GET org + statements after pin.version; VerifyOrgStatementChain against
  // `pin`; CheckOrgPublicKey(org.recovery_public_key); the policy decoded
  // from the verified statement replaces the server's in the result.
  [[nodiscard]] Result<VerifiedOrg> Verify(std::string_view org_id, const protocol::OrgPin& pin);

  // ---- invites and joining ----
  [[nodiscard]] Result<OrgInvite> Invite(std::string_view org_id, std::string_view email,
                                         std::string_view role, std::string_view permissions);
  [[nodiscard]] Result<InviteInfo> LookupInvite(const crypto::SecureBytes& token);
  // Pins the first statement's signing key (trust on first use; when
  // `expected_fingerprint` is given it must match, else org.fingerprint_mismatch),
  // verifies the chain, and accepts. `enroll`: also make and upload an escrow
  // (required by a mandatory policy: the client does it whenever the verified
  // policy says mandatory, whatever `enroll` says).
  [[nodiscard]] Result<VerifiedOrg> Join(const crypto::SecureBytes& token, const InviteInfo& info,
                                         std::optional<std::string> expected_fingerprint,
                                         bool enroll);

  // ---- members ----
  [[nodiscard]] Result<MemberList> Members(std::string_view org_id);
  // When the new role makes the member a recovery admin, seals the current
  // recovery key (and, for owner/admin, the signing key), with the caller's
  // own grant, to `confirmed_public_key`: the member key the caller pinned or
  // confirmed by fingerprint, never merely the one the server lists
  // (org.member_key_unconfirmed when a grant is needed and it is empty;
  // org.member_key_mismatch when the server lists another key).
  [[nodiscard]] Status SetRole(const VerifiedOrg& org, std::string_view member_id,
                               std::string_view role, std::string_view permissions,
                               std::span<const uint8_t> confirmed_public_key = {});
  [[nodiscard]] Status GrantRecovery(const VerifiedOrg& org, std::string_view member_id,
                                     std::span<const uint8_t> confirmed_public_key);
  [[nodiscard]] Status Revoke(std::string_view org_id, std::string_view member_id);
  [[nodiscard]] Status Restore(std::string_view org_id, std::string_view member_id);
  [[nodiscard]] Status Remove(std::string_view org_id, std::string_view member_id);
  // A member id from an id or an email (case-insensitive) via Members();
  // org.member_not_found otherwise.
  [[nodiscard]] Result<OrgMember> FindMember(std::string_view org_id, std::string_view id_or_email);

  // ---- policy ----
  // Signs statement version+1 with the caller's signing grant, same keys.
  [[nodiscard]] Result<VerifiedOrg> SetPolicy(const VerifiedOrg& org,
                                              const protocol::RecoveryPolicy& policy);

  // ---- enrollment ----
  // Builds the escrow at epoch (current last epoch + 1) for a verified org
  // and the server recovery key (fetched from /v1/server).
  [[nodiscard]] Result<protocol::Escrow> MakeEscrow(const VerifiedOrg& org, uint64_t epoch);
  [[nodiscard]] Result<Enrollment> Enroll(const VerifiedOrg& org, const crypto::AuthKey& auth_key);
  [[nodiscard]] Status Withdraw(std::string_view org_id, const crypto::AuthKey& auth_key);
  [[nodiscard]] Result<Enrollment> GetEnrollment(std::string_view org_id);

  // ---- key rotation ----
  // Starts a rotation (new key pair, statement version+1, grants to the
  // caller and to every recovery admin holding one whose key `trusted`
  // accepts; the others are listed in not_granted) unless one is in
  // progress, then re-wraps every pending share in pages, in parallel,
  // reporting progress; idempotent: running it again after a crash finishes
  // the same rotation.
  [[nodiscard]] Result<RotationResult> RotateKey(const VerifiedOrg& org, const ProgressFn& progress,
                                                 const MemberKeyCheck& trusted = {});

  // ---- admin-reset mode ----
  [[nodiscard]] Result<AdminResetResult> ResetPassword(const VerifiedOrg& org,
                                                       std::string_view member_id);
  [[nodiscard]] Status ResetTwoFactor(std::string_view org_id, std::string_view member_id);
  // DELETE .../members/{member}/sso: the member's next SSO login binds anew.
  [[nodiscard]] Status UnlinkSso(std::string_view org_id, std::string_view member_id);

  // ---- master password change ----
  // Fresh escrows at the next epoch for every organization the caller is
  // enrolled in, each verified against its pin (a missing pin is
  // org.not_pinned: run `keyward org trust ORG`), for Client::ChangePassword.
  [[nodiscard]] Result<std::vector<EscrowForOrg>> FreshEscrows(
      const std::map<std::string, protocol::OrgPin>& pins);

  // ---- events ----
  [[nodiscard]] Result<EventPage> Events(std::string_view org_id, const EventQuery& query);
  // Every event from seq 1, all pages.
  [[nodiscard]] Result<std::vector<protocol::audit::Record>> AllEvents(std::string_view org_id);

 private:
  Client& client_;
  const crypto::VaultKey& vault_key_;
  MemberKeys me_;
};

}  // namespace keyward::client
