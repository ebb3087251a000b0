#include "store/sqlite/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/sql/sql_store.h"
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

// The rows of `table`, read behind the store's back.
int RawCount(sqlite3* raw, const char* table) {
  sqlite3_stmt* stmt = nullptr;
  const std::string sql = std::string("SELECT COUNT(*) FROM ") + table;
  EXPECT_EQ(sqlite3_prepare_v2(raw, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int n = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  return n;
}

// A database as a keywardd that knew migrations 1 to `version` left it
// (foreign keys on); nullptr, with a test failure, when it cannot be opened.
sqlite3* OpenAtVersion(const fs::path& db, int version) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db;
    sqlite3_close(raw);
    return nullptr;
  }
  RawExec(raw, "PRAGMA foreign_keys=ON");
  RawExec(raw,
          "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT "
          "NULL)");
  for (const auto& m : sqlite::Migrations()) {
    if (m.version > version) break;
    RawExec(raw, m.sql);
    RawExec(raw, "INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 0)");
  }
  return raw;
}

// A database written by a keywardd that knew migrations 1 and 2 only, with
// rows in every table migration 3 alters, is upgraded in place: the rows keep
// their values, the new columns read as their defaults, and the new tables
// work (and cascade) for the old rows.
TEST(SqliteMigrationTest, UpgradesVersion2DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 3);
  fs::path db = TempDir() / "v2.db";
  {
    sqlite3* raw = OpenAtVersion(db, 2);
    ASSERT_NE(raw, nullptr);
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

// A database written by a keywardd that knew migrations 1 to 3, with
// members, escrows and events, is upgraded in place: the old rows keep their
// values, and requests and approvals work (and cascade) for the old members.
TEST(SqliteMigrationTest, UpgradesVersion3DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 4);
  fs::path db = TempDir() / "v3.db";
  {
    sqlite3* raw = OpenAtVersion(db, 3);
    ASSERT_NE(raw, nullptr);
    RawExec(raw,
            "INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, "
            "wrapped_vault_key, public_key, wrapped_private_key, verified, created_at, "
            "must_change_password) VALUES "
            "('a1', 'ann@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100, 0), "
            "('a2', 'bob@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100, 1)");
    RawExec(raw,
            "INSERT INTO orgs (id, name, created_at, created_by, statement_version, key_version, "
            "recovery_public_key, policy_json) VALUES ('o1', 'Acme', 100, 'a1', 1, 1, "
            "zeroblob(32), '{}')");
    RawExec(raw,
            "INSERT INTO org_members (org_id, account_id, role, permissions, status, joined_at, "
            "last_epoch) VALUES ('o1', 'a1', 'owner', '', 'active', 100, 1), "
            "('o1', 'a2', 'user', '', 'active', 101, 2)");
    RawExec(raw,
            "INSERT INTO escrows VALUES ('o1', 'a2', 2, 1, x'05', x'06', x'07', 200, 200), "
            "('o1', 'a1', 1, 1, x'05', x'06', x'07', 200, 200)");
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
    auto a = tx.FindAccountById("a2");
    auto m = tx.FindMember("o1", "a2");
    auto e = tx.FindEscrow("o1", "a2");
    auto open = tx.FindOpenRequest("a2");
    auto listed = tx.ListRequests("o1", std::nullopt, std::nullopt, 10);
    if (!a || !m || !e || !open || !listed) return Fail(StoreError("test"));
    EXPECT_TRUE(a->has_value() && (*a)->must_change_password);
    EXPECT_TRUE(m->has_value() && (*m)->last_epoch == 2);
    EXPECT_TRUE(e->has_value() && (*e)->epoch == 2);
    EXPECT_FALSE(open->has_value());
    EXPECT_TRUE(listed->empty());
    return {};
  }));
  RecoveryRequest r;
  r.id = "r1";
  r.org_id = "o1";
  r.account_id = "a2";
  r.epoch = 2;
  r.device_name = "laptop";
  r.remote_address = "192.0.2.1";
  r.created_at = 300;
  r.expires_at = 400;
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    if (auto s = tx.InsertRequest(r); !s) return s;
    return tx.InsertApproval({"r1", "a1", 310});
  }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto open = tx.FindOpenRequest("a2");
    auto approvals = tx.ListApprovals("r1");
    auto pending = tx.ListRequests("o1", RequestStatus::kPending, std::nullopt, 10);
    if (!open || !approvals || !pending) return Fail(StoreError("test"));
    EXPECT_EQ(*open, std::optional<RecoveryRequest>(r));
    EXPECT_EQ(approvals->size(), 1u);
    EXPECT_EQ(*pending, std::vector<RecoveryRequest>{r});
    return {};
  }));
  // One open request per member holds for the old members too.
  r.id = "r2";
  auto dup = (*store)->Transact([&](Tx& tx) { return tx.InsertRequest(r); });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), "store.conflict");
  // Deleting the old account takes its request, approval and escrow along.
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) { return tx.DeleteAccount("a2"); }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto found = tx.FindRequest("r1");
    auto approvals = tx.ListApprovals("r1");
    auto e = tx.FindEscrow("o1", "a2");
    auto events = tx.ListEvents("o1", 0, 10);
    if (!found || !approvals || !e || !events) return Fail(StoreError("test"));
    EXPECT_FALSE(found->has_value());
    EXPECT_TRUE(approvals->empty());
    EXPECT_FALSE(e->has_value());
    EXPECT_EQ(events->size(), 1u);
    return {};
  }));
}

// Rows every old-version database of these tests starts with, written as
// that version's keywardd wrote them: accounts a1 (ann) and a2 (bob), and
// organization o1 owned by a1 with a2 as a user (schema version 2 onwards).
void SeedAccountsAndOrg(sqlite3* raw) {
  RawExec(raw,
          "INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, "
          "wrapped_vault_key, public_key, wrapped_private_key, verified, created_at) VALUES "
          "('a1', 'ann@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100), "
          "('a2', 'bob@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100)");
  RawExec(raw,
          "INSERT INTO orgs (id, name, created_at, created_by, statement_version, key_version, "
          "recovery_public_key, policy_json) VALUES ('o1', 'Acme', 100, 'a1', 1, 1, "
          "zeroblob(32), '{}')");
  RawExec(raw,
          "INSERT INTO org_members (org_id, account_id, role, permissions, status, joined_at, "
          "last_epoch) VALUES ('o1', 'a1', 'owner', '', 'active', 100, 1), "
          "('o1', 'a2', 'user', '', 'active', 101, 2)");
}

// A database written by a keywardd that knew migrations 1 to 4, with a
// recovery request in it, is upgraded in place: the rows stay, and
// server_meta starts empty (so the next keywardd binds its keys to it,
// core/server_identity.h) and refuses a second write of a name.
TEST(SqliteMigrationTest, UpgradesVersion4DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 5);
  fs::path db = TempDir() / "v4.db";
  {
    sqlite3* raw = OpenAtVersion(db, 4);
    ASSERT_NE(raw, nullptr);
    SeedAccountsAndOrg(raw);
    RawExec(raw,
            "INSERT INTO recovery_requests (id, org_id, account_id, status, initiated_by, epoch, "
            "device_name, remote_address, created_at, expires_at, decided_at, decided_by, "
            "decline_reason, token_hash, link_share, completed_at) VALUES ('r1', 'o1', 'a2', "
            "'pending', '', 2, 'laptop', '192.0.2.1', 300, 400, 0, '', '', NULL, x'', 0)");
    RawExec(raw, "INSERT INTO recovery_approvals VALUES ('r1', 'a1', 310)");
    sqlite3_close(raw);
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store) << store.error().code();
  auto v = (*store)->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto open = tx.FindOpenRequest("a2");
    auto approvals = tx.ListApprovals("r1");
    auto check = tx.FindServerMeta("server_key_check");
    if (!open || !approvals || !check) return Fail(StoreError("test"));
    EXPECT_TRUE(open->has_value() && (*open)->id == "r1");
    EXPECT_EQ(approvals->size(), 1u);
    EXPECT_FALSE(check->has_value());
    return {};
  }));
  const Bytes value(32, 9);
  ASSERT_TRUE((*store)->Transact(
      [&](Tx& tx) { return tx.InsertServerMeta("server_key_check", value, 500); }));
  auto again = (*store)->Transact(
      [&](Tx& tx) { return tx.InsertServerMeta("server_key_check", Bytes(32, 8), 501); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), "store.conflict");
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto check = tx.FindServerMeta("server_key_check");
    if (!check) return Fail(check.error());
    EXPECT_EQ(*check, std::optional<Bytes>(value));
    return {};
  }));
}

// A version 5 database with an escrow in it is upgraded in place: the escrow
// stays and reads as made under dual control (the stronger promise), and new
// escrows keep the mode they are given (issue 10 item 5).
TEST(SqliteMigrationTest, UpgradesVersion5DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 6);
  fs::path db = TempDir() / "v5.db";
  {
    sqlite3* raw = OpenAtVersion(db, 5);
    ASSERT_NE(raw, nullptr);
    RawExec(raw,
            "INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, "
            "wrapped_vault_key, public_key, wrapped_private_key, verified, created_at) VALUES "
            "('a1', 'ann@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100), "
            "('a2', 'bob@example.com', 3, 65536, x'01', x'02', x'03', x'04', x'05', 1, 100)");
    RawExec(raw,
            "INSERT INTO orgs (id, name, created_at, created_by, statement_version, key_version, "
            "recovery_public_key, policy_json) VALUES ('o1', 'Acme', 100, 'a1', 1, 1, "
            "zeroblob(32), '{\"mode\":\"admin-reset\"}')");
    RawExec(raw,
            "INSERT INTO org_members (org_id, account_id, role, permissions, status, joined_at, "
            "last_epoch) VALUES ('o1', 'a1', 'owner', '', 'active', 100, 1), "
            "('o1', 'a2', 'user', '', 'active', 101, 2)");
    RawExec(raw,
            "INSERT INTO escrows (org_id, account_id, epoch, key_version, wrapped_vault_key, "
            "admin_share, server_share, created_at, updated_at) VALUES "
            "('o1', 'a2', 2, 1, x'01', x'02', x'03', 200, 201)");
    sqlite3_close(raw);
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store) << store.error().code();
  auto v = (*store)->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto escrow = tx.FindEscrow("o1", "a2");
    if (!escrow) return Fail(escrow.error());
    EXPECT_TRUE(escrow->has_value());
    if (!*escrow) return {};
    EXPECT_EQ((*escrow)->epoch, 2u);
    EXPECT_EQ((*escrow)->mode, "dual-control");
    return {};
  }));
  Escrow made;
  made.org_id = "o1";
  made.account_id = "a1";
  made.epoch = 2;
  made.key_version = 1;
  made.wrapped_vault_key = made.admin_share = made.server_share = Bytes{7};
  made.mode = "admin-reset";
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) { return tx.PutEscrow(made); }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    auto escrow = tx.FindEscrow("o1", "a1");
    if (!escrow) return Fail(escrow.error());
    EXPECT_EQ(*escrow, std::optional<Escrow>(made));
    return {};
  }));
  // The column admits only the two modes.
  made.mode = "nobody";
  EXPECT_FALSE((*store)->Transact([&](Tx& tx) { return tx.PutEscrow(made); }));
}

// A version 7 database with requests, approvals and items in it is upgraded
// in place: the old requests read as recoveries naming no snapshot and no
// device, the new tables work (and cascade) for the old accounts and
// requests, and the kind column admits the two kinds only.
TEST(SqliteMigrationTest, UpgradesVersion7DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 8);
  fs::path db = TempDir() / "v7.db";
  {
    sqlite3* raw = OpenAtVersion(db, 7);
    ASSERT_NE(raw, nullptr);
    SeedAccountsAndOrg(raw);
    RawExec(raw,
            "INSERT INTO recovery_requests (id, org_id, account_id, status, initiated_by, epoch, "
            "device_name, remote_address, created_at, expires_at, decided_at, decided_by, "
            "decline_reason, token_hash, link_share, completed_at) VALUES "
            "('r1', 'o1', 'a2', 'pending', '', 2, 'laptop', '192.0.2.1', 300, 400, 0, '', '', "
            "NULL, x'', 0), "
            "('r0', 'o1', 'a2', 'link_used', 'a1', 1, 'phone', '192.0.2.2', 200, 250, 210, 'a1', "
            "'', x'0909', x'0a0b', 220)");
    RawExec(raw, "INSERT INTO recovery_approvals VALUES ('r1', 'a1', 310)");
    RawExec(raw, "INSERT INTO items VALUES ('a2', 'i1', 1, x'0102', 100, 100)");
    sqlite3_close(raw);
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store) << store.error().code();
  auto v = (*store)->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, LatestVersion());
  RecoveryRequest r1;
  r1.id = "r1";
  r1.org_id = "o1";
  r1.account_id = "a2";
  r1.epoch = 2;
  r1.device_name = "laptop";
  r1.remote_address = "192.0.2.1";
  r1.created_at = 300;
  r1.expires_at = 400;
  RecoveryRequest r0;
  r0.id = "r0";
  r0.org_id = "o1";
  r0.account_id = "a2";
  r0.status = RequestStatus::kLinkUsed;
  r0.initiated_by = "a1";
  r0.epoch = 1;
  r0.device_name = "phone";
  r0.remote_address = "192.0.2.2";
  r0.created_at = 200;
  r0.expires_at = 250;
  r0.decided_at = 210;
  r0.decided_by = "a1";
  r0.token_hash = Bytes{9, 9};
  r0.link_share = Bytes{10, 11};
  r0.completed_at = 220;
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest("a2"));
    KW_ASSIGN_OR_RETURN(auto used, tx.FindRequestByTokenHash(Bytes{9, 9}));
    KW_ASSIGN_OR_RETURN(auto approvals, tx.ListApprovals("r1"));
    for (const auto* found : {&open, &used}) {
      EXPECT_TRUE(found->has_value());
      if (!*found) continue;
      EXPECT_EQ((*found)->kind, RequestKind::kRecovery);
      EXPECT_EQ((*found)->snapshot_id, "");
      EXPECT_EQ((*found)->device_id, "");
    }
    EXPECT_EQ(open, std::optional<RecoveryRequest>(r1));
    EXPECT_EQ(used, std::optional<RecoveryRequest>(r0));
    EXPECT_EQ(approvals.size(), 1u);
    KW_ASSIGN_OR_RETURN(auto snapshots, tx.ListSnapshots("a2"));
    EXPECT_TRUE(snapshots.empty());
    KW_ASSIGN_OR_RETURN(auto staged, tx.CountStagedItems("r1"));
    EXPECT_EQ(staged, 0);
    return {};
  }));
  // The new tables work for the old account and request.
  Snapshot snapshot;
  snapshot.id = std::string(22, 'S');
  snapshot.account_id = "a2";
  snapshot.size = 10;
  snapshot.parts = 1;
  snapshot.created_at = 500;
  const std::vector<StagedItem> items{{"i1", Bytes{3}}};
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(snapshot));
    KW_TRY(tx.PutSnapshotPart(snapshot.id, 0, Bytes(10, 4)));
    KW_TRY(tx.PutStagedItems("r1", items));
    RecoveryRequest restore = r1;
    restore.kind = RequestKind::kRestore;
    restore.snapshot_id = snapshot.id;
    restore.device_id = "dev-1";
    return tx.UpdateRequest(restore, RequestStatus::kPending);
  }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto found, tx.FindRequest("r1"));
    EXPECT_TRUE(found.has_value() && found->kind == RequestKind::kRestore &&
                found->snapshot_id == snapshot.id && found->device_id == "dev-1");
    KW_ASSIGN_OR_RETURN(auto staged, tx.ListStagedItems("r1"));
    EXPECT_EQ(staged, items);
    KW_ASSIGN_OR_RETURN(auto total, tx.CountSnapshotParts(snapshot.id));
    EXPECT_EQ(total.parts, 1);
    EXPECT_EQ(total.bytes, 10);
    return {};
  }));
  // Deleting the old account takes its snapshot, parts, requests and staged
  // items along.
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) { return tx.DeleteAccount("a2"); }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto found, tx.FindSnapshot(snapshot.id));
    EXPECT_FALSE(found.has_value());
    KW_ASSIGN_OR_RETURN(auto total, tx.CountSnapshotParts(snapshot.id));
    EXPECT_EQ(total.parts, 0);
    KW_ASSIGN_OR_RETURN(auto staged, tx.CountStagedItems("r1"));
    EXPECT_EQ(staged, 0);
    return {};
  }));
  store->reset();
  // The columns admit their names only.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  RawExec(raw, "PRAGMA foreign_keys=ON");
  EXPECT_NE(sqlite3_exec(raw,
                         "INSERT INTO recovery_requests (id, org_id, account_id, status, "
                         "initiated_by, epoch, device_name, remote_address, created_at, "
                         "expires_at, decided_at, decided_by, decline_reason, token_hash, "
                         "link_share, completed_at, kind) VALUES ('r9', 'o1', 'a1', 'declined', "
                         "'', 1, '', '', 1, 1, 0, '', '', NULL, x'', 0, 'rollback')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(raw, "INSERT INTO snapshots VALUES ('s9', 'a1', 'done', 1, 1, 1, 0)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
}

// A database written by a keywardd that knew migrations 1 to 8, with
// accounts, an organization and a snapshot in it, is upgraded in place: the
// rows stay, the single sign-on tables start empty and work (and cascade) for
// the old account and organization.
TEST(SqliteMigrationTest, UpgradesVersion8DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 9);
  fs::path db = TempDir() / "v8.db";
  {
    sqlite3* raw = OpenAtVersion(db, 8);
    ASSERT_NE(raw, nullptr);
    SeedAccountsAndOrg(raw);
    RawExec(raw, "INSERT INTO snapshots VALUES ('" + std::string(22, 'S') +
                     "', 'a2', 'ready', 10, 1, 500, 510)");
    sqlite3_close(raw);
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store) << store.error().code();
  auto v = (*store)->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto member, tx.FindMember("o1", "a2"));
    EXPECT_TRUE(member.has_value());
    KW_ASSIGN_OR_RETURN(auto snapshots, tx.ListSnapshots("a2"));
    EXPECT_EQ(snapshots.size(), 1u);
    KW_ASSIGN_OR_RETURN(auto identity, tx.FindSsoIdentityOfAccount("o1", "a2"));
    EXPECT_FALSE(identity.has_value());
    return {};
  }));
  // The new tables work for the old accounts and organization.
  SsoIdentity ann{"o1", "https://idp.example.com", "sub-ann", "a1", 600, 600};
  SsoIdentity bob{"o1", "https://idp.example.com", "sub-bob", "a2", 601, 601};
  SsoLogin login;
  login.id = "login-1";
  login.state_hash = Bytes(32, 7);
  login.org_id = "o1";
  login.nonce = "n";
  login.code_verifier = std::string(43, 'v');
  login.redirect_uri = "https://vault.example.com/sso/callback";
  login.client_kind = SsoClientKind::kWeb;
  login.created_at = 600;
  login.expires_at = 1200;
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoIdentity(ann));
    KW_TRY(tx.InsertSsoIdentity(bob));
    KW_TRY(tx.TouchSsoIdentity("o1", bob.issuer, bob.subject, 700));
    return tx.InsertSsoLogin(login);
  }));
  bob.last_login_at = 700;
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto found, tx.FindSsoIdentity("o1", bob.issuer, bob.subject));
    EXPECT_EQ(found, std::optional<SsoIdentity>(bob));
    return {};
  }));
  // Deleting the old account takes its identity along.
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) { return tx.DeleteAccount("a2"); }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto found, tx.FindSsoIdentityOfAccount("o1", "a2"));
    EXPECT_FALSE(found.has_value());
    KW_ASSIGN_OR_RETURN(auto kept, tx.FindSsoIdentityOfAccount("o1", "a1"));
    EXPECT_EQ(kept, std::optional<SsoIdentity>(ann));
    return {};
  }));
  store->reset();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  RawExec(raw, "PRAGMA foreign_keys=ON");
  // The columns admit their names and sizes only.
  const std::string insert =
      "INSERT INTO sso_logins (id, state_hash, org_id, nonce, code_verifier, redirect_uri, "
      "client_kind, created_at, expires_at) VALUES ";
  EXPECT_NE(
      sqlite3_exec(
          raw, (insert + "('login-2', zeroblob(32), 'o1', 'n', 'v', 'r', 'mobile', 1, 2)").c_str(),
          nullptr, nullptr, nullptr),
      SQLITE_OK);
  EXPECT_NE(
      sqlite3_exec(raw,
                   (insert + "('login-2', zeroblob(16), 'o1', 'n', 'v', 'r', 'cli', 1, 2)").c_str(),
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  RawExec(raw, insert + "('login-2', zeroblob(32), 'o1', 'n', 'v', 'r', 'cli', 1, 2)");
  // Deleting the organization takes its identities and logins along.
  RawExec(raw, "DELETE FROM orgs WHERE id = 'o1'");
  auto count = [&](const char* table) { return RawCount(raw, table); };
  EXPECT_EQ(count("sso_identities"), 0);
  EXPECT_EQ(count("sso_logins"), 0);
  EXPECT_EQ(count("accounts"), 1);
  sqlite3_close(raw);
}

// A database written by a keywardd that knew migrations 1 to 9, with a
// pending sign-in in sso_logins, is upgraded in place: the sign-in stays and
// reads with no issuer and no subject, and the table then holds tickets too.
TEST(SqliteMigrationTest, UpgradesVersion9DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 10);
  fs::path db = TempDir() / "v9.db";
  {
    sqlite3* raw = OpenAtVersion(db, 9);
    ASSERT_NE(raw, nullptr);
    SeedAccountsAndOrg(raw);
    RawExec(raw,
            "INSERT INTO sso_identities (org_id, issuer, subject, account_id, created_at, "
            "last_login_at) VALUES ('o1', 'https://idp.example.com', 'sub-ann', 'a1', 600, 650)");
    RawExec(raw,
            "INSERT INTO sso_logins (id, state_hash, org_id, nonce, code_verifier, redirect_uri, "
            "client_kind, created_at, expires_at) VALUES ('login-1', zeroblob(32), 'o1', 'n', "
            "'" +
                std::string(43, 'v') +
                "', 'https://vault.example.com/sso/callback', 'web', 600, 1200)");
    sqlite3_close(raw);
  }
  {
    auto store = Open("sqlite:" + db.string());
    ASSERT_TRUE(store) << store.error().code();
    auto v = (*store)->SchemaVersion();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, LatestVersion());
  }
  // The old row is kept, its new columns NULL on disk (not empty text).
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT id, issuer IS NULL, subject IS NULL FROM sso_logins",
                                 -1, &stmt, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))), "login-1");
    EXPECT_EQ(sqlite3_column_int(stmt, 1), 1);
    EXPECT_EQ(sqlite3_column_int(stmt, 2), 1);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store) << store.error().code();
  SsoLogin pending;
  pending.id = "login-1";
  pending.state_hash = Bytes(32, 0);
  pending.org_id = "o1";
  pending.nonce = "n";
  pending.code_verifier = std::string(43, 'v');
  pending.redirect_uri = "https://vault.example.com/sso/callback";
  pending.client_kind = SsoClientKind::kWeb;
  pending.created_at = 600;
  pending.expires_at = 1200;
  // The table now holds tickets too, for the old organization.
  SsoLogin ticket;
  ticket.id = "ticket-1";
  ticket.state_hash = Bytes(32, 8);
  ticket.org_id = "o1";
  ticket.issuer = "https://idp.example.com";
  ticket.subject = "sub-ann";
  ticket.client_kind = SsoClientKind::kCli;
  ticket.created_at = 700;
  ticket.expires_at = 760;
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto identity, tx.FindSsoIdentityOfAccount("o1", "a1"));
    EXPECT_TRUE(identity.has_value());
    return {};
  }));
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto taken, tx.TakeSsoLogin(pending.state_hash));
    EXPECT_EQ(taken, std::optional<SsoLogin>(pending));
    if (taken) {
      EXPECT_EQ(taken->issuer, std::nullopt);
      EXPECT_EQ(taken->subject, std::nullopt);
    }
    return tx.InsertSsoLogin(ticket);
  }));
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto taken, tx.TakeSsoLogin(ticket.state_hash));
    EXPECT_EQ(taken, std::optional<SsoLogin>(ticket));
    return {};
  }));
}

// A database written by a keywardd that knew migrations 1 to 10, with
// devices, a session and a sign-in ticket in it, is upgraded in place: the
// rows stay, trusted_devices starts empty and works (and cascades) for the
// old devices and accounts, and its columns admit keys of their sizes only.
TEST(SqliteMigrationTest, UpgradesVersion10DatabaseWithData) {
  ASSERT_GE(LatestVersion(), 11);
  fs::path db = TempDir() / "v10.db";
  {
    sqlite3* raw = OpenAtVersion(db, 10);
    ASSERT_NE(raw, nullptr);
    SeedAccountsAndOrg(raw);
    RawExec(raw,
            "INSERT INTO devices (account_id, id, name, type, first_seen, last_seen, active) "
            "VALUES ('a1', 'd1', 'laptop', 'cli', 100, 110, 1), "
            "('a1', 'd2', 'phone', 'mobile', 100, 120, 1), "
            "('a2', 'd1', 'web', 'web', 100, 130, 1)");
    RawExec(raw,
            "INSERT INTO sessions (token_hash, account_id, device_id, created_at, expires_at, "
            "revoked) VALUES (zeroblob(32), 'a1', 'd2', 100, 4000, 0)");
    RawExec(raw,
            "INSERT INTO sso_logins (id, state_hash, org_id, nonce, code_verifier, redirect_uri, "
            "client_kind, created_at, expires_at, issuer, subject) VALUES ('ticket-1', "
            "zeroblob(32), 'o1', '', '', '', 'cli', 600, 660, 'https://idp.example.com', "
            "'sub-ann')");
    sqlite3_close(raw);
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store) << store.error().code();
  auto v = (*store)->SchemaVersion();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto devices, tx.ListDevices("a1"));
    EXPECT_EQ(devices.size(), 2u);
    KW_ASSIGN_OR_RETURN(auto session, tx.FindSession(Bytes(32, 0)));
    EXPECT_TRUE(session.has_value());
    KW_ASSIGN_OR_RETURN(auto trusted, tx.ListTrustedDevices("a1"));
    EXPECT_TRUE(trusted.empty());
    KW_ASSIGN_OR_RETURN(auto found, tx.FindTrustedDevice("a1", "d1"));
    EXPECT_FALSE(found.has_value());
    return {};
  }));
  // The new table works for the old devices.
  const TrustedDevice laptop{"a1", "d1", Bytes(32, 1), Bytes(72, 2), 700};
  const TrustedDevice phone{"a1", "d2", Bytes(32, 3), Bytes(72, 4), 701};
  const TrustedDevice web{"a2", "d1", Bytes(32, 5), Bytes(72, 6), 702};
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.UpsertTrustedDevice(laptop));
    KW_TRY(tx.UpsertTrustedDevice(phone));
    return tx.UpsertTrustedDevice(web);
  }));
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto trusted, tx.ListTrustedDevices("a1"));
    EXPECT_EQ(trusted, (std::vector<TrustedDevice>{laptop, phone}));
    KW_ASSIGN_OR_RETURN(auto found, tx.FindTrustedDevice("a2", "d1"));
    EXPECT_EQ(found, std::optional<TrustedDevice>(web));
    return {};
  }));
  store->reset();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  RawExec(raw, "PRAGMA foreign_keys=ON");
  auto count = [&](const char* table) { return RawCount(raw, table); };
  // The columns admit keys of their sizes only, for an existing device.
  RawExec(raw,
          "INSERT INTO devices (account_id, id, name, type, first_seen, last_seen, active) "
          "VALUES ('a2', 'd2', 'tablet', 'mobile', 800, 800, 1)");
  const std::string insert =
      "INSERT INTO trusted_devices (account_id, device_id, sign_public_key, wrapped_vault_key, "
      "created_at) VALUES ";
  for (const char* values :
       {"('a2', 'd9', zeroblob(32), zeroblob(72), 1)",
        "('a2', 'd2', zeroblob(31), zeroblob(72), 1)",
        "('a2', 'd2', zeroblob(33), zeroblob(72), 1)", "('a2', 'd2', zeroblob(32), x'', 1)",
        "('a2', 'd2', zeroblob(32), zeroblob(4097), 1)"}) {
    EXPECT_NE(sqlite3_exec(raw, (insert + values).c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << values;
  }
  EXPECT_EQ(count("trusted_devices"), 3);
  RawExec(raw, insert + "('a2', 'd2', zeroblob(32), zeroblob(4096), 800)");
  EXPECT_EQ(count("trusted_devices"), 4);
  // Deleting a device takes its trusted device (and its sessions) along.
  RawExec(raw, "DELETE FROM devices WHERE account_id = 'a1' AND id = 'd2'");
  EXPECT_EQ(count("trusted_devices"), 3);
  EXPECT_EQ(count("sessions"), 0);
  // Deleting an account takes its devices and their trusted devices along;
  // the sign-in ticket stays.
  RawExec(raw, "DELETE FROM accounts WHERE id = 'a2'");
  EXPECT_EQ(count("trusted_devices"), 1);
  EXPECT_EQ(count("devices"), 1);
  EXPECT_EQ(count("sso_logins"), 1);
  sqlite3_close(raw);
}

// FailingStore tests: `flow` counts its operations in `steps` (a StepCounter) and ends with
// an error of its own (test.rollback), so nothing is committed. Run clean it
// takes kSteps operations; failing any one of them stops it there with
// store.error.
// Counts a flow's store operations (step(tx.X(...))); a failed one ends
// the flow with its error.
struct StepCounter {
  int count = 0;
  template <typename R>
  Status operator()(R result) {
    ++count;
    if (!result) return Fail(result.error());
    return {};
  }
};

void ExpectEveryStepFails(keyward::testing::FailingStore& failing,
                          const std::function<Status(Tx&)>& flow, const int& steps, int kSteps) {
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

// An in-memory store with account a1 (ann) owning organization o1, and
// with `member` also a1's owner membership: the seed of the FailingStore
// flows below.
Result<std::unique_ptr<Store>> SeededMemoryStore(bool member = true) {
  auto inner = Open("sqlite::memory:");
  if (!inner) return inner;
  KW_TRY((*inner)->Transact([&](Tx& tx) -> Status {
    Account a;
    a.id = "a1";
    a.email = "ann@example.com";
    a.salt = a.verifier = a.wrapped_vault_key = a.public_key = a.wrapped_private_key = Bytes{1};
    KW_TRY(tx.InsertAccount(a));
    Org o;
    o.id = "o1";
    o.name = "Acme";
    o.created_by = "a1";
    KW_TRY(tx.CreateOrg(o));
    if (!member) return {};
    OrgMember m;
    m.org_id = "o1";
    m.account_id = "a1";
    m.role = "owner";
    return tx.InsertMember(m);
  }));
  return inner;
}

// FailingStore must forward every Tx operation, each counting as one: a flow
// over the operations migration 3 added runs unchanged through it, and
// failing any one of its steps fails the transaction with store.error.
TEST(FailingStoreTest, ForwardsAndCountsRecoveryOperations) {
  auto inner = SeededMemoryStore();
  ASSERT_TRUE(inner);
  keyward::testing::FailingStore failing(**inner);
  constexpr int kSteps = 21;
  StepCounter step;
  // Ends with an error of its own so that nothing is ever committed and every
  // run starts from the same state.
  auto flow = [&](Tx& tx) -> Status {
    step.count = 0;
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
  ExpectEveryStepFails(failing, flow, step.count, kSteps);
}

// The same for the recovery request operations of migration 4.
TEST(FailingStoreTest, ForwardsAndCountsRequestOperations) {
  auto inner = SeededMemoryStore();
  ASSERT_TRUE(inner);
  keyward::testing::FailingStore failing(**inner);
  constexpr int kSteps = 9;
  StepCounter step;
  auto flow = [&](Tx& tx) -> Status {
    step.count = 0;
    RecoveryRequest r;
    r.id = "r1";
    r.org_id = "o1";
    r.account_id = "a1";
    r.created_at = 1;
    r.expires_at = 2;
    RecoveryRequest approved = r;
    approved.status = RequestStatus::kApproved;
    approved.token_hash = Bytes(32, 1);
#define STEP(expr) \
  if (auto s = step(expr); !s) return s
    STEP(tx.InsertRequest(r));
    STEP(tx.FindRequest("r1"));
    STEP(tx.FindOpenRequest("a1"));
    STEP(tx.UpdateRequest(approved, RequestStatus::kPending));
    STEP(tx.FindRequestByTokenHash(approved.token_hash));
    STEP(tx.ListRequests("o1", RequestStatus::kApproved, RequestCursor{5, "z"}, 10));
    STEP(tx.ListExpiredOpenRequests(3, 10));
    STEP(tx.InsertApproval({"r1", "a1", 1}));
    STEP(tx.ListApprovals("r1"));
#undef STEP
    return Fail(Error::Conflict("test.rollback", "end of flow"));
  };
  ExpectEveryStepFails(failing, flow, step.count, kSteps);
}

// The same for the snapshot and staged item operations of migration 8.
TEST(FailingStoreTest, ForwardsAndCountsSnapshotOperations) {
  auto inner = SeededMemoryStore();
  ASSERT_TRUE(inner);
  ASSERT_TRUE((*inner)->Transact([&](Tx& tx) -> Status {
    RecoveryRequest r;
    r.id = "r1";
    r.org_id = "o1";
    r.account_id = "a1";
    r.kind = RequestKind::kRestore;
    return tx.InsertRequest(r);
  }));
  keyward::testing::FailingStore failing(**inner);
  constexpr int kSteps = 14;
  StepCounter step;
  auto flow = [&](Tx& tx) -> Status {
    step.count = 0;
    Snapshot x;
    x.id = "s1";
    x.account_id = "a1";
    Snapshot ready = x;
    ready.state = SnapshotState::kReady;
    const std::vector<StagedItem> items{{"i1", Bytes{1}}};
#define STEP(expr) \
  if (auto s = step(expr); !s) return s
    STEP(tx.InsertSnapshot(x));
    STEP(tx.FindSnapshot("s1"));
    STEP(tx.ListSnapshots("a1"));
    STEP(tx.PutSnapshotPart("s1", 0, Bytes{1}));
    STEP(tx.FindSnapshotPart("s1", 0));
    STEP(tx.CountSnapshotParts("s1"));
    STEP(tx.UpdateSnapshot(ready));
    STEP(tx.DeleteStaleSnapshots(10));
    STEP(tx.DeleteSnapshot("s1"));
    STEP(tx.DeleteAccountSnapshots("a1"));
    STEP(tx.PutStagedItems("r1", items));
    STEP(tx.ListStagedItems("r1"));
    STEP(tx.CountStagedItems("r1"));
    STEP(tx.DeleteStagedItems("r1"));
#undef STEP
    return Fail(Error::Conflict("test.rollback", "end of flow"));
  };
  ExpectEveryStepFails(failing, flow, step.count, kSteps);
}

// The same for the single sign-on operations of migration 9.
TEST(FailingStoreTest, ForwardsAndCountsSsoOperations) {
  auto inner = SeededMemoryStore(/*member=*/false);
  ASSERT_TRUE(inner);
  keyward::testing::FailingStore failing(**inner);
  constexpr int kSteps = 8;
  StepCounter step;
  auto flow = [&](Tx& tx) -> Status {
    step.count = 0;
    const SsoIdentity identity{"o1", "https://idp.example.com", "sub", "a1", 1, 1};
    SsoLogin login;
    login.id = "l1";
    login.state_hash = Bytes(32, 1);
    login.org_id = "o1";
    login.expires_at = 5;
#define STEP(expr) \
  if (auto s = step(expr); !s) return s
    STEP(tx.InsertSsoIdentity(identity));
    STEP(tx.FindSsoIdentity("o1", identity.issuer, "sub"));
    STEP(tx.FindSsoIdentityOfAccount("o1", "a1"));
    STEP(tx.TouchSsoIdentity("o1", identity.issuer, "sub", 2));
    STEP(tx.DeleteSsoIdentity("o1", "a1"));
    STEP(tx.InsertSsoLogin(login));
    STEP(tx.TakeSsoLogin(login.state_hash));
    STEP(tx.DeleteExpiredSsoLogins(10, 100));
#undef STEP
    return Fail(Error::Conflict("test.rollback", "end of flow"));
  };
  ExpectEveryStepFails(failing, flow, step.count, kSteps);
}

// The same for the trusted device operations of migration 11.
TEST(FailingStoreTest, ForwardsAndCountsTrustedDeviceOperations) {
  auto inner = SeededMemoryStore(/*member=*/false);
  ASSERT_TRUE(inner);
  ASSERT_TRUE((*inner)->Transact([&](Tx& tx) {
    return tx.UpsertDevice({"a1", "d1", "laptop", "cli", 1, 1, true});
  }));
  keyward::testing::FailingStore failing(**inner);
  constexpr int kSteps = 4;
  StepCounter step;
  auto flow = [&](Tx& tx) -> Status {
    step.count = 0;
    const TrustedDevice trusted{"a1", "d1", Bytes(32, 1), Bytes(72, 2), 1};
#define STEP(expr) \
  if (auto s = step(expr); !s) return s
    STEP(tx.UpsertTrustedDevice(trusted));
    STEP(tx.FindTrustedDevice("a1", "d1"));
    STEP(tx.ListTrustedDevices("a1"));
    STEP(tx.DeleteTrustedDevice("a1", "d1"));
#undef STEP
    return Fail(Error::Conflict("test.rollback", "end of flow"));
  };
  ExpectEveryStepFails(failing, flow, step.count, kSteps);
}

// The query plan of each ListRequests statement, one line per step.
std::string QueryPlan(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  std::string plan;
  if (sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) !=
      SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db);
    return plan;
  }
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += '\n';
  }
  sqlite3_finalize(stmt);
  return plan;
}

// Every page of a request listing is an index range read in the listing's
// order: no table scan, no sort, whatever the number of stored requests.
void ExpectListRequestsUsesIndex(sqlite3* db) {
  for (bool by_status : {false, true}) {
    for (bool after : {false, true}) {
      std::string plan = QueryPlan(db, sqlite::ListRequestsSql(by_status, after));
      SCOPED_TRACE(plan);
      EXPECT_NE(plan.find(by_status ? "USING INDEX recovery_requests_org_status (org_id=? AND "
                                      "status=?"
                                    : "USING INDEX recovery_requests_org (org_id=?"),
                std::string::npos);
      EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos);
      EXPECT_EQ(plan.find("SCAN"), std::string::npos);
      if (after) {
        EXPECT_NE(plan.find("(created_at,id)<(?,?)"), std::string::npos);
      }
    }
  }
}

TEST(SqliteRequestIndexTest, ListRequestsUsesIndexWithoutSort) {
  fs::path db = TempDir() / "k.db";
  { ASSERT_TRUE(Open("sqlite:" + db.string())); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ExpectListRequestsUsesIndex(raw);
  sqlite3_close(raw);
}

// Run by hand (--gtest_also_run_disabled_tests --gtest_filter='*Scale*'):
// 100,000 requests of one organization (10,000 members, each with one pending
// request and nine closed ones) inserted in one transaction, then the first
// pages timed and their plans checked. Prints the timings; asserts no time.
TEST(SqliteRequestScaleTest, DISABLED_FirstPendingPageOf100kRequests) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  constexpr int kMembers = 10'000;
  constexpr int kPerMember = 10;
  constexpr int64_t kNow = 1'790'000'000;
  fs::path db = TempDir() / "scale.db";
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store);
  auto start = Clock::now();
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    Org o;
    o.id = "o1";
    o.name = "Acme";
    o.created_by = "m00000";
    if (auto s = tx.CreateOrg(o); !s) return s;
    for (int i = 0; i < kMembers; ++i) {
      char id[8];
      std::snprintf(id, sizeof id, "m%05d", i);
      Account a;
      a.id = id;
      a.email = std::string(id) + "@example.com";
      a.salt = a.verifier = a.wrapped_vault_key = a.public_key = a.wrapped_private_key = Bytes{1};
      if (auto s = tx.InsertAccount(a); !s) return s;
      OrgMember m;
      m.org_id = "o1";
      m.account_id = id;
      m.role = "user";
      if (auto s = tx.InsertMember(m); !s) return s;
    }
    return {};
  }));
  auto members_done = Clock::now();
  ASSERT_TRUE((*store)->Transact([&](Tx& tx) -> Status {
    for (int i = 0; i < kMembers * kPerMember; ++i) {
      int member = i % kMembers;
      int round = i / kMembers;  // the last round is the open one
      char account[8];
      char id[12];
      std::snprintf(account, sizeof account, "m%05d", member);
      std::snprintf(id, sizeof id, "r%07d", i);
      RecoveryRequest r;
      r.id = id;
      r.org_id = "o1";
      r.account_id = account;
      r.status = round + 1 < kPerMember
                     ? std::array{RequestStatus::kDeclined, RequestStatus::kExpired,
                                  RequestStatus::kLinkUsed}[round % 3]
                     : RequestStatus::kPending;
      r.device_name = "laptop";
      r.remote_address = "192.0.2.1";
      r.created_at = kNow + i / 3;  // ties on created_at
      r.expires_at = r.created_at + 86400;
      if (auto s = tx.InsertRequest(r); !s) return s;
    }
    return {};
  }));
  auto inserted = Clock::now();
  std::vector<RecoveryRequest> pending_page;
  std::vector<RecoveryRequest> all_page;
  std::vector<RecoveryRequest> next_page;
  std::vector<RecoveryRequest> expired;
  Clock::duration pending_time{};
  Clock::duration all_time{};
  Clock::duration next_time{};
  Clock::duration expired_time{};
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    // Once to prepare the statements, then timed.
    for (int pass = 0; pass < 2; ++pass) {
      auto t0 = Clock::now();
      auto p = tx.ListRequests("o1", RequestStatus::kPending, std::nullopt, 50);
      auto t1 = Clock::now();
      auto a = tx.ListRequests("o1", std::nullopt, std::nullopt, 50);
      auto t2 = Clock::now();
      if (!p || !a || p->empty()) return Fail(StoreError("test"));
      auto n = tx.ListRequests("o1", RequestStatus::kPending,
                               RequestCursor{p->back().created_at, p->back().id}, 50);
      auto t3 = Clock::now();
      auto e = tx.ListExpiredOpenRequests(kNow + 86400 + 31'000, 100);
      auto t4 = Clock::now();
      if (!n || !e) return Fail(StoreError("test"));
      pending_page = std::move(*p);
      all_page = std::move(*a);
      next_page = std::move(*n);
      expired = std::move(*e);
      pending_time = t1 - t0;
      all_time = t2 - t1;
      next_time = t3 - t2;
      expired_time = t4 - t3;
    }
    return {};
  }));
  EXPECT_EQ(pending_page.size(), 50u);
  EXPECT_EQ(all_page.size(), 50u);
  EXPECT_EQ(next_page.size(), 50u);
  EXPECT_EQ(expired.size(), 100u);
  for (const auto& r : pending_page) EXPECT_EQ(r.status, RequestStatus::kPending);
  EXPECT_EQ(pending_page.front().id, "r0099999");
  std::printf(
      "10,000 accounts+members: %.0f ms; 100,000 requests in one transaction: %.0f ms\n"
      "first pending page (50): %.3f ms; first page, any status: %.3f ms; next pending "
      "page: %.3f ms; first 100 expired open: %.3f ms\n",
      ms(members_done - start), ms(inserted - members_done), ms(pending_time), ms(all_time),
      ms(next_time), ms(expired_time));
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ExpectListRequestsUsesIndex(raw);
  std::printf("%s", QueryPlan(raw, sqlite::ListRequestsSql(true, false)).c_str());
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

// ---- group commit (issue 16) ----

// Writes that arrive while a batch commits share the next commit; each is
// still atomic: one that fails is rolled back alone, the others are kept.
TEST(SqliteGroupCommitTest, ConcurrentWritesShareCommitsAndEachStaysAtomic) {
  auto store = MakeFileStore();
  ASSERT_NE(store, nullptr);
  constexpr int kWriters = 16;
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  std::vector<Status> results(kWriters);
  // Writer 0 leads the first batch and holds it until the others are about
  // to write (then a little longer, so they are queued behind it).
  threads.emplace_back([&] {
    results[0] = store->Transact([&](Tx& tx) -> Status {
      while (arrived.load() < kWriters - 1) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      KW_TRY(tx.HitRateLimit("w0", 1, 1000));
      return {};
    });
  });
  for (int i = 1; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      ++arrived;
      results[i] = store->Transact([&](Tx& tx) -> Status {
        KW_TRY(tx.HitRateLimit("w" + std::to_string(i), 1, 1000));
        if (i % 2 == 1) return Fail(StoreError("refused by the test"));
        return {};
      });
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kWriters; ++i) {
    EXPECT_EQ(results[i].has_value(), i % 2 == 0) << i;
  }
  ASSERT_TRUE(store->Read([&](Tx& tx) -> Status {
    for (int i = 0; i < kWriters; ++i) {
      auto n = tx.PeekRateLimit("w" + std::to_string(i), 1, 1000);
      if (!n) return Fail(n.error());
      EXPECT_EQ(*n, i % 2 == 0 ? 1 : 0) << i;
    }
    return {};
  }));
  const sqlite::WriteStats stats = sqlite::WriteStatsOf(*store);
  EXPECT_EQ(stats.writes, kWriters);
  EXPECT_LE(stats.commits, 4) << "the 15 queued writes should share a commit or two";
}

// When the shared commit fails, no write of the batch is acknowledged and
// none is kept. The commit is made to fail with a deferred foreign key
// that one job leaves dangling.
TEST(SqliteGroupCommitTest, AFailedCommitFailsEveryWriteOfTheBatch) {
  const fs::path db = TempDir() / "k.db";
  {
    auto store = Open("sqlite:" + db.string());
    ASSERT_TRUE(store);
  }
  auto conn = sqlite::Connect(db.string(), false);
  ASSERT_TRUE(conn);
  const std::function<Status(Tx&)> a = [](Tx& tx) -> Status {
    KW_TRY(tx.HitRateLimit("a", 1, 1000));
    return {};
  };
  const std::function<Status(Tx&)> dangling = [](Tx& tx) {
    return tx.InsertApproval({"no-such-request", "no-such-admin", 1});
  };
  const std::function<Status(Tx&)> c = [](Tx& tx) -> Status {
    KW_TRY(tx.HitRateLimit("c", 1, 1000));
    return {};
  };
  // Checked at COMMIT instead of at the insert: the batch's one commit fails.
  ASSERT_TRUE((*conn)->ExecScript("PRAGMA defer_foreign_keys=ON", "test"));
  const std::array<const std::function<Status(Tx&)>*, 3> jobs = {&a, &dangling, &c};
  std::array<Status, 3> results;
  sql::RunBatch(**conn, jobs, results);
  for (const auto& r : results) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), "store.not_found");
  }
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    for (const char* key : {"a", "c"}) {
      auto n = tx.PeekRateLimit(key, 1, 1000);
      if (!n) return Fail(n.error());
      EXPECT_EQ(*n, 0) << key;
    }
    return {};
  }));
}

// `writers` threads of a child process commit one write after another,
// each reporting every acknowledged write through a pipe; the child is
// killed with SIGKILL once `min_acks` are in. Every acknowledged write of
// every writer must be there when the database is reopened.
void ExpectAcknowledgedWritesSurviveKill9(int writers, int min_acks) {
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
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        const std::string key = "acked-" + std::to_string(w);
        for (int i = 1;; ++i) {
          auto s = (*store)->Transact([&](Tx& tx) -> Status {
            auto n = tx.HitRateLimit(key, 1, 1'000'000'000);
            if (!n) return Fail(n.error());
            return {};
          });
          if (!s) ::_exit(3);
          const std::array<int, 2> ack = {w, i};  // one write of 8 bytes: atomic on a pipe
          if (::write(fds[1], ack.data(), sizeof ack) != sizeof ack) ::_exit(4);
        }
      });
    }
    for (auto& t : threads) t.join();
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<int> acked(static_cast<size_t>(writers), 0);
  std::array<int, 2> ack{};
  int total = 0;
  while (total < min_acks && ::read(fds[0], ack.data(), sizeof ack) == sizeof ack) {
    acked[ack[0]] = std::max(acked[ack[0]], ack[1]);
    ++total;
  }
  ::kill(child, SIGKILL);
  // Acknowledgements already in the pipe count too.
  while (::read(fds[0], ack.data(), sizeof ack) == sizeof ack) {
    acked[ack[0]] = std::max(acked[ack[0]], ack[1]);
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_GE(total, min_acks);
  auto store = Open("sqlite:" + db.string());
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Read([&](Tx& tx) -> Status {
    for (int w = 0; w < writers; ++w) {
      auto n = tx.PeekRateLimit("acked-" + std::to_string(w), 1, 1'000'000'000);
      if (!n) return Fail(n.error());
      EXPECT_GE(*n, acked[w]) << "writer " << w;
    }
    return {};
  }));
}

TEST(SqliteDurabilityTest, AcknowledgedWritesSurviveKill9) {
  ExpectAcknowledgedWritesSurviveKill9(1, 200);
}

// Concurrent writers: a group commit acknowledges nothing before its fsync.
TEST(SqliteGroupCommitTest, AcknowledgedConcurrentWritesSurviveKill9) {
  ExpectAcknowledgedWritesSurviveKill9(8, 400);
}

TEST(StoreOpenTest, Urls) {
  auto pg = Open("postgresql://u@localhost/keyward");
  ASSERT_FALSE(pg);
  EXPECT_EQ(pg.error().code(), "store.unavailable");
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
