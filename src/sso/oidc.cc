#include "sso/oidc.h"

#include <nlohmann/json.hpp>

#include "common/percent.h"
#include "crypto/crypto.h"
#include "sso/id_token.h"

namespace keyward::sso {
namespace {

using Json = nlohmann::json;

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Error BadDiscovery(std::string_view what) {
  return Error::Unavailable(
      "sso.bad_discovery",
      "The identity provider's configuration cannot be used (" + std::string(what) + ").");
}

// Whether `list` (when present) is an array holding `value`.
bool ListsOrAbsent(const Json& doc, const char* key, std::string_view value) {
  auto it = doc.find(key);
  if (it == doc.end()) return true;
  if (!it->is_array()) return false;
  for (const Json& v : *it) {
    if (v.is_string() && v.get_ref<const std::string&>() == value) return true;
  }
  return false;
}

}  // namespace

bool SecureEndpoint(std::string_view url) {
  if (url.starts_with("https://")) return url.size() > 8;
  if (!url.starts_with("http://")) return false;
  std::string_view rest = url.substr(7);
  const std::string_view host = rest.substr(0, rest.find_first_of(":/?#"));
  return host == "127.0.0.1" || host == "localhost" || rest.starts_with("[::1]");
}

Result<ProviderMetadata> ParseDiscovery(std::string_view json, std::string_view expected_issuer) {
  Json doc = Json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Fail(BadDiscovery("not a JSON object"));
  auto text = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ProviderMetadata m;
  m.issuer = text("issuer");
  if (m.issuer.empty() || m.issuer != expected_issuer) {
    return Fail(BadDiscovery("its issuer is not the one configured"));
  }
  m.authorization_endpoint = text("authorization_endpoint");
  m.token_endpoint = text("token_endpoint");
  m.jwks_uri = text("jwks_uri");
  for (const std::string* url : {&m.authorization_endpoint, &m.token_endpoint, &m.jwks_uri}) {
    if (!SecureEndpoint(*url)) return Fail(BadDiscovery("an endpoint is missing or not https"));
  }
  if (!ListsOrAbsent(doc, "response_types_supported", "code")) {
    return Fail(BadDiscovery("it does not offer the authorization code flow"));
  }
  if (!ListsOrAbsent(doc, "code_challenge_methods_supported", "S256")) {
    return Fail(BadDiscovery("it does not offer PKCE with S256"));
  }
  if (auto algs = doc.find("id_token_signing_alg_values_supported"); algs != doc.end()) {
    bool usable = false;
    if (algs->is_array()) {
      for (const Json& a : *algs) {
        if (a.is_string() && DefaultAllowedAlgorithms().contains(a.get_ref<const std::string&>()))
          usable = true;
      }
    }
    if (!usable) return Fail(BadDiscovery("it signs ID tokens with no algorithm Keyward accepts"));
  }
  return m;
}

std::string S256Challenge(std::string_view verifier) {
  return crypto::Base64UrlEncode(crypto::Sha256(Bytes(verifier)));
}

std::string RandomToken() { return crypto::Base64UrlEncode(crypto::RandomBytes(32)); }

Pkce NewPkce() {
  Pkce p;
  p.verifier = RandomToken();
  p.challenge = S256Challenge(p.verifier);
  return p;
}

std::string AuthorizationUrl(const ProviderMetadata& provider, const AuthorizationRequest& r) {
  std::string url = provider.authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "response_type=code&client_id=" + PercentEncode(r.client_id) +
         "&redirect_uri=" + PercentEncode(r.redirect_uri) + "&scope=" + PercentEncode(r.scope) +
         "&state=" + PercentEncode(r.state) + "&nonce=" + PercentEncode(r.nonce) +
         "&code_challenge=" + PercentEncode(r.code_challenge) + "&code_challenge_method=S256";
  return url;
}

std::string TokenRequestBody(std::string_view code, std::string_view redirect_uri,
                             std::string_view code_verifier) {
  return "grant_type=authorization_code&code=" + PercentEncode(code) +
         "&redirect_uri=" + PercentEncode(redirect_uri) +
         "&code_verifier=" + PercentEncode(code_verifier);
}

Result<std::string> IdTokenFromResponse(std::string_view json) {
  Json doc = Json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Fail(Error::Unauthenticated("sso.token_malformed",
                                       "The identity provider's token answer is not JSON."));
  }
  if (auto e = doc.find("error"); e != doc.end()) {
    std::string code = e->is_string() ? e->get<std::string>() : "error";
    // Only a short, plain error code is repeated; the description may hold
    // anything.
    if (code.size() > 40 ||
        code.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
      code = "error";
    return Fail(Error::Unauthenticated(
        "sso.token_refused", "The identity provider refused the sign-in (" + code + ")."));
  }
  auto id = doc.find("id_token");
  if (id == doc.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
    return Fail(Error::Unauthenticated("sso.token_malformed",
                                       "The identity provider's answer has no ID token."));
  }
  return id->get<std::string>();
}

}  // namespace keyward::sso
