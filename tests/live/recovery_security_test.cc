// The recovery security suite (issue 15, item 6; docs/security.md): one
// named test per rule, over HTTP against a live keywardd, on SQLite here and
// on PostgreSQL as pg/live/... (keyward_test_on_postgres). The same store
// work for known and unknown emails is asserted in core
// (src/core/same_work_test.cc); here the answers are compared byte for byte.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/live/live_support.h"
#include "tests/support/server_process.h"

namespace keyward::live {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::ServerProcess;

// Headers that differ between any two answers by nature.
const std::set<std::string> kPerAnswerHeaders = {"date", "x-request-id"};

std::map<std::string, std::string> StableHeaders(const HttpResult& r) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : r.headers) {
    if (!kPerAnswerHeaders.count(name)) out[name] = value;
  }
  return out;
}

// The outbox files that name `email` (the message's To: line).
size_t MailsTo(const ServerProcess& server, const std::string& email) {
  size_t n = 0;
  const auto dir = server.data_dir() / "outbox";
  if (!std::filesystem::exists(dir)) return 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".eml") continue;
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("\r\nTo: " + email + "\r\n") != std::string::npos) ++n;
  }
  return n;
}

class RecoverySecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerProcess::Options options;
    options.binary = KEYWARDD_PATH;
    options.args = kTestKdfArgs;
    server_ = new ServerProcess(options);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static HttpResult Post(const std::string& path, const std::string& body) {
    return server_->Request("POST", path, body);
  }

  static std::string Fresh(const std::string& prefix) {
    return prefix + "-" + RandomToken(10) + "@example.com";
  }

  // Waits until the mail queue is empty (GET /v1/server "health"): every
  // email queued so far is in the outbox.
  static void SettleMail() {
    for (int i = 0; i < 400; ++i) {
      json info = json::parse(server_->Request("GET", "/v1/server").body, nullptr, false);
      if (info.is_object() && info["health"]["mail_queue"]["messages"] == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "the mail queue did not empty";
  }

  // A verified account registered as a Keyward client registers against
  // this server: its minimum (kTestKdfArgs: 2 passes, 20 MiB) raised to the
  // client floor (2, 19 MiB), which RegistrationBody sends. Pre-login answers
  // an unknown email with the same (keywardd's kdf_default).
  static LiveAccount ClientKdfAccount(const std::string& email) {
    json body = RegistrationBody(email);
    EXPECT_EQ(body["kdf"], json({{"ops", 2}, {"mem", 20971520}}));
    EXPECT_EQ(Post("/v1/accounts", body.dump()).status, 202);
    auto code = WaitForCode(server_->data_dir(), email);
    EXPECT_TRUE(code.has_value());
    EXPECT_EQ(
        Post("/v1/accounts/verify", json{{"email", email}, {"code", code.value_or("")}}.dump())
            .status,
        200);
    LiveAccount account;
    account.email = email;
    return account;
  }

  static ServerProcess* server_;
};

ServerProcess* RecoverySecurityTest::server_ = nullptr;

// Each public route that takes an email, with a body for `email` (and a
// wrong code where the route takes one).
struct PublicRoute {
  std::string path;
  std::function<json(const std::string&)> body;
};

std::vector<PublicRoute> PublicEmailRoutes() {
  return {
      {"/v1/accounts/verify/resend",
       [](const std::string& e) {
         return json{{"email", e}};
       }},
      {"/v1/accounts/verify",
       [](const std::string& e) {
         return json{{"email", e}, {"code", "000000"}};
       }},
      {"/v1/recovery/requests",
       [](const std::string& e) {
         return json{{"email", e}, {"device_name", "laptop"}};
       }},
      {"/v1/recovery/requests/confirm",
       [](const std::string& e) {
         return json{{"email", e}, {"code", "000000"}};
       }},
      {"/v1/account/restart/code",
       [](const std::string& e) {
         return json{{"email", e}};
       }},
      {"/v1/account/restart/verify",
       [](const std::string& e) {
         return json{{"email", e}, {"code", "000000"}};
       }},
      {"/v1/sessions",
       [](const std::string& e) {
         return json{{"email", e},
                     {"auth_key", Base64Url(std::string(32, 'k'))},
                     {"device", {{"id", "live-same"}, {"name", "x"}, {"type", "cli"}}}};
       }},
  };
}

TEST_F(RecoverySecurityTest, KnownAndUnknownEmailsGetTheSameAnswerOnEveryPublicRoute) {
  LiveAccount known = ClientKdfAccount(Fresh("known"));
  const std::string unknown = Fresh("unknown");
  for (const auto& route : PublicEmailRoutes()) {
    HttpResult a = Post(route.path, route.body(known.email).dump());
    HttpResult b = Post(route.path, route.body(unknown).dump());
    EXPECT_EQ(a.status, b.status) << route.path << "\n" << Describe(a) << "\n" << Describe(b);
    EXPECT_EQ(a.body, b.body) << route.path;
    EXPECT_EQ(StableHeaders(a), StableHeaders(b)) << route.path;
    EXPECT_LT(a.status, 500) << route.path;
  }
  // Registration: the same 202 for a taken and a new address.
  HttpResult taken = Post("/v1/accounts", RegistrationBody(known.email).dump());
  HttpResult fresh = Post("/v1/accounts", RegistrationBody(Fresh("new")).dump());
  EXPECT_EQ(taken.status, 202);
  EXPECT_EQ(taken.status, fresh.status);
  EXPECT_EQ(taken.body, fresh.body);
  EXPECT_EQ(StableHeaders(taken), StableHeaders(fresh));
  // Pre-login: the same shape (KDF and a 16-byte salt) for both.
  auto pre = [&](const std::string& e) {
    return json::parse(Post("/v1/accounts/prelogin", json{{"email", e}}.dump()).body);
  };
  json pa = pre(known.email);
  json pb = pre(unknown);
  EXPECT_EQ(pa["kdf"], pb["kdf"]);
  EXPECT_EQ(pa["salt"].get<std::string>().size(), pb["salt"].get<std::string>().size());
  EXPECT_EQ(pb, pre(unknown));  // stable for the unknown email too
}

// GitLab CVE-2023-7028: a reset code sent to an address the attacker adds.
// An email given as an array, or twice, is refused before anything is done.
TEST_F(RecoverySecurityTest, AnEmailGivenAsAnArrayOrTwiceIsRefused) {
  LiveAccount victim = CreateAccount(*server_, Fresh("victim"));
  const std::string attacker = Fresh("attacker");
  SettleMail();
  const size_t victim_mails = MailsTo(*server_, victim.email);
  for (const auto& route : PublicEmailRoutes()) {
    json as_array = route.body(victim.email);
    as_array["email"] = json::array({victim.email, attacker});
    HttpResult r = Post(route.path, as_array.dump());
    EXPECT_EQ(r.status, 400) << route.path << " " << Describe(r);
    EXPECT_FALSE(ErrorCode(r).empty()) << route.path;
    // The same key twice (the second would otherwise win in many parsers).
    std::string twice = route.body(victim.email).dump();
    twice.insert(1, "\"email\":\"" + attacker + "\",");
    r = Post(route.path, twice);
    EXPECT_EQ(r.status, 400) << route.path << " " << Describe(r);
    EXPECT_EQ(ErrorCode(r), "request.duplicate_key") << route.path;
  }
  json registration = RegistrationBody(victim.email);
  registration["email"] = json::array({victim.email, attacker});
  EXPECT_EQ(Post("/v1/accounts", registration.dump()).status, 400);
  SettleMail();
  EXPECT_EQ(MailsTo(*server_, attacker), 0u);
  EXPECT_EQ(MailsTo(*server_, victim.email), victim_mails);
}

// Codes are stored as keyed MACs only, live at most 10 minutes.
TEST_F(RecoverySecurityTest, EmailCodesAreStoredAsKeyedMacsOnlyForTenMinutesAtMost) {
  const std::string email = Fresh("mac");
  ASSERT_EQ(Post("/v1/accounts", RegistrationBody(email).dump()).status, 202);
  auto code = WaitForCode(server_->data_dir(), email);
  ASSERT_TRUE(code.has_value());
  auto rows = server_->QuerySql(
      "SELECT purpose, subject, account_id, challenge, code_hash, expires_at, created_at FROM "
      "email_codes");
  ASSERT_FALSE(rows.empty());
  bool found = false;
  for (const auto& row : rows) {
    for (const auto& column : row) EXPECT_EQ(column.find(*code), std::string::npos);
    const int64_t ttl = std::stoll(row[5]) - std::stoll(row[6]);
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 600);
    found = found || row[0] == "register";
  }
  EXPECT_TRUE(found);
}

TEST_F(RecoverySecurityTest, ACodeWorksOnce) {
  const std::string email = Fresh("once");
  ASSERT_EQ(Post("/v1/accounts", RegistrationBody(email).dump()).status, 202);
  auto code = WaitForCode(server_->data_dir(), email);
  ASSERT_TRUE(code.has_value());
  const std::string body = json{{"email", email}, {"code", *code}}.dump();
  EXPECT_EQ(Post("/v1/accounts/verify", body).status, 200);
  HttpResult again = Post("/v1/accounts/verify", body);
  EXPECT_EQ(again.status, 400) << Describe(again);
}

TEST_F(RecoverySecurityTest, ACodeIsDeadAfterFiveWrongTriesEvenIfTheSixthIsRight) {
  const std::string email = Fresh("five");
  json registration = RegistrationBody(email);
  ASSERT_EQ(Post("/v1/accounts", registration.dump()).status, 202);
  auto code = WaitForCode(server_->data_dir(), email);
  ASSERT_TRUE(code.has_value());
  const std::string wrong = *code == "111111" ? "222222" : "111111";
  for (int i = 0; i < 5; ++i) {
    HttpResult r = Post("/v1/accounts/verify", json{{"email", email}, {"code", wrong}}.dump());
    EXPECT_EQ(r.status, 400) << i << " " << Describe(r);
  }
  HttpResult right = Post("/v1/accounts/verify", json{{"email", email}, {"code", *code}}.dump());
  EXPECT_EQ(right.status, 400) << Describe(right);
  // Still unverified: no login.
  json login = {{"email", email},
                {"auth_key", registration["auth_key"]},
                {"device", {{"id", "live-five"}, {"name", "x"}, {"type", "cli"}}}};
  EXPECT_NE(Post("/v1/sessions", login.dump()).status, 201);
}

// A password change ends every other session of the member (their tokens
// answer 401); the session that changed it goes on.
TEST_F(RecoverySecurityTest, APasswordChangeEndsEveryOtherSession) {
  LiveAccount a = CreateAccount(*server_, Fresh("pw"));
  LiveAccount other_device = a;
  other_device.device_id = "live-other-" + RandomToken(6);
  const std::string other_token = Login(server_->url(), other_device);
  auto get_account = [&](const std::string& token) {
    return server_->Request("GET", "/v1/account", "", {{"Authorization", "Bearer " + token}});
  };
  ASSERT_EQ(get_account(other_token).status, 200);
  json change = {{"auth_key", a.auth_key},
                 {"new_kdf", {{"ops", 2}, {"mem", 20971520}}},
                 {"new_salt", RandomB64(16)},
                 {"new_auth_key", RandomB64(32)},
                 {"new_wrapped_vault_key", RandomB64(72)},
                 {"escrows", json::array()}};
  HttpResult changed = server_->Request("POST", "/v1/account/password", change.dump(),
                                        {{"Authorization", "Bearer " + a.token}});
  ASSERT_EQ(changed.status, 204) << Describe(changed);
  EXPECT_EQ(get_account(other_token).status, 401);
  EXPECT_EQ(get_account(a.token).status, 200);
  // The old password opens nothing any more.
  EXPECT_NE(
      Post("/v1/sessions", json{{"email", a.email},
                                {"auth_key", a.auth_key},
                                {"device", {{"id", a.device_id}, {"name", "x"}, {"type", "cli"}}}}
                               .dump())
          .status,
      201);
}

}  // namespace
}  // namespace keyward::live
