// docs/api.md "Organizations" over the router, with real statements, the
// way the CLI and the web client call it.
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "http/api/api.h"
#include "protocol/audit_chain.h"
#include "protocol/escrow.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_mailer.h"
#include "tests/support/status_assertions.h"

namespace keyward::api {
namespace {

using nlohmann::json;

std::string B64(const crypto::Bytes& b) { return crypto::Base64UrlEncode(b); }
std::string RandomB64(size_t n) { return B64(crypto::RandomBytes(n)); }

// What an organization's owners' clients hold.
struct OrgKeys {
  std::string id;
  crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  crypto::BoxKeyPair key = crypto::GenerateBoxKeyPair();
};

struct User {
  std::string email;
  std::string id;
  std::string token;
  std::string auth_key;
};

class OrgApiTest : public ::testing::Test {
 protected:
  OrgApiTest() {
    ApiConfig config;
    config.public_url = "https://vault.example.com";
    config.kdf_minimum = crypto::kTestKdf;
    config.recovery_key = recovery_key_;
    auto api = MakeApi(config, store::Open("sqlite::memory:").value(), mailer_, clock_, secret_);
    EXPECT_OK(api);
    api_ = std::move(*api);
    api_->RegisterRoutes(router_);
  }

  http::Response Call(std::string method, std::string path, std::optional<json> body = {},
                      const std::string& token = "") {
    http::Request r;
    r.method = std::move(method);
    size_t q = path.find('?');
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
  http::Response Call(std::string method, std::string path, std::optional<json> body,
                      const User& user) {
    return Call(std::move(method), std::move(path), std::move(body), user.token);
  }

  static json Body(const http::Response& r) {
    return r.body.empty() ? json() : json::parse(r.body);
  }
  static std::string Code(const http::Response& r) {
    auto b = Body(r);
    return b.contains("error") ? b["error"]["code"].get<std::string>() : "";
  }

  User SignUp(const std::string& email) {
    User u;
    u.email = email;
    u.id = RandomB64(16);
    u.auth_key = RandomB64(32);
    json reg = {{"id", u.id},
                {"email", email},
                {"kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
                {"salt", RandomB64(16)},
                {"auth_key", u.auth_key},
                {"wrapped_vault_key", RandomB64(73)},
                {"public_key", RandomB64(32)},
                {"wrapped_private_key", RandomB64(73)}};
    EXPECT_EQ(Call("POST", "/v1/accounts", reg).status, 202);
    auto code = mailer_.WaitForCodeFor(email);
    EXPECT_TRUE(code);
    EXPECT_EQ(
        Call("POST", "/v1/accounts/verify", json{{"email", email}, {"code", code.value_or("")}})
            .status,
        200);
    u.token = Login(u);
    return u;
  }

  std::string Login(const User& u) {
    auto login = Call("POST", "/v1/sessions",
                      json{{"email", u.email},
                           {"auth_key", u.auth_key},
                           {"device", {{"id", "laptop"}, {"name", "Laptop"}, {"type", "cli"}}}});
    EXPECT_EQ(login.status, 201) << login.body;
    return Body(login).value("token", "");
  }

  static protocol::RecoveryPolicy Policy(
      protocol::Enrollment enrollment = protocol::Enrollment::kOptIn,
      protocol::RecoveryMode mode = protocol::RecoveryMode::kDualControl) {
    protocol::RecoveryPolicy p;
    p.enrollment = enrollment;
    p.mode = mode;
    return p;
  }

  // org_public_key: pk_org named by the statement (default: the org's).
  json SignedStatement(const OrgKeys& org, uint64_t version, const protocol::RecoveryPolicy& policy,
                       std::optional<crypto::Bytes> org_public_key = std::nullopt) {
    protocol::OrgStatement st;
    st.org_id = org.id;
    st.version = version;
    st.signing_public_key = org.signer.public_key;
    st.org_public_key = org_public_key.value_or(org.key.public_key);
    st.policy_json = protocol::EncodePolicy(policy).value();
    st.not_before = clock_.NowUnix();
    auto signed_st = protocol::SignOrgStatement(st, org.signer).value();
    return {{"statement", B64(signed_st.statement)}, {"signature", B64(signed_st.signature)}};
  }

  static json Grant(uint64_t key_version = 1, bool signing = false) {
    json g = {{"key_version", key_version}, {"recovery_grant", RandomB64(120)}};
    g["signing_grant"] = signing ? json(RandomB64(120)) : json();
    return g;
  }

  OrgKeys CreateOrg(const User& owner, const std::string& id,
                    const protocol::RecoveryPolicy& policy = Policy()) {
    OrgKeys org;
    org.id = id;
    json body = SignedStatement(org, 1, policy);
    body["id"] = id;
    body["name"] = "Org " + id;
    body["grant"] = Grant(1, true);
    auto r = Call("POST", "/v1/orgs", body, owner);
    EXPECT_EQ(r.status, 201) << r.body;
    return org;
  }

  std::string InviteToken(const std::string& email) {
    static const std::regex kJoin(
        R"((^|\n)keyward org join ([A-Za-z0-9_-]+) --fingerprint "[0-9a-f ]+"\n)");
    auto sent = mailer_.Sent();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->to != email) continue;
      std::smatch m;
      if (std::regex_search(it->body, m, kJoin)) return m[2].str();
      return "";
    }
    return "";
  }

  http::Response Invite(const User& by, const std::string& org, const std::string& email,
                        const std::string& role, const std::string& permissions = "") {
    return Call("POST", "/v1/orgs/" + org + "/invites",
                json{{"email", email}, {"role", role}, {"permissions", permissions}}, by);
  }

  User Join(const User& by, const std::string& org, const std::string& email,
            const std::string& role, const std::string& permissions = "") {
    User u = SignUp(email);
    auto invite = Invite(by, org, email, role, permissions);
    EXPECT_EQ(invite.status, 201) << invite.body;
    auto accept = Call("POST", "/v1/invites/accept",
                       json{{"token", InviteToken(email)}, {"escrow", nullptr}}, u);
    EXPECT_EQ(accept.status, 201) << accept.body;
    return u;
  }

  json Events(const User& by, const std::string& org, const std::string& query = "") {
    auto r = Call("GET", "/v1/orgs/" + org + "/events" + (query.empty() ? "" : "?" + query),
                  std::nullopt, by);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }

  std::vector<std::string> EventTypes(const User& by, const std::string& org, uint64_t after) {
    std::vector<std::string> out;
    const json page = Events(by, org, "after=" + std::to_string(after));
    for (const auto& e : page["events"]) {
      out.push_back(e["type"]);
    }
    return out;
  }

  uint64_t LastSeq(const User& by, const std::string& org) {
    auto events = Events(by, org, "limit=1000")["events"];
    return events.empty() ? 0 : events.back()["seq"].get<uint64_t>();
  }

  testing::FakeClock clock_;
  testing::MemoryMailer mailer_;
  crypto::ServerSecret secret_ = crypto::ServerSecret::Random();
  std::shared_ptr<const crypto::BoxKeyPair> recovery_key_ =
      std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
  std::unique_ptr<Api> api_;
  http::Router router_;
};

TEST_F(OrgApiTest, CreateListAndShow) {
  User ann = SignUp("ann@example.com");
  OrgKeys org;
  org.id = "acme";
  json body = SignedStatement(org, 1, Policy(protocol::Enrollment::kOptOut));
  body["id"] = "acme";
  body["name"] = "Acme";
  body["grant"] = Grant(1, true);
  auto r = Call("POST", "/v1/orgs", body, ann);
  ASSERT_EQ(r.status, 201) << r.body;
  json o = Body(r);
  EXPECT_EQ(o["id"], "acme");
  EXPECT_EQ(o["name"], "Acme");
  EXPECT_EQ(o["role"], "owner");
  EXPECT_EQ(o["permissions"], "");
  EXPECT_EQ(o["status"], "active");
  EXPECT_EQ(o["key_version"], 1);
  EXPECT_EQ(o["statement_version"], 1);
  EXPECT_EQ(o["recovery_public_key"], B64(org.key.public_key));
  EXPECT_EQ(o["policy"],
            json::parse(protocol::EncodePolicy(Policy(protocol::Enrollment::kOptOut)).value()));
  EXPECT_EQ(o["policy"]["link_ttl"], 86400);
  EXPECT_EQ(o["enrollment"],
            (json{{"state", "not_enrolled"}, {"epoch", 0}, {"key_version", 0}, {"last_epoch", 0}}));
  EXPECT_TRUE(o["created_at"].is_string());
  EXPECT_EQ(o.size(), 11u);

  EXPECT_EQ(Code(Call("POST", "/v1/orgs", body, ann)), "org.exists");
  auto list = Call("GET", "/v1/orgs", std::nullopt, ann);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(Body(list)["orgs"].size(), 1u);
  EXPECT_EQ(Body(list)["orgs"][0], o);
  EXPECT_EQ(Body(Call("GET", "/v1/orgs/acme", std::nullopt, ann)), o);
  auto statements = Body(Call("GET", "/v1/orgs/acme/statements", std::nullopt, ann));
  ASSERT_EQ(statements["statements"].size(), 1u);
  EXPECT_EQ(statements["statements"][0]["version"], 1);
  EXPECT_EQ(statements["statements"][0]["statement"], body["statement"]);
  EXPECT_EQ(statements["statements"][0]["signature"], body["signature"]);
  EXPECT_TRUE(Body(Call("GET", "/v1/orgs/acme/statements?after=1", std::nullopt, ann))["statements"]
                  .empty());
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme/statements?after=x", std::nullopt, ann)),
            "request.invalid_query");

  // The caller's own grant.
  auto grant = Call("GET", "/v1/orgs/acme/grant", std::nullopt, ann);
  ASSERT_EQ(grant.status, 200) << grant.body;
  EXPECT_EQ(Body(grant)["recovery_grant"], body["grant"]["recovery_grant"]);
  EXPECT_EQ(Body(grant)["signing_grant"], body["grant"]["signing_grant"]);
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme/grant?key_version=2", std::nullopt, ann)),
            "org.grant_not_found");
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme/grant?key_version=-1", std::nullopt, ann)),
            "request.invalid_query");

  // Policy change: the next statement, signed by the current key.
  auto next = SignedStatement(org, 2, Policy(protocol::Enrollment::kMandatory));
  auto changed = Call("PUT", "/v1/orgs/acme/policy", next, ann);
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(Body(changed)["statement_version"], 2);
  EXPECT_EQ(Body(changed)["policy"]["enrollment"], "mandatory");
  EXPECT_EQ(Call("PUT", "/v1/orgs/acme/policy", next, ann).status, 409);

  EXPECT_EQ(Call("GET", "/v1/orgs", std::nullopt, "").status, 401);
}

TEST_F(OrgApiTest, CreateRefusals) {
  User ann = SignUp("ann@example.com");
  OrgKeys org;
  org.id = "acme";
  json good = SignedStatement(org, 1, Policy());
  good["id"] = "acme";
  good["name"] = "Acme";
  good["grant"] = Grant();
  auto with = [&](const std::string& key, json value) {
    json b = good;
    b[key] = std::move(value);
    return Call("POST", "/v1/orgs", b, ann);
  };
  auto r = with("signature", RandomB64(64));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "org.signature_invalid");
  EXPECT_EQ(Code(with("statement", RandomB64(100))), "org.statement_malformed");
  EXPECT_EQ(Code(with("id", "other")), "org.wrong_org");
  EXPECT_EQ(Code(with("name", "")), "org.invalid_name");
  EXPECT_EQ(Code(with("name", std::string(101, 'x'))), "org.invalid_name");
  EXPECT_EQ(Code(with("name", "a\u0007b")), "org.invalid_name");
  EXPECT_EQ(Code(with("signature", RandomB64(63))), "request.invalid_field");
  EXPECT_EQ(Code(with("grant", nullptr)), "request.invalid_field");
  EXPECT_EQ(Code(with("grant", Grant(2))), "org.key_version_mismatch");
  EXPECT_EQ(Code(with("extra", 1)), "request.unknown_field");
  json missing = good;
  missing.erase("grant");
  EXPECT_EQ(Code(Call("POST", "/v1/orgs", missing, ann)), "request.missing_field");
  EXPECT_EQ(Call("POST", "/v1/orgs", good, ann).status, 201);
}

TEST_F(OrgApiTest, InvitesAreSingleUseBoundToTheEmailAndExpire) {
  User ann = SignUp("ann@example.com");
  OrgKeys org = CreateOrg(ann, "acme");
  User bob = SignUp("bob@example.com");
  User eve = SignUp("eve@example.com");

  auto invite = Invite(ann, "acme", "Bob@Example.com", "user");
  ASSERT_EQ(invite.status, 201) << invite.body;
  json i = Body(invite);
  EXPECT_EQ(i["email"], "bob@example.com");
  EXPECT_EQ(i["role"], "user");
  EXPECT_EQ(i["permissions"], "");
  EXPECT_EQ(i["expires_at"], FormatRfc3339(clock_.NowUnix() + 7 * 86400));
  EXPECT_FALSE(i.contains("token"));
  const std::string token = InviteToken("bob@example.com");
  ASSERT_FALSE(token.empty());
  auto mail = mailer_.Sent().back();
  EXPECT_NE(mail.body.find(crypto::Fingerprint(org.signer.public_key)), std::string::npos);

  auto lookup = Call("POST", "/v1/invites/lookup", json{{"token", token}}, bob);
  ASSERT_EQ(lookup.status, 200) << lookup.body;
  json l = Body(lookup);
  EXPECT_EQ(l["invite_id"], i["id"]);
  EXPECT_EQ(l["org"], (json{{"id", "acme"}, {"name", "Org acme"}}));
  EXPECT_EQ(l["role"], "user");
  EXPECT_EQ(l["email"], "bob@example.com");
  EXPECT_EQ(l["statements"].size(), 1u);

  EXPECT_EQ(Code(Call("POST", "/v1/invites/lookup", json{{"token", token}}, eve)),
            "invite.not_found");
  EXPECT_EQ(Code(Call("POST", "/v1/invites/accept", json{{"token", token}}, eve)),
            "invite.not_found");
  EXPECT_EQ(Code(Call("POST", "/v1/invites/accept", json{{"token", "nonsense"}}, bob)),
            "invite.not_found");
  auto accepted = Call("POST", "/v1/invites/accept", json{{"token", token}}, bob);
  ASSERT_EQ(accepted.status, 201) << accepted.body;
  EXPECT_EQ(Body(accepted)["id"], "acme");
  EXPECT_EQ(Body(accepted)["role"], "user");
  auto again = Call("POST", "/v1/invites/accept", json{{"token", token}}, bob);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(Code(again), "invite.not_found");
  EXPECT_EQ(Code(Invite(ann, "acme", "bob@example.com", "user")), "org.already_member");

  ASSERT_EQ(Invite(ann, "acme", "eve@example.com", "user").status, 201);
  const std::string eve_token = InviteToken("eve@example.com");
  clock_.Advance(7 * 86400);
  // Sessions do not last a week: sign in again.
  ann.token = Login(ann);
  eve.token = Login(eve);
  bob.token = Login(bob);
  EXPECT_EQ(Code(Call("POST", "/v1/invites/lookup", json{{"token", eve_token}}, eve)),
            "invite.not_found");
  EXPECT_EQ(Code(Call("POST", "/v1/invites/accept", json{{"token", eve_token}}, eve)),
            "invite.not_found");

  // Members list: recovery admins only; open invites.
  ASSERT_EQ(Invite(ann, "acme", "carol@example.com", "custom", "manage_account_recovery").status,
            201);
  auto members = Call("GET", "/v1/orgs/acme/members", std::nullopt, ann);
  ASSERT_EQ(members.status, 200);
  json m = Body(members);
  ASSERT_EQ(m["members"].size(), 2u);
  ASSERT_EQ(m["invites"].size(), 1u);
  EXPECT_EQ(m["invites"][0]["email"], "carol@example.com");
  EXPECT_EQ(m["invites"][0]["permissions"], "manage_account_recovery");
  json bob_row, ann_row;
  for (const auto& row : m["members"]) (row["account_id"] == bob.id ? bob_row : ann_row) = row;
  EXPECT_EQ(bob_row["account_id"], bob.id);
  EXPECT_EQ(bob_row["email"], "bob@example.com");
  EXPECT_EQ(bob_row["role"], "user");
  EXPECT_EQ(bob_row["status"], "active");
  EXPECT_EQ(bob_row["recovery_admin"], false);
  EXPECT_EQ(bob_row["grant_key_version"], 0);
  EXPECT_EQ(bob_row["enrollment"]["state"], "not_enrolled");
  EXPECT_TRUE(bob_row["public_key"].is_string());
  EXPECT_TRUE(bob_row["joined_at"].is_string());
  EXPECT_EQ(ann_row["grant_key_version"], 1);
  EXPECT_EQ(ann_row["recovery_admin"], true);
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme/members", std::nullopt, bob)), "org.forbidden");
  EXPECT_EQ(Code(Invite(bob, "acme", "x@example.com", "user")), "org.forbidden");
}

// Issue 10 item 3 over HTTP: 20 invitations an hour per inviter, then 429.
TEST_F(OrgApiTest, InvitationsPastTheLimitAnswer429) {
  User ann = SignUp("ann@example.com");
  CreateOrg(ann, "acme");
  for (int i = 0; i < 20; ++i) {
    auto r = Invite(ann, "acme", "p" + std::to_string(i) + "@example.com", "user");
    ASSERT_EQ(r.status, 201) << i << " " << r.body;
  }
  const size_t sent = mailer_.Sent().size();
  auto r = Invite(ann, "acme", "p20@example.com", "user");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(Body(r)["error"]["code"], "org.invite_rate_limited");
  EXPECT_EQ(mailer_.Sent().size(), sent);
  clock_.Advance(2 * 3600);
  EXPECT_EQ(Invite(ann, "acme", "p20@example.com", "user").status, 201);
}

TEST_F(OrgApiTest, JoiningAMandatoryOrganizationNeedsAnEscrow) {
  User ann = SignUp("ann@example.com");
  OrgKeys org = CreateOrg(ann, "acme", Policy(protocol::Enrollment::kMandatory));
  User bob = SignUp("bob@example.com");
  ASSERT_EQ(Invite(ann, "acme", "bob@example.com", "user").status, 201);
  const std::string token = InviteToken("bob@example.com");
  auto r = Call("POST", "/v1/invites/accept", json{{"token", token}, {"escrow", nullptr}}, bob);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Code(r), "org.enrollment_required");

  auto vault_key = crypto::VaultKey::Random();
  auto escrow = protocol::CreateEscrow(vault_key, "acme", bob.id, 1, org.key.public_key,
                                       recovery_key_->public_key)
                    .value();
  json e = {{"epoch", 1},
            {"key_version", 1},
            {"wrapped_vault_key", B64(escrow.wrapped_vault_key)},
            {"admin_share", B64(escrow.admin_share)},
            {"server_share", B64(escrow.server_share)}};
  r = Call("POST", "/v1/invites/accept", json{{"token", token}, {"escrow", e}}, bob);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["enrollment"],
            (json{{"state", "enrolled"}, {"epoch", 1}, {"key_version", 1}, {"last_epoch", 1}}));
  auto types = EventTypes(ann, "acme", 0);
  EXPECT_EQ(types, (std::vector<std::string>{"org.created", "member.invited", "member.joined",
                                             "recovery.enrolled"}));
}

// An owner or admin of one organization gets 404 org.not_found on every
// route of another one (existing or not), and org.member_not_found for the
// other's members through their own organization's routes.
TEST_F(OrgApiTest, CrossOrganizationIsolation) {
  User ann = SignUp("ann@example.com");  // owns A
  User zed = SignUp("zed@example.com");  // owns B
  OrgKeys a = CreateOrg(ann, "org-a",
                        Policy(protocol::Enrollment::kOptIn, protocol::RecoveryMode::kAdminReset));
  OrgKeys b = CreateOrg(zed, "org-b",
                        Policy(protocol::Enrollment::kOptIn, protocol::RecoveryMode::kAdminReset));
  User al = Join(ann, "org-a", "al@example.com", "admin");
  User bob = Join(zed, "org-b", "bob@example.com", "user");
  const uint64_t b_seq = LastSeq(zed, "org-b");

  json escrow = {{"epoch", 1},
                 {"key_version", 1},
                 {"wrapped_vault_key", RandomB64(72)},
                 {"admin_share", RandomB64(80)},
                 {"server_share", RandomB64(80)}};
  // A body that passes decoding for each route with {org}, so that only the
  // organization check can refuse it.
  auto body_for = [&](const User& caller, const std::string& method, const std::string& pattern,
                      const OrgKeys& target_org) -> std::optional<json> {
    if (method == "GET") return std::nullopt;
    if (pattern == "/v1/orgs/{org}/policy") return SignedStatement(target_org, 2, Policy());
    if (pattern == "/v1/orgs/{org}/invites") {
      return json{{"email", "new@example.com"}, {"role", "user"}, {"permissions", ""}};
    }
    if (pattern == "/v1/orgs/{org}/members/{member}/role") {
      return json{{"role", "admin"}, {"permissions", ""}};
    }
    if (pattern == "/v1/orgs/{org}/members/{member}/grant") return json{{"grant", Grant()}};
    if (pattern == "/v1/orgs/{org}/enrollment") {
      if (method == "PUT") return json{{"auth_key", caller.auth_key}, {"escrow", escrow}};
      return json{{"auth_key", caller.auth_key}};
    }
    if (pattern == "/v1/orgs/{org}/rotation") {
      json st = SignedStatement(target_org, 2, Policy(), crypto::GenerateBoxKeyPair().public_key);
      st["grants"] = json::array({json{{"account_id", caller.id}, {"grant", Grant(2)}}});
      return st;
    }
    if (pattern == "/v1/orgs/{org}/rotation/escrows") {
      return json{{"escrows", json::array({json{{"account_id", bob.id},
                                                {"epoch", 1},
                                                {"from_key_version", 1},
                                                {"admin_share", RandomB64(80)}}})}};
    }
    if (pattern.ends_with("/recovery/requests/{id}/approve")) {
      return json{{"token", RandomB64(32)}, {"link_share", RandomB64(80)}};
    }
    if (pattern.ends_with("/recovery/requests/{id}/decline")) return json{{"reason", "no"}};
    if (pattern == "/v1/orgs/{org}/recovery/start") return json{{"member", bob.id}};
    if (pattern == "/v1/orgs/{org}/members/{member}/reset") {
      return json{{"new_kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
                  {"new_salt", RandomB64(16)},
                  {"new_auth_key", RandomB64(32)},
                  {"new_wrapped_vault_key", RandomB64(72)},
                  {"escrow", escrow}};
    }
    if (method == "DELETE" || pattern.ends_with("/revoke") || pattern.ends_with("/restore")) {
      return std::nullopt;
    }
    return json::object();  // reset/begin, 2fa/reset, ...
  };
  auto fill = [](std::string pattern, const std::string& org, const std::string& member) {
    pattern.replace(pattern.find("{org}"), 5, org);
    if (auto m = pattern.find("{member}"); m != std::string::npos) pattern.replace(m, 8, member);
    return pattern;
  };

  int org_routes = 0;
  int member_routes = 0;
  for (const auto& [method, pattern] : router_.Routes()) {
    if (pattern.find("{org}") == std::string::npos) continue;
    ++org_routes;
    for (const User* caller : {&ann, &al}) {
      for (const std::string& org_id : {std::string("org-b"), std::string("no-such-org")}) {
        auto r = Call(method, fill(pattern, org_id, bob.id), body_for(*caller, method, pattern, b),
                      *caller);
        EXPECT_EQ(r.status, 404) << method << " " << pattern << " " << org_id << ": " << r.body;
        EXPECT_EQ(Code(r), "org.not_found") << method << " " << pattern << " " << org_id;
      }
    }
    if (pattern.find("{member}") == std::string::npos) continue;
    ++member_routes;
    // bob (of B) through A's routes, as A's owner.
    auto r = Call(method, fill(pattern, "org-a", bob.id), body_for(ann, method, pattern, a), ann);
    EXPECT_EQ(r.status, 404) << method << " " << pattern << ": " << r.body;
    EXPECT_EQ(Code(r), "org.member_not_found") << method << " " << pattern;
  }
  EXPECT_GE(org_routes, 20);
  EXPECT_GE(member_routes, 8);
  // Nothing happened in B.
  EXPECT_EQ(LastSeq(zed, "org-b"), b_seq);
  auto members = Body(Call("GET", "/v1/orgs/org-b/members", std::nullopt, zed));
  EXPECT_EQ(members["members"].size(), 2u);
  EXPECT_TRUE(members["invites"].empty());
  // B's org list does not leak into A's owner's.
  auto list = Body(Call("GET", "/v1/orgs", std::nullopt, ann));
  ASSERT_EQ(list["orgs"].size(), 1u);
  EXPECT_EQ(list["orgs"][0]["id"], "org-a");
}

TEST_F(OrgApiTest, RoleChangesGrantsAndRemoval) {
  User ann = SignUp("ann@example.com");
  CreateOrg(ann, "acme");
  User al = Join(ann, "acme", "al@example.com", "admin");
  User cy = Join(ann, "acme", "cy@example.com", "custom", "manage_account_recovery");
  User ursula = Join(ann, "acme", "ursula@example.com", "user");
  auto role = [&](const User& by, const User& target, const std::string& new_role,
                  std::optional<json> grant = std::nullopt) {
    json body = {{"role", new_role}, {"permissions", ""}};
    if (grant) body["grant"] = *grant;
    return Call("PUT", "/v1/orgs/acme/members/" + target.id + "/role", body, by);
  };
  // A few cells of the hierarchy (roles_test has the full table).
  auto r = role(al, ann, "user");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Code(r), "org.forbidden");
  EXPECT_EQ(Code(role(al, ursula, "owner")), "org.forbidden");
  EXPECT_EQ(Code(role(cy, ursula, "admin")), "org.forbidden");
  EXPECT_EQ(Code(role(ursula, cy, "user")), "org.forbidden");
  EXPECT_EQ(Code(role(al, al, "user")), "org.self_action");
  EXPECT_EQ(Code(role(ann, ann, "user")), "org.self_action");
  EXPECT_EQ(Code(role(ann, ursula, "emperor")), "org.invalid_role");
  EXPECT_EQ(Code(role(ann, ursula, "user", Grant())), "org.not_recovery_admin");

  // Promote with a grant, then demote: the grant goes.
  uint64_t seq = LastSeq(ann, "acme");
  ASSERT_EQ(role(al, ursula, "admin", Grant(1, true)).status, 204);
  EXPECT_EQ(EventTypes(ann, "acme", seq),
            (std::vector<std::string>{"member.role_changed", "key.granted"}));
  auto grant = Call("GET", "/v1/orgs/acme/grant", std::nullopt, ursula);
  ASSERT_EQ(grant.status, 200);
  seq = LastSeq(ann, "acme");
  ASSERT_EQ(role(ann, ursula, "user").status, 204);
  EXPECT_EQ(EventTypes(ann, "acme", seq),
            (std::vector<std::string>{"member.role_changed", "key.grant_removed"}));
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme/grant", std::nullopt, ursula)), "org.grant_not_found");

  // Grant route.
  auto give = [&](const User& by, const User& to, json g) {
    return Call("POST", "/v1/orgs/acme/members/" + to.id + "/grant", json{{"grant", g}}, by);
  };
  EXPECT_EQ(Code(give(ann, ursula, Grant())), "org.not_recovery_admin");
  EXPECT_EQ(Code(give(ann, cy, Grant(3))), "org.key_version_mismatch");
  EXPECT_EQ(give(ann, cy, Grant()).status, 204);
  auto members = Body(Call("GET", "/v1/orgs/acme/members", std::nullopt, ann))["members"];
  for (const auto& m : members) {
    if (m["account_id"] == cy.id) {
      EXPECT_EQ(m["grant_key_version"], 1);
      EXPECT_EQ(m["recovery_admin"], true);
    }
  }

  // Revoke, restore, remove.
  auto action = [&](const User& by, const std::string& method, const User& target,
                    const std::string& suffix) {
    return Call(method, "/v1/orgs/acme/members/" + target.id + suffix, std::nullopt, by);
  };
  EXPECT_EQ(Code(action(al, "POST", ann, "/revoke")), "org.forbidden");
  ASSERT_EQ(action(al, "POST", cy, "/revoke").status, 204);
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme", std::nullopt, cy)), "org.not_found");
  ASSERT_EQ(action(al, "POST", cy, "/restore").status, 204);
  EXPECT_EQ(Call("GET", "/v1/orgs/acme", std::nullopt, cy).status, 200);
  EXPECT_EQ(Call("POST", "/v1/orgs/acme/members/" + cy.id + "/revoke", json{{"x", 1}}, al).status,
            400);
  ASSERT_EQ(action(al, "DELETE", ursula, "").status, 204);
  EXPECT_EQ(Code(action(al, "DELETE", ursula, "")), "org.member_not_found");
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme", std::nullopt, ursula)), "org.not_found");
}

TEST_F(OrgApiTest, EventsPageFilterAndVerify) {
  User ann = SignUp("ann@example.com");
  CreateOrg(ann, "acme");
  const int64_t t0 = clock_.NowUnix();
  User al = Join(ann, "acme", "al@example.com", "admin");
  clock_.Advance(3600);
  User bob = Join(ann, "acme", "bob@example.com", "user");
  clock_.Advance(3600);
  ASSERT_EQ(Call("PUT", "/v1/orgs/acme/members/" + bob.id + "/role",
                 json{{"role", "custom"}, {"permissions", ""}}, al)
                .status,
            204);

  json all = Events(al, "acme");
  ASSERT_EQ(all["events"].size(), 6u);
  EXPECT_TRUE(all["next_after"].is_null());
  json first = all["events"][0];
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["type"], "org.created");
  EXPECT_EQ(first["actor_id"], ann.id);
  EXPECT_EQ(first["device_id"], "laptop");
  EXPECT_EQ(first["time"], t0);
  EXPECT_EQ(first["at"], FormatRfc3339(t0));
  EXPECT_TRUE(first["details"].is_object());
  EXPECT_EQ(first.size(), 9u);

  // The chain verifies from what the API returns.
  std::vector<protocol::audit::Event> events;
  std::vector<protocol::audit::Digest> hashes;
  for (const auto& e : all["events"]) {
    protocol::audit::Event ev;
    ev.seq = e["seq"];
    ev.org_id = "acme";
    ev.type = e["type"];
    ev.actor_id = e["actor_id"];
    ev.target_id = e["target_id"];
    ev.device_id = e["device_id"];
    ev.time = e["time"];
    ev.details = e["details"].get<std::map<std::string, std::string>>();
    events.push_back(ev);
    auto hash = crypto::Base64UrlDecode(e["hash"].get<std::string>()).value();
    protocol::audit::Digest d{};
    ASSERT_EQ(hash.size(), d.size());
    std::copy(hash.begin(), hash.end(), d.begin());
    hashes.push_back(d);
  }
  auto head = protocol::audit::Verify("acme", events, hashes);
  ASSERT_OK(head);
  EXPECT_EQ(head->seq, 6u);

  // Pages.
  json page = Events(al, "acme", "limit=4");
  EXPECT_EQ(page["events"].size(), 4u);
  EXPECT_EQ(page["next_after"], 4);
  page = Events(al, "acme", "limit=4&after=4");
  EXPECT_EQ(page["events"].size(), 2u);
  EXPECT_TRUE(page["next_after"].is_null());

  // Filters.
  EXPECT_EQ(Events(al, "acme", "type=member.joined")["events"].size(), 2u);
  EXPECT_EQ(Events(al, "acme", "actor=" + al.id)["events"].size(), 2u);
  EXPECT_EQ(Events(al, "acme", "target=" + bob.id)["events"].size(), 2u);
  json window = Events(al, "acme",
                       "since=" + FormatRfc3339(t0 + 3600) + "&until=" + FormatRfc3339(t0 + 7200));
  ASSERT_EQ(window["events"].size(), 2u);  // bob invited and joined
  EXPECT_EQ(window["events"][0]["type"], "member.invited");
  EXPECT_EQ(Events(al, "acme", "since=2026-11-21T22%3A14%3A00%2B01%3A00")["events"].size(), 0u);

  for (const char* bad :
       {"limit=0", "limit=1001", "limit=ten", "after=-1", "after=1.5", "since=yesterday",
        "until=2026-13-01T00:00:00Z", "actor=ann@example.com", "target=x", "type=NOT_A_TYPE"}) {
    auto r = Call("GET", std::string("/v1/orgs/acme/events?") + bad, std::nullopt, al);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Code(r), "request.invalid_query") << bad;
  }
  EXPECT_EQ(Code(Call("GET", "/v1/orgs/acme/events", std::nullopt, bob)), "org.forbidden");
}

}  // namespace
}  // namespace keyward::api
