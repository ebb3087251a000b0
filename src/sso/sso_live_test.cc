// keywardd's relying party against a real OpenID Connect provider
// (Debian's glewlwyd, tests/support/glewlwyd.py): discovery, the
// authorization code flow with PKCE, state and nonce, the code exchange with
// the client secret, and the ID token verified with libcjose against the
// provider's published keys; then what a replayed code, a wrong verifier, a
// nonce of another sign-in and a provider that is down get.
#include <gtest/gtest.h>

#include <ctime>
#include <map>

#include "sso/provider.h"
#include "tests/support/glewlwyd_server.h"
#include "tests/support/status_assertions.h"

namespace keyward::sso {
namespace {

constexpr char kRedirect[] = "http://127.0.0.1:5599/sso/callback";

// The query of a redirect URL, decoded naively (the values glewlwyd sends
// are base64url-ish).
std::map<std::string, std::string> Query(const std::string& url) {
  std::map<std::string, std::string> out;
  const size_t q = url.find('?');
  if (q == std::string::npos) return out;
  std::string rest = url.substr(q + 1);
  size_t at = 0;
  while (at <= rest.size()) {
    size_t amp = rest.find('&', at);
    if (amp == std::string::npos) amp = rest.size();
    std::string pair = rest.substr(at, amp - at);
    const size_t eq = pair.find('=');
    if (eq != std::string::npos) out[pair.substr(0, eq)] = pair.substr(eq + 1);
    at = amp + 1;
  }
  return out;
}

class SsoLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto idp = testing::GlewlwydTestServer::Start(
        {{"alice", "alice password 1", "alice@example.com"}}, {kRedirect});
    ASSERT_TRUE(idp.has_value()) << idp.error().message();
    idp_ = std::move(*idp);
    provider_ = std::make_unique<Provider>(
        ProviderConfig{idp_->issuer(), idp_->client_id(), idp_->client_secret()});
  }

  struct Started {
    Pkce pkce;
    std::string state;
    std::string nonce;
    std::string code;
  };

  // The browser's part: the authorization request, alice logs in, the
  // redirect back with the code (and the same state).
  Started SignIn() {
    Started s;
    s.pkce = NewPkce();
    s.state = RandomToken();
    s.nonce = RandomToken();
    auto meta = provider_->Metadata();
    EXPECT_TRUE(meta.has_value()) << meta.error().message();
    AuthorizationRequest r;
    r.client_id = idp_->client_id();
    r.redirect_uri = kRedirect;
    r.state = s.state;
    r.nonce = s.nonce;
    r.code_challenge = s.pkce.challenge;
    auto back = idp_->Login("alice", "alice password 1", AuthorizationUrl(*meta, r));
    EXPECT_TRUE(back.has_value()) << back.error().message();
    if (!back) return s;
    EXPECT_TRUE(back->starts_with(std::string(kRedirect) + "?")) << *back;
    auto q = Query(*back);
    EXPECT_EQ(q["state"], s.state);
    s.code = q["code"];
    EXPECT_FALSE(s.code.empty()) << *back;
    return s;
  }

  static int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

  std::unique_ptr<testing::GlewlwydTestServer> idp_;
  std::unique_ptr<Provider> provider_;
};

TEST_F(SsoLiveTest, TheCodeFlowWithPkceGivesAVerifiedIdentity) {
  auto meta = provider_->Metadata();
  ASSERT_TRUE(meta.has_value()) << meta.error().message();
  EXPECT_EQ(meta->issuer, idp_->issuer());
  Started s = SignIn();
  auto claims = provider_->Redeem(s.code, kRedirect, s.pkce.verifier, s.nonce, Now());
  ASSERT_TRUE(claims.has_value()) << claims.error().message();
  EXPECT_FALSE(claims->subject.empty());
  EXPECT_NE(claims->subject, "alice");  // glewlwyd's sub is an opaque id
  EXPECT_EQ(claims->email, "alice@example.com");
  EXPECT_EQ(claims->issuer, idp_->issuer());

  // The same code again: refused by the provider, and nothing verified.
  EXPECT_ERROR(provider_->Redeem(s.code, kRedirect, s.pkce.verifier, s.nonce, Now()),
               "sso.token_refused");
}

TEST_F(SsoLiveTest, AWrongVerifierOrAnotherSignInsNonceIsRefused) {
  Started s = SignIn();
  EXPECT_ERROR(provider_->Redeem(s.code, kRedirect, NewPkce().verifier, s.nonce, Now()),
               "sso.token_refused");
  Started t = SignIn();
  EXPECT_ERROR(provider_->Redeem(t.code, kRedirect, t.pkce.verifier, s.nonce, Now()),
               "sso.nonce_mismatch");
}

TEST_F(SsoLiveTest, AProviderThatIsDownGetsAClearError) {
  idp_->Stop();
  Provider fresh(ProviderConfig{idp_->issuer(), idp_->client_id(), idp_->client_secret()});
  EXPECT_ERROR(fresh.Metadata(), "sso.provider_unreachable");
  EXPECT_ERROR(fresh.Redeem("code", kRedirect, NewPkce().verifier, "n", Now()),
               "sso.provider_unreachable");
}

}  // namespace
}  // namespace keyward::sso
