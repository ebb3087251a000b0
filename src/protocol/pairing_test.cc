#include "protocol/pairing.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/cpace.h"
#include "tests/support/status_assertions.h"

namespace keyward::protocol::pairing {
namespace {

using crypto::Bytes;
using crypto::SecureBytes;

class PairingTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(crypto::Init()); }

  static PairingIds Ids() {
    PairingIds ids;
    ids.account_id = "acct_1";
    ids.sid = Bytes(kSidSize, 0x5a);
    ids.shown_device_id = "dev_laptop";
    ids.joining_device_id = "dev_new";
    return ids;
  }
  static SecureBytes Code(std::string_view digits) { return SecureBytes::Copy(digits); }
  static JoiningDevice NewDevice() { return {"laptop-2", "cli"}; }
};

TEST_F(PairingTest, HonestRunHandsOverTheVaultKey) {
  auto a = ShowingSide::Start(Ids(), Code("042917"));
  ASSERT_OK(a);
  auto b = JoiningSide::Answer(Ids(), Code("042917"), NewDevice(), a->message());
  ASSERT_OK(b);
  ASSERT_OK(a->Check(b->message(), NewDevice(), b->confirmation()));
  const auto uk = crypto::VaultKey::Random();
  auto release = a->Seal(uk);
  ASSERT_OK(release);
  auto got = b->Receive(*release);
  ASSERT_OK(got);
  EXPECT_EQ(got->bytes().view(), uk.bytes().view());
  // Both sides are one-shot.
  EXPECT_EQ(a->Seal(uk).error().code(), "pair.closed");
  EXPECT_EQ(b->Receive(*release).error().code(), "pair.closed");
}

TEST_F(PairingTest, WrongCodeFailsAndLeavesNoSecondGuess) {
  auto a = ShowingSide::Start(Ids(), Code("042917"));
  ASSERT_OK(a);
  auto wrong = JoiningSide::Answer(Ids(), Code("042918"), NewDevice(), a->message());
  ASSERT_OK(wrong);
  EXPECT_EQ(a->Check(wrong->message(), NewDevice(), wrong->confirmation()).error().code(),
            "pair.wrong_code");
  // The right code after a wrong one: refused, the pairing is closed.
  auto right = JoiningSide::Answer(Ids(), Code("042917"), NewDevice(), a->message());
  ASSERT_OK(right);
  EXPECT_EQ(a->Check(right->message(), NewDevice(), right->confirmation()).error().code(),
            "pair.closed");
  EXPECT_EQ(a->Seal(crypto::VaultKey::Random()).error().code(), "pair.closed");
}

// A relay that changes any bound value (either device id, the session, the
// account, the new device's name) makes the confirmation fail.
TEST_F(PairingTest, ARelayThatChangesWhatIsBoundFailsTheConfirmation) {
  auto change = [](int what, PairingIds& ids, JoiningDevice& device) {
    switch (what) {
      case 0:
        ids.shown_device_id = "dev_other";
        break;
      case 1:
        ids.joining_device_id = "dev_attacker";
        break;
      case 2:
        ids.sid[0] ^= 1;
        break;
      case 3:
        ids.account_id = "acct_2";
        break;
      default:
        device.name = "innocent-name";
        break;
    }
  };
  for (int what = 0; what < 5; ++what) {
    auto a = ShowingSide::Start(Ids(), Code("000000"));
    ASSERT_OK(a);
    PairingIds seen_by_b = Ids();
    JoiningDevice told_to_a = NewDevice();
    JoiningDevice b_device = NewDevice();
    if (what < 4)
      change(what, seen_by_b, b_device);
    else
      change(what, seen_by_b, told_to_a);
    auto b = JoiningSide::Answer(seen_by_b, Code("000000"), b_device, a->message());
    ASSERT_OK(b);
    EXPECT_EQ(a->Check(b->message(), told_to_a, b->confirmation()).error().code(),
              "pair.wrong_code")
        << what;
  }
}

TEST_F(PairingTest, IdentityInvalidAndReflectedPointsAbort) {
  const Bytes identity(32, 0);
  Bytes invalid =
      crypto::HexDecode("2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c").value();
  for (const Bytes& bad : {identity, invalid, Bytes(31, 1)}) {
    EXPECT_EQ(JoiningSide::Answer(Ids(), Code("123456"), NewDevice(), bad).error().code(),
              "pair.bad_point");
    auto a = ShowingSide::Start(Ids(), Code("123456"));
    ASSERT_OK(a);
    EXPECT_EQ(a->Check(bad, NewDevice(), Bytes(kConfirmationSize)).error().code(),
              "pair.bad_point");
    EXPECT_EQ(a->Seal(crypto::VaultKey::Random()).error().code(), "pair.closed");
  }
  // Reflection: A's own Ya sent back as Yb.
  auto a = ShowingSide::Start(Ids(), Code("123456"));
  ASSERT_OK(a);
  const Bytes ya = a->message();
  EXPECT_EQ(a->Check(ya, NewDevice(), Bytes(kConfirmationSize)).error().code(), "pair.bad_point");
}

TEST_F(PairingTest, AnEditedReleaseIsRefused) {
  for (int what = 0; what < 2; ++what) {
    auto a = ShowingSide::Start(Ids(), Code("314159"));
    ASSERT_OK(a);
    auto b = JoiningSide::Answer(Ids(), Code("314159"), NewDevice(), a->message());
    ASSERT_OK(b);
    ASSERT_OK(a->Check(b->message(), NewDevice(), b->confirmation()));
    auto release = a->Seal(crypto::VaultKey::Random());
    ASSERT_OK(release);
    if (what == 0) {
      release->confirmation[10] ^= 1;
      EXPECT_EQ(b->Receive(*release).error().code(), "pair.wrong_code");
    } else {
      release->payload.back() ^= 1;
      EXPECT_EQ(b->Receive(*release).error().code(), "pair.bad_payload");
    }
  }
}

TEST_F(PairingTest, CodesAreSixDigitsAsTyped) {
  EXPECT_EQ(NormalizeCode("123 456")->view(), "123456");
  EXPECT_EQ(NormalizeCode("123-456")->view(), "123456");
  EXPECT_EQ(NormalizeCode("000000")->view(), "000000");
  for (std::string_view bad : {"", "12345", "1234567", "12a456", "１２３４５６", "123_456"}) {
    EXPECT_EQ(NormalizeCode(bad).error().code(), "pair.bad_code") << bad;
  }
}

}  // namespace
}  // namespace keyward::protocol::pairing
