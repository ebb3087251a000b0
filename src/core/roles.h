// Organization roles, custom-role permissions, and the member hierarchy: who
// may act on whom (docs/api.md "Organizations": roles and hierarchy
// refusals). Pure rules: no store, no I/O, no clock.
//
// THE RULE (CheckCanActOn; rank: owner > admin > custom > user)
//
//   1. Nobody acts on themselves (same user id): org.self_action, whatever
//      the roles and the action. Stepping down or leaving an organization is
//      a different operation, not a MemberAction.
//   2. An owner acts on anyone (owners, admins, custom members, users), for
//      every action.
//   3. An admin acts on admins, custom members and users, for every action;
//      never on an owner.
//   4. A custom member WITH manage_account_recovery acts on custom members and
//      users, and only for the recovery actions (IsRecoveryAction: reset
//      password, start / approve / decline recovery, reset two-step login).
//      Never on owners or admins; never for role changes, revoke, restore,
//      remove or recovery key grants.
//   5. A custom member without the permission, and a user, act on nobody.
//   6. Permissions count only for the custom role: an owner or admin is not
//      narrowed by lacking them, a user is not widened by holding them.
//   Anything else (an empty user id, an out-of-range enum value) is refused.
//   Refusals are org.forbidden (kPermissionDenied) with a message naming the
//   roles and the action, never a user id or an email.
//
// ROLE CHANGES (CheckCanAssignRole) need the kChangeRole rule above on the
// target's current role, and also: nobody assigns a role above their own.
// An owner assigns any role (only owners make owners); an admin assigns
// admin, custom or user.
//
// NOT THIS FILE'S JOB
//   - The last owner. Demoting or removing another owner passes here; the
//     store, which knows how many owners there are, must refuse any change
//     that would leave the organization without one, inside the transaction
//     that makes it, with CheckNotLastOwner(owners remaining after).
//   - Whether the target of kGrantRecoveryKey is (becoming) a recovery admin,
//     whether the target is enrolled, policy mode (admin-reset), quorum, and
//     organization membership of both sides: checked by their callers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace keyward::core {

// Ordered from the most to the least powerful.
enum class Role { kOwner, kAdmin, kCustom, kUser };

// "owner", "admin", "custom", "user"; anything else (including other case) is
// org.invalid_role (kInvalidArgument).
[[nodiscard]] Result<Role> ParseRole(std::string_view text);
std::string_view RoleName(Role role);

// Named permissions of the custom role. Append new ones at the end (the set
// stores them as bits).
enum class Permission : std::uint8_t { kManageAccountRecovery };

// "manage_account_recovery"; anything else is org.invalid_permission.
[[nodiscard]] Result<Permission> ParsePermission(std::string_view text);
std::string_view PermissionName(Permission permission);

// A set of Permission values; a value type.
class Permissions {
 public:
  constexpr Permissions() = default;
  constexpr Permissions(std::initializer_list<Permission> permissions) {
    for (Permission p : permissions) Add(p);
  }

  constexpr bool Has(Permission p) const { return (bits_ & Bit(p)) != 0; }
  constexpr void Add(Permission p) { bits_ |= Bit(p); }
  constexpr void Remove(Permission p) { bits_ &= ~Bit(p); }
  constexpr bool empty() const { return bits_ == 0; }

  // In declaration order of Permission.
  std::vector<Permission> List() const;

  friend constexpr bool operator==(const Permissions&, const Permissions&) = default;

 private:
  static constexpr std::uint32_t Bit(Permission p) {
    return std::uint32_t{1} << static_cast<unsigned>(p);
  }
  std::uint32_t bits_ = 0;
};

// Comma-separated names without spaces; "" is the empty set, duplicates are
// allowed. An unknown or empty name is org.invalid_permission.
[[nodiscard]] Result<Permissions> ParsePermissions(std::string_view comma_separated);
// The canonical form: names in declaration order, comma-separated.
std::string PermissionsText(const Permissions& permissions);

enum class MemberAction {
  kChangeRole,
  kResetPassword,
  kStartRecovery,
  kApproveRecovery,
  kDeclineRecovery,
  kResetTwoFactor,
  kRevoke,
  kRestore,
  kRemove,
  kGrantRecoveryKey,
};

// "change_role", "reset_password", ..., "grant_recovery_key": used in error
// messages and logs.
std::string_view MemberActionName(MemberAction action);

// Reset password, start / approve / decline recovery, reset two-step login:
// the actions manage_account_recovery allows.
bool IsRecoveryAction(MemberAction action);

// Owner, admin, or custom with manage_account_recovery.
bool IsRecoveryAdmin(Role role, const Permissions& permissions);

struct Actor {
  std::string user_id;
  Role role = Role::kUser;
  Permissions permissions;
};

struct Target {
  std::string user_id;
  Role role = Role::kUser;
};

// The rule at the top of this file. org.self_action or org.forbidden, both
// kPermissionDenied.
[[nodiscard]] Status CheckCanActOn(const Actor& actor, const Target& target, MemberAction action);

// CheckCanActOn(actor, target, kChangeRole), then new_role must not rank above
// the actor's role (org.forbidden).
[[nodiscard]] Status CheckCanAssignRole(const Actor& actor, const Target& target, Role new_role);

// For the store: an organization keeps at least one owner. Refuses (org.last_owner,
// kConflict) when owners_remaining_after < 1.
[[nodiscard]] Status CheckNotLastOwner(int owners_remaining_after);

}  // namespace keyward::core
