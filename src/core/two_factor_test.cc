#include "core/two_factor.h"

#include "core/core_test_fixture.h"

namespace keyward::core::testing {
namespace {

constexpr char kAnn[] = "ann@example.com";

class TwoFactorTest : public CoreTest {
 protected:
  // Enrols TOTP for ann; returns the secret and the recovery codes.
  std::pair<crypto::Bytes, std::vector<std::string>> Enrol(const Caller& caller) {
    auto begin = core().two_factor.Begin(caller, KeyFrom(1));
    EXPECT_TRUE(begin.has_value());
    if (!begin) return {};
    EXPECT_EQ(begin->uri, "otpauth://totp/Keyward:ann%40example.com?secret=" +
                              begin->secret_base32 + "&issuer=Keyward");
    auto secret = crypto::Base32Decode(begin->secret_base32);
    EXPECT_TRUE(secret.has_value());
    auto codes = core().two_factor.Confirm(caller, crypto::TotpCode(*secret, clock_.NowUnix()));
    EXPECT_TRUE(codes.has_value());
    // The confirming code's step is spent; move to the next one.
    clock_.Advance(30);
    return {*secret, codes.value_or(std::vector<std::string>{})};
  }

  core::Login WithTotp(const crypto::Bytes& secret) {
    auto l = MakeLogin(kAnn);
    l.totp_code = crypto::TotpCode(secret, clock_.NowUnix());
    return l;
  }
};

TEST_F(TwoFactorTest, EnrolmentIsPendingUntilConfirmed) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto begin = core().two_factor.Begin(s.caller, KeyFrom(1));
  ASSERT_OK(begin);
  // Not active yet: a password alone still logs in.
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn)));
  EXPECT_ERROR(core().two_factor.Confirm(s.caller, "000000"), "2fa.invalid_code");
  auto secret = crypto::Base32Decode(begin->secret_base32);
  ASSERT_OK(secret);
  auto codes = core().two_factor.Confirm(s.caller, crypto::TotpCode(*secret, clock_.NowUnix()));
  ASSERT_OK(codes);
  ASSERT_EQ(codes->size(), 10u);
  for (const auto& c : *codes) EXPECT_EQ(c.size(), 14u);  // xxxx-xxxx-xxxx
  EXPECT_ERROR(core().two_factor.Confirm(s.caller, "123456"), "2fa.not_pending");
  EXPECT_ERROR(core().two_factor.Begin(s.caller, KeyFrom(1)), "2fa.already_enabled");
  // Stored encrypted, not as the raw secret.
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    auto a = tx.FindAccountById(s.caller.account_id);
    if (!a) return Fail(a.error());
    EXPECT_NE((*a)->totp_secret_sealed, *secret);
    EXPECT_GT((*a)->totp_secret_sealed.size(), secret->size());
    return {};
  }));
}

TEST_F(TwoFactorTest, BeginNeedsTheAuthKey) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  EXPECT_ERROR(core().two_factor.Begin(s.caller, KeyFrom(3)), "auth.invalid_credentials");
  EXPECT_ERROR(core().two_factor.Confirm(s.caller, "123456"), "2fa.not_pending");
}

TEST_F(TwoFactorTest, LoginNeedsTheSecondStep) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto [secret, codes] = Enrol(s.caller);
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn)), "auth.two_factor_required");
  auto wrong = MakeLogin(kAnn);
  wrong.totp_code = "000000";
  if (crypto::TotpVerify(secret, "000000", clock_.NowUnix())) wrong.totp_code = "111111";
  EXPECT_ERROR(core().sessions.Login(wrong), "auth.invalid_two_factor");
  ASSERT_OK(core().sessions.Login(WithTotp(secret)));
  // The wrong key is still refused before any code is looked at.
  auto bad_key = WithTotp(secret);
  bad_key.auth_key = KeyFrom(4);
  EXPECT_ERROR(core().sessions.Login(bad_key), "auth.invalid_credentials");
}

TEST_F(TwoFactorTest, ACodeIsAcceptedOnce) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto [secret, codes] = Enrol(s.caller);
  auto login = WithTotp(secret);
  ASSERT_OK(core().sessions.Login(login));
  EXPECT_ERROR(core().sessions.Login(login), "auth.invalid_two_factor");
  // An older step inside the window is a replay too.
  clock_.Advance(30);
  auto previous = MakeLogin(kAnn);
  previous.totp_code = crypto::TotpCode(secret, clock_.NowUnix() - 30);
  EXPECT_ERROR(core().sessions.Login(previous), "auth.invalid_two_factor");
  ASSERT_OK(core().sessions.Login(WithTotp(secret)));
}

TEST_F(TwoFactorTest, ClockSkewOfOneStepIsTolerated) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto [secret, codes] = Enrol(s.caller);
  auto ahead = MakeLogin(kAnn);
  ahead.totp_code = crypto::TotpCode(secret, clock_.NowUnix() + 30);
  ASSERT_OK(core().sessions.Login(ahead));
  clock_.Advance(120);
  auto far = MakeLogin(kAnn);
  far.totp_code = crypto::TotpCode(secret, clock_.NowUnix() + 90);
  EXPECT_ERROR(core().sessions.Login(far), "auth.invalid_two_factor");
}

TEST_F(TwoFactorTest, RecoveryCodesWorkOnceEach) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto [secret, codes] = Enrol(s.caller);
  ASSERT_EQ(codes.size(), 10u);
  auto login = MakeLogin(kAnn);
  login.recovery_code = codes[3];
  ASSERT_OK(core().sessions.Login(login));
  EXPECT_ERROR(core().sessions.Login(login), "auth.invalid_two_factor");
  // Case and dashes do not matter.
  std::string loose = codes[4];
  std::erase(loose, '-');
  for (auto& c : loose) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  login.recovery_code = loose;
  ASSERT_OK(core().sessions.Login(login));
  login.recovery_code = "aaaa-bbbb-cccc";
  EXPECT_ERROR(core().sessions.Login(login), "auth.invalid_two_factor");
}

TEST_F(TwoFactorTest, WrongSecondStepsCountTowardTheLock) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto [secret, codes] = Enrol(s.caller);
  auto wrong = MakeLogin(kAnn);
  wrong.recovery_code = "aaaa-bbbb-cccc";
  for (int i = 0; i < 5; ++i) {
    EXPECT_ERROR(core().sessions.Login(wrong), "auth.invalid_two_factor");
  }
  EXPECT_ERROR(core().sessions.Login(WithTotp(secret)), "auth.rate_limited");
}

TEST_F(TwoFactorTest, DisableNeedsTheAuthKey) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto [secret, codes] = Enrol(s.caller);
  EXPECT_ERROR(core().two_factor.Disable(s.caller, KeyFrom(9)), "auth.invalid_credentials");
  EXPECT_ERROR(core().sessions.Login(MakeLogin(kAnn)), "auth.two_factor_required");
  ASSERT_OK(core().two_factor.Disable(s.caller, KeyFrom(1)));
  ASSERT_OK(core().sessions.Login(MakeLogin(kAnn)));
  // Old recovery codes are gone with it.
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    auto list = tx.ListRecoveryCodes(s.caller.account_id);
    if (!list) return Fail(list.error());
    EXPECT_TRUE(list->empty());
    return {};
  }));
  EXPECT_NE(mailer_.Sent().back().subject.find("off"), std::string::npos);
}

TEST_F(TwoFactorTest, ConfirmGuessesAreLimited) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto begin = core().two_factor.Begin(s.caller, KeyFrom(1));
  ASSERT_OK(begin);
  auto secret = *crypto::Base32Decode(begin->secret_base32);
  std::string wrong = "000000";
  if (crypto::TotpVerify(secret, wrong, clock_.NowUnix())) wrong = "111111";
  for (int i = 0; i < config_.totp_confirm_max_failures; ++i) {
    EXPECT_ERROR(core().two_factor.Confirm(s.caller, wrong), "2fa.invalid_code");
  }
  EXPECT_ERROR(core().two_factor.Confirm(s.caller, crypto::TotpCode(secret, clock_.NowUnix())),
               "request.rate_limited");
}

}  // namespace
}  // namespace keyward::core::testing
