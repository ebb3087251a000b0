#include "core/roles.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

namespace keyward::core {
namespace {

using enum Role;

constexpr std::array<Role, 4> kAllRoles = {kOwner, kAdmin, kCustom, kUser};

// The column order of the tables below.
constexpr std::array<MemberAction, 10> kAllActions = {
    MemberAction::kChangeRole,       // c
    MemberAction::kResetPassword,    // p
    MemberAction::kStartRecovery,    // s
    MemberAction::kApproveRecovery,  // a
    MemberAction::kDeclineRecovery,  // d
    MemberAction::kResetTwoFactor,   // t
    MemberAction::kRevoke,           // v
    MemberAction::kRestore,          // r
    MemberAction::kRemove,           // m
    MemberAction::kGrantRecoveryKey  // g
};

constexpr bool kPerm = true;  // the actor holds manage_account_recovery
constexpr bool kNoPerm = false;

// Not in any message: the rule's errors never name a member.
constexpr std::string_view kActorId = "acct-actor-4f1c9e";
constexpr std::string_view kTargetId = "acct-target-a27d03";

Actor MakeActor(Role role, bool has_permission, std::string_view id = kActorId) {
  Actor actor{std::string(id), role, {}};
  if (has_permission) actor.permissions.Add(Permission::kManageAccountRecovery);
  return actor;
}

// Written out by hand from docs/api.md "Organizations" (roles and hierarchy)
// and the issue; it is deliberately not derived from roles.cc. One row per (actor
// role, actor holds manage_account_recovery, target role); one character per
// action in kAllActions order: Y allowed, n refused with org.forbidden.
struct ActRow {
  Role actor;
  bool has_permission;
  Role target;
  std::string_view expected;  // c p s a d t v r m g
};

constexpr std::array<ActRow, 32> kActTable = {{
    // Owners act on anyone, for everything; the permission changes nothing.
    {kOwner, kNoPerm, kOwner, "YYYYYYYYYY"},
    {kOwner, kNoPerm, kAdmin, "YYYYYYYYYY"},
    {kOwner, kNoPerm, kCustom, "YYYYYYYYYY"},
    {kOwner, kNoPerm, kUser, "YYYYYYYYYY"},
    {kOwner, kPerm, kOwner, "YYYYYYYYYY"},
    {kOwner, kPerm, kAdmin, "YYYYYYYYYY"},
    {kOwner, kPerm, kCustom, "YYYYYYYYYY"},
    {kOwner, kPerm, kUser, "YYYYYYYYYY"},
    // Admins act on admins, custom members and users; never on owners.
    {kAdmin, kNoPerm, kOwner, "nnnnnnnnnn"},
    {kAdmin, kNoPerm, kAdmin, "YYYYYYYYYY"},
    {kAdmin, kNoPerm, kCustom, "YYYYYYYYYY"},
    {kAdmin, kNoPerm, kUser, "YYYYYYYYYY"},
    {kAdmin, kPerm, kOwner, "nnnnnnnnnn"},
    {kAdmin, kPerm, kAdmin, "YYYYYYYYYY"},
    {kAdmin, kPerm, kCustom, "YYYYYYYYYY"},
    {kAdmin, kPerm, kUser, "YYYYYYYYYY"},
    // Custom members without the permission act on nobody.
    {kCustom, kNoPerm, kOwner, "nnnnnnnnnn"},
    {kCustom, kNoPerm, kAdmin, "nnnnnnnnnn"},
    {kCustom, kNoPerm, kCustom, "nnnnnnnnnn"},
    {kCustom, kNoPerm, kUser, "nnnnnnnnnn"},
    // With it: the five recovery actions, on custom members and users only.
    {kCustom, kPerm, kOwner, "nnnnnnnnnn"},
    {kCustom, kPerm, kAdmin, "nnnnnnnnnn"},
    {kCustom, kPerm, kCustom, "nYYYYYnnnn"},
    {kCustom, kPerm, kUser, "nYYYYYnnnn"},
    // Users act on nobody, even holding a custom-role permission.
    {kUser, kNoPerm, kOwner, "nnnnnnnnnn"},
    {kUser, kNoPerm, kAdmin, "nnnnnnnnnn"},
    {kUser, kNoPerm, kCustom, "nnnnnnnnnn"},
    {kUser, kNoPerm, kUser, "nnnnnnnnnn"},
    {kUser, kPerm, kOwner, "nnnnnnnnnn"},
    {kUser, kPerm, kAdmin, "nnnnnnnnnn"},
    {kUser, kPerm, kCustom, "nnnnnnnnnn"},
    {kUser, kPerm, kUser, "nnnnnnnnnn"},
}};

// "ok" for success, so a wrong rule fails an assertion instead of reading
// error() of a value.
std::string CodeOf(const Status& s) { return s ? "ok" : s.error().code(); }
std::string MessageOf(const Status& s) { return s ? "ok" : s.error().message(); }

std::string Describe(Role actor, bool has_permission, Role target, std::string_view what) {
  return std::string(RoleName(actor)) + (has_permission ? "+perm" : "") + " -> " +
         std::string(RoleName(target)) + " : " + std::string(what);
}

TEST(RolesTableTest, CoversEveryCombinationExactlyOnce) {
  std::set<std::tuple<Role, bool, Role>> seen;
  for (const ActRow& row : kActTable) {
    EXPECT_TRUE(seen.insert({row.actor, row.has_permission, row.target}).second)
        << Describe(row.actor, row.has_permission, row.target, "duplicate row");
    EXPECT_EQ(row.expected.size(), kAllActions.size());
  }
  EXPECT_EQ(seen.size(), kAllRoles.size() * 2 * kAllRoles.size());
}

TEST(CheckCanActOnTest, FullTable) {
  int allowed = 0;
  int refused = 0;
  for (const ActRow& row : kActTable) {
    const Actor actor = MakeActor(row.actor, row.has_permission);
    const Target target{std::string(kTargetId), row.target};
    for (size_t i = 0; i < kAllActions.size(); ++i) {
      const MemberAction action = kAllActions[i];
      const std::string where =
          Describe(row.actor, row.has_permission, row.target, MemberActionName(action));
      const Status s = CheckCanActOn(actor, target, action);
      if (row.expected[i] == 'Y') {
        ++allowed;
        EXPECT_TRUE(s) << where << ": " << (s ? "" : s.error().message());
        continue;
      }
      ASSERT_EQ(row.expected[i], 'n') << where;
      ++refused;
      ASSERT_FALSE(s) << where;
      EXPECT_EQ(s.error().code(), "org.forbidden") << where;
      EXPECT_EQ(s.error().kind(), ErrorKind::kPermissionDenied) << where;
      const std::string& message = s.error().message();
      EXPECT_NE(message.find(MemberActionName(action)), std::string::npos) << where << message;
      EXPECT_NE(message.find(RoleName(row.actor)), std::string::npos) << where << message;
      EXPECT_NE(message.find(RoleName(row.target)), std::string::npos) << where << message;
      EXPECT_EQ(message.find(kActorId), std::string::npos) << where;
      EXPECT_EQ(message.find(kTargetId), std::string::npos) << where;
      EXPECT_EQ(message.find('@'), std::string::npos) << where;
    }
  }
  // 8 owner rows + 6 admin rows of 10, and 2 custom rows of 5.
  EXPECT_EQ(allowed, 150);
  EXPECT_EQ(refused, 320 - 150);
}

TEST(CheckCanActOnTest, NobodyActsOnThemselves) {
  for (Role role : kAllRoles) {
    for (bool has_permission : {kNoPerm, kPerm}) {
      const Actor actor = MakeActor(role, has_permission);
      for (MemberAction action : kAllActions) {
        // Also when the caller's view of the target's role differs (stale).
        for (Role target_role : kAllRoles) {
          const Status s = CheckCanActOn(actor, Target{std::string(kActorId), target_role}, action);
          const std::string where =
              Describe(role, has_permission, target_role, MemberActionName(action));
          ASSERT_FALSE(s) << where;
          EXPECT_EQ(s.error().code(), "org.self_action") << where;
          EXPECT_EQ(s.error().kind(), ErrorKind::kPermissionDenied) << where;
          EXPECT_EQ(s.error().message().find(kActorId), std::string::npos) << where;
        }
      }
    }
  }
}

TEST(CheckCanActOnTest, FailsClosed) {
  const Actor owner = MakeActor(kOwner, kPerm);
  const Target user{std::string(kTargetId), kUser};
  // Unidentified members.
  EXPECT_EQ(CodeOf(CheckCanActOn(MakeActor(kOwner, kPerm, ""), user, MemberAction::kRemove)),
            "org.forbidden");
  EXPECT_EQ(CodeOf(CheckCanActOn(owner, Target{"", kUser}, MemberAction::kRemove)),
            "org.forbidden");
  EXPECT_EQ(
      CodeOf(CheckCanActOn(MakeActor(kOwner, kPerm, ""), Target{"", kUser}, MemberAction::kRemove)),
      "org.forbidden");
  // Out-of-range enum values.
  EXPECT_EQ(
      CodeOf(CheckCanActOn(MakeActor(static_cast<Role>(-1), kPerm), user, MemberAction::kRemove)),
      "org.forbidden");
  EXPECT_EQ(
      CodeOf(CheckCanActOn(MakeActor(static_cast<Role>(7), kPerm), user, MemberAction::kRemove)),
      "org.forbidden");
  EXPECT_EQ(CodeOf(CheckCanActOn(owner, Target{std::string(kTargetId), static_cast<Role>(7)},
                                 MemberAction::kRemove)),
            "org.forbidden");
  EXPECT_EQ(CodeOf(CheckCanActOn(owner, user, static_cast<MemberAction>(99))), "org.forbidden");
}

TEST(CheckCanActOnTest, MessagesReadWell) {
  const Target owner{std::string(kTargetId), kOwner};
  const Target admin{std::string(kTargetId), kAdmin};
  const Target user{std::string(kTargetId), kUser};
  EXPECT_EQ(
      MessageOf(CheckCanActOn(MakeActor(kAdmin, kNoPerm), owner, MemberAction::kResetPassword)),
      "An admin may not reset_password an owner.");
  EXPECT_EQ(
      MessageOf(CheckCanActOn(MakeActor(kCustom, kPerm), admin, MemberAction::kApproveRecovery)),
      "A custom member with manage_account_recovery may not approve_recovery an admin.");
  EXPECT_EQ(
      MessageOf(CheckCanActOn(MakeActor(kCustom, kNoPerm), user, MemberAction::kStartRecovery)),
      "A custom member without manage_account_recovery may not start_recovery a user.");
  EXPECT_EQ(MessageOf(CheckCanActOn(MakeActor(kUser, kNoPerm), user, MemberAction::kRemove)),
            "A user may not remove a user.");
}

// One row per (actor role, actor holds the permission, target's current
// role); one character per new role in owner, admin, custom, user order.
struct AssignRow {
  Role actor;
  bool has_permission;
  Role target;
  std::string_view expected;  // owner admin custom user
};

constexpr std::array<Role, 4> kAssignColumns = {kOwner, kAdmin, kCustom, kUser};

constexpr std::array<AssignRow, 32> kAssignTable = {{
    // Only owners make owners; owners may also demote other owners (the
    // last-owner check is the store's, with CheckNotLastOwner).
    {kOwner, kNoPerm, kOwner, "YYYY"},
    {kOwner, kNoPerm, kAdmin, "YYYY"},
    {kOwner, kNoPerm, kCustom, "YYYY"},
    {kOwner, kNoPerm, kUser, "YYYY"},
    {kOwner, kPerm, kOwner, "YYYY"},
    {kOwner, kPerm, kAdmin, "YYYY"},
    {kOwner, kPerm, kCustom, "YYYY"},
    {kOwner, kPerm, kUser, "YYYY"},
    // Admins: never on owners, never make owners.
    {kAdmin, kNoPerm, kOwner, "nnnn"},
    {kAdmin, kNoPerm, kAdmin, "nYYY"},
    {kAdmin, kNoPerm, kCustom, "nYYY"},
    {kAdmin, kNoPerm, kUser, "nYYY"},
    {kAdmin, kPerm, kOwner, "nnnn"},
    {kAdmin, kPerm, kAdmin, "nYYY"},
    {kAdmin, kPerm, kCustom, "nYYY"},
    {kAdmin, kPerm, kUser, "nYYY"},
    // Custom members (with or without the permission) and users: never.
    {kCustom, kNoPerm, kOwner, "nnnn"},
    {kCustom, kNoPerm, kAdmin, "nnnn"},
    {kCustom, kNoPerm, kCustom, "nnnn"},
    {kCustom, kNoPerm, kUser, "nnnn"},
    {kCustom, kPerm, kOwner, "nnnn"},
    {kCustom, kPerm, kAdmin, "nnnn"},
    {kCustom, kPerm, kCustom, "nnnn"},
    {kCustom, kPerm, kUser, "nnnn"},
    {kUser, kNoPerm, kOwner, "nnnn"},
    {kUser, kNoPerm, kAdmin, "nnnn"},
    {kUser, kNoPerm, kCustom, "nnnn"},
    {kUser, kNoPerm, kUser, "nnnn"},
    {kUser, kPerm, kOwner, "nnnn"},
    {kUser, kPerm, kAdmin, "nnnn"},
    {kUser, kPerm, kCustom, "nnnn"},
    {kUser, kPerm, kUser, "nnnn"},
}};

TEST(CheckCanAssignRoleTest, FullTable) {
  std::set<std::tuple<Role, bool, Role>> seen;
  int allowed = 0;
  for (const AssignRow& row : kAssignTable) {
    EXPECT_TRUE(seen.insert({row.actor, row.has_permission, row.target}).second);
    ASSERT_EQ(row.expected.size(), kAssignColumns.size());
    const Actor actor = MakeActor(row.actor, row.has_permission);
    const Target target{std::string(kTargetId), row.target};
    for (size_t i = 0; i < kAssignColumns.size(); ++i) {
      const Role new_role = kAssignColumns[i];
      const std::string where = Describe(row.actor, row.has_permission, row.target,
                                         "make " + std::string(RoleName(new_role)));
      const Status s = CheckCanAssignRole(actor, target, new_role);
      if (row.expected[i] == 'Y') {
        ++allowed;
        EXPECT_TRUE(s) << where << ": " << (s ? "" : s.error().message());
        continue;
      }
      ASSERT_EQ(row.expected[i], 'n') << where;
      ASSERT_FALSE(s) << where;
      EXPECT_EQ(s.error().code(), "org.forbidden") << where;
      EXPECT_EQ(s.error().kind(), ErrorKind::kPermissionDenied) << where;
      EXPECT_EQ(s.error().message().find(kActorId), std::string::npos) << where;
      EXPECT_EQ(s.error().message().find(kTargetId), std::string::npos) << where;
    }
  }
  EXPECT_EQ(seen.size(), 32u);
  EXPECT_EQ(allowed, 8 * 4 + 6 * 3);
}

TEST(CheckCanAssignRoleTest, SelfAndMessages) {
  for (Role role : kAllRoles) {
    for (Role new_role : kAllRoles) {
      const Status s =
          CheckCanAssignRole(MakeActor(role, kPerm), Target{std::string(kActorId), role}, new_role);
      ASSERT_FALSE(s);
      EXPECT_EQ(s.error().code(), "org.self_action");
    }
  }
  EXPECT_EQ(MessageOf(CheckCanAssignRole(MakeActor(kAdmin, kNoPerm),
                                         Target{std::string(kTargetId), kUser}, kOwner)),
            "An admin may not assign the role owner, which ranks above their own.");
  EXPECT_EQ(CodeOf(CheckCanAssignRole(MakeActor(kOwner, kNoPerm),
                                      Target{std::string(kTargetId), kUser}, static_cast<Role>(9))),
            "org.forbidden");
}

TEST(CheckNotLastOwnerTest, KeepsOne) {
  EXPECT_TRUE(CheckNotLastOwner(1));
  EXPECT_TRUE(CheckNotLastOwner(3));
  for (int n : {0, -1}) {
    const Status s = CheckNotLastOwner(n);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), "org.last_owner");
    EXPECT_EQ(s.error().kind(), ErrorKind::kConflict);
  }
}

TEST(IsRecoveryAdminTest, Table) {
  const Permissions none;
  const Permissions manage{Permission::kManageAccountRecovery};
  EXPECT_TRUE(IsRecoveryAdmin(kOwner, none));
  EXPECT_TRUE(IsRecoveryAdmin(kOwner, manage));
  EXPECT_TRUE(IsRecoveryAdmin(kAdmin, none));
  EXPECT_TRUE(IsRecoveryAdmin(kAdmin, manage));
  EXPECT_FALSE(IsRecoveryAdmin(kCustom, none));
  EXPECT_TRUE(IsRecoveryAdmin(kCustom, manage));
  EXPECT_FALSE(IsRecoveryAdmin(kUser, none));
  EXPECT_FALSE(IsRecoveryAdmin(kUser, manage));
  EXPECT_FALSE(IsRecoveryAdmin(static_cast<Role>(7), manage));
}

TEST(MemberActionTest, NamesAndRecoveryActions) {
  struct Row {
    MemberAction action;
    std::string_view name;
    bool recovery;
  };
  constexpr std::array<Row, 10> kRows = {{
      {MemberAction::kChangeRole, "change_role", false},
      {MemberAction::kResetPassword, "reset_password", true},
      {MemberAction::kStartRecovery, "start_recovery", true},
      {MemberAction::kApproveRecovery, "approve_recovery", true},
      {MemberAction::kDeclineRecovery, "decline_recovery", true},
      {MemberAction::kResetTwoFactor, "reset_two_factor", true},
      {MemberAction::kRevoke, "revoke", false},
      {MemberAction::kRestore, "restore", false},
      {MemberAction::kRemove, "remove", false},
      {MemberAction::kGrantRecoveryKey, "grant_recovery_key", false},
  }};
  for (const Row& row : kRows) {
    EXPECT_EQ(MemberActionName(row.action), row.name);
    EXPECT_EQ(IsRecoveryAction(row.action), row.recovery) << row.name;
  }
}

TEST(RoleTest, ParseAndNameRoundTrip) {
  const std::array<std::pair<Role, std::string_view>, 4> rows = {
      {{kOwner, "owner"}, {kAdmin, "admin"}, {kCustom, "custom"}, {kUser, "user"}}};
  for (const auto& [role, name] : rows) {
    EXPECT_EQ(RoleName(role), name);
    auto parsed = ParseRole(name);
    ASSERT_TRUE(parsed) << name;
    EXPECT_EQ(*parsed, role);
  }
}

TEST(RoleTest, ParseRejects) {
  for (std::string_view bad :
       {"", "Owner", "ADMIN", " user", "user ", "users", "manager", "custom:manage", "0"}) {
    auto parsed = ParseRole(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), "org.invalid_role");
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kInvalidArgument);
  }
  // The input is not echoed.
  auto boss = ParseRole("boss@example.com");
  ASSERT_FALSE(boss);
  EXPECT_EQ(boss.error().message().find("boss"), std::string::npos);
}

TEST(PermissionTest, ParseAndName) {
  EXPECT_EQ(PermissionName(Permission::kManageAccountRecovery), "manage_account_recovery");
  auto p = ParsePermission("manage_account_recovery");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, Permission::kManageAccountRecovery);
  for (std::string_view bad : {"", "Manage_Account_Recovery", "manage-account-recovery",
                               "manage_account_recovery ", "admin"}) {
    auto parsed = ParsePermission(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), "org.invalid_permission");
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(PermissionsTest, SetOperations) {
  Permissions set;
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.Has(Permission::kManageAccountRecovery));
  set.Add(Permission::kManageAccountRecovery);
  EXPECT_FALSE(set.empty());
  EXPECT_TRUE(set.Has(Permission::kManageAccountRecovery));
  set.Add(Permission::kManageAccountRecovery);  // idempotent
  EXPECT_EQ(set, Permissions{Permission::kManageAccountRecovery});
  EXPECT_EQ(set.List(), std::vector<Permission>{Permission::kManageAccountRecovery});
  set.Remove(Permission::kManageAccountRecovery);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set, Permissions{});
  EXPECT_TRUE(set.List().empty());
}

TEST(PermissionsTest, TextRoundTrip) {
  auto empty = ParsePermissions("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(PermissionsText(*empty), "");

  auto one = ParsePermissions("manage_account_recovery");
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, Permissions{Permission::kManageAccountRecovery});
  EXPECT_EQ(PermissionsText(*one), "manage_account_recovery");

  auto twice = ParsePermissions("manage_account_recovery,manage_account_recovery");
  ASSERT_TRUE(twice);
  EXPECT_EQ(PermissionsText(*twice), "manage_account_recovery");

  for (std::string_view bad :
       {",", "manage_account_recovery,", ",manage_account_recovery",
        "manage_account_recovery,,manage_account_recovery", "manage_account_recovery, admin",
        "manage_account_recovery;manage_account_recovery", "everything"}) {
    auto parsed = ParsePermissions(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code(), "org.invalid_permission") << bad;
  }
}

}  // namespace
}  // namespace keyward::core
