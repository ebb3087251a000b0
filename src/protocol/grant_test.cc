#include "protocol/grant.h"

#include <gtest/gtest.h>

#include "protocol/binding.h"
#include "tests/support/status_assertions.h"

namespace keyward::protocol {
namespace {

class GrantTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().has_value()); }
  crypto::BoxKeyPair org_ = crypto::GenerateBoxKeyPair();
  crypto::BoxKeyPair admin_ = crypto::GenerateBoxKeyPair();
};

TEST_F(GrantTest, RoundTrip) {
  auto grant = CreateGrant(admin_.public_key, org_, "org-1", "admin-1", 2);
  ASSERT_TRUE(grant.has_value());
  auto pair = OpenGrant(admin_, *grant, "org-1", "admin-1", 2, org_.public_key);
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->public_key, org_.public_key);
  EXPECT_TRUE(crypto::ConstantTimeEqual(pair->secret_key.span(), org_.secret_key.span()));
}

TEST_F(GrantTest, MovedGrantFails) {
  auto grant = CreateGrant(admin_.public_key, org_, "org-1", "admin-1", 2);
  ASSERT_TRUE(grant.has_value());
  for (auto [org, admin, version] : {std::tuple{"org-2", "admin-1", 2},
                                     {"org-1", "admin-2", 2},
                                     std::tuple{"org-1", "admin-1", 1}}) {
    auto r = OpenGrant(admin_, *grant, org, admin, version, org_.public_key);
    ASSERT_FALSE(r.has_value()) << org << admin << version;
    EXPECT_EQ(r.error().code(), "crypto.decrypt_failed");
  }
  const crypto::BoxKeyPair other = crypto::GenerateBoxKeyPair();
  auto wrong_admin = OpenGrant(other, *grant, "org-1", "admin-1", 2, org_.public_key);
  EXPECT_ERROR(wrong_admin, "crypto.decrypt_failed");
  // An escrow share header is not a grant header, whatever the ids.
  const crypto::Bytes share = SealWithHeader(
      admin_.public_key, SealedHeader(kShareALabel, "org-1", "admin-1", 2), org_.secret_key.span());
  auto not_grant = OpenGrant(admin_, share, "org-1", "admin-1", 2, org_.public_key);
  EXPECT_ERROR(not_grant, "crypto.decrypt_failed");
}

TEST_F(GrantTest, KeyThatIsNotTheSignedOrgKeyIsRefused) {
  auto grant = CreateGrant(admin_.public_key, org_, "org-1", "admin-1", 2);
  ASSERT_TRUE(grant.has_value());
  const crypto::BoxKeyPair other = crypto::GenerateBoxKeyPair();
  auto r = OpenGrant(admin_, *grant, "org-1", "admin-1", 2, other.public_key);
  EXPECT_ERROR(r, "org.grant_key_mismatch");
}

TEST_F(GrantTest, InvalidInputsAreNamed) {
  auto r = CreateGrant(crypto::Bytes(33, 0), org_, "org-1", "admin-1", 1);
  EXPECT_ERROR(r, "protocol.invalid_public_key");
  auto v = CreateGrant(admin_.public_key, org_, "org-1", "admin-1", 0);
  EXPECT_ERROR(v, "protocol.invalid_counter");
}

TEST_F(GrantTest, SigningGrantRoundTrip) {
  const crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  auto grant = CreateSigningGrant(admin_.public_key, signer, "org-1", "admin-1", 3);
  ASSERT_TRUE(grant.has_value());
  // 48 bytes of box, the header, the 32-byte seed (not the 64-byte secret key).
  EXPECT_EQ(grant->size(),
            48 + SealedHeader(kSigningGrantLabel, "org-1", "admin-1", 3).size() + 32);
  auto pair = OpenSigningGrant(admin_, *grant, "org-1", "admin-1", 3, signer.public_key);
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->public_key, signer.public_key);
  EXPECT_TRUE(crypto::ConstantTimeEqual(pair->secret_key.span(), signer.secret_key.span()));
  const crypto::Bytes msg = {1, 2, 3};
  EXPECT_TRUE(crypto::Verify(signer.public_key, msg, crypto::Sign(pair->secret_key.span(), msg)));
}

TEST_F(GrantTest, SigningGrantMovedOrMismatchedFails) {
  const crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  auto grant = CreateSigningGrant(admin_.public_key, signer, "org-1", "admin-1", 3);
  ASSERT_TRUE(grant.has_value());
  for (auto [org, admin, version] : {std::tuple{"org-2", "admin-1", 3},
                                     {"org-1", "admin-2", 3},
                                     std::tuple{"org-1", "admin-1", 2}}) {
    auto r = OpenSigningGrant(admin_, *grant, org, admin, version, signer.public_key);
    EXPECT_ERROR(r, "crypto.decrypt_failed");
  }
  // A recovery grant is not a signing grant (other label), and vice versa.
  auto recovery = CreateGrant(admin_.public_key, org_, "org-1", "admin-1", 3);
  ASSERT_TRUE(recovery.has_value());
  auto swapped = OpenSigningGrant(admin_, *recovery, "org-1", "admin-1", 3, signer.public_key);
  EXPECT_ERROR(swapped, "crypto.decrypt_failed");
  auto swapped2 = OpenGrant(admin_, *grant, "org-1", "admin-1", 3, org_.public_key);
  EXPECT_ERROR(swapped2, "crypto.decrypt_failed");
  const crypto::SignKeyPair other = crypto::GenerateSignKeyPair();
  auto mismatch = OpenSigningGrant(admin_, *grant, "org-1", "admin-1", 3, other.public_key);
  EXPECT_ERROR(mismatch, "org.grant_key_mismatch");
  auto bad = CreateSigningGrant(crypto::Bytes(31, 0), signer, "org-1", "admin-1", 3);
  EXPECT_ERROR(bad, "protocol.invalid_public_key");
  auto bad_version = CreateSigningGrant(admin_.public_key, signer, "org-1", "admin-1", 0);
  EXPECT_ERROR(bad_version, "protocol.invalid_counter");
}

}  // namespace
}  // namespace keyward::protocol
