#include "protocol/trusted_device.h"

#include <gtest/gtest.h>

namespace keyward::protocol::trusted_device {
namespace {

crypto::Bytes Secret() {
  crypto::Bytes s(32);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(i + 1);
  return s;
}

class TrustedDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init()); }
};

// Known answers: the keys of a fixed secret (libsodium 1.0.18's
// crypto_kdf_derive_from_key and Ed25519), computed independently of this
// code by calling libsodium from Python (ctypes: crypto_kdf_derive_from_key
// with ids 1 and 2 and context "KWdevice", crypto_sign_seed_keypair,
// crypto_sign_detached), so that a change to the derivation — which would
// strand every trusted device — fails here.
TEST_F(TrustedDeviceTest, KeysOfAFixedSecretAreKnown) {
  auto keys = DeriveKeys(Secret());
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(crypto::HexEncode(keys->sign.public_key),
            "1b419231e4d160cde87b77a948609f3a65ee7197b3ca575448bf27b2a1a236dd");
  EXPECT_EQ(crypto::HexEncode(keys->wrap_key.span()),
            "8613c7e8ffbf7b4f8cd30a5dda24d0514b8ca6636d8bb956eb8ab5fa8b17fa48");
  // Ed25519 is deterministic: the signature of a fixed login is known too.
  const crypto::Bytes ticket(32, 0xab);
  EXPECT_EQ(
      crypto::HexEncode(crypto::Sign(keys->sign.secret_key.span(), LoginMessage("laptop", ticket))),
      "7f7846ac7c76e1f20d71446eda2585565ac2dd9666e3b177a3667f249a31c4f3"
      "81c645b8f812ff2d4ce3220ed335e3a44d4bb50638bcd345ba489a495f1f5b09");
}

TEST_F(TrustedDeviceTest, TheLoginMessageNamesTheDeviceThenTheTicket) {
  const crypto::Bytes ticket(32, 0x07);
  crypto::Bytes expected = crypto::Ad({"keyward/v1/trusted-device-login", "laptop"});
  expected.insert(expected.end(), ticket.begin(), ticket.end());
  EXPECT_EQ(LoginMessage("laptop", ticket), expected);
  EXPECT_NE(LoginMessage("laptop", ticket), LoginMessage("phone", ticket));
}

TEST_F(TrustedDeviceTest, AWrappedVaultKeyOpensOnlyForItsAccountAndDevice) {
  auto keys = DeriveKeys(Secret());
  ASSERT_TRUE(keys.has_value());
  const crypto::VaultKey uk = crypto::VaultKey::Random();
  const crypto::Bytes wrapped = WrapVaultKey(*keys, uk, "acct-1", "laptop");
  auto back = UnwrapVaultKey(*keys, wrapped, "acct-1", "laptop");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(back->span(), uk.span()));
  // The server swapping blobs between devices or accounts is caught.
  EXPECT_EQ(UnwrapVaultKey(*keys, wrapped, "acct-1", "phone").error().code(),
            "device.key_mismatch");
  EXPECT_EQ(UnwrapVaultKey(*keys, wrapped, "acct-2", "laptop").error().code(),
            "device.key_mismatch");
  crypto::Bytes edited = wrapped;
  edited.back() ^= 1;
  EXPECT_FALSE(UnwrapVaultKey(*keys, edited, "acct-1", "laptop").has_value());
  // Another device's key does not open it.
  auto other = DeriveKeys(crypto::RandomBytes(32));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(UnwrapVaultKey(*other, wrapped, "acct-1", "laptop").has_value());
}

TEST_F(TrustedDeviceTest, ASecretOfAnotherSizeIsRefused) {
  EXPECT_EQ(DeriveKeys(crypto::Bytes(31)).error().code(), "device.bad_secret");
  EXPECT_EQ(DeriveKeys(crypto::Bytes(33)).error().code(), "device.bad_secret");
}

}  // namespace
}  // namespace keyward::protocol::trusted_device
