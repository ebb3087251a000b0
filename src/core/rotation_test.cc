#include "core/rotation.h"

#include <gtest/gtest.h>

#include "core/recovery_test_fixture.h"
#include "tests/support/status_assertions.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;

class RotationTest : public RecoveryTest {
 protected:
  RotationTest()
      : owner_(MakePerson("owner@example.com", 1)),
        admin_(MakePerson("admin@example.com", 2)),
        bob_(MakePerson("bob@example.com", 3)),
        carol_(MakePerson("carol@example.com", 4)),
        org_(CreateOrg(owner_, MakePolicy(Enrollment::kOptIn))) {
    AddMember(org_, admin_, "admin");
    AddMember(org_, bob_, "user");
    AddMember(org_, carol_, "user");
    PutGrant(owner_.id, 1);
    PutGrant(admin_.id, 1);
  }

  void PutGrant(const std::string& account_id, uint64_t key_version) {
    ASSERT_OK(store_->Transact([&](store::Tx& tx) -> Status {
      core::OrgGrant g;
      g.org_id = org_.id;
      g.account_id = account_id;
      g.key_version = key_version;
      g.recovery_grant = crypto::RandomBytes(120);
      g.created_by = owner_.id;
      g.created_at = Now();
      return tx.PutGrant(g);
    }));
  }

  std::vector<core::OrgGrant> Grants() {
    std::vector<core::OrgGrant> grants;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(grants, tx.ListGrants(org_.id));
      return {};
    }));
    return grants;
  }

  // The owner's client: a new key pair, statement + 1 signed by the current
  // signing key, the new key sealed to the given members.
  RotationStart MakeRotation(const crypto::BoxKeyPair& new_key, std::vector<std::string> grantees) {
    RotationStart start;
    start.statement =
        SignStatement(org_, org_.statement_version + 1, new_key, org_.policy, org_.signer, Now());
    for (auto& id : grantees) {
      GrantUpload grant;
      grant.key_version = org_.key_version + 1;
      grant.recovery_grant =
          crypto::Seal(crypto::GenerateBoxKeyPair().public_key, crypto::RandomBytes(64));
      start.grants.push_back({std::move(id), std::move(grant)});
    }
    return start;
  }

  // Starts a rotation as the owner and moves the test's org to the new key;
  // returns the old key.
  crypto::BoxKeyPair Rotate() {
    auto new_key = crypto::GenerateBoxKeyPair();
    auto view = core().rotation.Start(owner_.caller(), org_.id,
                                      MakeRotation(new_key, {owner_.id, admin_.id}));
    EXPECT_OK(view);
    crypto::BoxKeyPair old = std::move(org_.key);
    org_.key = std::move(new_key);
    ++org_.key_version;
    ++org_.statement_version;
    return old;
  }

  // The admin's client re-wrapping one page.
  std::vector<RewrappedShare> Rewrapped(const RotationPage& page,
                                        const crypto::BoxKeyPair& old_key) {
    std::vector<RewrappedShare> shares;
    for (const auto& e : page.escrows) {
      auto share = protocol::ResealAdminShare(old_key, org_.key.public_key, e.admin_share, org_.id,
                                              e.account_id, e.epoch);
      EXPECT_TRUE(share.has_value());
      shares.push_back({e.account_id, e.epoch, e.key_version, *share});
    }
    return shares;
  }

  Person owner_;
  Person admin_;
  Person bob_;
  Person carol_;
  TestOrg org_;
};

TEST_F(RotationTest, FullRotation) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  ASSERT_OK(Enroll(org_, carol_, 1));
  crypto::BoxKeyPair old_key = Rotate();

  std::optional<core::Org> org;
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(org, tx.FindOrg(org_.id));
    return {};
  }));
  EXPECT_EQ(org->key_version, 2u);
  EXPECT_EQ(org->statement_version, 2u);
  EXPECT_EQ(org->recovery_public_key, org_.key.public_key);
  ASSERT_EQ(Events(org_, "key.rotated").size(), 1u);
  EXPECT_EQ(Events(org_, "key.rotated")[0].details.at("key_version"), "2");
  EXPECT_TRUE(Events(org_, "key.rotation_completed").empty());
  EXPECT_EQ(Grants().size(), 4u);  // old and new for the owner and the admin

  // New escrows go to the new key at once.
  EXPECT_ERROR(core().enrollment.Enroll(
                   bob_.caller(), org_.id, KeyFrom(3),
                   EscrowFor(org_.id, bob_.id, 2, 1, old_key.public_key, bob_.vault_key)),
               "org.key_version_mismatch");

  // Pages of one.
  auto page = core().rotation.Pending(admin_.caller(), org_.id, "", 1);
  ASSERT_OK(page);
  EXPECT_EQ(page->key_version, 2u);
  EXPECT_EQ(page->pending, 2);
  ASSERT_EQ(page->escrows.size(), 1u);
  auto next = core().rotation.Pending(admin_.caller(), org_.id, page->escrows[0].account_id, 1);
  ASSERT_OK(next);
  ASSERT_EQ(next->escrows.size(), 1u);
  EXPECT_NE(next->escrows[0].account_id, page->escrows[0].account_id);

  auto first = Rewrapped(*page, old_key);
  auto result = core().rotation.Rewrap(admin_.caller(), org_.id, first);
  ASSERT_OK(result);
  EXPECT_EQ(result->updated, 1);
  EXPECT_EQ(result->skipped, 0);
  EXPECT_EQ(result->pending, 1);
  // Idempotent: the same upload again is skipped.
  result = core().rotation.Rewrap(admin_.caller(), org_.id, first);
  ASSERT_OK(result);
  EXPECT_EQ(result->updated, 0);
  EXPECT_EQ(result->skipped, 1);
  EXPECT_TRUE(Events(org_, "key.rotation_completed").empty());

  result = core().rotation.Rewrap(admin_.caller(), org_.id, Rewrapped(*next, old_key));
  ASSERT_OK(result);
  EXPECT_EQ(result->updated, 1);
  EXPECT_EQ(result->pending, 0);
  // The old key is retired, once.
  ASSERT_EQ(Events(org_, "key.rotation_completed").size(), 1u);
  for (const auto& g : Grants()) EXPECT_EQ(g.key_version, 2u);
  EXPECT_EQ(Grants().size(), 2u);
  result = core().rotation.Rewrap(admin_.caller(), org_.id, first);
  ASSERT_OK(result);
  EXPECT_EQ(result->skipped, 1);
  EXPECT_EQ(Events(org_, "key.rotation_completed").size(), 1u);

  // The re-wrapped escrow opens with the new key and still yields the vault key.
  auto stored = StoredEscrow(org_, bob_);
  EXPECT_EQ(stored->key_version, 2u);
  auto a = protocol::OpenAdminShare(org_.key, stored->admin_share, org_.id, bob_.id, 1);
  auto u = protocol::OpenServerShare(*server_key_, stored->server_share, org_.id, bob_.id, 1);
  ASSERT_OK(a);
  ASSERT_OK(u);
  auto uk = protocol::RecoverVaultKey(*a, *u, stored->wrapped_vault_key, org_.id, bob_.id, 1);
  ASSERT_OK(uk);
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), bob_.vault_key.span()));

  // And a next rotation may start.
  Rotate();
  EXPECT_EQ(Events(org_, "key.rotated").size(), 2u);
}

// Faults at every step (issue 15, item 4): the store failing at any
// operation of the rotation's start, then of the re-wrap that completes it,
// leaves the organization as it was (key, grants, escrows, log); each retry
// finishes.
TEST_F(RotationTest, AFailureAtAnyStepOfStartOrRewrapChangesNothingAndARetryFinishes) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  auto new_key = crypto::GenerateBoxKeyPair();
  const RotationStart start = MakeRotation(new_key, {owner_.id, admin_.id});
  auto key_version = [&] {
    std::optional<core::Org> org;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(org, tx.FindOrg(org_.id));
      return {};
    }));
    return org ? org->key_version : 0;
  };
  int64_t n = 1;
  for (;; ++n) {
    failing_->FailAt(n);
    auto view = core().rotation.Start(owner_.caller(), org_.id, start);
    failing_->FailAt(0);
    if (view) break;
    ASSERT_LT(n, 500) << "the start never got through";
    EXPECT_EQ(view.error().code(), "store.error") << n;
    EXPECT_EQ(key_version(), 1u) << n;
    EXPECT_EQ(Grants().size(), 2u) << n;
    EXPECT_TRUE(Events(org_, "key.rotated").empty()) << n;
  }
  EXPECT_GT(n, 3);
  EXPECT_EQ(key_version(), 2u);
  EXPECT_EQ(Events(org_, "key.rotated").size(), 1u);
  crypto::BoxKeyPair old_key = std::move(org_.key);
  org_.key = std::move(new_key);
  ++org_.key_version;
  ++org_.statement_version;

  auto page = core().rotation.Pending(admin_.caller(), org_.id, "", 10);
  ASSERT_OK(page);
  ASSERT_EQ(page->escrows.size(), 1u);
  const auto shares = Rewrapped(*page, old_key);
  for (n = 1;; ++n) {
    failing_->FailAt(n);
    auto result = core().rotation.Rewrap(admin_.caller(), org_.id, shares);
    failing_->FailAt(0);
    if (result) {
      EXPECT_EQ(result->updated, 1);
      break;
    }
    ASSERT_LT(n, 500) << "the re-wrap never got through";
    EXPECT_EQ(result.error().code(), "store.error") << n;
    EXPECT_EQ(StoredEscrow(org_, bob_)->key_version, 1u) << n;
    EXPECT_EQ(Grants().size(), 4u) << n;
    EXPECT_TRUE(Events(org_, "key.rotation_completed").empty()) << n;
  }
  EXPECT_GT(n, 3);
  EXPECT_EQ(StoredEscrow(org_, bob_)->key_version, 2u);
  EXPECT_EQ(Grants().size(), 2u);
  EXPECT_EQ(Events(org_, "key.rotation_completed").size(), 1u);
}

TEST_F(RotationTest, ReEnrollmentDuringRotationIsSkipped) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  crypto::BoxKeyPair old_key = Rotate();
  auto page = core().rotation.Pending(owner_.caller(), org_.id, "", 500);
  ASSERT_OK(page);
  ASSERT_EQ(page->escrows.size(), 1u);
  // Bob re-enrolls under the new key before the admin's upload arrives.
  ASSERT_OK(Enroll(org_, bob_, 2));
  auto fresh = StoredEscrow(org_, bob_);
  auto result = core().rotation.Rewrap(owner_.caller(), org_.id, Rewrapped(*page, old_key));
  ASSERT_OK(result);
  EXPECT_EQ(result->updated, 0);
  EXPECT_EQ(result->skipped, 1);
  EXPECT_EQ(result->pending, 0);
  EXPECT_EQ(StoredEscrow(org_, bob_), fresh);
  EXPECT_EQ(Events(org_, "key.rotation_completed").size(), 1u);
}

TEST_F(RotationTest, SharesNotBelowTheCurrentKeyAreSkipped) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  Rotate();
  ASSERT_OK(Enroll(org_, carol_, 1));  // under key 2
  auto before = StoredEscrow(org_, carol_);
  auto result = core().rotation.Rewrap(owner_.caller(), org_.id,
                                       {{carol_.id, 1, 2, crypto::RandomBytes(120)}});
  ASSERT_OK(result);
  EXPECT_EQ(result->skipped, 1);
  EXPECT_EQ(StoredEscrow(org_, carol_), before);
}

TEST_F(RotationTest, AnotherRotationWaitsForThePendingOne) {
  ASSERT_OK(Enroll(org_, bob_, 1));
  Rotate();
  auto again = MakeRotation(crypto::GenerateBoxKeyPair(), {owner_.id});
  EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id, again), "org.rotation_in_progress");
  // Bob withdrawing empties the queue: the old key retires at the next call.
  ASSERT_OK(core().enrollment.Withdraw(bob_.caller(), org_.id, KeyFrom(3)));
  ASSERT_OK(core().rotation.Start(owner_.caller(), org_.id, again));
  // Key 1 retired first, then key 2 at once (no escrow left to re-wrap).
  auto completed = Events(org_, "key.rotation_completed");
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_EQ(completed[0].details.at("key_version"), "2");
  EXPECT_EQ(completed[1].details.at("key_version"), "3");
}

TEST_F(RotationTest, WithoutEscrowsTheRotationCompletesAtOnce) {
  Rotate();
  EXPECT_EQ(Events(org_, "key.rotation_completed").size(), 1u);
  EXPECT_EQ(Grants().size(), 2u);
  auto page = core().rotation.Pending(owner_.caller(), org_.id, "", 500);
  ASSERT_OK(page);
  EXPECT_EQ(page->pending, 0);
  EXPECT_TRUE(page->escrows.empty());
}

TEST_F(RotationTest, Refusals) {
  auto new_key = crypto::GenerateBoxKeyPair();
  // Users and custom members do not rotate.
  EXPECT_ERROR(core().rotation.Start(bob_.caller(), org_.id, MakeRotation(new_key, {bob_.id})),
               "org.forbidden");
  EXPECT_ERROR(core().rotation.Pending(bob_.caller(), org_.id, "", 10), "org.forbidden");
  // The same pk_org is not a rotation.
  EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id, MakeRotation(org_.key, {owner_.id})),
               "org.key_mismatch");
  // The policy stays.
  {
    auto start = MakeRotation(new_key, {owner_.id});
    start.statement =
        SignStatement(org_, 2, new_key, MakePolicy(Enrollment::kMandatory), org_.signer, Now());
    EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id, start), "org.invalid_policy");
  }
  // Signed by another key, or not the next version.
  {
    auto start = MakeRotation(new_key, {owner_.id});
    start.statement =
        SignStatement(org_, 2, new_key, org_.policy, crypto::GenerateSignKeyPair(), Now());
    EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id, start), "org.signature_invalid");
    start.statement = SignStatement(org_, 3, new_key, org_.policy, org_.signer, Now());
    EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id, start), "org.statement_version");
  }
  // The caller keeps the key; grants only for recovery admins, at the new version.
  EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id, MakeRotation(new_key, {admin_.id})),
               "request.invalid_field");
  EXPECT_ERROR(
      core().rotation.Start(owner_.caller(), org_.id, MakeRotation(new_key, {owner_.id, bob_.id})),
      "org.not_recovery_admin");
  EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id,
                                     MakeRotation(new_key, {owner_.id, "not-a-member"})),
               "org.member_not_found");
  {
    auto start = MakeRotation(new_key, {owner_.id});
    start.grants[0].grant.key_version = 1;
    EXPECT_ERROR(core().rotation.Start(owner_.caller(), org_.id, start),
                 "org.key_version_mismatch");
  }
  EXPECT_TRUE(Events(org_, "key.rotated").empty());
  EXPECT_ERROR(core().rotation.Pending(owner_.caller(), org_.id, "", 0), "request.invalid_field");
}

}  // namespace
}  // namespace keyward::core::testing
