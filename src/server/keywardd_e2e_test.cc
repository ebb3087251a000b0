// The real keywardd (with the /v1 API): starts, answers /healthz, exits 0 on SIGTERM.
#include <signal.h>

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

}  // namespace
}  // namespace keyward::testing
