// The fixture of the organization route tests that go through the whole /v1
// API (JSON in, JSON out): an API on an in-memory SQLite store with a fake
// clock and a memory mailer, an organization "acme" made and joined over
// HTTP, and the real protocol crypto on the clients' side.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/api/api.h"
#include "protocol/escrow.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_mailer.h"
#include "tests/support/status_assertions.h"

namespace keyward::api::testing_support {

using nlohmann::json;

inline std::string B64(std::span<const uint8_t> b) { return crypto::Base64UrlEncode(b); }
inline std::string RandomB64(size_t n) { return B64(crypto::RandomBytes(n)); }
inline std::string AuthKey(uint8_t tag) { return B64(std::vector<uint8_t>(32, tag)); }

struct User {
  std::string email;
  uint8_t key_tag = 0;
  std::string id;
  std::string token;
  crypto::VaultKey vault_key = crypto::VaultKey::Random();
};

// owner_ creates the organization in `mode`; bob_ joins it as a user.
class OrgApiFixture : public ::testing::Test {
 protected:
  // `store_url`: another store than an in-memory SQLite one.
  explicit OrgApiFixture(protocol::RecoveryMode mode,
                         const std::string& store_url = "sqlite::memory:")
      : mode_(mode) {
    ApiConfig config;
    config.public_url = "https://vault.example.com";
    config.kdf_minimum = crypto::kTestKdf;
    config.recovery_key = recovery_key_;
    auto api = MakeApi(config, store::Open(store_url).value(), mailer_, clock_, secret_);
    EXPECT_OK(api);
    api_ = std::move(*api);
    api_->RegisterRoutes(router_);

    owner_ = SignUp("owner@example.com", 1);
    bob_ = SignUp("bob@example.com", 2);
    CreateOrg();
    Join(bob_, "user");
  }

  http::Response Call(std::string method, std::string path, std::optional<json> body = {},
                      const std::string& token = "") {
    http::Request r;
    r.method = std::move(method);
    auto q = path.find('?');
    if (q != std::string::npos) {
      r.query = path.substr(q + 1);
      path.resize(q);
    }
    r.path = std::move(path);
    r.remote_address = "192.0.2.1";
    if (body) {
      r.headers["content-type"] = "application/json";
      r.body = body->dump();
    }
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    return router_.Handle(r);
  }

  static json Body(const http::Response& r) {
    return r.body.empty() ? json() : json::parse(r.body);
  }
  static std::string Code(const http::Response& r) {
    auto b = Body(r);
    return b.contains("error") ? b["error"]["code"].get<std::string>() : "";
  }

  json LoginBody(const User& u, uint8_t key_tag, const std::string& device = "laptop") {
    return {{"email", u.email},
            {"auth_key", AuthKey(key_tag)},
            {"device", {{"id", device}, {"name", "laptop"}, {"type", "cli"}}}};
  }

  User SignUp(const std::string& email, uint8_t key_tag) {
    User u;
    u.email = email;
    u.key_tag = key_tag;
    json reg = {{"id", RandomB64(16)},
                {"email", email},
                {"kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
                {"salt", RandomB64(16)},
                {"auth_key", AuthKey(key_tag)},
                {"wrapped_vault_key", RandomB64(73)},
                {"public_key", RandomB64(32)},
                {"wrapped_private_key", RandomB64(73)}};
    u.id = reg["id"];
    EXPECT_EQ(Call("POST", "/v1/accounts", reg).status, 202);
    auto code = mailer_.WaitForCodeFor(email);
    EXPECT_TRUE(code);
    EXPECT_EQ(Call("POST", "/v1/accounts/verify", json{{"email", email}, {"code", *code}}).status,
              200);
    auto login = Call("POST", "/v1/sessions", LoginBody(u, key_tag));
    EXPECT_EQ(login.status, 201) << login.body;
    u.token = Body(login).value("token", "");
    return u;
  }

  protocol::SignedOrgStatement Statement(uint64_t version, const crypto::BoxKeyPair& org_key,
                                         const protocol::RecoveryPolicy& policy) {
    protocol::OrgStatement st;
    st.org_id = kOrg;
    st.version = version;
    st.signing_public_key = signer_.public_key;
    st.org_public_key = org_key.public_key;
    st.policy_json = protocol::EncodePolicy(policy).value();
    st.not_before = clock_.NowUnix();
    return protocol::SignOrgStatement(st, signer_).value();
  }

  static json Grant(uint64_t key_version) {
    return {{"key_version", key_version},
            {"recovery_grant", RandomB64(120)},
            {"signing_grant", RandomB64(120)}};
  }

  void CreateOrg() {
    policy_.enrollment = protocol::Enrollment::kOptIn;
    policy_.mode = mode_;
    auto st = Statement(1, org_key_, policy_);
    auto r = Call("POST", "/v1/orgs",
                  json{{"id", kOrg},
                       {"name", "Acme"},
                       {"statement", B64(st.statement)},
                       {"signature", B64(st.signature)},
                       {"grant", Grant(1)}},
                  owner_.token);
    ASSERT_EQ(r.status, 201) << r.body;
  }

  void Join(const User& u, const std::string& role) {
    auto invite = Call("POST", std::string("/v1/orgs/") + kOrg + "/invites",
                       json{{"email", u.email}, {"role", role}, {"permissions", ""}}, owner_.token);
    ASSERT_EQ(invite.status, 201) << invite.body;
    std::string body = mailer_.Sent().back().body;
    auto at = body.find("keyward org join ");
    ASSERT_NE(at, std::string::npos);
    at += std::string("keyward org join ").size();
    std::string token = body.substr(at, body.find_first_of(" \n", at) - at);
    auto accept = Call("POST", "/v1/invites/accept", json{{"token", token}}, u.token);
    ASSERT_EQ(accept.status, 201) << accept.body;
  }

  json EscrowJson(const User& u, uint64_t epoch, const crypto::VaultKey& vault_key,
                  uint64_t key_version = 1) {
    auto e = protocol::CreateEscrow(vault_key, kOrg, u.id, epoch, org_key_.public_key,
                                    recovery_key_->public_key);
    EXPECT_TRUE(e.has_value());
    return {{"epoch", epoch},
            {"key_version", key_version},
            {"wrapped_vault_key", B64(e->wrapped_vault_key)},
            {"admin_share", B64(e->admin_share)},
            {"server_share", B64(e->server_share)}};
  }

  http::Response Enroll(const User& u, uint64_t epoch) {
    return Call(
        "PUT", Path("/enrollment"),
        json{{"auth_key", AuthKey(u.key_tag)}, {"escrow", EscrowJson(u, epoch, u.vault_key)}},
        u.token);
  }

  static std::string Path(const std::string& rest) {
    return std::string("/v1/orgs/") + kOrg + rest;
  }
  static std::string MemberPath(const User& u, const std::string& rest) {
    return Path("/members/" + u.id + rest);
  }

  json PasswordBody(uint8_t old_tag, uint8_t new_tag) {
    return {{"auth_key", AuthKey(old_tag)},
            {"new_kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
            {"new_salt", RandomB64(16)},
            {"new_auth_key", AuthKey(new_tag)},
            {"new_wrapped_vault_key", RandomB64(73)}};
  }

  static constexpr char kOrg[] = "acme";
  testing::FakeClock clock_;
  testing::MemoryMailer mailer_;
  crypto::ServerSecret secret_ = crypto::ServerSecret::Random();
  std::shared_ptr<const crypto::BoxKeyPair> recovery_key_ =
      std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
  std::unique_ptr<Api> api_;
  http::Router router_;
  crypto::SignKeyPair signer_ = crypto::GenerateSignKeyPair();
  crypto::BoxKeyPair org_key_ = crypto::GenerateBoxKeyPair();
  protocol::RecoveryPolicy policy_;
  User owner_;
  User bob_;
  protocol::RecoveryMode mode_;
};

}  // namespace keyward::api::testing_support
