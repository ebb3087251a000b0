// The relying party's side of the OpenID Connect authorization code flow
// (docs/sso.md): the provider's discovery document, checked; PKCE (RFC
// 7636, S256 only); the authorization request; the token response. Pure
// functions: the HTTP calls are the caller's.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace keyward::sso {

struct ProviderMetadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
};

// The discovery document (`{issuer}/.well-known/openid-configuration`).
// sso.bad_discovery unless: a JSON object; "issuer" exactly
// `expected_issuer` (OpenID Connect Discovery 4.3); the three endpoints
// https (or http on a loopback address, for a provider on this machine);
// "code" among response_types_supported and S256 among
// code_challenge_methods_supported when they are listed; an id_token
// signing algorithm Keyward accepts when they are listed.
[[nodiscard]] Result<ProviderMetadata> ParseDiscovery(std::string_view json,
                                                      std::string_view expected_issuer);

// Whether `url` is https, or http to 127.0.0.1, [::1] or localhost.
bool SecureEndpoint(std::string_view url);

// RFC 7636: a 43-character verifier (32 random bytes, base64url) and its
// S256 challenge, BASE64URL(SHA-256(verifier)).
struct Pkce {
  std::string verifier;
  std::string challenge;
};
Pkce NewPkce();
std::string S256Challenge(std::string_view verifier);

// 32 random bytes, base64url: a `state` or a `nonce`.
std::string RandomToken();

struct AuthorizationRequest {
  std::string client_id;
  std::string redirect_uri;
  std::string scope = "openid email";
  std::string state;
  std::string nonce;
  std::string code_challenge;
};

// The authorization endpoint with the request's query (response_type=code,
// code_challenge_method=S256), every value percent-encoded.
std::string AuthorizationUrl(const ProviderMetadata& provider, const AuthorizationRequest& r);

// The form body of the token request (grant_type=authorization_code).
std::string TokenRequestBody(std::string_view code, std::string_view redirect_uri,
                             std::string_view code_verifier);

// The ID token of a token endpoint's answer. sso.token_refused with the
// provider's error code (never its description) for an error answer,
// sso.token_malformed for anything else without an id_token.
[[nodiscard]] Result<std::string> IdTokenFromResponse(std::string_view json);

}  // namespace keyward::sso
