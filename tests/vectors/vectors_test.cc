// Checks this implementation against tests/vectors/*.json, the known-answer
// vectors shared with the TypeScript client. It only reads them (see
// generate_vectors.cc for where they come from) and compares every field.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/cpace.h"
#include "crypto/crypto.h"
#include "vector_file.h"  // beside this file

namespace keyward::crypto {
namespace {

using Json = nlohmann::json;

using testing::vectors::Hex;
using testing::vectors::HexOf;
using testing::vectors::Load;
using testing::vectors::Rows;

std::span<const uint8_t> Utf8(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class VectorsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Init().has_value()); }
};

TEST_F(VectorsTest, Argon2id) {
  const Json doc = Load("argon2id.json");
  bool saw_floor = false;
  for (const Json& v : Rows(doc, "vectors", 5)) {
    const KdfParams params{v["ops"].get<uint64_t>(), v["mem"].get<uint64_t>()};
    saw_floor |= params.ops == kClientFloorKdf.ops && params.mem == kClientFloorKdf.mem;
    auto mk = DeriveMasterKey(v["password"].get<std::string>(), Hex(v["salt"]), params);
    ASSERT_TRUE(mk.has_value()) << v;
    EXPECT_EQ(HexOf(mk->span()), v["key"]) << v;
  }
  EXPECT_TRUE(saw_floor) << "argon2id.json must keep a row at the client floor (ops 2, 19 MiB)";
  for (const Json& v : Rows(doc, "invalid")) {
    auto mk = DeriveMasterKey(v["password"].get<std::string>(), Hex(v["salt"]),
                              {v["ops"].get<uint64_t>(), v["mem"].get<uint64_t>()});
    ASSERT_FALSE(mk.has_value()) << v;
    EXPECT_EQ(mk.error().code(), v["error"]) << v;
  }
}

TEST_F(VectorsTest, KdfDerive) {
  const Json doc = Load("kdf_derive.json");
  for (const Json& v : Rows(doc, "vectors", 5)) {
    const SecureBytes sub =
        Sub(Hex(v["key"]), v["id"].get<uint64_t>(), v["ctx"].get<std::string>());
    EXPECT_EQ(HexOf(sub.span()), v["subkey"]) << v;
  }
}

TEST_F(VectorsTest, Aead) {
  const Json doc = Load("aead.json");
  bool saw_draft = false;
  for (const Json& v : Rows(doc, "vectors", 2)) {
    const Bytes key = Hex(v["key"]), nonce = Hex(v["nonce"]), ad = Hex(v["ad"]);
    const Bytes pt = Hex(v["plaintext"]);
    const Bytes blob = EncryptWithNonce(key, nonce, pt, ad);
    EXPECT_EQ(HexOf(blob), v["blob"]) << v["name"];
    // The published vector is raw XChaCha20-Poly1305; our blob only wraps it.
    ASSERT_GT(blob.size(), 25u);
    EXPECT_EQ(HexOf(std::span<const uint8_t>(blob).subspan(25)), v["ciphertext"]) << v["name"];
    EXPECT_EQ("01" + v["nonce"].get<std::string>() + v["ciphertext"].get<std::string>(),
              v["blob"].get<std::string>())
        << v["name"];
    auto back = Decrypt(key, Hex(v["blob"]), ad);
    ASSERT_TRUE(back.has_value()) << v["name"];
    EXPECT_EQ(HexOf(back->span()), v["plaintext"]) << v["name"];
    saw_draft |= v["name"] == "draft-a.3.1";
  }
  EXPECT_TRUE(saw_draft);
  for (const Json& v : Rows(doc, "invalid", 5)) {
    auto r = Decrypt(Hex(v["key"]), Hex(v["blob"]), Hex(v["ad"]));
    ASSERT_FALSE(r.has_value()) << v["why"];
    EXPECT_EQ(r.error().code(), v["error"]) << v["why"];
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(r.error().message(), "decryption failed");
  }
}

TEST_F(VectorsTest, GenericHashKeyed) {
  const Json doc = Load("generichash_keyed.json");
  for (const Json& v : Rows(doc, "vectors", 3)) {
    EXPECT_EQ(HexOf(Hash(Hex(v["key"]), Hex(v["message"]))), v["hash"]) << v;
  }
}

TEST_F(VectorsTest, SealedBox) {
  const Json doc = Load("sealed_box.json");
  for (const Json& v : Rows(doc, "vectors", 2)) {
    const BoxKeyPair kp = BoxKeyPairFromSeed(Hex(v["seed"]));
    EXPECT_EQ(HexOf(kp.public_key), v["public_key"]);
    EXPECT_EQ(HexOf(kp.secret_key.span()), v["secret_key"]);
    auto opened = Open(kp.public_key, kp.secret_key.span(), Hex(v["sealed"]));
    ASSERT_TRUE(opened.has_value()) << v;
    EXPECT_EQ(HexOf(opened->span()), v["plaintext"]);
    Bytes tampered = Hex(v["sealed"]);
    tampered.back() ^= 0x01;
    EXPECT_FALSE(Open(kp.public_key, kp.secret_key.span(), tampered).has_value());
  }
}

TEST_F(VectorsTest, Ed25519) {
  size_t rfc_rows = 0;
  const Json doc = Load("ed25519.json");
  for (const Json& v : Rows(doc, "vectors", 3)) {
    const SignKeyPair kp = SignKeyPairFromSeed(Hex(v["seed"]));
    EXPECT_EQ(HexOf(kp.public_key), v["public_key"]) << v["name"];
    EXPECT_EQ(HexOf(kp.secret_key.span()), v["secret_key"]) << v["name"];
    const Bytes message = Hex(v["message"]);
    EXPECT_EQ(HexOf(Sign(kp.secret_key.span(), message)), v["signature"]) << v["name"];
    const Bytes signature = Hex(v["signature"]);
    EXPECT_TRUE(Verify(Hex(v["public_key"]), message, signature)) << v["name"];
    Bytes bad = signature;
    bad[0] ^= 0x01;
    EXPECT_FALSE(Verify(Hex(v["public_key"]), message, bad)) << v["name"];
    rfc_rows += v["name"].get<std::string>().starts_with("rfc8032-") ? 1 : 0;
  }
  EXPECT_GE(rfc_rows, 2u);
}

TEST_F(VectorsTest, Hmac) {
  size_t by_alg[3] = {0, 0, 0};
  const Json doc = Load("hmac.json");
  for (const Json& v : Rows(doc, "vectors", 14)) {
    const std::string alg = v["algorithm"];
    const Bytes key = Hex(v["key"]), message = Hex(v["message"]);
    Bytes mac;
    if (alg == "hmac-sha1") {
      mac = HmacSha1(key, message), ++by_alg[0];
    } else if (alg == "hmac-sha256") {
      mac = HmacSha256(key, message), ++by_alg[1];
    } else if (alg == "hmac-sha512") {
      mac = HmacSha512(key, message), ++by_alg[2];
    } else {
      ADD_FAILURE() << "unknown algorithm " << alg;
      continue;
    }
    const size_t n = v["output_bytes"].get<size_t>();
    ASSERT_LE(n, mac.size());
    EXPECT_EQ(HexOf(std::span<const uint8_t>(mac).first(n)), v["mac"]) << v["source"] << " " << alg;
  }
  // RFC 4231 has 7 cases for each SHA-2; RFC 2202 has 7 for SHA-1.
  EXPECT_EQ(by_alg[0], 7u);
  EXPECT_EQ(by_alg[1], 7u);
  EXPECT_EQ(by_alg[2], 7u);
}

TEST_F(VectorsTest, Totp) {
  const Json doc = Load("totp.json");
  size_t rows = 0;
  for (const Json& v : Rows(doc, "vectors", 18)) {
    const std::string alg_name = v["algorithm"];
    const TotpAlgorithm alg = alg_name == "sha1"     ? TotpAlgorithm::kSha1
                              : alg_name == "sha256" ? TotpAlgorithm::kSha256
                                                     : TotpAlgorithm::kSha512;
    const Bytes secret = Hex(v["secret"]);
    const int64_t time = v["time"].get<int64_t>();
    const std::string code = v["code"];
    char step[17];
    std::snprintf(step, sizeof step, "%016llX", static_cast<unsigned long long>(time / 30));
    EXPECT_EQ(std::string(step), v["step"]);
    EXPECT_EQ(TotpCode(secret, time, v["digits"].get<int>(), alg), code) << alg_name << " " << time;
    // Six digits are the low six of the eight-digit value.
    EXPECT_EQ(TotpCode(secret, time, 6, alg), code.substr(code.size() - 6));
    if (alg == TotpAlgorithm::kSha1) {
      EXPECT_TRUE(TotpVerify(secret, code, time, 0));
      EXPECT_TRUE(TotpVerify(secret, code, time + 30, 1));
      EXPECT_FALSE(TotpVerify(secret, code, time + 90, 1));
    }
    ++rows;
  }
  EXPECT_EQ(rows, 18u);  // all of RFC 6238 Appendix B
  for (const Json& v : Rows(doc, "base32", 7)) {
    EXPECT_EQ(Base32Encode(Hex(v["bytes"])), v["base32"]);
    auto back = Base32Decode(v["base32"].get<std::string>());
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(HexOf(*back), v["bytes"]);
  }
  for (const Json& v : Rows(doc, "base32_lenient")) {
    auto back = Base32Decode(v["input"].get<std::string>());
    ASSERT_TRUE(back.has_value()) << v;
    EXPECT_EQ(HexOf(*back), v["bytes"]);
  }
  for (const Json& v : Rows(doc, "base32_invalid")) {
    EXPECT_FALSE(Base32Decode(v.get<std::string>()).has_value()) << v;
  }
}

TEST_F(VectorsTest, AccountKeys) {
  const Json doc = Load("account_keys.json");
  for (const Json& v : Rows(doc, "vectors", 2)) {
    auto mk = DeriveMasterKey(v["password"].get<std::string>(), Hex(v["salt"]),
                              {v["ops"].get<uint64_t>(), v["mem"].get<uint64_t>()});
    ASSERT_TRUE(mk.has_value()) << v;
    EXPECT_EQ(HexOf(mk->span()), v["mk"]);
    const AccountKeys keys = SplitMasterKey(*mk);
    EXPECT_EQ(HexOf(keys.auth.span()), v["ak"]);
    EXPECT_EQ(HexOf(keys.enc.span()), v["ek"]);
    EXPECT_EQ(HexOf(Hash(Hex(v["pepper"]), keys.auth.span())), v["verifier"]);
  }
  for (const Json& v : Rows(doc, "prelogin_salt")) {
    std::string lower = v["email"];
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(lower, v["lowercase_email"]);
    const Bytes h = Hash(Hex(v["pepper2"]), Utf8(lower));
    EXPECT_EQ(HexOf(std::span<const uint8_t>(h).first(kSaltSize)), v["salt"]);
  }
}

TEST_F(VectorsTest, Base64Url) {
  const Json doc = Load("base64url.json");
  for (const Json& v : Rows(doc, "vectors", 7)) {
    EXPECT_EQ(Base64UrlEncode(Hex(v["bytes"])), v["base64url"]);
    auto back = Base64UrlDecode(v["base64url"].get<std::string>());
    ASSERT_TRUE(back.has_value()) << v;
    EXPECT_EQ(HexOf(*back), v["bytes"]);
  }
  for (const Json& v : Rows(doc, "invalid", 5)) {
    const std::string text = v["text"];
    EXPECT_FALSE(Base64UrlDecode(text).has_value()) << v["why"];
    EXPECT_FALSE(Base64UrlDecodeSecret(text).has_value()) << v["why"];
  }
}

TEST_F(VectorsTest, Fingerprint) {
  const Json doc = Load("fingerprint.json");
  for (const Json& v : Rows(doc, "vectors", 2)) {
    EXPECT_EQ(Fingerprint(Hex(v["public_key"])), v["fingerprint"]);
  }
}

// draft-irtf-cfrg-cpace, CPACE-RISTR255-SHA512 (cpace.json): every
// intermediate value of the draft, so a mismatch names the step.
TEST_F(VectorsTest, CpaceRistretto255) {
  const Json doc = Load("cpace.json");
  for (const Json& v : Rows(doc, "prepend_len", 4)) {
    EXPECT_EQ(HexOf(cpace::PrependLen(Hex(v["input"]))), v["output"]) << v["input"];
  }
  for (const Json& v : Rows(doc, "lv_cat")) {
    std::vector<Bytes> parts;
    for (const Json& p : v["parts"]) parts.push_back(Hex(p));
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_EQ(HexOf(cpace::LvCat({parts[0], parts[1], parts[2], parts[3]})), v["output"]);
  }
  for (const Json& v : Rows(doc, "cpace")) {
    const Bytes prs = Hex(v["prs"]), ci = Hex(v["ci"]), sid = Hex(v["sid"]);
    EXPECT_EQ(HexOf(cpace::GeneratorString(prs, ci, sid).span()), v["generator_string"]);
    const Bytes g = cpace::CalculateGenerator(prs, ci, sid);
    EXPECT_EQ(HexOf(g), v["generator"]);
    auto a = cpace::ShareFromScalar(g, Hex(v["ya"]));
    auto b = cpace::ShareFromScalar(g, Hex(v["yb"]));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(HexOf(a->point), v["Ya"]);
    EXPECT_EQ(HexOf(b->point), v["Yb"]);
    auto ka = cpace::SharedPoint(a->scalar.span(), b->point);
    auto kb = cpace::SharedPoint(b->scalar.span(), a->point);
    ASSERT_TRUE(ka && kb);
    EXPECT_EQ(HexOf(ka->span()), v["K"]);
    EXPECT_EQ(HexOf(kb->span()), v["K"]);
    const Bytes transcript =
        cpace::TranscriptIr(a->point, Hex(v["ad_a"]), b->point, Hex(v["ad_b"]));
    EXPECT_EQ(HexOf(transcript), v["transcript_ir"]);
    EXPECT_EQ(HexOf(cpace::Isk(sid, ka->span(), transcript).span()), v["isk_ir"]);
  }
  for (const Json& v : Rows(doc, "scalar_mult_valid")) {
    auto k = cpace::SharedPoint(Hex(v["scalar"]), Hex(v["point"]));
    ASSERT_TRUE(k.has_value());
    EXPECT_EQ(HexOf(k->span()), v["result"]);
  }
  for (const Json& v : Rows(doc, "scalar_mult_invalid", 2)) {
    auto k = cpace::SharedPoint(Hex(v["scalar"]), Hex(v["point"]));
    ASSERT_FALSE(k.has_value()) << v["why"];
    EXPECT_EQ(k.error().code(), "pair.bad_point") << v["why"];
  }
}

}  // namespace
}  // namespace keyward::crypto
