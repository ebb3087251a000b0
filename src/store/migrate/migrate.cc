#include "store/migrate/migrate.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "common/try.h"
#include "store/postgres/pg_store.h"
#include "store/sql/driver.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace keyward::store::migrate {

namespace {

constexpr std::string_view kSchemaTable = "schema_migrations";
constexpr int64_t kProgressEvery = 50'000;
constexpr int64_t kEventPage = 1000;
// Rows per INSERT: well under PostgreSQL's 65535 parameters for any table.
constexpr size_t kBatchRows = 256;

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

// Steps s through its rows, calling fn(s) on each; what names the step in
// errors.
template <class Fn, class FailFn>
Status EachRow(sql::Stmt& s, Fn&& fn, FailFn&& failure) {
  for (;;) {
    auto row = s.Step();
    if (!row) return Fail(failure());
    if (!*row) return {};
    KW_TRY(fn(s));
  }
}

// One side of the copy: a connection, and errors that say which side failed
// with the database's own message.
class Side {
 public:
  Side(std::unique_ptr<sql::Connection> conn, std::string name)
      : conn_(std::move(conn)), name_(std::move(name)) {}

  Error Failure(const std::string& what) const {
    return CopyFailed("the " + name_ + " database failed " + what + ": " +
                      OneLine(conn_->LastError()));
  }

  Result<int64_t> Count(const std::string& table) {
    KW_ASSIGN_OR_RETURN(auto s,
                        Query("SELECT count(*) FROM " + QuoteIdent(table), "counting " + table));
    auto row = s.Step();
    if (!row || !*row) return Fail(Failure("counting " + table));
    return s.Int(0);
  }

 protected:
  Result<sql::Stmt> Query(std::string text, const std::string& what) {
    auto s = conn_->PrepareText(std::move(text), what);
    if (!s) return Fail(Failure(what));
    return sql::Stmt(*s);
  }

  std::unique_ptr<sql::Connection> conn_;

 private:
  std::string name_;
};

// ---- the source: one SQLite read transaction ----

struct SourceColumn {
  std::string name;
  std::string type;  // declared type, upper case: INTEGER, TEXT, BLOB
};

struct SourceTable {
  std::string name;
  std::vector<SourceColumn> columns;
  std::set<std::string> parents;  // tables its foreign keys reference
};

using Chains = std::map<std::string, std::vector<std::pair<int64_t, Bytes>>>;

class SqliteSnapshot : public Side {
 public:
  // Opens `path` read-only (never creating it) and starts the read
  // transaction every later call runs in.
  static Result<SqliteSnapshot> Open(const std::string& path) {
    auto conn = sqlite::Connect(path, /*read_only=*/true);
    if (!conn) {
      return Fail(CopyFailed("cannot open the source database read-only: " +
                             OneLine(conn.error().message())));
    }
    SqliteSnapshot snapshot(std::move(*conn));
    if (!snapshot.conn_->Begin(true)) return Fail(snapshot.Failure("starting a read transaction"));
    // A WAL reader's snapshot starts at its first read, so read right away.
    KW_TRY(snapshot.Count("sqlite_schema"));
    return snapshot;
  }

  Result<std::vector<SourceTable>> Tables() {
    std::vector<SourceTable> tables;
    KW_ASSIGN_OR_RETURN(auto names,
                        Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT "
                              "LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                              "listing the source tables"));
    KW_TRY(Rows(names, "listing the source tables", [&](sql::Stmt& s) -> Status {
      if (s.Text(0) != kSchemaTable) tables.push_back({s.Text(0), {}, {}});
      return {};
    }));
    for (auto& table : tables) {
      KW_ASSIGN_OR_RETURN(auto info,
                          Query("SELECT name, upper(type) FROM pragma_table_info(?1) ORDER BY cid",
                                "reading the columns of " + table.name));
      info.Bind(1, table.name);
      KW_TRY(Rows(info, "reading the columns of " + table.name, [&](sql::Stmt& s) -> Status {
        table.columns.push_back({s.Text(0), s.Text(1)});
        return {};
      }));
      KW_ASSIGN_OR_RETURN(auto keys, Query("SELECT \"table\" FROM pragma_foreign_key_list(?1)",
                                           "reading the foreign keys of " + table.name));
      keys.Bind(1, table.name);
      KW_TRY(Rows(keys, "reading the foreign keys of " + table.name, [&](sql::Stmt& s) -> Status {
        if (s.Text(0) != table.name) table.parents.insert(s.Text(0));
        return {};
      }));
    }
    return tables;
  }

  // Steps through `SELECT columns FROM table`; fn sees each row.
  template <class Fn>
  Status ForEachRow(const std::string& table, const std::vector<std::string>& columns, Fn&& fn) {
    KW_ASSIGN_OR_RETURN(
        auto s,
        Query("SELECT " + ColumnList(columns) + " FROM " + QuoteIdent(table), "reading " + table));
    return Rows(s, "reading " + table, fn);
  }

  // (seq, hash) of every organization's events, by organization id then seq.
  Result<Chains> EventChains() {
    Chains chains;
    KW_ASSIGN_OR_RETURN(auto orgs,
                        Query("SELECT id FROM orgs ORDER BY id", "listing organizations"));
    KW_TRY(Rows(orgs, "listing organizations", [&](sql::Stmt& s) -> Status {
      chains[s.Text(0)];
      return {};
    }));
    KW_ASSIGN_OR_RETURN(
        auto events,
        Query("SELECT org_id, seq, hash FROM org_events ORDER BY org_id, seq", "reading events"));
    KW_TRY(Rows(events, "reading events", [&](sql::Stmt& s) -> Status {
      chains[s.Text(0)].emplace_back(s.Int(1), s.Blob(2));
      return {};
    }));
    return chains;
  }

 private:
  explicit SqliteSnapshot(std::unique_ptr<sql::Connection> conn)
      : Side(std::move(conn), "source") {}

  template <class Fn>
  Status Rows(sql::Stmt& s, const std::string& what, Fn&& fn) {
    return EachRow(s, fn, [&] { return Failure(what); });
  }
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

enum class PgType { kInt8, kInt4, kInt2, kBool, kText, kBytea };

struct TargetColumn {
  std::string name;
  PgType type;
  std::string type_name;
};

std::optional<PgType> ParseType(std::string_view name) {
  if (name == "bigint") return PgType::kInt8;
  if (name == "integer") return PgType::kInt4;
  if (name == "smallint") return PgType::kInt2;
  if (name == "boolean") return PgType::kBool;
  if (name == "text" || name == "character varying") return PgType::kText;
  if (name == "bytea") return PgType::kBytea;
  return std::nullopt;
}

// One value read from the source, checked against its target column.
struct Field {
  sql::Type type = sql::Type::kNull;
  int64_t number = 0;
  std::string bytes;  // text or blob
};

class PgTarget : public Side {
 public:
  static Result<PgTarget> Connect(const std::string& url) {
    auto conn = postgres::Connect(url);
    if (!conn) {
      return Fail(Error::Unavailable(
          "migrate.open_failed",
          "cannot connect to the target database: " + OneLine(conn.error().message())));
    }
    return PgTarget(std::move(*conn));
  }

  Status Exec(const std::string& sql, const std::string& what) {
    if (!conn_->ExecScript(sql.c_str(), what)) return Fail(Failure(what));
    return {};
  }

  // Every base table of the current schema with its columns in order.
  Result<std::map<std::string, std::vector<TargetColumn>>> Tables() {
    std::map<std::string, std::vector<TargetColumn>> tables;
    const std::string what = "listing the target tables";
    KW_ASSIGN_OR_RETURN(
        auto s, Query("SELECT c.table_name, c.column_name, c.data_type FROM "
                      "information_schema.columns c JOIN information_schema.tables t ON "
                      "t.table_schema = c.table_schema AND t.table_name = c.table_name "
                      "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
                      "ORDER BY c.table_name, c.ordinal_position",
                      what));
    KW_TRY(EachRow(
        s,
        [&](sql::Stmt& row) -> Status {
          std::string type_name = row.Text(2);
          auto type = ParseType(type_name);
          if (!type) {
            return Fail(SchemaMismatch("the target column " + row.Text(0) + "." + row.Text(1) +
                                       " has the unsupported type " + type_name));
          }
          tables[row.Text(0)].push_back({row.Text(1), *type, type_name});
          return {};
        },
        [&] { return Failure(what); }));
    return tables;
  }

  Result<bool> HasRows(const std::string& table) {
    KW_ASSIGN_OR_RETURN(auto s, Query("SELECT count(*) FROM (SELECT 1 FROM " + QuoteIdent(table) +
                                          " LIMIT 1) AS one",
                                      "reading " + table));
    auto row = s.Step();
    if (!row || !*row) return Fail(Failure("reading " + table));
    return s.Int(0) != 0;
  }

  // Inserts rows (each columns.size() fields) into table with one
  // statement; returns how many rows the database stored.
  Result<int64_t> Insert(const std::string& table, const std::vector<TargetColumn>& columns,
                         const std::vector<Field>& fields) {
    size_t rows = fields.size() / columns.size();
    std::string& text = inserts_[{table, rows}];
    if (text.empty()) text = InsertSql(table, columns, rows);
    const std::string what = "copying " + table;
    auto prepared = conn_->Prepare(text.c_str(), what);
    if (!prepared) return Fail(Failure(what));
    sql::Stmt s(*prepared);
    for (size_t i = 0; i < fields.size(); ++i) {
      const Field& f = fields[i];
      int index = static_cast<int>(i) + 1;
      const TargetColumn& column = columns[i % columns.size()];
      if (f.type == sql::Type::kNull) {
        s.BindNull(index, column.type == PgType::kText    ? sql::Type::kText
                          : column.type == PgType::kBytea ? sql::Type::kBlob
                                                          : sql::Type::kInt);
      } else if (f.type == sql::Type::kInt) {
        s.Bind(index, f.number);
      } else if (column.type == PgType::kText) {
        s.Bind(index, std::string_view(f.bytes));
      } else {
        s.Bind(index, std::span(reinterpret_cast<const uint8_t*>(f.bytes.data()), f.bytes.size()));
      }
    }
    auto stored = s.Exec();
    if (!stored) return Fail(Failure(what));
    return *stored;
  }

  // Moves every identity / serial sequence past the largest copied value, so
  // the next insert does not collide with a copied id.
  Result<int64_t> AdvanceSequences() {
    struct Sequence {
      std::string table, column, name;
    };
    std::vector<Sequence> sequences;
    const std::string what = "listing sequences";
    KW_ASSIGN_OR_RETURN(
        auto list,
        Query("SELECT table_name, column_name, "
              "pg_get_serial_sequence(format('%I.%I', table_schema, table_name), column_name) "
              "FROM information_schema.columns WHERE table_schema = current_schema() "
              "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') ORDER BY 1, 2",
              what));
    KW_TRY(EachRow(
        list,
        [&](sql::Stmt& s) -> Status {
          if (!s.IsNull(2)) sequences.push_back({s.Text(0), s.Text(1), s.Text(2)});
          return {};
        },
        [&] { return Failure(what); }));
    int64_t advanced = 0;
    for (const auto& seq : sequences) {
      const std::string step = "advancing the sequence of " + seq.table;
      KW_ASSIGN_OR_RETURN(
          auto set, Query("SELECT setval(CAST(?1 AS regclass), m) FROM (SELECT max(" +
                              QuoteIdent(seq.column) + ") AS m FROM " + QuoteIdent(seq.table) +
                              ") s WHERE m IS NOT NULL",
                          step));
      set.Bind(1, seq.name);
      KW_TRY(EachRow(
          set,
          [&](sql::Stmt&) -> Status {
            ++advanced;
            return {};
          },
          [&] { return Failure(step); }));
    }
    return advanced;
  }

 private:
  explicit PgTarget(std::unique_ptr<sql::Connection> conn) : Side(std::move(conn), "target") {}

  static std::string InsertSql(const std::string& table, const std::vector<TargetColumn>& columns,
                               size_t rows) {
    std::vector<std::string> names;
    for (const auto& c : columns) names.push_back(c.name);
    std::string sql = "INSERT INTO " + QuoteIdent(table) + " (" + ColumnList(names) + ") VALUES ";
    int n = 0;
    for (size_t r = 0; r < rows; ++r) {
      sql += r == 0 ? "(" : ", (";
      for (size_t c = 0; c < columns.size(); ++c) {
        // Appended, not "?" + to_string(): g++ 12 at -O3 reports a false -Wrestrict on that.
        std::string p = "?";
        p += std::to_string(++n);
        // A boolean takes no integer parameter directly.
        if (columns[c].type == PgType::kBool) p = "CAST(CAST(" + p + " AS integer) AS boolean)";
        sql += (c == 0 ? "" : ", ") + p;
      }
      sql += ")";
    }
    return sql;
  }

  std::map<std::pair<std::string, size_t>, std::string> inserts_;  // SQL by (table, rows)
};

// Reads field i of the source row as `column` expects it.
Result<Field> ReadField(sql::Stmt& s, int i, const TargetColumn& column, const std::string& table) {
  sql::Type kind = s.statement().ColumnType(i);
  if (kind == sql::Type::kNull) return Field{};
  auto mismatch = [&](const char* stored) {
    return Fail(SchemaMismatch("the source column " + table + "." + column.name + " holds " +
                               stored + " where the target expects " + column.type_name));
  };
  switch (column.type) {
    case PgType::kInt8:
    case PgType::kInt4:
    case PgType::kInt2:
    case PgType::kBool: {
      if (kind != sql::Type::kInt)
        return mismatch(kind == sql::Type::kText ? "text" : "a non-integer");
      int64_t v = s.Int(i);
      int bytes = column.type == PgType::kInt4 ? 4 : column.type == PgType::kInt2 ? 2 : 8;
      if (column.type == PgType::kBool) {
        if (v != 0 && v != 1) return mismatch("an integer other than 0 or 1");
      } else if (bytes < 8) {
        int64_t limit = int64_t{1} << (8 * bytes - 1);
        if (v < -limit || v >= limit) return mismatch("an integer out of range");
      }
      return Field{sql::Type::kInt, v, {}};
    }
    case PgType::kText:
      if (kind != sql::Type::kText)
        return mismatch(kind == sql::Type::kBlob ? "a blob" : "a number");
      return Field{sql::Type::kText, 0, s.Text(i)};
    case PgType::kBytea: {
      // A BLOB column of a STRICT table holds blobs only; older rows may
      // still carry text, copied byte for byte.
      if (kind != sql::Type::kBlob && kind != sql::Type::kText) return mismatch("a number");
      Bytes blob = s.Blob(i);
      return Field{sql::Type::kBlob, 0, std::string(blob.begin(), blob.end())};
    }
  }
  return Field{};
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

// Copies one table in batches; returns the rows sent.
Result<int64_t> CopyTable(SqliteSnapshot& source, PgTarget& target, const SourceTable& table,
                          const std::vector<TargetColumn>& columns, int64_t total,
                          std::FILE* progress) {
  std::vector<std::string> names;
  for (const auto& c : table.columns) names.push_back(c.name);
  std::vector<Field> batch;
  int64_t sent = 0;
  int64_t stored = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return {};
    KW_ASSIGN_OR_RETURN(int64_t n, target.Insert(table.name, columns, batch));
    stored += n;
    batch.clear();
    return {};
  };
  KW_TRY(source.ForEachRow(table.name, names, [&](sql::Stmt& s) -> Status {
    for (size_t i = 0; i < columns.size(); ++i) {
      KW_ASSIGN_OR_RETURN(auto field, ReadField(s, static_cast<int>(i), columns[i], table.name));
      batch.push_back(std::move(field));
    }
    ++sent;
    if (batch.size() >= kBatchRows * columns.size()) KW_TRY(flush());
    if (sent % kProgressEvery == 0 && sent < total) Progress(progress, table.name, sent, total);
    return {};
  }));
  KW_TRY(flush());
  if (stored != sent) {
    return Fail(CopyFailed("the target stored " + std::to_string(stored) + " rows of " +
                           table.name + " but " + std::to_string(sent) + " were sent"));
  }
  Progress(progress, table.name, sent, total);
  return sent;
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

Status CompareChains(store::Store& target, const Chains& chains, MigrateReport& report) {
  for (const auto& [org_id, events] : chains) {
    std::vector<core::OrgEvent> copied;
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
             copied[i].hash == events[i].second;
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

namespace {

// The SQLite file of --from, after checking both URLs and that the file
// exists (store::Open would create a missing one, and an empty source copied
// into the target would look like a successful migration).
Result<std::string> SourcePath(const MigrateOptions& options) {
  if (!options.from.starts_with("sqlite:")) {
    return Fail(BadUrl("--from must be an SQLite database (sqlite:PATH)"));
  }
  if (!IsPostgresUrl(options.to)) {
    return Fail(BadUrl("--to must be a PostgreSQL database (postgresql://...)"));
  }
  KW_ASSIGN_OR_RETURN(auto path, SqlitePath(options.from));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Fail(Error::NotFound("migrate.source_missing",
                                "the source database " + path + " does not exist"));
  }
  return path;
}

Result<std::unique_ptr<Store>> OpenSide(const std::string& url, const char* side) {
  auto opened = store::Open(url);
  if (!opened) {
    return Fail(Error::Unavailable("migrate.open_failed",
                                   std::string("cannot open the ") + side +
                                       " database: " + OneLine(opened.error().message())));
  }
  return std::move(*opened);
}

// Opens both stores, which migrates each to the newest schema, and checks
// that their versions agree; returns the version and the target store.
Result<std::pair<int, std::unique_ptr<Store>>> OpenAtOneVersion(const MigrateOptions& options) {
  KW_ASSIGN_OR_RETURN(auto source, OpenSide(options.from, "source"));
  KW_ASSIGN_OR_RETURN(auto target, OpenSide(options.to, "target"));
  auto source_version = source->SchemaVersion();
  auto target_version = target->SchemaVersion();
  if (!source_version || !target_version) {
    return Fail(Error::Unavailable("migrate.open_failed", "cannot read the schema versions"));
  }
  if (*source_version != *target_version) {
    return Fail(Error::Conflict("migrate.version_mismatch",
                                "the source schema is version " + std::to_string(*source_version) +
                                    " but the target's is " + std::to_string(*target_version) +
                                    "; run the same keywardd version on both"));
  }
  return std::pair(*source_version, std::move(target));
}

// In the target's open transaction: the columns of each source table, in
// copy order, matched to the target's; every target table locked against
// writers and checked empty.
Result<std::vector<std::vector<TargetColumn>>> PrepareTarget(
    PgTarget& target, const std::vector<SourceTable>& ordered) {
  KW_ASSIGN_OR_RETURN(auto target_tables, target.Tables());
  target_tables.erase(std::string(kSchemaTable));
  std::vector<std::vector<TargetColumn>> matched;
  for (const auto& table : ordered) {
    auto it = target_tables.find(table.name);
    if (it == target_tables.end()) {
      return Fail(SchemaMismatch("the target database has no table " + table.name));
    }
    KW_ASSIGN_OR_RETURN(auto columns, MatchColumns(table, it->second));
    matched.push_back(std::move(columns));
  }
  // No writer may slip rows in between the emptiness check and the commit
  // (a keywardd started on the target too early, say). Readers may go on.
  std::string lock;
  for (const auto& [name, columns] : target_tables) {
    lock += (lock.empty() ? "" : ", ") + QuoteIdent(name);
  }
  if (!lock.empty())
    KW_TRY(target.Exec("LOCK TABLE " + lock + " IN EXCLUSIVE MODE", "locking the tables"));
  for (const auto& [name, columns] : target_tables) {
    KW_ASSIGN_OR_RETURN(bool has_rows, target.HasRows(name));
    if (has_rows) {
      return Fail(Error::Conflict("migrate.target_not_empty",
                                  "the target database is not empty (table " + name +
                                      " has rows); migrate only into a new, empty database"));
    }
  }
  return matched;
}

// Counts and event chains compared from outside the copy's transaction.
Status Verify(SqliteSnapshot& snapshot, PgTarget& target, Store& target_store,
              MigrateReport& report) {
  for (const auto& table : report.tables) {
    auto count = target.Count(table.name);
    if (!count) return Fail(VerifyFailed(count.error().message()));
    if (*count != table.rows) {
      return Fail(VerifyFailed("the target's " + table.name + " has " + std::to_string(*count) +
                               " rows, the source " + std::to_string(table.rows)));
    }
  }
  KW_ASSIGN_OR_RETURN(auto chains, snapshot.EventChains());
  return CompareChains(target_store, chains, report);
}

}  // namespace

Result<MigrateReport> Migrate(const MigrateOptions& options) {
  KW_ASSIGN_OR_RETURN(auto path, SourcePath(options));
  KW_ASSIGN_OR_RETURN(auto opened, OpenAtOneVersion(options));
  auto& [version, target_store] = opened;
  MigrateReport report;
  report.schema_version = version;
  // The copy reads the file directly, inside one snapshot.
  KW_ASSIGN_OR_RETURN(auto snapshot, SqliteSnapshot::Open(path));
  KW_ASSIGN_OR_RETURN(auto source_tables, snapshot.Tables());
  KW_ASSIGN_OR_RETURN(auto ordered, CopyOrder(std::move(source_tables)));

  KW_ASSIGN_OR_RETURN(auto target, PgTarget::Connect(options.to));
  KW_TRY(target.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ", "starting a transaction"));
  KW_ASSIGN_OR_RETURN(auto matched, PrepareTarget(target, ordered));
  for (size_t i = 0; i < ordered.size(); ++i) {
    const SourceTable& table = ordered[i];
    KW_ASSIGN_OR_RETURN(int64_t total, snapshot.Count(table.name));
    KW_ASSIGN_OR_RETURN(int64_t copied,
                        CopyTable(snapshot, target, table, matched[i], total, options.progress));
    if (copied != total) return Fail(CopyFailed(table.name + " changed while it was copied"));
    report.tables.push_back({table.name, copied});
    report.rows += copied;
  }
  KW_ASSIGN_OR_RETURN(report.sequences_advanced, target.AdvanceSequences());
  KW_TRY(target.Exec("COMMIT", "committing"));
  KW_TRY(Verify(snapshot, target, *target_store, report));
  return report;
}

}  // namespace keyward::store::migrate
