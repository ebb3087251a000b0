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

// DecryptItem reads the plaintext without a tree (ItemFieldsReader): for
// plaintexts a client other than this one might have written, it gives
// what reading the parsed object gives (the reference below, the reader it
// replaced), and refuses what is not an object.
TEST_F(KeysTest, DecryptItemReadsThePlaintextAsTheParsedObjectWould) {
  auto uk = crypto::VaultKey::Random();
  const std::string id = NewItemId();
  auto seal = [&](std::string_view text) {
    return crypto::Encrypt(uk.span(), {reinterpret_cast<const uint8_t*>(text.data()), text.size()},
                           crypto::Ad({"keyward/v1/item", "acct", id}));
  };
  auto reference = [](std::string_view text) -> std::optional<std::vector<std::string>> {
    Json j = Json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    std::vector<std::string> out;
    for (const char* key : {"name", "username", "password", "url", "notes"}) {
      auto it = j.find(key);
      out.emplace_back(it != j.end() && it->is_string()
                           ? std::string(it->get_ref<const SecretString&>())
                           : std::string());
    }
    return out;
  };
  int objects = 0;
  for (std::string_view text : {
           R"({"name":"mail","username":"ann","password":"pw","url":"u","notes":"n"})",
           R"({})",
           R"({"name":"first","name":"last"})",
           R"({"name":"string first","name":{"nested":"object"}})",
           R"({"name":{"password":"not the top one"},"password":"top"})",
           R"({"password":["a","b"],"notes":null,"url":3,"username":true,"name":1.5})",
           R"({"name":"\u00e9t\u00e9 \ud83d\udd11","notes":"line\nnext\t\"quoted\" \\"})",
           R"({"extra":{"deep":[{"name":"no"}]},"url":"https://example.com/?a=1&b=2"})",
           R"(  {"name" : "spaced" }  )",
           R"({"password":""})",
           R"([{"name":"an array"}])",
           R"("a string")",
           R"(42)",
           R"(null)",
           R"({"name":"unterminated")",
           R"({"name":"x"} trailing)",
           R"({"name":"x",})",
           R"()",
           "{\"name\":\"bad \xff utf-8\"}",
       }) {
    auto want = reference(text);
    auto got = DecryptItem(uk, "acct", id, seal(text));
    ASSERT_EQ(want.has_value(), got.has_value()) << text;
    if (!want) {
      EXPECT_ERROR(got, "item.bad_plaintext");
      continue;
    }
    ++objects;
    EXPECT_EQ(got->name, (*want)[0]) << text;
    EXPECT_EQ(got->username, (*want)[1]) << text;
    EXPECT_EQ(got->password.view(), (*want)[2]) << text;
    EXPECT_EQ(got->url, (*want)[3]) << text;
    EXPECT_EQ(got->notes.view(), (*want)[4]) << text;
  }
  EXPECT_EQ(objects, 10);

  // Values of every length up to 40 with one byte of each kind the direct
  // reader refuses (or none) at every position: the word-at-a-time check
  // and the byte-by-byte tail.
  const std::string kinds = std::string("\\\"\x1f\x7f\x80\xc3\t") + '\0';
  for (size_t length = 0; length <= 40; ++length) {
    for (size_t at = 0; at <= length; ++at) {
      for (size_t kind = 0; kind <= kinds.size(); ++kind) {
        std::string value;
        for (size_t i = 0; i < length; ++i) value.push_back(static_cast<char>(0x20 + (i * 7) % 95));
        if (kind < kinds.size() && at < length) value[at] = kinds[kind];
        Json j = Json::object();
        j["notes"] = Json(ToSecretString(value));
        j["name"] = "n";
        const std::string text(j.dump(-1, ' ', false, Json::error_handler_t::replace));
        auto want = reference(text);
        ASSERT_TRUE(want.has_value()) << text;
        auto got = DecryptItem(uk, "acct", id, seal(text));
        ASSERT_TRUE(got.has_value()) << text;
        EXPECT_EQ(got->notes.view(), (*want)[4]) << text;
        EXPECT_EQ(got->name, "n");
      }
    }
  }
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
