// OpenID Connect ID tokens (docs/sso.md; OpenID Connect Core 1.0 section
// 3.1.3.7): a provider's signing keys (its JWKS) and the verification of an
// ID token against them, with libcjose (Debian's libcjose) doing the JOSE
// parsing and signature checks — no hand-written JWT code.
//
// The provider authenticates; it never decrypts. What a token proves here
// is only "the provider says this `sub` signed in for this client, just
// now, answering this nonce"; the vault stays locked by the master password
// (or a trusted device's key).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace keyward::sso {

// Algorithms a token may be signed with. Never "none", never an HMAC
// (an HMAC key would be the client secret, or worse, a public key used as
// one); a key's type must match its algorithm's family.
inline const std::set<std::string, std::less<>>& DefaultAllowedAlgorithms() {
  static const std::set<std::string, std::less<>> kAlgs = {
      "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"};
  return kAlgs;
}

// A provider's published signing keys (the `jwks_uri` document). Keys
// without a `kid`, encryption keys (`use` other than "sig") and symmetric
// ("oct") keys are ignored.
class Jwks {
 public:
  // sso.bad_jwks when `json` is not a JWKS ({"keys":[…]}) with at least one
  // usable key.
  [[nodiscard]] static Result<Jwks> Parse(std::string_view json);

  Jwks(Jwks&&) noexcept;
  Jwks& operator=(Jwks&&) noexcept;
  ~Jwks();

  bool Has(std::string_view kid) const;
  size_t size() const;

 private:
  struct Key;
  Jwks();
  std::vector<std::unique_ptr<Key>> keys_;
  friend class IdTokenVerifier;
};

// What the relying party expects of a token.
struct IdTokenExpectations {
  std::string issuer;     // exactly the discovered "issuer"
  std::string client_id;  // in "aud"; "azp" when there are several audiences
  std::string nonce;      // the one sent in the authorization request
  int64_t now = 0;        // unix seconds
  int64_t leeway = 60;    // clock skew allowed on exp, iat and nbf
  int64_t max_age = 600;  // an "iat" older than this is refused
};

struct IdTokenClaims {
  std::string issuer;
  std::string subject;  // "sub": what the account is bound to
  std::string email;    // informational only: never used to find an account
  bool email_verified = false;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
};

// Errors, one code per refusal (each has its test):
//   sso.token_malformed     not a compact JWS, or its header or claims are
//                           not JSON objects with the required claims
//   sso.alg_not_allowed     "alg" missing, "none", an HMAC, or off the list
//   sso.unknown_key         "kid" missing or not in the JWKS (the caller may
//                           fetch the JWKS again once: the provider rotated)
//   sso.key_mismatch        the key's type does not fit the algorithm
//   sso.bad_signature       the signature does not verify
//   sso.wrong_issuer        "iss" is not the provider's
//   sso.wrong_audience      "aud" lacks the client, or "azp" names another
//   sso.token_expired       "exp" is past (with leeway)
//   sso.token_not_yet_valid "iat" or "nbf" is in the future (with leeway)
//   sso.token_too_old       "iat" older than max_age
//   sso.nonce_mismatch      "nonce" is not the one sent
// All are Unauthenticated, and their messages hold no token content.
class IdTokenVerifier {
 public:
  explicit IdTokenVerifier(
      std::set<std::string, std::less<>> allowed_algorithms = DefaultAllowedAlgorithms())
      : allowed_(std::move(allowed_algorithms)) {}

  [[nodiscard]] Result<IdTokenClaims> Verify(std::string_view compact, const Jwks& jwks,
                                             const IdTokenExpectations& expect) const;

  // The "kid" of a token's protected header, or empty (for the caller that
  // fetches the JWKS again on sso.unknown_key).
  static std::string KeyId(std::string_view compact);

 private:
  std::set<std::string, std::less<>> allowed_;
};

}  // namespace keyward::sso
