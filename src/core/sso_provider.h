// One organization's identity provider as core sees it (docs/sso.md):
// behind an interface so that the rule tests can stand in a fake, while
// keywardd and the live tests use sso::Provider against a real provider.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "sso/id_token.h"
#include "sso/oidc.h"

namespace keyward::core {

// One organization's provider as core uses it (sso::Provider in keywardd;
// a fake in the rule tests).
class SsoIdentityProvider {
 public:
  virtual ~SsoIdentityProvider() = default;
  // The configured issuer: what identities are bound under.
  virtual const std::string& issuer() const = 0;
  // The authorization endpoint with this request's query (discovery first;
  // the client id is the provider's own). sso.provider_unreachable,
  // sso.bad_discovery.
  [[nodiscard]] virtual Result<std::string> AuthorizationUrl(sso::AuthorizationRequest request) = 0;
  // The code exchange and the ID token's verification (sso/provider.h).
  [[nodiscard]] virtual Result<sso::IdTokenClaims> Redeem(std::string_view code,
                                                          std::string_view redirect_uri,
                                                          std::string_view code_verifier,
                                                          std::string_view nonce, int64_t now) = 0;
};

// keywardd's [sso.ORG] tables, resolved.
struct SsoOrgConfig {
  std::shared_ptr<SsoIdentityProvider> provider;
  // A session made through this provider ends this long after the sign-in
  // at the latest, so a member removed or blocked at the provider is out at
  // the next sign-in (docs/sso.md "Sessions").
  int64_t max_session_age_seconds = 12 * 3600;
};
using SsoConfig = std::map<std::string, SsoOrgConfig, std::less<>>;

}  // namespace keyward::core
