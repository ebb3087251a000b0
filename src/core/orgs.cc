#include "core/orgs.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/notices.h"
#include "core/validation.h"

namespace keyward::core {

namespace {

// protocol/statement.h answers as a member's client would (403: "I refuse
// this"); to the server these are bad requests (docs/api.md: 400).
Error AsBadRequest(const Error& e) { return Error::InvalidArgument(e.code(), e.message()); }

Error StatementVersion(uint64_t expected) {
  return Error::Conflict("org.statement_version", "The statement must have version " +
                                                      std::to_string(expected) +
                                                      "; reload the organization and sign again.");
}

Error WrongOrg() {
  return Error::InvalidArgument("org.wrong_org", "The statement is for another organization.");
}

Error InvalidName() {
  return Error::InvalidArgument("org.invalid_name",
                                "The organization name must be 1 to 100 characters, without "
                                "control characters.");
}

Error KeyVersionMismatch() {
  return Error::Conflict("org.key_version_mismatch",
                         "The grant is for another key version than the organization's current "
                         "one; reload the organization.");
}

// A statement decoded and verified against `pin`, with its policy.
Result<NextStatement> VerifyAgainst(const protocol::SignedOrgStatement& signed_statement,
                                    const protocol::OrgPin& pin, uint64_t expected_version,
                                    int64_t now) {
  // Decoding first tells a malformed statement from a bad signature.
  auto decoded = protocol::DecodeOrgStatement(signed_statement.statement);
  if (!decoded) return Fail(AsBadRequest(decoded.error()));
  if (decoded->org_id != pin.org_id) return Fail(WrongOrg());
  if (decoded->version != expected_version) return Fail(StatementVersion(expected_version));
  auto verified = protocol::VerifyOrgStatement(signed_statement, pin, now);
  if (!verified) return Fail(AsBadRequest(verified.error()));
  auto policy = protocol::ParsePolicy(verified->statement.policy_json);
  if (!policy) return Fail(AsBadRequest(policy.error()));
  return NextStatement{std::move(verified->statement), std::move(*policy)};
}

// "sso":"required" only where this server has the organization's provider:
// otherwise no member but the owners could sign in at all.
Status CheckSsoConfigured(const Context& ctx, std::string_view org_id,
                          const protocol::RecoveryPolicy& policy) {
  if (!policy.require_sso || ctx.config.sso.contains(org_id)) return {};
  return Fail(Error::InvalidArgument(
      "org.sso_not_configured",
      "This server has no single sign-on provider for the organization; its operator adds an "
      "[sso." +
          std::string(org_id) + "] table to keywardd's config first (docs/sso.md)."));
}

// Active recovery admins holding a grant of the organization's current
// key version: the most approvals a request can collect.
Result<int64_t> EligibleRecoveryAdmins(store::Tx& tx, const core::Org& org) {
  KW_ASSIGN_OR_RETURN(auto members, tx.ListMembers(org.id));
  KW_ASSIGN_OR_RETURN(auto grants, tx.ListGrants(org.id));
  int64_t eligible = 0;
  for (const auto& m : members) {
    if (m.status != core::MemberStatus::kActive) continue;
    KW_ASSIGN_OR_RETURN(Actor actor, ActorOf(m));
    if (!IsRecoveryAdmin(actor.role, actor.permissions)) continue;
    if (std::any_of(grants.begin(), grants.end(), [&](const core::OrgGrant& g) {
          return g.account_id == m.account_id && g.key_version == org.key_version;
        })) {
      ++eligible;
    }
  }
  return eligible;
}

Status CheckQuorumReachable(store::Tx& tx, const core::Org& org,
                            const protocol::RecoveryPolicy& policy) {
  KW_ASSIGN_OR_RETURN(int64_t eligible, EligibleRecoveryAdmins(tx, org));
  if (policy.quorum > eligible) {
    return Fail(Error::Conflict(
        "org.quorum_unreachable",
        "The quorum (" + std::to_string(policy.quorum) +
            ") is larger than the number of recovery admins holding the recovery key (" +
            std::to_string(eligible) +
            "): grant the key to more admins first (keyward org grant-recovery MEMBER)."));
  }
  return {};
}

// Who is told what after a policy change (sent once it is committed).
struct PolicyNotices {
  std::vector<std::string> mode_changed;         // enrolled active members
  std::vector<std::string> enrollment_required;  // active members not enrolled
};

Result<PolicyNotices> CollectPolicyNotices(store::Tx& tx, const std::string& org_id,
                                           const protocol::RecoveryPolicy& before,
                                           const protocol::RecoveryPolicy& after) {
  PolicyNotices out;
  const bool mode_changed = before.mode != after.mode;
  const bool now_mandatory = after.enrollment == protocol::Enrollment::kMandatory &&
                             before.enrollment != protocol::Enrollment::kMandatory;
  if (!mode_changed && !now_mandatory) return out;
  // Three queries and hashed lookups, whatever the organization's size.
  KW_ASSIGN_OR_RETURN(auto members, tx.ListMembers(org_id));
  KW_ASSIGN_OR_RETURN(auto escrows, tx.ListEscrows(org_id));
  KW_ASSIGN_OR_RETURN(auto accounts, tx.ListMemberAccounts(org_id));
  std::unordered_set<std::string_view> enrolled_ids;
  for (const auto& e : escrows) enrolled_ids.insert(e.account_id);
  std::unordered_map<std::string_view, const std::string*> email_of;
  for (const auto& a : accounts) email_of.emplace(a.account_id, &a.email);
  for (const auto& m : members) {
    if (m.status != core::MemberStatus::kActive) continue;
    const bool enrolled = enrolled_ids.contains(m.account_id);
    if (!(enrolled ? mode_changed : now_mandatory)) continue;
    auto email = email_of.find(m.account_id);
    if (email == email_of.end()) continue;
    (enrolled ? out.mode_changed : out.enrollment_required).push_back(*email->second);
  }
  return out;
}

}  // namespace

Status CheckOrgName(std::string_view name) {
  size_t chars = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    auto u = static_cast<unsigned char>(name[i]);
    if (u < 0x20 || u == 0x7f) return Fail(InvalidName());
    // C1 controls U+0080..U+009F are C2 80..C2 9F in UTF-8.
    if (u == 0xc2 && i + 1 < name.size()) {
      auto next = static_cast<unsigned char>(name[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return Fail(InvalidName());
    }
    if ((u & 0xc0) != 0x80) ++chars;  // count code points, not bytes
  }
  if (chars == 0 || chars > kMaxOrgNameChars) {
    return Fail(InvalidName());
  }
  return {};
}

Result<protocol::RecoveryPolicy> PolicyOf(const core::Org& org) {
  auto policy = protocol::ParsePolicy(org.policy_json);
  if (!policy) return Fail(Internal());
  return std::move(*policy);
}

Result<protocol::OrgStatement> CurrentStatement(store::Tx& tx, const core::Org& org) {
  if (org.statement_version == 0) return Fail(Internal());
  KW_ASSIGN_OR_RETURN(auto rows, tx.ListStatements(org.id, org.statement_version - 1));
  if (rows.empty() || rows.front().version != org.statement_version) return Fail(Internal());
  auto statement = protocol::DecodeOrgStatement(rows.front().statement);
  if (!statement) return Fail(Internal());
  return std::move(*statement);
}

Result<NextStatement> VerifyNextStatement(store::Tx& tx, const core::Org& org,
                                          const protocol::SignedOrgStatement& signed_statement,
                                          int64_t now) {
  KW_ASSIGN_OR_RETURN(auto current, CurrentStatement(tx, org));
  protocol::OrgPin pin{org.id, current.signing_public_key, current.version, {}};
  return VerifyAgainst(signed_statement, pin, org.statement_version + 1, now);
}

Result<EnrollmentState> EnrollmentOf(store::Tx& tx, std::string_view org_id,
                                     std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(org_id, account_id));
  KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(org_id, account_id));
  EnrollmentState state;
  if (member) state.last_epoch = member->last_epoch;
  if (escrow) {
    state.enrolled = true;
    state.epoch = escrow->epoch;
    state.key_version = escrow->key_version;
  }
  return state;
}

Result<OrgView> LoadOrgView(store::Tx& tx, std::string_view org_id, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, account_id));
  KW_ASSIGN_OR_RETURN(EnrollmentState enrollment, EnrollmentOf(tx, org_id, account_id));
  return OrgView{std::move(access.org), std::move(access.me), enrollment};
}

Status CheckGrantUpload(const GrantUpload& grant, uint64_t current_key_version, Role role) {
  if (grant.recovery_grant.size() < kMinGrantSize || grant.recovery_grant.size() > kMaxGrantSize) {
    return Fail(InvalidField("grant.recovery_grant"));
  }
  if (!grant.signing_grant.empty()) {
    if (grant.signing_grant.size() < kMinGrantSize || grant.signing_grant.size() > kMaxGrantSize ||
        (role != Role::kOwner && role != Role::kAdmin)) {
      return Fail(InvalidField("grant.signing_grant"));
    }
  }
  if (grant.key_version != current_key_version) return Fail(KeyVersionMismatch());
  return {};
}

Status StoreGrant(store::Tx& tx, const Clock& clock, const Caller& caller, std::string_view org_id,
                  std::string_view account_id, const GrantUpload& grant) {
  core::OrgGrant row;
  row.org_id = std::string(org_id);
  row.account_id = std::string(account_id);
  row.key_version = grant.key_version;
  row.recovery_grant = grant.recovery_grant;
  row.signing_grant = grant.signing_grant;
  row.created_by = caller.account_id;
  row.created_at = clock.NowUnix();
  KW_TRY(tx.PutGrant(row));
  return AppendOrgEvent(tx, clock,
                        EventSpec{std::string(org_id),
                                  "key.granted",
                                  caller.account_id,
                                  std::string(account_id),
                                  caller.device_id,
                                  {{"key_version", std::to_string(grant.key_version)},
                                   {"signing", grant.signing_grant.empty() ? "false" : "true"}}});
}

std::map<std::string, std::string> PolicyDetails(const protocol::RecoveryPolicy& policy) {
  return {{"enrollment", std::string(protocol::EnrollmentName(policy.enrollment))},
          {"mode", std::string(protocol::RecoveryModeName(policy.mode))},
          {"quorum", std::to_string(policy.quorum)},
          {"link_ttl", std::to_string(policy.link_ttl)},
          {"pending_ttl", std::to_string(policy.pending_ttl)},
          // Addresses stay out of the log: 0 means "every recovery admin".
          {"notify_count", std::to_string(policy.notify.size())},
          {"pairing_reset", policy.pairing_reset ? "allow" : "deny"},
          {"sso", policy.require_sso ? "required" : "optional"}};
}

Status OrgService::CheckMayCreate(const Caller& caller) {
  if (!ctx_.config.org_creation_operator_only) return {};
  bool allowed = false;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    // Emails are stored normalized (lower case), as are the operator's.
    allowed = account && std::find(ctx_.config.org_creators.begin(), ctx_.config.org_creators.end(),
                                   account->email) != ctx_.config.org_creators.end();
    return {};
  }));
  if (!allowed) {
    return Fail(Error::PermissionDenied(
        "org.creation_forbidden",
        "On this server only accounts chosen by the operator create organizations; ask the "
        "operator, or an administrator of an existing organization to invite you."));
  }
  return {};
}

Result<OrgView> OrgService::Create(const Caller& caller, const NewOrg& in) {
  KW_TRY(CheckMayCreate(caller));
  if (!IsValidClientId(in.id)) return Fail(InvalidField("id"));
  KW_TRY(CheckOrgName(in.name));
  const int64_t now = ctx_.clock.NowUnix();
  protocol::SignedOrgStatement signed_statement{in.statement, in.signature};
  // The first statement is self-signed: verified with the key it names.
  auto decoded = protocol::DecodeOrgStatement(in.statement);
  if (!decoded) return Fail(AsBadRequest(decoded.error()));
  if (decoded->org_id != in.id) return Fail(WrongOrg());
  auto pin = protocol::PinOnFirstUse(in.id, decoded->signing_public_key);
  if (!pin) return Fail(AsBadRequest(pin.error()));
  KW_ASSIGN_OR_RETURN(NextStatement first, VerifyAgainst(signed_statement, *pin, 1, now));
  KW_TRY(CheckSsoConfigured(ctx_, in.id, first.policy));
  KW_TRY(CheckGrantUpload(in.grant, 1, Role::kOwner));
  auto policy_json = protocol::EncodePolicy(first.policy);
  if (!policy_json) return Fail(AsBadRequest(policy_json.error()));

  OrgView view;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    core::Org org;
    org.id = in.id;
    org.name = in.name;
    org.created_at = now;
    org.created_by = caller.account_id;
    org.statement_version = 1;
    org.key_version = 1;
    org.recovery_public_key = first.statement.org_public_key;
    org.policy_json = *policy_json;
    if (auto s = tx.CreateOrg(org); !s) {
      if (store::IsCode(s.error(), "store.conflict")) {
        return Fail(Error::Conflict("org.exists", "This organization id is taken; pick another."));
      }
      return s;
    }
    KW_TRY(tx.InsertStatement(core::OrgStatementRow{org.id, 1, in.statement, in.signature, now}));
    core::OrgMember owner;
    owner.org_id = org.id;
    owner.account_id = caller.account_id;
    owner.role = std::string(RoleName(Role::kOwner));
    owner.joined_at = now;
    KW_TRY(tx.InsertMember(owner));
    core::OrgGrant grant;
    grant.org_id = org.id;
    grant.account_id = caller.account_id;
    grant.key_version = 1;
    grant.recovery_grant = in.grant.recovery_grant;
    grant.signing_grant = in.grant.signing_grant;
    grant.created_by = caller.account_id;
    grant.created_at = now;
    KW_TRY(tx.PutGrant(grant));
    auto details = PolicyDetails(first.policy);
    details["statement_version"] = "1";
    details["key_version"] = "1";
    KW_TRY(AppendOrgEvent(tx, ctx_.clock,
                          EventSpec{org.id, "org.created", caller.account_id, caller.account_id,
                                    caller.device_id, std::move(details)}));
    view = OrgView{std::move(org), std::move(owner), {}};
    return {};
  }));
  return view;
}

Result<std::vector<OrgView>> OrgService::List(const Caller& caller) {
  std::vector<OrgView> out;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    out.clear();
    KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(caller.account_id));
    for (const auto& m : memberships) {
      if (m.status != core::MemberStatus::kActive) continue;
      KW_ASSIGN_OR_RETURN(auto view, LoadOrgView(tx, m.org_id, caller.account_id));
      out.push_back(std::move(view));
    }
    return {};
  }));
  return out;
}

Result<OrgView> OrgService::Get(const Caller& caller, std::string_view org_id) {
  OrgView view;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(view, LoadOrgView(tx, org_id, caller.account_id));
    return {};
  }));
  return view;
}

Result<std::vector<core::OrgStatementRow>> OrgService::Statements(const Caller& caller,
                                                                  std::string_view org_id,
                                                                  uint64_t after) {
  std::vector<core::OrgStatementRow> rows;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_TRY(LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(rows, tx.ListStatements(org_id, after));
    return {};
  }));
  return rows;
}

Result<OrgView> OrgService::ChangePolicy(const Caller& caller, std::string_view org_id,
                                         const protocol::SignedOrgStatement& signed_statement) {
  const int64_t now = ctx_.clock.NowUnix();
  OrgView view;
  PolicyNotices notices;
  std::string_view new_mode;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    notices = {};
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    if (access.role != Role::kOwner && access.role != Role::kAdmin) {
      return Fail(Error::PermissionDenied("org.forbidden",
                                          "Only owners and admins change the recovery policy."));
    }
    KW_ASSIGN_OR_RETURN(auto current, CurrentStatement(tx, access.org));
    KW_ASSIGN_OR_RETURN(NextStatement next,
                        VerifyNextStatement(tx, access.org, signed_statement, now));
    if (!crypto::ConstantTimeEqual(next.statement.org_public_key, current.org_public_key) ||
        !crypto::ConstantTimeEqual(next.statement.signing_public_key, current.signing_public_key)) {
      return Fail(Error::InvalidArgument(
          "org.key_mismatch",
          "A policy change keeps the organization's keys; rotate the key to change them."));
    }
    auto policy_json = protocol::EncodePolicy(next.policy);
    if (!policy_json) return Fail(AsBadRequest(policy_json.error()));
    KW_TRY(CheckQuorumReachable(tx, access.org, next.policy));
    KW_TRY(CheckSsoConfigured(ctx_, access.org.id, next.policy));
    KW_ASSIGN_OR_RETURN(auto before, PolicyOf(access.org));
    KW_ASSIGN_OR_RETURN(notices, CollectPolicyNotices(tx, access.org.id, before, next.policy));
    new_mode = protocol::RecoveryModeName(next.policy.mode);
    core::Org org = access.org;
    org.statement_version = next.statement.version;
    org.policy_json = *policy_json;
    KW_TRY(tx.UpdateOrg(org));
    KW_TRY(tx.InsertStatement(core::OrgStatementRow{org.id, next.statement.version,
                                                    signed_statement.statement,
                                                    signed_statement.signature, now}));
    auto details = PolicyDetails(next.policy);
    details["statement_version"] = std::to_string(next.statement.version);
    KW_TRY(AppendOrgEvent(tx, ctx_.clock,
                          EventSpec{org.id, "policy.changed", caller.account_id, "",
                                    caller.device_id, std::move(details)}));
    // Queued with the change: the answer does not wait for one email per
    // member.
    for (const auto& email : notices.mode_changed) {
      KW_TRY(ctx_.mail.Enqueue(tx, notices::RecoveryModeChanged(email, org.name, new_mode, now)));
    }
    for (const auto& email : notices.enrollment_required) {
      KW_TRY(ctx_.mail.Enqueue(tx, notices::EnrollmentRequired(email, org.name, now)));
    }
    KW_ASSIGN_OR_RETURN(EnrollmentState enrollment, EnrollmentOf(tx, org.id, caller.account_id));
    view = OrgView{std::move(org), std::move(access.me), enrollment};
    return {};
  }));
  return view;
}

}  // namespace keyward::core
