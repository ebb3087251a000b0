#include "core/sessions.h"

#include "core/core_test_fixture.h"

namespace keyward::core::testing {
namespace {

constexpr char kAnn[] = "ann@example.com";

class SessionsTest : public CoreTest {};

TEST_F(SessionsTest, LoginReturnsATokenBoundToTheDevice) {
  std::string id = CreateAccount(kAnn);
  auto login = core().sessions.Login(MakeLogin(kAnn));
  ASSERT_OK(login);
  EXPECT_EQ(login->token.size(), 32u);
  EXPECT_EQ(login->device_id, "laptop");
  EXPECT_EQ(login->account.id, id);
  EXPECT_EQ(login->expires_at, clock_.NowUnix() + config_.session_ttl_seconds);
  auto caller = core().sessions.Authenticate(login->token.span(), "192.0.2.1");
  ASSERT_OK(caller);
  EXPECT_EQ(caller->account_id, id);
  EXPECT_EQ(caller->device_id, "laptop");
  // Only the hash of the token is stored.
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    auto raw = tx.FindSession(login->token.span());
    if (!raw) return Fail(raw.error());
    EXPECT_FALSE(raw->has_value());
    return {};
  }));
}

TEST_F(SessionsTest, FirstLoginFromADeviceIsMailedOnce) {
  CreateAccount(kAnn);
  size_t before = mailer_.Sent().size();
  SignIn(kAnn, 1, "laptop");
  ASSERT_EQ(mailer_.Sent().size(), before + 1);
  EXPECT_EQ(mailer_.Sent().back().subject, "New device signed in to Keyward");
  EXPECT_NE(mailer_.Sent().back().body.find("Ann's laptop"), std::string::npos);
  SignIn(kAnn, 1, "laptop");
  EXPECT_EQ(mailer_.Sent().size(), before + 1);
  SignIn(kAnn, 1, "phone");
  EXPECT_EQ(mailer_.Sent().size(), before + 2);
}

TEST_F(SessionsTest, WrongKeyAndUnknownEmailGetTheSameAnswer) {
  CreateAccount(kAnn);
  auto wrong = core().sessions.Login(MakeLogin(kAnn, 2));
  auto unknown = core().sessions.Login(MakeLogin("nobody@example.com", 1));
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().code(), "auth.invalid_credentials");
  EXPECT_EQ(unknown.error().code(), wrong.error().code());
  EXPECT_EQ(unknown.error().message(), wrong.error().message());
}

TEST_F(SessionsTest, UnverifiedIsOnlyToldAfterTheKeyChecksOut) {
  ASSERT_OK(RegisterNow(MakeRegistration(kAnn)));
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 2)), "auth.invalid_credentials");
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 1)), "account.unverified");
}

TEST_F(SessionsTest, AccountLocksAfterFiveFailuresAndUnlocksLater) {
  CreateAccount(kAnn);
  for (int i = 0; i < 5; ++i) {
    EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 2)), "auth.invalid_credentials");
  }
  // Locked: even the right key is refused, from any address.
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 1)), "auth.rate_limited");
  auto elsewhere = MakeLogin(kAnn, 1);
  elsewhere.remote_address = "198.51.100.7";
  EXPECT_ERROR(core().sessions.Login(elsewhere), "auth.rate_limited");
  clock_.Advance(config_.login_lockout_seconds - 1);
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 1)), "auth.rate_limited");
  clock_.Advance(1);
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn, 1)));
}

TEST_F(SessionsTest, UnknownEmailLocksLikeAKnownOne) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_ERROR(core().sessions.Login(MakeLogin("nobody@example.com", 2)),
                 "auth.invalid_credentials");
  }
  EXPECT_ERROR(core().sessions.Login(MakeLogin("nobody@example.com", 2)), "auth.rate_limited");
}

TEST_F(SessionsTest, SuccessResetsTheAccountFailureCount) {
  CreateAccount(kAnn);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 2)), "auth.invalid_credentials");
    }
    auto other = MakeLogin(kAnn, 1);
    other.remote_address = "198.51.100." + std::to_string(round);
    ASSERT_OK(core().sessions.Login(other));
  }
}

TEST_F(SessionsTest, AddressIsLimitedAcrossAccounts) {
  CreateAccount(kAnn);
  for (int i = 0; i < config_.login_max_failures_per_address; ++i) {
    EXPECT_ERROR(core().sessions.Login(MakeLogin("u" + std::to_string(i) + "@example.com", 2)),
                 "auth.invalid_credentials");
  }
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn, 1)), "auth.rate_limited");
  auto elsewhere = MakeLogin(kAnn, 1);
  elsewhere.remote_address = "198.51.100.7";
  ASSERT_OK(core().sessions.Login(elsewhere));
  clock_.Advance(config_.login_window_seconds);
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn, 1)));
}

TEST_F(SessionsTest, SessionExpires) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  clock_.Advance(config_.session_ttl_seconds - 1);
  EXPECT_TRUE(IsSignedIn(s));
  clock_.Advance(1);
  EXPECT_FALSE(IsSignedIn(s));
  EXPECT_ERROR(core().sessions.Authenticate(s.token.span(), ""), "auth.required");
}

TEST_F(SessionsTest, LogoutEndsOnlyThatSession) {
  CreateAccount(kAnn);
  auto a = SignIn(kAnn);
  auto b = SignIn(kAnn);
  ASSERT_OK(core().sessions.Logout(a.caller));
  EXPECT_FALSE(IsSignedIn(a));
  EXPECT_TRUE(IsSignedIn(b));
}

TEST_F(SessionsTest, GarbageTokensAreRejected) {
  EXPECT_ERROR(core().sessions.Authenticate(store::Bytes(32, 0), ""), "auth.required");
  EXPECT_ERROR(core().sessions.Authenticate(store::Bytes(5, 0), ""), "auth.required");
}

TEST_F(SessionsTest, DeactivatingADeviceEndsItsSessionsAtOnce) {
  CreateAccount(kAnn);
  auto laptop = SignIn(kAnn, 1, "laptop");
  auto phone = SignIn(kAnn, 1, "phone");
  ASSERT_OK(core().devices.Deactivate(laptop.caller, "phone"));
  EXPECT_FALSE(IsSignedIn(phone));
  EXPECT_TRUE(IsSignedIn(laptop));
  EXPECT_ERROR(core().devices.Deactivate(laptop.caller, "tablet"), "device.not_found");
  // Signing in again with the master password reactivates it, with a notice.
  size_t before = mailer_.Sent().size();
  auto again = SignIn(kAnn, 1, "phone");
  EXPECT_TRUE(IsSignedIn(again));
  EXPECT_EQ(mailer_.Sent().size(), before + 1);
}

TEST_F(SessionsTest, LoginValidatesTheDevice) {
  CreateAccount(kAnn);
  auto bad_type = MakeLogin(kAnn);
  bad_type.device.type = "toaster";
  EXPECT_ERROR(core().sessions.Login(bad_type), "request.invalid_field");
  auto bad_id = MakeLogin(kAnn);
  bad_id.device.id = "has space";
  EXPECT_ERROR(core().sessions.Login(bad_id), "request.invalid_field");
  auto bad_name = MakeLogin(kAnn);
  bad_name.device.name = "line\nbreak";
  EXPECT_ERROR(core().sessions.Login(bad_name), "request.invalid_field");
}

TEST_F(SessionsTest, FailingStoreDuringLoginCreatesNoSession) {
  std::string id = CreateAccount(kAnn);
  for (int64_t n = 1; n <= 20; ++n) {
    failing_->FailAt(n);
    auto result = core().sessions.Login(MakeLogin(kAnn, 1, "dev" + std::to_string(n)));
    failing_->FailAt(0);
    if (result) break;
    EXPECT_EQ(result.error().code(), "store.error");
    ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
      auto device = tx.FindDevice(id, "dev" + std::to_string(n));
      if (!device) return Fail(device.error());
      EXPECT_FALSE(device->has_value()) << "operation " << n;
      return {};
    }));
  }
}

}  // namespace
}  // namespace keyward::core::testing
