// keywardd as a process (with a stand-in API): the stdout contract, signals,
// exit codes, restart on the same data directory.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/server_process.h"

namespace keyward::testing {
namespace {

int RunToExit(const std::vector<std::string>& args, std::string* out = nullptr,
              std::string* err = nullptr, const std::string& env_prefix = "") {
  std::string command = env_prefix + " '" + std::string(KEYWARDD_PATH) + "'";
  for (const auto& a : args) command += " '" + a + "'";
  std::string dir = std::filesystem::temp_directory_path() / "kw-proc-";
  dir += std::to_string(::getpid());
  command += " >" + dir + ".out 2>" + dir + ".err";
  int status = std::system(command.c_str());
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  if (out) *out = read(dir + ".out");
  if (err) *err = read(dir + ".err");
  std::filesystem::remove(dir + ".out");
  std::filesystem::remove(dir + ".err");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(KeywarddProcessTest, StdoutContractHealthzAndSigterm) {
  ServerProcess server(KEYWARDD_PATH);
  EXPECT_TRUE(server.url().starts_with("http://127.0.0.1:"));
  EXPECT_NE(server.port(), 0);
  std::string out = server.StdoutText();
  EXPECT_TRUE(out.starts_with("keywardd listening on " + server.url() + "\n")) << out;
  EXPECT_NE(out.find("keyward --server " + server.url() + " account register"), std::string::npos)
      << out;

  auto health = server.Request("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(server.Request("GET", "/v1/ping").status, 200);
  EXPECT_EQ(server.Request("GET", "/v1/nothing").status, 404);

  EXPECT_TRUE(std::filesystem::exists(server.data_dir() / "server.key"));
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(), 0);
  // The access log has the route, never the query string.
  std::string log = server.StderrText();
  EXPECT_NE(log.find("route=/healthz"), std::string::npos) << log;
}

TEST(KeywarddProcessTest, SigintAndRestartKeepData) {
  ServerProcess server(KEYWARDD_PATH, {"--log-format", "json"});
  std::ifstream key_in(server.data_dir() / "server.key");
  std::string key_before(std::istreambuf_iterator<char>(key_in), {});
  uint16_t port = server.port();
  server.Restart();
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(server.Request("GET", "/healthz").status, 200);
  std::ifstream key_in2(server.data_dir() / "server.key");
  std::string key_after(std::istreambuf_iterator<char>(key_in2), {});
  EXPECT_EQ(key_before, key_after);
  server.Request("GET", "/healthz?email=secret@example.com");
  server.Kill(SIGINT);
  EXPECT_EQ(server.Wait(), 0);
  std::string log = server.StderrText();
  EXPECT_NE(log.find(R"("level":"info")"), std::string::npos) << log;
  EXPECT_EQ(log.find("secret@example.com"), std::string::npos) << log;
}

TEST(KeywarddProcessTest, HelpVersionAndErrors) {
  std::string out, err;
  EXPECT_EQ(RunToExit({"--help"}, &out, &err), 0);
  EXPECT_NE(out.find("--public-url"), std::string::npos);
  EXPECT_EQ(RunToExit({"--version"}, &out, &err), 0);
  EXPECT_TRUE(out.starts_with("keywardd ")) << out;

  EXPECT_EQ(RunToExit({"--listen", "nonsense"}, &out, &err), 2);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(err.starts_with("keywardd: ")) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(RunToExit({}, &out, &err, "KEYWARD_NOPE=1"), 2);
  EXPECT_NE(err.find("KEYWARD_NOPE"), std::string::npos) << err;

  // Startup failures: port in use, unusable data directory, API refusing.
  ServerProcess server(KEYWARDD_PATH);
  EXPECT_EQ(RunToExit({"--listen", "127.0.0.1:" + std::to_string(server.port()), "--data",
                       (server.temp_dir() / "d2").string()},
                      &out, &err),
            1);
  EXPECT_NE(err.find("in use"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(RunToExit({"--listen", "127.0.0.1:0", "--data", "/proc/nope"}, &out, &err), 1);
  EXPECT_EQ(RunToExit({"--listen", "127.0.0.1:0", "--data", (server.temp_dir() / "d3").string(),
                       "--db", "sqlite:/nonexistent/x.db"},
                      &out, &err),
            1);
  // keywardd's wiring opens the store (the API is handed an open one).
  EXPECT_NE(err.find("The database failed during open"), std::string::npos) << err;
}

}  // namespace
}  // namespace keyward::testing
