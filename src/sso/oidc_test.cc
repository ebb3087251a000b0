// The relying party's pure pieces: PKCE against RFC 7636's example, the
// discovery document's checks, the authorization URL and the token answer.
#include "sso/oidc.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/status_assertions.h"

namespace keyward::sso {
namespace {

using Json = nlohmann::json;

TEST(PkceTest, S256IsBase64urlOfSha256) {
  // SHA-256("abc") is FIPS 180-2's example, ba7816bf…f20015ad.
  EXPECT_EQ(S256Challenge("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  Pkce a = NewPkce();
  Pkce b = NewPkce();
  EXPECT_EQ(a.verifier.size(), 43u);  // RFC 7636: 43 to 128 characters
  EXPECT_EQ(a.challenge, S256Challenge(a.verifier));
  EXPECT_NE(a.verifier, b.verifier);
  EXPECT_NE(RandomToken(), RandomToken());
}

Json Discovery() {
  return {{"issuer", "https://idp.example.com/api/oidc"},
          {"authorization_endpoint", "https://idp.example.com/api/oidc/auth"},
          {"token_endpoint", "https://idp.example.com/api/oidc/token"},
          {"jwks_uri", "https://idp.example.com/api/oidc/jwks"},
          {"response_types_supported", {"code", "id_token"}},
          {"code_challenge_methods_supported", {"plain", "S256"}},
          {"id_token_signing_alg_values_supported", {"RS256"}}};
}

TEST(DiscoveryTest, AGoodDocumentIsRead) {
  auto m = ParseDiscovery(Discovery().dump(), "https://idp.example.com/api/oidc");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->token_endpoint, "https://idp.example.com/api/oidc/token");
  // Optional lists left out, a loopback http provider.
  Json local = {{"issuer", "http://127.0.0.1:4593/api/oidc"},
                {"authorization_endpoint", "http://127.0.0.1:4593/api/oidc/auth"},
                {"token_endpoint", "http://127.0.0.1:4593/api/oidc/token"},
                {"jwks_uri", "http://127.0.0.1:4593/api/oidc/jwks"}};
  EXPECT_TRUE(ParseDiscovery(local.dump(), "http://127.0.0.1:4593/api/oidc").has_value());
}

TEST(DiscoveryTest, WhatCannotBeTrustedIsRefused) {
  EXPECT_ERROR(ParseDiscovery("[]", "https://idp.example.com/api/oidc"), "sso.bad_discovery");
  // Another issuer (a mix-up attack), even one only differing by a slash.
  EXPECT_ERROR(ParseDiscovery(Discovery().dump(), "https://idp.example.com/api/oidc/"),
               "sso.bad_discovery");
  for (const char* key : {"authorization_endpoint", "token_endpoint", "jwks_uri"}) {
    Json d = Discovery();
    d[key] = "http://idp.example.com/plain";
    EXPECT_ERROR(ParseDiscovery(d.dump(), "https://idp.example.com/api/oidc"), "sso.bad_discovery");
    d.erase(key);
    EXPECT_ERROR(ParseDiscovery(d.dump(), "https://idp.example.com/api/oidc"), "sso.bad_discovery");
  }
  Json d = Discovery();
  d["code_challenge_methods_supported"] = {"plain"};
  EXPECT_ERROR(ParseDiscovery(d.dump(), "https://idp.example.com/api/oidc"), "sso.bad_discovery");
  d = Discovery();
  d["id_token_signing_alg_values_supported"] = {"none", "HS256"};
  EXPECT_ERROR(ParseDiscovery(d.dump(), "https://idp.example.com/api/oidc"), "sso.bad_discovery");
  d = Discovery();
  d["response_types_supported"] = {"id_token"};
  EXPECT_ERROR(ParseDiscovery(d.dump(), "https://idp.example.com/api/oidc"), "sso.bad_discovery");
}

TEST(DiscoveryTest, OnlyHttpsOrLoopbackEndpoints) {
  EXPECT_TRUE(SecureEndpoint("https://idp.example.com/x"));
  EXPECT_TRUE(SecureEndpoint("http://127.0.0.1:8080/x"));
  EXPECT_TRUE(SecureEndpoint("http://localhost/x"));
  EXPECT_TRUE(SecureEndpoint("http://[::1]:9/x"));
  EXPECT_FALSE(SecureEndpoint("http://127.0.0.1.evil.com/x"));
  EXPECT_FALSE(SecureEndpoint("http://localhost.evil.com/"));
  EXPECT_FALSE(SecureEndpoint("http://idp.example.com/"));
  EXPECT_FALSE(SecureEndpoint("https://"));
  EXPECT_FALSE(SecureEndpoint("ftp://idp.example.com/"));
}

TEST(AuthorizationTest, TheUrlCarriesEveryParameterEncoded) {
  ProviderMetadata p;
  p.authorization_endpoint = "https://idp.example.com/auth";
  AuthorizationRequest r;
  r.client_id = "keyward web";
  r.redirect_uri = "http://127.0.0.1:5555/cb";
  r.state = "s&1";
  r.nonce = "n=1";
  r.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  EXPECT_EQ(AuthorizationUrl(p, r),
            "https://idp.example.com/auth?response_type=code&client_id=keyward%20web"
            "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb&scope=openid%20email&state=s%261"
            "&nonce=n%3D1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            "&code_challenge_method=S256");
  p.authorization_endpoint = "https://idp.example.com/auth?tenant=a";
  EXPECT_TRUE(AuthorizationUrl(p, r).starts_with("https://idp.example.com/auth?tenant=a&"));
  EXPECT_EQ(
      TokenRequestBody("c/1", "http://127.0.0.1:5555/cb", "v"),
      "grant_type=authorization_code&code=c%2F1&redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcb"
      "&code_verifier=v");
}

TEST(TokenResponseTest, TheIdTokenOrARefusalInWords) {
  auto ok = IdTokenFromResponse(R"({"access_token":"a","id_token":"h.p.s","token_type":"Bearer"})");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, "h.p.s");
  auto refused = IdTokenFromResponse(R"({"error":"invalid_grant","error_description":"<b>x</b>"})");
  EXPECT_ERROR(refused, "sso.token_refused");
  EXPECT_NE(refused.error().message().find("invalid_grant"), std::string::npos);
  EXPECT_EQ(refused.error().message().find("<b>"), std::string::npos);
  auto odd = IdTokenFromResponse(R"({"error":"<script>"})");
  EXPECT_EQ(odd.error().message().find("<script>"), std::string::npos);
  EXPECT_ERROR(IdTokenFromResponse(R"({"access_token":"a"})"), "sso.token_malformed");
  EXPECT_ERROR(IdTokenFromResponse("nope"), "sso.token_malformed");
}

}  // namespace
}  // namespace keyward::sso
