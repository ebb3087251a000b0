#include "store/postgres/pg_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/try.h"
#include "store/postgres/libpq_loader.h"
#include "store/postgres/migrations.h"
#include "store/sql/pool.h"
#include "store/sql/sql_store.h"

namespace keyward::store::postgres {

namespace {

// Type OIDs of the parameters (pg_type.h is not part of libpq's API).
constexpr Oid kInt8 = 20;
constexpr Oid kText = 25;
constexpr Oid kBytea = 17;

constexpr int kMaxAttempts = 10;
constexpr auto kFirstBackoff = std::chrono::microseconds(2000);
constexpr auto kMaxBackoff = std::chrono::microseconds(200'000);
constexpr const char* kDefaultConnectTimeout = "10";

Error BusyError(std::string_view operation) {
  return Error::Unavailable("store.busy",
                            "The database is busy (" + std::string(operation) + "); try again.");
}

Error LostError(std::string_view operation) {
  return Error::Unavailable("store.unavailable", "The connection to the database was lost (" +
                                                     std::string(operation) + ").");
}

struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultClearer>;

// What went wrong in a transaction, beyond the error returned: decides
// whether the store runs the callback again.
enum class Trouble {
  kNone,
  kRetry,  // serialization failure or deadlock: run the whole callback again
  kLost,   // the connection broke
};

// sql with ?N parameters written $N, as PostgreSQL spells them. The SQL of
// the store has no '?' anywhere else.
std::string DollarParameters(std::string_view sql) {
  std::string out(sql);
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '?' && out[i + 1] >= '0' && out[i + 1] <= '9') out[i] = '$';
  }
  return out;
}

// Binds a case-insensitive comparison to the unique index on lower(email).
const sql::Dialect kDialect = {
    .name = "postgres",
    .find_account_by_email =
        "SELECT " KW_SQL_ACCOUNT_COLUMNS " FROM accounts WHERE lower(email) = lower(?1)",
    .list_approvals_of =
        "SELECT request_id, admin_id, created_at FROM recovery_approvals WHERE request_id IN "
        "(SELECT jsonb_array_elements_text(?1::jsonb)) ORDER BY request_id, created_at, admin_id",
    .account_emails =
        "SELECT id, email FROM accounts WHERE id IN (SELECT jsonb_array_elements_text(?1::jsonb))",
};

class Connection;

// One statement of a connection: parameters in binary ($1 is index 1),
// results in binary, all rows at once. Prepared on the server at its first
// run, with the types of that run's parameters.
class PgStatement final : public sql::Statement {
 public:
  PgStatement(Connection& conn, std::string sql) : conn_(conn), sql_(std::move(sql)) {}

  void set_operation(std::string_view op) { op_ = op; }

  void BindText(int i, std::string_view text) override { Set(i, kText, text.data(), text.size()); }
  void BindInt(int i, int64_t v) override {
    uint64_t u = static_cast<uint64_t>(v);
    char be[8];
    for (int k = 7; k >= 0; --k) {
      be[k] = static_cast<char>(u & 0xff);
      u >>= 8;
    }
    Set(i, kInt8, be, sizeof be);
  }
  void BindBlob(int i, std::span<const uint8_t> blob) override {
    Set(i, kBytea, reinterpret_cast<const char*>(blob.data()), blob.size());
  }
  void BindNull(int i, sql::Type type) override {
    Param& p = Slot(i);
    p.type = type == sql::Type::kInt ? kInt8 : type == sql::Type::kBlob ? kBytea : kText;
    p.null = true;
  }

  Result<bool> Step() override {
    if (!result_) KW_TRY(Run());
    ++row_;
    return row_ < PQntuples(result_.get());
  }
  Result<int64_t> Exec() override {
    if (!result_) KW_TRY(Run());
    const char* n = PQcmdTuples(result_.get());
    return n && *n ? std::stoll(n) : 0;
  }

  int ColumnCount() const override { return result_ ? PQnfields(result_.get()) : 0; }
  sql::Type ColumnType(int col) const override {
    if (PQgetisnull(result_.get(), row_, col) != 0) return sql::Type::kNull;
    switch (PQftype(result_.get(), col)) {
      case 20:  // int8
      case 21:  // int2
      case 23:  // int4
      case 16:  // bool
        return sql::Type::kInt;
      case kBytea:
        return sql::Type::kBlob;
      default:
        return sql::Type::kText;
    }
  }
  int64_t Int(int col) const override {
    if (PQgetisnull(result_.get(), row_, col) != 0) return 0;
    const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(result_.get(), row_, col));
    int n = PQgetlength(result_.get(), row_, col);
    uint64_t u = 0;
    for (int k = 0; k < n; ++k) u = (u << 8) | p[k];
    // Sign-extend int2 and int4 (COUNT is int8, a literal 1 is int4).
    if (n > 0 && n < 8 && (p[0] & 0x80) != 0) u |= ~uint64_t{0} << (8 * n);
    return static_cast<int64_t>(u);
  }
  std::string Text(int col) const override {
    if (PQgetisnull(result_.get(), row_, col) != 0) return "";
    return std::string(PQgetvalue(result_.get(), row_, col),
                       static_cast<size_t>(PQgetlength(result_.get(), row_, col)));
  }
  Bytes Blob(int col) const override {
    if (PQgetisnull(result_.get(), row_, col) != 0) return {};
    const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(result_.get(), row_, col));
    return Bytes(p, p + PQgetlength(result_.get(), row_, col));
  }

  void Reset() override {
    result_.reset();
    row_ = -1;
    for (auto& p : params_) {
      p.null = true;
      p.type = kText;
    }
  }

 private:
  struct Param {
    Oid type = kText;  // an unused $n still needs a type
    bool null = true;
    std::string value;
  };

  Param& Slot(int i) {
    if (params_.size() < static_cast<size_t>(i)) params_.resize(static_cast<size_t>(i));
    return params_[static_cast<size_t>(i) - 1];
  }
  void Set(int i, Oid type, const char* data, size_t size) {
    Param& p = Slot(i);
    p.type = type;
    p.null = false;
    p.value.assign(data, size);
  }

  Status Run();

  Connection& conn_;
  std::string sql_;   // with $N parameters
  std::string name_;  // of the server-side prepared statement; empty before the first run
  std::string_view op_;
  std::vector<Param> params_;
  PgResult result_;
  int row_ = -1;
};

class Connection final : public sql::Connection {
 public:
  explicit Connection(PGconn* pg) : pg_(pg) {}
  ~Connection() override {
    cache_.clear();
    PQfinish(pg_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* pg() { return pg_; }
  bool ok() const { return PQstatus(pg_) == CONNECTION_OK; }
  const sql::Dialect& dialect() const override { return kDialect; }

  // Whether an idle connection still works as far as can be told without a
  // round trip: a terminated backend has sent its last words and closed the
  // socket, which PQconsumeInput notices.
  bool LooksAlive() {
    if (!ok()) return false;
    pollfd p{PQsocket(pg_), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      if (PQconsumeInput(pg_) == 0) return false;
      // Anything else unsolicited (a notice) is harmless; the status decides.
    }
    return ok();
  }

  Trouble trouble() const { return trouble_; }
  // Whether the last transaction got as far as sending COMMIT.
  bool commit_sent() const { return commit_sent_; }
  void ResetTrouble() {
    trouble_ = Trouble::kNone;
    commit_sent_ = false;
  }

  // Maps a failed result (or a failure to get one) to a store error and
  // records whether the transaction should be retried or the connection is
  // gone. Logs the SQLSTATE and the primary message only: PostgreSQL's detail
  // quotes key values.
  Error MapError(const PGresult* r, std::string_view op) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string_view sqlstate = state ? state : "";
    if (sqlstate == "40001" || sqlstate == "40P01") {
      trouble_ = Trouble::kRetry;
      return BusyError(op);
    }
    if (!ok() || sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
        sqlstate == "57P03") {
      if (trouble_ != Trouble::kRetry) trouble_ = Trouble::kLost;
      spdlog::warn("postgres: {} failed: the connection was lost ({})", op,
                   sqlstate.empty() ? "no SQLSTATE" : sqlstate);
      return LostError(op);
    }
    if (sqlstate == "23505") return ConflictError(op);
    if (sqlstate == "23503") return NotFoundError(op);
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    last_error_ = primary ? primary : "no message from the server";
    spdlog::error("postgres: {} failed: SQLSTATE {}: {}", op, sqlstate.empty() ? "none" : sqlstate,
                  primary ? primary : "no message from the server");
    return StoreError(op);
  }

  // A fresh name for a server-side prepared statement of this connection.
  std::string NextStatementName() { return "kw" + std::to_string(prepared_++); }

  Result<sql::Statement*> Prepare(const char* sql, std::string_view op) override {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      it = cache_.emplace(sql, std::make_unique<PgStatement>(*this, DollarParameters(sql))).first;
    }
    it->second->set_operation(op);
    return it->second.get();
  }

  Status ExecScript(const char* sql, std::string_view op) override {
    PgResult r(PQexec(pg_, sql));
    if (!r || (PQresultStatus(r.get()) != PGRES_COMMAND_OK &&
               PQresultStatus(r.get()) != PGRES_TUPLES_OK)) {
      return Fail(MapError(r.get(), op));
    }
    return {};
  }

  Status Begin(bool read_only) override {
    return ExecScript(read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                : "BEGIN ISOLATION LEVEL SERIALIZABLE",
                      "begin");
  }

  Status Commit() override {
    if (trouble_ != Trouble::kNone || PQtransactionStatus(pg_) == PQTRANS_INERROR) {
      // The callback went on after a failed statement: PostgreSQL would turn
      // the COMMIT into a ROLLBACK, so this must not look like success.
      Rollback();
      if (trouble_ == Trouble::kNone) {
        spdlog::error("postgres: a transaction went on after a failed statement");
      }
      return Fail(trouble_ == Trouble::kRetry ? BusyError("commit") : StoreError("commit"));
    }
    commit_sent_ = true;
    if (auto s = ExecScript("COMMIT", "commit"); !s) {
      Rollback();
      return s;
    }
    return {};
  }

  void Rollback() override {
    if (ok() && InTransaction()) {
      if (auto s = ExecScript("ROLLBACK", "rollback"); !s)
        spdlog::error("postgres: rollback failed");
    }
  }

  bool InTransaction() const { return PQtransactionStatus(pg_) != PQTRANS_IDLE; }
  // Pool hooks.
  bool Alive() { return LooksAlive(); }
  bool Reusable() const { return ok() && !InTransaction(); }

  std::string LastError() const override {
    std::string text = last_error_.empty() ? PQerrorMessage(pg_) : last_error_;
    for (char& c : text) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
  }

 private:
  PGconn* pg_;
  std::string last_error_;  // the primary message of the last failed statement
  Trouble trouble_ = Trouble::kNone;
  bool commit_sent_ = false;
  int prepared_ = 0;
  std::unordered_map<const char*, std::unique_ptr<PgStatement>> cache_;
};

Status PgStatement::Run() {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params_.size(), 1);
  for (const auto& p : params_) {
    types.push_back(p.type);
    // A non-null pointer with length 0 is an empty value, not NULL.
    values.push_back(p.null ? nullptr : p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
  }
  if (name_.empty()) {
    std::string name = conn_.NextStatementName();
    PgResult r(PQprepare(conn_.pg(), name.c_str(), sql_.c_str(), static_cast<int>(types.size()),
                         types.data()));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
      return Fail(conn_.MapError(r.get(), op_));
    name_ = std::move(name);
  }
  result_.reset(PQexecPrepared(conn_.pg(), name_.c_str(), static_cast<int>(params_.size()),
                               values.data(), lengths.data(), formats.data(), 1));
  auto status = result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error e = conn_.MapError(result_.get(), op_);
    result_.reset();
    return Fail(std::move(e));
  }
  return {};
}

// Where a URL points, for messages, and its password, to strip from them.
struct Target {
  std::string url;
  std::string where;  // "host:port/dbname", never the password
  std::string password;
};

Result<Target> ParseUrl(const std::string& url) {
  // Every path to PostgreSQL starts here: libpq is loaded on first use.
  KW_TRY(LoadLibpq());
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    // libpq's message may quote the URL; it is not repeated.
    if (err != nullptr) PQfreemem(err);
    return Fail(Error::InvalidArgument("store.invalid_url", "The PostgreSQL URL is invalid."));
  }
  std::map<std::string, std::string> values;
  for (auto* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) values[o->keyword] = o->val;
  }
  PQconninfoFree(opts);
  Target t;
  t.url = url;
  t.password = values["password"];
  std::string host =
      values.contains("hostaddr") && !values.contains("host") ? values["hostaddr"] : values["host"];
  t.where = (host.empty() ? "localhost" : host) + ":" +
            (values["port"].empty() ? "5432" : values["port"]) + "/" + values["dbname"];
  return t;
}

// libpq's reason for a failed connection on one line, without the password
// (libpq does not print it; this makes sure). A password too short to strip
// reliably drops the reason instead.
std::string Reason(const Target& t, const char* libpq_message) {
  std::string text = libpq_message ? libpq_message : "";
  for (char& c : text) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (!t.password.empty()) {
    if (t.password.size() < 4) return "see the server log";
    for (auto pos = text.find(t.password); pos != std::string::npos;
         pos = text.find(t.password, pos)) {
      text.replace(pos, t.password.size(), "***");
    }
  }
  return text;
}

void IgnoreNotice(void*, const char*) {}

Result<std::unique_ptr<Connection>> Connect(const Target& t) {
  // Entries before dbname can be overridden by the URL, so its own
  // connect_timeout wins; fallback_application_name only applies if unset.
  const char* keys[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
  const char* values[] = {kDefaultConnectTimeout, t.url.c_str(), "keywardd", nullptr};
  auto conn = std::make_unique<Connection>(PQconnectdbParams(keys, values, 1));
  if (conn->pg() == nullptr || !conn->ok()) {
    std::string reason = Reason(t, conn->pg() ? PQerrorMessage(conn->pg()) : "out of memory");
    spdlog::error("postgres: cannot connect to {}: {}", t.where, reason);
    return Fail(Error::Unavailable("store.unavailable",
                                   "Cannot connect to PostgreSQL at " + t.where + ": " + reason));
  }
  // "relation already exists, skipping" and the like are not for stderr.
  PQsetNoticeProcessor(conn->pg(), IgnoreNotice, nullptr);
  return conn;
}

Status MigrateSchema(Connection& conn) {
  // READ COMMITTED: after waiting for the lock, each statement sees what the
  // node that migrated before committed.
  KW_TRY(conn.ExecScript("BEGIN ISOLATION LEVEL READ COMMITTED", "migrate"));
  auto result = [&]() -> Status {
    KW_ASSIGN_OR_RETURN(auto lock,
                        sql::Prepare(conn, "SELECT pg_advisory_xact_lock(?1)", "migrate"));
    lock.Bind(1, kMigrationLockKey);
    KW_TRY(lock.Exec());
    return sql::ApplyMigrations(conn, Migrations(),
                                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT "
                                "PRIMARY KEY, applied_at BIGINT NOT NULL)",
                                std::time(nullptr));
  }();
  if (!result) {
    conn.Rollback();
    return result;
  }
  return conn.ExecScript("COMMIT", "migrate");
}

class PgStore final : public sql::PooledStore<Connection> {
 public:
  PgStore(Target target, int pool_size)
      : PooledStore(pool_size, [this] { return Connect(target_); }),
        // RunExclusive's connections, outside the pool (so fn's own
        // transactions cannot wait for them even with a pool of one).
        exclusive_(std::numeric_limits<int>::max(), [this] { return Connect(target_); }),
        target_(std::move(target)) {}

  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    auto held = tasks_.TryLock(task);
    if (!held.owns_lock()) return false;
    static constexpr const char* kTryLock = "SELECT pg_try_advisory_lock(?1)";
    static constexpr const char* kUnlock = "SELECT pg_advisory_unlock(?1)";
    const int64_t key = TaskLockKey(task);
    std::optional<sql::Pool<Connection>::Lease> conn;
    bool got = false;
    for (int attempt = 0; attempt < 2 && !conn; ++attempt) {
      KW_ASSIGN_OR_RETURN(auto lease, exclusive_.Acquire());
      KW_ASSIGN_OR_RETURN(auto s, sql::Prepare(*lease, kTryLock, "run exclusive"));
      s.Bind(1, key);
      auto row = s.Step();
      if (row && *row) {
        got = s.Int(0) != 0;
        conn.emplace(std::move(lease));
      } else if (lease->ok() || attempt == 1) {
        return Fail(row ? StoreError("run exclusive") : row.error());
      }
      // Else the connection was dead: once more on a fresh one.
    }
    if (!got) return false;
    Status result = fn();
    bool released = false;
    if (auto s = sql::Prepare(**conn, kUnlock, "run exclusive"); s) {
      s->Bind(1, key);
      auto row = s->Step();
      released = row && *row && s->Int(0) != 0;
    }
    if (!released) {
      // Closing the session releases whatever it still holds.
      spdlog::warn("postgres: could not release the lock of task {}; closing its connection", task);
      conn->Discard();
    }
    KW_TRY(result);
    return true;
  }

 private:
  Status Migrate(Connection& conn) override { return MigrateSchema(conn); }

  Status Run(const std::function<Status(Tx&)>& fn, bool read_only) override {
    bool reconnected = false;
    auto backoff = kFirstBackoff;
    for (int attempt = 1;; ++attempt) {
      Trouble trouble = Trouble::kNone;
      Status result;
      {
        KW_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        Connection& conn = *lease;
        result = sql::RunTransaction(conn, fn, read_only);
        trouble = conn.trouble();
        bool committing = conn.commit_sent();
        conn.ResetTrouble();
        if (!conn.ok()) trouble = Trouble::kLost;
        if (trouble == Trouble::kLost) {
          lease.Discard();
          // A COMMIT whose answer was lost may have happened: not repeated.
          if (result || committing || reconnected) return result;
        }
      }
      if (trouble == Trouble::kLost) {
        spdlog::warn("postgres: connection lost; running the transaction again on a new one");
        reconnected = true;
        pool_.DropIdle();
        continue;
      }
      if (trouble != Trouble::kRetry) return result;
      if (attempt >= kMaxAttempts) {
        spdlog::warn("postgres: a transaction failed to serialize {} times", attempt);
        return Fail(BusyError("transaction"));
      }
      thread_local std::minstd_rand rng{std::random_device{}()};
      std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
      std::this_thread::sleep_for(std::chrono::microseconds(jitter(rng)));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  sql::Pool<Connection> exclusive_;
  Target target_;
};

}  // namespace

std::string ListRequestsSql(bool by_status, bool after_cursor) {
  return DollarParameters(sql::ListRequestsSql(by_status, after_cursor));
}

std::vector<std::string> TablesInCopyOrder() {
  return {"accounts",           "email_codes",    "devices",
          "sessions",           "items",          "totp_recovery_codes",
          "rate_limits",        "orgs",           "org_members",
          "org_invites",        "org_events",     "org_statements",
          "org_grants",         "escrows",        "recovery_requests",
          "recovery_approvals", "server_meta",    "pairings",
          "snapshots",          "snapshot_parts", "staged_items",
          "sso_identities",     "sso_logins",     "trusted_devices",
          "mail_queue"};
}

int64_t TaskLockKey(std::string_view task) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  auto mix = [&](std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ull;
    }
  };
  mix("keyward.task:");
  mix(task);
  return static_cast<int64_t>(h);
}

Result<std::unique_ptr<sql::Connection>> Connect(const std::string& url) {
  KW_ASSIGN_OR_RETURN(auto target, ParseUrl(url));
  KW_ASSIGN_OR_RETURN(auto conn, Connect(target));
  return std::unique_ptr<sql::Connection>(std::move(conn));
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url, int pool_size) {
  auto target = ParseUrl(url);
  if (!target) return Fail(target.error());
  auto store = std::make_unique<PgStore>(std::move(*target), pool_size < 1 ? 1 : pool_size);
  if (auto s = store->Init(); !s) return Fail(s.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace keyward::store::postgres
