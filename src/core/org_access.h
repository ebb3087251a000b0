// Shared by every organization service: who the caller is in an
// organization, who the target member is, and appending to the organization's
// audit chain inside the transaction that makes the change.
//
// Isolation rule (docs/api.md "Organizations"): a caller who is not an ACTIVE
// member of the organization gets org.not_found, the same answer as for an
// organization that does not exist; a target that is not a member (never
// joined, removed, deleted account) is org.member_not_found.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "core/roles.h"
#include "protocol/policy.h"
#include "store/store.h"

namespace keyward::core {

struct OrgAccess {
  core::Org org;
  core::OrgMember me;
  Role role = Role::kUser;
  Permissions permissions;

  Actor actor() const { return Actor{me.account_id, role, permissions}; }
  bool recovery_admin() const { return IsRecoveryAdmin(role, permissions); }
};

Error OrgNotFound();     // 404 org.not_found
Error MemberNotFound();  // 404 org.member_not_found

// The caller's active membership; org.not_found otherwise.
[[nodiscard]] Result<OrgAccess> LoadOrgAccess(store::Tx& tx, std::string_view org_id,
                                              std::string_view account_id);
// A member of the organization (any status); org.member_not_found otherwise.
[[nodiscard]] Result<core::OrgMember> LoadMember(store::Tx& tx, std::string_view org_id,
                                                 std::string_view account_id);
// The hierarchy view of a stored member (role parsed; a corrupt role is an
// internal error).
[[nodiscard]] Result<Target> TargetOf(const core::OrgMember& member);
// Role and permissions of a stored member.
[[nodiscard]] Result<Actor> ActorOf(const core::OrgMember& member);

// One event to append; seq, time and hash are filled in by AppendOrgEvent.
struct EventSpec {
  std::string org_id;
  std::string type;  // docs/api.md "Event types"
  std::string actor_id;
  std::string target_id;
  std::string device_id;
  std::map<std::string, std::string> details;  // ids and settings: never a secret or an email
};

// Appends to the org's chain (LastEvent + 1, audit::Append for the hash),
// inside `tx`, so the event commits with the change it records.
[[nodiscard]] Status AppendOrgEvent(store::Tx& tx, const Clock& clock, EventSpec spec);

// The same event in every organization where `account_id` is an active
// member (account events: logins, password changes, device removal, ...);
// spec.org_id is ignored.
[[nodiscard]] Status AppendAccountEvent(store::Tx& tx, const Clock& clock,
                                        std::string_view account_id, EventSpec spec);

// Every organization `account_id` is an active member of, with its policy
// (nullopt when its stored policy does not parse).
struct OrgWithPolicy {
  core::Org org;
  std::optional<protocol::RecoveryPolicy> policy;
};
[[nodiscard]] Result<std::vector<OrgWithPolicy>> ActiveMemberships(store::Tx& tx,
                                                                   std::string_view account_id);

}  // namespace keyward::core
