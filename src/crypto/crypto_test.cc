#include "crypto/crypto.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/support/status_assertions.h"

namespace keyward::crypto {
namespace {

std::span<const uint8_t> S(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void ExpectDecryptFailed(const Result<SecureBytes>& r) {
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.error().code(), "crypto.decrypt_failed");
  EXPECT_EQ(r.error().message(), "decryption failed");
}

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Init().has_value()); }
};

// ---- SecureBytes ----

TEST_F(CryptoTest, SecureBytesZeroFilledAndCopied) {
  SecureBytes zero(17);
  ASSERT_EQ(zero.size(), 17u);
  for (uint8_t b : zero.span()) EXPECT_EQ(b, 0);
  SecureBytes copy = SecureBytes::Copy(std::string_view("secret"));
  EXPECT_EQ(copy.view(), "secret");
  SecureBytes clone = copy.Clone();
  EXPECT_EQ(clone.view(), "secret");
  EXPECT_NE(clone.data(), copy.data());
  EXPECT_TRUE(SecureBytes().empty());
  EXPECT_TRUE(SecureBytes::Copy(std::string_view()).empty());
}

TEST_F(CryptoTest, SecureBytesMoveLeavesSourceEmpty) {
  SecureBytes a = SecureBytes::Copy(std::string_view("abc"));
  const uint8_t* where = a.data();
  SecureBytes b(std::move(a));
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(b.view(), "abc");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the API
  EXPECT_EQ(a.data(), nullptr);

  SecureBytes c = SecureBytes::Copy(std::string_view("xyz"));
  c = std::move(b);
  EXPECT_EQ(c.view(), "abc");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)

  SecureBytes& self = c;
  c = std::move(self);
  EXPECT_EQ(c.view(), "abc");
}

// A vault of 10,000 items holds two secrets per item; 100,000 small secrets
// at once must fit (one guarded mapping each ran into vm.max_map_count,
// 65,530, at about 21,000). Each keeps its own bytes, and a slot given back
// comes back zeroed. Sizes up to 4 KiB (a decrypted item) are pooled.
TEST_F(CryptoTest, SecureBytesHoldsHundredThousandSmallSecrets) {
  std::vector<SecureBytes> many;
  many.reserve(100000);
  const auto size_of = [](size_t i) { return i % 16 == 0 ? 1 + (i * 37) % 4096 : 1 + i % 256; };
  for (size_t i = 0; i < 100000; ++i) {
    SecureBytes s(size_of(i));
    std::memset(s.data(), static_cast<int>(i % 251), s.size());
    many.push_back(std::move(s));
  }
  for (size_t i = 0; i < many.size(); ++i) {
    ASSERT_EQ(many[i].size(), size_of(i));
    for (uint8_t b : many[i].span()) ASSERT_EQ(b, i % 251) << i;
  }
  many.resize(50000);  // half given back, then taken again
  for (size_t i = 0; i < 50000; ++i) {
    SecureBytes s(200);
    for (uint8_t b : s.span()) ASSERT_EQ(b, 0);
    many.push_back(std::move(s));
  }
  SecureBytes large = SecureBytes::Random(100000);  // above the pooled sizes
  EXPECT_EQ(large.size(), 100000u);
}

TEST_F(CryptoTest, SecureBytesRandomDiffers) {
  EXPECT_NE(SecureBytes::Random(32).view(), SecureBytes::Random(32).view());
  EXPECT_NE(VaultKey::Random().bytes().view(), VaultKey::Random().bytes().view());
  EXPECT_EQ(VaultKey().span().size(), 32u);
}

// ---- encodings ----

TEST_F(CryptoTest, Base64UrlRoundTripAllLengths) {
  for (size_t n = 0; n < 70; ++n) {
    const Bytes data = RandomBytes(n);
    const std::string text = Base64UrlEncode(data);
    EXPECT_EQ(text.find_first_of("=+/"), std::string::npos);
    auto back = Base64UrlDecode(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, data);
    auto secret = Base64UrlDecodeSecret(text);
    ASSERT_TRUE(secret.has_value());
    EXPECT_TRUE(ConstantTimeEqual(secret->span(), data));
    auto public_bytes = Base64UrlDecodePublic(text);
    ASSERT_TRUE(public_bytes.has_value()) << text;
    EXPECT_EQ(*public_bytes, data);
  }
}

// The table decoder for public bytes against libsodium's: on random texts
// of the alphabet, of near misses and of random bytes, at every length up
// to 12 (every remainder, every last character), the same texts are
// accepted and give the same bytes.
TEST_F(CryptoTest, Base64UrlPublicDecoderAcceptsWhatLibsodiumAccepts) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::string near = alphabet + "=+/ \n.\x80\xff";
  int accepted = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    const size_t n = RandomUniform(13);
    std::string text;
    for (size_t i = 0; i < n; ++i) {
      const std::string& from = round % 3 == 0 ? near : alphabet;
      if (round % 7 == 0) {
        text.push_back(static_cast<char>(RandomBytes(1)[0]));
      } else {
        text.push_back(from[RandomUniform(static_cast<uint32_t>(from.size()))]);
      }
    }
    auto reference = Base64UrlDecode(text);
    auto fast = Base64UrlDecodePublic(text);
    ASSERT_EQ(reference.has_value(), fast.has_value())
        << HexEncode(Bytes(text.begin(), text.end()));
    if (reference) {
      EXPECT_EQ(*reference, *fast) << text;
      ++accepted;
    } else {
      EXPECT_ERROR(fast, "encoding.invalid_base64url");
      ++refused;
    }
  }
  // Both sides of the comparison were exercised.
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(refused, 1000);
}

TEST_F(CryptoTest, Base64UrlRejectsNonCanonical) {
  for (std::string_view bad :
       {"Zg==", "Zg=",
        "\x80"
        "AAA",
        "AA\xc3\xa9"
        "A",
        "Zm9v+g", "Zm9v/g", "Zm 9v", "Zm9v\n", "Z", "Zh", "Zm9vY", "Zm9v!A", "Zm9v\xc3\xa9"}) {
    EXPECT_FALSE(Base64UrlDecode(bad).has_value()) << bad;
    EXPECT_FALSE(Base64UrlDecodeSecret(bad).has_value()) << bad;
    EXPECT_FALSE(Base64UrlDecodePublic(bad).has_value()) << bad;
  }
  auto r = Base64UrlDecode("Zg=");
  EXPECT_ERROR(r, "encoding.invalid_base64url");
  EXPECT_EQ(*Base64UrlDecode("Zg"), Bytes{'f'});
  EXPECT_EQ(*Base64UrlDecode("-_8"), (Bytes{0xfb, 0xff}));
}

TEST_F(CryptoTest, Hex) {
  EXPECT_EQ(HexEncode(Bytes{0x00, 0xab, 0xff}), "00abff");
  EXPECT_EQ(*HexDecode("00ABff"), (Bytes{0x00, 0xab, 0xff}));
  EXPECT_EQ(*HexDecode(""), Bytes{});
  for (std::string_view bad : {"0", "0g", "00 ", " 00", "0x00"}) {
    EXPECT_FALSE(HexDecode(bad).has_value()) << bad;
  }
}

TEST_F(CryptoTest, AdJoinsWithZeroBytes) {
  EXPECT_EQ(Ad({"a", "bc", ""}), (Bytes{'a', 0, 'b', 'c', 0}));
  EXPECT_EQ(Ad({"x"}), Bytes{'x'});
  EXPECT_EQ(Ad({}), Bytes{});
  // Into a caller's buffer: the same bytes, or nothing when they do not fit.
  std::array<uint8_t, 5> buffer{};
  auto into = AdInto(buffer, {"a", "bc", ""});
  ASSERT_TRUE(into.has_value());
  EXPECT_EQ(Bytes(into->begin(), into->end()), (Bytes{'a', 0, 'b', 'c', 0}));
  EXPECT_FALSE(AdInto(buffer, {"a", "bcd", ""}).has_value());
  EXPECT_TRUE(AdInto(std::span<uint8_t>(), {}).has_value());
}

TEST_F(CryptoTest, Base32) {
  // RFC 4648 section 10, without padding.
  EXPECT_EQ(Base32Encode(S("")), "");
  EXPECT_EQ(Base32Encode(S("f")), "MY");
  EXPECT_EQ(Base32Encode(S("fo")), "MZXQ");
  EXPECT_EQ(Base32Encode(S("foo")), "MZXW6");
  EXPECT_EQ(Base32Encode(S("foob")), "MZXW6YQ");
  EXPECT_EQ(Base32Encode(S("fooba")), "MZXW6YTB");
  EXPECT_EQ(Base32Encode(S("foobar")), "MZXW6YTBOI");
  EXPECT_EQ(*Base32Decode("MZXW6YTBOI======"), Bytes(S("foobar").begin(), S("foobar").end()));
  EXPECT_EQ(*Base32Decode("mzxw 6ytb oi"), Bytes(S("foobar").begin(), S("foobar").end()));
  for (size_t n = 0; n < 40; ++n) {
    const Bytes data = RandomBytes(n);
    EXPECT_EQ(*Base32Decode(Base32Encode(data)), data);
  }
  EXPECT_FALSE(Base32Decode("MZXW1").has_value());  // '1' is not in the alphabet
  EXPECT_FALSE(Base32Decode("MZXW6-YT").has_value());
  EXPECT_FALSE(Base32Decode("M").has_value());  // impossible length
  EXPECT_FALSE(Base32Decode("MZX").has_value());
}

// ---- randomness ----

TEST_F(CryptoTest, RandomDigitsAreDigitsAndKeepLeadingZeros) {
  bool saw_leading_zero = false;
  std::set<char> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string code = RandomDigits(6);
    ASSERT_EQ(code.size(), 6u);
    for (char c : code) {
      ASSERT_TRUE(c >= '0' && c <= '9') << code;
      seen.insert(c);
    }
    saw_leading_zero |= code[0] == '0';
  }
  EXPECT_TRUE(saw_leading_zero);  // p(miss) = 0.9^2000
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(RandomDigits(0), "");
}

// Ids and tokens are command-line arguments: never a leading '-'. 2000 draws
// would include about 31 such ids if nothing redrew them.
TEST_F(CryptoTest, ArgSafeIdsNeverStartWithADash) {
  int dashes_in_plain = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string id = RandomArgSafeId(16);
    ASSERT_EQ(id.size(), 22u);
    ASSERT_NE(id.front(), '-');
    Bytes raw = RandomArgSafeBytes(32);
    ASSERT_EQ(raw.size(), 32u);
    ASSERT_NE(Base64UrlEncode(raw).front(), '-');
    if (Base64UrlEncode(RandomBytes(16)).front() == '-') ++dashes_in_plain;
  }
  EXPECT_GT(dashes_in_plain, 0);  // the case the redraw exists for does happen
}

TEST_F(CryptoTest, RandomUniformInRange) {
  for (int i = 0; i < 1000; ++i) EXPECT_LT(RandomUniform(7), 7u);
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

// ---- KDF ----

TEST_F(CryptoTest, DeriveMasterKeyDeterministicAndSaltBound) {
  const Bytes salt(kSaltSize, 7);
  auto a = DeriveMasterKey("correct horse", salt, kTestKdf);
  auto b = DeriveMasterKey("correct horse", salt, kTestKdf);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(ConstantTimeEqual(a->span(), b->span()));
  auto other_salt = DeriveMasterKey("correct horse", Bytes(kSaltSize, 8), kTestKdf);
  EXPECT_FALSE(ConstantTimeEqual(a->span(), other_salt->span()));
  auto other_pw = DeriveMasterKey("correct horsf", salt, kTestKdf);
  EXPECT_FALSE(ConstantTimeEqual(a->span(), other_pw->span()));
  auto other_params = DeriveMasterKey("correct horse", salt, KdfParams{2, 8ull << 10});
  EXPECT_FALSE(ConstantTimeEqual(a->span(), other_params->span()));
}

TEST_F(CryptoTest, DeriveMasterKeyRejectsBadInput) {
  const Bytes salt(kSaltSize, 1);
  EXPECT_EQ(DeriveMasterKey("pw", Bytes(15, 1), kTestKdf).error().code(), "crypto.invalid_salt");
  EXPECT_EQ(DeriveMasterKey("pw", Bytes(17, 1), kTestKdf).error().code(), "crypto.invalid_salt");
  EXPECT_EQ(DeriveMasterKey("pw", salt, KdfParams{0, 8ull << 10}).error().code(),
            "crypto.invalid_kdf_params");
  EXPECT_EQ(DeriveMasterKey("pw", salt, KdfParams{1, 8191}).error().code(),
            "crypto.invalid_kdf_params");
}

TEST_F(CryptoTest, SplitMasterKeyGivesDistinctSubkeys) {
  auto mk = DeriveMasterKey("pw", Bytes(kSaltSize, 3), kTestKdf);
  ASSERT_TRUE(mk.has_value());
  AccountKeys keys = SplitMasterKey(*mk);
  EXPECT_FALSE(ConstantTimeEqual(keys.auth.span(), keys.enc.span()));
  EXPECT_FALSE(ConstantTimeEqual(keys.auth.span(), mk->span()));
  EXPECT_TRUE(ConstantTimeEqual(keys.auth.span(), Sub(mk->span(), 1, "KWmaster").span()));
  EXPECT_TRUE(ConstantTimeEqual(keys.enc.span(), Sub(mk->span(), 2, "KWmaster").span()));
  EXPECT_FALSE(ConstantTimeEqual(Sub(mk->span(), 1, "KWmaster").span(),
                                 Sub(mk->span(), 1, "KWlink__").span()));
}

TEST_F(CryptoTest, SubRejectsBadContextLength) {
  const SecureBytes key = SecureBytes::Random(32);
  EXPECT_DEATH(Sub(key.span(), 1, "short"), "context");
  EXPECT_DEATH(Sub(key.span(), 1, "muchtoolong"), "context");
}

// ---- AEAD ----

TEST_F(CryptoTest, EncryptDecryptRoundTrip) {
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes ad = Ad({"keyward/v1/item", "item-1"});
  for (size_t n : {0, 1, 15, 16, 17, 1000}) {
    const Bytes pt = RandomBytes(n);
    const Bytes blob = Encrypt(key.span(), pt, ad);
    ASSERT_EQ(blob.size(), 1 + 24 + n + 16);
    EXPECT_EQ(blob[0], 0x01);
    auto back = Decrypt(key.span(), blob, ad);
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(ConstantTimeEqual(back->span(), pt));
  }
  // Random nonces: the same message twice gives two blobs.
  EXPECT_NE(Encrypt(key.span(), S("m"), ad), Encrypt(key.span(), S("m"), ad));
}

TEST_F(CryptoTest, DecryptFailsUnderOtherAd) {
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes blob = Encrypt(key.span(), S("uk"), Ad({"keyward/v1/uk", "user-1"}));
  ExpectDecryptFailed(Decrypt(key.span(), blob, Ad({"keyward/v1/uk", "user-2"})));
  ExpectDecryptFailed(Decrypt(key.span(), blob, Ad({"keyward/v1/item", "user-1"})));
  ExpectDecryptFailed(Decrypt(key.span(), blob, {}));
  // The 0x00 separator matters: "a" 0 "bc" is not "ab" 0 "c".
  const Bytes blob2 = Encrypt(key.span(), S("x"), Ad({"a", "bc"}));
  ExpectDecryptFailed(Decrypt(key.span(), blob2, Ad({"ab", "c"})));
}

TEST_F(CryptoTest, DecryptFailsOnAnyTamperedByte) {
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes ad = Ad({"ad"});
  const Bytes blob = Encrypt(key.span(), S("attack at dawn"), ad);
  for (size_t i = 0; i < blob.size(); ++i) {
    Bytes bad = blob;
    bad[i] ^= 0x01;
    ExpectDecryptFailed(Decrypt(key.span(), bad, ad));
  }
}

TEST_F(CryptoTest, DecryptFailsOnWrongKeyShortBlobAndVersion) {
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes blob = Encrypt(key.span(), S("m"), {});
  ExpectDecryptFailed(Decrypt(SecureBytes::Random(32).span(), blob, {}));
  ExpectDecryptFailed(Decrypt(key.span().first(31), blob, {}));
  for (size_t n = 0; n < 1 + 24 + 16; ++n) {
    ExpectDecryptFailed(Decrypt(key.span(), std::span<const uint8_t>(blob).first(n), {}));
  }
  ExpectDecryptFailed(
      Decrypt(key.span(), std::span<const uint8_t>(blob).first(blob.size() - 1), {}));
  Bytes appended = blob;
  appended.push_back(0);
  ExpectDecryptFailed(Decrypt(key.span(), appended, {}));
  Bytes v2 = blob;
  v2[0] = 0x02;
  ExpectDecryptFailed(Decrypt(key.span(), v2, {}));
}

TEST_F(CryptoTest, EncryptWithNonceIsDeterministic) {
  const Bytes key(32, 0x42);
  const Bytes nonce(24, 0x24);
  const Bytes a = EncryptWithNonce(key, nonce, S("hello"), S("ad"));
  EXPECT_EQ(a, EncryptWithNonce(key, nonce, S("hello"), S("ad")));
  EXPECT_TRUE(std::equal(nonce.begin(), nonce.end(), a.begin() + 1));
  auto back = Decrypt(key, a, S("ad"));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->view(), "hello");
}

// ---- hash and compare ----

TEST_F(CryptoTest, HashIsKeyedAnd32Bytes) {
  const Bytes k1(32, 1), k2(32, 2);
  EXPECT_EQ(Hash(k1, S("m")).size(), 32u);
  EXPECT_EQ(Hash(k1, S("m")), Hash(k1, S("m")));
  EXPECT_NE(Hash(k1, S("m")), Hash(k2, S("m")));
  EXPECT_NE(Hash(k1, S("m")), Hash({}, S("m")));
  EXPECT_NE(Hash(k1, S("m")), Hash(k1, S("n")));
}

TEST_F(CryptoTest, ConstantTimeEqualComparesLengthsAndContents) {
  EXPECT_TRUE(ConstantTimeEqual(S("abc"), S("abc")));
  EXPECT_FALSE(ConstantTimeEqual(S("abc"), S("abd")));
  EXPECT_FALSE(ConstantTimeEqual(S("abc"), S("abcd")));
  EXPECT_FALSE(ConstantTimeEqual(S("abcd"), S("abc")));
  EXPECT_FALSE(ConstantTimeEqual(S(""), S("a")));
  EXPECT_TRUE(ConstantTimeEqual(S(""), S("")));
}

// ---- sealed boxes ----

TEST_F(CryptoTest, SealOpenRoundTripAndFailures) {
  const BoxKeyPair kp = GenerateBoxKeyPair();
  ASSERT_EQ(kp.public_key.size(), 32u);
  ASSERT_EQ(kp.secret_key.size(), 32u);
  const Bytes sealed = Seal(kp.public_key, S("share-a"));
  EXPECT_EQ(sealed.size(), 48u + 7u);
  auto opened = Open(kp.public_key, kp.secret_key.span(), sealed);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->view(), "share-a");
  auto empty = Open(kp.public_key, kp.secret_key.span(), Seal(kp.public_key, {}));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());

  const BoxKeyPair other = GenerateBoxKeyPair();
  ExpectDecryptFailed(Open(other.public_key, other.secret_key.span(), sealed));
  ExpectDecryptFailed(Open(kp.public_key, other.secret_key.span(), sealed));
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x80;
    ExpectDecryptFailed(Open(kp.public_key, kp.secret_key.span(), bad));
  }
  ExpectDecryptFailed(
      Open(kp.public_key, kp.secret_key.span(), std::span<const uint8_t>(sealed).first(47)));
  ExpectDecryptFailed(Open(kp.public_key, kp.secret_key.span().first(31), sealed));
}

// A client-sent key is checked before anything is sealed to it: Seal to a
// low-order point would fail.
TEST_F(CryptoTest, UsableBoxPublicKeyRefusesLowOrderPointsAndOtherSizes) {
  EXPECT_TRUE(IsUsableBoxPublicKey(GenerateBoxKeyPair().public_key));
  EXPECT_FALSE(IsUsableBoxPublicKey(Bytes(32, 0)));  // the identity
  Bytes one(32, 0);
  one[0] = 1;  // u = 1, of order 4
  EXPECT_FALSE(IsUsableBoxPublicKey(one));
  EXPECT_FALSE(IsUsableBoxPublicKey(Bytes(31, 9)));
  EXPECT_FALSE(IsUsableBoxPublicKey(Bytes(33, 9)));
}

TEST_F(CryptoTest, BoxKeyPairFromSeedIsDeterministic) {
  const Bytes seed(32, 9);
  const BoxKeyPair a = BoxKeyPairFromSeed(seed);
  const BoxKeyPair b = BoxKeyPairFromSeed(seed);
  EXPECT_EQ(a.public_key, b.public_key);
  EXPECT_TRUE(ConstantTimeEqual(a.secret_key.span(), b.secret_key.span()));
  EXPECT_NE(a.public_key, BoxKeyPairFromSeed(Bytes(32, 10)).public_key);
}

// ---- signatures ----

TEST_F(CryptoTest, SignVerify) {
  const SignKeyPair kp = GenerateSignKeyPair();
  ASSERT_EQ(kp.public_key.size(), 32u);
  ASSERT_EQ(kp.secret_key.size(), 64u);
  const Bytes sig = Sign(kp.secret_key.span(), S("org v1 pk policy"));
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(Verify(kp.public_key, S("org v1 pk policy"), sig));
  EXPECT_FALSE(Verify(kp.public_key, S("org v2 pk policy"), sig));
  EXPECT_FALSE(Verify(GenerateSignKeyPair().public_key, S("org v1 pk policy"), sig));
  for (size_t i = 0; i < sig.size(); ++i) {
    Bytes bad = sig;
    bad[i] ^= 0x04;
    EXPECT_FALSE(Verify(kp.public_key, S("org v1 pk policy"), bad)) << i;
  }
  EXPECT_FALSE(
      Verify(kp.public_key, S("org v1 pk policy"), std::span<const uint8_t>(sig).first(63)));
  EXPECT_FALSE(
      Verify(std::span<const uint8_t>(kp.public_key).first(31), S("org v1 pk policy"), sig));
  const SignKeyPair seeded = SignKeyPairFromSeed(Bytes(32, 5));
  EXPECT_EQ(seeded.public_key, SignKeyPairFromSeed(Bytes(32, 5)).public_key);
  EXPECT_EQ(Sign(seeded.secret_key.span(), S("m")), Sign(seeded.secret_key.span(), S("m")));
  EXPECT_TRUE(Verify(seeded.public_key, {}, Sign(seeded.secret_key.span(), {})));
}

TEST_F(CryptoTest, FingerprintFormat) {
  const std::string fp = Fingerprint(Bytes(32, 0));
  ASSERT_EQ(fp.size(), 5u * 8u + 4u);
  for (size_t i = 0; i < fp.size(); ++i) {
    if (i % 9 == 8) {
      EXPECT_EQ(fp[i], ' ');
    } else {
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(fp[i])) && !std::isupper(fp[i]));
    }
  }
  EXPECT_NE(fp, Fingerprint(Bytes(32, 1)));
}

// ---- MACs and TOTP ----

TEST_F(CryptoTest, HmacLengthsAndLongKeys) {
  EXPECT_EQ(HmacSha512(S("k"), S("m")).size(), 64u);
  EXPECT_EQ(HmacSha256(S("k"), S("m")).size(), 32u);
  EXPECT_EQ(HmacSha1(S("k"), S("m")).size(), 20u);
  EXPECT_EQ(HmacSha1({}, {}).size(), 20u);
  const Bytes long_key(200, 0xaa);
  EXPECT_NE(HmacSha512(long_key, S("m")), HmacSha512(S("k"), S("m")));
}

TEST_F(CryptoTest, TotpVerifyWindow) {
  const Bytes secret = RandomBytes(20);
  const int64_t now = 1'700'000'015;  // mid-step
  const std::string code = TotpCode(secret, now);
  ASSERT_EQ(code.size(), 6u);
  EXPECT_TRUE(TotpVerify(secret, code, now));
  EXPECT_TRUE(TotpVerify(secret, code, now + 30));   // one step later, window 1
  EXPECT_TRUE(TotpVerify(secret, code, now - 30));   // one step earlier
  EXPECT_FALSE(TotpVerify(secret, code, now + 60));  // two steps later
  EXPECT_FALSE(TotpVerify(secret, code, now - 60));
  EXPECT_TRUE(TotpVerify(secret, code, now + 60, 2));
  EXPECT_FALSE(TotpVerify(secret, code, now + 30, 0));
  EXPECT_TRUE(TotpVerify(secret, code, now, 0));
  EXPECT_FALSE(TotpVerify(secret, code.substr(1), now));
  EXPECT_FALSE(TotpVerify(secret, code + "0", now));
  EXPECT_FALSE(TotpVerify(secret, "", now));
  EXPECT_FALSE(TotpVerify(RandomBytes(20), code, now, 0) &&
               TotpVerify(RandomBytes(20), code, now, 0));
  EXPECT_EQ(TotpVerifyStep(secret, code, now + 30), now / 30);
  EXPECT_EQ(TotpVerifyStep(secret, code, now + 90), std::nullopt);
}

TEST_F(CryptoTest, TotpCodeStepBoundaries) {
  const Bytes secret = RandomBytes(20);
  EXPECT_EQ(TotpCode(secret, 30), TotpCode(secret, 59));
  EXPECT_EQ(TotpCode(secret, 0, 8).size(), 8u);
  EXPECT_DEATH(TotpCode(secret, 0, 5), "digits");
}

TEST_F(CryptoTest, DecodeIntoCallerStorage) {
  const Bytes bytes = RandomBytes(32);
  std::array<uint8_t, 48> out{};
  auto n = Base64UrlDecodeInto(Base64UrlEncode(bytes), out);
  ASSERT_TRUE(n.has_value());
  ASSERT_EQ(*n, 32u);
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), out.begin()));
  std::array<uint8_t, 8> small{};
  EXPECT_FALSE(Base64UrlDecodeInto(Base64UrlEncode(bytes), small).has_value());
  EXPECT_FALSE(Base64UrlDecodeInto("Zg==", out).has_value());
  Wipe(out);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0; }));
}

TEST_F(CryptoTest, PublicBase64UrlMatchesTheConstantTimeEncoder) {
  for (size_t n = 0; n < 200; ++n) {
    Bytes bytes = RandomBytes(n);
    std::string fast = "prefix:";
    AppendBase64UrlPublic(fast, bytes);
    EXPECT_EQ(fast, "prefix:" + Base64UrlEncode(bytes)) << n;
  }
}

}  // namespace
}  // namespace keyward::crypto
