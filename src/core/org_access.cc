#include "core/org_access.h"

#include <algorithm>
#include "protocol/audit_chain.h"

#include "core/context.h"

namespace keyward::core {

Error OrgNotFound() {
  return Error::NotFound("org.not_found", "No such organization (or you are not a member of it).");
}

Error MemberNotFound() {
  return Error::NotFound("org.member_not_found",
                         "No such member in this organization (never joined, removed, or the "
                         "account was deleted; a deleted account cannot be recovered).");
}

Result<Actor> ActorOf(const core::OrgMember& member) {
  auto role = ParseRole(member.role);
  auto permissions = ParsePermissions(member.permissions);
  if (!role || !permissions) return Fail(Internal());
  return Actor{member.account_id, *role, *permissions};
}

Result<Target> TargetOf(const core::OrgMember& member) {
  auto role = ParseRole(member.role);
  if (!role) return Fail(Internal());
  return Target{member.account_id, *role};
}

Result<OrgAccess> LoadOrgAccess(store::Tx& tx, std::string_view org_id,
                                std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(org_id, account_id));
  if (!member || member->status != core::MemberStatus::kActive) return Fail(OrgNotFound());
  KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(org_id));
  if (!org) return Fail(OrgNotFound());
  KW_ASSIGN_OR_RETURN(Actor actor, ActorOf(*member));
  return OrgAccess{std::move(*org), std::move(*member), actor.role, actor.permissions};
}

Result<core::OrgMember> LoadMember(store::Tx& tx, std::string_view org_id,
                                   std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(org_id, account_id));
  if (!member) return Fail(MemberNotFound());
  return std::move(*member);
}

Status AppendOrgEvent(store::Tx& tx, const Clock& clock, EventSpec spec) {
  KW_ASSIGN_OR_RETURN(auto last, tx.LastEvent(spec.org_id));
  protocol::audit::Head prev = protocol::audit::Genesis();
  if (last) {
    if (last->hash.size() != protocol::audit::kDigestSize) return Fail(Internal());
    prev.seq = last->seq;
    std::copy(last->hash.begin(), last->hash.end(), prev.hash.begin());
  }
  protocol::audit::Event event;
  event.seq = prev.seq + 1;
  event.org_id = spec.org_id;
  event.type = std::move(spec.type);
  event.actor_id = std::move(spec.actor_id);
  event.target_id = std::move(spec.target_id);
  event.device_id = std::move(spec.device_id);
  event.time = clock.NowUnix();
  event.details = std::move(spec.details);
  auto head = protocol::audit::Append(prev, event);
  if (!head) return Fail(Internal());  // a bug: services only log valid events
  core::OrgEvent row;
  row.seq = event.seq;
  row.org_id = event.org_id;
  row.type = event.type;
  row.actor_id = event.actor_id;
  row.target_id = event.target_id;
  row.device_id = event.device_id;
  row.time = event.time;
  row.details = event.details;
  row.hash.assign(head->hash.begin(), head->hash.end());
  return tx.AppendEvent(row);
}

Status AppendAccountEvent(store::Tx& tx, const Clock& clock, std::string_view account_id,
                          EventSpec spec) {
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  for (const auto& m : memberships) {
    if (m.status != core::MemberStatus::kActive) continue;
    EventSpec copy = spec;
    copy.org_id = m.org_id;
    KW_TRY(AppendOrgEvent(tx, clock, std::move(copy)));
  }
  return {};
}

Result<std::vector<OrgWithPolicy>> ActiveMemberships(store::Tx& tx, std::string_view account_id) {
  std::vector<OrgWithPolicy> out;
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  for (const auto& m : memberships) {
    if (m.status != core::MemberStatus::kActive) continue;
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(m.org_id));
    if (!org) continue;
    auto policy = protocol::ParsePolicy(org->policy_json);
    out.push_back({std::move(*org), policy ? std::optional(std::move(*policy)) : std::nullopt});
  }
  return out;
}

}  // namespace keyward::core
