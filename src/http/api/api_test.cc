#include "http/api/api.h"
#include "http/api/route_support.h"

#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/fake_clock.h"
#include "tests/support/memory_mailer.h"
#include "tests/support/status_assertions.h"

namespace keyward::api {
namespace {

using nlohmann::json;

constexpr char kAnn[] = "ann@example.com";

std::string B64(const crypto::Bytes& b) { return crypto::Base64UrlEncode(b); }
std::string RandomB64(size_t n) { return B64(crypto::RandomBytes(n)); }

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
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
                      std::string token = "") {
    http::Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.remote_address = "192.0.2.1";
    if (body) {
      r.headers["content-type"] = "application/json";
      r.body = body->dump();
    }
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    return router_.Handle(r);
  }

  http::Response Raw(std::string method, std::string path, std::string body,
                     std::string content_type = "application/json", std::string token = "") {
    http::Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.remote_address = "192.0.2.1";
    r.headers["content-type"] = std::move(content_type);
    r.body = std::move(body);
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

  json Registration(const std::string& email, const std::string& auth_key) {
    return {{"id", RandomB64(16)},
            {"email", email},
            {"kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
            {"salt", RandomB64(16)},
            {"auth_key", auth_key},
            {"wrapped_vault_key", RandomB64(73)},
            {"public_key", RandomB64(32)},
            {"wrapped_private_key", RandomB64(73)}};
  }

  json LoginBody(const std::string& email, const std::string& auth_key,
                 const std::string& device = "laptop") {
    return {{"email", email},
            {"auth_key", auth_key},
            {"device", {{"id", device}, {"name", "Ann's laptop"}, {"type", "cli"}}}};
  }

  // Registers, verifies and logs in; returns the token.
  std::string SignUp(const std::string& email, const std::string& auth_key) {
    auto reg = Call("POST", "/v1/accounts", Registration(email, auth_key));
    EXPECT_EQ(reg.status, 202) << reg.body;
    auto code = mailer_.WaitForCodeFor(email);
    EXPECT_TRUE(code);
    auto verify = Call("POST", "/v1/accounts/verify", json{{"email", email}, {"code", *code}});
    EXPECT_EQ(verify.status, 200) << verify.body;
    auto login = Call("POST", "/v1/sessions", LoginBody(email, auth_key));
    EXPECT_EQ(login.status, 201) << login.body;
    return Body(login).value("token", "");
  }

  testing::FakeClock clock_;
  testing::MemoryMailer mailer_;
  crypto::ServerSecret secret_ = crypto::ServerSecret::Random();
  std::shared_ptr<const crypto::BoxKeyPair> recovery_key_ =
      std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
  std::unique_ptr<Api> api_;
  http::Router router_;
};

// Issue 10, item 6: a store error that core did not map never reaches a
// client with its store code.
TEST(AnswerTest, UnmappedStoreErrorsAreInternal) {
  for (const Error& e : {Error::Conflict("store.conflict", "insert request"),
                         Error::Conflict("store.stale", "update request"),
                         Error::NotFound("store.not_found", "update account")}) {
    http::Response r = Answer(Fail(e));
    EXPECT_EQ(r.status, 500) << e.code();
    EXPECT_NE(r.body.find("\"code\":\"internal\""), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("store."), std::string::npos) << r.body;
  }
  // Mapped codes and a busy database pass through.
  EXPECT_EQ(Answer(Fail(Error::Conflict("recovery.not_pending", "x"))).status, 409);
  EXPECT_EQ(Answer(Fail(Error::Unavailable("store.busy", "x"))).status, 503);
}

TEST_F(ApiTest, ServerInfo) {
  auto r = Call("GET", "/v1/server");
  ASSERT_EQ(r.status, 200);
  auto b = Body(r);
  EXPECT_EQ(b["version"], "0.1.0");
  EXPECT_EQ(b["kdf_minimum"]["ops"], crypto::kTestKdf.ops);
  EXPECT_EQ(b["public_url"], "https://vault.example.com");

  // The server recovery key (pk_srv): 32 bytes, and its fingerprint.
  ASSERT_TRUE(b["recovery_public_key"].is_string());
  auto pk = crypto::Base64UrlDecode(b["recovery_public_key"].get<std::string>());
  ASSERT_TRUE(pk.has_value());
  ASSERT_EQ(pk->size(), 32u);
  EXPECT_EQ(*pk, recovery_key_->public_key);
  EXPECT_EQ(b["recovery_fingerprint"], crypto::Fingerprint(*pk));
  // The web pages' idle lock (docs/web.md), 15 minutes unless configured.
  EXPECT_EQ(b["web_lock_seconds"], 900);
  // Health: the mail queue is empty.
  EXPECT_EQ(b["health"],
            (json{{"store", "ok"}, {"mail_queue", {{"messages", 0}, {"oldest_seconds", 0}}}}));
  EXPECT_EQ(b.size(), 7u) << b.dump();
}

// Mail down: what was queued waits, and the health field says how many and
// for how long; once a delivery has failed, an unknown email's decoy waits
// like a real email.
TEST_F(ApiTest, ServerInfoReportsTheMailWaitingWhileMailIsDown) {
  const std::string key = crypto::Base64UrlEncode(crypto::RandomBytes(32));
  SignUp("ann@example.com", key);
  mailer_.SetFailing(true);
  // A login from a new device queues its notice, which cannot go out.
  ASSERT_EQ(Call("POST", "/v1/sessions", LoginBody("ann@example.com", key, "phone")).status, 201);
  auto resend = Call("POST", "/v1/accounts/verify/resend", json{{"email", "nobody@example.com"}});
  ASSERT_EQ(resend.status, 202) << resend.body;
  clock_.Advance(90);
  auto b = Body(Call("GET", "/v1/server"));
  EXPECT_EQ(b["health"]["mail_queue"], (json{{"messages", 2}, {"oldest_seconds", 90}}));
}

TEST_F(ApiTest, ServerInfoWithoutRecoveryKeyLeavesItOut) {
  ApiConfig config;
  auto api = MakeApi(config, store::Open("sqlite::memory:").value(), mailer_, clock_, secret_);
  ASSERT_TRUE(api.has_value());
  http::Router router;
  (*api)->RegisterRoutes(router);
  http::Request request;
  request.method = "GET";
  request.path = "/v1/server";
  auto b = Body(router.Handle(request));
  EXPECT_FALSE(b.contains("recovery_public_key"));
  EXPECT_FALSE(b.contains("recovery_fingerprint"));
}

TEST_F(ApiTest, RefusesABadRecoveryKeyPair) {
  ApiConfig config;
  config.recovery_key = std::make_shared<const crypto::BoxKeyPair>(
      crypto::BoxKeyPair{crypto::RandomBytes(31), crypto::SecureBytes::Random(32)});
  auto api = MakeApi(config, store::Open("sqlite::memory:").value(), mailer_, clock_, secret_);
  EXPECT_ERROR(api, "api.bad_recovery_key");
}

TEST_F(ApiTest, WholeAccountJourney) {
  const std::string key = RandomB64(32);
  json reg = Registration(kAnn, key);
  ASSERT_EQ(Call("POST", "/v1/accounts", reg).status, 202);
  auto code = mailer_.WaitForCodeFor(kAnn);
  ASSERT_TRUE(code);
  // Login before verification: only after the key checks out.
  EXPECT_EQ(Code(Call("POST", "/v1/sessions", LoginBody(kAnn, RandomB64(32)))),
            "auth.invalid_credentials");
  auto unverified = Call("POST", "/v1/sessions", LoginBody(kAnn, key));
  EXPECT_EQ(unverified.status, 403);
  EXPECT_EQ(Code(unverified), "account.unverified");
  auto wrong = Call("POST", "/v1/accounts/verify",
                    json{{"email", kAnn}, {"code", *code == "000000" ? "111111" : "000000"}});
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Code(wrong), "verify.invalid_code");
  auto verified = Call("POST", "/v1/accounts/verify", json{{"email", kAnn}, {"code", *code}});
  ASSERT_EQ(verified.status, 200);
  EXPECT_EQ(Body(verified)["status"], "verified");

  // Pre-login gives back the registered salt and parameters.
  auto pre = Call("POST", "/v1/accounts/prelogin", json{{"email", "ANN@example.com"}});
  ASSERT_EQ(pre.status, 200);
  EXPECT_EQ(Body(pre)["salt"], reg["salt"]);
  EXPECT_EQ(Body(pre)["kdf"], reg["kdf"]);
  auto pre_unknown = Call("POST", "/v1/accounts/prelogin", json{{"email", "x@example.com"}});
  ASSERT_EQ(pre_unknown.status, 200);
  EXPECT_EQ(crypto::Base64UrlDecode(Body(pre_unknown)["salt"].get<std::string>())->size(), 16u);

  // Login.
  auto login = Call("POST", "/v1/sessions", LoginBody(kAnn, key));
  ASSERT_EQ(login.status, 201) << login.body;
  auto lb = Body(login);
  std::string token = lb["token"];
  EXPECT_EQ(crypto::Base64UrlDecode(token)->size(), 32u);
  EXPECT_EQ(lb["device_id"], "laptop");
  EXPECT_EQ(lb["account"]["id"], reg["id"]);
  EXPECT_EQ(lb["account"]["email"], kAnn);
  EXPECT_EQ(lb["account"]["wrapped_vault_key"], reg["wrapped_vault_key"]);
  EXPECT_EQ(lb["account"]["two_factor_enabled"], false);
  EXPECT_EQ(lb["expires_at"], FormatRfc3339(clock_.NowUnix() + 12 * 3600));
  EXPECT_EQ(mailer_.Sent().back().subject, "New device signed in to Keyward");

  auto account = Call("GET", "/v1/account", {}, token);
  ASSERT_EQ(account.status, 200);
  EXPECT_EQ(Body(account)["public_key"], reg["public_key"]);
  EXPECT_EQ(Body(account)["must_change_password"], false);
  EXPECT_EQ(Body(account).size(), 10u);

  // Items CRUD with a revision conflict.
  std::string data = RandomB64(100);
  auto created = Call("POST", "/v1/items", json{{"id", "item-1"}, {"data", data}}, token);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["revision"], 1);
  EXPECT_EQ(Code(Call("POST", "/v1/items", json{{"id", "item-1"}, {"data", data}}, token)),
            "item.exists");
  std::string data2 = RandomB64(100);
  auto updated = Call("PUT", "/v1/items/item-1", json{{"revision", 1}, {"data", data2}}, token);
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Body(updated)["revision"], 2);
  auto stale = Call("PUT", "/v1/items/item-1", json{{"revision", 1}, {"data", data}}, token);
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(Code(stale), "item.stale_revision");
  auto got = Call("GET", "/v1/items/item-1", {}, token);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(Body(got)["data"], data2);
  auto list = Call("GET", "/v1/items", {}, token);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(Body(list)["items"].size(), 1u);
  // The hand-written listing parses to exactly what GET of the item answers.
  EXPECT_EQ(Body(list)["items"][0], Body(got));
  EXPECT_EQ(list.content_type, "application/json");
  EXPECT_EQ(Call("DELETE", "/v1/items/item-1", {}, token).status, 204);
  EXPECT_EQ(Code(Call("GET", "/v1/items/item-1", {}, token)), "item.not_found");
  EXPECT_EQ(Call("GET", "/v1/items/item-1", {}, token).status, 404);

  // A second device; the first deactivates it.
  auto phone_login = Call("POST", "/v1/sessions", LoginBody(kAnn, key, "phone"));
  ASSERT_EQ(phone_login.status, 201);
  std::string phone = Body(phone_login)["token"];
  auto devices = Call("GET", "/v1/devices", {}, token);
  ASSERT_EQ(devices.status, 200);
  auto dl = Body(devices)["devices"];
  ASSERT_EQ(dl.size(), 2u);
  EXPECT_EQ(dl[0]["id"], "laptop");
  EXPECT_EQ(dl[0]["current"], true);
  EXPECT_EQ(dl[1]["current"], false);
  EXPECT_EQ(dl[1]["type"], "cli");
  EXPECT_EQ(Call("DELETE", "/v1/devices/phone", {}, token).status, 204);
  EXPECT_EQ(Code(Call("GET", "/v1/items", {}, phone)), "auth.required");
  EXPECT_EQ(Call("GET", "/v1/items", {}, phone).status, 401);
  EXPECT_EQ(Code(Call("DELETE", "/v1/devices/tablet", {}, token)), "device.not_found");

  // Two-step login.
  auto begin = Call("POST", "/v1/account/2fa/totp", json{{"auth_key", key}}, token);
  ASSERT_EQ(begin.status, 200) << begin.body;
  auto secret = crypto::Base32Decode(Body(begin)["secret"].get<std::string>());
  ASSERT_TRUE(secret);
  EXPECT_TRUE(Body(begin)["uri"].get<std::string>().starts_with(
      "otpauth://totp/Keyward:ann%40example.com?secret="));
  EXPECT_EQ(Code(Call("POST", "/v1/account/2fa/totp/confirm", json{{"code", "abc"}}, token)),
            "2fa.invalid_code");
  auto confirm = Call("POST", "/v1/account/2fa/totp/confirm",
                      json{{"code", crypto::TotpCode(*secret, clock_.NowUnix())}}, token);
  ASSERT_EQ(confirm.status, 200) << confirm.body;
  auto recovery = Body(confirm)["recovery_codes"];
  ASSERT_EQ(recovery.size(), 10u);
  clock_.Advance(30);
  auto need = Call("POST", "/v1/sessions", LoginBody(kAnn, key));
  EXPECT_EQ(need.status, 401);
  EXPECT_EQ(Code(need), "auth.two_factor_required");
  json with_code = LoginBody(kAnn, key);
  with_code["totp_code"] = crypto::TotpCode(*secret, clock_.NowUnix());
  ASSERT_EQ(Call("POST", "/v1/sessions", with_code).status, 201);
  EXPECT_EQ(Code(Call("POST", "/v1/sessions", with_code)), "auth.invalid_two_factor");
  json with_recovery = LoginBody(kAnn, key, "desk");
  with_recovery["recovery_code"] = recovery[0];
  auto desk_login = Call("POST", "/v1/sessions", with_recovery);
  ASSERT_EQ(desk_login.status, 201);
  std::string desk = Body(desk_login)["token"];
  EXPECT_EQ(Body(Call("GET", "/v1/account", {}, token))["two_factor_enabled"], true);
  EXPECT_EQ(Code(Call("DELETE", "/v1/account/2fa/totp", json{{"auth_key", RandomB64(32)}}, token)),
            "auth.invalid_credentials");
  EXPECT_EQ(Call("DELETE", "/v1/account/2fa/totp", json{{"auth_key", key}}, token).status, 204);

  // Password change: other sessions end.
  const std::string new_key = RandomB64(32);
  json change = {{"auth_key", key},
                 {"new_kdf", {{"ops", 2}, {"mem", 1 << 20}}},
                 {"new_salt", RandomB64(16)},
                 {"new_auth_key", new_key},
                 {"new_wrapped_vault_key", RandomB64(73)}};
  json bad_change = change;
  bad_change["auth_key"] = RandomB64(32);
  EXPECT_EQ(Code(Call("POST", "/v1/account/password", bad_change, token)),
            "auth.invalid_credentials");
  json weak_change = change;
  weak_change["new_kdf"] = {{"ops", 0}, {"mem", 1024}};
  EXPECT_EQ(Code(Call("POST", "/v1/account/password", weak_change, token)), "kdf.too_weak");
  ASSERT_EQ(Call("POST", "/v1/account/password", change, token).status, 204);
  EXPECT_EQ(Call("GET", "/v1/account", {}, desk).status, 401);
  EXPECT_EQ(Call("GET", "/v1/account", {}, token).status, 200);
  EXPECT_EQ(Code(Call("POST", "/v1/sessions", LoginBody(kAnn, key))), "auth.invalid_credentials");
  ASSERT_EQ(Call("POST", "/v1/sessions", LoginBody(kAnn, new_key)).status, 201);

  // Logout, then delete with a fresh session.
  EXPECT_EQ(Call("DELETE", "/v1/sessions/current", {}, token).status, 204);
  EXPECT_EQ(Call("GET", "/v1/account", {}, token).status, 401);
  auto again = Call("POST", "/v1/sessions", LoginBody(kAnn, new_key));
  ASSERT_EQ(again.status, 201);
  std::string last = Body(again)["token"];
  EXPECT_EQ(Call("DELETE", "/v1/account", json{{"auth_key", new_key}}, last).status, 204);
  EXPECT_EQ(Call("GET", "/v1/account", {}, last).status, 401);
  EXPECT_EQ(Code(Call("POST", "/v1/sessions", LoginBody(kAnn, new_key))),
            "auth.invalid_credentials");
  // The email registers again.
  EXPECT_EQ(Call("POST", "/v1/accounts", Registration(kAnn, key)).status, 202);
  EXPECT_TRUE(mailer_.WaitForCodeFor(kAnn));
}

TEST_F(ApiTest, ExistingEmailRegistersTheSame) {
  std::string key = RandomB64(32);
  SignUp(kAnn, key);
  auto r = Call("POST", "/v1/accounts", Registration(kAnn, RandomB64(32)));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(Body(r), (json{{"status", "verification_sent"}}));
  auto resend = Call("POST", "/v1/accounts/verify/resend", json{{"email", "x@example.com"}});
  EXPECT_EQ(resend.status, 202);
}

// The answer never depends on the email, not even when mail is down: the
// registration is stored after it, and `resend` sends the code later.
TEST_F(ApiTest, MailDownAnswersTheSame) {
  mailer_.SetFailing(true);
  auto r = Call("POST", "/v1/accounts", Registration(kAnn, RandomB64(32)));
  EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_FALSE(mailer_.WaitForCodeFor(kAnn, std::chrono::milliseconds(200)));
}

TEST_F(ApiTest, LockoutIsTooManyRequests) {
  std::string key = RandomB64(32);
  SignUp(kAnn, key);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Call("POST", "/v1/sessions", LoginBody(kAnn, RandomB64(32))).status, 401);
  }
  auto locked = Call("POST", "/v1/sessions", LoginBody(kAnn, key));
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(Code(locked), "auth.rate_limited");
}

TEST_F(ApiTest, AuthenticatedRoutesNeedAValidToken) {
  for (auto [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/account"},
                                                        {"GET", "/v1/items"},
                                                        {"GET", "/v1/items/x"},
                                                        {"DELETE", "/v1/items/x"},
                                                        {"GET", "/v1/devices"},
                                                        {"DELETE", "/v1/devices/x"},
                                                        {"DELETE", "/v1/sessions/current"}}) {
    for (const std::string& token : std::vector<std::string>{
             "", "not base64!", RandomB64(32), RandomB64(16), std::string(500, 'A')}) {
      auto r = Call(method, path, {}, token);
      EXPECT_EQ(r.status, 401) << method << " " << path;
      EXPECT_EQ(Code(r), "auth.required");
    }
  }
  // Decoding errors of the body do not come before authentication.
  auto r = Call("POST", "/v1/items", json{{"bogus", 1}});
  EXPECT_EQ(Code(r), "auth.required");
}

struct BadInput {
  std::string name;
  std::string body;
  int status;
  std::string code;
  std::string must_not_echo;  // a value that must not appear in the message
};

TEST_F(ApiTest, BadInputsGetTheRightErrors) {
  const std::string key = RandomB64(32);
  auto login = [&](std::function<void(json&)> edit) {
    json b = LoginBody(kAnn, key);
    edit(b);
    return b.dump();
  };
  std::vector<BadInput> cases = {
      {"malformed json", R"({"email":)", 400, "request.malformed_json", ""},
      {"not an object", R"(["a"])", 400, "", ""},
      {"invalid utf-8", "{\"email\":\"a\xff\xfe@example.com\",\"auth_key\":\"x\"}", 400,
       "request.malformed_json", ""},
      {"unknown field", login([](json& b) { b["admin"] = true; }), 400, "request.unknown_field",
       ""},
      {"unknown nested field", login([](json& b) { b["device"]["color"] = "red"; }), 400,
       "request.unknown_field", ""},
      {"missing field", login([](json& b) { b.erase("auth_key"); }), 400, "request.missing_field",
       ""},
      {"missing nested field", login([](json& b) { b["device"].erase("type"); }), 400,
       "request.missing_field", ""},
      {"wrong type", login([](json& b) { b["email"] = 42; }), 400, "request.invalid_field", ""},
      {"wrong nested type", login([](json& b) { b["device"] = "laptop"; }), 400,
       "request.invalid_field", ""},
      {"padded base64", login([&](json& b) { b["auth_key"] = key + "="; }), 400,
       "request.invalid_field", key},
      {"standard base64", login([](json& b) { b["auth_key"] = std::string(42, 'A') + "+"; }), 400,
       "request.invalid_field", ""},
      {"short key", login([](json& b) { b["auth_key"] = RandomB64(31); }), 400,
       "request.invalid_field", ""},
      {"long key", login([](json& b) { b["auth_key"] = RandomB64(33); }), 400,
       "request.invalid_field", ""},
      {"bad device type", login([](json& b) { b["device"]["type"] = "toaster"; }), 400,
       "request.invalid_field", "toaster"},
      {"bad email", login([](json& b) { b["email"] = "secret-person-at-example.com"; }), 400,
       "account.invalid_email", "secret-person"},
      {"totp wrong type", login([](json& b) { b["totp_code"] = 123456; }), 400,
       "request.invalid_field", ""},
  };
  for (const auto& c : cases) {
    auto r = Raw("POST", "/v1/sessions", c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    auto b = Body(r);
    ASSERT_TRUE(b.contains("error")) << c.name;
    ASSERT_TRUE(b["error"]["code"].is_string()) << c.name;
    ASSERT_TRUE(b["error"]["message"].is_string()) << c.name;
    EXPECT_EQ(b["error"].size(), 2u) << c.name;
    if (!c.code.empty()) {
      EXPECT_EQ(b["error"]["code"], c.code) << c.name;
    }
    if (!c.must_not_echo.empty()) {
      EXPECT_EQ(r.body.find(c.must_not_echo), std::string::npos) << c.name;
    }
  }
  // The field is named in the message.
  auto missing = Raw("POST", "/v1/sessions", login([](json& b) { b["device"].erase("type"); }));
  EXPECT_NE(Body(missing)["error"]["message"].get<std::string>().find("device.type"),
            std::string::npos);
  // Content type.
  auto text = Raw("POST", "/v1/sessions", LoginBody(kAnn, key).dump(), "text/plain");
  EXPECT_EQ(text.status, 415);
}

TEST_F(ApiTest, RegistrationFieldsAreChecked) {
  std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& b) { b["salt"] = RandomB64(15); }, "request.invalid_field"},
      {[](json& b) { b["public_key"] = RandomB64(31); }, "request.invalid_field"},
      {[](json& b) { b["id"] = "tooshort"; }, "request.invalid_field"},
      {[](json& b) {
         b["kdf"] = {{"ops", 1}};
       },
       "request.missing_field"},
      {[](json& b) {
         b["kdf"] = {{"ops", 1}, {"mem", 8192}, {"p", 1}};
       },
       "request.unknown_field"},
      {[](json& b) {
         b["kdf"] = {{"ops", -1}, {"mem", 8192}};
       },
       "request.invalid_field"},
      {[](json& b) {
         b["kdf"] = {{"ops", 1.5}, {"mem", 8192}};
       },
       "request.invalid_field"},
      {[](json& b) {
         b["kdf"] = {{"ops", 0}, {"mem", 8192}};
       },
       "kdf.too_weak"},
      {[](json& b) { b["wrapped_vault_key"] = "!!"; }, "request.invalid_field"},
      {[](json& b) { b["email"] = "two@@example.com"; }, "account.invalid_email"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    json body = Registration(kAnn, RandomB64(32));
    cases[i].first(body);
    auto r = Call("POST", "/v1/accounts", body);
    EXPECT_EQ(r.status, 400) << i;
    EXPECT_EQ(Code(r), cases[i].second) << i << ": " << r.body;
  }
  EXPECT_TRUE(mailer_.Sent().empty());
}

// Issue 16: GET /v1/items carries an ETag; sent back in If-None-Match it
// gets 304 and no body until the vault changes, and never matches another
// account's vault.
TEST_F(ApiTest, AnUnchangedVaultCostsA304) {
  const std::string ann = SignUp(kAnn, RandomB64(32));
  const std::string bob = SignUp("bob@example.com", RandomB64(32));
  const auto list = [&](const std::string& token, const std::string& if_none_match) {
    http::Request r;
    r.method = "GET";
    r.path = "/v1/items";
    r.remote_address = "192.0.2.1";
    r.headers["authorization"] = "Bearer " + token;
    if (!if_none_match.empty()) r.headers["if-none-match"] = if_none_match;
    return router_.Handle(r);
  };
  const auto etag = [](const http::Response& r) {
    for (const auto& [name, value] : r.headers) {
      if (name == "ETag") return value;
    }
    return std::string();
  };
  ASSERT_EQ(Call("POST", "/v1/items", json{{"id", "a"}, {"data", RandomB64(40)}}, ann).status, 201);
  const auto first = list(ann, "");
  ASSERT_EQ(first.status, 200);
  const std::string tag = etag(first);
  ASSERT_FALSE(tag.empty());
  EXPECT_EQ(tag.front(), '"');
  EXPECT_EQ(Body(first)["items"].size(), 1u);

  const auto same = list(ann, tag);
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(etag(same), tag);
  EXPECT_EQ(list(ann, "W/" + tag).status, 304);
  EXPECT_EQ(list(ann, "\"other\", " + tag).status, 304);
  EXPECT_EQ(list(ann, "*").status, 304);
  for (const std::string& stale :
       std::vector<std::string>{"\"x\"", "garbage", "\"" + tag, tag.substr(0, tag.size() - 1)}) {
    EXPECT_EQ(list(ann, stale).status, 200) << stale;
  }

  // Bob's vault at the same revision number has another tag.
  ASSERT_EQ(Call("POST", "/v1/items", json{{"id", "b"}, {"data", RandomB64(40)}}, bob).status, 201);
  const auto bobs = list(bob, tag);
  EXPECT_EQ(bobs.status, 200);
  EXPECT_NE(etag(bobs), tag);

  // Every change moves the tag on: add, update, delete.
  std::string current = tag;
  const auto expect_changed = [&](const char* what) {
    const auto after = list(ann, current);
    EXPECT_EQ(after.status, 200) << what;
    EXPECT_NE(etag(after), current) << what;
    current = etag(after);
    EXPECT_EQ(list(ann, current).status, 304) << what;
  };
  ASSERT_EQ(Call("POST", "/v1/items", json{{"id", "c"}, {"data", RandomB64(40)}}, ann).status, 201);
  expect_changed("add");
  ASSERT_EQ(Call("PUT", "/v1/items/c", json{{"revision", 1}, {"data", RandomB64(40)}}, ann).status,
            200);
  expect_changed("update");
  ASSERT_EQ(Call("DELETE", "/v1/items/c", {}, ann).status, 204);
  expect_changed("delete");
  // A refused change leaves it.
  EXPECT_EQ(Call("PUT", "/v1/items/a", json{{"revision", 9}, {"data", RandomB64(40)}}, ann).status,
            409);
  EXPECT_EQ(list(ann, current).status, 304);
  // Without a session: 401, no tag.
  const auto anonymous = list("", current);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_TRUE(etag(anonymous).empty());
}

TEST_F(ApiTest, ItemInputsAreChecked) {
  std::string token = SignUp(kAnn, RandomB64(32));
  EXPECT_EQ(Code(Call("POST", "/v1/items", json{{"id", "a/b"}, {"data", RandomB64(10)}}, token)),
            "request.invalid_field");
  EXPECT_EQ(Code(Call("POST", "/v1/items", json{{"id", "a"}, {"data", "a=="}}, token)),
            "request.invalid_field");
  auto big =
      Call("POST", "/v1/items", json{{"id", "a"}, {"data", RandomB64(64 * 1024 + 1)}}, token);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Code(big), "item.too_large");
  ASSERT_EQ(
      Call("POST", "/v1/items", json{{"id", "a"}, {"data", RandomB64(64 * 1024)}}, token).status,
      201);
  EXPECT_EQ(
      Code(Call("PUT", "/v1/items/a", json{{"revision", "1"}, {"data", RandomB64(4)}}, token)),
      "request.invalid_field");
  EXPECT_EQ(Code(Call("PUT", "/v1/items/a", json{{"data", RandomB64(4)}}, token)),
            "request.missing_field");
  EXPECT_EQ(
      Code(Call("PUT", "/v1/items/nope", json{{"revision", 1}, {"data", RandomB64(4)}}, token)),
      "item.not_found");
}

TEST_F(ApiTest, SweepRuns) {
  std::string token = SignUp(kAnn, RandomB64(32));
  clock_.Advance(13 * 3600);
  api_->Sweep();
  EXPECT_EQ(Call("GET", "/v1/account", {}, token).status, 401);
}

// Every route served appears in docs/api.md as "### METHOD /path", and every
// such heading is a real route (GET /healthz is served by keywardd itself).
TEST_F(ApiTest, DocsListExactlyTheRoutes) {
  std::ifstream in(std::string(KEYWARD_SOURCE_DIR) + "/docs/api.md");
  ASSERT_TRUE(in) << "docs/api.md not found";
  std::set<std::string> documented;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("### ")) documented.insert(line.substr(4));
  }
  std::set<std::string> served = {"GET /healthz"};
  for (const auto& [method, pattern] : router_.Routes()) served.insert(method + " " + pattern);
  for (const auto& route : served) {
    EXPECT_TRUE(documented.contains(route)) << "undocumented route: " << route;
  }
  for (const auto& heading : documented) {
    EXPECT_TRUE(served.contains(heading)) << "documented but not served: " << heading;
  }
}

}  // namespace
}  // namespace keyward::api
