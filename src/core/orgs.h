// Organizations (docs/api.md "Organizations"):
// creating one from a self-signed statement, what a member sees of it, its
// signed statements, and policy changes. Members, invites and roles are in
// org_members.h, the event log in events.h.
//
// The server never holds an organization key: it checks that each new
// statement is signed by the signing key of the statement in force (the first
// by the key it names) and that the version moves by exactly one, stores the
// statement for members' clients to verify themselves, and enforces the
// policy it carries.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/org_access.h"
#include "protocol/policy.h"
#include "protocol/statement.h"

namespace keyward::core {

inline constexpr size_t kMaxOrgNameChars = 100;
// Sealed grants: crypto_box_seal overhead (48) + header + 32-byte key.
inline constexpr size_t kMinGrantSize = 48 + 32;
inline constexpr size_t kMaxGrantSize = 4096;

// One member's escrow state in one organization (docs/api.md "Enrollment").
struct EnrollmentState {
  bool enrolled = false;
  uint64_t epoch = 0;
  uint64_t key_version = 0;
  // The member's highest epoch ever (kept through withdrawal): the next
  // enrollment must use last_epoch + 1.
  uint64_t last_epoch = 0;
};

// What a member sees of an organization.
struct OrgView {
  core::Org org;
  core::OrgMember me;
  EnrollmentState enrollment;
};

// A grant uploaded by an admin's client (docs/api.md "Grant").
struct GrantUpload {
  uint64_t key_version = 0;
  store::Bytes recovery_grant;
  store::Bytes signing_grant;  // empty: none (only owners and admins may hold one)
};

struct NewOrg {
  std::string id;
  std::string name;
  store::Bytes statement;  // protocol::EncodeOrgStatement bytes, version 1, self-signed
  store::Bytes signature;
  GrantUpload grant;  // sk_org (and the signing key) sealed to the creator, key version 1
};

class OrgService {
 public:
  explicit OrgService(const Context& ctx) : ctx_(ctx) {}

  // The caller becomes the owner. org.creation_forbidden (403, first) when
  // the operator restricts creation (CoreConfig::org_creation_operator_only)
  // and the caller's email is not listed; org.exists,
  // org.statement_malformed, org.signature_invalid, org.wrong_org,
  // org.statement_version, org.invalid_policy, org.invalid_name,
  // org.key_version_mismatch.
  [[nodiscard]] Result<OrgView> Create(const Caller& caller, const NewOrg& org);
  // Active memberships, ordered by organization id.
  [[nodiscard]] Result<std::vector<OrgView>> List(const Caller& caller);
  [[nodiscard]] Result<OrgView> Get(const Caller& caller, std::string_view org_id);
  // Statements with version > after, ascending.
  [[nodiscard]] Result<std::vector<core::OrgStatementRow>> Statements(const Caller& caller,
                                                                      std::string_view org_id,
                                                                      uint64_t after);
  // Owners and admins; the statement keeps both keys and changes the policy.
  // org.quorum_unreachable (409) when the quorum exceeds the active recovery
  // admins holding a grant of the current key version. A new recovery mode
  // queues an email to every enrolled active member (their escrows keep the
  // mode they were made under until they enroll again); enrollment becoming
  // mandatory queues one to every active member not enrolled.
  [[nodiscard]] Result<OrgView> ChangePolicy(const Caller& caller, std::string_view org_id,
                                             const protocol::SignedOrgStatement& signed_statement);

 private:
  [[nodiscard]] Status CheckMayCreate(const Caller& caller);

  const Context& ctx_;
};

// ---- shared by the organization services (and the recovery ones) ----

// org.invalid_name unless 1..100 characters without control characters.
[[nodiscard]] Status CheckOrgName(std::string_view name);

// The organization's policy as stored (policy_json); a corrupt one is internal.
[[nodiscard]] Result<protocol::RecoveryPolicy> PolicyOf(const core::Org& org);

// The statement in force (version org.statement_version), decoded.
[[nodiscard]] Result<protocol::OrgStatement> CurrentStatement(store::Tx& tx, const core::Org& org);

// A statement that may follow the one in force: signed by its signing key
// (org.signature_invalid), for this organization (org.wrong_org), well formed
// (org.statement_malformed), version current + 1 (org.statement_version,
// kConflict), not dated in the future (org.statement_not_yet_valid), with a
// valid policy (org.invalid_policy). All but the version are kInvalidArgument.
// Key changes are the caller's business (policy change: org.key_mismatch;
// rotation: a new pk_org).
struct NextStatement {
  protocol::OrgStatement statement;
  protocol::RecoveryPolicy policy;
};
[[nodiscard]] Result<NextStatement> VerifyNextStatement(
    store::Tx& tx, const core::Org& org, const protocol::SignedOrgStatement& signed_statement,
    int64_t now);

// The caller's view of an organization they are an active member of.
[[nodiscard]] Result<OrgView> LoadOrgView(store::Tx& tx, std::string_view org_id,
                                          std::string_view account_id);

[[nodiscard]] Result<EnrollmentState> EnrollmentOf(store::Tx& tx, std::string_view org_id,
                                                   std::string_view account_id);

// Shape of an uploaded grant for a member with `role`, at the organization's
// `current_key_version`: sizes (request.invalid_field), key version
// (org.key_version_mismatch), a signing grant only for owners and admins
// (request.invalid_field naming grant.signing_grant).
[[nodiscard]] Status CheckGrantUpload(const GrantUpload& grant, uint64_t current_key_version,
                                      Role role);

// Stores the grant and appends key.granted.
[[nodiscard]] Status StoreGrant(store::Tx& tx, const Clock& clock, const Caller& caller,
                                std::string_view org_id, std::string_view account_id,
                                const GrantUpload& grant);

// The policy's settings as event details: no email ("notify" becomes a count).
std::map<std::string, std::string> PolicyDetails(const protocol::RecoveryPolicy& policy);

}  // namespace keyward::core
