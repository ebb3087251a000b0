// The recovery request routes through the whole /v1 API (docs/api.md
// "Recovery requests"): JSON in, JSON out, with the real protocol crypto on
// the clients' side (the member's escrow, the admin's link, redemption).
#include <gtest/gtest.h>

#include "http/api/api.h"
#include "protocol/escrow.h"
#include "protocol/link.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_mailer.h"

namespace keyward::api {
namespace {

using nlohmann::json;

std::string B64(std::span<const uint8_t> b) { return crypto::Base64UrlEncode(b); }
std::string RandomB64(size_t n) { return B64(crypto::RandomBytes(n)); }
std::string AuthKey(uint8_t tag) { return B64(std::vector<uint8_t>(32, tag)); }

struct User {
  std::string email;
  uint8_t key_tag = 0;
  std::string id;
  std::string token;
  crypto::VaultKey vault_key = crypto::VaultKey::Random();
};

class RequestRoutesTest : public ::testing::Test {
 protected:
  RequestRoutesTest() {
    ApiConfig config;
    config.db_url = "sqlite::memory:";
    config.public_url = "https://vault.example.com";
    config.kdf_minimum = crypto::kTestKdf;
    config.recovery_key = recovery_key_;
    auto api = MakeApi(config, mailer_, clock_, secret_);
    EXPECT_TRUE(api.has_value()) << (api ? "" : api.error().code());
    api_ = std::move(*api);
    api_->RegisterRoutes(router_);

    owner_ = SignUp("owner@example.com", 1);
    bob_ = SignUp("bob@example.com", 2);
    CreateOrg();
    Join(bob_, "user");
    auto enrolled = Enroll(bob_, 1);
    EXPECT_EQ(enrolled.status, 200) << enrolled.body;
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
    auto code = mailer_.LastCodeFor(email);
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
    policy_.mode = protocol::RecoveryMode::kDualControl;
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
    std::string token = body.substr(at, body.find('\n', at) - at);
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

  // ---- recovery requests ----

  // bob asks and confirms; returns the confirm answer.
  http::Response Submit(const User& u) {
    auto ask = Call("POST", "/v1/recovery/requests",
                    json{{"email", u.email}, {"device_name", "bob-laptop"}});
    EXPECT_EQ(ask.status, 202) << ask.body;
    auto code = mailer_.LastCodeFor(u.email);
    EXPECT_TRUE(code.has_value());
    return Call("POST", "/v1/recovery/requests/confirm",
                json{{"email", u.email}, {"code", code.value_or("")}});
  }

  std::string RequestPath(const std::string& id, const std::string& rest = "") {
    return Path("/recovery/requests/" + id + rest);
  }

  // The approving admin's client: A from SA, then L, T, LA.
  protocol::ApprovedLink MakeLink(const json& shown) {
    auto share = crypto::Base64UrlDecode(shown["escrow"]["admin_share"].get<std::string>());
    EXPECT_TRUE(share.has_value());
    const uint64_t epoch = shown["epoch"];
    const std::string account_id = shown["account_id"];
    const std::string request_id = shown["id"];
    auto a = protocol::OpenAdminShare(org_key_, *share, kOrg, account_id, epoch);
    EXPECT_TRUE(a.has_value());
    auto link = protocol::CreateLink(*a, request_id, account_id, epoch);
    EXPECT_TRUE(link.has_value());
    return std::move(*link);
  }

  json ApproveBody(const protocol::ApprovedLink& link) {
    return {{"token", B64(link.token.span())}, {"link_share", B64(link.linked_admin_share)}};
  }

  json RedeemBody(const std::string& id, const protocol::ApprovedLink& link) {
    return {{"request_id", id}, {"token", B64(link.token.span())}};
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
};

TEST_F(RequestRoutesTest, AskAnswersTheSameForEveryEmail) {
  User carol = SignUp("carol@example.com", 3);  // enrolled nowhere
  std::vector<http::Response> answers;
  for (const std::string& email :
       std::vector<std::string>{"nobody@example.com", carol.email, bob_.email}) {
    answers.push_back(
        Call("POST", "/v1/recovery/requests",
             json{{"email", email}, {"device_name", "laptop"}, {"intent", "submit"}}));
  }
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 202);
    EXPECT_EQ(a.body, answers[0].body);
    EXPECT_EQ(Body(a), (json{{"status", "code_sent"}}));
  }
  EXPECT_FALSE(mailer_.LastCodeFor(carol.email).has_value());
  EXPECT_TRUE(mailer_.LastCodeFor(bob_.email).has_value());

  auto bad_intent =
      Call("POST", "/v1/recovery/requests", json{{"email", bob_.email}, {"intent", "maybe"}});
  EXPECT_EQ(bad_intent.status, 400);
  EXPECT_EQ(Code(bad_intent), "request.invalid_field");
  auto extra = Call("POST", "/v1/recovery/requests", json{{"email", bob_.email}, {"x", 1}});
  EXPECT_EQ(Code(extra), "request.unknown_field");
  auto bad_email = Call("POST", "/v1/recovery/requests", json{{"email", "not an email"}});
  EXPECT_EQ(Code(bad_email), "account.invalid_email");
  auto wrong = Call("POST", "/v1/recovery/requests/confirm",
                    json{{"email", "nobody@example.com"}, {"code", "123456"}});
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Code(wrong), "recovery.invalid_code");
}

TEST_F(RequestRoutesTest, SubmitApproveRedeemComplete) {
  auto confirmed = Submit(bob_);
  ASSERT_EQ(confirmed.status, 201) << confirmed.body;
  json c = Body(confirmed);
  const std::string id = c["request_id"];
  EXPECT_EQ(c["status"], "pending");
  EXPECT_EQ(c["org_name"], "Acme");
  EXPECT_TRUE(c["expires_at"].is_string());
  EXPECT_EQ(Code(Submit(bob_)), "recovery.request_open");

  auto list = Call("GET", Path("/recovery/requests?status=pending"), {}, owner_.token);
  ASSERT_EQ(list.status, 200) << list.body;
  json l = Body(list);
  ASSERT_EQ(l["requests"].size(), 1u);
  EXPECT_TRUE(l["next_after"].is_null());
  json r = l["requests"][0];
  EXPECT_EQ(r["id"], id);
  EXPECT_EQ(r["org_id"], kOrg);
  EXPECT_EQ(r["account_id"], bob_.id);
  EXPECT_EQ(r["email"], bob_.email);
  EXPECT_EQ(r["status"], "pending");
  EXPECT_TRUE(r["initiated_by"].is_null());
  EXPECT_EQ(r["epoch"], 1);
  EXPECT_EQ(r["device_name"], "bob-laptop");
  EXPECT_EQ(r["remote_address"], "192.0.2.1");
  EXPECT_EQ(r["quorum"], 1);
  EXPECT_EQ(r["approvals"], json::array());
  EXPECT_TRUE(r["decided_by"].is_null());
  EXPECT_TRUE(r["decided_at"].is_null());
  EXPECT_TRUE(r["decline_reason"].is_null());
  EXPECT_TRUE(r["completed_at"].is_null());
  EXPECT_FALSE(r.contains("escrow"));
  EXPECT_EQ(Code(Call("GET", Path("/recovery/requests"), {}, bob_.token)), "org.forbidden");

  auto shown = Call("GET", RequestPath(id), {}, owner_.token);
  ASSERT_EQ(shown.status, 200) << shown.body;
  json s = Body(shown);
  ASSERT_TRUE(s.contains("escrow"));
  EXPECT_EQ(s["escrow"]["epoch"], 1);
  EXPECT_EQ(s["escrow"]["key_version"], 1);
  auto link = MakeLink(s);
  auto approved = Call("POST", RequestPath(id, "/approve"), ApproveBody(link), owner_.token);
  ASSERT_EQ(approved.status, 200) << approved.body;
  json a = Body(approved);
  EXPECT_EQ(a["status"], "approved");
  EXPECT_EQ(a["decided_by"], owner_.id);
  ASSERT_EQ(a["approvals"].size(), 1u);
  EXPECT_EQ(a["approvals"][0]["email"], owner_.email);
  auto again = Call("POST", RequestPath(id, "/approve"), ApproveBody(link), owner_.token);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Code(again), "recovery.not_pending");

  // The member, on a device without a session.
  auto wrong_token =
      Call("POST", "/v1/recovery/redeem",
           json{{"request_id", id}, {"token", B64(crypto::GenericKey::Random().span())}});
  EXPECT_EQ(wrong_token.status, 404);
  EXPECT_EQ(Code(wrong_token), "recovery.link_invalid");
  auto started = Call("POST", "/v1/recovery/redeem", RedeemBody(id, link));
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_EQ(Body(started), (json{{"status", "code_sent"}}));
  json verify_body = RedeemBody(id, link);
  verify_body["code"] = *mailer_.LastCodeFor(bob_.email);
  auto verified = Call("POST", "/v1/recovery/redeem/verify", verify_body);
  ASSERT_EQ(verified.status, 200) << verified.body;
  json v = Body(verified);
  EXPECT_EQ(v["account_id"], bob_.id);
  EXPECT_EQ(v["email"], bob_.email);
  EXPECT_EQ(v["epoch"], 1);
  EXPECT_EQ(v["kdf_minimum"]["ops"], crypto::kTestKdf.ops);
  EXPECT_TRUE(v["ticket_expires_at"].is_string());
  ASSERT_EQ(v["orgs"].size(), 1u);
  json o = v["orgs"][0];
  EXPECT_EQ(o["org_id"], kOrg);
  EXPECT_EQ(o["name"], "Acme");
  EXPECT_EQ(o["last_epoch"], 1);
  EXPECT_EQ(o["key_version"], 1);
  EXPECT_EQ(o["recovery_public_key"], B64(org_key_.public_key));
  ASSERT_EQ(o["statements"].size(), 1u);
  EXPECT_EQ(o["statements"][0]["version"], 1);

  // The client: A from LA, E = A xor U, UK from W.
  auto la = crypto::Base64UrlDecode(v["link_share"].get<std::string>());
  auto u = crypto::Base64UrlDecodeSecret(v["server_part"].get<std::string>());
  auto w = crypto::Base64UrlDecode(v["wrapped_vault_key"].get<std::string>());
  ASSERT_TRUE(la && u && w);
  auto a_part = protocol::OpenLink(link.link_secret, *la, id, bob_.id, 1);
  ASSERT_TRUE(a_part.has_value());
  auto uk =
      protocol::RecoverVaultKey(*a_part, crypto::GenericKey(std::move(*u)), *w, kOrg, bob_.id, 1);
  ASSERT_TRUE(uk.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), bob_.vault_key.span()));

  json escrow = EscrowJson(bob_, 2, *uk);
  escrow["org_id"] = kOrg;
  json complete = {{"ticket", v["ticket"]},
                   {"new_kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
                   {"new_salt", RandomB64(16)},
                   {"new_auth_key", AuthKey(7)},
                   {"new_wrapped_vault_key", RandomB64(73)},
                   {"escrows", json::array()}};
  auto missing = Call("POST", "/v1/recovery/redeem/complete", complete);
  EXPECT_EQ(missing.status, 409);
  EXPECT_EQ(Code(missing), "escrow.required");
  complete["escrows"].push_back(escrow);
  auto done = Call("POST", "/v1/recovery/redeem/complete", complete);
  ASSERT_EQ(done.status, 204) << done.body;
  auto used = Call("POST", "/v1/recovery/redeem/complete", complete);
  EXPECT_EQ(used.status, 400);
  EXPECT_EQ(Code(used), "recovery.invalid_ticket");

  // Signed out everywhere; the new password works.
  EXPECT_EQ(Call("GET", "/v1/account", {}, bob_.token).status, 401);
  EXPECT_EQ(Call("POST", "/v1/sessions", LoginBody(bob_, 7)).status, 201);
  auto after = Call("POST", "/v1/recovery/redeem", RedeemBody(id, link));
  EXPECT_EQ(after.status, 409);
  EXPECT_EQ(Code(after), "recovery.link_used");
  auto final_view = Body(Call("GET", RequestPath(id), {}, owner_.token));
  EXPECT_EQ(final_view["status"], "link_used");
  EXPECT_TRUE(final_view["completed_at"].is_string());
}

TEST_F(RequestRoutesTest, DeclineCancelAndStart) {
  std::string id = Body(Submit(bob_))["request_id"];
  auto empty = Call("POST", RequestPath(id, "/decline"), json{{"reason", ""}}, owner_.token);
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(Code(empty), "request.invalid_field");
  auto declined = Call("POST", RequestPath(id, "/decline"),
                       json{{"reason", "Please call the helpdesk first."}}, owner_.token);
  ASSERT_EQ(declined.status, 200) << declined.body;
  EXPECT_EQ(Body(declined)["status"], "declined");
  EXPECT_EQ(Body(declined)["decline_reason"], "Please call the helpdesk first.");

  // Declined: the member may ask again, and cancel.
  id = Body(Submit(bob_))["request_id"];
  ASSERT_EQ(Call("POST", "/v1/recovery/requests",
                 json{{"email", bob_.email}, {"device_name", nullptr}, {"intent", "cancel"}})
                .status,
            202);
  auto cancelled = Call("POST", "/v1/recovery/requests/confirm",
                        json{{"email", bob_.email}, {"code", *mailer_.LastCodeFor(bob_.email)}});
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(Body(cancelled), (json{{"status", "cancelled"}}));
  EXPECT_EQ(Body(Call("GET", RequestPath(id), {}, owner_.token))["decline_reason"],
            "Cancelled by the member");

  auto start = Call("POST", Path("/recovery/start"), json{{"member", bob_.id}}, owner_.token);
  ASSERT_EQ(start.status, 201) << start.body;
  EXPECT_EQ(Body(start)["initiated_by"], owner_.id);
  EXPECT_EQ(Body(start)["status"], "pending");
  auto twice = Call("POST", Path("/recovery/start"), json{{"member", bob_.id}}, owner_.token);
  EXPECT_EQ(twice.status, 409);
  EXPECT_EQ(Code(twice), "recovery.request_open");
  auto self = Call("POST", Path("/recovery/start"), json{{"member", owner_.id}}, owner_.token);
  EXPECT_EQ(self.status, 403);
  EXPECT_EQ(Code(self), "org.self_action");
}

TEST_F(RequestRoutesTest, ExpiredLinksAndQueryErrors) {
  std::string id = Body(Submit(bob_))["request_id"];
  auto link = MakeLink(Body(Call("GET", RequestPath(id), {}, owner_.token)));
  ASSERT_EQ(Call("POST", RequestPath(id, "/approve"), ApproveBody(link), owner_.token).status, 200);
  clock_.Advance(policy_.link_ttl);
  auto expired = Call("POST", "/v1/recovery/redeem", RedeemBody(id, link));
  EXPECT_EQ(expired.status, 410);
  EXPECT_EQ(Code(expired), "recovery.link_expired");
  // A day later the owner's session has ended too.
  owner_.token = Body(Call("POST", "/v1/sessions", LoginBody(owner_, 1))).value("token", "");
  EXPECT_EQ(Body(Call("GET", RequestPath(id), {}, owner_.token))["status"], "expired");

  for (const std::string& query :
       std::vector<std::string>{"?status=open", "?limit=0", "?limit=201", "?after=x",
                                "?after=12.notanid", "?after=-1." + bob_.id}) {
    auto r = Call("GET", Path("/recovery/requests" + query), {}, owner_.token);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(Code(r), "request.invalid_query") << query;
  }
  auto unknown = Call("GET", RequestPath("nope"), {}, owner_.token);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Code(unknown), "recovery.not_found");
  auto outsider = Call("GET", std::string("/v1/orgs/other/recovery/requests"), {}, owner_.token);
  EXPECT_EQ(Code(outsider), "org.not_found");
  auto no_session = Call("GET", Path("/recovery/requests"));
  EXPECT_EQ(no_session.status, 401);
}

TEST_F(RequestRoutesTest, ListPagesWithNextAfter) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Body(Submit(bob_))["request_id"]);
    ASSERT_EQ(
        Call("POST", RequestPath(ids.back(), "/decline"), json{{"reason", "no"}}, owner_.token)
            .status,
        200);
    clock_.Advance(1);
  }
  auto first = Body(Call("GET", Path("/recovery/requests?limit=2"), {}, owner_.token));
  ASSERT_EQ(first["requests"].size(), 2u);
  EXPECT_EQ(first["requests"][0]["id"], ids[2]);
  ASSERT_TRUE(first["next_after"].is_string());
  auto second = Body(Call(
      "GET", Path("/recovery/requests?limit=2&after=" + first["next_after"].get<std::string>()), {},
      owner_.token));
  ASSERT_EQ(second["requests"].size(), 1u);
  EXPECT_EQ(second["requests"][0]["id"], ids[0]);
  EXPECT_TRUE(second["next_after"].is_null());
}

}  // namespace
}  // namespace keyward::api
