// Databases on the throwaway PostgreSQL cluster of the tests
// (scripts/pg-test-cluster.sh, ctest fixture pg_cluster). Every test that
// needs PostgreSQL creates its own database, so test binaries run in
// parallel on one cluster without seeing each other.
//
//   KEYWARD_REQUIRE_PG_CLUSTER();          // skips without a cluster (fails under CI)
//   keyward::testing::TestDatabase db;     // CREATE DATABASE kw_...
//   auto store = store::Open(db.url());    // postgresql://keyward@127.0.0.1:PORT/kw_...
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace keyward::testing {

// The cluster's admin URL read from $KEYWARD_TEST_PG_URL_FILE; "" when there
// is none (PostgreSQL not installed, or the test runs outside ctest).
std::string TestClusterUrl();

// Whether PostgreSQL tests must run rather than skip (CI is set).
bool PgRequired();

// A fresh, empty database, dropped on destruction.
class TestDatabase {
 public:
  // Throws std::runtime_error when there is no cluster or it refuses.
  explicit TestDatabase(std::string_view label = "t");
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // Runs SQL on this database; throws std::runtime_error with the server's
  // message on failure. Query returns every row's columns as text ("" for
  // NULL).
  void Exec(const std::string& sql) const;
  std::vector<std::vector<std::string>> Query(const std::string& sql) const;

 private:
  std::string name_;
  std::string url_;
};

// The URL of database `name` on the cluster whose admin URL is `admin_url`.
std::string DatabaseUrl(const std::string& admin_url, const std::string& name);

}  // namespace keyward::testing

// Skips the current test when no cluster is available, except under CI,
// where PostgreSQL must be tested and its absence fails the test.
#define KEYWARD_REQUIRE_PG_CLUSTER()                                                \
  do {                                                                              \
    if (::keyward::testing::TestClusterUrl().empty()) {                             \
      if (::keyward::testing::PgRequired()) {                                       \
        FAIL() << "CI is set but no PostgreSQL test cluster is running "            \
                  "(KEYWARD_TEST_PG_URL_FILE; run through ctest)";                  \
      }                                                                             \
      GTEST_SKIP() << "no PostgreSQL test cluster (install postgresql; run ctest)"; \
    }                                                                               \
  } while (0)
