#include "core/org_members.h"

#include "core/org_test_fixture.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;

class MembersTest : public OrgTest {
 protected:
  MembersTest() : owner_(MakePerson("owner@example.com", 1)), org_(NewOrgOf(owner_)) {}

  Result<core::OrgInvite> Invite(const Person& by, const std::string& email,
                                 const std::string& role, const std::string& permissions = "") {
    return core().members.Invite(by.caller(), org_.id, {email, role, permissions});
  }

  Person owner_;
  TestOrg org_;
};

// ---- invites and joining ----

TEST_F(MembersTest, InviteEmailsTheJoinCommandAndTheSigningKeyFingerprint) {
  Person bob = MakePerson("bob@example.com", 2);
  auto invite = Invite(owner_, "  Bob@Example.COM ", "admin");
  ASSERT_OK(invite);
  EXPECT_EQ(invite->email, "bob@example.com");
  EXPECT_EQ(invite->role, "admin");
  EXPECT_EQ(invite->expires_at, Now() + 7 * 86400);
  auto mail = LastMailTo("bob@example.com");
  ASSERT_TRUE(mail);
  const std::string token = InviteToken("bob@example.com");
  ASSERT_EQ(token.size(), 43u);  // 32 bytes, base64url
  // The exact command of the README: the token and the signing key's
  // fingerprint as keyward org join --fingerprint compares it.
  EXPECT_NE(mail->body.find("\nkeyward org join " + token + " --fingerprint \"" +
                            crypto::Fingerprint(org_.signer.public_key) + "\"\n"),
            std::string::npos)
      << mail->body;
  // Nothing a user typed goes into the subject.
  EXPECT_EQ(mail->subject, "You are invited to an organization on Keyward");
  // The token is not what the store keeps.
  ASSERT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
    auto bytes = crypto::Base64UrlDecode(token).value();
    KW_ASSIGN_OR_RETURN(auto row, tx.FindInviteByTokenHash(bytes));
    EXPECT_FALSE(row.has_value());
    KW_ASSIGN_OR_RETURN(row, tx.FindInviteByTokenHash(HashInviteToken(core().context(), bytes)));
    EXPECT_TRUE(row.has_value());
    return {};
  }));

  auto info = core().members.LookupInvite(bob.caller(), token);
  ASSERT_OK(info);
  EXPECT_EQ(info->invite.id, invite->id);
  EXPECT_EQ(info->org_name, "Acme");
  ASSERT_EQ(info->statements.size(), 1u);
  // What the client does with it: pin on first use, verify the chain.
  auto st = protocol::DecodeOrgStatement(info->statements[0].statement).value();
  auto pin = protocol::PinOnFirstUse(org_.id, st.signing_public_key).value();
  ASSERT_OK(protocol::VerifyOrgStatement(
      {info->statements[0].statement, info->statements[0].signature}, pin, Now()));

  auto joined = core().members.AcceptInvite(bob.caller(), token, std::nullopt);
  ASSERT_OK(joined);
  EXPECT_EQ(joined->me.role, "admin");
  EXPECT_EQ(joined->org.id, org_.id);
  EXPECT_EQ(EventTypes(org_),
            (std::vector<std::string>{"org.created", "member.invited", "member.joined"}));
  auto events = Events(org_);
  EXPECT_EQ(events[1].actor_id, owner_.id);
  EXPECT_EQ(events[1].target_id, "");
  EXPECT_EQ(events[1].details.at("invite_id"), invite->id);
  EXPECT_EQ(events[2].actor_id, bob.id);
  EXPECT_EQ(events[2].details.at("role"), "admin");
  for (const auto& e : events) {
    for (const auto& [k, v] : e.details) EXPECT_EQ(v.find('@'), std::string::npos) << k;
  }
  ExpectChainVerifies(org_);

  // Single use.
  EXPECT_ERROR(core().members.LookupInvite(bob.caller(), token), "invite.not_found");
  EXPECT_ERROR(core().members.AcceptInvite(bob.caller(), token, std::nullopt), "invite.not_found");
}

TEST_F(MembersTest, InviteTokensAreBoundToTheEmailAndExpire) {
  Person bob = MakePerson("bob@example.com", 2);
  Person eve = MakePerson("eve@example.com", 3);
  ASSERT_OK(Invite(owner_, "bob@example.com", "user"));
  const std::string token = InviteToken("bob@example.com");
  // Another account holding the token gets the same answer as for garbage.
  EXPECT_ERROR(core().members.LookupInvite(eve.caller(), token), "invite.not_found");
  EXPECT_ERROR(core().members.AcceptInvite(eve.caller(), token, std::nullopt), "invite.not_found");
  EXPECT_ERROR(core().members.AcceptInvite(bob.caller(), "garbage", std::nullopt),
               "invite.not_found");
  EXPECT_ERROR(core().members.AcceptInvite(bob.caller(), std::string(43, 'A'), std::nullopt),
               "invite.not_found");

  clock_.Advance(7 * 86400);
  EXPECT_ERROR(core().members.LookupInvite(bob.caller(), token), "invite.not_found");
  EXPECT_ERROR(core().members.AcceptInvite(bob.caller(), token, std::nullopt), "invite.not_found");
  EXPECT_EQ(EventTypes(org_), (std::vector<std::string>{"org.created", "member.invited"}));

  // An invitation to an address without an account yet works once it exists.
  ASSERT_OK(Invite(owner_, "carol@example.com", "user"));
  const std::string carol_token = InviteToken("carol@example.com");
  Person carol = MakePerson("carol@example.com", 4);
  ASSERT_OK(core().members.AcceptInvite(carol.caller(), carol_token, std::nullopt));
}

TEST_F(MembersTest, InviteRules) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  Person custom = Join(org_, owner_, "custom@example.com", 3, "custom", "manage_account_recovery");
  Person plain_custom = Join(org_, owner_, "plain@example.com", 4, "custom");
  Person user = Join(org_, owner_, "user@example.com", 5, "user");
  const uint64_t seq = LastSeq(org_);

  EXPECT_ERROR(Invite(admin, "x@example.com", "owner"), "org.forbidden");
  EXPECT_ERROR(Invite(custom, "x@example.com", "admin"), "org.forbidden");
  EXPECT_ERROR(Invite(plain_custom, "x@example.com", "user"), "org.forbidden");
  EXPECT_ERROR(Invite(user, "x@example.com", "user"), "org.forbidden");
  EXPECT_ERROR(Invite(owner_, "x@example.com", "boss"), "org.invalid_role");
  EXPECT_ERROR(Invite(owner_, "x@example.com", "custom", "fly"), "org.invalid_permission");
  EXPECT_ERROR(Invite(owner_, "not an email", "user"), "account.invalid_email");
  EXPECT_ERROR(Invite(owner_, "USER@example.com", "user"), "org.already_member");
  EXPECT_EQ(LastSeq(org_), seq);

  ASSERT_OK(Invite(owner_, "o2@example.com", "owner"));
  ASSERT_OK(Invite(admin, "a2@example.com", "admin"));
  ASSERT_OK(Invite(custom, "c2@example.com", "custom", "manage_account_recovery"));
  auto u2 = Invite(custom, "u2@example.com", "user", "manage_account_recovery");
  ASSERT_OK(u2);
  EXPECT_EQ(u2->permissions, "");  // permissions count only for the custom role
  EXPECT_EQ(LastSeq(org_), seq + 4);

  // Open invites are listed for recovery admins.
  auto list = core().members.List(custom.caller(), org_.id);
  ASSERT_OK(list);
  EXPECT_EQ(list->invites.size(), 4u);
  EXPECT_EQ(list->members.size(), 5u);
  EXPECT_ERROR(core().members.List(user.caller(), org_.id), "org.forbidden");
  EXPECT_ERROR(core().members.List(plain_custom.caller(), org_.id), "org.forbidden");
}

// Mail down: the invite is stored with its email queued (one transaction);
// the email goes out once mail is back, and its token works.
TEST_F(MembersTest, AnInviteMailedWhileMailIsDownArrivesOnceItIsBack) {
  const uint64_t seq = LastSeq(org_);
  mailer_.SetFailing(true);
  ASSERT_OK(Invite(owner_, "bob@example.com", "user"));
  EXPECT_EQ(LastSeq(org_), seq + 1);
  EXPECT_EQ(InviteToken("bob@example.com"), "");
  auto depth = core().mail().Depth();
  ASSERT_OK(depth);
  EXPECT_EQ(depth->messages, 1);
  mailer_.SetFailing(false);
  // Retried after its back-off, not before.
  ASSERT_OK(core().mail().DeliverDue());
  EXPECT_EQ(InviteToken("bob@example.com"), "");
  clock_.Advance(MailQueue::kFirstRetrySeconds);
  core().mail().DeliverAll();
  const std::string token = InviteToken("bob@example.com");
  ASSERT_NE(token, "");
  Person bob = MakePerson("bob@example.com", 4);
  EXPECT_OK(core().members.AcceptInvite(bob.caller(), token, std::nullopt));
  depth = core().mail().Depth();
  ASSERT_OK(depth);
  EXPECT_EQ(depth->messages, 0);
}

TEST_F(MembersTest, MembersListShowsEnrollmentAndGrants) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  Person bob = Join(org_, owner_, "bob@example.com", 3, "user");
  ASSERT_OK(Enroll(org_, bob, 1));
  auto list = core().members.List(admin.caller(), org_.id);
  ASSERT_OK(list);
  ASSERT_EQ(list->members.size(), 3u);
  std::map<std::string, MemberView> by_email;
  for (const auto& m : list->members) by_email[m.email] = m;
  EXPECT_TRUE(by_email["owner@example.com"].recovery_admin);
  EXPECT_EQ(by_email["owner@example.com"].grant_key_version, 1u);
  EXPECT_TRUE(by_email["admin@example.com"].recovery_admin);
  EXPECT_EQ(by_email["admin@example.com"].grant_key_version, 0u);
  EXPECT_FALSE(by_email["bob@example.com"].recovery_admin);
  EXPECT_TRUE(by_email["bob@example.com"].enrollment.enrolled);
  EXPECT_EQ(by_email["bob@example.com"].enrollment.epoch, 1u);
  EXPECT_EQ(by_email["bob@example.com"].member.account_id, bob.id);
  EXPECT_EQ(by_email["bob@example.com"].public_key.size(), 32u);
}

// The list's store work does not grow with the organization (issue 16:
// a list in a constant number of statements): the same calls, in the same
// order, for 3 members (one enrolled) as for 13 (eleven enrolled).
TEST_F(MembersTest, MembersListDoesTheSameStoreWorkWhateverTheOrganizationsSize) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  Person bob = Join(org_, owner_, "bob@example.com", 3, "user");
  ASSERT_OK(Enroll(org_, bob, 1));
  auto work = [&] {
    counting_->Start();
    auto list = core().members.List(admin.caller(), org_.id);
    EXPECT_OK(list);
    return std::make_pair(counting_->Trace(), list ? list->members.size() : 0);
  };
  const auto [small, small_count] = work();
  for (uint8_t i = 0; i < 10; ++i) {
    Person p = Join(org_, owner_, "m" + std::to_string(i) + "@example.com", 10 + i, "user");
    ASSERT_OK(Enroll(org_, p, 1));
  }
  const auto [large, large_count] = work();
  EXPECT_EQ(small_count, 3u);
  EXPECT_EQ(large_count, 13u);
  EXPECT_EQ(small, large);
  EXPECT_LE(small.size(), 10u);
}

TEST_F(MembersTest, AlreadyMembersCannotJoinAgain) {
  Person bob = Join(org_, owner_, "bob@example.com", 2, "user");
  EXPECT_ERROR(Invite(owner_, "bob@example.com", "admin"), "org.already_member");
  // An invitation sent before bob joined by another one.
  Person carol = MakePerson("carol@example.com", 3);
  ASSERT_OK(Invite(owner_, "carol@example.com", "user"));
  const std::string first = InviteToken("carol@example.com");
  ASSERT_OK(Invite(owner_, "carol@example.com", "admin"));
  const std::string second = InviteToken("carol@example.com");
  ASSERT_OK(core().members.AcceptInvite(carol.caller(), first, std::nullopt));
  EXPECT_ERROR(core().members.AcceptInvite(carol.caller(), second, std::nullopt),
               "org.already_member");
}

TEST_F(MembersTest, JoiningAMandatoryOrganizationEnrollsInTheSameTransaction) {
  auto policy = MakePolicy(Enrollment::kMandatory);
  TestOrg org = NewOrgOf(owner_, policy, "strict");
  Person bob = MakePerson("bob@example.com", 2);
  ASSERT_OK(core().members.Invite(owner_.caller(), org.id, {"bob@example.com", "user", ""}));
  const std::string token = InviteToken("bob@example.com");
  const uint64_t seq = LastSeq(org);
  EXPECT_ERROR(core().members.AcceptInvite(bob.caller(), token, std::nullopt),
               "org.enrollment_required");
  // A bad escrow (another epoch inside) fails the join as a whole.
  auto wrong = Escrow(org, bob, 1);
  wrong.server_share = Escrow(org, bob, 2).server_share;
  EXPECT_ERROR(core().members.AcceptInvite(bob.caller(), token, wrong), "escrow.invalid");
  EXPECT_FALSE(StoredMember(org, bob));
  EXPECT_EQ(LastSeq(org), seq);

  auto joined = core().members.AcceptInvite(bob.caller(), token, Escrow(org, bob, 1));
  ASSERT_OK(joined);
  EXPECT_TRUE(joined->enrollment.enrolled);
  EXPECT_EQ(joined->enrollment.epoch, 1u);
  EXPECT_EQ(EventTypes(org, seq), (std::vector<std::string>{"member.joined", "recovery.enrolled"}));
  ASSERT_TRUE(StoredEscrow(org, bob));
  ExpectChainVerifies(org);
}

TEST_F(MembersTest, OptionalEnrollmentAtJoinAndNoneWhenDisabled) {
  Person bob = MakePerson("bob@example.com", 2);
  ASSERT_OK(Invite(owner_, "bob@example.com", "user"));
  auto joined = core().members.AcceptInvite(bob.caller(), InviteToken("bob@example.com"),
                                            Escrow(org_, bob, 1));
  ASSERT_OK(joined);
  EXPECT_TRUE(joined->enrollment.enrolled);

  TestOrg off = NewOrgOf(owner_, MakePolicy(Enrollment::kDisabled), "off");
  Person carol = MakePerson("carol@example.com", 3);
  ASSERT_OK(core().members.Invite(owner_.caller(), off.id, {"carol@example.com", "user", ""}));
  const std::string token = InviteToken("carol@example.com");
  EXPECT_ERROR(core().members.AcceptInvite(carol.caller(), token, Escrow(off, carol, 1)),
               "org.enrollment_disabled");
  ASSERT_OK(core().members.AcceptInvite(carol.caller(), token, std::nullopt));
}

// ---- roles ----

TEST_F(MembersTest, RoleChangesFollowTheHierarchy) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  Person admin2 = Join(org_, owner_, "admin2@example.com", 3, "admin");
  Person custom = Join(org_, owner_, "custom@example.com", 4, "custom", "manage_account_recovery");
  Person user = Join(org_, owner_, "user@example.com", 5, "user");
  auto change = [&](const Person& by, const Person& target, std::string role,
                    std::string permissions = "") {
    return core().members.ChangeRole(by.caller(), org_.id, target.id, role, permissions,
                                     std::nullopt);
  };
  const uint64_t seq = LastSeq(org_);
  EXPECT_ERROR(change(admin, owner_, "user"), "org.forbidden");
  EXPECT_ERROR(change(admin, user, "owner"), "org.forbidden");
  EXPECT_ERROR(change(custom, user, "custom"), "org.forbidden");
  EXPECT_ERROR(change(user, custom, "user"), "org.forbidden");
  EXPECT_ERROR(change(admin, admin, "user"), "org.self_action");
  EXPECT_ERROR(change(owner_, owner_, "admin"), "org.self_action");
  EXPECT_ERROR(change(owner_, user, "king"), "org.invalid_role");
  EXPECT_ERROR(change(owner_, user, "custom", "nope"), "org.invalid_permission");
  EXPECT_ERROR(
      core().members.ChangeRole(owner_.caller(), org_.id, NewAccountId(), "user", "", std::nullopt),
      "org.member_not_found");
  EXPECT_ERROR(
      core().members.ChangeRole(owner_.caller(), org_.id, "not-an-id", "user", "", std::nullopt),
      "org.member_not_found");
  EXPECT_EQ(LastSeq(org_), seq);

  ASSERT_OK(change(admin, admin2, "user"));
  ASSERT_OK(change(admin, user, "admin"));
  ASSERT_OK(change(owner_, custom, "owner"));
  EXPECT_EQ(StoredMember(org_, custom)->role, "owner");
  EXPECT_EQ(StoredMember(org_, custom)->permissions, "");
  EXPECT_EQ(EventTypes(org_, seq),
            (std::vector<std::string>{"member.role_changed", "member.role_changed",
                                      "member.role_changed"}));
  auto events = Events(org_, "member.role_changed");
  EXPECT_EQ(events.back().details.at("from_role"), "custom");
  EXPECT_EQ(events.back().details.at("role"), "owner");
  EXPECT_EQ(events.back().actor_id, owner_.id);
  EXPECT_EQ(events.back().target_id, custom.id);
  // The member is told.
  auto mail = LastMailTo("custom@example.com");
  ASSERT_TRUE(mail);
  EXPECT_NE(mail->body.find("owner"), std::string::npos);

  // Two owners: one may demote the other; the one left is never demoted by
  // an admin nor by themself, so the organization keeps an owner.
  ASSERT_OK(change(custom, owner_, "admin"));
  EXPECT_ERROR(change(user, custom, "admin"), "org.forbidden");
  EXPECT_ERROR(change(custom, custom, "admin"), "org.self_action");
  ExpectChainVerifies(org_);
}

TEST_F(MembersTest, LosingRecoveryAdminRightsRemovesGrants) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  ASSERT_OK(core().members.Grant(owner_.caller(), org_.id, admin.id, SomeGrant(1, true)));
  ASSERT_EQ(StoredGrants(org_, admin).size(), 1u);

  // admin -> custom with the permission: keeps the recovery key, not the
  // signing key.
  uint64_t seq = LastSeq(org_);
  ASSERT_OK(core().members.ChangeRole(owner_.caller(), org_.id, admin.id, "custom",
                                      "manage_account_recovery", std::nullopt));
  auto grants = StoredGrants(org_, admin);
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_FALSE(grants[0].recovery_grant.empty());
  EXPECT_TRUE(grants[0].signing_grant.empty());
  EXPECT_EQ(EventTypes(org_, seq),
            (std::vector<std::string>{"member.role_changed", "key.grant_removed"}));

  // custom -> user: no recovery key any more.
  seq = LastSeq(org_);
  ASSERT_OK(
      core().members.ChangeRole(owner_.caller(), org_.id, admin.id, "user", "", std::nullopt));
  EXPECT_TRUE(StoredGrants(org_, admin).empty());
  EXPECT_EQ(EventTypes(org_, seq),
            (std::vector<std::string>{"member.role_changed", "key.grant_removed"}));
  auto removed = Events(org_, "key.grant_removed");
  EXPECT_EQ(removed.back().target_id, admin.id);

  // A grant only goes to a recovery admin.
  EXPECT_ERROR(
      core().members.ChangeRole(owner_.caller(), org_.id, admin.id, "user", "", SomeGrant()),
      "org.not_recovery_admin");
  EXPECT_ERROR(core().members.ChangeRole(owner_.caller(), org_.id, admin.id, "custom",
                                         "manage_account_recovery", SomeGrant(1, true)),
               "request.invalid_field");  // a signing grant for a custom member
  EXPECT_ERROR(
      core().members.ChangeRole(owner_.caller(), org_.id, admin.id, "admin", "", SomeGrant(2)),
      "org.key_version_mismatch");
  EXPECT_EQ(StoredMember(org_, admin)->role, "user");

  // Promotion with a grant: one transaction, two events.
  seq = LastSeq(org_);
  ASSERT_OK(core().members.ChangeRole(owner_.caller(), org_.id, admin.id, "admin", "",
                                      SomeGrant(1, true)));
  EXPECT_EQ(StoredGrants(org_, admin).size(), 1u);
  EXPECT_EQ(EventTypes(org_, seq),
            (std::vector<std::string>{"member.role_changed", "key.granted"}));
  ExpectChainVerifies(org_);
}

TEST_F(MembersTest, GrantsGoToRecoveryAdminsAtTheCurrentKeyVersion) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  Person custom = Join(org_, owner_, "custom@example.com", 3, "custom", "manage_account_recovery");
  Person user = Join(org_, owner_, "user@example.com", 4, "user");
  EXPECT_ERROR(core().members.Grant(owner_.caller(), org_.id, user.id, SomeGrant()),
               "org.not_recovery_admin");
  EXPECT_ERROR(core().members.Grant(owner_.caller(), org_.id, admin.id, SomeGrant(2)),
               "org.key_version_mismatch");
  EXPECT_ERROR(core().members.Grant(custom.caller(), org_.id, user.id, SomeGrant()),
               "org.forbidden");
  EXPECT_ERROR(core().members.Grant(admin.caller(), org_.id, owner_.id, SomeGrant()),
               "org.forbidden");
  EXPECT_ERROR(core().members.Grant(admin.caller(), org_.id, admin.id, SomeGrant()),
               "org.self_action");

  EXPECT_ERROR(core().members.GetGrant(admin.caller(), org_.id, std::nullopt),
               "org.grant_not_found");
  const uint64_t seq = LastSeq(org_);
  auto grant = SomeGrant(1, true);
  ASSERT_OK(core().members.Grant(owner_.caller(), org_.id, admin.id, grant));
  ASSERT_OK(core().members.Grant(admin.caller(), org_.id, custom.id, SomeGrant()));
  EXPECT_EQ(EventTypes(org_, seq), (std::vector<std::string>{"key.granted", "key.granted"}));
  auto got = core().members.GetGrant(admin.caller(), org_.id, std::nullopt);
  ASSERT_OK(got);
  EXPECT_EQ(got->recovery_grant, grant.recovery_grant);
  EXPECT_EQ(got->signing_grant, grant.signing_grant);
  EXPECT_EQ(got->created_by, owner_.id);
  ASSERT_OK(core().members.GetGrant(admin.caller(), org_.id, 1));
  EXPECT_ERROR(core().members.GetGrant(admin.caller(), org_.id, 2), "org.grant_not_found");
  EXPECT_ERROR(core().members.GetGrant(user.caller(), org_.id, std::nullopt),
               "org.grant_not_found");
}

// ---- revoke, restore, remove ----

TEST_F(MembersTest, RevokeRestoreRemove) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  Person bob = Join(org_, owner_, "bob@example.com", 3, "user");
  ASSERT_OK(core().members.Grant(owner_.caller(), org_.id, admin.id, SomeGrant()));
  ASSERT_OK(Enroll(org_, bob, 1));

  EXPECT_ERROR(core().members.Revoke(bob.caller(), org_.id, admin.id), "org.forbidden");
  EXPECT_ERROR(core().members.Revoke(admin.caller(), org_.id, owner_.id), "org.forbidden");
  EXPECT_ERROR(core().members.Revoke(admin.caller(), org_.id, admin.id), "org.self_action");

  uint64_t seq = LastSeq(org_);
  ASSERT_OK(core().members.Revoke(owner_.caller(), org_.id, admin.id));
  EXPECT_EQ(StoredMember(org_, admin)->status, core::MemberStatus::kRevoked);
  EXPECT_TRUE(StoredGrants(org_, admin).empty());
  EXPECT_ERROR(core().orgs.Get(admin.caller(), org_.id), "org.not_found");
  EXPECT_ERROR(core().members.Revoke(admin.caller(), org_.id, bob.id), "org.not_found");
  ASSERT_OK(core().members.Revoke(owner_.caller(), org_.id, admin.id));  // already: no event
  EXPECT_EQ(EventTypes(org_, seq), std::vector<std::string>{"member.revoked"});
  EXPECT_EQ(Events(org_, "member.revoked").back().details.at("grants_removed"), "1");
  // Revoked members are listed, without recovery admin rights.
  auto list = core().members.List(owner_.caller(), org_.id);
  ASSERT_OK(list);
  for (const auto& m : list->members) {
    if (m.member.account_id == admin.id) {
      EXPECT_FALSE(m.recovery_admin);
    }
  }

  seq = LastSeq(org_);
  ASSERT_OK(core().members.Restore(owner_.caller(), org_.id, admin.id));
  ASSERT_OK(core().members.Restore(owner_.caller(), org_.id, admin.id));
  EXPECT_EQ(EventTypes(org_, seq), std::vector<std::string>{"member.restored"});
  ASSERT_OK(core().orgs.Get(admin.caller(), org_.id));
  EXPECT_TRUE(StoredGrants(org_, admin).empty());  // a grant must be given again

  seq = LastSeq(org_);
  ASSERT_OK(core().members.Remove(admin.caller(), org_.id, bob.id));
  EXPECT_FALSE(StoredMember(org_, bob));
  EXPECT_FALSE(StoredEscrow(org_, bob));
  EXPECT_ERROR(core().orgs.Get(bob.caller(), org_.id), "org.not_found");
  EXPECT_ERROR(core().members.Remove(admin.caller(), org_.id, bob.id), "org.member_not_found");
  EXPECT_EQ(EventTypes(org_, seq), std::vector<std::string>{"member.removed"});
  EXPECT_EQ(Events(org_, "member.removed").back().details.at("escrow_removed"), "true");
  auto mail = LastMailTo("bob@example.com");
  ASSERT_TRUE(mail);
  EXPECT_NE(mail->subject.find("removed"), std::string::npos);
  ExpectChainVerifies(org_);

  // A removed member may be invited again.
  ASSERT_OK(Invite(owner_, "bob@example.com", "user"));
}

// ---- isolation ----

TEST_F(MembersTest, AnOwnerOfOneOrganizationLearnsNothingOfAnother) {
  Person other_owner = MakePerson("other@example.com", 7);
  TestOrg other = NewOrgOf(other_owner, MakePolicy(Enrollment::kOptIn), "other");
  Person bob = Join(other, other_owner, "bob@example.com", 2, "user");
  Person mine = Join(org_, owner_, "mine@example.com", 3, "user");
  const uint64_t seq = LastSeq(other);
  auto next = SignStatement(other, 2, other.key, other.policy, other.signer, Now());

  for (const std::string& org_id : {other.id, std::string("nonexistent")}) {
    EXPECT_ERROR(core().orgs.Get(owner_.caller(), org_id), "org.not_found");
    EXPECT_ERROR(core().orgs.Statements(owner_.caller(), org_id, 0), "org.not_found");
    EXPECT_ERROR(core().orgs.ChangePolicy(owner_.caller(), org_id, next), "org.not_found");
    EXPECT_ERROR(core().members.List(owner_.caller(), org_id), "org.not_found");
    EXPECT_ERROR(core().members.Invite(owner_.caller(), org_id, {"x@example.com", "user", ""}),
                 "org.not_found");
    EXPECT_ERROR(
        core().members.ChangeRole(owner_.caller(), org_id, bob.id, "admin", "", std::nullopt),
        "org.not_found");
    EXPECT_ERROR(core().members.Grant(owner_.caller(), org_id, bob.id, SomeGrant()),
                 "org.not_found");
    EXPECT_ERROR(core().members.GetGrant(owner_.caller(), org_id, std::nullopt), "org.not_found");
    EXPECT_ERROR(core().members.Revoke(owner_.caller(), org_id, bob.id), "org.not_found");
    EXPECT_ERROR(core().members.Restore(owner_.caller(), org_id, bob.id), "org.not_found");
    EXPECT_ERROR(core().members.Remove(owner_.caller(), org_id, bob.id), "org.not_found");
    EXPECT_ERROR(core().events.List(owner_.caller(), org_id, {}), "org.not_found");
  }
  // Members of the other organization through this one's routes.
  EXPECT_ERROR(
      core().members.ChangeRole(owner_.caller(), org_.id, bob.id, "admin", "", std::nullopt),
      "org.member_not_found");
  EXPECT_ERROR(core().members.Grant(owner_.caller(), org_.id, bob.id, SomeGrant()),
               "org.member_not_found");
  EXPECT_ERROR(core().members.Revoke(owner_.caller(), org_.id, bob.id), "org.member_not_found");
  EXPECT_ERROR(core().members.Restore(owner_.caller(), org_.id, bob.id), "org.member_not_found");
  EXPECT_ERROR(core().members.Remove(owner_.caller(), org_.id, bob.id), "org.member_not_found");
  // And the other way round.
  EXPECT_ERROR(core().members.Remove(other_owner.caller(), other.id, mine.id),
               "org.member_not_found");
  EXPECT_EQ(LastSeq(other), seq);
}

// ---- all or nothing ----

TEST_F(MembersTest, JoinIsAllOrNothing) {
  TestOrg strict = NewOrgOf(owner_, MakePolicy(Enrollment::kMandatory), "strict");
  auto join_once = [&](int i, int64_t fail_at) {
    const std::string email = "p" + std::to_string(i) + "@example.com";
    Person p = MakePerson(email, static_cast<uint8_t>(10 + i));
    EXPECT_TRUE(core().members.Invite(owner_.caller(), strict.id, {email, "user", ""}));
    const std::string token = InviteToken(email);
    auto escrow = Escrow(strict, p, 1);
    const uint64_t seq = LastSeq(strict);
    failing_->FailAt(fail_at);
    auto joined = core().members.AcceptInvite(p.caller(), token, escrow);
    const int64_t operations = failing_->Operations();
    failing_->FailAt(0);
    if (fail_at == 0) {
      EXPECT_TRUE(joined.has_value());
    } else {
      EXPECT_FALSE(joined.has_value()) << fail_at;
      EXPECT_FALSE(StoredMember(strict, p)) << fail_at;
      EXPECT_FALSE(StoredEscrow(strict, p)) << fail_at;
      EXPECT_EQ(LastSeq(strict), seq) << fail_at;
      // The invitation still works.
      EXPECT_TRUE(core().members.LookupInvite(p.caller(), token).has_value()) << fail_at;
    }
    return operations;
  };
  const int64_t operations = join_once(0, 0);
  ASSERT_GT(operations, 6);
  for (int64_t n = 1; n <= operations; ++n) join_once(static_cast<int>(n), n);
}

TEST_F(MembersTest, RoleChangeIsAllOrNothing) {
  auto change_once = [&](int i, int64_t fail_at) {
    Person p = Join(org_, owner_, "p" + std::to_string(i) + "@example.com",
                    static_cast<uint8_t>(10 + i), "admin");
    EXPECT_TRUE(core().members.Grant(owner_.caller(), org_.id, p.id, SomeGrant(1, true)));
    const uint64_t seq = LastSeq(org_);
    failing_->FailAt(fail_at);
    auto changed =
        core().members.ChangeRole(owner_.caller(), org_.id, p.id, "user", "", std::nullopt);
    const int64_t operations = failing_->Operations();
    failing_->FailAt(0);
    if (fail_at == 0) {
      EXPECT_TRUE(changed.has_value());
    } else {
      EXPECT_FALSE(changed.has_value()) << fail_at;
      EXPECT_EQ(StoredMember(org_, p)->role, "admin") << fail_at;
      EXPECT_EQ(StoredGrants(org_, p).size(), 1u) << fail_at;
      EXPECT_EQ(LastSeq(org_), seq) << fail_at;
    }
    return operations;
  };
  const int64_t operations = change_once(0, 0);
  ASSERT_GT(operations, 5);
  for (int64_t n = 1; n <= operations; ++n) change_once(static_cast<int>(n), n);
}

// ---- issue 10 item 3: invitations are not a mail relay ----

TEST_F(MembersTest, InvitationsAreLimitedPerOrganizationAndPerInviter) {
  config_.invite_max_per_org = 5;
  config_.invite_max_per_inviter = 3;
  config_.invite_window_seconds = 3600;
  Rebuild();
  clock_.Set((Now() / 3600 + 1) * 3600);  // at the start of an hour, for the sliding below
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  // (Join sent one invitation by the owner.)
  const size_t before = mailer_.Sent().size();
  ASSERT_OK(Invite(owner_, "a1@example.com", "user"));
  ASSERT_OK(Invite(owner_, "a2@example.com", "user"));
  // Per inviter: the owner's fourth in the hour is refused, nothing is sent
  // or stored.
  auto refused = Invite(owner_, "a3@example.com", "user");
  EXPECT_ERROR(refused, "org.invite_rate_limited");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind(), ErrorKind::kRateLimited);
  EXPECT_EQ(mailer_.Sent().size(), before + 2);
  // Per organization: another admin gets the org's last two.
  ASSERT_OK(Invite(admin, "b1@example.com", "user"));
  ASSERT_OK(Invite(admin, "b2@example.com", "user"));
  EXPECT_ERROR(Invite(admin, "b3@example.com", "user"), "org.invite_rate_limited");
  EXPECT_EQ(mailer_.Sent().size(), before + 4);
  auto list = core().members.List(owner_.caller(), org_.id);
  ASSERT_OK(list);
  EXPECT_EQ(list->invites.size(), 4u);

  // Another organization of the same admin has its own count, but the
  // inviter's count follows the person.
  Person other_owner = MakePerson("other@example.com", 3);
  TestOrg other = NewOrgOf(other_owner, MakePolicy(Enrollment::kOptIn), "other");
  ASSERT_OK(core().members.Invite(other_owner.caller(), other.id, {"c1@example.com", "user", ""}));

  // The window slides: an hour and a half on, half of the previous hour
  // still weighs: the owner's 3 count as 2 (rounded up), so one more.
  clock_.Advance(3600 + 1800);
  ASSERT_OK(Invite(owner_, "d1@example.com", "user"));
  EXPECT_ERROR(Invite(owner_, "d2@example.com", "user"), "org.invite_rate_limited");
  // Two windows on, everything is forgotten.
  clock_.Advance(2 * 3600);
  ASSERT_OK(Invite(owner_, "e1@example.com", "user"));
}

TEST_F(MembersTest, TheDefaultLimitsAllowTwentyInvitationsAnHourPerInviter) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(Invite(owner_, "p" + std::to_string(i) + "@example.com", "user"));
  }
  EXPECT_ERROR(Invite(owner_, "p20@example.com", "user"), "org.invite_rate_limited");
}

TEST_F(MembersTest, TheOrganizationNameStaysOutOfInvitationSubjects) {
  Person eve = MakePerson("eve@example.com", 2);
  TestOrg spam = NewOrgOf(eve, MakePolicy(Enrollment::kOptIn), "spam");
  // The name is set at creation; make it an advertisement.
  ASSERT_OK(store_->Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto row, tx.FindOrg("spam"));
    row->name = "CHEAP \"PILLS\" at example.net";
    return tx.UpdateOrg(*row);
  }));
  ASSERT_OK(core().members.Invite(eve.caller(), spam.id, {"victim@example.com", "user", ""}));
  auto mail = LastMailTo("victim@example.com");
  ASSERT_TRUE(mail);
  EXPECT_EQ(mail->subject, "You are invited to an organization on Keyward");
  // In the body, quoted, with its own quotes neutralized.
  EXPECT_NE(mail->body.find("organization \"CHEAP 'PILLS' at example.net\" on Keyward"),
            std::string::npos)
      << mail->body;
}

}  // namespace
}  // namespace keyward::core::testing
