// The real keywardd (with the /v1 API): starts, answers /healthz, exits 0 on
// SIGTERM; refuses to start on a database set up with other key files.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/server_process.h"

extern char** environ;

namespace keyward::testing {
namespace {

namespace fs = std::filesystem;

TEST(KeywarddE2eTest, HealthzThenSigterm) {
  ServerProcess server(KEYWARDD_PATH, {"--min-kdf-ops", "1", "--min-kdf-mem", "8KiB"});
  auto health = server.Request("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(health.headers["x-content-type-options"], "nosniff");
  auto missing = server.Request("GET", "/v1/definitely-not-a-route");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("\"error\""), std::string::npos);
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0) << server.StderrText();
}

// The string value of "field" in a flat JSON object (no escapes expected).
std::string JsonString(const std::string& body, const std::string& field) {
  std::string key = "\"" + field + "\":\"";
  size_t start = body.find(key);
  if (start == std::string::npos) return "";
  start += key.size();
  size_t end = body.find('"', start);
  return end == std::string::npos ? "" : body.substr(start, end - start);
}

// <data>/recovery.key is made on first start (0600) and read on later ones:
// GET /v1/server serves the same recovery key across restarts, and a
// group-readable file stops the server with one clear line.
TEST(KeywarddE2eTest, RecoveryKeyStableAcrossRestarts) {
  ServerProcess server(KEYWARDD_PATH, {"--min-kdf-ops", "1", "--min-kdf-mem", "8KiB"});
  auto first = server.Request("GET", "/v1/server");
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string public_key = JsonString(first.body, "recovery_public_key");
  const std::string fingerprint = JsonString(first.body, "recovery_fingerprint");
  EXPECT_EQ(public_key.size(), 43u) << first.body;
  EXPECT_EQ(fingerprint.size(), 44u) << first.body;  // 5 groups of 8 hex digits

  const auto key_path = server.data_dir() / "recovery.key";
  struct stat st;
  ASSERT_EQ(::stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  server.Restart();
  auto second = server.Request("GET", "/v1/server");
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(JsonString(second.body, "recovery_public_key"), public_key);
  EXPECT_EQ(JsonString(second.body, "recovery_fingerprint"), fingerprint);

  ASSERT_EQ(::chmod(key_path.c_str(), 0644), 0);
  try {
    server.Restart();
    ADD_FAILURE() << "keywardd started with a group-readable recovery.key";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("recovery key " + key_path.string() + " has mode 0644"), std::string::npos)
        << what;
    EXPECT_NE(what.find("chmod 600"), std::string::npos) << what;
  }
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One run of keywardd on `data` and `db`: until it exits by itself, or until
// it prints its listening line (it is then stopped with SIGTERM).
struct NodeRun {
  bool started = false;
  int exit_status = -1;  // 128 + signal when killed, -1 when not reaped
  std::string stdout_text;
  std::string stderr_text;
  std::string maps;  // /proc/PID/maps once it listened: the libraries it mapped
};

NodeRun RunNode(const fs::path& data, const std::string& db) {
  const fs::path out = data.parent_path() / (data.filename().string() + ".stdout");
  const fs::path err = data.parent_path() / (data.filename().string() + ".stderr");
  std::vector<std::string> args = {
      KEYWARDD_PATH,   "--listen", "127.0.0.1:0",   "--data", data.string(), "--db", db,
      "--min-kdf-ops", "1",        "--min-kdf-mem", "8KiB"};
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "KEYWARD_", 8) != 0) env.emplace_back(*e);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn keywardd failed");

  NodeRun run;
  auto status_of = [](int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool reaped = false;
  while (!reaped && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      run.exit_status = status_of(status);
      reaped = true;
    } else if (!run.started && ReadText(out).starts_with("keywardd listening on ")) {
      run.started = true;
      run.maps = ReadText(fs::path("/proc") / std::to_string(pid) / "maps");
      ::kill(pid, SIGTERM);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (!reaped) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  run.stdout_text = ReadText(out);
  run.stderr_text = ReadText(err);
  return run;
}

void CopyKeyFile(const fs::path& from, const fs::path& to, const char* name) {
  fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing);
  fs::permissions(to / name, fs::perms::owner_read | fs::perms::owner_write);
}

// libpq and libcurl are loaded on first use (docs/operations.md): a node on
// the defaults (SQLite, mail to the outbox, no SSO) maps neither, nor what
// they pull in (issue 16, idle RSS).
TEST(KeywarddE2eTest, ANodeOnTheDefaultsMapsNeitherLibpqNorLibcurl) {
  std::string pattern = (fs::temp_directory_path() / "keywardd-libs-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  NodeRun run = RunNode(dir / "data", "sqlite:" + (dir / "kw.db").string());
  fs::remove_all(dir);
  ASSERT_TRUE(run.started) << run.stderr_text;
  EXPECT_NE(run.maps.find("libsqlite3"), std::string::npos) << run.maps;
  for (const char* lib : {"libpq.so", "libcurl.so", "libldap", "libgnutls", "libkrb5"}) {
    EXPECT_EQ(run.maps.find(lib), std::string::npos) << lib << " mapped:\n" << run.maps;
  }
}

// Two data directories on one database (as two nodes of an installation on
// one PostgreSQL database, or a SQLite database restored next to a fresh
// data directory): the second node starts only once it holds the first's
// server.key and recovery.key, and until then exits 1 with one line that
// names the file that differs.
TEST(KeywarddE2eTest, NodeWithOtherKeyFilesThanTheDatabaseRefusesToStart) {
  std::string pattern = (fs::temp_directory_path() / "keywardd-keys-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  const std::string db = "sqlite:" + (dir / "shared.db").string();
  const fs::path node1 = dir / "node1";
  const fs::path node2 = dir / "node2";
  auto one_line = [](const std::string& text) {
    return !text.empty() && text.find('\n') == text.size() - 1;
  };

  NodeRun first = RunNode(node1, db);
  ASSERT_TRUE(first.started) << first.stderr_text;
  EXPECT_EQ(first.exit_status, 0) << first.stderr_text;

  // A fresh data directory: keywardd makes new key files, then refuses them.
  NodeRun stranger = RunNode(node2, db);
  EXPECT_FALSE(stranger.started);
  EXPECT_EQ(stranger.exit_status, 1);
  EXPECT_TRUE(one_line(stranger.stderr_text)) << stranger.stderr_text;
  EXPECT_TRUE(stranger.stderr_text.starts_with(
      "keywardd: server.key and recovery.key are not the ones this database was set up with: "
      "every node of an installation needs the same server.key and recovery.key"))
      << stranger.stderr_text;
  EXPECT_EQ(stranger.stdout_text.find("listening"), std::string::npos);

  CopyKeyFile(node1, node2, "server.key");
  NodeRun half = RunNode(node2, db);
  EXPECT_FALSE(half.started);
  EXPECT_EQ(half.exit_status, 1);
  EXPECT_TRUE(one_line(half.stderr_text)) << half.stderr_text;
  EXPECT_TRUE(half.stderr_text.starts_with("keywardd: recovery.key is not the one this database"))
      << half.stderr_text;

  CopyKeyFile(node1, node2, "recovery.key");
  NodeRun copied = RunNode(node2, db);
  EXPECT_TRUE(copied.started) << copied.stderr_text;
  EXPECT_EQ(copied.exit_status, 0) << copied.stderr_text;

  // Refused starts changed nothing for the first node.
  NodeRun again = RunNode(node1, db);
  EXPECT_TRUE(again.started) << again.stderr_text;
  EXPECT_EQ(again.exit_status, 0) << again.stderr_text;

  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace keyward::testing
