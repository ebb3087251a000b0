#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/try.h"
#include "store/sql/pool.h"
#include "store/sql/sql_store.h"
#include "store/sqlite/migrations.h"

namespace keyward::store::sqlite {

namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr int kBusyRetries = 5;

Error BusyError(std::string_view operation) {
  return Error::Unavailable("store.busy",
                            "The database is busy (" + std::string(operation) + "); try again.");
}

// Maps an SQLite result code to a store error; logs the SQLite message,
// which names tables and constraints but never bound values.
Error MapError(sqlite3* db, int rc, std::string_view operation) {
  int primary = rc & 0xff;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return NotFoundError(operation);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return ConflictError(operation);
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return BusyError(operation);
  spdlog::error("sqlite: {} failed: {} ({})", operation, db ? sqlite3_errmsg(db) : "no handle", rc);
  return StoreError(operation);
}

// A prepared statement of the connection's cache.
class SqliteStatement final : public sql::Statement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void set_operation(std::string_view op) { op_ = op; }
  bool read_only() const { return sqlite3_stmt_readonly(stmt_) != 0; }

  void BindInt(int i, int64_t v) override { sqlite3_bind_int64(stmt_, i, v); }
  void BindText(int i, std::string_view text) override {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, std::span<const uint8_t> blob) override {
    // A zero-length blob must stay a blob, not NULL.
    static const uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, i, blob.empty() ? &kEmpty : blob.data(), static_cast<int>(blob.size()),
                      SQLITE_TRANSIENT);
  }
  void BindNull(int i, sql::Type) override { sqlite3_bind_null(stmt_, i); }

  Result<bool> Step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Fail(MapError(db_, sqlite3_extended_errcode(db_), op_));
  }
  Result<int64_t> Exec() override {
    for (;;) {
      KW_ASSIGN_OR_RETURN(bool row, Step());
      if (!row) break;
    }
    return sqlite3_changes64(db_);
  }

  int ColumnCount() const override { return sqlite3_column_count(stmt_); }
  sql::Type ColumnType(int col) const override {
    switch (sqlite3_column_type(stmt_, col)) {
      case SQLITE_NULL:
        return sql::Type::kNull;
      case SQLITE_INTEGER:
        return sql::Type::kInt;
      case SQLITE_BLOB:
        return sql::Type::kBlob;
      default:
        return sql::Type::kText;  // TEXT (REAL is not used by the schema)
    }
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const override {
    const auto* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : "";
  }
  Bytes Blob(int col) const override {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? Bytes(p, p + n) : Bytes{};
  }

  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string_view op_;
};

// The column of the accounts table is COLLATE NOCASE, so a plain comparison
// is case-insensitive and uses the column's unique index.
const sql::Dialect kDialect = {
    .name = "sqlite",
    .find_account_by_email =
        "SELECT " KW_SQL_ACCOUNT_COLUMNS " FROM accounts WHERE email = ?1 COLLATE NOCASE",
    .list_approvals_of =
        "SELECT request_id, admin_id, created_at FROM recovery_approvals WHERE request_id IN "
        "(SELECT value FROM json_each(?1)) ORDER BY request_id, created_at, admin_id",
    .account_emails =
        "SELECT id, email FROM accounts WHERE id IN (SELECT value FROM json_each(?1))",
};

class Connection final : public sql::Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  ~Connection() override {
    cache_.clear();  // finalizes every statement before the close
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() { return db_; }
  // Pool hooks: a SQLite connection stays usable.
  bool Alive() const { return true; }
  bool Reusable() const { return true; }
  const sql::Dialect& dialect() const override { return kDialect; }

  Result<sql::Statement*> Prepare(const char* sql, std::string_view op) override {
    SqliteStatement* statement = nullptr;
    if (auto it = cache_.find(sql); it != cache_.end()) {
      statement = it->second.get();
    } else {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return Fail(MapError(db_, rc, op));
      auto owned = std::make_unique<SqliteStatement>(db_, stmt);
      statement = owned.get();
      cache_.emplace(sql, std::move(owned));
    }
    if (read_only_ && !statement->read_only()) {
      spdlog::error("sqlite: {} attempted a write in a read-only transaction", op);
      return Fail(StoreError(op));
    }
    statement->set_operation(op);
    return statement;
  }

  Status ExecScript(const char* sql, std::string_view op) override {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Fail(MapError(db_, sqlite3_extended_errcode(db_), op));
    return {};
  }

  std::string LastError() const override { return sqlite3_errmsg(db_); }

  Status Begin(bool read_only) override {
    // IMMEDIATE takes the write lock up front, so two writers never both
    // read and then fail to upgrade (which busy_timeout cannot resolve).
    KW_TRY(ExecScript(read_only ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE", "begin"));
    read_only_ = read_only;
    return {};
  }

  Status Commit() override {
    read_only_ = false;
    if (auto s = ExecScript("COMMIT", "commit"); !s) {
      Rollback();
      return s;
    }
    return {};
  }

  void Rollback() override {
    read_only_ = false;
    if (sqlite3_get_autocommit(db_) == 0) {
      if (auto s = ExecScript("ROLLBACK", "rollback"); !s) spdlog::error("sqlite: rollback failed");
    }
  }

 private:
  sqlite3* db_;
  bool read_only_ = false;
  std::unordered_map<const char*, std::unique_ptr<SqliteStatement>> cache_;
};

Result<std::unique_ptr<Connection>> OpenConnection(const std::string& path,
                                                   bool read_only = false) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  auto conn = std::make_unique<Connection>(db);  // closes db on every path
  if (rc != SQLITE_OK) return Fail(MapError(db, rc, "open"));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  if (read_only) return conn;
  // WAL lets readers run beside the single writer; synchronous=FULL fsyncs
  // the WAL at every commit, so an acknowledged write survives a crash.
  const char* pragmas = path == ":memory:" ? "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"
                                           : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                             "PRAGMA foreign_keys=ON;";
  KW_TRY(conn->ExecScript(pragmas, "open"));
  return conn;
}

// Group commit (issue 16). SQLite has one writer at a time and every commit
// waits for an fsync: write transactions taken one by one queue on the lock
// (the busy handler sleeping 1-100 ms at a time) and pay one fsync each. Here
// each write is queued instead; the first caller to find no batch running
// leads: it takes every queued write (up to kMaxBatch), runs each in a
// savepoint of one transaction (sql::RunBatch) and commits once, while the
// writes that arrive meanwhile queue for the next batch. No caller returns
// before the commit of its write is durable (synchronous=FULL).
class GroupCommit {
 public:
  using Fn = std::function<Status(Tx&)>;
  using RunFn = std::function<void(std::span<const Fn* const>, std::span<Status>)>;
  static constexpr size_t kMaxBatch = 64;

  explicit GroupCommit(RunFn run) : run_(std::move(run)) {}

  Status Submit(const Fn& fn) {
    Job job{&fn, {}, false};
    std::unique_lock lock(mu_);
    queue_.push_back(&job);
    while (!job.done) {
      if (leading_) {
        cv_.wait(lock);
        continue;
      }
      leading_ = true;
      std::vector<Job*> batch;
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
      lock.unlock();
      std::vector<const Fn*> fns;
      fns.reserve(batch.size());
      for (Job* j : batch) fns.push_back(j->fn);
      std::vector<Status> results(batch.size());
      run_(fns, results);
      writes_ += static_cast<int64_t>(batch.size());
      ++commits_;
      lock.lock();
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->result = std::move(results[i]);
        batch[i]->done = true;
      }
      leading_ = false;
      cv_.notify_all();
    }
    return std::move(job.result);
  }

  WriteStats Stats() const { return {writes_.load(), commits_.load()}; }

 private:
  struct Job {
    const Fn* fn;
    Status result;
    bool done;
  };

  const RunFn run_;
  std::atomic<int64_t> writes_{0};
  std::atomic<int64_t> commits_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job*> queue_;
  bool leading_ = false;
};

class SqliteStore final : public sql::PooledStore<Connection> {
 public:
  SqliteStore(const std::string& path, int pool_size)
      : PooledStore(pool_size, [path] { return OpenConnection(path); }),
        writes_([this](std::span<const GroupCommit::Fn* const> fns, std::span<Status> results) {
          auto lease = pool_.Acquire();
          if (!lease) {
            for (auto& r : results) r = Fail(lease.error());
            return;
          }
          sql::RunBatch(**lease, fns, results);
        }) {}

  // One process per database file: the process-wide lock is enough.
  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    auto held = tasks_.TryLock(task);
    if (!held.owns_lock()) return false;
    KW_TRY(fn());
    return true;
  }

 private:
  Status Run(const std::function<Status(Tx&)>& fn, bool read_only) override {
    for (int attempt = 0;; ++attempt) {
      Status result;
      if (read_only) {
        KW_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        result = sql::RunTransaction(*lease, fn, true);
      } else {
        result = writes_.Submit(fn);
      }
      if (result || result.error().code() != "store.busy" || attempt + 1 >= kBusyRetries) {
        return result;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt));
    }
  }

  Status Migrate(Connection& conn) override {
    KW_TRY(conn.Begin(false));
    Status result = sql::ApplyMigrations(
        conn, Migrations(),
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at INTEGER NOT NULL)",
        std::time(nullptr));
    if (!result) {
      conn.Rollback();
      return result;
    }
    return conn.Commit();
  }

  GroupCommit writes_;

 public:
  WriteStats Stats() const { return writes_.Stats(); }
};

}  // namespace

WriteStats WriteStatsOf(Store& store) {
  auto* sqlite = dynamic_cast<SqliteStore*>(&store);
  return sqlite != nullptr ? sqlite->Stats() : WriteStats{};
}

std::string ListRequestsSql(bool by_status, bool after_cursor) {
  return sql::ListRequestsSql(by_status, after_cursor);
}

Result<std::unique_ptr<sql::Connection>> Connect(const std::string& path, bool read_only) {
  KW_ASSIGN_OR_RETURN(auto conn, OpenConnection(path, read_only));
  return std::unique_ptr<sql::Connection>(std::move(conn));
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, int pool_size) {
  // Each connection to ":memory:" would be a different database.
  if (path == ":memory:") pool_size = 1;
  auto store = std::make_unique<SqliteStore>(path, pool_size < 1 ? 1 : pool_size);
  KW_TRY(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace keyward::store::sqlite
