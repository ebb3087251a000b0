#include "server/migrate.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "store/store.h"

namespace keyward::server {

const char kMigrateUsage[] =
    "Usage: keywardd migrate --from sqlite:PATH --to postgresql://USER@HOST:PORT/DB [--json]\n"
    "\n"
    "Copies a whole Keyward installation from its SQLite database into an empty\n"
    "PostgreSQL database, in one transaction, then checks row counts and every\n"
    "organization's event chain. Stop keywardd first; keep server.key and\n"
    "recovery.key (the data directory) for the new server. The source is not modified\n"
    "beyond bringing it to the current schema. Pass the password in ~/.pgpass or\n"
    "PGPASSWORD rather than in the URL (the URL is visible to other users in ps).\n"
    "\n"
    "  --from URL   the source database (sqlite:PATH; the file must exist)\n"
    "  --to URL     the target database (postgresql://...; empty or new)\n"
    "  --json       print one JSON object with per-table counts at the end\n";

namespace {

constexpr std::string_view kSchemaTable = "schema_migrations";
constexpr size_t kCopyChunk = 1 << 20;
constexpr int64_t kProgressEvery = 50'000;
constexpr int64_t kEventPage = 1000;

Error BadUrl(std::string message) {
  return Error::InvalidArgument("migrate.bad_url", std::move(message));
}
Error CopyFailed(std::string message) {
  return Error::Internal("migrate.copy_failed", std::move(message));
}
Error SchemaMismatch(std::string message) {
  return Error::Internal("migrate.schema_mismatch", std::move(message));
}
Error VerifyFailed(std::string message) {
  return Error::Internal("migrate.verify_failed", std::move(message));
}

// Database messages may span lines (libpq adds DETAIL / HINT lines): the
// command's error stays one line.
std::string OneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string ColumnList(const std::vector<std::string>& columns) {
  std::string out;
  for (const auto& c : columns) {
    if (!out.empty()) out += ", ";
    out += QuoteIdent(c);
  }
  return out;
}

// ---- the source: one SQLite read transaction ----

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

struct SourceColumn {
  std::string name;
  std::string type;  // declared type, upper case: INTEGER, TEXT, BLOB
};

struct SourceTable {
  std::string name;
  std::vector<SourceColumn> columns;
  std::set<std::string> parents;  // tables its foreign keys reference
};

class SqliteSnapshot {
 public:
  // Opens `path` read-only (never creating it) and starts the read
  // transaction every later call runs in.
  static Result<SqliteSnapshot> Open(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    SqliteSnapshot snapshot{SqliteDb(raw)};
    if (rc != SQLITE_OK) {
      return Fail(CopyFailed("cannot open the source database read-only: " +
                             std::string(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))));
    }
    sqlite3_busy_timeout(raw, 5000);
    // A WAL reader's snapshot starts at its first read, so read right away.
    if (auto s = snapshot.Exec("BEGIN"); !s) return Fail(s.error());
    if (auto s = snapshot.Exec("SELECT count(*) FROM sqlite_schema"); !s) return Fail(s.error());
    return snapshot;
  }

  Result<std::vector<SourceTable>> Tables() {
    auto names = Prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name");
    if (!names) return Fail(names.error());
    std::vector<SourceTable> tables;
    int rc;
    while ((rc = sqlite3_step(names->get())) == SQLITE_ROW) {
      std::string name = Text(names->get(), 0);
      if (name == kSchemaTable) continue;
      tables.push_back({name, {}, {}});
    }
    if (rc != SQLITE_DONE) return Fail(Failure("listing the source tables"));
    for (auto& table : tables) {
      auto info = Prepare("SELECT name, upper(type) FROM pragma_table_info(?1) ORDER BY cid");
      if (!info) return Fail(info.error());
      sqlite3_bind_text(info->get(), 1, table.name.c_str(), -1, SQLITE_TRANSIENT);
      while ((rc = sqlite3_step(info->get())) == SQLITE_ROW) {
        table.columns.push_back({Text(info->get(), 0), Text(info->get(), 1)});
      }
      if (rc != SQLITE_DONE) return Fail(Failure("reading the columns of " + table.name));
      auto keys = Prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)");
      if (!keys) return Fail(keys.error());
      sqlite3_bind_text(keys->get(), 1, table.name.c_str(), -1, SQLITE_TRANSIENT);
      while ((rc = sqlite3_step(keys->get())) == SQLITE_ROW) {
        std::string parent = Text(keys->get(), 0);
        if (parent != table.name) table.parents.insert(parent);
      }
      if (rc != SQLITE_DONE) return Fail(Failure("reading the foreign keys of " + table.name));
    }
    return tables;
  }

  Result<int64_t> Count(const std::string& table) {
    auto s = Prepare("SELECT count(*) FROM " + QuoteIdent(table));
    if (!s) return Fail(s.error());
    if (sqlite3_step(s->get()) != SQLITE_ROW) return Fail(Failure("counting " + table));
    return sqlite3_column_int64(s->get(), 0);
  }

  // Steps through `SELECT columns FROM table`; fn sees each row's statement.
  template <class Fn>
  Status ForEachRow(const std::string& table, const std::vector<std::string>& columns, Fn&& fn) {
    auto s = Prepare("SELECT " + ColumnList(columns) + " FROM " + QuoteIdent(table));
    if (!s) return Fail(s.error());
    int rc;
    while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
      if (auto status = fn(s->get()); !status) return status;
    }
    if (rc != SQLITE_DONE) return Fail(Failure("reading " + table));
    return {};
  }

  // (seq, hash) of every organization's events, by organization id then seq.
  Result<std::map<std::string, std::vector<std::pair<int64_t, std::string>>>> EventChains() {
    std::map<std::string, std::vector<std::pair<int64_t, std::string>>> chains;
    auto orgs = Prepare("SELECT id FROM orgs ORDER BY id");
    if (!orgs) return Fail(orgs.error());
    int rc;
    while ((rc = sqlite3_step(orgs->get())) == SQLITE_ROW) chains[Text(orgs->get(), 0)];
    if (rc != SQLITE_DONE) return Fail(Failure("listing organizations"));
    auto events = Prepare("SELECT org_id, seq, hash FROM org_events ORDER BY org_id, seq");
    if (!events) return Fail(events.error());
    while ((rc = sqlite3_step(events->get())) == SQLITE_ROW) {
      sqlite3_stmt* s = events->get();
      const auto* hash = static_cast<const char*>(sqlite3_column_blob(s, 2));
      chains[Text(s, 0)].emplace_back(
          sqlite3_column_int64(s, 1),
          std::string(hash ? hash : "", static_cast<size_t>(sqlite3_column_bytes(s, 2))));
    }
    if (rc != SQLITE_DONE) return Fail(Failure("reading events"));
    return chains;
  }

 private:
  explicit SqliteSnapshot(SqliteDb db) : db_(std::move(db)) {}

  static std::string Text(sqlite3_stmt* s, int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : "";
  }
  Error Failure(const std::string& what) const {
    return CopyFailed("the source database failed " + what + ": " +
                      OneLine(sqlite3_errmsg(db_.get())));
  }
  Result<SqliteStmt> Prepare(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      return Fail(Failure("preparing a query"));
    }
    return SqliteStmt(raw);
  }
  Status Exec(const char* sql) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Fail(Failure("starting a read transaction"));
    }
    return {};
  }

  SqliteDb db_;
};

// Parents before children (Kahn's algorithm; ties by name, so the order is
// stable). Only references between copied tables count.
Result<std::vector<SourceTable>> CopyOrder(std::vector<SourceTable> tables) {
  std::map<std::string, SourceTable> pending;
  for (auto& t : tables) pending.emplace(t.name, std::move(t));
  std::vector<SourceTable> ordered;
  while (!pending.empty()) {
    auto ready = std::find_if(pending.begin(), pending.end(), [&](const auto& entry) {
      return std::none_of(entry.second.parents.begin(), entry.second.parents.end(),
                          [&](const std::string& p) { return pending.contains(p); });
    });
    if (ready == pending.end()) {
      return Fail(SchemaMismatch("the source tables' foreign keys form a cycle"));
    }
    ordered.push_back(std::move(ready->second));
    pending.erase(ready);
  }
  return ordered;
}

// ---- the target: one PostgreSQL connection ----

struct PgCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgCloser>;
using PgResult = std::unique_ptr<PGresult, PgClearer>;

enum class PgType { kInt8, kInt4, kInt2, kBool, kText, kBytea };

struct TargetColumn {
  std::string name;
  PgType type;
  std::string type_name;
};

class PgTarget {
 public:
  static Result<PgTarget> Connect(const std::string& url) {
    PgTarget target(PgConn(PQconnectdb(url.c_str())));
    if (PQstatus(target.conn_.get()) != CONNECTION_OK) {
      return Fail(Error::Unavailable(
          "migrate.open_failed",
          "cannot connect to the target database: " + OneLine(PQerrorMessage(target.conn_.get()))));
    }
    // Notices (e.g. from triggers) must not reach the terminal.
    PQsetNoticeProcessor(
        target.conn_.get(), [](void*, const char*) {}, nullptr);
    if (PQsetClientEncoding(target.conn_.get(), "UTF8") != 0) {
      return Fail(target.Failure("setting the client encoding"));
    }
    return target;
  }

  Status Exec(const std::string& sql, const std::string& what) {
    PgResult r(PQexec(conn_.get(), sql.c_str()));
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      return Fail(Failure(what, r.get()));
    return {};
  }

  Result<PgResult> Query(const std::string& sql, const std::vector<std::string>& params,
                         const std::string& what) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PgResult r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return Fail(Failure(what, r.get()));
    return r;
  }

  // Every base table of the current schema with its columns in order.
  Result<std::map<std::string, std::vector<TargetColumn>>> Tables() {
    auto r = Query(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND "
        "t.table_name = c.table_name "
        "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position",
        {}, "listing the target tables");
    if (!r) return Fail(r.error());
    std::map<std::string, std::vector<TargetColumn>> tables;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      std::string type_name = PQgetvalue(r->get(), i, 2);
      auto type = ParseType(type_name);
      if (!type) {
        return Fail(SchemaMismatch("the target column " + std::string(PQgetvalue(r->get(), i, 0)) +
                                   "." + PQgetvalue(r->get(), i, 1) + " has the unsupported type " +
                                   type_name));
      }
      tables[PQgetvalue(r->get(), i, 0)].push_back({PQgetvalue(r->get(), i, 1), *type, type_name});
    }
    return tables;
  }

  Result<int64_t> Count(const std::string& table) {
    auto r = Query("SELECT count(*) FROM " + QuoteIdent(table), {}, "counting " + table);
    if (!r) return Fail(r.error());
    return std::stoll(PQgetvalue(r->get(), 0, 0));
  }

  Result<bool> HasRows(const std::string& table) {
    auto r =
        Query("SELECT EXISTS (SELECT 1 FROM " + QuoteIdent(table) + ")", {}, "reading " + table);
    if (!r) return Fail(r.error());
    return std::string_view(PQgetvalue(r->get(), 0, 0)) == "t";
  }

  bool StartCopy(const std::string& sql) {
    PgResult r(PQexec(conn_.get(), sql.c_str()));
    if (PQresultStatus(r.get()) == PGRES_COPY_IN) return true;
    last_error_ = r ? OneLine(PQresultErrorMessage(r.get())) : OneLine(PQerrorMessage(conn_.get()));
    return false;
  }
  bool Put(const std::string& data) {
    return PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) == 1;
  }
  // Ends the COPY (aborting it with `abort_reason`); returns the rows the
  // server stored, or the server's error.
  Result<int64_t> EndCopy(const char* abort_reason, const std::string& table) {
    if (PQputCopyEnd(conn_.get(), abort_reason) != 1) return Fail(Failure("copying " + table));
    std::optional<Error> error;
    int64_t stored = -1;
    while (PGresult* raw = PQgetResult(conn_.get())) {
      PgResult r(raw);
      if (PQresultStatus(raw) == PGRES_COMMAND_OK) {
        stored = std::stoll(PQcmdTuples(raw));
      } else if (!error) {
        error = Failure("copying " + table, raw);
      }
    }
    if (error) return Fail(*error);
    return stored;
  }

  Error Failure(const std::string& what, const PGresult* r = nullptr) const {
    std::string message = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get());
    if (!last_error_.empty() && message.empty()) message = last_error_;
    return CopyFailed("the target database failed " + what + ": " + OneLine(message));
  }

 private:
  explicit PgTarget(PgConn conn) : conn_(std::move(conn)) {}

  static std::optional<PgType> ParseType(std::string_view name) {
    if (name == "bigint") return PgType::kInt8;
    if (name == "integer") return PgType::kInt4;
    if (name == "smallint") return PgType::kInt2;
    if (name == "boolean") return PgType::kBool;
    if (name == "text" || name == "character varying") return PgType::kText;
    if (name == "bytea") return PgType::kBytea;
    return std::nullopt;
  }

  PgConn conn_;
  std::string last_error_;
};

// ---- COPY binary format (PostgreSQL docs, "COPY", "Binary Format") ----

void PutBE(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

constexpr char kCopySignature[] = "PGCOPY\n\377\r\n";  // + its terminating NUL: 11 bytes

void PutCopyHeader(std::string& out) {
  out.append(kCopySignature, sizeof kCopySignature);
  PutBE(out, 0, 4);  // flags
  PutBE(out, 0, 4);  // header extension length
}

// Appends one field of row `s`, column `i`, as `column` expects it.
Status PutField(std::string& out, sqlite3_stmt* s, int i, const TargetColumn& column,
                const std::string& table) {
  int kind = sqlite3_column_type(s, i);
  if (kind == SQLITE_NULL) {
    PutBE(out, 0xffffffffu, 4);  // -1: NULL
    return {};
  }
  auto mismatch = [&](const char* stored) {
    return Fail(SchemaMismatch("the source column " + table + "." + column.name + " holds " +
                               stored + " where the target expects " + column.type_name));
  };
  switch (column.type) {
    case PgType::kInt8:
    case PgType::kInt4:
    case PgType::kInt2:
    case PgType::kBool: {
      if (kind != SQLITE_INTEGER) return mismatch(kind == SQLITE_TEXT ? "text" : "a non-integer");
      int64_t v = sqlite3_column_int64(s, i);
      int bytes = column.type == PgType::kInt8   ? 8
                  : column.type == PgType::kInt4 ? 4
                  : column.type == PgType::kInt2 ? 2
                                                 : 1;
      if (column.type == PgType::kBool) {
        if (v != 0 && v != 1) return mismatch("an integer other than 0 or 1");
      } else if (bytes < 8) {
        int64_t limit = int64_t{1} << (8 * bytes - 1);
        if (v < -limit || v >= limit) return mismatch("an integer out of range");
      }
      PutBE(out, static_cast<uint64_t>(bytes), 4);
      PutBE(out, static_cast<uint64_t>(v), bytes);
      return {};
    }
    case PgType::kText: {
      if (kind != SQLITE_TEXT) return mismatch(kind == SQLITE_BLOB ? "a blob" : "a number");
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
      auto n = static_cast<size_t>(sqlite3_column_bytes(s, i));
      PutBE(out, n, 4);
      out.append(p ? p : "", n);
      return {};
    }
    case PgType::kBytea: {
      // A BLOB column of a STRICT table holds blobs only; older rows may
      // still carry text, copied byte for byte.
      if (kind != SQLITE_BLOB && kind != SQLITE_TEXT) return mismatch("a number");
      const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
      auto n = static_cast<size_t>(sqlite3_column_bytes(s, i));
      PutBE(out, n, 4);
      out.append(p ? p : "", n);
      return {};
    }
  }
  return {};
}

// Whether a source column's declared type fits the target's.
bool Compatible(const std::string& source_type, PgType target) {
  switch (target) {
    case PgType::kInt8:
    case PgType::kInt4:
    case PgType::kInt2:
    case PgType::kBool:
      return source_type.find("INT") != std::string::npos;
    case PgType::kText:
      return source_type == "TEXT" || source_type.find("CHAR") != std::string::npos;
    case PgType::kBytea:
      return source_type == "BLOB" || source_type.empty();
  }
  return false;
}

// Source columns in source order, each with its target column; refuses any
// column present on one side only or whose types disagree.
Result<std::vector<TargetColumn>> MatchColumns(const SourceTable& source,
                                               const std::vector<TargetColumn>& target) {
  std::vector<TargetColumn> matched;
  for (const auto& column : source.columns) {
    auto it = std::find_if(target.begin(), target.end(),
                           [&](const TargetColumn& t) { return t.name == column.name; });
    if (it == target.end()) {
      return Fail(
          SchemaMismatch("the target table " + source.name + " has no column " + column.name));
    }
    if (!Compatible(column.type, it->type)) {
      return Fail(SchemaMismatch("the column " + source.name + "." + column.name + " is " +
                                 column.type + " in the source but " + it->type_name +
                                 " in the target"));
    }
    matched.push_back(*it);
  }
  for (const auto& column : target) {
    if (std::none_of(source.columns.begin(), source.columns.end(),
                     [&](const SourceColumn& c) { return c.name == column.name; })) {
      return Fail(
          SchemaMismatch("the source table " + source.name + " has no column " + column.name));
    }
  }
  return matched;
}

void Progress(std::FILE* out, const std::string& table, int64_t done, int64_t total) {
  if (out == nullptr) return;
  std::fprintf(out, "%s: %lld/%lld\n", table.c_str(), static_cast<long long>(done),
               static_cast<long long>(total));
  std::fflush(out);
}

// Streams one table into the open COPY; returns the rows sent.
Result<int64_t> CopyTable(SqliteSnapshot& source, PgTarget& target, const SourceTable& table,
                          const std::vector<TargetColumn>& columns, int64_t total,
                          std::FILE* progress) {
  std::vector<std::string> names;
  for (const auto& c : table.columns) names.push_back(c.name);
  if (!target.StartCopy("COPY " + QuoteIdent(table.name) + " (" + ColumnList(names) +
                        ") FROM STDIN (FORMAT binary)")) {
    return Fail(target.Failure("starting the copy of " + table.name));
  }
  std::string buffer;
  PutCopyHeader(buffer);
  int64_t sent = 0;
  bool put_failed = false;
  auto status = source.ForEachRow(table.name, names, [&](sqlite3_stmt* s) -> Status {
    PutBE(buffer, columns.size(), 2);
    for (size_t i = 0; i < columns.size(); ++i) {
      if (auto st = PutField(buffer, s, static_cast<int>(i), columns[i], table.name); !st) {
        return st;
      }
    }
    ++sent;
    if (buffer.size() >= kCopyChunk) {
      if (!target.Put(buffer)) {
        put_failed = true;
        return Fail(target.Failure("copying " + table.name));
      }
      buffer.clear();
    }
    if (sent % kProgressEvery == 0 && sent < total) Progress(progress, table.name, sent, total);
    return {};
  });
  if (status) {
    PutBE(buffer, 0xffff, 2);  // trailer: -1
    if (!target.Put(buffer)) {
      put_failed = true;
      status = Fail(target.Failure("copying " + table.name));
    }
  }
  auto stored =
      target.EndCopy(status ? nullptr : "keywardd migrate: source read failed", table.name);
  if (!status) {
    // The server's own message (a constraint, a trigger) explains a failed put best.
    if (put_failed && !stored) return Fail(stored.error());
    return Fail(status.error());
  }
  if (!stored) return Fail(stored.error());
  if (*stored != sent) {
    return Fail(CopyFailed("the target stored " + std::to_string(*stored) + " rows of " +
                           table.name + " but " + std::to_string(sent) + " were sent"));
  }
  Progress(progress, table.name, sent, total);
  return sent;
}

// Moves every identity / serial sequence past the largest copied value, so
// the next insert does not collide with a copied id.
Result<int64_t> AdvanceSequences(PgTarget& target) {
  auto r = target.Query(
      "SELECT table_name, column_name, "
      "pg_get_serial_sequence(format('%I.%I', table_schema, table_name), column_name) "
      "FROM information_schema.columns WHERE table_schema = current_schema() "
      "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') ORDER BY 1, 2",
      {}, "listing sequences");
  if (!r) return Fail(r.error());
  int64_t advanced = 0;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    if (PQgetisnull(r->get(), i, 2)) continue;
    std::string table = PQgetvalue(r->get(), i, 0);
    std::string column = PQgetvalue(r->get(), i, 1);
    auto set =
        target.Query("SELECT setval($1::regclass, m) FROM (SELECT max(" + QuoteIdent(column) +
                         ") AS m FROM " + QuoteIdent(table) + ") s WHERE m IS NOT NULL",
                     {PQgetvalue(r->get(), i, 2)}, "advancing the sequence of " + table);
    if (!set) return Fail(set.error());
    advanced += PQntuples(set->get());
  }
  return advanced;
}

// The SQLite file a sqlite: URL names, as store::Open reads it.
Result<std::string> SqlitePath(std::string_view url) {
  std::string path(url.substr(std::string_view("sqlite:").size()));
  if (path.starts_with("//")) path.erase(0, 2);
  if (path.empty() || path == ":memory:") {
    return Fail(BadUrl("--from must name an SQLite file (sqlite:PATH)"));
  }
  return path;
}

bool IsPostgresUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

Status CompareChains(
    store::Store& target,
    const std::map<std::string, std::vector<std::pair<int64_t, std::string>>>& chains,
    MigrateReport& report) {
  for (const auto& [org_id, events] : chains) {
    std::vector<store::OrgEvent> copied;
    auto status = target.Read([&](store::Tx& tx) -> Status {
      copied.clear();
      uint64_t after = 0;
      while (true) {
        auto page = tx.ListEvents(org_id, after, kEventPage);
        if (!page) return Fail(page.error());
        copied.insert(copied.end(), page->begin(), page->end());
        if (static_cast<int64_t>(page->size()) < kEventPage) return {};
        after = page->back().seq;
      }
    });
    if (!status) {
      return Fail(VerifyFailed("reading the copied events failed: " + status.error().message()));
    }
    bool same = copied.size() == events.size();
    for (size_t i = 0; same && i < copied.size(); ++i) {
      same = static_cast<int64_t>(copied[i].seq) == events[i].first &&
             std::string(copied[i].hash.begin(), copied[i].hash.end()) == events[i].second;
    }
    if (!same) {
      return Fail(VerifyFailed("an organization's event chain differs after the copy (" +
                               std::to_string(events.size()) + " events in the source, " +
                               std::to_string(copied.size()) + " in the target)"));
    }
    ++report.orgs_verified;
    report.events_verified += static_cast<int64_t>(events.size());
  }
  return {};
}

}  // namespace

std::string RedactDbUrl(std::string_view url) {
  std::string out(url);
  auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    auto start = scheme + 3;
    auto end = out.find_first_of("/?#", start);
    if (end == std::string::npos) end = out.size();
    auto at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
    }
  }
  // Query parameters: drop password=... (libpq accepts it there too).
  auto query = out.find('?');
  if (query != std::string::npos) {
    std::string kept;
    std::string_view params = std::string_view(out).substr(query + 1);
    while (!params.empty()) {
      auto amp = params.find('&');
      std::string_view param = params.substr(0, amp);
      params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
      std::string lower(param.substr(0, 9));
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (lower == "password=") continue;
      kept += (kept.empty() ? "" : "&") + std::string(param);
    }
    out.erase(query);
    if (!kept.empty()) out += "?" + kept;
  }
  return out;
}

Result<MigrateReport> Migrate(const MigrateOptions& options) {
  if (!options.from.starts_with("sqlite:")) {
    return Fail(BadUrl("--from must be an SQLite database (sqlite:PATH)"));
  }
  if (!IsPostgresUrl(options.to)) {
    return Fail(BadUrl("--to must be a PostgreSQL database (postgresql://...)"));
  }
  auto path = SqlitePath(options.from);
  if (!path) return Fail(path.error());
  // store::Open would create a missing file: an empty source copied into the
  // target would look like a successful migration.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*path, ec)) {
    return Fail(Error::NotFound("migrate.source_missing",
                                "the source database " + *path + " does not exist"));
  }

  auto source_store = store::Open(options.from);
  if (!source_store) {
    return Fail(Error::Unavailable(
        "migrate.open_failed",
        "cannot open the source database: " + OneLine(source_store.error().message())));
  }
  auto target_store = store::Open(options.to);
  if (!target_store) {
    return Fail(Error::Unavailable(
        "migrate.open_failed",
        "cannot open the target database: " + OneLine(target_store.error().message())));
  }
  auto source_version = (*source_store)->SchemaVersion();
  auto target_version = (*target_store)->SchemaVersion();
  if (!source_version || !target_version) {
    return Fail(Error::Unavailable("migrate.open_failed", "cannot read the schema versions"));
  }
  if (*source_version != *target_version) {
    return Fail(Error::Conflict("migrate.version_mismatch",
                                "the source schema is version " + std::to_string(*source_version) +
                                    " but the target's is " + std::to_string(*target_version) +
                                    "; run the same keywardd version on both"));
  }
  // The rest reads the file directly, inside one snapshot.
  source_store->reset();

  MigrateReport report;
  report.schema_version = *source_version;
  auto snapshot = SqliteSnapshot::Open(*path);
  if (!snapshot) return Fail(snapshot.error());
  auto source_tables = snapshot->Tables();
  if (!source_tables) return Fail(source_tables.error());
  auto ordered = CopyOrder(std::move(*source_tables));
  if (!ordered) return Fail(ordered.error());

  auto target = PgTarget::Connect(options.to);
  if (!target) return Fail(target.error());
  if (auto s = target->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ", "starting a transaction");
      !s) {
    return Fail(s.error());
  }
  auto target_tables = target->Tables();
  if (!target_tables) return Fail(target_tables.error());
  target_tables->erase(std::string(kSchemaTable));

  std::vector<std::vector<TargetColumn>> matched;
  for (const auto& table : *ordered) {
    auto it = target_tables->find(table.name);
    if (it == target_tables->end()) {
      return Fail(SchemaMismatch("the target database has no table " + table.name));
    }
    auto columns = MatchColumns(table, it->second);
    if (!columns) return Fail(columns.error());
    matched.push_back(std::move(*columns));
  }
  // No writer may slip rows in between the emptiness check and the commit
  // (a keywardd started on the target too early, say). Readers may go on.
  std::string lock;
  for (const auto& [name, columns] : *target_tables) {
    lock += (lock.empty() ? "" : ", ") + QuoteIdent(name);
  }
  if (!lock.empty()) {
    if (auto s = target->Exec("LOCK TABLE " + lock + " IN EXCLUSIVE MODE", "locking the tables");
        !s) {
      return Fail(s.error());
    }
  }
  for (const auto& [name, columns] : *target_tables) {
    auto has_rows = target->HasRows(name);
    if (!has_rows) return Fail(has_rows.error());
    if (*has_rows) {
      return Fail(Error::Conflict("migrate.target_not_empty",
                                  "the target database is not empty (table " + name +
                                      " has rows); migrate only into a new, empty database"));
    }
  }

  for (size_t i = 0; i < ordered->size(); ++i) {
    const SourceTable& table = (*ordered)[i];
    auto total = snapshot->Count(table.name);
    if (!total) return Fail(total.error());
    auto copied = CopyTable(*snapshot, *target, table, matched[i], *total, options.progress);
    if (!copied) return Fail(copied.error());
    if (*copied != *total) {
      return Fail(CopyFailed(table.name + " changed while it was copied"));
    }
    report.tables.push_back({table.name, *copied});
    report.rows += *copied;
  }
  auto advanced = AdvanceSequences(*target);
  if (!advanced) return Fail(advanced.error());
  report.sequences_advanced = *advanced;
  if (auto s = target->Exec("COMMIT", "committing"); !s) return Fail(s.error());

  // Verification, from outside the copy's transaction.
  for (const auto& table : report.tables) {
    auto count = target->Count(table.name);
    if (!count) return Fail(VerifyFailed(count.error().message()));
    if (*count != table.rows) {
      return Fail(VerifyFailed("the target's " + table.name + " has " + std::to_string(*count) +
                               " rows, the source " + std::to_string(table.rows)));
    }
  }
  auto chains = snapshot->EventChains();
  if (!chains) return Fail(chains.error());
  if (auto s = CompareChains(**target_store, *chains, report); !s) return Fail(s.error());
  return report;
}

int MigrateMain(const std::vector<std::string>& args) {
  MigrateOptions options;
  bool json = false;
  auto usage_error = [](const std::string& message) {
    std::fprintf(stderr, "keywardd migrate: %s (see keywardd migrate --help)\n", message.c_str());
    return 2;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string* value = nullptr;
    std::string_view name = arg.substr(0, arg.find('='));
    if (name == "--from") value = &options.from;
    if (name == "--to") value = &options.to;
    if (arg == "--json") {
      json = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kMigrateUsage, stdout);
      return 0;
    } else if (value != nullptr) {
      if (arg.size() > name.size()) {
        *value = std::string(arg.substr(name.size() + 1));
      } else if (i + 1 < args.size()) {
        *value = args[++i];
      } else {
        return usage_error(std::string(name) + " needs a database URL");
      }
    } else {
      // Never echo the argument itself: it may be a URL with a password.
      return usage_error(arg.starts_with("-") ? "unknown option " + std::string(name)
                                              : "unexpected argument");
    }
  }
  if (options.from.empty() || options.to.empty())
    return usage_error("--from and --to are required");

  // Library logs (the SQLite store's) would break the one-line contract.
  spdlog::set_level(spdlog::level::off);
  if (::isatty(STDERR_FILENO)) options.progress = stderr;
  auto report = Migrate(options);
  if (!report) {
    std::fprintf(stderr, "keywardd migrate: %s (%s)\n", OneLine(report.error().message()).c_str(),
                 report.error().code().c_str());
    return 1;
  }
  if (json) {
    nlohmann::json tables = nlohmann::json::object();
    for (const auto& t : report->tables) tables[t.name] = t.rows;
    nlohmann::json out = {
        {"from", RedactDbUrl(options.from)},
        {"to", RedactDbUrl(options.to)},
        {"schema_version", report->schema_version},
        {"tables", tables},
        {"tables_copied", report->tables.size()},
        {"rows_copied", report->rows},
        {"sequences_advanced", report->sequences_advanced},
        {"counts_match", true},
        {"orgs_verified", report->orgs_verified},
        {"events_verified", report->events_verified},
    };
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("Copied %zu tables, %lld rows; counts match\n", report->tables.size(),
                static_cast<long long>(report->rows));
    std::printf("Event chains match: %lld organizations, %lld events\n",
                static_cast<long long>(report->orgs_verified),
                static_cast<long long>(report->events_verified));
    std::printf("Next: start keywardd with --db %s and the same data directory\n",
                RedactDbUrl(options.to).c_str());
  }
  return 0;
}

}  // namespace keyward::server
