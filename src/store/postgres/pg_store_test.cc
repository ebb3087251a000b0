#include "store/postgres/pg_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pg_test_db.h"
#include "store/postgres/migrations.h"
#include "store/sqlite/migrations.h"
#include "store/store_contract_test.h"

namespace keyward::store::testing {
namespace {

using keyward::testing::TestDatabase;

// A store together with the database it lives in, dropped after the store.
class OwningStore final : public Store {
 public:
  OwningStore(std::unique_ptr<TestDatabase> db, std::unique_ptr<Store> store)
      : db_(std::move(db)), store_(std::move(store)) {}
  Status Transact(const std::function<Status(Tx&)>& fn) override { return store_->Transact(fn); }
  Status Read(const std::function<Status(Tx&)>& fn) override { return store_->Read(fn); }
  Result<int> SchemaVersion() override { return store_->SchemaVersion(); }
  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    return store_->RunExclusive(task, fn);
  }

 private:
  std::unique_ptr<TestDatabase> db_;  // declared first: outlives store_
  std::unique_ptr<Store> store_;
};

void RequireCluster() { KEYWARD_REQUIRE_PG_CLUSTER(); }

std::unique_ptr<Store> MakePgStore() {
  RequireCluster();
  if (::testing::Test::IsSkipped() || ::testing::Test::HasFatalFailure()) return nullptr;
  auto db = std::make_unique<TestDatabase>("contract");
  auto store = Open(db->url());
  if (!store) {
    ADD_FAILURE() << store.error().code() << ": " << store.error().message();
    return nullptr;
  }
  return std::make_unique<OwningStore>(std::move(db), std::move(*store));
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContractTest,
                         ::testing::Values(StoreFactory{"pg", MakePgStore}), StoreFactoryName);

// ---- PostgreSQL only: several nodes on one database, lost connections,
// migrations, the schema copy contract, query plans ----

constexpr int64_t kNow = 1'790'000'000;

std::unique_ptr<Store> OpenOrFail(const std::string& url) {
  auto store = Open(url);
  if (!store) {
    ADD_FAILURE() << store.error().code() << ": " << store.error().message();
    return nullptr;
  }
  return std::move(*store);
}

std::string CodeOf(const Status& s) { return s ? "" : s.error().code(); }

Account MakeAccount(const std::string& id) {
  Account a;
  a.id = id;
  a.email = id + "@example.com";
  a.kdf_ops = 3;
  a.kdf_mem = 1 << 20;
  a.salt = Bytes(16, 1);
  a.verifier = Bytes(32, 2);
  a.wrapped_vault_key = Bytes(72, 3);
  a.public_key = Bytes(32, 4);
  a.wrapped_private_key = Bytes(72, 5);
  a.created_at = kNow;
  return a;
}

// Organization o1 and `members` accounts m0, m1, ... that are its members.
Status SeedOrg(Tx& tx, int members) {
  Org o;
  o.id = "o1";
  o.name = "Acme";
  o.created_at = kNow;
  o.created_by = "m0";
  KW_TRY(tx.CreateOrg(o));
  for (int i = 0; i < members; ++i) {
    std::string id = "m" + std::to_string(i);
    KW_TRY(tx.InsertAccount(MakeAccount(id)));
    OrgMember m;
    m.org_id = "o1";
    m.account_id = id;
    m.role = i < 3 ? "admin" : "user";
    m.joined_at = kNow;
    KW_TRY(tx.InsertMember(m));
  }
  return {};
}

RecoveryRequest MakeRequest(const std::string& id, const std::string& account_id) {
  RecoveryRequest r;
  r.id = id;
  r.org_id = "o1";
  r.account_id = account_id;
  r.epoch = 1;
  r.device_name = "laptop";
  r.remote_address = "192.0.2.1";
  r.created_at = kNow;
  r.expires_at = kNow + 3600;
  return r;
}

OrgEvent MakeEvent(uint64_t seq, const std::string& actor) {
  OrgEvent e;
  e.seq = seq;
  e.org_id = "o1";
  e.type = "org.role_changed";
  e.actor_id = actor;
  e.target_id = "m1";
  e.device_id = "d1";
  e.time = kNow;
  e.details = {{"node", actor}};
  e.hash = Bytes(32, 7);
  return e;
}

// Two "nodes": two stores (two pools) on one database.
class PgNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KEYWARD_REQUIRE_PG_CLUSTER();
    db_ = std::make_unique<TestDatabase>("nodes");
    a_ = OpenOrFail(db_->url());
    ASSERT_NE(a_, nullptr);
    b_ = OpenOrFail(db_->url());
    ASSERT_NE(b_, nullptr);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
  }
  Store& node(int i) { return i % 2 == 0 ? *a_ : *b_; }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> a_;
  std::unique_ptr<Store> b_;
};

TEST_F(PgNodesTest, RunExclusiveHeldOnOneNodeIsRefusedOnTheOther) {
  std::atomic<bool> inner_ran{false};
  auto outer = a_->RunExclusive("sweep", [&]() -> Status {
    auto other = b_->RunExclusive("sweep", [&]() -> Status {
      inner_ran = true;
      return {};
    });
    EXPECT_TRUE(other.has_value());
    if (other) {
      EXPECT_FALSE(*other);
    }
    // Another task is free on the other node meanwhile.
    auto different = b_->RunExclusive("rotate", [] { return Status(); });
    EXPECT_TRUE(different.has_value() && *different);
    return {};
  });
  ASSERT_OK(outer);
  EXPECT_TRUE(*outer);
  EXPECT_FALSE(inner_ran.load());
  // Released: the other node gets it now.
  auto after = b_->RunExclusive("sweep", [&]() -> Status {
    inner_ran = true;
    return {};
  });
  ASSERT_OK(after);
  EXPECT_TRUE(*after);
  EXPECT_TRUE(inner_ran.load());
  // No advisory lock is left behind.
  auto locks = db_->Query(
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
      "(SELECT oid FROM pg_database WHERE datname = current_database())");
  EXPECT_EQ(locks[0][0], "0");
}

TEST_F(PgNodesTest, RunExclusiveWithPoolOfOneCanTransact) {
  auto small = postgres::OpenPostgresStore(db_->url(), 1);
  ASSERT_TRUE(small.has_value()) << small.error().code();
  auto ran = (*small)->RunExclusive("sweep", [&]() -> Status {
    return (*small)->Transact([](Tx& tx) { return SeedOrg(tx, 1); });
  });
  ASSERT_OK(ran);
  EXPECT_TRUE(*ran);
}

TEST_F(PgNodesTest, ConcurrentAppendsOfOneSeqHaveOneWinner) {
  ASSERT_OK(a_->Transact([](Tx& tx) { return SeedOrg(tx, 1); }));
  constexpr int kThreads = 50;
  std::atomic<int> winners{0};
  std::atomic<int> conflicts{0};
  std::vector<std::string> others;
  std::mutex others_mu;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::string code = CodeOf(node(t).Transact(
          [&](Tx& tx) { return tx.AppendEvent(MakeEvent(1, "t" + std::to_string(t))); }));
      if (code.empty()) {
        ++winners;
      } else if (code == "store.conflict") {
        ++conflicts;
      } else {
        std::lock_guard lock(others_mu);
        others.push_back(code);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_TRUE(others.empty()) << others.front();
  EXPECT_EQ(db_->Query("SELECT count(*) FROM org_events")[0][0], "1");
}

// The quorum rule of core: insert my approval, count the approvals, and when
// they reach the quorum (2) approve the request. Under snapshot isolation
// alone two admins could each count 1 and leave a request with two approvals
// pending; SERIALIZABLE (with the store's retries) must never allow that.
TEST_F(PgNodesTest, QuorumReadCheckWriteNeverLeavesTwoApprovalsPending) {
  constexpr int kRounds = 20;
  ASSERT_OK(a_->Transact([&](Tx& tx) -> Status {
    KW_TRY(SeedOrg(tx, kRounds + 3));
    for (int i = 0; i < kRounds; ++i) {
      KW_TRY(tx.InsertRequest(MakeRequest("r" + std::to_string(i), "m" + std::to_string(i + 3))));
    }
    return {};
  }));
  std::atomic<int> failures{0};
  for (int i = 0; i < kRounds; ++i) {
    std::string id = "r" + std::to_string(i);
    std::latch start(2);
    std::vector<std::thread> admins;
    for (int t = 0; t < 2; ++t) {
      admins.emplace_back([&, t] {
        start.arrive_and_wait();
        auto s = node(t).Transact([&](Tx& tx) -> Status {
          KW_TRY(tx.InsertApproval(RecoveryApproval{id, "m" + std::to_string(t), kNow}));
          auto approvals = tx.ListApprovals(id);
          if (!approvals) return Fail(approvals.error());
          if (approvals->size() < 2) return {};
          auto request = tx.FindRequest(id);
          if (!request) return Fail(request.error());
          RecoveryRequest r = **request;
          r.status = RequestStatus::kApproved;
          r.decided_at = kNow;
          r.decided_by = "m" + std::to_string(t);
          return tx.UpdateRequest(r, RequestStatus::kPending);
        });
        if (!s) {
          ++failures;
          ADD_FAILURE() << s.error().code();
        }
      });
    }
    for (auto& t : admins) t.join();
    ASSERT_OK(a_->Read([&](Tx& tx) -> Status {
      auto approvals = tx.ListApprovals(id);
      if (!approvals) return Fail(approvals.error());
      auto request = tx.FindRequest(id);
      if (!request) return Fail(request.error());
      EXPECT_EQ(approvals->size(), 2u) << id;
      EXPECT_EQ((*request)->status, RequestStatus::kApproved) << id;
      return {};
    }));
  }
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(PgNodesTest, RacingRequestSubmissionsOpenOne) {
  ASSERT_OK(a_->Transact([](Tx& tx) { return SeedOrg(tx, 4); }));
  constexpr int kThreads = 8;
  std::atomic<int> winners{0};
  std::atomic<int> conflicts{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::string code = CodeOf(node(t).Transact([&](Tx& tx) -> Status {
        auto open = tx.FindOpenRequest("m3");
        if (!open) return Fail(open.error());
        return tx.InsertRequest(MakeRequest("r" + std::to_string(t), "m3"));
      }));
      if (code.empty()) {
        ++winners;
      } else if (code == "store.conflict") {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
}

// Terminates every backend of the database but the caller's.
void TerminateOthers(const TestDatabase& db) {
  db.Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
}

TEST_F(PgNodesTest, SurvivesTerminatedBackends) {
  ASSERT_OK(a_->Transact([](Tx& tx) { return SeedOrg(tx, 1); }));
  // Four connections in the pool (four transactions open at once), and the
  // RunExclusive connection.
  {
    std::latch inside(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        EXPECT_TRUE(a_->Read([&](Tx& tx) -> Status {
          inside.arrive_and_wait();
          return Discard(tx.FindOrg("o1"));
        }));
      });
    }
    for (auto& t : threads) t.join();
  }
  ASSERT_OK(a_->RunExclusive("sweep", [] { return Status(); }));
  auto before = db_->Query(
      "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
      "AND application_name = 'keywardd'");
  EXPECT_GE(std::stoi(before[0][0]), 5);

  TerminateOthers(*db_);
  ASSERT_OK(a_->Transact([](Tx& tx) { return tx.AppendEvent(MakeEvent(1, "after")); }));
  ASSERT_OK(a_->Read([](Tx& tx) { return Discard(tx.LastEvent("o1")); }));
  auto ran = a_->RunExclusive("sweep", [] { return Status(); });
  ASSERT_OK(ran);
  EXPECT_TRUE(*ran);

  // A backend lost in the middle of a transaction: the callback runs again
  // on a new connection.
  int calls = 0;
  ASSERT_OK(a_->Transact([&](Tx& tx) -> Status {
    ++calls;
    KW_TRY(tx.FindOrg("o1"));
    if (calls == 1) TerminateOthers(*db_);
    return tx.AppendEvent(MakeEvent(2, "mid"));
  }));
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(db_->Query("SELECT count(*) FROM org_events")[0][0], "2");
}

TEST(PgOpenTest, UnreachableServerIsUnavailableWithoutPassword) {
  auto start = std::chrono::steady_clock::now();
  auto store = Open("postgresql://u:s3cret@127.0.0.1:1/x");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), "store.unavailable");
  EXPECT_EQ(store.error().message().find("s3cret"), std::string::npos) << store.error().message();
  EXPECT_NE(store.error().message().find("127.0.0.1:1"), std::string::npos)
      << store.error().message();
  EXPECT_LT(took, std::chrono::seconds(5));
  auto other_scheme = Open("postgres://u:s3cret@127.0.0.1:1/x?sslmode=disable");
  ASSERT_FALSE(other_scheme);
  EXPECT_EQ(other_scheme.error().code(), "store.unavailable");
  EXPECT_EQ(other_scheme.error().message().find("s3cret"), std::string::npos);
}

TEST(PgOpenTest, MalformedUrlIsInvalid) {
  auto store = Open("postgresql://u:s3cret@127.0.0.1:1/x?nosuchparameter=1");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), "store.invalid_url");
  EXPECT_EQ(store.error().message().find("s3cret"), std::string::npos);
}

int LatestVersion() { return postgres::Migrations().back().version; }

TEST(PgMigrationTest, OpenTwiceKeepsVersionAndData) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  TestDatabase db("migrate");
  {
    auto store = OpenOrFail(db.url());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Transact([](Tx& tx) { return tx.InsertAccount(MakeAccount("a1")); }));
  }
  auto store = OpenOrFail(db.url());
  ASSERT_NE(store, nullptr);
  auto v = store->SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_OK(store->Read([](Tx& tx) -> Status {
    auto a = tx.FindAccountByEmail("A1@EXAMPLE.COM");
    if (!a) return Fail(a.error());
    EXPECT_TRUE(a->has_value());
    return {};
  }));
  EXPECT_EQ(db.Query("SELECT count(*) FROM schema_migrations")[0][0],
            std::to_string(postgres::Migrations().size()));
}

// An old database: the schema migrations up to `version`, as they were.
void MigrateTo(TestDatabase& db, int version) {
  db.Exec(
      "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)");
  for (const auto& m : postgres::Migrations()) {
    if (m.version > version) break;
    db.Exec(m.sql);
    db.Exec("INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) + ", 0)");
  }
}

// Accounts a1 (ann) and a2 (bob), organization o1 with this policy, a1 its
// owner and a2 a user (last epochs 1 and 2): the old-version tests' seed.
void SeedAccountsAndOrg(TestDatabase& db, const std::string& policy_json = "{}") {
  db.Exec(
      "INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, wrapped_vault_key, "
      "public_key, wrapped_private_key, verified, created_at) VALUES "
      "('a1', 'ann@example.com', 3, 65536, '\\x01', '\\x02', '\\x03', '\\x04', '\\x05', 1, "
      "100), ('a2', 'bob@example.com', 3, 65536, '\\x01', '\\x02', '\\x03', '\\x04', "
      "'\\x05', 1, 100)");
  db.Exec(
      "INSERT INTO orgs (id, name, created_at, created_by, statement_version, key_version, "
      "recovery_public_key, policy_json) VALUES ('o1', 'Acme', 100, 'a1', 1, 1, '\\x00', '" +
      policy_json + "')");
  db.Exec(
      "INSERT INTO org_members (org_id, account_id, role, permissions, status, joined_at, "
      "last_epoch) VALUES ('o1', 'a1', 'owner', '', 'active', 100, 1), "
      "('o1', 'a2', 'user', '', 'active', 101, 2)");
}

// A version 5 database with an escrow in it is upgraded in place: the escrow
// stays and reads as made under dual control, and new escrows keep the mode
// they are given, one of the two (issue 10 item 5).
TEST(PgMigrationTest, UpgradesVersion5DatabaseWithData) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  ASSERT_GE(LatestVersion(), 6);
  TestDatabase db("v5");
  MigrateTo(db, 5);
  SeedAccountsAndOrg(db, "{\"mode\":\"admin-reset\"}");
  db.Exec(
      "INSERT INTO escrows (org_id, account_id, epoch, key_version, wrapped_vault_key, "
      "admin_share, server_share, created_at, updated_at) VALUES "
      "('o1', 'a2', 2, 1, '\\x01', '\\x02', '\\x03', 200, 201)");
  auto store = OpenOrFail(db.url());
  ASSERT_NE(store, nullptr);
  auto v = store->SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
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
  ASSERT_OK(store->Transact([&](Tx& tx) { return tx.PutEscrow(made); }));
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
    auto escrow = tx.FindEscrow("o1", "a1");
    if (!escrow) return Fail(escrow.error());
    EXPECT_EQ(*escrow, std::optional<Escrow>(made));
    return {};
  }));
  made.mode = "nobody";
  EXPECT_FALSE(store->Transact([&](Tx& tx) { return tx.PutEscrow(made); }));
}

// A version 7 database with requests in it is upgraded in place: the old
// requests read as recoveries naming no snapshot and no device, and the new
// tables work (and cascade) for the old account and request.
TEST(PgMigrationTest, UpgradesVersion7DatabaseWithData) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  ASSERT_GE(LatestVersion(), 8);
  TestDatabase db("v7");
  MigrateTo(db, 7);
  SeedAccountsAndOrg(db);
  db.Exec(
      "INSERT INTO recovery_requests (id, org_id, account_id, status, initiated_by, epoch, "
      "device_name, remote_address, created_at, expires_at, decided_at, decided_by, "
      "decline_reason, token_hash, link_share, completed_at) VALUES ('r1', 'o1', 'a2', "
      "'pending', '', 2, 'laptop', '192.0.2.1', 300, 400, 0, '', '', NULL, '\\x', 0)");
  auto store = OpenOrFail(db.url());
  ASSERT_NE(store, nullptr);
  auto v = store->SchemaVersion();
  ASSERT_OK(v);
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
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto found, tx.FindRequest("r1"));
    EXPECT_TRUE(found.has_value());
    if (!found) return {};
    EXPECT_EQ(found->kind, RequestKind::kRecovery);
    EXPECT_EQ(found->snapshot_id, "");
    EXPECT_EQ(found->device_id, "");
    EXPECT_EQ(*found, r1);
    return {};
  }));
  Snapshot snapshot;
  snapshot.id = std::string(22, 'S');
  snapshot.account_id = "a2";
  snapshot.size = 10;
  snapshot.parts = 1;
  snapshot.created_at = 500;
  const std::vector<StagedItem> items{{"i1", Bytes{3}}};
  ASSERT_OK(store->Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(snapshot));
    KW_TRY(tx.PutSnapshotPart(snapshot.id, 0, Bytes(10, 4)));
    return tx.PutStagedItems("r1", items);
  }));
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto staged, tx.ListStagedItems("r1"));
    EXPECT_EQ(staged, items);
    KW_ASSIGN_OR_RETURN(auto total, tx.CountSnapshotParts(snapshot.id));
    EXPECT_EQ(total.parts, 1);
    EXPECT_EQ(total.bytes, 10);
    return {};
  }));
  ASSERT_OK(store->Transact([&](Tx& tx) { return tx.DeleteAccount("a2"); }));
  EXPECT_EQ(db.Query("SELECT count(*) FROM snapshots")[0][0], "0");
  EXPECT_EQ(db.Query("SELECT count(*) FROM snapshot_parts")[0][0], "0");
  EXPECT_EQ(db.Query("SELECT count(*) FROM staged_items")[0][0], "0");
}

// A version 8 database with accounts, an organization and a snapshot in it
// is upgraded in place: the rows stay, the single sign-on tables start empty,
// work for the old account and organization, and cascade from both.
TEST(PgMigrationTest, UpgradesVersion8DatabaseWithData) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  ASSERT_GE(LatestVersion(), 9);
  TestDatabase db("v8");
  MigrateTo(db, 8);
  SeedAccountsAndOrg(db);
  db.Exec("INSERT INTO snapshots VALUES ('" + std::string(22, 'S') +
          "', 'a2', 'ready', 10, 1, 500, 510)");
  auto store = OpenOrFail(db.url());
  ASSERT_NE(store, nullptr);
  auto v = store->SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto member, tx.FindMember("o1", "a2"));
    EXPECT_TRUE(member.has_value());
    KW_ASSIGN_OR_RETURN(auto snapshots, tx.ListSnapshots("a2"));
    EXPECT_EQ(snapshots.size(), 1u);
    KW_ASSIGN_OR_RETURN(auto identity, tx.FindSsoIdentityOfAccount("o1", "a2"));
    EXPECT_FALSE(identity.has_value());
    return {};
  }));
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
  ASSERT_OK(store->Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoIdentity(ann));
    KW_TRY(tx.InsertSsoIdentity(bob));
    KW_TRY(tx.TouchSsoIdentity("o1", bob.issuer, bob.subject, 700));
    return tx.InsertSsoLogin(login);
  }));
  bob.last_login_at = 700;
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto found, tx.FindSsoIdentity("o1", bob.issuer, bob.subject));
    EXPECT_EQ(found, std::optional<SsoIdentity>(bob));
    return {};
  }));
  EXPECT_EQ(db.Query("SELECT client_kind, length(state_hash) FROM sso_logins")[0],
            (std::vector<std::string>{"web", "32"}));
  // Deleting the old account takes its identity along.
  ASSERT_OK(store->Transact([&](Tx& tx) { return tx.DeleteAccount("a2"); }));
  EXPECT_EQ(db.Query("SELECT account_id FROM sso_identities"),
            (std::vector<std::vector<std::string>>{{"a1"}}));
  // The columns admit their names and sizes only.
  store.reset();
  const std::string hash = "'\\x" + std::string(64, '9') + "'";
  auto insert = [&](const std::string& state_hash, const std::string& kind) {
    db.Exec(
        "INSERT INTO sso_logins (id, state_hash, org_id, nonce, code_verifier, redirect_uri, "
        "client_kind, created_at, expires_at) VALUES ('login-2', " +
        state_hash + ", 'o1', 'n', 'v', 'r', '" + kind + "', 1, 2)");
  };
  EXPECT_THROW(insert("'\\x00'", "cli"), std::runtime_error);
  EXPECT_THROW(insert(hash, "mobile"), std::runtime_error);
  EXPECT_NO_THROW(insert(hash, "cli"));
  // Deleting the organization takes its identities and logins along.
  db.Exec("DELETE FROM orgs WHERE id = 'o1'");
  EXPECT_EQ(db.Query("SELECT count(*) FROM sso_identities")[0][0], "0");
  EXPECT_EQ(db.Query("SELECT count(*) FROM sso_logins")[0][0], "0");
  EXPECT_EQ(db.Query("SELECT count(*) FROM accounts")[0][0], "1");
}

// A version 9 database with a pending sign-in in sso_logins is upgraded in
// place: the sign-in stays, with NULL issuer and subject (read as nullopt),
// and the table then holds tickets too.
TEST(PgMigrationTest, UpgradesVersion9DatabaseWithData) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  ASSERT_GE(LatestVersion(), 10);
  TestDatabase db("v9");
  MigrateTo(db, 9);
  SeedAccountsAndOrg(db);
  db.Exec(
      "INSERT INTO sso_identities (org_id, issuer, subject, account_id, created_at, "
      "last_login_at) VALUES ('o1', 'https://idp.example.com', 'sub-ann', 'a1', 600, 650)");
  db.Exec(
      "INSERT INTO sso_logins (id, state_hash, org_id, nonce, code_verifier, redirect_uri, "
      "client_kind, created_at, expires_at) VALUES ('login-1', '\\x" +
      std::string(64, '0') + "', 'o1', 'n', '" + std::string(43, 'v') +
      "', 'https://vault.example.com/sso/callback', 'web', 600, 1200)");
  auto store = OpenOrFail(db.url());
  ASSERT_NE(store, nullptr);
  auto v = store->SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, LatestVersion());
  // The old row is kept, its new columns NULL (not empty text).
  EXPECT_EQ(db.Query("SELECT id, issuer IS NULL, subject IS NULL FROM sso_logins"),
            (std::vector<std::vector<std::string>>{{"login-1", "t", "t"}}));
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
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto identity, tx.FindSsoIdentityOfAccount("o1", "a1"));
    EXPECT_TRUE(identity.has_value());
    return {};
  }));
  ASSERT_OK(store->Transact([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto taken, tx.TakeSsoLogin(pending.state_hash));
    EXPECT_EQ(taken, std::optional<SsoLogin>(pending));
    if (taken) {
      EXPECT_EQ(taken->issuer, std::nullopt);
      EXPECT_EQ(taken->subject, std::nullopt);
    }
    return tx.InsertSsoLogin(ticket);
  }));
  EXPECT_EQ(
      db.Query("SELECT id, issuer, subject FROM sso_logins"),
      (std::vector<std::vector<std::string>>{{"ticket-1", "https://idp.example.com", "sub-ann"}}));
  ASSERT_OK(store->Transact([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto taken, tx.TakeSsoLogin(ticket.state_hash));
    EXPECT_EQ(taken, std::optional<SsoLogin>(ticket));
    return {};
  }));
}

// A version 10 database with devices, a session and a sign-in ticket in it
// is upgraded in place: the rows stay, trusted_devices starts empty and
// works (and cascades) for the old devices and accounts, and its columns
// admit keys of their sizes only.
TEST(PgMigrationTest, UpgradesVersion10DatabaseWithData) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  ASSERT_GE(LatestVersion(), 11);
  TestDatabase db("v10");
  MigrateTo(db, 10);
  SeedAccountsAndOrg(db);
  db.Exec(
      "INSERT INTO devices (account_id, id, name, type, first_seen, last_seen, active) VALUES "
      "('a1', 'd1', 'laptop', 'cli', 100, 110, 1), ('a1', 'd2', 'phone', 'mobile', 100, 120, 1), "
      "('a2', 'd1', 'web', 'web', 100, 130, 1)");
  db.Exec(
      "INSERT INTO sessions (token_hash, account_id, device_id, created_at, expires_at, revoked) "
      "VALUES ('\\x" +
      std::string(64, '0') + "', 'a1', 'd2', 100, 4000, 0)");
  db.Exec(
      "INSERT INTO sso_logins (id, state_hash, org_id, nonce, code_verifier, redirect_uri, "
      "client_kind, created_at, expires_at, issuer, subject) VALUES ('ticket-1', '\\x" +
      std::string(64, '0') +
      "', 'o1', '', '', '', 'cli', 600, 660, 'https://idp.example.com', 'sub-ann')");
  auto store = OpenOrFail(db.url());
  ASSERT_NE(store, nullptr);
  auto v = store->SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, LatestVersion());
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
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
  ASSERT_OK(store->Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.UpsertTrustedDevice(laptop));
    KW_TRY(tx.UpsertTrustedDevice(phone));
    return tx.UpsertTrustedDevice(web);
  }));
  ASSERT_OK(store->Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto trusted, tx.ListTrustedDevices("a1"));
    EXPECT_EQ(trusted, (std::vector<TrustedDevice>{laptop, phone}));
    KW_ASSIGN_OR_RETURN(auto found, tx.FindTrustedDevice("a2", "d1"));
    EXPECT_EQ(found, std::optional<TrustedDevice>(web));
    return {};
  }));
  EXPECT_EQ(db.Query("SELECT device_id, length(sign_public_key), length(wrapped_vault_key) FROM "
                     "trusted_devices WHERE account_id = 'a1' ORDER BY device_id"),
            (std::vector<std::vector<std::string>>{{"d1", "32", "72"}, {"d2", "32", "72"}}));
  store.reset();
  // The columns admit keys of their sizes only, for an existing device.
  db.Exec(
      "INSERT INTO devices (account_id, id, name, type, first_seen, last_seen, active) VALUES "
      "('a2', 'd2', 'tablet', 'mobile', 800, 800, 1)");
  auto bytes = [](size_t n) { return "'\\x" + std::string(2 * n, '7') + "'"; };
  auto insert = [&](const std::string& device, size_t key, size_t wrapped) {
    db.Exec(
        "INSERT INTO trusted_devices (account_id, device_id, sign_public_key, "
        "wrapped_vault_key, created_at) VALUES ('a2', '" +
        device + "', " + bytes(key) + ", " + bytes(wrapped) + ", 800)");
  };
  EXPECT_THROW(insert("d9", 32, 72), std::runtime_error);
  EXPECT_THROW(insert("d2", 31, 72), std::runtime_error);
  EXPECT_THROW(insert("d2", 33, 72), std::runtime_error);
  EXPECT_THROW(insert("d2", 32, 0), std::runtime_error);
  EXPECT_THROW(insert("d2", 32, 4097), std::runtime_error);
  EXPECT_EQ(db.Query("SELECT count(*) FROM trusted_devices")[0][0], "3");
  EXPECT_NO_THROW(insert("d2", 32, 4096));
  EXPECT_EQ(db.Query("SELECT count(*) FROM trusted_devices")[0][0], "4");
  // Deleting a device takes its trusted device (and its sessions) along.
  db.Exec("DELETE FROM devices WHERE account_id = 'a1' AND id = 'd2'");
  EXPECT_EQ(db.Query("SELECT account_id, device_id FROM trusted_devices ORDER BY 1, 2"),
            (std::vector<std::vector<std::string>>{{"a1", "d1"}, {"a2", "d1"}, {"a2", "d2"}}));
  EXPECT_EQ(db.Query("SELECT count(*) FROM sessions")[0][0], "0");
  // Deleting an account takes its devices and their trusted devices along;
  // the sign-in ticket stays.
  db.Exec("DELETE FROM accounts WHERE id = 'a2'");
  EXPECT_EQ(db.Query("SELECT account_id, device_id FROM trusted_devices"),
            (std::vector<std::vector<std::string>>{{"a1", "d1"}}));
  EXPECT_EQ(db.Query("SELECT count(*) FROM devices")[0][0], "1");
  EXPECT_EQ(db.Query("SELECT count(*) FROM sso_logins")[0][0], "1");
}

TEST(PgMigrationTest, NodesMigratingAFreshDatabaseAtOnceAllSucceed) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  TestDatabase db("race");
  constexpr int kNodes = 4;
  std::latch start(kNodes);
  std::vector<std::string> codes(kNodes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto store = Open(db.url());
      codes[i] = store ? "" : store.error().code() + ": " + store.error().message();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& c : codes) EXPECT_EQ(c, "");
  EXPECT_EQ(db.Query("SELECT count(*) FROM schema_migrations")[0][0],
            std::to_string(postgres::Migrations().size()));
}

TEST(PgMigrationTest, NewerSchemaIsRefused) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  TestDatabase db("newer");
  { ASSERT_NE(OpenOrFail(db.url()), nullptr); }
  db.Exec("INSERT INTO schema_migrations VALUES (" + std::to_string(LatestVersion() + 1) + ", 0)");
  auto store = Open(db.url());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), "store.schema_too_new");
  EXPECT_NE(store.error().message().find("upgrade"), std::string::npos);
}

TEST(PgStoreTest, EmptyBytesStayEmptyNotNull) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  TestDatabase db("bytes");
  auto store = OpenOrFail(db.url());
  ASSERT_NE(store, nullptr);
  Account a = MakeAccount("a1");
  a.salt.clear();
  ASSERT_OK(store->Transact([&](Tx& tx) { return tx.InsertAccount(a); }));
  auto rows =
      db.Query("SELECT salt IS NULL, length(salt), totp_secret_sealed IS NULL FROM accounts");
  EXPECT_EQ(rows[0], (std::vector<std::string>{"f", "0", "t"}));
  ASSERT_OK(store->Read([](Tx& tx) -> Status {
    auto found = tx.FindAccountById("a1");
    if (!found) return Fail(found.error());
    EXPECT_TRUE(found->has_value() && (*found)->salt.empty());
    return {};
  }));
}

// The copier from SQLite relies on this: the same tables with the same
// columns in the same order, INTEGER as bigint, TEXT as text, BLOB as bytea,
// the same NOT NULLs; and TablesInCopyOrder lists every table once, parents
// first.
TEST(PgSchemaTest, MatchesSqliteColumnForColumn) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  TestDatabase db("schema");
  { ASSERT_NE(OpenOrFail(db.url()), nullptr); }
  sqlite3* lite = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &lite), SQLITE_OK);
  for (const auto& m : sqlite::Migrations()) {
    ASSERT_EQ(sqlite3_exec(lite, m.sql, nullptr, nullptr, nullptr), SQLITE_OK) << m.version;
  }
  auto tables = postgres::TablesInCopyOrder();
  auto pg_tables = db.Query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
      "AND table_name <> 'schema_migrations' ORDER BY table_name");
  std::set<std::string> listed(tables.begin(), tables.end());
  EXPECT_EQ(listed.size(), tables.size());
  std::set<std::string> in_pg;
  for (const auto& row : pg_tables) in_pg.insert(row[0]);
  EXPECT_EQ(listed, in_pg);

  for (const auto& table : tables) {
    struct Column {
      std::string name, type, not_null;
      bool operator==(const Column&) const = default;
    };
    std::vector<Column> expected;
    sqlite3_stmt* stmt = nullptr;
    std::string pragma = "PRAGMA table_info(" + table + ")";
    ASSERT_EQ(sqlite3_prepare_v2(lite, pragma.c_str(), -1, &stmt, nullptr), SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string type = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2));
      std::string mapped = type == "INTEGER" ? "bigint" : type == "TEXT" ? "text" : "bytea";
      // A primary key column is NOT NULL in PostgreSQL whatever SQLite says.
      bool not_null = sqlite3_column_int(stmt, 3) != 0 || sqlite3_column_int(stmt, 5) != 0;
      expected.push_back({reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)), mapped,
                          not_null ? "NO" : "YES"});
    }
    sqlite3_finalize(stmt);
    std::vector<Column> actual;
    for (const auto& row :
         db.Query("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                  "WHERE table_schema = 'public' AND table_name = '" +
                  table + "' ORDER BY ordinal_position")) {
      actual.push_back({row[0], row[1], row[2]});
    }
    ASSERT_EQ(actual.size(), expected.size()) << table;
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_EQ(actual[i].name, expected[i].name) << table << " column " << i;
      EXPECT_EQ(actual[i].type, expected[i].type) << table << "." << actual[i].name;
      EXPECT_EQ(actual[i].not_null, expected[i].not_null) << table << "." << actual[i].name;
    }
  }
  sqlite3_close(lite);

  // Parents before children.
  auto fks = db.Query(
      "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
      "WHERE c.contype = 'f'");
  EXPECT_FALSE(fks.empty());
  auto position = [&](const std::string& t) {
    return std::find(tables.begin(), tables.end(), t) - tables.begin();
  };
  for (const auto& fk : fks) {
    EXPECT_LT(position(fk[1]), position(fk[0])) << fk[0] << " references " << fk[1];
  }
}

// ListRequests is served by the (org_id[, status], created_at DESC, id DESC)
// indexes: an Index Scan in the order wanted, no Sort, for every filter
// combination, with the planner's custom and generic plans.
TEST(PgRequestIndexTest, ListRequestsUsesIndexWithoutSort) {
  KEYWARD_REQUIRE_PG_CLUSTER();
  TestDatabase db("plan");
  { ASSERT_NE(OpenOrFail(db.url()), nullptr); }
  db.Exec(R"sql(
    INSERT INTO orgs (id, name, created_at, created_by) VALUES ('o1', 'A', 0, 'a1'), ('o2', 'B', 0, 'a1');
    INSERT INTO accounts (id, email, kdf_ops, kdf_mem, salt, verifier, wrapped_vault_key,
                          public_key, wrapped_private_key, created_at)
      SELECT 'a' || g, 'a' || g || '@x', 1, 1, '', '', '', '', '', 0 FROM generate_series(1, 2000) g;
    INSERT INTO org_members (org_id, account_id, role, permissions, status, joined_at)
      SELECT o, 'a' || g, 'user', '', 'active', 0 FROM generate_series(1, 2000) g, unnest(ARRAY['o1', 'o2']) o;
    INSERT INTO recovery_requests
      SELECT 'r' || o || '_' || g || '_' || k, o, 'a' || g,
             CASE WHEN k = 0 AND o = 'o1' THEN 'pending' ELSE 'expired' END, '', 1, '', '',
             g * 10 + k, 0, 0, '', '', NULL, '', 0
      FROM generate_series(1, 2000) g, generate_series(0, 4) k, unnest(ARRAY['o1', 'o2']) o;
    ANALYZE;
  )sql");
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    for (bool by_status : {false, true}) {
      for (bool after : {false, true}) {
        std::string sql = std::string("SET plan_cache_mode = ") + mode +
                          "; PREPARE q(text, text, bigint, text, bigint) AS " +
                          postgres::ListRequestsSql(by_status, after) +
                          "; EXPLAIN EXECUTE q('o1', 'pending', 15000, 'r', 50)";
        std::string plan;
        for (const auto& row : db.Query(sql)) plan += row[0] + "\n";
        SCOPED_TRACE(std::string(mode) + (by_status ? " status" : "") + (after ? " after" : ""));
        EXPECT_NE(
            plan.find("Index Scan using " + std::string(by_status ? "recovery_requests_org_status"
                                                                  : "recovery_requests_org ")),
            std::string::npos)
            << plan;
        EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
        EXPECT_EQ(plan.find("Backward"), std::string::npos) << plan;
        if (after) {
          // The cursor bounds the index range rather than filtering rows.
          auto row = plan.find("ROW(created_at, id) <");
          ASSERT_NE(row, std::string::npos) << plan;
          auto line = plan.rfind('\n', row);
          EXPECT_NE(plan.substr(line, row - line).find("Index Cond"), std::string::npos) << plan;
        }
      }
    }
  }
}

}  // namespace
}  // namespace keyward::store::testing
