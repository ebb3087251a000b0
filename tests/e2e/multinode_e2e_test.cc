// Two keywardd nodes of one installation (the same server.key and
// recovery.key, the same PostgreSQL database) behind nginx (round robin,
// retry on the next node when a connection fails), mail from both to one
// SMTP server, --public-url the proxy's URL (docs/operations.md "PostgreSQL
// and several nodes"):
//
// - the recovery story (request with the emailed code, approval, redemption
//   with the link, login with the new password, the same vault) through the
//   proxy, every HTTP request on the other node than the one before (nginx's
//   access log says which node served it);
// - the same story with one node SIGKILLed halfway: the rest runs on the
//   other node, with no failed request;
// - the failed-login limit and the email-code wrong-guess cap count across
//   nodes: alternating nodes, they trigger at the same total as on one node;
// - the expiry sweeper, run by both nodes: an overdue request is expired and
//   its member emailed exactly once.
//
// PostgreSQL from the test cluster (label pg). KEYWARD_TEST_STORE=sqlite runs
// the same on one SQLite file shared by both nodes.
#include <signal.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "core/config.h"
#include "crypto/crypto.h"
#include "tests/support/nginx_proxy.h"
#include "tests/support/pg_test_db.h"
#include "tests/support/server_process.h"
#include "tests/support/smtp_server.h"

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const fs::path kCli = KEYWARD_CLI_PATH;
constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kNewPassword = "bob remembers this one";
// keywardd's sweep period (server/app.h App::sweep_interval; no flag sets it).
constexpr auto kSweepInterval = 60s;

// Quoted-printable soft breaks and '=' joined back, CRLF as LF.
std::string Decode(std::string text) {
  text = std::regex_replace(text, std::regex("=\r?\n"), "");
  text = std::regex_replace(text, std::regex("=3D"), "=");
  return std::regex_replace(text, std::regex("\r\n"), "\n");
}

std::string RandomB64(size_t n) {
  static std::mt19937 rng{std::random_device{}()};
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return crypto::Base64UrlEncode(bytes);
}

std::string ErrorCode(const HttpResult& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error")) return "";
  return j["error"].value("code", "");
}

std::string Describe(const HttpResult& r) {
  return std::to_string(r.status) + " " + r.body.substr(0, 300) + " via " + NginxProxy::ServedBy(r);
}

class MultiNode : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    if (!NginxProxy::Available()) GTEST_SKIP() << "no /usr/sbin/nginx (apt-get install nginx)";
    const char* store = std::getenv("KEYWARD_TEST_STORE");
    if (store != nullptr && std::string_view(store) == "sqlite") {
      sqlite_dir_ = fs::temp_directory_path() / ("keyward-multinode-" + RandomToken());
      fs::create_directories(sqlite_dir_);
      db_url_ = "sqlite:" + (sqlite_dir_ / "shared.db").string();
    } else {
      KEYWARD_REQUIRE_PG_CLUSTER();
      database_ = std::make_unique<TestDatabase>("multinode");
      db_url_ = database_->url();
    }

    auto smtp = SmtpTestServer::Start({});
    ASSERT_TRUE(smtp.has_value()) << smtp.error().message();
    smtp_ = std::move(*smtp);

    // The proxy's URL is every node's public URL, so it is chosen first.
    const uint16_t proxy_port = NginxProxy::FreePort();
    public_url_ = "http://127.0.0.1:" + std::to_string(proxy_port);
    try {
      nodes_.push_back(StartNode(""));
      nodes_.push_back(StartNode(nodes_[0]->data_dir()));
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find("store.unsupported") != std::string::npos) {
        GTEST_SKIP() << "this keywardd has no PostgreSQL store yet: " << e.what();
      }
      FAIL() << e.what();
    }
    started_ = std::chrono::steady_clock::now();
    proxy_ = std::make_unique<NginxProxy>(
        NginxProxy::Options{.upstreams = {nodes_[0]->url(), nodes_[1]->url()}, .port = proxy_port});
    for (const auto& node : nodes_) {
      node_names_[NodeAddress(*node)] = node.get() == nodes_[0].get() ? "A" : "B";
    }
    profiles_ = nodes_[0]->temp_dir() / "profiles";
  }

  void TearDown() override {
    if (HasFailure() && proxy_) {
      std::cerr << "---- nginx error.log\n" << proxy_->ErrorLog();
      for (size_t i = 0; i < nodes_.size(); ++i) {
        std::cerr << "---- node " << i << " stderr\n" << nodes_[i]->StderrText();
      }
    }
    proxy_.reset();
    nodes_.clear();
    std::error_code ec;
    if (!sqlite_dir_.empty()) fs::remove_all(sqlite_dir_, ec);
  }

  static std::string RandomToken() {
    static std::mt19937 rng{std::random_device{}()};
    return std::to_string(rng());
  }

  std::unique_ptr<ServerProcess> StartNode(const fs::path& keys_from) {
    ServerProcess::Options o;
    o.binary = KEYWARDD_PATH;
    o.db_url = db_url_;
    o.copy_keys_from = keys_from;
    o.args = {"--min-kdf-ops",     "2",
              "--min-kdf-mem",     "20971520",
              "--public-url",      public_url_,
              "--smtp-host",       "127.0.0.1",
              "--smtp-port",       std::to_string(smtp_->port()),
              "--smtp-security",   "none",
              "--smtp-from",       "vault@example.com",
              "--trusted-proxies", "127.0.0.1"};
    return std::make_unique<ServerProcess>(o);
  }

  static std::string NodeAddress(const ServerProcess& node) {
    return "127.0.0.1:" + std::to_string(node.port());
  }
  // "A" or "B" for an upstream address of the access log.
  std::string NodeName(const std::string& address) const {
    auto it = node_names_.find(address);
    return it == node_names_.end() ? "?" + address : it->second;
  }

  // ---- mail: everything either node sent, at the one SMTP server ----

  std::vector<std::string> MailTo(const std::string& to) const {
    std::vector<std::string> out;
    for (const auto& m : smtp_->Received()) {
      if (std::find(m.rcpt_to.begin(), m.rcpt_to.end(), to) != m.rcpt_to.end()) {
        out.push_back(Decode(m.data));
      }
    }
    return out;
  }

  std::optional<std::string> CodeFor(const std::string& to, size_t after,
                                     std::chrono::milliseconds timeout = 20s) const {
    static const std::regex kCode("\n([0-9]{6})\n");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto all = MailTo(to);
      std::optional<std::string> found;
      for (size_t i = after; i < all.size(); ++i) {
        std::smatch m;
        if (std::regex_search(all[i], m, kCode)) found = m[1].str();
      }
      if (found || std::chrono::steady_clock::now() > deadline) return found;
      std::this_thread::sleep_for(50ms);
    }
  }

  size_t CountMailContaining(const std::string& to, const std::string& text) const {
    auto all = MailTo(to);
    return static_cast<size_t>(std::count_if(all.begin(), all.end(), [&](const std::string& m) {
      return m.find(text) != std::string::npos;
    }));
  }

  // ---- the CLI, always through the proxy ----

  std::vector<std::string> Args(const std::string& profile, std::vector<std::string> args) {
    std::vector<std::string> full = {"--server", proxy_->url(), "--profile",
                                     (profiles_ / profile).string()};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }

  CliResult Cli(const std::string& profile, std::vector<std::string> args,
                const std::string& input = "", EnvVars env = {}) {
    return RunCli(kCli, Args(profile, std::move(args)), input, env);
  }

  CliResult As(const std::string& user, std::vector<std::string> args,
               const std::string& input = "") {
    return Cli(user, std::move(args), input, {{"KEYWARD_SESSION", sessions_[user]}});
  }

  CliResult WithEmailedCode(const std::string& profile, std::vector<std::string> args,
                            const std::string& email, const std::string& after_code = "") {
    const size_t seen = MailTo(email).size();
    CliProcess p(kCli, Args(profile, std::move(args)), {});
    auto code = CodeFor(email, seen);
    if (!code) {
      auto r = p.Finish(10s);
      ADD_FAILURE() << "no code emailed to " << email << "\n" << r.Describe();
      return r;
    }
    p.Write(*code + "\n" + after_code);
    return p.Finish(60s);
  }

  json Json(const CliResult& r) {
    auto j = json::parse(r.out, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "not JSON\n" << r.Describe();
    return j;
  }

  void NewUser(const std::string& user) {
    const std::string email = user + "@example.com";
    const size_t seen = MailTo(email).size();
    auto r = Cli("reg", {"account", "register", "--email", email},
                 std::string(kPassword) + "\n" + kPassword + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    auto code = CodeFor(email, seen);
    ASSERT_TRUE(code) << "no code emailed to " << email;
    auto v = Cli("reg", {"account", "verify", "--email", email}, *code + "\n");
    ASSERT_EQ(v.exit_code, 0) << v.Describe();
    Login(user, std::string(kPassword) + "\n");
  }

  void Login(const std::string& user, const std::string& input) {
    auto r = Cli(user, {"login", "--email", user + "@example.com", "--device-name", user}, input);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    std::smatch m;
    static const std::regex kExport(R"re(export KEYWARD_SESSION="([A-Za-z0-9_-]+)")re");
    ASSERT_TRUE(std::regex_search(r.out, m, kExport)) << r.Describe();
    sessions_[user] = m[1].str();
  }

  // alice owns Acme (opt-in); bob joins as a user and enrolls, carol as an
  // admin with the recovery key.
  void Organization() {
    auto created = As("alice", {"--json", "org", "create", "Acme"});
    ASSERT_EQ(created.exit_code, 0) << created.Describe();
    org_id_ = Json(created).value("id", "");
    auto p = As("alice", {"org", "policy", "set", "--enrollment", "opt-in"});
    ASSERT_EQ(p.exit_code, 0) << p.Describe();
    static const std::regex kJoin(R"(keyward org join ([A-Za-z0-9_-]+))");
    static const std::regex kFingerprint(R"(([0-9a-f]{8}(?: [0-9a-f]{8}){4}))");
    for (const auto& [user, role] :
         std::vector<std::pair<std::string, std::string>>{{"bob", "user"}, {"carol", "admin"}}) {
      const std::string email = user + "@example.com";
      const size_t seen = MailTo(email).size();
      auto inv = As("alice", {"org", "invite", email, "--role", role});
      ASSERT_EQ(inv.exit_code, 0) << inv.Describe();
      std::smatch join, fp;
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      std::string text;
      for (;;) {
        auto all = MailTo(email);
        if (all.size() > seen) text = all.back();
        if (std::regex_search(text, join, kJoin) && std::regex_search(text, fp, kFingerprint)) {
          break;
        }
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no invitation for " << email;
        std::this_thread::sleep_for(50ms);
      }
      auto joined = As(user, {"--yes", "org", "join", join[1].str(), "--fingerprint", fp[1].str()});
      ASSERT_EQ(joined.exit_code, 0) << joined.Describe();
      if (role == "admin") {
        auto show = As(user, {"--json", "account", "show"});
        ASSERT_EQ(show.exit_code, 0) << show.Describe();
        auto grant = As("alice", {"org", "grant-recovery", email, "--fingerprint",
                                  Json(show).value("member_key_fingerprint", "")});
        ASSERT_EQ(grant.exit_code, 0) << grant.Describe();
      } else {
        auto enroll = As(user, {"--yes", "recovery", "enroll"}, std::string(kPassword) + "\n");
        ASSERT_EQ(enroll.exit_code, 0) << enroll.Describe();
      }
    }
  }

  // bob asks, confirming with the emailed code; returns the request id.
  std::string Request() {
    auto r = WithEmailedCode("bob", {"recovery", "request", "--email", "bob@example.com"},
                             "bob@example.com");
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::smatch m;
    if (!std::regex_search(r.out, m, std::regex(R"(\(request ([A-Za-z0-9_-]+))"))) {
      ADD_FAILURE() << r.Describe();
      return "";
    }
    return m[1].str();
  }

  // ---- which node served what ----

  // Requests logged by nginx since the last call, as phase `name`.
  struct Phase {
    std::string name;
    std::vector<NginxAccess> requests;
  };
  void EndPhase(const std::string& name) {
    auto log = proxy_->AccessLog();
    Phase phase{name, {}};
    for (size_t i = logged_; i < log.size(); ++i) phase.requests.push_back(log[i]);
    logged_ = log.size();
    phases_.push_back(std::move(phase));
  }

  // Every request of the phases, in order: "A POST /v1/... 200".
  std::string Trace() const {
    std::string out;
    for (const auto& phase : phases_) {
      out += "[" + phase.name + "]\n";
      for (const auto& r : phase.requests) {
        std::string nodes;
        for (const auto& u : r.upstreams) nodes += NodeName(u);
        out += "  " + nodes + " " + r.method + " " + r.uri + " " + std::to_string(r.status) + "\n";
      }
    }
    return out;
  }

  std::unique_ptr<TestDatabase> database_;
  fs::path sqlite_dir_;
  std::string db_url_;
  std::string public_url_;
  std::unique_ptr<SmtpTestServer> smtp_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<NginxProxy> proxy_;
  std::map<std::string, std::string> node_names_;
  fs::path profiles_;
  std::map<std::string, std::string> sessions_;
  std::string org_id_;
  size_t logged_ = 0;
  std::vector<Phase> phases_;
};

// ---- (a) and (c): the recovery story across nodes, and with a node lost ----

class MultiNodeStory : public MultiNode, public ::testing::WithParamInterface<bool> {};

TEST_P(MultiNodeStory, RecoveryStoryThroughTheProxy) {
  const bool kill_one = GetParam();
  for (const char* u : {"alice", "bob", "carol"}) NewUser(u);
  ASSERT_NO_FATAL_FAILURE(Organization());
  for (const char* name : {"mail", "bank"}) {
    auto add = As("bob", {"item", "add", "--name", name}, std::string(name) + "-secret\n");
    ASSERT_EQ(add.exit_code, 0) << add.Describe();
  }
  auto before = As("bob", {"--json", "item", "list"});
  ASSERT_EQ(before.exit_code, 0) << before.Describe();
  EndPhase("setup");

  // bob forgot: the code mailed by one node is checked by the other.
  const std::string id = Request();
  ASSERT_FALSE(id.empty());
  EndPhase("request");
  const size_t killed_at = logged_;
  if (kill_one) {
    nodes_[0]->Kill(SIGKILL);
    EXPECT_EQ(nodes_[0]->Wait(), 128 + SIGKILL);
    // A POST whose connection to the dead node is refused goes to the other
    // node (nothing was sent, so nginx retries even a non-idempotent request).
    bool retried_post = false;
    for (int i = 0; i < 2; ++i) {
      auto r = proxy_->Request("POST", "/v1/accounts/verify",
                               json{{"email", "nobody@example.com"}, {"code", "000000"}}.dump());
      EXPECT_EQ(r.status, 400) << Describe(r);
      EXPECT_EQ(NodeName(NginxProxy::ServedBy(r)), "B") << Describe(r);
      if (r.headers["x-keyward-upstream"].find(',') != std::string::npos) retried_post = true;
    }
    EXPECT_TRUE(retried_post) << "no POST went to the dead node first";
  }

  auto pending = As("carol", {"--json", "recovery", "list", "--status", "pending"});
  ASSERT_EQ(pending.exit_code, 0) << pending.Describe();
  ASSERT_EQ(Json(pending)["requests"].size(), 1u) << pending.out;
  auto approve = As("carol", {"--yes", "recovery", "approve", id});
  ASSERT_EQ(approve.exit_code, 0) << approve.Describe();
  std::smatch m;
  const std::regex kLink("(" + std::regex_replace(public_url_, std::regex(R"([.])"), R"(\.)") +
                         "/recover/[A-Za-z0-9_-]+#[A-Za-z0-9_-]+)");
  ASSERT_TRUE(std::regex_search(approve.out, m, kLink)) << "the link names the proxy's URL\n"
                                                        << approve.Describe();
  const std::string link = m[1].str();
  EndPhase("approve");

  auto redeem = WithEmailedCode("bob", {"recovery", "redeem", link}, "bob@example.com",
                                std::string(kNewPassword) + "\n" + kNewPassword + "\n");
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();
  EXPECT_NE(redeem.out.find("Your master password was reset"), std::string::npos) << redeem.out;
  EndPhase("redeem");

  auto old = Cli("bob", {"login", "--email", "bob@example.com"}, std::string(kPassword) + "\n");
  EXPECT_EQ(old.exit_code, 1) << old.Describe();
  ASSERT_NO_FATAL_FAILURE(Login("bob", std::string(kNewPassword) + "\n"));
  auto after = As("bob", {"--json", "item", "list"});
  ASSERT_EQ(after.exit_code, 0) << after.Describe();
  EXPECT_EQ(Json(after), Json(before));
  auto shown = As("carol", {"--json", "recovery", "show", id});
  EXPECT_EQ(Json(shown)["status"], "link_used") << shown.out;
  auto verify = As("alice", {"events", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.Describe();
  EndPhase("login");

  const std::string trace = Trace();
  if (std::getenv("KEYWARD_TEST_VERBOSE") != nullptr) std::cerr << trace;
  auto log = proxy_->AccessLog();
  ASSERT_GT(log.size(), 30u) << trace;
  for (const auto& r : log) {
    EXPECT_LT(r.status, 500) << "a request failed\n" << trace;
    ASSERT_FALSE(r.upstreams.empty()) << trace;
  }
  if (!kill_one) {
    // Round robin: each request on the other node than the one before, so
    // every step that takes two requests (a code mailed, then checked) spans
    // both nodes.
    for (size_t i = 1; i < log.size(); ++i) {
      EXPECT_NE(log[i].upstreams.back(), log[i - 1].upstreams.back())
          << "requests " << i - 1 << " and " << i << " on one node\n"
          << trace;
    }
    for (const auto& phase : phases_) {
      std::set<std::string> served;
      for (const auto& r : phase.requests) served.insert(r.upstreams.back());
      EXPECT_EQ(served.size(), 2u) << "phase " << phase.name << "\n" << trace;
    }
  } else {
    // Before the kill both nodes served; after it every request was answered
    // by B, some after nginx found A gone (tried A, then B) and none failed.
    std::set<std::string> before_kill;
    for (size_t i = 0; i < killed_at; ++i) before_kill.insert(log[i].upstreams.back());
    EXPECT_EQ(before_kill.size(), 2u) << trace;
    size_t retried = 0;
    for (size_t i = killed_at; i < log.size(); ++i) {
      EXPECT_EQ(NodeName(log[i].upstreams.back()), "B") << "request " << i << "\n" << trace;
      if (log[i].upstreams.size() > 1) ++retried;
    }
    EXPECT_GE(retried, 1u) << "nginx never tried the dead node\n" << trace;
    EXPECT_GT(log.size() - killed_at, 10u) << trace;
  }
}

INSTANTIATE_TEST_SUITE_P(Nodes, MultiNodeStory, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "OneKilled" : "BothUp"; });

// ---- (b) limits held in the database ----

// Registers `email` through the proxy with random key material (the server
// cannot tell), returning the registration body; the code is left unused.
json RegisterRaw(const NginxProxy& proxy, const std::string& email, std::string* served_by) {
  json body = {{"id", RandomB64(16)},
               {"email", email},
               {"kdf", {{"ops", 2}, {"mem", 20971520}}},
               {"salt", RandomB64(16)},
               {"auth_key", RandomB64(32)},
               {"wrapped_vault_key", RandomB64(73)},
               {"public_key", RandomB64(32)},
               {"wrapped_private_key", RandomB64(73)}};
  auto r = proxy.Request("POST", "/v1/accounts", body.dump());
  EXPECT_EQ(r.status, 202) << Describe(r);
  *served_by = NginxProxy::ServedBy(r);
  return body;
}

TEST_F(MultiNode, FailedLoginLimitHoldsAcrossNodes) {
  const core::CoreConfig config;
  const int limit = config.login_max_failures_per_account;
  ASSERT_GE(limit, 2);
  const std::string email = "dora@example.com";
  const size_t seen = MailTo(email).size();
  std::string previous_node;
  json account = RegisterRaw(*proxy_, email, &previous_node);
  auto code = CodeFor(email, seen);
  ASSERT_TRUE(code);
  auto verified = proxy_->Request("POST", "/v1/accounts/verify",
                                  json{{"email", email}, {"code", *code}}.dump());
  ASSERT_EQ(verified.status, 200) << Describe(verified);

  // Each attempt goes straight to the other node, not through nginx: its
  // round robin bends on a loaded machine (a slow connect marks a node down
  // for a while and two attempts land on one node), and this test is about
  // the count being shared, so every count below is split between the nodes
  // by construction.
  size_t next = 0;
  auto login = [&](const std::string& auth_key) {
    json body = {{"email", email},
                 {"auth_key", auth_key},
                 {"device", {{"id", "dev-dora"}, {"name", "dora"}, {"type", "cli"}}}};
    ServerProcess& node = *nodes_[next];
    next = 1 - next;
    return node.Request("POST", "/v1/sessions", body.dump());
  };
  const std::string right = account["auth_key"];

  // limit-1 wrong passwords, alternating nodes, then the right one: let in.
  for (int i = 0; i < limit - 1; ++i) {
    auto r = login(RandomB64(32));
    EXPECT_EQ(ErrorCode(r), "auth.invalid_credentials")
        << "attempt " << i + 1 << " " << Describe(r);
  }
  auto ok = login(right);
  ASSERT_EQ(ok.status, 201) << Describe(ok);

  // `limit` wrong passwords (the count restarted at the success), alternating
  // nodes: each still an ordinary refusal; then the right password is locked
  // out on either node, as on one node. Counted per node, each would have
  // seen only about half.
  for (int i = 0; i < limit; ++i) {
    auto r = login(RandomB64(32));
    EXPECT_EQ(ErrorCode(r), "auth.invalid_credentials")
        << "attempt " << i + 1 << " " << Describe(r);
  }
  for (int i = 0; i < 2; ++i) {  // once on each node
    auto r = login(right);
    EXPECT_EQ(r.status, 429) << "node " << i << " " << Describe(r);
    EXPECT_EQ(ErrorCode(r), "auth.rate_limited") << Describe(r);
  }
}

TEST_F(MultiNode, EmailCodeGuessCapHoldsAcrossNodes) {
  const core::CoreConfig config;
  const int cap = config.code_max_attempts;
  ASSERT_GE(cap, 2);
  std::string previous_node;
  auto verify = [&](const std::string& email, const std::string& code) {
    auto r = proxy_->Request("POST", "/v1/accounts/verify",
                             json{{"email", email}, {"code", code}}.dump());
    const std::string node = NginxProxy::ServedBy(r);
    EXPECT_NE(node, previous_node) << "two guesses in a row on one node";
    previous_node = node;
    return r;
  };
  auto wrong = [](const std::string& code) {
    return code == "000000" ? std::string("000001") : std::string("000000");
  };

  // cap-1 wrong guesses across both nodes leave the code alive...
  const std::string eve = "eve@example.com";
  size_t seen = MailTo(eve).size();
  RegisterRaw(*proxy_, eve, &previous_node);
  auto eve_code = CodeFor(eve, seen);
  ASSERT_TRUE(eve_code);
  for (int i = 0; i < cap - 1; ++i) {
    auto r = verify(eve, wrong(*eve_code));
    EXPECT_EQ(r.status, 400) << Describe(r);
  }
  auto alive = verify(eve, *eve_code);
  EXPECT_EQ(alive.status, 200) << "the code died before " << cap << " wrong guesses "
                               << Describe(alive);

  // ...`cap` of them kill it, whichever node saw which.
  const std::string fred = "fred@example.com";
  seen = MailTo(fred).size();
  RegisterRaw(*proxy_, fred, &previous_node);
  auto fred_code = CodeFor(fred, seen);
  ASSERT_TRUE(fred_code);
  std::set<std::string> guessed_on;
  for (int i = 0; i < cap; ++i) {
    auto r = verify(fred, wrong(*fred_code));
    EXPECT_EQ(r.status, 400) << Describe(r);
    guessed_on.insert(NginxProxy::ServedBy(r));
  }
  EXPECT_EQ(guessed_on.size(), 2u);
  auto dead = verify(fred, *fred_code);
  EXPECT_EQ(dead.status, 400) << "the right code after " << cap << " wrong guesses on two nodes "
                              << Describe(dead);
  auto rows = QuerySql(db_url_, "SELECT verified FROM accounts WHERE email = " + SqlText(fred));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "0");
}

// ---- (d) the sweeper on both nodes ----

TEST_F(MultiNode, BothNodesSweepAndTheMemberIsEmailedOnce) {
  for (const char* u : {"alice", "bob", "carol"}) NewUser(u);
  ASSERT_NO_FATAL_FAILURE(Organization());
  const std::string id = Request();
  ASSERT_FALSE(id.empty());

  // The deadline passes (keywardd has no fake clock). From here on nothing
  // reads the request through the API, which would expire it lazily: only
  // the sweepers may.
  ExecSql(db_url_, "UPDATE recovery_requests SET expires_at = " +
                       std::to_string(static_cast<int64_t>(std::time(nullptr)) - 60) +
                       " WHERE id = " + SqlText(id));

  // Both nodes sweep kSweepInterval after their start, then every interval:
  // wait for the expiry, then until both have surely had their first sweep
  // after the move.
  const auto moved = std::chrono::steady_clock::now();
  const auto next_sweep = started_ + ((moved - started_) / kSweepInterval + 1) * kSweepInterval;
  const std::string subject = "Your Keyward account recovery request expired";
  std::string status;
  while (std::chrono::steady_clock::now() < next_sweep + 20s) {
    auto rows = QuerySql(db_url_, "SELECT status FROM recovery_requests WHERE id = " + SqlText(id));
    ASSERT_EQ(rows.size(), 1u);
    status = rows[0][0];
    if (status == "expired") break;
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_EQ(status, "expired") << "no sweeper expired the request";
  std::this_thread::sleep_until(std::max(next_sweep + 10s, std::chrono::steady_clock::now() + 3s));
  for (const auto& node : nodes_) ASSERT_TRUE(node->running());

  EXPECT_EQ(CountMailContaining("bob@example.com", subject), 1u);
  auto events = QuerySql(db_url_,
                         "SELECT count(*) FROM org_events WHERE type = 'recovery.expired' AND "
                         "org_id = " +
                             SqlText(org_id_));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0][0], "1");
  // The API agrees, and the member may ask again.
  auto shown = As("carol", {"--json", "recovery", "show", id});
  EXPECT_EQ(Json(shown)["status"], "expired") << shown.out;
  const std::string again = Request();
  EXPECT_NE(again, id);
  EXPECT_EQ(CountMailContaining("bob@example.com", subject), 1u);
}

}  // namespace
}  // namespace keyward::testing
