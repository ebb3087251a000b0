#include "core/roles.h"

#include <array>
#include <string>

#include "common/try.h"

namespace keyward::core {

namespace {

constexpr std::array<Role, 4> kRoles = {Role::kOwner, Role::kAdmin, Role::kCustom, Role::kUser};
constexpr std::array<Permission, 1> kPermissions = {Permission::kManageAccountRecovery};
constexpr std::array<MemberAction, 10> kActions = {
    MemberAction::kChangeRole,      MemberAction::kResetPassword,   MemberAction::kStartRecovery,
    MemberAction::kApproveRecovery, MemberAction::kDeclineRecovery, MemberAction::kResetTwoFactor,
    MemberAction::kRevoke,          MemberAction::kRestore,         MemberAction::kRemove,
    MemberAction::kGrantRecoveryKey};

bool IsKnownRole(Role role) {
  for (Role r : kRoles) {
    if (r == role) return true;
  }
  return false;
}

bool IsKnownAction(MemberAction action) {
  for (MemberAction a : kActions) {
    if (a == action) return true;
  }
  return false;
}

// Lower is more powerful; only meaningful for known roles.
int Rank(Role role) { return static_cast<int>(role); }

// "an owner", "an admin", "a custom member", "a user"; for messages.
std::string Described(Role role) {
  switch (role) {
    case Role::kOwner:
      return "an owner";
    case Role::kAdmin:
      return "an admin";
    case Role::kCustom:
      return "a custom member";
    case Role::kUser:
      return "a user";
  }
  return "an unknown role";
}

std::string DescribedActor(const Actor& actor) {
  std::string text = Described(actor.role);
  if (actor.role == Role::kCustom) {
    text += actor.permissions.Has(Permission::kManageAccountRecovery)
                ? " with manage_account_recovery"
                : " without manage_account_recovery";
  }
  return text;
}

Error Forbidden(std::string message) {
  return Error::PermissionDenied("org.forbidden", std::move(message));
}

Error ForbiddenOn(const Actor& actor, const Target& target, MemberAction action) {
  std::string text = DescribedActor(actor);
  text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return Forbidden(text + " may not " + std::string(MemberActionName(action)) + " " +
                   Described(target.role) + ".");
}

}  // namespace

Result<Role> ParseRole(std::string_view text) {
  for (Role r : kRoles) {
    if (RoleName(r) == text) return r;
  }
  return Fail(Error::InvalidArgument("org.invalid_role",
                                     "The role must be one of owner, admin, custom, user."));
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOwner:
      return "owner";
    case Role::kAdmin:
      return "admin";
    case Role::kCustom:
      return "custom";
    case Role::kUser:
      return "user";
  }
  return "unknown";
}

Result<Permission> ParsePermission(std::string_view text) {
  for (Permission p : kPermissions) {
    if (PermissionName(p) == text) return p;
  }
  return Fail(Error::InvalidArgument("org.invalid_permission",
                                     "The permission must be manage_account_recovery."));
}

std::string_view PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kManageAccountRecovery:
      return "manage_account_recovery";
  }
  return "unknown";
}

std::vector<Permission> Permissions::List() const {
  std::vector<Permission> out;
  for (Permission p : kPermissions) {
    if (Has(p)) out.push_back(p);
  }
  return out;
}

Result<Permissions> ParsePermissions(std::string_view comma_separated) {
  Permissions out;
  if (comma_separated.empty()) return out;
  while (true) {
    size_t comma = comma_separated.find(',');
    KW_ASSIGN_OR_RETURN(auto p, ParsePermission(comma_separated.substr(0, comma)));
    out.Add(p);
    if (comma == std::string_view::npos) return out;
    comma_separated.remove_prefix(comma + 1);
  }
}

std::string PermissionsText(const Permissions& permissions) {
  std::string out;
  for (Permission p : permissions.List()) {
    if (!out.empty()) out += ',';
    out += PermissionName(p);
  }
  return out;
}

std::string_view MemberActionName(MemberAction action) {
  switch (action) {
    case MemberAction::kChangeRole:
      return "change_role";
    case MemberAction::kResetPassword:
      return "reset_password";
    case MemberAction::kStartRecovery:
      return "start_recovery";
    case MemberAction::kApproveRecovery:
      return "approve_recovery";
    case MemberAction::kDeclineRecovery:
      return "decline_recovery";
    case MemberAction::kResetTwoFactor:
      return "reset_two_factor";
    case MemberAction::kRevoke:
      return "revoke";
    case MemberAction::kRestore:
      return "restore";
    case MemberAction::kRemove:
      return "remove";
    case MemberAction::kGrantRecoveryKey:
      return "grant_recovery_key";
  }
  return "unknown_action";
}

bool IsRecoveryAction(MemberAction action) {
  switch (action) {
    case MemberAction::kResetPassword:
    case MemberAction::kStartRecovery:
    case MemberAction::kApproveRecovery:
    case MemberAction::kDeclineRecovery:
    case MemberAction::kResetTwoFactor:
      return true;
    case MemberAction::kChangeRole:
    case MemberAction::kRevoke:
    case MemberAction::kRestore:
    case MemberAction::kRemove:
    case MemberAction::kGrantRecoveryKey:
      return false;
  }
  return false;
}

bool IsRecoveryAdmin(Role role, const Permissions& permissions) {
  switch (role) {
    case Role::kOwner:
    case Role::kAdmin:
      return true;
    case Role::kCustom:
      return permissions.Has(Permission::kManageAccountRecovery);
    case Role::kUser:
      return false;
  }
  return false;
}

Status CheckCanActOn(const Actor& actor, const Target& target, MemberAction action) {
  if (actor.user_id.empty() || target.user_id.empty()) {
    return Fail(Forbidden("The acting or the target member is not identified."));
  }
  if (actor.user_id == target.user_id) {
    return Fail(Error::PermissionDenied(
        "org.self_action", "Nobody may " + std::string(MemberActionName(action)) + " themselves."));
  }
  if (!IsKnownRole(actor.role) || !IsKnownRole(target.role) || !IsKnownAction(action)) {
    return Fail(Forbidden("The role or the action is not known."));
  }
  switch (actor.role) {
    case Role::kOwner:
      return {};
    case Role::kAdmin:
      if (target.role != Role::kOwner) return {};
      break;
    case Role::kCustom:
      if (actor.permissions.Has(Permission::kManageAccountRecovery) && IsRecoveryAction(action) &&
          Rank(target.role) >= Rank(Role::kCustom)) {
        return {};
      }
      break;
    case Role::kUser:
      break;
  }
  return Fail(ForbiddenOn(actor, target, action));
}

Status CheckCanAssignRole(const Actor& actor, const Target& target, Role new_role) {
  KW_TRY(CheckCanActOn(actor, target, MemberAction::kChangeRole));
  if (!IsKnownRole(new_role)) return Fail(Forbidden("The role is not known."));
  if (Rank(new_role) < Rank(actor.role)) {
    std::string text = Described(actor.role);
    text[0] = static_cast<char>(text[0] - 'a' + 'A');
    return Fail(Forbidden(text + " may not assign the role " + std::string(RoleName(new_role)) +
                          ", which ranks above their own."));
  }
  return {};
}

Status CheckNotLastOwner(int owners_remaining_after) {
  if (owners_remaining_after < 1) {
    return Fail(Error::Conflict("org.last_owner", "An organization must keep at least one owner."));
  }
  return {};
}

}  // namespace keyward::core
