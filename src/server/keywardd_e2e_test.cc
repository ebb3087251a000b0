// The real keywardd (with the /v1 API): starts, answers /healthz, exits 0 on SIGTERM.
#include <signal.h>
#include <sys/stat.h>

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/server_process.h"

namespace keyward::testing {
namespace {

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

}  // namespace
}  // namespace keyward::testing
