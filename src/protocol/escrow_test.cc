#include "protocol/escrow.h"

#include <gtest/gtest.h>

#include "protocol/binding.h"
#include "tests/support/status_assertions.h"

namespace keyward::protocol {
namespace {

using crypto::Bytes;

void ExpectDecryptFailed(const Error& e) {
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(e.code(), "crypto.decrypt_failed");
  EXPECT_EQ(e.message(), "decryption failed");
}

class EscrowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    auto escrow = CreateEscrow(uk_, "org-1", "user-1", 3, org_.public_key, srv_.public_key);
    ASSERT_TRUE(escrow.has_value());
    escrow_ = std::move(*escrow);
  }

  crypto::VaultKey uk_ = crypto::VaultKey::Random();
  crypto::BoxKeyPair org_ = crypto::GenerateBoxKeyPair();
  crypto::BoxKeyPair srv_ = crypto::GenerateBoxKeyPair();
  Escrow escrow_;
};

TEST(BindingTest, EncodingsAreExact) {
  EXPECT_EQ(EscrowAd("o", "u", 12), crypto::Ad({"keyward/v1/escrow", "o", "u", "12"}));
  EXPECT_EQ(LinkAd("r", "u", 1), crypto::Ad({"keyward/v1/link", "r", "u", "1"}));
  EXPECT_EQ(SealedHeader("share-a", "o", "u", 7),
            (Bytes{'s', 'h', 'a', 'r', 'e', '-', 'a', 0, 'o', 0, 'u', 0, '7', 0}));
  EXPECT_EQ(DecimalText(0), "0");
  EXPECT_EQ(DecimalText(9007199254740991ull), "9007199254740991");
}

TEST(BindingTest, IdsAndCounters) {
  EXPECT_TRUE(CheckId("AbZ09_-").has_value());
  EXPECT_TRUE(CheckId(std::string(64, 'a')).has_value());
  for (std::string_view bad : {"", "a b", "a/b", "a#b", "é", "a.b"}) {
    ASSERT_FALSE(CheckId(bad).has_value()) << bad;
    EXPECT_EQ(CheckId(bad).error().code(), "protocol.invalid_id");
  }
  EXPECT_FALSE(CheckId(std::string(65, 'a')).has_value());
  EXPECT_FALSE(CheckId(std::string_view("a\0b", 3)).has_value());
  EXPECT_TRUE(CheckCounter(1).has_value());
  EXPECT_TRUE(CheckCounter(kMaxCounter).has_value());
  EXPECT_FALSE(CheckCounter(0).has_value());
  EXPECT_FALSE(CheckCounter(kMaxCounter + 1).has_value());
}

TEST_F(EscrowTest, RoundTrip) {
  EXPECT_EQ(escrow_.epoch, 3u);
  EXPECT_EQ(escrow_.wrapped_vault_key.size(), 32u + 41u);
  auto a = OpenAdminShare(org_, escrow_.admin_share, "org-1", "user-1", 3);
  auto u = OpenServerShare(srv_, escrow_.server_share, "org-1", "user-1", 3);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(u.has_value());
  auto back = RecoverVaultKey(*a, *u, escrow_.wrapped_vault_key, "org-1", "user-1", 3);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(back->span(), uk_.span()));
}

TEST_F(EscrowTest, SharesAreFreshAndNeitherAloneIsTheKey) {
  auto again = CreateEscrow(uk_, "org-1", "user-1", 3, org_.public_key, srv_.public_key);
  ASSERT_TRUE(again.has_value());
  auto a1 = OpenAdminShare(org_, escrow_.admin_share, "org-1", "user-1", 3);
  auto a2 = OpenAdminShare(org_, again->admin_share, "org-1", "user-1", 3);
  auto u1 = OpenServerShare(srv_, escrow_.server_share, "org-1", "user-1", 3);
  ASSERT_TRUE(a1 && a2 && u1);
  EXPECT_FALSE(crypto::ConstantTimeEqual(a1->span(), a2->span()));
  // A with the wrong U (from another escrow) does not give E.
  auto u2 = OpenServerShare(srv_, again->server_share, "org-1", "user-1", 3);
  ASSERT_TRUE(u2.has_value());
  auto mixed = RecoverVaultKey(*a1, *u2, escrow_.wrapped_vault_key, "org-1", "user-1", 3);
  ASSERT_FALSE(mixed.has_value());
  ExpectDecryptFailed(mixed.error());
}

TEST_F(EscrowTest, ShareMovedToAnotherMemberOrgOrEpochFails) {
  struct Case {
    const char* org;
    const char* user;
    uint64_t epoch;
  };
  for (const Case& c : {Case{"org-1", "user-2", 3}, Case{"org-2", "user-1", 3},
                        Case{"org-1", "user-1", 4}, Case{"org-1", "user-1", 2}}) {
    auto a = OpenAdminShare(org_, escrow_.admin_share, c.org, c.user, c.epoch);
    ASSERT_FALSE(a.has_value()) << c.org << " " << c.user << " " << c.epoch;
    ExpectDecryptFailed(a.error());
    auto u = OpenServerShare(srv_, escrow_.server_share, c.org, c.user, c.epoch);
    ASSERT_FALSE(u.has_value());
    ExpectDecryptFailed(u.error());
  }
  auto a = OpenAdminShare(org_, escrow_.admin_share, "org-1", "user-1", 3);
  auto u = OpenServerShare(srv_, escrow_.server_share, "org-1", "user-1", 3);
  ASSERT_TRUE(a && u);
  for (const Case& c :
       {Case{"org-1", "user-2", 3}, Case{"org-2", "user-1", 3}, Case{"org-1", "user-1", 4}}) {
    auto uk = RecoverVaultKey(*a, *u, escrow_.wrapped_vault_key, c.org, c.user, c.epoch);
    ASSERT_FALSE(uk.has_value());
    ExpectDecryptFailed(uk.error());
  }
}

TEST_F(EscrowTest, SharesAreNotInterchangeable) {
  // SA and SU use different headers: a server share sealed to the org key
  // (or the other way round) is refused even with the right key pair.
  auto swapped = CreateEscrow(uk_, "org-1", "user-1", 3, srv_.public_key, org_.public_key);
  ASSERT_TRUE(swapped.has_value());
  auto a = OpenAdminShare(org_, swapped->server_share, "org-1", "user-1", 3);
  ASSERT_FALSE(a.has_value());
  ExpectDecryptFailed(a.error());
  auto u = OpenServerShare(srv_, swapped->admin_share, "org-1", "user-1", 3);
  ASSERT_FALSE(u.has_value());
  ExpectDecryptFailed(u.error());
}

TEST_F(EscrowTest, WrongKeyOrTamperingFails) {
  auto a = OpenAdminShare(srv_, escrow_.admin_share, "org-1", "user-1", 3);
  ASSERT_FALSE(a.has_value());
  ExpectDecryptFailed(a.error());
  Bytes tampered = escrow_.admin_share;
  tampered[tampered.size() / 2] ^= 0x01;
  auto t = OpenAdminShare(org_, tampered, "org-1", "user-1", 3);
  ASSERT_FALSE(t.has_value());
  ExpectDecryptFailed(t.error());
  // A correctly sealed share with a truncated secret is refused too.
  const Bytes short_share =
      crypto::Seal(org_.public_key, SealedHeader("share-a", "org-1", "user-1", 3));
  auto s = OpenAdminShare(org_, short_share, "org-1", "user-1", 3);
  ASSERT_FALSE(s.has_value());
  ExpectDecryptFailed(s.error());
}

TEST_F(EscrowTest, InvalidInputsAreNamed) {
  auto bad_id = CreateEscrow(uk_, "org 1", "user-1", 1, org_.public_key, srv_.public_key);
  EXPECT_ERROR(bad_id, "protocol.invalid_id");
  auto bad_epoch = CreateEscrow(uk_, "org-1", "user-1", 0, org_.public_key, srv_.public_key);
  EXPECT_ERROR(bad_epoch, "protocol.invalid_counter");
  auto bad_key = CreateEscrow(uk_, "org-1", "user-1", 1, Bytes(31, 1), srv_.public_key);
  EXPECT_ERROR(bad_key, "protocol.invalid_public_key");
  auto bad_open = OpenAdminShare(org_, escrow_.admin_share, "org-1", "", 3);
  EXPECT_ERROR(bad_open, "protocol.invalid_id");
}

TEST_F(EscrowTest, ResealMovesTheAdminShareToTheNewKey) {
  const crypto::BoxKeyPair next = crypto::GenerateBoxKeyPair();
  auto resealed =
      ResealAdminShare(org_, next.public_key, escrow_.admin_share, "org-1", "user-1", 3);
  ASSERT_TRUE(resealed.has_value());
  auto a_old = OpenAdminShare(org_, escrow_.admin_share, "org-1", "user-1", 3);
  auto a_new = OpenAdminShare(next, *resealed, "org-1", "user-1", 3);
  ASSERT_TRUE(a_old.has_value());
  ASSERT_TRUE(a_new.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(a_old->span(), a_new->span()));
  // The old key no longer opens it; the escrow still recovers UK with U.
  EXPECT_FALSE(OpenAdminShare(org_, *resealed, "org-1", "user-1", 3).has_value());
  auto u = OpenServerShare(srv_, escrow_.server_share, "org-1", "user-1", 3);
  ASSERT_TRUE(u.has_value());
  auto uk = RecoverVaultKey(*a_new, *u, escrow_.wrapped_vault_key, "org-1", "user-1", 3);
  ASSERT_TRUE(uk.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), uk_.span()));
}

TEST_F(EscrowTest, ResealRefusesMovedTamperedOrBadInput) {
  const crypto::BoxKeyPair next = crypto::GenerateBoxKeyPair();
  for (auto [org, user, epoch] : {std::tuple{"org-2", "user-1", 3},
                                  {"org-1", "user-2", 3},
                                  std::tuple{"org-1", "user-1", 4}}) {
    auto r = ResealAdminShare(org_, next.public_key, escrow_.admin_share, org, user, epoch);
    ASSERT_FALSE(r.has_value());
    ExpectDecryptFailed(r.error());
  }
  Bytes tampered = escrow_.admin_share;
  tampered.back() ^= 0x80;
  auto t = ResealAdminShare(org_, next.public_key, tampered, "org-1", "user-1", 3);
  ASSERT_FALSE(t.has_value());
  ExpectDecryptFailed(t.error());
  // The server share is sealed to another key and has another header.
  auto su = ResealAdminShare(srv_, next.public_key, escrow_.server_share, "org-1", "user-1", 3);
  ASSERT_FALSE(su.has_value());
  ExpectDecryptFailed(su.error());
  auto bad_pk = ResealAdminShare(org_, Bytes(31, 1), escrow_.admin_share, "org-1", "user-1", 3);
  EXPECT_ERROR(bad_pk, "protocol.invalid_public_key");
}

}  // namespace
}  // namespace keyward::protocol
