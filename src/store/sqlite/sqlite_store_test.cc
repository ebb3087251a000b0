#include "store/sqlite/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/sqlite/migrations.h"
#include "store/store_contract_test.h"
#include "tests/support/failing_store.h"

namespace keyward::store::testing {
namespace {

namespace fs = std::filesystem;

// A fresh directory per call; all are removed when the test binary exits.
fs::path TempDir() {
  struct Dirs {
    std::mutex mu;
    std::vector<fs::path> paths;
    ~Dirs() {
      std::error_code ec;
      for (const auto& p : paths) fs::remove_all(p, ec);
    }
  };
  static Dirs dirs;
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() / ("keyward-store-test-" + std::to_string(::getpid()) +
                                              "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::lock_guard lock(dirs.mu);
  dirs.paths.push_back(dir);
  return dir;
}

std::unique_ptr<Store> MakeFileStore() {
  auto store = Open("sqlite:" + (TempDir() / "keyward.db").string());
  if (!store) {
    ADD_FAILURE() << store.error().code() << ": " << store.error().message();
    return nullptr;
  }
  return std::move(*store);
}

std::unique_ptr<Store> MakeMemoryStore() {
  auto store = Open("sqlite::memory:");
  if (!store) {
    ADD_FAILURE() << store.error().code();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
                         ::testing::Values(StoreFactory{"file", MakeFileStore},
                                           StoreFactory{"memory", MakeMemoryStore}),
                         StoreFactoryName);

int LatestVersion() { return sqlite::Migrations().back().version; }

TEST(SqliteMigrationTest, OpenTwiceKeepsVersionAndData) {
  fs::path db = TempDir() / "k.db";
  {
    auto store = Open("sqlite:" + db.string());
    ASSERT_TRUE(store);
    auto v = (*store)->SchemaVersion();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, LatestVersion());
    Account a;
    a.id = "a1";
    a.email = "ann@example.com";
    a.salt = a.verifier = a.wrapped_vault_key = a.public_key = a.wrapped_private_key = Bytes{1};
    ASSERT_TRUE((*store)->Transact([&](Tx& tx) { return tx.InsertAccount(a); }));
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store);
  auto v = (*store)->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    EXPECT_TRUE(a->has_value());
    return {};
  }));
  // Each migration is recorded once.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT COUNT(*) FROM schema_migrations", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), static_cast<int>(sqlite::Migrations().size()));
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

// Runs sql on a raw connection; fails the test on error.
void RawExec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  ASSERT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in: " << sql.substr(0, 80);
}

// A database written by a keywardd that knew migrations 1 and 2 only, with
// rows in every table migration 3 alters, is upgraded in place: the rows keep
// their values, the new columns read as their defaults, and the new tables
// work (and cascade) for the old rows.
TEST(SqliteMigrationTest, UpgradesVersion2DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 3);
  fs::path db = TempDir() / "v2.db";
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    RawExec(raw, "PRAGMA foreign_keys=ON");
    RawExec(raw,
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT "
            "NULL)");
    for (const auto& m : sqlite::Migrations()) {
      if (m.version > 2) break;
      RawExec(raw, m.sql);
      RawExec(raw, "INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 0)");
    }
    RawExec(raw,
            "INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, "
            "wrapped_vault_key, public_key, wrapped_private_key, verified, created_at) VALUES "
            "('a1', 'ann@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100), "
            "('a2', 'bob@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100)");
    RawExec(raw, "INSERT INTO orgs VALUES ('o1', 'Acme', 100, 'a1')");
    RawExec(raw,
            "INSERT INTO org_members VALUES ('o1', 'a1', 'owner', '', 'active', 100), "
            "('o1', 'a2', 'user', '', 'active', 101)");
    RawExec(raw,
            "INSERT INTO org_events VALUES ('o1', 1, 'org.created', 'a1', '', 'd1', 100, '{}', "
            "zeroblob(32))");
    sqlite3_close(raw);
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store) << store.error().code();
  auto v = (*store)->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    EXPECT_TRUE(a->has_value());
    if (*a) {
      EXPECT_EQ((*a)->email, "ann@example.com");
      EXPECT_TRUE((*a)->verified);
      EXPECT_FALSE((*a)->must_change_password);
    }
    auto o = tx.FindOrg("o1");
    if (!o) return Fail(o.error());
    EXPECT_TRUE(o->has_value());
    if (*o) {
      EXPECT_EQ((*o)->name, "Acme");
      EXPECT_EQ((*o)->statement_version, 0u);
      EXPECT_EQ((*o)->key_version, 0u);
      EXPECT_TRUE((*o)->recovery_public_key.empty());
      EXPECT_EQ((*o)->policy_json, "");
    }
    auto members = tx.ListMembers("o1");
    if (!members) return Fail(members.error());
    EXPECT_EQ(members->size(), 2u);
    for (const auto& m : *members) EXPECT_EQ(m.last_epoch, 0u);
    return {};
  }));
  // The new operations work on the old rows.
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    Org o;
    o.id = "o1";
    o.name = "Acme";
    o.statement_version = 1;
    o.key_version = 1;
    o.recovery_public_key = Bytes(32, 7);
    o.policy_json = "{}";
    if (auto s = tx.UpdateOrg(o); !s) return s;
    if (auto s = tx.InsertStatement({"o1", 1, Bytes{1}, Bytes(64, 2), 200}); !s) return s;
    if (auto s = tx.SetMemberLastEpoch("o1", "a2", 1); !s) return s;
    if (auto s = tx.PutGrant({"o1", "a1", 1, Bytes{3}, Bytes{4}, "a1", 200}); !s) return s;
    if (auto s = tx.PutEscrow({"o1", "a2", 1, 1, Bytes{5}, Bytes{6}, Bytes{7}, 200, 200}); !s) {
      return s;
    }
    return tx.DeleteAccount("a2");
  }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    auto g = tx.FindGrant("o1", "a1", 1);
    auto events = tx.ListEvents("o1", 0, 10);
    auto filtered = tx.ListEvents("o1", 0, 10, EventFilter{"org.created", "a1", "", 100, 101});
    if (!e || !g || !events || !filtered) return Fail(StoreError("test"));
    EXPECT_FALSE(e->has_value());
    EXPECT_TRUE(g->has_value());
    EXPECT_EQ(events->size(), 1u);
    EXPECT_EQ(filtered->size(), 1u);
    return {};
  }));
}

// FailingStore must forward every Tx operation, each counting as one: a flow
// over the operations migration 3 added runs unchanged through it, and
// failing any one of its steps fails the transaction with store.error.
TEST(FailingStoreTest, ForwardsAndCountsRecoveryOperations) {
  auto inner = Open("sqlite::memory:");
  ASSERT_TRUE(inner);
  ASSERT_TRUE((*inner)->Transact([&](Tx& tx) -> Status {
    Account a;
    a.id = "a1";
    a.email = "ann@example.com";
    a.salt = a.verifier = a.wrapped_vault_key = a.public_key = a.wrapped_private_key = Bytes{1};
    if (auto s = tx.InsertAccount(a); !s) return s;
    Org o;
    o.id = "o1";
    o.name = "Acme";
    o.created_by = "a1";
    if (auto s = tx.CreateOrg(o); !s) return s;
    OrgMember m;
    m.org_id = "o1";
    m.account_id = "a1";
    m.role = "owner";
    return tx.InsertMember(m);
  }));
  keyward::testing::FailingStore failing(**inner);
  constexpr int kSteps = 21;
  int steps = 0;
  // Ends with an error of its own so that nothing is ever committed and every
  // run starts from the same state.
  auto flow = [&](Tx& tx) -> Status {
    steps = 0;
    auto step = [&](auto result) -> Status {
      ++steps;
      if (!result) return Fail(result.error());
      return {};
    };
    Org o;
    o.id = "o1";
    o.name = "Acme";
    o.key_version = 1;
#define STEP(expr) \
  if (auto s = step(expr); !s) return s
    STEP(tx.UpdateOrg(o));
    STEP(tx.InsertStatement({"o1", 1, Bytes{1}, Bytes(64, 2), 1}));
    STEP(tx.ListStatements("o1", 0));
    STEP(tx.SetMemberLastEpoch("o1", "a1", 1));
    STEP(tx.PutGrant({"o1", "a1", 1, Bytes{3}, Bytes{}, "a1", 1}));
    STEP(tx.FindGrant("o1", "a1", 1));
    STEP(tx.ListGrants("o1"));
    STEP(tx.DeleteGrantsBelow("o1", 1));
    STEP(tx.DeleteMemberGrants("o1", "a1"));
    STEP(tx.PutEscrow({"o1", "a1", 1, 1, Bytes{5}, Bytes{6}, Bytes{7}, 1, 1}));
    STEP(tx.FindEscrow("o1", "a1"));
    STEP(tx.ListEscrows("o1"));
    STEP(tx.ListEscrowsOfAccount("a1"));
    STEP(tx.ListEscrowsBelowKeyVersion("o1", 2, "", 10));
    STEP(tx.CountEscrowsBelowKeyVersion("o1", 2));
    STEP(tx.RewrapEscrow("o1", "a1", 1, 1, 2, Bytes{8}, 2));
    STEP(tx.DeleteEscrow("o1", "a1"));
    STEP(tx.ListOpenInvites("o1", 0));
    STEP(tx.ListEvents("o1", 0, 10, EventFilter{"t", "a1", "a1", 0, 10}));
    STEP(tx.FindOrg("o1"));
    STEP(tx.FindMember("o1", "a1"));
#undef STEP
    return Fail(Error::Conflict("test.rollback", "end of flow"));
  };
  auto clean = failing.Transact(flow);
  ASSERT_FALSE(clean);
  ASSERT_EQ(clean.error().code(), "test.rollback") << clean.error().message();
  ASSERT_EQ(steps, kSteps);
  ASSERT_EQ(failing.Operations(), kSteps);
  for (int n = 1; n <= kSteps; ++n) {
    failing.FailAt(n);
    auto s = failing.Transact(flow);
    ASSERT_FALSE(s) << n;
    EXPECT_EQ(s.error().code(), "store.error") << n;
    EXPECT_EQ(steps, n);
  }
}

TEST(SqliteMigrationTest, PragmasAreSet) {
  fs::path db = TempDir() / "k.db";
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

TEST(SqliteMigrationTest, NewerSchemaOnDiskIsRefused) {
  fs::path db = TempDir() / "k.db";
  { ASSERT_TRUE(Open("sqlite:" + db.string())); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  std::string sql = "INSERT INTO schema_migrations (version, applied_at) VALUES (" +
                    std::to_string(LatestVersion() + 1) + ", 0)";
  ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto store = Open("sqlite:" + db.string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), "store.schema_too_new");
  EXPECT_NE(store.error().message().find("upgrade"), std::string::npos);
}

// A child process commits one write after another and reports each
// acknowledged commit through a pipe; it is killed with SIGKILL mid-stream.
// Every acknowledged write must be there when the database is reopened.
TEST(SqliteDurabilityTest, AcknowledgedWritesSurviveKill9) {
  fs::path db = TempDir() / "k.db";
  {
    auto store = Open("sqlite:" + db.string());
    ASSERT_TRUE(store);
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto store = Open("sqlite:" + db.string());
    if (!store) ::_exit(2);
    for (int i = 1;; ++i) {
      auto s = (*store)->Transact([&](Tx& tx) -> Status {
        auto n = tx.HitRateLimit("acked", 1, 1'000'000'000);
        if (!n) return Fail(n.error());
        return {};
      });
      if (!s) ::_exit(3);
      if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(4);
    }
  }
  ::close(fds[1]);
  int acked = 0;
  int value = 0;
  while (acked < 200 && ::read(fds[0], &value, sizeof value) == sizeof value) acked = value;
  ::kill(child, SIGKILL);
  // Acknowledgements already in the pipe count too.
  while (::read(fds[0], &value, sizeof value) == sizeof value) acked = value;
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_GE(acked, 200);
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto n = tx.PeekRateLimit("acked", 1, 1'000'000'000);
    if (!n) return Fail(n.error());
    EXPECT_GE(*n, acked);
    return {};
  }));
}

TEST(StoreOpenTest, Urls) {
  auto pg = Open("postgresql://u@localhost/keyward");
  ASSERT_FALSE(pg);
  EXPECT_EQ(pg.error().code(), "store.unsupported");
  auto bad = Open("mysql://x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), "store.invalid_url");
  auto empty = Open("sqlite:");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), "store.invalid_url");
  fs::path db = TempDir() / "triple.db";
  auto triple = Open("sqlite://" + db.string());
  ASSERT_TRUE(triple);
  EXPECT_TRUE(fs::exists(db));
  auto unwritable = Open("sqlite:/nonexistent-dir/x/y.db");
  ASSERT_FALSE(unwritable);
  EXPECT_EQ(unwritable.error().code(), "store.error");
}

}  // namespace
}  // namespace keyward::store::testing
