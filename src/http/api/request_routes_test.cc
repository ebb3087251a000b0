// The recovery request routes through the whole /v1 API (docs/api.md
// "Recovery requests"): JSON in, JSON out, with the real protocol crypto on
// the clients' side (the member's escrow, the admin's link, redemption).
#include "http/api/org_api_fixture.h"
#include "protocol/link.h"

namespace keyward::api {
namespace {

using namespace testing_support;

class RequestRoutesTest : public OrgApiFixture {
 protected:
  RequestRoutesTest() : OrgApiFixture(protocol::RecoveryMode::kDualControl) {
    auto enrolled = Enroll(bob_, 1);
    EXPECT_EQ(enrolled.status, 200) << enrolled.body;
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
  // An escrow for an organization the member is not enrolled in is refused
  // (one left out would keep its escrow: the client escrows only where it
  // can vouch for the organization's keys).
  json stray = escrow;
  stray["org_id"] = "not-an-org";
  complete["escrows"].push_back(stray);
  auto refused = Call("POST", "/v1/recovery/redeem/complete", complete);
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(Code(refused), "org.not_enrolled");
  complete["escrows"] = json::array({escrow});
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

// The device request routes refuse bad input with the JSON error shape
// before anything is written; the whole flow runs against a real provider
// in tests/e2e/sso_e2e_test.cc and in core/sso_signin_test.cc.
TEST_F(RequestRoutesTest, DeviceRequestRoutesRefuseBadInputClearly) {
  const std::string key = B64(crypto::GenerateBoxKeyPair().public_key);
  const std::string secret = B64(crypto::RandomBytes(32));
  const json device = {{"id", "phone"}, {"name", "Bob's phone"}, {"type", "mobile"}};
  struct Case {
    std::string path;
    json body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"/v1/device-requests",
       {{"sso_ticket", secret}, {"device", device}, {"device_public_key", key}},
       400,
       "request.missing_field"},
      {"/v1/device-requests",
       {{"sso_ticket", secret},
        {"device", device},
        {"device_public_key", B64(store::Bytes(32, 0))},
        {"claim", secret}},
       400,
       "request.invalid_field"},
      {"/v1/device-requests",
       {{"sso_ticket", secret}, {"device", device}, {"device_public_key", key}, {"claim", secret}},
       401,
       "sso.ticket_invalid"},
      {"/v1/device-requests/open",
       {{"request_id", "nope"}, {"claim", secret}},
       404,
       "recovery.link_invalid"},
      {"/v1/device-requests/open",
       {{"request_id", "nope"}, {"claim", "short"}},
       400,
       "request.invalid_field"},
      {"/v1/device-requests/complete",
       {{"request_id", "nope"},
        {"claim", secret},
        {"device_type", "mobile"},
        {"sign_public_key", B64(crypto::RandomBytes(32))},
        {"wrapped_vault_key", B64(crypto::RandomBytes(72))}},
       404,
       "recovery.link_invalid"},
      {"/v1/device-requests/complete",
       {{"request_id", "nope"},
        {"claim", secret},
        {"device_type", "toaster"},
        {"sign_public_key", B64(crypto::RandomBytes(32))},
        {"wrapped_vault_key", B64(crypto::RandomBytes(72))}},
       400,
       "request.invalid_field"},
  };
  for (const auto& c : cases) {
    auto r = Call("POST", c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << " " << r.body;
    EXPECT_EQ(Code(r), c.code) << c.path << " " << r.body;
  }
  // A link token never opens a device request, nor a claim a link: bob's
  // approved recovery request is not found by /open with its token.
  std::string id = Body(Submit(bob_))["request_id"];
  auto link = MakeLink(Body(Call("GET", RequestPath(id), {}, owner_.token)));
  ASSERT_EQ(Call("POST", RequestPath(id, "/approve"), ApproveBody(link), owner_.token).status, 200);
  auto as_claim = Call("POST", "/v1/device-requests/open",
                       json{{"request_id", id}, {"claim", B64(link.token.span())}});
  EXPECT_EQ(as_claim.status, 404);
  EXPECT_EQ(Code(as_claim), "recovery.link_invalid");
  auto shown = Body(Call("GET", RequestPath(id), {}, owner_.token));
  EXPECT_EQ(shown["device_public_key"], nullptr);
  EXPECT_EQ(shown["kind"], "recovery");
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

TEST_F(RequestRoutesTest, ListSearchesByEmailAndCountsByStatus) {
  std::string declined = Body(Submit(bob_))["request_id"];
  ASSERT_EQ(
      Call("POST", RequestPath(declined, "/decline"), json{{"reason", "no"}}, owner_.token).status,
      200);
  clock_.Advance(1);
  std::string pending = Body(Submit(bob_))["request_id"];

  auto found =
      Body(Call("GET", Path("/recovery/requests?email=BOB%40example.com"), {}, owner_.token));
  ASSERT_EQ(found["requests"].size(), 2u);
  EXPECT_EQ(found["requests"][0]["id"], pending);
  EXPECT_EQ(found["requests"][1]["id"], declined);
  auto found_pending = Body(Call(
      "GET", Path("/recovery/requests?status=pending&email=bob%40example.com"), {}, owner_.token));
  ASSERT_EQ(found_pending["requests"].size(), 1u);
  EXPECT_EQ(found_pending["requests"][0]["id"], pending);
  // The owner has no request; nobody has this address; a malformed one.
  EXPECT_TRUE(Body(Call("GET", Path("/recovery/requests?email=" + owner_.email), {},
                        owner_.token))["requests"]
                  .empty());
  EXPECT_TRUE(Body(Call("GET", Path("/recovery/requests?email=nobody%40example.com"), {},
                        owner_.token))["requests"]
                  .empty());
  auto bad = Call("GET", Path("/recovery/requests?email=not-an-address"), {}, owner_.token);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Code(bad), "account.invalid_email");

  auto counts = Body(Call("GET", Path("/recovery/counts"), {}, owner_.token));
  EXPECT_EQ(
      counts,
      (json{
          {"counts",
           {{"pending", 1}, {"approved", 0}, {"link_used", 0}, {"declined", 1}, {"expired", 0}}}}));
  auto forbidden = Call("GET", Path("/recovery/counts"), {}, bob_.token);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(Code(forbidden), "org.forbidden");
}

}  // namespace
}  // namespace keyward::api
