#include "core/enrollment.h"

#include <gtest/gtest.h>

#include "core/recovery_test_fixture.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;

class EnrollmentTest : public RecoveryTest {
 protected:
  EnrollmentTest()
      : owner_(MakePerson("owner@example.com", 1)),
        bob_(MakePerson("bob@example.com", 2)),
        org_(CreateOrg(owner_, MakePolicy(Enrollment::kOptIn))) {
    AddMember(org_, bob_, "user");
  }

  PasswordChange NewPassword(const Person& p, uint8_t new_tag) {
    PasswordChange change;
    change.auth_key = KeyFrom(p.key_tag);
    change.new_kdf = crypto::kTestKdf;
    change.new_salt = crypto::RandomBytes(16);
    change.new_auth_key = KeyFrom(new_tag);
    change.new_wrapped_vault_key = crypto::RandomBytes(72);
    return change;
  }

  Person owner_;
  Person bob_;
  TestOrg org_;
};

TEST_F(EnrollmentTest, EnrollStoresTheEscrowAndLogsIt) {
  auto state = core().enrollment.Get(bob_.caller(), org_.id);
  ASSERT_OK(state);
  EXPECT_FALSE(state->enrolled);
  EXPECT_EQ(state->epoch, 0u);

  auto upload = Escrow(org_, bob_, 1);
  auto enrolled = core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(2), upload);
  ASSERT_OK(enrolled);
  EXPECT_TRUE(enrolled->enrolled);
  EXPECT_EQ(enrolled->epoch, 1u);
  EXPECT_EQ(enrolled->key_version, 1u);

  auto stored = StoredEscrow(org_, bob_);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->wrapped_vault_key, upload.wrapped_vault_key);
  EXPECT_EQ(stored->admin_share, upload.admin_share);
  EXPECT_EQ(stored->server_share, upload.server_share);
  EXPECT_EQ(LastEpoch(org_, bob_), 1u);

  // What an admin's client later does with it recovers the vault key.
  auto a = protocol::OpenAdminShare(org_.key, stored->admin_share, org_.id, bob_.id, 1);
  auto u = protocol::OpenServerShare(*server_key_, stored->server_share, org_.id, bob_.id, 1);
  ASSERT_OK(a);
  ASSERT_OK(u);
  auto uk = protocol::RecoverVaultKey(*a, *u, stored->wrapped_vault_key, org_.id, bob_.id, 1);
  ASSERT_OK(uk);
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), bob_.vault_key.span()));

  auto events = Events(org_, "recovery.enrolled");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor_id, bob_.id);
  EXPECT_EQ(events[0].target_id, bob_.id);
  EXPECT_EQ(events[0].device_id, "laptop");
  EXPECT_EQ(events[0].details.at("epoch"), "1");
  EXPECT_EQ(events[0].details.at("key_version"), "1");

  state = core().enrollment.Get(bob_.caller(), org_.id);
  ASSERT_OK(state);
  EXPECT_TRUE(state->enrolled);
  EXPECT_EQ(state->epoch, 1u);

  // Re-enrolling moves to the next epoch.
  ASSERT_OK(Enroll(org_, bob_, 2));
  EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 2u);
  EXPECT_EQ(Events(org_, "recovery.enrolled").size(), 2u);
}

TEST_F(EnrollmentTest, WrongAuthKeyIsRefusedAndCountedLikeAFailedLogin) {
  for (int i = 0; i < config_.login_max_failures_per_account; ++i) {
    EXPECT_ERROR(
        core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(9), Escrow(org_, bob_, 1)),
        "auth.invalid_credentials");
  }
  // Locked now, even with the right key.
  EXPECT_ERROR(Enroll(org_, bob_, 1), "auth.rate_limited");
  EXPECT_ERROR(core().sessions.Login(MakeLogin(bob_.email, 2)), "auth.rate_limited");
  EXPECT_FALSE(StoredEscrow(org_, bob_));
  EXPECT_TRUE(Events(org_, "recovery.enrolled").empty());
}

TEST_F(EnrollmentTest, EpochMustBeTheNextOne) {
  EXPECT_ERROR(Enroll(org_, bob_, 2), "escrow.stale_epoch");
  auto zero = Escrow(org_, bob_, 1);
  zero.epoch = 0;
  EXPECT_ERROR(core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(2), zero),
               "escrow.stale_epoch");
  ASSERT_OK(Enroll(org_, bob_, 1));
  EXPECT_ERROR(Enroll(org_, bob_, 1), "escrow.stale_epoch");  // a replay
  EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 1u);
}

TEST_F(EnrollmentTest, KeyVersionMustBeTheCurrentOne) {
  auto upload = EscrowFor(org_.id, bob_.id, 1, 2, org_.key.public_key, bob_.vault_key);
  EXPECT_ERROR(core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(2), upload),
               "org.key_version_mismatch");
  upload.key_version = 0;
  EXPECT_ERROR(core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(2), upload),
               "org.key_version_mismatch");
}

TEST_F(EnrollmentTest, ServerShareForAnotherOrgUserOrEpochIsInvalid) {
  const auto& pk = org_.key.public_key;
  struct Case {
    const char* what;
    EscrowUpload upload;
  };
  auto other_server = crypto::GenerateBoxKeyPair();
  Case cases[] = {
      {"another org", EscrowFor("other-org", bob_.id, 1, 1, pk, bob_.vault_key)},
      {"another user", EscrowFor(org_.id, owner_.id, 1, 1, pk, bob_.vault_key)},
      {"another epoch", EscrowFor(org_.id, bob_.id, 2, 1, pk, bob_.vault_key)},
      {"another server key", EscrowFor(org_.id, bob_.id, 1, 1, pk, bob_.vault_key, &other_server)},
  };
  cases[2].upload.epoch = 1;  // sealed for epoch 2, uploaded as epoch 1
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_ERROR(core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(2), c.upload),
                 "escrow.invalid");
  }
  auto damaged = Escrow(org_, bob_, 1);
  damaged.server_share[10] ^= 1;
  EXPECT_ERROR(core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(2), damaged),
               "escrow.invalid");
  EXPECT_FALSE(StoredEscrow(org_, bob_));
  EXPECT_EQ(LastEpoch(org_, bob_), 0u);
}

TEST_F(EnrollmentTest, DisabledPolicyRefusesEnrollment) {
  SetPolicy(org_, MakePolicy(Enrollment::kDisabled));
  EXPECT_ERROR(Enroll(org_, bob_, 1), "org.enrollment_disabled");
}

TEST_F(EnrollmentTest, WithoutServerRecoveryKeyEnrollmentIsUnavailable) {
  config_.recovery_key = nullptr;
  Rebuild();
  EXPECT_ERROR(Enroll(org_, bob_, 1), "server.recovery_key_missing");
}

TEST_F(EnrollmentTest, NonMembersSeeNoOrganization) {
  Person eve = MakePerson("eve@example.com", 5);
  EXPECT_ERROR(Enroll(org_, eve, 1), "org.not_found");
  EXPECT_ERROR(core().enrollment.Get(eve.caller(), org_.id), "org.not_found");
  EXPECT_ERROR(core().enrollment.Withdraw(eve.caller(), org_.id, KeyFrom(5)), "org.not_found");
  EXPECT_ERROR(core().enrollment.Get(eve.caller(), "no-such-org"), "org.not_found");
}

TEST_F(EnrollmentTest, WithdrawDeletesTheEscrowAndKeepsTheEpoch) {
  EXPECT_ERROR(core().enrollment.Withdraw(bob_.caller(), org_.id, KeyFrom(2)), "org.not_enrolled");
  ASSERT_OK(Enroll(org_, bob_, 1));
  EXPECT_ERROR(core().enrollment.Withdraw(bob_.caller(), org_.id, KeyFrom(9)),
               "auth.invalid_credentials");
  ASSERT_OK(core().enrollment.Withdraw(bob_.caller(), org_.id, KeyFrom(2)));
  EXPECT_FALSE(StoredEscrow(org_, bob_));
  EXPECT_EQ(LastEpoch(org_, bob_), 1u);
  EXPECT_EQ(Events(org_, "recovery.withdrew").size(), 1u);
  // Coming back starts a new epoch: nothing bound to epoch 1 revives.
  EXPECT_ERROR(Enroll(org_, bob_, 1), "escrow.stale_epoch");
  ASSERT_OK(Enroll(org_, bob_, 2));
}

TEST_F(EnrollmentTest, MandatoryPolicyRefusesWithdrawal) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  SetPolicy(org_, MakePolicy(Enrollment::kMandatory));
  EXPECT_ERROR(core().enrollment.Withdraw(bob_.caller(), org_.id, KeyFrom(2)),
               "org.enrollment_mandatory");
  EXPECT_TRUE(StoredEscrow(org_, bob_));
}

TEST_F(EnrollmentTest, StoreEscrowInTxWorksInsideAnotherTransaction) {
  // As the join of an invite does: membership and enrollment in one commit.
  Person carol = MakePerson("carol@example.com", 3);
  auto upload = Escrow(org_, carol, 1);
  core::Org org_row;
  ASSERT_OK(store_->Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(org_.id));
    org_row = *org;
    KW_TRY(tx.InsertMember({org_.id, carol.id, "user", "", core::MemberStatus::kActive, Now(), 0}));
    return StoreEscrowInTx(tx, core().context(), *org, carol.id, upload, "laptop");
  }));
  EXPECT_EQ(StoredEscrow(org_, carol)->epoch, 1u);
  EXPECT_EQ(LastEpoch(org_, carol), 1u);
  // A failing escrow fails the whole join.
  Person dan = MakePerson("dan@example.com", 4);
  auto bad = Escrow(org_, dan, 2);
  auto s = store_->Transact([&](store::Tx& tx) -> Status {
    KW_TRY(tx.InsertMember({org_.id, dan.id, "user", "", core::MemberStatus::kActive, Now(), 0}));
    return StoreEscrowInTx(tx, core().context(), org_row, dan.id, bad, "laptop");
  });
  EXPECT_ERROR(s, "escrow.stale_epoch");
  EXPECT_EQ(LastEpoch(org_, dan), 0u);
}

TEST_F(EnrollmentTest, EnrollIsAtomicWhenTheStoreFails) {
  // Count the operations of a successful enrollment on a twin member.
  Person carol = MakePerson("carol@example.com", 3);
  AddMember(org_, carol, "user");
  failing_->FailAt(0);
  ASSERT_OK(Enroll(org_, carol, 1));
  const int64_t ops = failing_->Operations();
  ASSERT_GT(ops, 5);
  const size_t events_before = Events(org_).size();
  for (int64_t n = 1; n <= ops; ++n) {
    SCOPED_TRACE(n);
    auto upload = Escrow(org_, bob_, 1);
    failing_->FailAt(n);
    auto r = core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(2), upload);
    failing_->FailAt(0);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(StoredEscrow(org_, bob_));
    EXPECT_EQ(LastEpoch(org_, bob_), 0u);
    EXPECT_EQ(Events(org_).size(), events_before);
  }
  ASSERT_OK(Enroll(org_, bob_, 1));
}

// ---- password change (POST /v1/account/password) ----

TEST_F(EnrollmentTest, PasswordChangeWithoutEnrollmentsNeedsNoEscrow) {
  ASSERT_OK(core().accounts.ChangePassword(bob_.caller(), NewPassword(bob_, 7)));
  auto events = Events(org_, "account.password_changed");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor_id, bob_.id);
}

TEST_F(EnrollmentTest, PasswordChangeRequiresAFreshEscrowPerEnrollment) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  auto change = NewPassword(bob_, 7);
  EXPECT_ERROR(core().accounts.ChangePassword(bob_.caller(), change), "escrow.required");

  change.escrows.push_back({org_.id, Escrow(org_, bob_, 1)});  // not the next epoch
  EXPECT_ERROR(core().accounts.ChangePassword(bob_.caller(), change), "escrow.stale_epoch");

  // An escrow for an organization the account is not enrolled in.
  Person carol = MakePerson("carol@example.com", 3);
  TestOrg other = CreateOrg(carol, MakePolicy(Enrollment::kOptIn), "other");
  AddMember(other, bob_, "user");
  change.escrows = {{org_.id, Escrow(org_, bob_, 2)}, {other.id, Escrow(other, bob_, 1)}};
  EXPECT_ERROR(core().accounts.ChangePassword(bob_.caller(), change), "org.not_enrolled");
  change.escrows = {{org_.id, Escrow(org_, bob_, 2)}, {org_.id, Escrow(org_, bob_, 2)}};
  EXPECT_ERROR(core().accounts.ChangePassword(bob_.caller(), change), "request.invalid_field");

  // Nothing changed so far: the old password still works.
  EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 1u);
  ASSERT_OK(core().sessions.Login(MakeLogin(bob_.email, 2, "phone")));

  auto fresh = Escrow(org_, bob_, 2);
  change.escrows = {{org_.id, fresh}};
  ASSERT_OK(core().accounts.ChangePassword(bob_.caller(), change));
  auto stored = StoredEscrow(org_, bob_);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->epoch, 2u);
  EXPECT_EQ(stored->server_share, fresh.server_share);
  EXPECT_EQ(LastEpoch(org_, bob_), 2u);
  EXPECT_EQ(Events(org_, "account.password_changed").size(), 1u);
  EXPECT_TRUE(Events(org_, "recovery.enrolled").size() == 1u);  // the change is its own event
  EXPECT_ERROR(core().sessions.Login(MakeLogin(bob_.email, 2)), "auth.invalid_credentials");
  ASSERT_OK(core().sessions.Login(MakeLogin(bob_.email, 7)));
}

TEST_F(EnrollmentTest, PasswordChangeLeavesEscrowsOfRevokedMembershipsAlone) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  ASSERT_OK(store_->Transact([&](store::Tx& tx) -> Status {
    return tx.SetMemberStatus(org_.id, bob_.id, core::MemberStatus::kRevoked);
  }));
  ASSERT_OK(core().accounts.ChangePassword(bob_.caller(), NewPassword(bob_, 7)));
  EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 1u);
}

// ---- issue 10 item 5: an escrow keeps the mode it was made under ----

TEST_F(EnrollmentTest, TheEscrowRecordsThePolicyModeAndKeepsItThroughAPasswordChange) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  EXPECT_EQ(StoredEscrow(org_, bob_)->mode, "dual-control");
  EXPECT_EQ(Events(org_, "recovery.enrolled").back().details.at("mode"), "dual-control");
  SetPolicy(org_, MakePolicy(Enrollment::kOptIn, protocol::RecoveryMode::kAdminReset));
  // A new master password is not a new enrollment.
  auto change = NewPassword(bob_, 7);
  change.escrows = {{org_.id, Escrow(org_, bob_, 2)}};
  ASSERT_OK(core().accounts.ChangePassword(bob_.caller(), change));
  EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 2u);
  EXPECT_EQ(StoredEscrow(org_, bob_)->mode, "dual-control");
  // Enrolling again takes the policy in force.
  ASSERT_OK(core().enrollment.Enroll(bob_.caller(), org_.id, KeyFrom(7), Escrow(org_, bob_, 3)));
  EXPECT_EQ(StoredEscrow(org_, bob_)->mode, "admin-reset");
  EXPECT_EQ(Events(org_, "recovery.enrolled").back().details.at("mode"), "admin-reset");
}

// ---- login events ----

TEST_F(EnrollmentTest, LoginsAreLoggedInTheAccountsOrganizations) {
  const size_t logins = Events(org_, "account.login").size();
  ASSERT_OK(core().sessions.Login(MakeLogin(bob_.email, 2, "phone")));
  auto events = Events(org_, "account.login");
  ASSERT_EQ(events.size(), logins + 1);
  EXPECT_EQ(events.back().actor_id, bob_.id);
  EXPECT_EQ(events.back().device_id, "phone");

  EXPECT_ERROR(core().sessions.Login(MakeLogin(bob_.email, 9)), "auth.invalid_credentials");
  auto failed = Events(org_, "account.login_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].target_id, bob_.id);
  EXPECT_EQ(failed[0].details.at("reason"), "invalid_credentials");

  // An unknown email has no organization to tell.
  const size_t all = Events(org_).size();
  EXPECT_ERROR(core().sessions.Login(MakeLogin("nobody@example.com", 9)),
               "auth.invalid_credentials");
  EXPECT_EQ(Events(org_).size(), all);
}

}  // namespace
}  // namespace keyward::core::testing
