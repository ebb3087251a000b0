#include "sso/provider.h"

#include <curl/curl.h>

#include "common/try.h"

namespace keyward::sso {
namespace {

constexpr long kTimeoutMs = 10'000;
constexpr size_t kMaxAnswer = 1 << 20;
constexpr int64_t kJwksRefetchSeconds = 60;

Error Unreachable(std::string_view what) {
  return Error::Unavailable(
      "sso.provider_unreachable",
      "The identity provider cannot be reached (" + std::string(what) + "); try again later.");
}

size_t Append(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxAnswer) return 0;  // too much: abort
  out->append(data, size * n);
  return size * n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

Result<HttpAnswer> Perform(const std::string& url, const std::string* form, const std::string& user,
                           const std::string& password) {
  if (!SecureEndpoint(url)) return Fail(Unreachable("not an https address"));
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Fail(Unreachable("no HTTP client"));
  HttpAnswer answer;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, kTimeoutMs);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "keywardd");
  if (form) {
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, form->c_str());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(form->size()));
    curl_easy_setopt(curl.get(), CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl.get(), CURLOPT_USERNAME, user.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PASSWORD, password.c_str());
  }
  const CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return Fail(Unreachable(curl_easy_strerror(rc)));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

}  // namespace

Result<HttpAnswer> HttpGet(const std::string& url) { return Perform(url, nullptr, "", ""); }

Result<HttpAnswer> HttpPostForm(const std::string& url, const std::string& body,
                                const std::string& basic_user, const std::string& basic_password) {
  return Perform(url, &body, basic_user, basic_password);
}

Result<ProviderMetadata> Provider::Metadata() {
  {
    std::lock_guard lock(mu_);
    if (metadata_) return *metadata_;
  }
  std::string issuer = config_.issuer;
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  KW_ASSIGN_OR_RETURN(auto answer, HttpGet(issuer + "/.well-known/openid-configuration"));
  if (answer.status != 200)
    return Fail(Unreachable("discovery answered " + std::to_string(answer.status)));
  KW_ASSIGN_OR_RETURN(auto meta, ParseDiscovery(answer.body, config_.issuer));
  std::lock_guard lock(mu_);
  metadata_ = meta;
  return meta;
}

Result<IdTokenClaims> Provider::VerifyWithKeys(std::string_view id_token,
                                               const IdTokenExpectations& expect) {
  KW_ASSIGN_OR_RETURN(auto meta, Metadata());
  const std::string kid = IdTokenVerifier::KeyId(id_token);
  std::shared_ptr<const Jwks> keys;
  bool fetch = false;
  {
    std::lock_guard lock(mu_);
    keys = jwks_;
    fetch = !keys || (!kid.empty() && !keys->Has(kid) &&
                      expect.now - jwks_fetched_at_ >= kJwksRefetchSeconds);
  }
  if (fetch) {
    KW_ASSIGN_OR_RETURN(auto answer, HttpGet(meta.jwks_uri));
    if (answer.status != 200)
      return Fail(Unreachable("its keys answered " + std::to_string(answer.status)));
    KW_ASSIGN_OR_RETURN(auto parsed, Jwks::Parse(answer.body));
    keys = std::make_shared<const Jwks>(std::move(parsed));
    std::lock_guard lock(mu_);
    jwks_ = keys;
    jwks_fetched_at_ = expect.now;
  }
  return IdTokenVerifier().Verify(id_token, *keys, expect);
}

Result<IdTokenClaims> Provider::Redeem(std::string_view code, std::string_view redirect_uri,
                                       std::string_view code_verifier, std::string_view nonce,
                                       int64_t now) {
  KW_ASSIGN_OR_RETURN(auto meta, Metadata());
  KW_ASSIGN_OR_RETURN(auto answer, HttpPostForm(meta.token_endpoint,
                                                TokenRequestBody(code, redirect_uri, code_verifier),
                                                config_.client_id, config_.client_secret));
  if (answer.status >= 500) return Fail(Unreachable("its token endpoint failed"));
  KW_ASSIGN_OR_RETURN(auto id_token, IdTokenFromResponse(answer.body));
  IdTokenExpectations expect;
  expect.issuer = meta.issuer;
  expect.client_id = config_.client_id;
  expect.nonce = std::string(nonce);
  expect.now = now;
  return VerifyWithKeys(id_token, expect);
}

}  // namespace keyward::sso
