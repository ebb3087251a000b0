#include "core/pairing.h"

#include <gtest/gtest.h>

#include "core/core_test_fixture.h"
#include "core/recovery_test_fixture.h"
#include "crypto/cpace.h"
#include "protocol/pairing.h"

namespace keyward::core::testing {
namespace {

namespace pp = protocol::pairing;

class PairingServiceTest : public CoreTest {
 protected:
  void SetUp() override {
    account_ = CreateAccount("ann@example.com");
    a_ = SignIn("ann@example.com");
  }

  // A's side: a fresh sid and joining id, Ya from the code; returns the ids.
  pp::PairingIds StartPairing(std::string_view code = "271828") {
    pp::PairingIds ids;
    ids.account_id = account_;
    ids.sid = crypto::RandomBytes(pp::kSidSize);
    ids.shown_device_id = a_.caller.device_id;
    ids.joining_device_id = "new-laptop";
    auto side = pp::ShowingSide::Start(ids, crypto::SecureBytes::Copy(code));
    EXPECT_OK(side);
    auto started = core().pairings.Start(
        a_.caller, {crypto::Base64UrlEncode(ids.sid), ids.joining_device_id, side->message()});
    EXPECT_OK(started);
    shower_.emplace(std::move(*side));
    return ids;
  }

  // B's side from what Lookup tells it.
  PairingAnswer AnswerFor(const PairingOffer& offer, std::string_view code) {
    pp::PairingIds ids{offer.account_id, crypto::Base64UrlDecode(offer.id).value(),
                       offer.shown_device_id, offer.joining_device_id};
    auto side = pp::JoiningSide::Answer(ids, crypto::SecureBytes::Copy(code), {"laptop-2", "cli"},
                                        offer.ya);
    EXPECT_OK(side);
    PairingAnswer a{offer.id, side->message(), side->confirmation(), "laptop-2",
                    "cli",    claim_,          "203.0.113.7"};
    joiner_.emplace(std::move(*side));
    return a;
  }

  std::string account_;
  SignedIn a_;
  std::optional<pp::ShowingSide> shower_;
  std::optional<pp::JoiningSide> joiner_;
  Bytes claim_ = crypto::RandomBytes(32);
};

TEST_F(PairingServiceTest, TheNewDeviceGetsTheVaultKeyAndASessionOfItsOwn) {
  StartPairing();
  auto offer = core().pairings.Lookup("Ann@Example.com", "203.0.113.7");
  ASSERT_OK(offer);
  EXPECT_EQ(offer->account_id, account_);
  EXPECT_EQ(offer->shown_device_id, a_.caller.device_id);
  ASSERT_OK(core().pairings.Answer(AnswerFor(*offer, "271828")));

  // B waits; A sees the answer, checks it, and releases.
  auto waiting = core().pairings.Pickup(offer->id, claim_);
  ASSERT_OK(waiting);
  EXPECT_EQ(waiting->state, PairingState::kAnswered);
  auto seen = core().pairings.Show(a_.caller, offer->id);
  ASSERT_OK(seen);
  EXPECT_EQ(seen->state, PairingState::kAnswered);
  EXPECT_EQ(seen->joining_address, "203.0.113.7");
  ASSERT_OK(shower_->Check(seen->yb, {seen->joining_name, seen->joining_type}, seen->tb));
  const auto uk = crypto::VaultKey::Random();
  auto release = shower_->Seal(uk);
  ASSERT_OK(release);
  ASSERT_OK(core().pairings.Release(a_.caller, offer->id, release->confirmation, release->payload));

  auto picked = core().pairings.Pickup(offer->id, claim_);
  ASSERT_OK(picked);
  ASSERT_EQ(picked->state, PairingState::kDone);
  auto got = joiner_->Receive({picked->ta, picked->payload});
  ASSERT_OK(got);
  EXPECT_EQ(got->bytes().view(), uk.bytes().view());
  auto b = core().sessions.Authenticate(picked->token.span(), "203.0.113.7");
  ASSERT_OK(b);
  EXPECT_EQ(b->account_id, account_);
  EXPECT_EQ(b->device_id, "new-laptop");
  // Picked up once; the owner is told.
  EXPECT_EQ(core().pairings.Pickup(offer->id, claim_).error().code(), "pair.closed");
  bool told = false;
  for (const auto& m : mailer_.Sent()) told |= m.subject.find("paired") != std::string::npos;
  EXPECT_TRUE(told);
}

TEST_F(PairingServiceTest, OneAnswerPerCodeAndOnlyTheAnsweringDevicePicksUp) {
  StartPairing();
  auto offer = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(offer);
  ASSERT_OK(core().pairings.Answer(AnswerFor(*offer, "000001")));
  EXPECT_EQ(core().pairings.Answer(AnswerFor(*offer, "271828")).error().code(), "pair.closed");
  EXPECT_EQ(core().pairings.Pickup(offer->id, crypto::RandomBytes(32)).error().code(),
            "pair.not_found");
  // A finds the wrong code and closes: B learns it is over.
  auto seen = core().pairings.Show(a_.caller, offer->id);
  ASSERT_OK(seen);
  EXPECT_EQ(
      shower_->Check(seen->yb, {seen->joining_name, seen->joining_type}, seen->tb).error().code(),
      "pair.wrong_code");
  ASSERT_OK(core().pairings.Close(a_.caller, offer->id));
  EXPECT_EQ(core().pairings.Pickup(offer->id, claim_).error().code(), "pair.closed");
  EXPECT_EQ(
      core().pairings.Release(a_.caller, offer->id, Bytes(64, 1), Bytes(57, 2)).error().code(),
      "pair.closed");
}

TEST_F(PairingServiceTest, ACodeLivesTwoMinutes) {
  StartPairing();
  auto offer = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(offer);
  clock_.Advance(config_.pairing_ttl_seconds);
  EXPECT_EQ(core().pairings.Answer(AnswerFor(*offer, "271828")).error().code(), "pair.expired");
  // The expired pairing is no longer offered.
  auto later = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(later);
  EXPECT_NE(later->id, offer->id);
}

TEST_F(PairingServiceTest, AnEmailWithoutAPairingGetsADecoyThatNeverReleases) {
  for (const char* email : {"nobody@example.com", "ann@example.com"}) {
    auto first = core().pairings.Lookup(email, "203.0.113.7");
    auto again = core().pairings.Lookup(email, "203.0.113.7");
    ASSERT_OK(first);
    ASSERT_OK(again);
    EXPECT_EQ(first->id, again->id) << email;
    EXPECT_EQ(first->ya, again->ya) << email;
    EXPECT_EQ(first->ya.size(), 32u);
    EXPECT_EQ(first->account_id.size(), 22u);
    EXPECT_EQ(first->shown_device_id.size(), 22u);
    // It takes an answer like a real one, and stays "answered".
    claim_ = crypto::RandomBytes(32);
    ASSERT_OK(core().pairings.Answer(AnswerFor(*first, "123456")));
    auto picked = core().pairings.Pickup(first->id, claim_);
    ASSERT_OK(picked);
    EXPECT_EQ(picked->state, PairingState::kAnswered);
    clock_.Advance(config_.pairing_ttl_seconds);
    EXPECT_EQ(core().pairings.Pickup(first->id, claim_).error().code(), "pair.expired");
  }
}

// Limits per address stop one address from filling the store with decoys or
// answering pairing after pairing; another address (the member's) is not
// affected.
TEST_F(PairingServiceTest, LookupsAndAnswersAreLimitedPerAddress) {
  for (int64_t i = 0; i < kLookupsPerAddress; ++i) {
    ASSERT_OK(core().pairings.Lookup("x" + std::to_string(i) + "@example.com", "198.51.100.9"));
  }
  EXPECT_EQ(core().pairings.Lookup("ann@example.com", "198.51.100.9").error().code(),
            "pair.rate_limited");
  StartPairing();
  auto offer = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(offer);
  // Wrong answers (unknown ids) count too.
  PairingAnswer junk = AnswerFor(*offer, "271828");
  junk.remote_address = "198.51.100.9";
  for (int64_t i = 0; i < kAnswersPerAddress; ++i) {
    junk.id = crypto::Base64UrlEncode(crypto::RandomBytes(16));
    EXPECT_EQ(core().pairings.Answer(junk).error().code(), "pair.not_found");
  }
  junk.id = offer->id;
  EXPECT_EQ(core().pairings.Answer(junk).error().code(), "pair.rate_limited");
  // The member, from their own address, is not locked out.
  ASSERT_OK(core().pairings.Answer(AnswerFor(*offer, "271828")));
  clock_.Advance(kPairingRateWindow);
  EXPECT_OK(core().pairings.Lookup("ann@example.com", "198.51.100.9"));
}

TEST_F(PairingServiceTest, OnlyTheStartingDeviceSeesAndReleases) {
  StartPairing();
  auto offer = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(offer);
  ASSERT_OK(core().pairings.Answer(AnswerFor(*offer, "271828")));
  auto other_device = SignIn("ann@example.com", 1, "phone");
  CreateAccount("eve@example.com", 2);
  auto eve = SignIn("eve@example.com", 2);
  for (const auto* who : {&other_device, &eve}) {
    EXPECT_EQ(core().pairings.Show(who->caller, offer->id).error().code(), "pair.not_found");
    EXPECT_EQ(
        core().pairings.Release(who->caller, offer->id, Bytes(64, 1), Bytes(57, 2)).error().code(),
        "pair.not_found");
    EXPECT_EQ(core().pairings.Close(who->caller, offer->id).error().code(), "pair.not_found");
  }
}

TEST_F(PairingServiceTest, ANewPairingClosesTheOpenOne) {
  StartPairing();
  auto first = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(first);
  StartPairing();
  auto second = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(second);
  EXPECT_NE(first->id, second->id);
  EXPECT_EQ(core().pairings.Answer(AnswerFor(*first, "271828")).error().code(), "pair.closed");
}

TEST_F(PairingServiceTest, BadInputIsRefusedWithoutAWrite) {
  auto ya = crypto::cpace::PointFromHash(crypto::RandomBytes(64));
  const std::string sid = crypto::Base64UrlEncode(crypto::RandomBytes(16));
  EXPECT_EQ(core().pairings.Start(a_.caller, {"short", "new", ya}).error().code(),
            "pair.bad_request");
  EXPECT_EQ(core().pairings.Start(a_.caller, {sid, "new", Bytes(31)}).error().code(),
            "pair.bad_request");
  EXPECT_EQ(core().pairings.Start(a_.caller, {sid, a_.caller.device_id, ya}).error().code(),
            "pair.bad_request");
  EXPECT_EQ(core().pairings.Start(a_.caller, {sid, "bad id!", ya}).error().code(),
            "pair.bad_request");
  EXPECT_EQ(
      core().pairings.Lookup("not an email", "203.0.113.7").error().code().rfind("account.", 0),
      0u);
  PairingAnswer bad{sid, ya, Bytes(64), "laptop-2", "cli", Bytes(31), ""};
  EXPECT_EQ(core().pairings.Answer(bad).error().code(), "pair.bad_request");
}

// The pickup makes the device, the session and "done" in one transaction:
// a store failing at any step leaves the pairing released and no session,
// and the retry completes it.
TEST_F(PairingServiceTest, AFailedPickupLeavesNothingHalfDone) {
  StartPairing();
  auto offer = core().pairings.Lookup("ann@example.com", "203.0.113.7");
  ASSERT_OK(offer);
  ASSERT_OK(core().pairings.Answer(AnswerFor(*offer, "271828")));
  auto seen = core().pairings.Show(a_.caller, offer->id);
  ASSERT_OK(seen);
  ASSERT_OK(shower_->Check(seen->yb, {seen->joining_name, seen->joining_type}, seen->tb));
  auto release = shower_->Seal(crypto::VaultKey::Random());
  ASSERT_OK(release);
  ASSERT_OK(core().pairings.Release(a_.caller, offer->id, release->confirmation, release->payload));

  int64_t ops = 0;
  for (int64_t n = 1;; ++n) {
    failing_->FailAt(n);
    auto r = core().pairings.Pickup(offer->id, claim_);
    if (r) {
      ops = n;
      failing_->FailAt(0);
      ASSERT_EQ(r->state, PairingState::kDone);
      EXPECT_OK(core().sessions.Authenticate(r->token.span(), "x"));
      break;
    }
    failing_->FailAt(0);
    auto still = core().pairings.Show(a_.caller, offer->id);
    ASSERT_OK(still);
    EXPECT_EQ(still->state, PairingState::kReleased) << "failed at " << n;
    auto devices = core().devices.List(a_.caller);
    ASSERT_OK(devices);
    for (const auto& d : *devices) EXPECT_NE(d.id, "new-laptop") << "failed at " << n;
    ASSERT_LT(n, 50);
  }
  EXPECT_GT(ops, 3);
  failing_->FailAt(0);
}

// ---- a forgotten master password, set from the paired device ----

class PairingResetTest : public RecoveryTest {
 protected:
  // Pairs a new device for `p` through the service, as the two clients do;
  // returns the new device's caller.
  Caller Pair(const Person& p) {
    pp::PairingIds ids{p.id, crypto::RandomBytes(pp::kSidSize), p.caller().device_id,
                       "new-dev-" + std::to_string(++pairings_)};
    auto a = pp::ShowingSide::Start(ids, crypto::SecureBytes::Copy(std::string_view("112358")));
    EXPECT_OK(a);
    EXPECT_OK(core().pairings.Start(
        p.caller(), {crypto::Base64UrlEncode(ids.sid), ids.joining_device_id, a->message()}));
    auto b = pp::JoiningSide::Answer(ids, crypto::SecureBytes::Copy(std::string_view("112358")),
                                     {"laptop-2", "cli"}, a->message());
    EXPECT_OK(b);
    const Bytes claim = crypto::RandomBytes(32);
    EXPECT_OK(core().pairings.Answer({crypto::Base64UrlEncode(ids.sid), b->message(),
                                      b->confirmation(), "laptop-2", "cli", claim, ""}));
    EXPECT_OK(a->Check(b->message(), {"laptop-2", "cli"}, b->confirmation()));
    auto release = a->Seal(p.vault_key);
    EXPECT_OK(release);
    EXPECT_OK(core().pairings.Release(p.caller(), crypto::Base64UrlEncode(ids.sid),
                                      release->confirmation, release->payload));
    auto picked = core().pairings.Pickup(crypto::Base64UrlEncode(ids.sid), claim);
    EXPECT_OK(picked);
    auto caller = core().sessions.Authenticate(picked->token.span(), "203.0.113.7");
    EXPECT_OK(caller);
    return caller.value_or(Caller{});
  }

  int pairings_ = 0;

  static ForgottenPasswordChange NewPassword() {
    ForgottenPasswordChange c;
    c.new_kdf = crypto::kTestKdf;
    c.new_salt = crypto::RandomBytes(crypto::kSaltSize);
    c.new_auth_key = KeyFrom(9);
    c.new_wrapped_vault_key = crypto::RandomBytes(72);
    return c;
  }
};

TEST_F(PairingResetTest, OnlyARecentlyPairedDeviceOnceAndWithinTheWindow) {
  Person ann = MakePerson("ann@example.com");
  // The device that was not paired: refused.
  EXPECT_EQ(core().accounts.ChangeForgottenPassword(ann.caller(), NewPassword()).error().code(),
            "pair.reset_not_allowed");
  Caller paired = Pair(ann);
  clock_.Advance(kPairingResetWindowSeconds + 1);
  EXPECT_EQ(core().accounts.ChangeForgottenPassword(paired, NewPassword()).error().code(),
            "pair.reset_not_allowed");
  Caller again = Pair(ann);
  ASSERT_OK(core().accounts.ChangeForgottenPassword(again, NewPassword()));
  EXPECT_EQ(core().accounts.ChangeForgottenPassword(again, NewPassword()).error().code(),
            "pair.reset_not_allowed");
  // The new password works (auth key 9), the first device's session ended.
  EXPECT_FALSE(IsSignedIn(ann.session));
  EXPECT_OK(core().sessions.Login(MakeLogin("ann@example.com", 9, "phone")));
}

TEST_F(PairingResetTest, AnOrganizationCanForbidIt) {
  Person ann = MakePerson("ann@example.com");
  protocol::RecoveryPolicy policy = MakePolicy(protocol::Enrollment::kOptIn);
  policy.pairing_reset = false;
  CreateOrg(ann, policy);
  Caller paired = Pair(ann);
  auto refused = core().accounts.ChangeForgottenPassword(paired, NewPassword());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), "org.pairing_reset_forbidden");
  EXPECT_NE(refused.error().message().find("Acme"), std::string::npos);
  EXPECT_TRUE(IsSignedIn(ann.session));  // nothing changed
}

}  // namespace
}  // namespace keyward::core::testing
