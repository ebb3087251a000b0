#include "core/admin_reset.h"

#include <gtest/gtest.h>

#include "core/recovery_test_fixture.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;
using protocol::RecoveryMode;

class AdminResetTest : public RecoveryTest {
 protected:
  AdminResetTest()
      : owner_(MakePerson("owner@example.com", 1)),
        admin_(MakePerson("admin@example.com", 2)),
        helper_(MakePerson("helper@example.com", 3)),
        bob_(MakePerson("bob@example.com", 4)),
        org_(CreateOrg(owner_, MakePolicy(Enrollment::kOptIn, RecoveryMode::kAdminReset))) {
    AddMember(org_, admin_, "admin");
    AddMember(org_, helper_, "custom", "manage_account_recovery");
    AddMember(org_, bob_, "user");
    EXPECT_TRUE(Enroll(org_, bob_, 1).has_value());
  }

  // The admin's client: begin, recover the vault key, wrap it under a
  // temporary password (auth key KeyFrom(temp_tag)), escrow it afresh.
  Result<TemporaryPassword> PrepareReset(const Person& admin, const Person& member,
                                         uint8_t temp_tag) {
    return TemporaryPasswordFor(admin, org_, member, temp_tag, recovered_);
  }

  // A well-formed temporary password and escrow at epoch 2 for `member`,
  // made without opening anything: for resets the server must refuse.
  TemporaryPassword AnyTemporaryPassword(const Person& member) {
    TemporaryPassword password;
    password.new_kdf = crypto::kTestKdf;
    password.new_salt = crypto::RandomBytes(16);
    password.new_auth_key = KeyFrom(9);
    password.new_wrapped_vault_key = crypto::RandomBytes(72);
    password.escrow = Escrow(org_, member, 2);
    return password;
  }

  Status ResetWithTemporaryPassword(const Person& admin, const Person& member, uint8_t temp_tag) {
    KW_ASSIGN_OR_RETURN(auto password, PrepareReset(admin, member, temp_tag));
    return core().admin_reset.Reset(admin.caller(), org_.id, member.id, password);
  }

  void EnableTotp(const Person& p) {
    ASSERT_OK(store_->Transact([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(p.id));
      account->totp_enabled = true;
      account->totp_secret_sealed = crypto::RandomBytes(60);
      KW_TRY(tx.UpdateAccount(*account));
      return tx.ReplaceRecoveryCodes(p.id, {crypto::RandomBytes(32), crypto::RandomBytes(32)});
    }));
  }

  size_t RecoveryCodes(const Person& p) {
    size_t n = 0;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto codes, tx.ListRecoveryCodes(p.id));
      n = codes.size();
      return {};
    }));
    return n;
  }

  Person owner_;
  Person admin_;
  Person helper_;
  Person bob_;
  TestOrg org_;
  crypto::VaultKey recovered_;
};

TEST_F(AdminResetTest, BeginHandsOutTheServerPartAndLogsIt) {
  auto material = core().admin_reset.Begin(admin_.caller(), org_.id, bob_.id);
  ASSERT_OK(material);
  EXPECT_EQ(material->epoch, 1u);
  EXPECT_EQ(material->key_version, 1u);
  auto a = protocol::OpenAdminShare(org_.key, material->admin_share, org_.id, bob_.id, 1);
  ASSERT_OK(a);
  auto uk = protocol::RecoverVaultKey(*a, material->server_part, material->wrapped_vault_key,
                                      org_.id, bob_.id, 1);
  ASSERT_OK(uk);
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), bob_.vault_key.span()));
  auto events = Events(org_, "recovery.escrow_opened");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor_id, admin_.id);
  EXPECT_EQ(events[0].target_id, bob_.id);
}

TEST_F(AdminResetTest, ResetSetsATemporaryPasswordTheMemberMustChange) {
  SignedIn phone = SignIn(bob_.email, bob_.key_tag, "phone");
  EnableTotp(bob_);
  Person& bob = bob_;
  ASSERT_TRUE(IsSignedIn(bob.session));
  RememberDevice(bob.id, "laptop");
  RememberDevice(bob.id, "phone");
  ASSERT_OK(ResetWithTemporaryPassword(admin_, bob, 9));
  EXPECT_TRUE(crypto::ConstantTimeEqual(recovered_.span(), bob.vault_key.span()));

  // Every session and trusted device of the member ended; the new escrow is
  // at epoch 2.
  EXPECT_FALSE(IsSignedIn(bob.session));
  EXPECT_FALSE(IsSignedIn(phone));
  EXPECT_EQ(RememberedDevices(bob.id), 0u);
  auto account = StoredAccount(bob);
  ASSERT_TRUE(account);
  EXPECT_TRUE(account->must_change_password);
  EXPECT_TRUE(account->totp_enabled);  // two-step login stays on
  EXPECT_EQ(StoredEscrow(org_, bob)->epoch, 2u);
  EXPECT_EQ(LastEpoch(org_, bob), 2u);
  auto events = Events(org_, "recovery.password_reset");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor_id, admin_.id);
  EXPECT_EQ(events[0].target_id, bob.id);
  EXPECT_EQ(events[0].details.at("epoch"), "2");
  auto mail = LastMailTo(bob.email);
  ASSERT_TRUE(mail);
  EXPECT_NE(mail->subject.find("reset by an administrator"), std::string::npos);

  // The old password is dead; the temporary one needs the second step too.
  EXPECT_ERROR(core().sessions.Login(MakeLogin(bob.email, 4)), "auth.invalid_credentials");
  EXPECT_ERROR(core().sessions.Login(MakeLogin(bob.email, 9)), "auth.two_factor_required");
}

TEST_F(AdminResetTest, ResetMemberMustChangePasswordAtNextLogin) {
  ASSERT_OK(ResetWithTemporaryPassword(owner_, bob_, 9));
  auto login = core().sessions.Login(MakeLogin(bob_.email, 9));
  ASSERT_OK(login);
  EXPECT_TRUE(login->account.must_change_password);
  auto caller = core().sessions.Authenticate(login->token.span(), "192.0.2.1");
  ASSERT_OK(caller);
  EXPECT_TRUE(caller->must_change_password);

  PasswordChange change;
  change.auth_key = KeyFrom(9);
  change.new_kdf = crypto::kTestKdf;
  change.new_salt = crypto::RandomBytes(16);
  change.new_auth_key = KeyFrom(10);
  change.new_wrapped_vault_key = crypto::RandomBytes(72);
  change.escrows.push_back({org_.id, Escrow(org_, bob_, 3)});
  ASSERT_OK(core().accounts.ChangePassword(*caller, change));

  caller = core().sessions.Authenticate(login->token.span(), "192.0.2.1");
  ASSERT_OK(caller);
  EXPECT_FALSE(caller->must_change_password);
  EXPECT_FALSE(StoredAccount(bob_)->must_change_password);
  auto events = Events(org_, "recovery.temporary_password_updated");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor_id, bob_.id);
  EXPECT_TRUE(Events(org_, "account.password_changed").empty());
  EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 3u);
}

TEST_F(AdminResetTest, OnlyInAdminResetMode) {
  SetPolicy(org_, MakePolicy(Enrollment::kOptIn, RecoveryMode::kDualControl));
  EXPECT_ERROR(core().admin_reset.Begin(admin_.caller(), org_.id, bob_.id),
               "org.mode_not_admin_reset");
  SetPolicy(org_, MakePolicy(Enrollment::kOptIn, RecoveryMode::kAdminReset));
  auto password = PrepareReset(admin_, bob_, 9);
  ASSERT_OK(password);
  SetPolicy(org_, MakePolicy(Enrollment::kOptIn, RecoveryMode::kDualControl));
  EXPECT_ERROR(core().admin_reset.Reset(admin_.caller(), org_.id, bob_.id, *password),
               "org.mode_not_admin_reset");
  EXPECT_FALSE(StoredAccount(bob_)->must_change_password);
}

TEST_F(AdminResetTest, HierarchyDecidesWhoResetsWhom) {
  ASSERT_OK(Enroll(org_, owner_, 1));
  ASSERT_OK(Enroll(org_, admin_, 1));
  // An admin cannot reset an owner; a custom recovery member cannot reset an
  // admin; nobody resets themselves; users reset nobody.
  EXPECT_ERROR(core().admin_reset.Begin(admin_.caller(), org_.id, owner_.id), "org.forbidden");
  EXPECT_ERROR(core().admin_reset.Begin(helper_.caller(), org_.id, admin_.id), "org.forbidden");
  EXPECT_ERROR(core().admin_reset.Begin(admin_.caller(), org_.id, admin_.id), "org.self_action");
  EXPECT_ERROR(core().admin_reset.Begin(bob_.caller(), org_.id, admin_.id), "org.forbidden");
  EXPECT_TRUE(Events(org_, "recovery.escrow_opened").empty());
  // A custom member with manage_account_recovery resets a user.
  ASSERT_OK(ResetWithTemporaryPassword(helper_, bob_, 9));
  // An owner resets an admin.
  ASSERT_OK(ResetWithTemporaryPassword(owner_, admin_, 8));
}

TEST_F(AdminResetTest, TheMemberMustBeEnrolled) {
  Person carol = MakePerson("carol@example.com", 5);
  AddMember(org_, carol, "user");
  EXPECT_ERROR(core().admin_reset.Begin(admin_.caller(), org_.id, carol.id), "org.not_enrolled");
  EXPECT_ERROR(core().admin_reset.Begin(admin_.caller(), org_.id, "not-a-member"),
               "org.member_not_found");
}

TEST_F(AdminResetTest, ResetRefusesAStaleEscrowAndChangesNothing) {
  auto password = PrepareReset(admin_, bob_, 9);
  ASSERT_OK(password);
  password->escrow = Escrow(org_, bob_, 1);
  EXPECT_ERROR(core().admin_reset.Reset(admin_.caller(), org_.id, bob_.id, *password),
               "escrow.stale_epoch");
  EXPECT_FALSE(StoredAccount(bob_)->must_change_password);
  EXPECT_TRUE(IsSignedIn(bob_.session));
  EXPECT_TRUE(Events(org_, "recovery.password_reset").empty());
}

TEST_F(AdminResetTest, DeletedAccountsCannotBeRecovered) {
  ASSERT_OK(core().accounts.Delete(bob_.caller(), KeyFrom(4)));
  EXPECT_ERROR(core().admin_reset.Begin(admin_.caller(), org_.id, bob_.id), "org.member_not_found");
  const TemporaryPassword password = AnyTemporaryPassword(bob_);
  EXPECT_ERROR(core().admin_reset.Reset(admin_.caller(), org_.id, bob_.id, password),
               "org.member_not_found");
  EXPECT_ERROR(core().admin_reset.ResetTwoFactor(admin_.caller(), org_.id, bob_.id),
               "org.member_not_found");
  EXPECT_FALSE(StoredEscrow(org_, bob_));
}

TEST_F(AdminResetTest, ResetIsAtomicWhenTheStoreFails) {
  auto password = PrepareReset(admin_, bob_, 9);
  ASSERT_OK(password);
  const auto before = StoredAccount(bob_);
  const auto escrow_before = StoredEscrow(org_, bob_);
  const size_t events_before = Events(org_).size();
  failing_->FailAt(0);
  // Count on a dry run that fails at the very end... by counting a real reset
  // of a twin member.
  Person carol = MakePerson("carol@example.com", 5);
  AddMember(org_, carol, "user");
  ASSERT_OK(Enroll(org_, carol, 1));
  auto carol_password = PrepareReset(admin_, carol, 9);
  ASSERT_OK(carol_password);
  failing_->FailAt(0);
  ASSERT_OK(core().admin_reset.Reset(admin_.caller(), org_.id, carol.id, *carol_password));
  const int64_t ops = failing_->Operations();
  ASSERT_GT(ops, 8);
  const size_t events_now = Events(org_).size();
  ASSERT_GT(events_now, events_before);

  for (int64_t n = 1; n <= ops; ++n) {
    SCOPED_TRACE(n);
    failing_->FailAt(n);
    auto r = core().admin_reset.Reset(admin_.caller(), org_.id, bob_.id, *password);
    failing_->FailAt(0);
    EXPECT_FALSE(r.has_value());
    auto after = StoredAccount(bob_);
    EXPECT_EQ(after->verifier, before->verifier);
    EXPECT_FALSE(after->must_change_password);
    EXPECT_EQ(StoredEscrow(org_, bob_), escrow_before);
    EXPECT_TRUE(IsSignedIn(bob_.session));
    EXPECT_EQ(Events(org_).size(), events_now);
  }
  ASSERT_OK(core().admin_reset.Reset(admin_.caller(), org_.id, bob_.id, *password));
}

TEST_F(AdminResetTest, TwoFactorReset) {
  EXPECT_ERROR(core().admin_reset.ResetTwoFactor(admin_.caller(), org_.id, bob_.id),
               "account.two_factor_not_enabled");
  EnableTotp(bob_);
  EnableTotp(owner_);
  EXPECT_ERROR(core().admin_reset.ResetTwoFactor(admin_.caller(), org_.id, owner_.id),
               "org.forbidden");
  EXPECT_ERROR(core().admin_reset.ResetTwoFactor(bob_.caller(), org_.id, owner_.id),
               "org.forbidden");
  ASSERT_OK(core().admin_reset.ResetTwoFactor(helper_.caller(), org_.id, bob_.id));
  auto account = StoredAccount(bob_);
  EXPECT_FALSE(account->totp_enabled);
  EXPECT_TRUE(account->totp_secret_sealed.empty());
  EXPECT_EQ(RecoveryCodes(bob_), 0u);
  EXPECT_TRUE(StoredAccount(owner_)->totp_enabled);
  auto mail = LastMailTo(bob_.email);
  ASSERT_TRUE(mail);
  EXPECT_NE(mail->subject.find("two-step login was reset"), std::string::npos);
  auto events = Events(org_, "recovery.two_factor_reset");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor_id, helper_.id);
  EXPECT_EQ(events[0].target_id, bob_.id);
  // Works in dual-control mode too: it is not a password reset.
  SetPolicy(org_, MakePolicy(Enrollment::kOptIn, RecoveryMode::kDualControl));
  EnableTotp(bob_);
  ASSERT_OK(core().admin_reset.ResetTwoFactor(owner_.caller(), org_.id, bob_.id));
}

// ---- issue 10 item 5: a policy change never weakens an escrow ----

TEST_F(AdminResetTest, AnEscrowMadeUnderDualControlIsNotResetAfterTheModeChanges) {
  SetPolicy(org_, MakePolicy(Enrollment::kOptIn, RecoveryMode::kDualControl));
  Person carol = MakePerson("carol@example.com", 5);
  AddMember(org_, carol, "user");
  ASSERT_OK(Enroll(org_, carol, 1));
  EXPECT_EQ(StoredEscrow(org_, carol)->mode, "dual-control");
  // The owner switches to admin-reset: carol's escrow keeps dual control.
  SetPolicy(org_, MakePolicy(Enrollment::kOptIn, RecoveryMode::kAdminReset));
  for (const Person* admin : {&owner_, &admin_}) {
    auto begun = core().admin_reset.Begin(admin->caller(), org_.id, carol.id);
    EXPECT_ERROR(begun, "org.escrow_dual_control");
    ASSERT_FALSE(begun.has_value());
    EXPECT_EQ(begun.error().kind(), ErrorKind::kConflict);
  }
  const TemporaryPassword password = AnyTemporaryPassword(carol);
  EXPECT_ERROR(core().admin_reset.Reset(admin_.caller(), org_.id, carol.id, password),
               "org.escrow_dual_control");
  EXPECT_TRUE(Events(org_, "recovery.escrow_opened").empty());
  EXPECT_FALSE(StoredAccount(carol)->must_change_password);
  // bob enrolled under admin-reset: still reset as before.
  ASSERT_OK(ResetWithTemporaryPassword(admin_, bob_, 9));
  EXPECT_EQ(StoredEscrow(org_, bob_)->mode, "admin-reset");  // the fresh escrow keeps it

  // Once carol enrolls again under the new policy, she can be reset.
  ASSERT_OK(Enroll(org_, carol, 2));
  EXPECT_EQ(StoredEscrow(org_, carol)->mode, "admin-reset");
  ASSERT_OK(ResetWithTemporaryPassword(admin_, carol, 10));
}

TEST_F(AdminResetTest, ARevokedMemberIsNotReset) {
  ASSERT_OK(core().members.Revoke(owner_.caller(), org_.id, bob_.id));
  auto begun = core().admin_reset.Begin(admin_.caller(), org_.id, bob_.id);
  EXPECT_ERROR(begun, "org.member_revoked");
  ASSERT_FALSE(begun.has_value());
  EXPECT_EQ(begun.error().kind(), ErrorKind::kConflict);
  const TemporaryPassword password = AnyTemporaryPassword(bob_);
  EXPECT_ERROR(core().admin_reset.Reset(admin_.caller(), org_.id, bob_.id, password),
               "org.member_revoked");
  EXPECT_FALSE(StoredAccount(bob_)->must_change_password);
  EXPECT_TRUE(IsSignedIn(bob_.session));
  // Restored, the member can be reset again.
  ASSERT_OK(core().members.Restore(owner_.caller(), org_.id, bob_.id));
  ASSERT_OK(ResetWithTemporaryPassword(admin_, bob_, 9));
}

}  // namespace
}  // namespace keyward::core::testing
