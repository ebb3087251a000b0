// Pure parts of the organization client: parallel re-wrapping of admin
// shares (key rotation), the member key pair, and the profile's pins and
// event heads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "crypto/crypto.h"
#include "keyward/client.h"
#include "keyward/org.h"
#include "keyward/profile.h"
#include "protocol/escrow.h"
#include "tests/support/status_assertions.h"

namespace keyward::client {
namespace {

namespace fs = std::filesystem;

class RewrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    for (int i = 0; i < 203; ++i) {  // not a multiple of any chunk or thread count
      const std::string user = "user-" + std::to_string(i);
      const uint64_t epoch = 1 + static_cast<uint64_t>(i % 5);
      auto escrow =
          protocol::CreateEscrow(uk_, "org-1", user, epoch, old_.public_key, srv_.public_key);
      ASSERT_TRUE(escrow.has_value());
      shares_.push_back(PendingShare{user, epoch, 3, std::move(escrow->admin_share)});
      server_shares_.push_back(std::move(escrow->server_share));
      wrapped_.push_back(std::move(escrow->wrapped_vault_key));
    }
  }

  // A from the re-wrapped share under the new key, with U, gives back UK.
  void ExpectRecovers(const std::vector<RewrappedShare>& out) {
    ASSERT_EQ(out.size(), shares_.size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].account_id, shares_[i].account_id);
      EXPECT_EQ(out[i].epoch, shares_[i].epoch);
      EXPECT_EQ(out[i].from_key_version, 3u);
      auto a = protocol::OpenAdminShare(new_, out[i].admin_share, "org-1", out[i].account_id,
                                        out[i].epoch);
      ASSERT_TRUE(a.has_value()) << i;
      auto u = protocol::OpenServerShare(srv_, server_shares_[i], "org-1", out[i].account_id,
                                         out[i].epoch);
      ASSERT_TRUE(u.has_value());
      auto uk =
          protocol::RecoverVaultKey(*a, *u, wrapped_[i], "org-1", out[i].account_id, out[i].epoch);
      ASSERT_TRUE(uk.has_value()) << i;
      EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), uk_.span()));
      // The old key no longer opens the new share.
      EXPECT_FALSE(protocol::OpenAdminShare(old_, out[i].admin_share, "org-1", out[i].account_id,
                                            out[i].epoch));
    }
  }

  crypto::VaultKey uk_ = crypto::VaultKey::Random();
  crypto::BoxKeyPair old_ = crypto::GenerateBoxKeyPair();
  crypto::BoxKeyPair new_ = crypto::GenerateBoxKeyPair();
  crypto::BoxKeyPair srv_ = crypto::GenerateBoxKeyPair();
  std::vector<PendingShare> shares_;
  std::vector<crypto::Bytes> server_shares_;
  std::vector<crypto::Bytes> wrapped_;
};

TEST_F(RewrapTest, ParallelResultEqualsSerial) {
  auto serial = RewrapShares(old_, new_.public_key, "org-1", shares_, 1);
  ASSERT_TRUE(serial.has_value());
  ExpectRecovers(*serial);
  for (unsigned threads : {0u, 2u, 3u, 8u, 1000u}) {
    auto parallel = RewrapShares(old_, new_.public_key, "org-1", shares_, threads);
    ASSERT_TRUE(parallel.has_value()) << threads;
    ASSERT_EQ(parallel->size(), serial->size());
    // Sealed boxes are randomised: equal means same members, same order,
    // and the same A inside.
    for (size_t i = 0; i < serial->size(); ++i) {
      EXPECT_EQ((*parallel)[i].account_id, (*serial)[i].account_id);
      EXPECT_EQ((*parallel)[i].epoch, (*serial)[i].epoch);
      auto a1 = protocol::OpenAdminShare(new_, (*serial)[i].admin_share, "org-1",
                                         (*serial)[i].account_id, (*serial)[i].epoch);
      auto a2 = protocol::OpenAdminShare(new_, (*parallel)[i].admin_share, "org-1",
                                         (*parallel)[i].account_id, (*parallel)[i].epoch);
      ASSERT_TRUE(a1 && a2);
      EXPECT_TRUE(crypto::ConstantTimeEqual(a1->span(), a2->span()));
    }
    ExpectRecovers(*parallel);
  }
}

TEST_F(RewrapTest, EmptyInputIsEmptyOutput) {
  auto out = RewrapShares(old_, new_.public_key, "org-1", {}, 4);
  ASSERT_TRUE(out.has_value());
  EXPECT_TRUE(out->empty());
}

TEST_F(RewrapTest, TamperedShareFailsTheWholeBatchNamingNoId) {
  shares_[150].admin_share[40] ^= 0x01;
  for (unsigned threads : {1u, 4u}) {
    auto out = RewrapShares(old_, new_.public_key, "org-1", shares_, threads);
    EXPECT_ERROR(out, "crypto.decrypt_failed");
    EXPECT_EQ(out.error().message().find("user-150"), std::string::npos);
  }
}

TEST_F(RewrapTest, SharesAreBoundToOrgUserAndEpoch) {
  // Another organization id: nothing opens.
  auto other_org = RewrapShares(old_, new_.public_key, "org-2", shares_, 4);
  EXPECT_ERROR(other_org, "crypto.decrypt_failed");
  // A share listed under another member (a server moving shares around).
  std::vector<PendingShare> moved;
  moved.push_back(PendingShare{"user-1", shares_[0].epoch, 3, shares_[0].admin_share});
  auto wrong_user = RewrapShares(old_, new_.public_key, "org-1", moved, 1);
  EXPECT_ERROR(wrong_user, "crypto.decrypt_failed");
  // Under another epoch.
  moved[0] = PendingShare{shares_[0].account_id, shares_[0].epoch + 1, 3, shares_[0].admin_share};
  auto wrong_epoch = RewrapShares(old_, new_.public_key, "org-1", moved, 1);
  EXPECT_ERROR(wrong_epoch, "crypto.decrypt_failed");
  // Not sealed to the old key at all.
  auto wrong_key = RewrapShares(new_, new_.public_key, "org-1", shares_, 2);
  EXPECT_ERROR(wrong_key, "crypto.decrypt_failed");
  // Bad arguments are named.
  auto bad_pk = RewrapShares(old_, crypto::Bytes(31, 0), "org-1", shares_, 2);
  EXPECT_ERROR(bad_pk, "protocol.invalid_public_key");
  auto bad_org = RewrapShares(old_, new_.public_key, "org 1", shares_, 2);
  EXPECT_ERROR(bad_org, "protocol.invalid_id");
}

TEST(MemberKeysTest, UnwrapsTheRegistrationKeyPair) {
  ASSERT_TRUE(crypto::Init().has_value());
  const crypto::SecureBytes password = crypto::SecureBytes::Copy(std::string_view("pw-123456"));
  auto m = MakeRegistration(password, crypto::kClientFloorKdf);
  ASSERT_TRUE(m.has_value());
  auto keys = UnwrapMemberKeys(m->vault_key, m->account_id, m->public_key, m->wrapped_private_key);
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(keys->account_id, m->account_id);
  const crypto::Bytes sealed = crypto::Seal(m->public_key, crypto::Bytes{7});
  EXPECT_TRUE(crypto::Open(keys->key_pair.public_key, keys->key_pair.secret_key.span(), sealed));
  // Another account id (the key moved), or a public key that is not its pair.
  auto moved =
      UnwrapMemberKeys(m->vault_key, "someone-else", m->public_key, m->wrapped_private_key);
  EXPECT_ERROR(moved, "client.member_key_invalid");
  const crypto::BoxKeyPair other = crypto::GenerateBoxKeyPair();
  auto swapped =
      UnwrapMemberKeys(m->vault_key, m->account_id, other.public_key, m->wrapped_private_key);
  EXPECT_ERROR(swapped, "client.member_key_invalid");
}

class OrgProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    std::string tmpl = (fs::temp_directory_path() / "keyward-orgprofile-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  void WriteRaw(std::string_view text) {
    std::ofstream(dir_ / kProfileFileName, std::ios::binary | std::ios::trunc) << text;
  }
  fs::path dir_;
};

TEST_F(OrgProfileTest, PinsAndHeadsRoundTrip) {
  Profile p;
  p.server_url = "http://127.0.0.1:1";
  p.email = "ann@example.com";
  p.account_id = "acct";
  const crypto::SignKeyPair k = crypto::GenerateSignKeyPair();
  auto fresh = protocol::PinOnFirstUse("org-a", k.public_key);  // version 0, empty digest
  ASSERT_TRUE(fresh.has_value());
  p.org_pins["org-a"] = *fresh;
  p.org_pins["org-b"] =
      protocol::OrgPin{"org-b", crypto::GenerateSignKeyPair().public_key, 7, crypto::Bytes(32, 9)};
  protocol::audit::Head head;
  head.seq = 42;
  for (size_t i = 0; i < head.hash.size(); ++i) head.hash[i] = static_cast<uint8_t>(i * 7);
  p.event_heads["org-b"] = head;
  ASSERT_TRUE(SaveProfile(dir_, p));

  auto loaded = LoadProfile(dir_);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_TRUE(loaded->has_value());
  const Profile& q = **loaded;
  ASSERT_EQ(q.org_pins.size(), 2u);
  for (const auto& [org, pin] : p.org_pins) {
    const protocol::OrgPin& got = q.org_pins.at(org);
    EXPECT_EQ(got.org_id, org);
    EXPECT_EQ(got.signing_public_key, pin.signing_public_key);
    EXPECT_EQ(got.version, pin.version);
    EXPECT_EQ(got.statement_digest, pin.statement_digest);
  }
  ASSERT_EQ(q.event_heads.size(), 1u);
  EXPECT_EQ(q.event_heads.at("org-b"), head);
  EXPECT_EQ(q.account_id, "acct");
}

TEST_F(OrgProfileTest, OldProfileWithoutPinsLoads) {
  WriteRaw(R"({"version":1,"server_url":"http://x","email":"a@b.c","account_id":"id",)"
           R"("device_id":"d","device_name":"n","token":"","protected_vault_key":""})");
  auto loaded = LoadProfile(dir_);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE((*loaded)->org_pins.empty());
  EXPECT_TRUE((*loaded)->event_heads.empty());
  EXPECT_EQ((*loaded)->account_id, "id");
}

TEST_F(OrgProfileTest, HeadHashMayBeBase64Url) {
  const crypto::Bytes hash(32, 0xab);
  WriteRaw(R"({"version":1,"event_heads":{"org-1":{"seq":3,"hash":")" +
           crypto::Base64UrlEncode(hash) + R"("}}})");
  auto loaded = LoadProfile(dir_);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->event_heads.at("org-1").seq, 3u);
  EXPECT_EQ((*loaded)->event_heads.at("org-1").hash[31], 0xab);
}

TEST_F(OrgProfileTest, DamagedPinsAreRefused) {
  for (std::string_view text : {
           R"({"org_pins":[]})",
           R"({"org_pins":{"o":{"signing_public_key":"AAAA","version":1}}})",
           R"({"org_pins":{"o":{"signing_public_key":"not base64!","version":1}}})",
           R"({"org_pins":{"o":{"version":1}}})",
           R"({"event_heads":{"o":{"seq":1,"hash":"abcd"}}})",
           R"({"event_heads":{"o":{"seq":-1,"hash":""}}})",
       }) {
    WriteRaw(text);
    auto loaded = LoadProfile(dir_);
    ASSERT_FALSE(loaded.has_value()) << text;
    EXPECT_EQ(loaded.error().code(), "profile.corrupt") << text;
  }
}

}  // namespace
}  // namespace keyward::client
