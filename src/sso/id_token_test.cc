// ID token verification, one test per refusal (issue 14): tokens signed
// with real keys made by libcjose, the JWKS the provider would publish, and
// the forgeries an attacker would try.
#include "sso/id_token.h"

#include <cjose/cjose.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "tests/support/status_assertions.h"

namespace keyward::sso {
namespace {

using Json = nlohmann::json;

constexpr int64_t kNow = 1'800'000'000;
constexpr char kIssuer[] = "https://idp.example.com";
constexpr char kClient[] = "keyward";
constexpr char kNonce[] = "n-0S6_WzA2Mj";

std::string B64(std::string_view s) {
  return crypto::Base64UrlEncode(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

struct Key {
  cjose_jwk_t* jwk = nullptr;
  std::string kid;
  ~Key() { cjose_jwk_release(jwk); }
  // The public JWK as the provider publishes it.
  Json Public() const {
    cjose_err err;
    char* text = cjose_jwk_to_json(jwk, false, &err);
    Json j = Json::parse(text);
    free(text);
    j["kid"] = kid;
    j["use"] = "sig";
    return j;
  }
};

class IdTokenTest : public ::testing::Test {
 protected:
  IdTokenTest() {
    static const uint8_t e[] = {1, 0, 1};
    cjose_err err;
    rsa_.jwk = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    rsa_.kid = "rsa-1";
    ec_.jwk = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    ec_.kid = "ec-1";
    other_.jwk = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
    other_.kid = "rsa-1";  // the same kid, another key: a forger's
  }

  Jwks Keys() const {
    Json jwks = {{"keys", Json::array({rsa_.Public(), ec_.Public()})}};
    auto parsed = Jwks::Parse(jwks.dump());
    EXPECT_TRUE(parsed.has_value());
    return std::move(*parsed);
  }

  static Json Claims() {
    return {{"iss", kIssuer},
            {"aud", kClient},
            {"sub", "248289761001"},
            {"iat", kNow - 5},
            {"exp", kNow + 300},
            {"nonce", kNonce},
            {"email", "bob@example.com"},
            {"email_verified", true}};
  }

  static std::string Sign(const Key& key, const std::string& alg, const Json& claims,
                          bool with_kid = true) {
    cjose_err err;
    cjose_header_t* h = cjose_header_new(&err);
    cjose_header_set(h, CJOSE_HDR_ALG, alg.c_str(), &err);
    if (with_kid) cjose_header_set(h, CJOSE_HDR_KID, key.kid.c_str(), &err);
    const std::string payload = claims.dump();
    cjose_jws_t* jws = cjose_jws_sign(key.jwk, h, reinterpret_cast<const uint8_t*>(payload.data()),
                                      payload.size(), &err);
    EXPECT_NE(jws, nullptr) << err.message;
    const char* compact = nullptr;
    cjose_jws_export(jws, &compact, &err);
    std::string out = compact ? compact : "";
    cjose_jws_release(jws);
    cjose_header_release(h);
    return out;
  }

  static IdTokenExpectations Expect() {
    IdTokenExpectations e;
    e.issuer = kIssuer;
    e.client_id = kClient;
    e.nonce = kNonce;
    e.now = kNow;
    return e;
  }

  Result<IdTokenClaims> Check(const std::string& token) const {
    return IdTokenVerifier().Verify(token, Keys(), Expect());
  }

  Key rsa_, ec_, other_;
};

TEST_F(IdTokenTest, AnHonestTokenVerifiesWithRsaAndEc) {
  for (auto [key, alg] : {std::pair{&rsa_, "RS256"}, {&rsa_, "PS256"}, {&ec_, "ES256"}}) {
    auto claims = Check(Sign(*key, alg, Claims()));
    ASSERT_TRUE(claims.has_value()) << alg << ": " << claims.error().message();
    EXPECT_EQ(claims->subject, "248289761001");
    EXPECT_EQ(claims->issuer, kIssuer);
    EXPECT_EQ(claims->email, "bob@example.com");
    EXPECT_TRUE(claims->email_verified);
  }
  EXPECT_EQ(IdTokenVerifier::KeyId(Sign(ec_, "ES256", Claims())), "ec-1");
}

TEST_F(IdTokenTest, WrongIssuerIsRefused) {
  Json c = Claims();
  c["iss"] = "https://evil.example.com";
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.wrong_issuer");
}

TEST_F(IdTokenTest, WrongAudienceIsRefused) {
  Json c = Claims();
  c["aud"] = "another-client";
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.wrong_audience");
  // Several audiences: ours must be there and be the authorized party.
  c["aud"] = Json::array({kClient, "another-client"});
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.wrong_audience");
  c["azp"] = "another-client";
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.wrong_audience");
  c["azp"] = kClient;
  EXPECT_TRUE(Check(Sign(rsa_, "RS256", c)).has_value());
}

TEST_F(IdTokenTest, AnExpiredTokenIsRefused) {
  Json c = Claims();
  c["iat"] = kNow - 400;
  c["exp"] = kNow - 61;
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.token_expired");
  c["exp"] = kNow - 59;  // within the leeway
  EXPECT_TRUE(Check(Sign(rsa_, "RS256", c)).has_value());
}

TEST_F(IdTokenTest, ATokenNotYetValidIsRefused) {
  Json c = Claims();
  c["iat"] = kNow + 120;
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.token_not_yet_valid");
  c = Claims();
  c["nbf"] = kNow + 120;
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.token_not_yet_valid");
  c = Claims();
  c["iat"] = kNow - 3600;  // issued an hour ago, still unexpired
  c["exp"] = kNow + 3600;
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.token_too_old");
}

TEST_F(IdTokenTest, ABadSignatureIsRefused) {
  // Signed by another key under the published kid.
  EXPECT_ERROR(Check(Sign(other_, "RS256", Claims())), "sso.bad_signature");
  // The honest signature over changed claims.
  std::string token = Sign(rsa_, "RS256", Claims());
  Json c = Claims();
  c["sub"] = "someone-else";
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  token = token.substr(0, dot1 + 1) + B64(c.dump()) + token.substr(dot2);
  EXPECT_ERROR(Check(token), "sso.bad_signature");
}

TEST_F(IdTokenTest, AnUnknownKidIsRefused) {
  Key stranger;
  static const uint8_t e[] = {1, 0, 1};
  cjose_err err;
  stranger.jwk = cjose_jwk_create_RSA_random(2048, e, sizeof e, &err);
  stranger.kid = "rsa-2";
  EXPECT_ERROR(Check(Sign(stranger, "RS256", Claims())), "sso.unknown_key");
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", Claims(), /*with_kid=*/false)), "sso.unknown_key");
  EXPECT_EQ(IdTokenVerifier::KeyId(Sign(stranger, "RS256", Claims())), "rsa-2");
}

TEST_F(IdTokenTest, AlgNoneIsRefused) {
  const std::string header = R"({"alg":"none","kid":"rsa-1"})";
  EXPECT_ERROR(Check(B64(header) + "." + B64(Claims().dump()) + "."), "sso.alg_not_allowed");
  EXPECT_ERROR(Check(B64(R"({"kid":"rsa-1"})") + "." + B64(Claims().dump()) + ".AAAA"),
               "sso.alg_not_allowed");
}

TEST_F(IdTokenTest, Hs256WithThePublicKeyAsSecretIsRefused) {
  // The classic confusion: an HMAC keyed with the provider's public key,
  // which anyone can fetch, under the RSA key's kid.
  const std::string secret = rsa_.Public().dump();
  Key hmac;
  cjose_err err;
  hmac.jwk = cjose_jwk_create_oct_spec(reinterpret_cast<const uint8_t*>(secret.data()),
                                       secret.size(), &err);
  hmac.kid = "rsa-1";
  EXPECT_ERROR(Check(Sign(hmac, "HS256", Claims())), "sso.alg_not_allowed");
  // Allowed by mistake, it would still meet an RSA key: a mismatch.
  IdTokenVerifier lax({"HS256", "RS256"});
  EXPECT_ERROR(lax.Verify(Sign(hmac, "HS256", Claims()), Keys(), Expect()), "sso.key_mismatch");
  // An EC algorithm naming the RSA key.
  Key ec_as_rsa;
  ec_as_rsa.jwk = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
  ec_as_rsa.kid = "rsa-1";
  EXPECT_ERROR(Check(Sign(ec_as_rsa, "ES256", Claims())), "sso.key_mismatch");
}

TEST_F(IdTokenTest, ANonceMismatchIsRefused) {
  Json c = Claims();
  c["nonce"] = "another-sign-in";
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.nonce_mismatch");
  c.erase("nonce");
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.nonce_mismatch");
}

TEST_F(IdTokenTest, MalformedTokensAreRefused) {
  for (const std::string& bad : {std::string(""), std::string("a.b"), std::string("a.b.c.d"),
                                 std::string("!!.??.**"), B64("[]") + ".e30.AA"}) {
    SCOPED_TRACE(bad);
    EXPECT_ERROR(Check(bad), "sso.token_malformed");
  }
  Json c = Claims();
  c.erase("sub");
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.token_malformed");
  c = Claims();
  c["exp"] = "tomorrow";
  EXPECT_ERROR(Check(Sign(rsa_, "RS256", c)), "sso.token_malformed");
}

TEST_F(IdTokenTest, JwksKeepsSigningKeysOnly) {
  Json enc = ec_.Public();
  enc["use"] = "enc";
  enc["kid"] = "enc-1";
  Json no_kid = rsa_.Public();
  no_kid.erase("kid");
  Json oct = {{"kty", "oct"}, {"kid", "oct-1"}, {"k", B64("secret")}};
  auto jwks = Jwks::Parse(Json{{"keys", {rsa_.Public(), enc, no_kid, oct}}}.dump());
  ASSERT_TRUE(jwks.has_value());
  EXPECT_EQ(jwks->size(), 1u);
  EXPECT_TRUE(jwks->Has("rsa-1"));
  EXPECT_FALSE(jwks->Has("enc-1"));
  EXPECT_FALSE(jwks->Has("oct-1"));
  EXPECT_ERROR(Jwks::Parse(R"({"keys":[]})"), "sso.bad_jwks");
  EXPECT_ERROR(Jwks::Parse("not json"), "sso.bad_jwks");
  EXPECT_ERROR(Jwks::Parse(Json{{"keys", {oct}}}.dump()), "sso.bad_jwks");
}

}  // namespace
}  // namespace keyward::sso
