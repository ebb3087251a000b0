#include "sso/id_token.h"

#include <cjose/cjose.h>

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace keyward::sso {
namespace {

using Json = nlohmann::json;

Error Refused(std::string code, std::string message) {
  return Error::Unauthenticated(std::move(code), std::move(message));
}

Error Malformed(std::string_view what) {
  return Refused("sso.token_malformed",
                 "The identity provider's token is malformed (" + std::string(what) + ").");
}

// The JSON object of one base64url segment, or nullopt.
std::optional<Json> Segment(std::string_view text) {
  auto bytes = crypto::Base64UrlDecode(text);
  if (!bytes) return std::nullopt;
  Json j = Json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// The family of key an algorithm needs (nullopt: none this code knows).
std::optional<cjose_jwk_kty_t> KeyTypeFor(std::string_view alg) {
  if (alg.starts_with("RS") || alg.starts_with("PS")) return CJOSE_JWK_KTY_RSA;
  if (alg.starts_with("ES")) return CJOSE_JWK_KTY_EC;
  if (alg.starts_with("HS")) return CJOSE_JWK_KTY_OCT;
  return std::nullopt;
}

std::optional<int> CurveFor(std::string_view alg) {
  if (alg == "ES256") return CJOSE_JWK_EC_P_256;
  if (alg == "ES384") return CJOSE_JWK_EC_P_384;
  if (alg == "ES512") return CJOSE_JWK_EC_P_521;
  return std::nullopt;
}

struct JwsDeleter {
  void operator()(cjose_jws_t* jws) const { cjose_jws_release(jws); }
};

std::optional<int64_t> IntClaim(const Json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

}  // namespace

struct Jwks::Key {
  std::string kid;
  cjose_jwk_t* jwk = nullptr;
  ~Key() {
    if (jwk) cjose_jwk_release(jwk);
  }
};

Jwks::Jwks() = default;
Jwks::Jwks(Jwks&&) noexcept = default;
Jwks& Jwks::operator=(Jwks&&) noexcept = default;
Jwks::~Jwks() = default;

Result<Jwks> Jwks::Parse(std::string_view json) {
  auto bad = [](std::string_view what) {
    return Error::Unavailable(
        "sso.bad_jwks",
        "The identity provider's signing keys cannot be read (" + std::string(what) + ").");
  };
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("keys") || !j["keys"].is_array()) {
    return Fail(bad("not a JWKS"));
  }
  Jwks out;
  for (const Json& k : j["keys"]) {
    if (!k.is_object() || !k.contains("kid") || !k["kid"].is_string()) continue;
    if (k.contains("use") && k["use"] != "sig") continue;
    if (k.value("kty", "") == "oct") continue;
    const std::string text = k.dump();
    cjose_err err;
    cjose_jwk_t* jwk = cjose_jwk_import(text.data(), text.size(), &err);
    if (!jwk) continue;
    auto key = std::make_unique<Key>();
    key->kid = k["kid"].get<std::string>();
    key->jwk = jwk;
    if (cjose_jwk_get_kty(jwk, &err) == CJOSE_JWK_KTY_OCT) continue;
    out.keys_.push_back(std::move(key));
  }
  if (out.keys_.empty()) return Fail(bad("no usable signing key"));
  return out;
}

bool Jwks::Has(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k->kid == kid) return true;
  }
  return false;
}

size_t Jwks::size() const { return keys_.size(); }

std::string IdTokenVerifier::KeyId(std::string_view compact) {
  auto header = Segment(compact.substr(0, compact.find('.')));
  if (!header) return {};
  auto it = header->find("kid");
  return it != header->end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<IdTokenClaims> IdTokenVerifier::Verify(std::string_view compact, const Jwks& jwks,
                                              const IdTokenExpectations& expect) const {
  // header.payload.signature, the header read before anything is trusted.
  const size_t dot1 = compact.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact.find('.', dot2 + 1) != std::string_view::npos ||
      compact.size() > 16384) {
    return Fail(Malformed("not a compact JWS"));
  }
  auto header = Segment(compact.substr(0, dot1));
  if (!header) return Fail(Malformed("header"));
  auto alg_it = header->find("alg");
  const std::string alg =
      alg_it != header->end() && alg_it->is_string() ? alg_it->get<std::string>() : "";
  if (!allowed_.contains(alg)) {
    return Fail(Refused("sso.alg_not_allowed",
                        "The identity provider's token is signed with an algorithm Keyward "
                        "does not accept (" +
                            (alg.empty() ? std::string("none given") : alg) + ")."));
  }
  const std::string kid = KeyId(compact);
  const Jwks::Key* key = nullptr;
  for (const auto& k : jwks.keys_) {
    if (!kid.empty() && k->kid == kid) key = k.get();
  }
  if (!key) {
    return Fail(Refused("sso.unknown_key",
                        "The identity provider's token names a signing key it does not publish."));
  }
  cjose_err err;
  const bool type_fits = KeyTypeFor(alg) && cjose_jwk_get_kty(key->jwk, &err) == *KeyTypeFor(alg) &&
                         (!CurveFor(alg) || static_cast<int>(cjose_jwk_EC_get_curve(
                                                key->jwk, &err)) == *CurveFor(alg));
  if (!type_fits) {
    return Fail(Refused("sso.key_mismatch",
                        "The identity provider's key does not fit the token's algorithm."));
  }
  std::unique_ptr<cjose_jws_t, JwsDeleter> jws(
      cjose_jws_import(compact.data(), compact.size(), &err));
  if (!jws) return Fail(Malformed("JWS"));
  if (!cjose_jws_verify(jws.get(), key->jwk, &err)) {
    return Fail(
        Refused("sso.bad_signature", "The identity provider's token signature does not verify."));
  }
  uint8_t* plain = nullptr;
  size_t plain_len = 0;
  if (!cjose_jws_get_plaintext(jws.get(), &plain, &plain_len, &err)) {
    return Fail(Malformed("payload"));
  }
  Json claims = Json::parse(plain, plain + plain_len, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) return Fail(Malformed("claims"));

  IdTokenClaims out;
  out.issuer = claims.value("iss", "");
  if (!claims.contains("iss") || !claims["iss"].is_string() || out.issuer != expect.issuer) {
    return Fail(Refused("sso.wrong_issuer",
                        "The token was issued by another identity provider than the one "
                        "configured."));
  }
  bool audience_ok = false;
  size_t audiences = 0;
  if (auto aud = claims.find("aud"); aud != claims.end()) {
    if (aud->is_string()) {
      audiences = 1;
      audience_ok = *aud == expect.client_id;
    } else if (aud->is_array()) {
      for (const Json& a : *aud) {
        ++audiences;
        if (a.is_string() && a == expect.client_id) audience_ok = true;
      }
    }
  }
  if (audience_ok && audiences > 1) {
    auto azp = claims.find("azp");
    audience_ok = azp != claims.end() && azp->is_string() && *azp == expect.client_id;
  }
  if (!audience_ok) {
    return Fail(Refused("sso.wrong_audience", "The token was issued for another client."));
  }
  auto exp = IntClaim(claims, "exp");
  auto iat = IntClaim(claims, "iat");
  if (!exp || !iat) return Fail(Malformed("exp or iat"));
  if (*exp + expect.leeway <= expect.now) {
    return Fail(Refused("sso.token_expired", "The identity provider's token has expired."));
  }
  auto nbf = IntClaim(claims, "nbf");
  if (*iat - expect.leeway > expect.now || (nbf && *nbf - expect.leeway > expect.now)) {
    return Fail(Refused("sso.token_not_yet_valid",
                        "The identity provider's token is not valid yet (check the clocks)."));
  }
  if (expect.now - *iat > expect.max_age + expect.leeway) {
    return Fail(Refused("sso.token_too_old", "The identity provider's token is too old."));
  }
  auto nonce = claims.find("nonce");
  auto bytes = [](std::string_view s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  if (nonce == claims.end() || !nonce->is_string() || expect.nonce.empty() ||
      !crypto::ConstantTimeEqual(bytes(nonce->get_ref<const std::string&>()),
                                 bytes(expect.nonce))) {
    return Fail(Refused("sso.nonce_mismatch",
                        "The token does not answer this sign-in (nonce); start again."));
  }
  auto sub = claims.find("sub");
  if (sub == claims.end() || !sub->is_string() || sub->get_ref<const std::string&>().empty() ||
      sub->get_ref<const std::string&>().size() > 255) {
    return Fail(Malformed("sub"));
  }
  out.subject = sub->get<std::string>();
  out.issued_at = *iat;
  out.expires_at = *exp;
  if (auto email = claims.find("email"); email != claims.end() && email->is_string()) {
    out.email = email->get<std::string>();
  }
  if (auto v = claims.find("email_verified"); v != claims.end()) {
    out.email_verified = (v->is_boolean() && v->get<bool>()) || (v->is_string() && *v == "true");
  }
  return out;
}

}  // namespace keyward::sso
