#include "core/accounts.h"

#include "core/core_test_fixture.h"

namespace keyward::core::testing {
namespace {

constexpr char kAnn[] = "ann@example.com";
constexpr char kFrom[] = "192.0.2.1";  // MakeRegistration's remote address

class AccountsTest : public CoreTest {};

TEST_F(AccountsTest, RegisterMailsASixDigitCodeAndVerifyActivates) {
  ASSERT_OK(RegisterNow(MakeRegistration("  Ann@Example.COM ")));
  auto sent = mailer_.Sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to, kAnn);
  auto code = mailer_.LastCodeFor(kAnn);
  ASSERT_TRUE(code);
  EXPECT_EQ(code->size(), 6u);
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn)), "account.unverified");
  ASSERT_OK(core().accounts.Verify("ANN@example.com", *code, kFrom));
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn)));
}

TEST_F(AccountsTest, CodeWorksOnce) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  auto code = *mailer_.LastCodeFor(kAnn);
  ASSERT_OK(core().accounts.Verify(kAnn, code, kFrom));
  EXPECT_ERROR(core().accounts.Verify(kAnn, code, kFrom), "verify.invalid_code");
}

TEST_F(AccountsTest, CodeExpiresAfterTenMinutes) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  auto code = *mailer_.LastCodeFor(kAnn);
  clock_.Advance(10 * 60);
  EXPECT_ERROR(core().accounts.Verify(kAnn, code, kFrom), "verify.invalid_code");
}

TEST_F(AccountsTest, CodeDiesAfterFiveWrongTries) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  auto code = *mailer_.LastCodeFor(kAnn);
  std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < 5; ++i) {
    EXPECT_ERROR(core().accounts.Verify(kAnn, wrong, kFrom), "verify.invalid_code");
  }
  EXPECT_ERROR(core().accounts.Verify(kAnn, code, kFrom), "verify.invalid_code");
  // A resent code starts afresh.
  ASSERT_OK(core().accounts.Resend(kAnn, "192.0.2.1"));
  auto fresh = *mailer_.LastCodeFor(kAnn);
  ASSERT_OK(core().accounts.Verify(kAnn, fresh, kFrom));
}

TEST_F(AccountsTest, FourWrongTriesThenRightCodeWorks) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  auto code = *mailer_.LastCodeFor(kAnn);
  std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < 4; ++i) {
    EXPECT_ERROR(core().accounts.Verify(kAnn, wrong, kFrom), "verify.invalid_code");
  }
  ASSERT_OK(core().accounts.Verify(kAnn, code, kFrom));
}

// Issue 10, item 2: resends and wrong codes from a stranger's address used
// to replace and then kill the registrant's code, and use up the email's
// allowance so that the registrant's own resend sent nothing.
TEST_F(AccountsTest, AStrangerCannotKillTheRegistrantsCode) {
  constexpr char kStranger[] = "203.0.113.66";
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  const std::string code = *mailer_.LastCodeFor(kAnn);
  for (int round = 0; round < 5; ++round) {
    (void)core().accounts.Resend(kAnn, kStranger);
    for (int i = 0; i < 5; ++i) (void)core().accounts.Verify(kAnn, "000000", kStranger);
  }
  ASSERT_OK(core().accounts.Verify(kAnn, code, kFrom));
}

TEST_F(AccountsTest, TheRegistrantsResendIsNotSpentByAStranger) {
  constexpr char kStranger[] = "203.0.113.66";
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  for (int i = 0; i < 6; ++i) (void)core().accounts.Resend(kAnn, kStranger);
  const size_t mails = mailer_.Sent().size();
  ASSERT_OK(core().accounts.Resend(kAnn, kFrom));
  ASSERT_EQ(mailer_.Sent().size(), mails + 1);
  ASSERT_OK(core().accounts.Verify(kAnn, *mailer_.LastCodeFor(kAnn), kFrom));
}

// When no code can be sent, the answer says so and for how long; the same
// answer after the same count for a verified, an unverified and an unknown
// email.
TEST_F(AccountsTest, ResendSaysWhenNoCodeCanBeSentTheSameForEveryEmail) {
  CreateAccount("bob@example.com");
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  clock_.Set((clock_.NowUnix() / 3600 + 1) * 3600 + 3000);  // 10 minutes left in the hour
  std::vector<std::string> messages;
  for (const std::string& email :
       {std::string(kAnn), std::string("bob@example.com"), std::string("nobody@example.com")}) {
    for (int i = 0; i < 5; ++i) ASSERT_OK(core().accounts.Resend(email, kFrom));
    auto spent = core().accounts.Resend(email, kFrom);
    EXPECT_ERROR(spent, "verify.code_limit");
    if (!spent) messages.push_back(spent.error().message());
  }
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0], messages[1]);
  EXPECT_EQ(messages[0], messages[2]);
  EXPECT_NE(messages[0].find("10 minutes"), std::string::npos) << messages[0];
  ASSERT_OK(core().accounts.Verify(kAnn, *mailer_.LastCodeFor(kAnn), kFrom));  // still valid
}

TEST_F(AccountsTest, WrongVerifyCodesPerAddressAreCapped) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  for (int i = 0; i < 20; ++i) {
    EXPECT_ERROR(core().accounts.Verify("n" + std::to_string(i) + "@example.com", "000000", kFrom),
                 "verify.invalid_code");
  }
  EXPECT_ERROR(core().accounts.Verify(kAnn, *mailer_.LastCodeFor(kAnn), kFrom),
               "request.rate_limited");
}

TEST_F(AccountsTest, UnknownEmailVerifyIsTheSameError) {
  EXPECT_ERROR(core().accounts.Verify("nobody@example.com", "123456", kFrom),
               "verify.invalid_code");
  EXPECT_ERROR(core().accounts.Verify("not an email", "123456", kFrom), "verify.invalid_code");
}

TEST_F(AccountsTest, RegisteringAnExistingEmailAnswersTheSameAndNotifiesTheOwner) {
  std::string id = CreateAccount(kAnn);
  size_t before = mailer_.Sent().size();
  Registration again = MakeRegistration("ANN@example.com", 9);
  ASSERT_OK(RegisterNow(again));
  auto sent = mailer_.Sent();
  ASSERT_EQ(sent.size(), before + 1);
  EXPECT_EQ(sent.back().to, kAnn);
  EXPECT_NE(sent.back().subject.find("tried to register"), std::string::npos);
  EXPECT_FALSE(mailer_.LastCodeFor(kAnn));  // a notice carries no code
  // Nothing changed: the old key still logs in, the new one does not.
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn, 1)));
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 9)), "auth.invalid_credentials");
}

TEST_F(AccountsTest, UnverifiedRegistrationIsReplaced) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn, 1)));
  Registration second = MakeRegistration(kAnn, 2);
  ASSERT_OK(RegisterNow(second));
  ASSERT_OK(core().accounts.Verify(kAnn, *mailer_.LastCodeFor(kAnn), kFrom));
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 1)), "auth.invalid_credentials");
  auto login = core().sessions.Login(MakeLogin(kAnn, 2));
  ASSERT_OK(login);
  EXPECT_EQ(login->account.id, second.id);
}

TEST_F(AccountsTest, AccountIdCollision) {
  Registration first = MakeRegistration(kAnn);
  ASSERT_OK(RegisterNow(first));
  Registration second = MakeRegistration("bob@example.com");
  second.id = first.id;
  // Answered like any registration; stored it is not (a client draws 16
  // random bytes: a collision is a bug or an attack), and nothing is mailed.
  ASSERT_OK(RegisterNow(second));
  EXPECT_FALSE(mailer_.LastCodeFor("bob@example.com"));
  ASSERT_OK(core().accounts.Verify(kAnn, *mailer_.LastCodeFor(kAnn), kFrom));
}

TEST_F(AccountsTest, RegisterValidatesInput) {
  EXPECT_ERROR(RegisterNow(MakeRegistration("ann@@example.com")), "account.invalid_email");
  Registration weak = MakeRegistration(kAnn);
  config_.kdf_minimum = crypto::kDefaultKdf;
  Rebuild();
  EXPECT_ERROR(RegisterNow(weak), "kdf.too_weak");
  Registration bad_id = MakeRegistration(kAnn);
  bad_id.id = "short";
  EXPECT_ERROR(RegisterNow(bad_id), "request.invalid_field");
  Registration bad_salt = MakeRegistration(kAnn);
  bad_salt.kdf = crypto::kDefaultKdf;
  bad_salt.salt.resize(8);
  EXPECT_ERROR(RegisterNow(bad_salt), "request.invalid_field");
  EXPECT_TRUE(mailer_.Sent().empty());
}

// Mail down: the answer is the same (it never depends on the email); the
// registration is kept and a resend once mail works lets it finish.
TEST_F(AccountsTest, MailFailureOnRegisterAnswersTheSame) {
  mailer_.SetFailing(true);
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  EXPECT_FALSE(mailer_.LastCodeFor(kAnn));
  mailer_.SetFailing(false);
  ASSERT_OK(core().accounts.Resend(kAnn, "192.0.2.1"));
  ASSERT_OK(core().accounts.Verify(kAnn, *mailer_.LastCodeFor(kAnn), kFrom));
}

TEST_F(AccountsTest, ResendAnswersTheSameWhateverTheState) {
  CreateAccount(kAnn);
  size_t before = mailer_.Sent().size();
  ASSERT_OK(core().accounts.Resend(kAnn, "192.0.2.1"));
  ASSERT_OK(core().accounts.Resend("nobody@example.com", "192.0.2.1"));
  EXPECT_EQ(mailer_.Sent().size(), before);  // nothing to send to either
}

// Resent codes: 5 per (address, email) an hour, then the answer says so
// (it used to answer the same 202 without an email).
TEST_F(AccountsTest, MailsPerAddressAreLimited) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  for (int i = 0; i < 5; ++i) ASSERT_OK(core().accounts.Resend(kAnn, "192.0.2.1"));
  EXPECT_ERROR(core().accounts.Resend(kAnn, "192.0.2.1"), "verify.code_limit");
  EXPECT_EQ(mailer_.Sent().size(), 6u);  // the registration's code and 5 more
  clock_.Advance(3600);
  ASSERT_OK(core().accounts.Resend(kAnn, "192.0.2.1"));
  EXPECT_EQ(mailer_.Sent().size(), 7u);
}

TEST_F(AccountsTest, RegistrationsPerRemoteAddressAreLimited) {
  for (int i = 0; i < config_.register_max_per_address; ++i) {
    ASSERT_OK(RegisterNow(MakeRegistration("u" + std::to_string(i) + "@example.com")));
  }
  EXPECT_ERROR(RegisterNow(MakeRegistration("late@example.com")), "request.rate_limited");
  Registration other = MakeRegistration("late@example.com");
  other.remote_address = "192.0.2.99";
  ASSERT_OK(RegisterNow(other));
}

TEST_F(AccountsTest, PreloginDoesNotRevealExistence) {
  Registration r = MakeRegistration(kAnn);
  ASSERT_OK(RegisterNow(r));
  auto known = core().accounts.Prelogin("ANN@example.com");
  ASSERT_OK(known);
  EXPECT_EQ(known->salt, r.salt);
  EXPECT_EQ(known->kdf.ops, r.kdf.ops);
  auto unknown = core().accounts.Prelogin("nobody@example.com");
  ASSERT_OK(unknown);
  EXPECT_EQ(unknown->salt.size(), 16u);
  EXPECT_EQ(unknown->kdf.ops, config_.kdf_default.ops);
  EXPECT_EQ(unknown->kdf.mem, config_.kdf_default.mem);
  auto again = core().accounts.Prelogin(" Nobody@Example.com");
  ASSERT_OK(again);
  EXPECT_EQ(again->salt, unknown->salt);  // stable per email
  auto other = core().accounts.Prelogin("other@example.com");
  ASSERT_OK(other);
  EXPECT_NE(other->salt, unknown->salt);
  // H(pepper2, lowercase(email)), first 16 bytes.
  auto pepper2 = crypto::Sub(secret_.span(), 2, "KWserver");
  std::string email = "nobody@example.com";
  auto expected = crypto::Hash(
      pepper2.span(), std::span(reinterpret_cast<const uint8_t*>(email.data()), email.size()));
  expected.resize(16);
  EXPECT_EQ(unknown->salt, expected);
}

PasswordChange MakeChange(uint8_t old_tag, uint8_t new_tag) {
  PasswordChange c;
  c.auth_key = KeyFrom(old_tag);
  c.new_kdf = crypto::kTestKdf;
  c.new_salt = crypto::RandomBytes(16);
  c.new_auth_key = KeyFrom(new_tag);
  c.new_wrapped_vault_key = crypto::RandomBytes(72);
  return c;
}

TEST_F(AccountsTest, ChangePasswordRevokesOtherSessionsAndMails) {
  CreateAccount(kAnn);
  auto laptop = SignIn(kAnn, 1, "laptop");
  auto phone = SignIn(kAnn, 1, "phone");
  PasswordChange change = MakeChange(1, 2);
  ASSERT_OK(core().accounts.ChangePassword(laptop.caller, change));
  EXPECT_TRUE(IsSignedIn(laptop));
  EXPECT_FALSE(IsSignedIn(phone));
  EXPECT_NE(mailer_.Sent().back().subject.find("master password was changed"), std::string::npos);
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 1)), "auth.invalid_credentials");
  auto login = core().sessions.Login(MakeLogin(kAnn, 2));
  ASSERT_OK(login);
  EXPECT_EQ(login->account.salt, change.new_salt);
  EXPECT_EQ(login->account.wrapped_vault_key, change.new_wrapped_vault_key);
}

TEST_F(AccountsTest, ChangePasswordChecksCurrentKeyAndKdf) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  EXPECT_ERROR(core().accounts.ChangePassword(s.caller, MakeChange(7, 2)),
               "auth.invalid_credentials");
  config_.kdf_minimum = crypto::KdfParams{2, 1 << 20};
  Rebuild();
  EXPECT_ERROR(core().accounts.ChangePassword(s.caller, MakeChange(1, 2)), "kdf.too_weak");
  // Nothing changed.
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn, 1)));
}

TEST_F(AccountsTest, DeleteAccountRemovesEverythingAndFreesTheEmail) {
  std::string id = CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  ASSERT_OK(core().items.Create(s.caller, "item1", store::Bytes(50, 1)));
  EXPECT_ERROR(core().accounts.Delete(s.caller, KeyFrom(8)), "auth.invalid_credentials");
  ASSERT_OK(core().accounts.Delete(s.caller, KeyFrom(1)));
  EXPECT_FALSE(IsSignedIn(s));
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn)), "auth.invalid_credentials");
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    auto items = tx.ListItems(id);
    auto devices = tx.ListDevices(id);
    if (!items || !devices) return Fail(Internal());
    EXPECT_TRUE(items->empty());
    EXPECT_TRUE(devices->empty());
    return {};
  }));
  std::string new_id = CreateAccount(kAnn, 5);
  EXPECT_NE(new_id, id);
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn, 5)));
}

// Every store operation of a registration fails in turn: the per-address
// check before the answer makes a clean error; the registration after it
// (core/deferred.h) is all or nothing and mails only what it stored.
TEST_F(AccountsTest, FailingStoreLeavesNothingHalfWritten) {
  Registration r = MakeRegistration(kAnn);
  failing_->FailAt(0);
  ASSERT_OK(RegisterNow(r));
  const int64_t ops = failing_->Operations();
  ASSERT_GT(ops, 3);
  for (int64_t n = 1; n <= ops; ++n) {
    auto fresh = store::Open("sqlite::memory:");
    ASSERT_OK(fresh);
    store_ = std::move(*fresh);
    failing_ = std::make_unique<keyward::testing::FailingStore>(*store_, n);
    Rebuild();
    size_t mails_before = mailer_.Sent().size();
    auto result = RegisterNow(r);
    if (!result) {
      EXPECT_EQ(result.error().code(), "store.error");
      EXPECT_EQ(result.error().message().find(kAnn), std::string::npos);
    }
    EXPECT_EQ(mailer_.Sent().size(), mails_before);
    ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
      auto account = tx.FindAccountById(r.id);
      auto code = tx.FindEmailCode(kRegisterPurpose, VerifyCodeSubject(kAnn, kFrom));
      if (!account || !code) return Fail(Internal());
      EXPECT_FALSE(account->has_value()) << "operation " << n;
      EXPECT_FALSE(code->has_value()) << "operation " << n;
      return {};
    }));
  }
}

TEST_F(AccountsTest, FailingStoreDuringPasswordChangeKeepsTheOldPassword) {
  CreateAccount(kAnn);
  auto a = SignIn(kAnn, 1, "a");
  auto b = SignIn(kAnn, 1, "b");
  PasswordChange change = MakeChange(1, 2);
  for (int64_t n = 1; n <= 6; ++n) {
    failing_->FailAt(n);
    auto result = core().accounts.ChangePassword(a.caller, change);
    if (result) break;  // n is past the last operation: done
    EXPECT_EQ(result.error().code(), "store.error");
    failing_->FailAt(0);
    EXPECT_TRUE(IsSignedIn(b)) << "operation " << n;
    ASSERT_OK(core().sessions.Login(MakeLogin(kAnn, 1, "c")));
  }
}

}  // namespace
}  // namespace keyward::core::testing
