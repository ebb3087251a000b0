#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "crypto/crypto.h"
#include "keyward/client.h"
#include "tests/support/status_assertions.h"

namespace keyward::client {
namespace {

crypto::SecureBytes Pw(std::string_view s) { return crypto::SecureBytes::Copy(s); }

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init()); }
};

TEST_F(KeysTest, KdfFloorRefusesWeakServerParams) {
  EXPECT_TRUE(CheckKdfFloor(crypto::kClientFloorKdf));
  EXPECT_TRUE(CheckKdfFloor(crypto::kDefaultKdf));
  for (crypto::KdfParams weak :
       {crypto::KdfParams{1, 64ull << 20}, crypto::KdfParams{3, 8ull << 20}, crypto::kTestKdf}) {
    auto st = CheckKdfFloor(weak);
    EXPECT_ERROR(st, "kdf.too_weak_from_server");
  }
  // Deriving keys goes through the same check.
  auto keys = DeriveAccountKeys(Pw("pw"), crypto::RandomBytes(16), crypto::kTestKdf);
  EXPECT_ERROR(keys, "kdf.too_weak_from_server");
}

TEST_F(KeysTest, RegistrationKdfRaisesServerMinimumToFloor) {
  auto k = RegistrationKdf({1, 1024});
  EXPECT_EQ(k.ops, crypto::kClientFloorKdf.ops);
  EXPECT_EQ(k.mem, crypto::kClientFloorKdf.mem);
  k = RegistrationKdf({4, 128ull << 20});
  EXPECT_EQ(k.ops, 4u);
  EXPECT_EQ(k.mem, 128ull << 20);
}

TEST_F(KeysTest, RegistrationWrapsVaultKeyUnderPasswordAndAccount) {
  auto m = MakeRegistration(Pw("correct horse"), crypto::kClientFloorKdf);
  ASSERT_OK(m);
  EXPECT_EQ(m->salt.size(), crypto::kSaltSize);
  EXPECT_EQ(crypto::Base64UrlDecode(m->account_id)->size(), 16u);
  EXPECT_EQ(m->public_key.size(), 32u);

  auto keys = DeriveAccountKeys(Pw("correct horse"), m->salt, m->kdf);
  ASSERT_TRUE(keys);
  EXPECT_TRUE(crypto::ConstantTimeEqual(keys->auth.span(), m->auth_key.span()));
  auto uk = UnwrapVaultKey(keys->enc, m->account_id, m->wrapped_vault_key);
  ASSERT_TRUE(uk);
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), m->vault_key.span()));

  // The private key opens with UK, bound to the account id.
  auto sk = crypto::Decrypt(uk->span(), m->wrapped_private_key,
                            crypto::Ad({"keyward/v1/sk", m->account_id}));
  ASSERT_TRUE(sk);
  EXPECT_EQ(sk->size(), 32u);

  // Wrong password, or the blob moved to another account: no vault key.
  auto wrong = DeriveAccountKeys(Pw("wrong horse"), m->salt, m->kdf);
  ASSERT_TRUE(wrong);
  EXPECT_FALSE(UnwrapVaultKey(wrong->enc, m->account_id, m->wrapped_vault_key));
  EXPECT_FALSE(UnwrapVaultKey(keys->enc, "another-account", m->wrapped_vault_key));
}

TEST_F(KeysTest, WrapRoundTripAndSessionProtection) {
  crypto::EncryptionKey ek = crypto::EncryptionKey::Random();
  crypto::VaultKey uk = crypto::VaultKey::Random();
  auto blob = WrapVaultKey(ek, "acct", uk);
  auto back = UnwrapVaultKey(ek, "acct", blob);
  ASSERT_TRUE(back);
  EXPECT_TRUE(crypto::ConstantTimeEqual(back->span(), uk.span()));

  crypto::SessionKey sk = crypto::SessionKey::Random();
  auto prot = ProtectVaultKey(sk, "acct", uk);
  auto un = UnprotectVaultKey(sk, "acct", prot);
  ASSERT_TRUE(un);
  EXPECT_TRUE(crypto::ConstantTimeEqual(un->span(), uk.span()));
  EXPECT_FALSE(UnprotectVaultKey(crypto::SessionKey::Random(), "acct", prot));
  EXPECT_FALSE(UnprotectVaultKey(sk, "other", prot));
  // A session blob is not a vault-key wrap: labels differ.
  crypto::EncryptionKey as_ek(sk.bytes().Clone());
  EXPECT_FALSE(UnwrapVaultKey(as_ek, "acct", prot));
}

TEST_F(KeysTest, ItemEncryptionIsBoundToAccountAndItemId) {
  crypto::VaultKey uk = crypto::VaultKey::Random();
  ItemFields f;
  f.name = "mail";
  f.username = "ann";
  f.password = Pw("s3cret\"with\\json\nchars");
  f.url = "https://mail.example.com";
  f.notes = Pw("PIN 1234");
  std::string id = NewItemId();
  EXPECT_EQ(crypto::Base64UrlDecode(id)->size(), 16u);
  auto blob = EncryptItem(uk, "acct", id, f);

  auto back = DecryptItem(uk, "acct", id, blob);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, "mail");
  EXPECT_EQ(back->username, "ann");
  EXPECT_EQ(back->password.view(), f.password.view());
  EXPECT_EQ(back->url, f.url);
  EXPECT_EQ(back->notes.view(), "PIN 1234");

  EXPECT_FALSE(DecryptItem(uk, "acct", NewItemId(), blob));  // moved to another item
  EXPECT_FALSE(DecryptItem(uk, "other", id, blob));          // moved to another account
  EXPECT_FALSE(DecryptItem(crypto::VaultKey::Random(), "acct", id, blob));
  auto tampered = blob;
  tampered.back() ^= 1;
  auto t = DecryptItem(uk, "acct", id, tampered);
  EXPECT_ERROR(t, "item.decrypt_failed");
}

TEST_F(KeysTest, PasswordGeneratorLengthAndAlphabet) {
  auto p = GeneratePassword();
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size(), static_cast<size_t>(kDefaultPasswordLength));
  EXPECT_GE(kPasswordAlphabet.size(), 70u);
  EXPECT_EQ(std::set<char>(kPasswordAlphabet.begin(), kPasswordAlphabet.end()).size(),
            kPasswordAlphabet.size());
  auto q = GeneratePassword(64);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->size(), 64u);
  EXPECT_FALSE(GeneratePassword(4));
  EXPECT_FALSE(GeneratePassword(100000));
  EXPECT_NE(GeneratePassword()->view(), GeneratePassword()->view());
}

TEST_F(KeysTest, PasswordGeneratorDistributionIsRoughlyUniform) {
  std::map<char, int> counts;
  constexpr int kPasswords = 2000;
  constexpr int kLength = 64;
  for (int i = 0; i < kPasswords; ++i) {
    auto p = GeneratePassword(kLength);
    ASSERT_TRUE(p);
    for (char c : p->view()) {
      ASSERT_NE(kPasswordAlphabet.find(c), std::string_view::npos) << c;
      ++counts[c];
    }
  }
  // Every symbol appears, each within a generous band around the mean
  // (mean ~1700, sigma ~41: +-20% is > 8 sigma).
  EXPECT_EQ(counts.size(), kPasswordAlphabet.size());
  const double mean = double(kPasswords) * kLength / kPasswordAlphabet.size();
  double chi2 = 0;
  for (auto [c, n] : counts) {
    EXPECT_GT(n, mean * 0.8) << c;
    EXPECT_LT(n, mean * 1.2) << c;
    chi2 += (n - mean) * (n - mean) / mean;
  }
  // 75 symbols, 74 degrees of freedom: chi2 beyond 150 has p < 1e-6.
  EXPECT_LT(chi2, 150.0);
}

TEST_F(KeysTest, SecretBase64UrlMatchesEncoder) {
  for (size_t n = 0; n < 40; ++n) {
    auto bytes = crypto::RandomBytes(n);
    EXPECT_EQ(SecretBase64Url(bytes).view(), crypto::Base64UrlEncode(bytes)) << n;
  }
}

}  // namespace
}  // namespace keyward::client
