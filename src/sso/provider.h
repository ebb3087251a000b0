// One organization's identity provider, as keywardd talks to it (docs/
// sso.md): discovery, the signing keys (cached; fetched again at most once
// a minute when a token names a key not seen yet: the provider rotated),
// the code exchange with the client secret and the PKCE verifier, and the
// ID token's verification. HTTP through libcurl: https only (or a
// loopback address), no redirects followed, 10 s and 1 MiB at most per
// answer.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "sso/id_token.h"
#include "sso/oidc.h"

namespace keyward::sso {

struct ProviderConfig {
  std::string issuer;
  std::string client_id;
  std::string client_secret;  // from the config file or the environment, never a flag
};

struct HttpAnswer {
  long status = 0;
  std::string body;
};

// sso.provider_unreachable when the provider cannot be reached or answers
// too much; the URL must be SecureEndpoint.
[[nodiscard]] Result<HttpAnswer> HttpGet(const std::string& url);
[[nodiscard]] Result<HttpAnswer> HttpPostForm(const std::string& url, const std::string& body,
                                              const std::string& basic_user,
                                              const std::string& basic_password);

class Provider {
 public:
  explicit Provider(ProviderConfig config) : config_(std::move(config)) {}

  const ProviderConfig& config() const { return config_; }

  // Discovery, fetched once and kept.
  [[nodiscard]] Result<ProviderMetadata> Metadata();

  // The code exchange then the ID token's verification against `nonce`,
  // at `now`. A token naming an unknown key fetches the keys again (at
  // most once a minute) before it is refused.
  [[nodiscard]] Result<IdTokenClaims> Redeem(std::string_view code, std::string_view redirect_uri,
                                             std::string_view code_verifier, std::string_view nonce,
                                             int64_t now);

 private:
  [[nodiscard]] Result<IdTokenClaims> VerifyWithKeys(std::string_view id_token,
                                                     const IdTokenExpectations& expect);

  ProviderConfig config_;
  std::mutex mu_;
  std::optional<ProviderMetadata> metadata_;
  std::shared_ptr<const Jwks> jwks_;
  int64_t jwks_fetched_at_ = 0;
};

}  // namespace keyward::sso
