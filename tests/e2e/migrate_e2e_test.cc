// `keywardd migrate` end to end: a real keywardd on SQLite populated through
// the real `keyward` CLI (accounts, items, an organization with a member who
// enrolled in recovery, events), stopped, copied with `keywardd migrate` into
// a database of the PostgreSQL test cluster, then a keywardd on that
// database with the same server.key and recovery.key serves the same
// installation: sessions, items, members, recovery status, and an event log
// that still extends the head the clients remember.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "tests/support/pg_test_db.h"
#include "tests/support/server_process.h"

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kCli = KEYWARD_CLI_PATH;
const fs::path kServer = KEYWARDD_PATH;
constexpr const char* kPassword = "correct horse battery staple";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

const std::vector<std::string> kServerArgs = {"--min-kdf-ops", "2", "--min-kdf-mem", "20971520"};

// `keywardd migrate ARGS...`.
CliResult Migrate(std::vector<std::string> args) {
  args.insert(args.begin(), "migrate");
  return RunCli(kServer, args, "", {}, std::chrono::seconds(120));
}

void ExpectOneErrorLine(const CliResult& r, const std::string& contains) {
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  auto lines = r.ErrLines();
  ASSERT_EQ(lines.size(), 1u) << r.Describe();
  EXPECT_TRUE(lines[0].starts_with("keywardd migrate: ")) << r.Describe();
  EXPECT_NE(lines[0].find(contains), std::string::npos) << r.Describe();
}

class MigrateE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "keyward-migrate-e2e-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    source_ = dir_ / "keyward.db";
    profiles_ = dir_ / "profiles";
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The source installation: SQLite whatever KEYWARD_TEST_STORE says.
  void StartSqliteServer() {
    std::vector<std::string> args = kServerArgs;
    args.insert(args.end(), {"--db", "sqlite:" + source_.string()});
    server_ = std::make_unique<ServerProcess>(kServer, args);
  }

  fs::path Outbox() { return server_->data_dir() / "outbox"; }

  CliResult Cli(const std::string& profile, std::vector<std::string> args,
                const std::string& input = "", EnvVars env = {}) {
    std::vector<std::string> full = {"--server", server_->url(), "--profile",
                                     (profiles_ / profile).string()};
    full.insert(full.end(), args.begin(), args.end());
    return RunCli(kCli, full, input, env);
  }
  CliResult As(const std::string& user, std::vector<std::string> args,
               const std::string& input = "") {
    return Cli(user, std::move(args), input, {{"KEYWARD_SESSION", sessions_[user]}});
  }
  json Json(const CliResult& r) {
    auto j = json::parse(r.out, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "not JSON\n" << r.Describe();
    return j;
  }

  void Login(const std::string& user) {
    auto r = Cli(user, {"login", "--email", user + "@example.com", "--device-name", user},
                 std::string(kPassword) + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    std::smatch m;
    static const std::regex kExport(R"re(export KEYWARD_SESSION="([A-Za-z0-9_-]+)")re");
    ASSERT_TRUE(std::regex_search(r.out, m, kExport)) << r.Describe();
    sessions_[user] = m[1].str();
  }

  void NewUser(const std::string& user) {
    std::string email = user + "@example.com";
    size_t before = CountMessagesTo(Outbox(), email);
    auto r = Cli("reg", {"account", "register", "--email", email},
                 std::string(kPassword) + "\n" + kPassword + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    auto code = LatestEmailCode(Outbox(), email, std::chrono::seconds(5), before);
    ASSERT_TRUE(code) << "no code emailed to " << email;
    auto v = Cli("reg", {"account", "verify", "--email", email}, *code + "\n");
    ASSERT_EQ(v.exit_code, 0) << v.Describe();
    Login(user);
  }

  // The join token in the newest invitation mailed to `to`.
  std::string InviteToken(const std::string& to) {
    static const std::regex kJoin(R"(keyward org join ([A-Za-z0-9_-]+))");
    std::string token;
    for (int attempt = 0; attempt < 100 && token.empty(); ++attempt) {
      if (fs::exists(Outbox())) {
        for (const auto& e : fs::directory_iterator(Outbox())) {
          std::string text = std::regex_replace(ReadFile(e.path()), std::regex("=\r?\n"), "");
          std::smatch m;
          if (text.find(to) != std::string::npos && std::regex_search(text, m, kJoin)) {
            token = m[1].str();
          }
        }
      }
      if (token.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return token;
  }

  fs::path dir_;
  fs::path source_;
  fs::path profiles_;
  std::unique_ptr<ServerProcess> server_;
  std::map<std::string, std::string> sessions_;
};

TEST_F(MigrateE2eTest, AnInstallationMovesFromSqliteToPostgresql) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  StartSqliteServer();
  NewUser("alice");
  NewUser("bob");
  auto item = As("alice", {"--json", "item", "add", "--name", "bank"}, "alice-secret\n");
  ASSERT_EQ(item.exit_code, 0) << item.Describe();
  std::string alice_item = Json(item).value("id", "");
  auto org = As("alice", {"--json", "org", "create", "Acme"});
  ASSERT_EQ(org.exit_code, 0) << org.Describe();
  auto policy = As("alice", {"org", "policy", "set", "--enrollment", "opt-in"});
  ASSERT_EQ(policy.exit_code, 0) << policy.Describe();
  auto invite = As("alice", {"org", "invite", "bob@example.com", "--role", "user"});
  ASSERT_EQ(invite.exit_code, 0) << invite.Describe();
  std::string token = InviteToken("bob@example.com");
  ASSERT_FALSE(token.empty());
  auto join = As("bob", {"org", "join", token}, "y\n");  // bob compares the fingerprint
  ASSERT_EQ(join.exit_code, 0) << join.Describe();
  auto bob_item = As("bob", {"--json", "item", "add", "--name", "mail"}, "bob-secret\n");
  ASSERT_EQ(bob_item.exit_code, 0) << bob_item.Describe();
  std::string bob_item_id = Json(bob_item).value("id", "");
  auto enroll = As("bob", {"recovery", "enroll"}, std::string("y\n") + kPassword + "\n");
  ASSERT_EQ(enroll.exit_code, 0) << enroll.Describe();
  // Alice's client remembers the log's head from here on.
  auto verify_before = As("alice", {"events", "verify"});
  ASSERT_EQ(verify_before.exit_code, 0) << verify_before.Describe();
  server_->Stop();
  auto source_bytes = ReadFile(source_);

  TestDatabase db("migrate_e2e");
  auto migrated = Migrate({"--from", "sqlite:" + source_.string(), "--to", db.url(), "--json"});
  ASSERT_EQ(migrated.exit_code, 0) << migrated.Describe();
  EXPECT_TRUE(migrated.err.empty()) << "no progress lines when stderr is not a terminal\n"
                                    << migrated.Describe();
  json report = Json(migrated);
  EXPECT_EQ(report["tables"]["accounts"], 2) << migrated.out;
  EXPECT_EQ(report["tables"]["org_members"], 2) << migrated.out;
  EXPECT_EQ(report["tables"]["escrows"], 1) << migrated.out;
  EXPECT_EQ(report["tables"]["items"], 2) << migrated.out;
  EXPECT_GE(report["tables_copied"].get<int>(), 16) << migrated.out;
  EXPECT_EQ(report["counts_match"], true) << migrated.out;
  EXPECT_EQ(report["orgs_verified"], 1) << migrated.out;
  EXPECT_GE(report["events_verified"].get<int>(), 3) << migrated.out;
  EXPECT_EQ(report["to"], db.url());
  EXPECT_EQ(ReadFile(source_), source_bytes) << "the source was modified";

  // Again into the same database: refused, nothing changes.
  auto again = Migrate({"--from", "sqlite:" + source_.string(), "--to", db.url()});
  EXPECT_EQ(again.exit_code, 1);
  ExpectOneErrorLine(again, "migrate.target_not_empty");
  EXPECT_TRUE(again.out.empty()) << again.Describe();
  EXPECT_EQ(db.Query("SELECT count(*) FROM accounts")[0][0], "2");

  // The same keys (server.key, recovery.key), the PostgreSQL database.
  ServerProcess::Options options;
  options.binary = kServer;
  options.args = kServerArgs;
  options.db_url = db.url();
  options.copy_keys_from = server_->data_dir();
  auto sqlite_server = std::move(server_);
  server_ = std::make_unique<ServerProcess>(options);
  sqlite_server.reset();
  ASSERT_TRUE(server_->on_postgres());

  // Sessions survive (their token hashes were copied, server.key is the same).
  auto items = As("alice", {"--json", "item", "list"});
  ASSERT_EQ(items.exit_code, 0) << items.Describe();
  EXPECT_NE(items.out.find(alice_item), std::string::npos) << items.out;
  auto secret = As("alice", {"item", "get", alice_item, "--field", "password"});
  ASSERT_EQ(secret.exit_code, 0) << secret.Describe();
  EXPECT_EQ(secret.out, "alice-secret\n");
  // A fresh login works and sees the same vault.
  Login("bob");
  auto bob_secret = As("bob", {"item", "get", bob_item_id, "--field", "password"});
  ASSERT_EQ(bob_secret.exit_code, 0) << bob_secret.Describe();
  EXPECT_EQ(bob_secret.out, "bob-secret\n");

  // The log still extends the head alice's client remembers.
  auto verify = As("alice", {"events", "verify"});
  ASSERT_EQ(verify.exit_code, 0) << verify.Describe();
  EXPECT_TRUE(verify.out.starts_with("verified ")) << verify.out;
  auto members = As("alice", {"--json", "org", "members"});
  ASSERT_EQ(members.exit_code, 0) << members.Describe();
  EXPECT_NE(members.out.find("bob@example.com"), std::string::npos) << members.out;
  // Bob's escrow was sealed to the server recovery key that came along.
  auto status = As("bob", {"--json", "recovery", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.Describe();
  json st = Json(status);
  ASSERT_EQ(st["orgs"].size(), 1u) << status.out;
  EXPECT_EQ(st["orgs"][0]["state"], "enrolled") << status.out;
  EXPECT_EQ(st["orgs"][0]["verified"], true) << status.out;

  // New writes work on the new store, the log grows and still verifies.
  auto more = As("alice", {"--json", "item", "add", "--name", "new"}, "after-migration\n");
  ASSERT_EQ(more.exit_code, 0) << more.Describe();
  auto policy2 = As("alice", {"org", "policy", "set", "--enrollment", "opt-out"});
  ASSERT_EQ(policy2.exit_code, 0) << policy2.Describe();
  auto verify2 = As("alice", {"events", "verify"});
  EXPECT_EQ(verify2.exit_code, 0) << verify2.Describe();
}

TEST_F(MigrateE2eTest, ErrorsAreOneLineWithoutPasswords) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  StartSqliteServer();
  NewUser("alice");
  server_->Stop();
  std::string from = "sqlite:" + source_.string();

  auto bad_scheme = Migrate({"--from", from, "--to", "mysql://kw:hunter2@db/keyward"});
  ExpectOneErrorLine(bad_scheme, "postgresql://");
  EXPECT_EQ(bad_scheme.err.find("hunter2"), std::string::npos) << bad_scheme.Describe();

  // Nothing listens on port 1.
  auto unreachable = Migrate(
      {"--from", from, "--to", "postgresql://kw:hunter2@127.0.0.1:1/keyward?connect_timeout=5"});
  ExpectOneErrorLine(unreachable, "target database");
  EXPECT_EQ(unreachable.err.find("hunter2"), std::string::npos) << unreachable.Describe();
  EXPECT_EQ(unreachable.out.find("hunter2"), std::string::npos) << unreachable.Describe();

  TestDatabase db("migrate_e2e");
  fs::path missing = dir_ / "nope.db";
  auto no_source = Migrate({"--from", "sqlite:" + missing.string(), "--to", db.url()});
  EXPECT_EQ(no_source.exit_code, 1);
  ExpectOneErrorLine(no_source, "does not exist");
  EXPECT_FALSE(fs::exists(missing));

  auto usage = Migrate({"--from", from});
  EXPECT_EQ(usage.exit_code, 2);
  ExpectOneErrorLine(usage, "--to");
  auto unknown = Migrate({"--from", from, "--to", db.url(), "--password=hunter2"});
  EXPECT_EQ(unknown.exit_code, 2);
  ExpectOneErrorLine(unknown, "--password");
  EXPECT_EQ(unknown.err.find("hunter2"), std::string::npos) << unknown.Describe();

  auto help = Migrate({"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.Describe();
  EXPECT_NE(help.out.find("--from"), std::string::npos) << help.out;
  auto server_help = RunCli(kServer, {"--help"}, "");
  EXPECT_NE(server_help.out.find("keywardd migrate"), std::string::npos) << server_help.out;

  // The human summary.
  auto done = Migrate({"--from", from, "--to", db.url()});
  ASSERT_EQ(done.exit_code, 0) << done.Describe();
  EXPECT_TRUE(done.out.starts_with("Copied ")) << done.out;
  EXPECT_NE(done.out.find("counts match"), std::string::npos) << done.out;
}

}  // namespace
}  // namespace keyward::testing
