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
