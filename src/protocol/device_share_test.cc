#include "protocol/device_share.h"

#include <gtest/gtest.h>

namespace keyward::protocol::device_share {
namespace {

crypto::Bytes Seed(uint8_t first) {
  crypto::Bytes s(32);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(first + i);
  return s;
}

class DeviceShareTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init()); }
  crypto::BoxKeyPair org_ = crypto::BoxKeyPairFromSeed(Seed(1));
  crypto::BoxKeyPair device_ = crypto::BoxKeyPairFromSeed(Seed(0x40));
  crypto::GenericKey a_{crypto::SecureBytes::Copy(crypto::Bytes(32, 0x11))};
};

// Known answer computed independently of this code, by calling libsodium
// 1.0.18 from Python (ctypes: crypto_box_seed_keypair for both key pairs,
// crypto_box_easy with the nonce 0x22 x 24 over
// "device-a\0org-1\0user-1\0" "3\0req-1\0" || 0x11 x 32, from the
// organization's secret key to the device's public key).
TEST_F(DeviceShareTest, TheAdminsBoxOfAFixedShareIsKnown) {
  EXPECT_EQ(crypto::HexEncode(org_.public_key),
            "4a3807d064d077181cc070989e76891d20dca5559548dc2c77c1a50273882b38");
  EXPECT_EQ(crypto::HexEncode(device_.public_key),
            "f14b5173130a1b80687f273d49e8f4740a793a949b83b105837f2a61e8fee14f");
  auto da = BoxAdminShareWithNonce(org_, device_.public_key, a_, "org-1", "user-1", 3, "req-1",
                                   crypto::Bytes(24, 0x22));
  ASSERT_TRUE(da.has_value()) << da.error().code();
  EXPECT_EQ(crypto::HexEncode(*da),
            "222222222222222222222222222222222222222222222222"
            "83bfdbd5b0a22db866c4dfc8eadb9b2b7a6cc6d1c1bd78f3523890e12e850764"
            "240803147b28870cb2ff2ba0739c7ee7b054bc4ca1e480bb114fa570b1e8a443"
            "1427d2a285565a6b6c2028c7947c");
  auto back = OpenAdminShare(device_, org_.public_key, *da, "org-1", "user-1", 3, "req-1");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(back->span(), a_.span()));
}

TEST_F(DeviceShareTest, TheHeaderNamesOrgUserEpochAndRequest) {
  auto header = Header(kAdminLabel, "org-1", "user-1", 3, "req-1");
  ASSERT_TRUE(header.has_value());
  const std::string expected(
      "device-a\0org-1\0user-1\0"
      "3\0req-1\0",
      30);
  EXPECT_EQ(*header, crypto::Bytes(expected.begin(), expected.end()));
  EXPECT_EQ(Header(kAdminLabel, "org 1", "user-1", 3, "req-1").error().code(),
            "protocol.invalid_id");
  EXPECT_EQ(Header(kAdminLabel, "org-1", "user-1", 0, "req-1").error().code(),
            "protocol.invalid_counter");
}

// A server that boxes a share itself (it has no sk_org: it uses a key of
// its own) or seals one in the open (a sealed box has no sender) is caught
// by the device, which checks the box against the verified pk_org.
TEST_F(DeviceShareTest, OnlyTheOrganizationsKeyMakesAnAdminShareTheDeviceAccepts) {
  const crypto::BoxKeyPair server = crypto::GenerateBoxKeyPair();
  auto forged = BoxAdminShare(server, device_.public_key, a_, "org-1", "user-1", 3, "req-1");
  ASSERT_TRUE(forged.has_value());
  EXPECT_EQ(OpenAdminShare(device_, org_.public_key, *forged, "org-1", "user-1", 3, "req-1")
                .error()
                .code(),
            "crypto.decrypt_failed");
  auto header = Header(kAdminLabel, "org-1", "user-1", 3, "req-1");
  crypto::Bytes plain = *header;
  plain.insert(plain.end(), a_.span().begin(), a_.span().end());
  EXPECT_FALSE(OpenAdminShare(device_, org_.public_key, crypto::Seal(device_.public_key, plain),
                              "org-1", "user-1", 3, "req-1")
                   .has_value());
}

TEST_F(DeviceShareTest, AShareOpensOnlyForItsOrgUserEpochRequestAndDevice) {
  auto da = BoxAdminShare(org_, device_.public_key, a_, "org-1", "user-1", 3, "req-1");
  ASSERT_TRUE(da.has_value());
  const crypto::BoxKeyPair other = crypto::GenerateBoxKeyPair();
  EXPECT_FALSE(OpenAdminShare(other, org_.public_key, *da, "org-1", "user-1", 3, "req-1"));
  EXPECT_FALSE(OpenAdminShare(device_, org_.public_key, *da, "org-2", "user-1", 3, "req-1"));
  EXPECT_FALSE(OpenAdminShare(device_, org_.public_key, *da, "org-1", "user-2", 3, "req-1"));
  EXPECT_FALSE(OpenAdminShare(device_, org_.public_key, *da, "org-1", "user-1", 4, "req-1"));
  EXPECT_FALSE(OpenAdminShare(device_, org_.public_key, *da, "org-1", "user-1", 3, "req-2"));
  crypto::Bytes edited = *da;
  edited.back() ^= 1;
  EXPECT_FALSE(OpenAdminShare(device_, org_.public_key, edited, "org-1", "user-1", 3, "req-1"));

  const crypto::GenericKey u = crypto::GenericKey::Random();
  auto du = SealServerShare(device_.public_key, u, "org-1", "user-1", 3, "req-1");
  ASSERT_TRUE(du.has_value());
  auto back = OpenServerShare(device_, *du, "org-1", "user-1", 3, "req-1");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(back->span(), u.span()));
  EXPECT_FALSE(OpenServerShare(device_, *du, "org-1", "user-1", 3, "req-2"));
  EXPECT_FALSE(OpenServerShare(other, *du, "org-1", "user-1", 3, "req-1"));
  // The admin's share is not a server share, nor the other way round.
  EXPECT_FALSE(OpenServerShare(device_, *da, "org-1", "user-1", 3, "req-1"));
  EXPECT_FALSE(OpenAdminShare(device_, org_.public_key, *du, "org-1", "user-1", 3, "req-1"));
}

}  // namespace
}  // namespace keyward::protocol::device_share
