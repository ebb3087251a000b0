// Every list page in a constant number of SQL statements, whatever the size
// of what it lists (issue 16, "a page of any list in a constant number of
// statements"): each route is called over the whole /v1 API on a small
// and on a larger organization and vault, and the statements the store ran
// for it (sql::StatementsOnThisThread: each query, BEGIN and COMMIT) must
// be the same. On SQLite here; on PostgreSQL as pg/ListStatementsTest.*
// (KEYWARD_TEST_STORE=postgresql, a fresh database of the test cluster).
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "http/api/org_api_fixture.h"
#include "store/sql/sql_store.h"
#include "tests/support/pg_test_db.h"

namespace keyward::api::testing_support {
namespace {

bool OnPostgres() {
  const char* store = std::getenv("KEYWARD_TEST_STORE");
  return store != nullptr && std::string(store) == "postgresql";
}

// The store the fixture opens, made before it (a base class initialized
// first): a fresh PostgreSQL database, or an in-memory SQLite one.
struct TestStore {
  std::unique_ptr<keyward::testing::TestDatabase> db;
  std::string url = "sqlite::memory:";
  TestStore() {
    if (OnPostgres() && !keyward::testing::TestClusterUrl().empty()) {
      db = std::make_unique<keyward::testing::TestDatabase>("lists");
      url = db->url();
    }
  }
};

class ListStatementsTest : public TestStore, public OrgApiFixture {
 protected:
  ListStatementsTest() : OrgApiFixture(protocol::RecoveryMode::kAdminReset, url) {}

  void SetUp() override {
    if (OnPostgres()) KEYWARD_REQUIRE_PG_CLUSTER();
  }

  // The statements one call ran, and that it answered 200.
  uint64_t Statements(const std::string& path, const User& as) {
    const uint64_t before = store::sql::StatementsOnThisThread();
    auto r = Call("GET", path, {}, as.token);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return store::sql::StatementsOnThisThread() - before;
  }

  void AddItems(const User& u, int n) {
    for (int i = 0; i < n; ++i) {
      auto r =
          Call("POST", "/v1/items",
               json{{"id", "item-" + std::to_string(items_++)}, {"data", RandomB64(300)}}, u.token);
      ASSERT_EQ(r.status, 201) << r.body;
    }
  }

  int items_ = 0;
};

// Each route's statements today, as a ceiling: a change that adds one
// fails here and says so. Every authenticated call first reads its
// session, device and account in one query, in a transaction of its own
// (3 statements with BEGIN and COMMIT); the page's own transaction
// follows. The members list reads the caller's access (2), the members,
// their accounts, escrows, grants and the open invitations (5).
const std::map<std::string, uint64_t> kCeiling = {
    {"items", 7},    {"members", 12},       {"events", 8},
    {"requests", 8}, {"organizations", 10}, {"devices", 9},
};

TEST_F(ListStatementsTest, EveryListPageRunsTheSameStatementsWhateverItsSize) {
  const std::map<std::string, std::string> routes = {
      {"items", "/v1/items"},
      {"members", Path("/members")},
      {"events", Path("/events?limit=50")},
      {"requests", Path("/recovery/requests?status=pending")},
      {"organizations", "/v1/orgs"},
      {"devices", "/v1/devices"},
  };
  AddItems(owner_, 2);
  std::map<std::string, uint64_t> small;
  for (const auto& [name, path] : routes) small[name] = Statements(path, owner_);

  // Ten more members, each enrolled (an escrow each), forty more items,
  // and the events all that logged.
  for (int i = 0; i < 10; ++i) {
    User u = SignUp("m" + std::to_string(i) + "@example.com", static_cast<uint8_t>(10 + i));
    Join(u, "user");
    ASSERT_EQ(Enroll(u, 1).status, 200);
  }
  AddItems(owner_, 40);
  for (const auto& [name, path] : routes) {
    const uint64_t large = Statements(path, owner_);
    EXPECT_EQ(small[name], large) << name;
    EXPECT_LE(large, kCeiling.at(name)) << name;
    // For bench/run's table.
    std::cout << "[ statements ] " << name << " " << large << "\n";
  }
}

}  // namespace
}  // namespace keyward::api::testing_support
