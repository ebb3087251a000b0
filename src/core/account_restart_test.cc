#include "core/account_restart.h"

#include <gtest/gtest.h>

#include "core/recovery_test_fixture.h"

namespace keyward::core::testing {
namespace {

class AccountRestartTest : public RecoveryTest {
 protected:
  RestartMaterial Material(uint8_t key_tag = 9) {
    RestartMaterial m;
    m.kdf = crypto::kTestKdf;
    m.salt = crypto::RandomBytes(crypto::kSaltSize);
    m.auth_key = KeyFrom(key_tag);
    m.wrapped_vault_key = crypto::RandomBytes(72);
    m.public_key = crypto::RandomBytes(32);
    m.wrapped_private_key = crypto::RandomBytes(72);
    return m;
  }

  // The emailed code → the ticket.
  RestartTicket Ticket(const std::string& email) {
    EXPECT_OK(core().restart.Ask(email, "192.0.2.1"));
    core().WaitForBackgroundWork();
    auto code = mailer_.LastCodeFor(email);
    EXPECT_TRUE(code.has_value());
    auto t = core().restart.Verify(email, code.value_or(""), "192.0.2.1");
    EXPECT_OK(t);
    return t ? std::move(*t) : RestartTicket{};
  }

  std::vector<core::Escrow> EscrowsOf(const std::string& account_id) {
    std::vector<core::Escrow> out;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(out, tx.ListEscrowsOfAccount(account_id));
      return {};
    }));
    return out;
  }
};

TEST_F(AccountRestartTest, ANewEmptyVaultForTheSameAccountAndMemberships) {
  Person ann = MakePerson("ann@example.com");
  TestOrg org = CreateOrg(ann, MakePolicy(protocol::Enrollment::kOptIn));
  ASSERT_OK(core().items.Create(ann.caller(), "bank", store::Bytes(60, 1)));
  ASSERT_OK(store_->Transact([&](store::Tx& tx) -> Status {
    KW_TRY(tx.PutEscrow({org.id, ann.id, 1, 1, crypto::RandomBytes(72), crypto::RandomBytes(80),
                         crypto::RandomBytes(80), Now(), Now(), "dual-control"}));
    return tx.PutGrant({org.id, ann.id, 1, crypto::RandomBytes(90), {}, ann.id, Now()});
  }));
  auto before = core().accounts.Get(ann.caller());
  ASSERT_OK(before);
  RememberDevice(ann.id, "laptop");
  SignedIn phone = SignIn(ann.email, ann.key_tag, "phone");
  RememberDevice(ann.id, "phone");

  RestartTicket t = Ticket("ann@example.com");
  EXPECT_EQ(t.account_id, ann.id);
  const RestartMaterial m = Material();
  ASSERT_OK(core().restart.Complete(t.ticket.span(), m, "192.0.2.1"));

  // Old sessions dead, devices inactive and no longer trusted, the old key
  // refused, the new one works.
  EXPECT_FALSE(IsSignedIn(ann.session));
  EXPECT_FALSE(IsSignedIn(phone));
  EXPECT_EQ(RememberedDevices(ann.id), 0u);
  EXPECT_EQ(core().sessions.Login(MakeLogin("ann@example.com", ann.key_tag)).error().code(),
            "auth.invalid_credentials");
  SignedIn again = SignIn("ann@example.com", 9, "new-laptop");
  auto account = core().accounts.Get(again.caller);
  ASSERT_OK(account);
  EXPECT_EQ(account->id, ann.id);
  EXPECT_EQ(account->wrapped_vault_key, m.wrapped_vault_key);
  EXPECT_EQ(account->public_key, m.public_key);
  EXPECT_NE(account->wrapped_vault_key, before->wrapped_vault_key);
  // Nothing of the old vault is left to read: no item, no escrow, no grant.
  auto items = core().items.List(again.caller);
  ASSERT_OK(items);
  EXPECT_TRUE(items->empty());
  EXPECT_TRUE(EscrowsOf(ann.id).empty());
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto grant, tx.FindGrant(org.id, ann.id, 1));
    EXPECT_FALSE(grant.has_value());
    // The membership is kept.
    KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(org.id, ann.id));
    EXPECT_TRUE(member.has_value() && member->status == MemberStatus::kActive);
    return {};
  }));
  auto devices = core().devices.List(again.caller);
  ASSERT_OK(devices);
  for (const auto& d : *devices) EXPECT_EQ(d.active, d.id == "new-laptop") << d.id;
  // The ticket works once; the owner is told.
  EXPECT_EQ(core().restart.Complete(t.ticket.span(), Material(10), "192.0.2.1").error().code(),
            "account.invalid_ticket");
  bool told = false;
  for (const auto& mail : mailer_.Sent())
    told |= mail.subject.find("started over") != std::string::npos;
  EXPECT_TRUE(told);
}

TEST_F(AccountRestartTest, AnUnknownEmailGetsTheSameAnswerAndNoTicket) {
  const size_t sent = mailer_.Sent().size();
  ASSERT_OK(core().restart.Ask("nobody@example.com", "192.0.2.1"));
  core().WaitForBackgroundWork();
  EXPECT_EQ(mailer_.Sent().size(), sent);
  EXPECT_EQ(core().restart.Verify("nobody@example.com", "123456", "192.0.2.1").error().code(),
            "account.invalid_code");
}

TEST_F(AccountRestartTest, AWrongCodeIsCountedAndTheCodeDiesAfterFiveTries) {
  Person ann = MakePerson("ann@example.com");
  ASSERT_OK(core().restart.Ask("ann@example.com", "192.0.2.1"));
  core().WaitForBackgroundWork();
  auto code = mailer_.LastCodeFor("ann@example.com");
  ASSERT_TRUE(code);
  const std::string wrong = *code == "000000" ? "111111" : "000000";
  for (int i = 0; i < config_.code_max_attempts; ++i) {
    EXPECT_EQ(core().restart.Verify("ann@example.com", wrong, "192.0.2.1").error().code(),
              "account.invalid_code");
  }
  EXPECT_EQ(core().restart.Verify("ann@example.com", *code, "192.0.2.1").error().code(),
            "account.invalid_code");
  // A code asked from one address does not work from another.
  ASSERT_OK(core().restart.Ask("ann@example.com", "192.0.2.1"));
  core().WaitForBackgroundWork();
  auto fresh = mailer_.LastCodeFor("ann@example.com");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(core().restart.Verify("ann@example.com", *fresh, "198.51.100.1").error().code(),
            "account.invalid_code");
  EXPECT_OK(core().restart.Verify("ann@example.com", *fresh, "192.0.2.1"));
}

// One transaction: a store failing at any step leaves the old vault as it
// was (items, sessions, password) and the ticket usable; the retry finishes.
TEST_F(AccountRestartTest, AFailureAtAnyStepChangesNothing) {
  Person ann = MakePerson("ann@example.com");
  ASSERT_OK(core().items.Create(ann.caller(), "bank", store::Bytes(60, 1)));
  RestartTicket t = Ticket("ann@example.com");
  const RestartMaterial m = Material();
  int64_t n = 1;
  for (;; ++n) {
    failing_->FailAt(n);
    auto s = core().restart.Complete(t.ticket.span(), m, "192.0.2.1");
    failing_->FailAt(0);
    if (s) break;
    EXPECT_TRUE(IsSignedIn(ann.session)) << n;
    auto items = core().items.List(ann.caller());
    ASSERT_OK(items);
    EXPECT_EQ(items->size(), 1u) << n;
    ASSERT_LT(n, 100);
  }
  EXPECT_GT(n, 5);
  EXPECT_FALSE(IsSignedIn(ann.session));
}

}  // namespace
}  // namespace keyward::core::testing
