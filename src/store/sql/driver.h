// The small interface between the one SQL store (sql/sql_tx.h) and a
// database: prepared statements with numbered parameters, rows read column by
// column, scripts, transactions and error mapping. src/store/sqlite and
// src/store/postgres each implement it over their C library; nothing above
// this interface calls sqlite3_* or PQ* functions.
//
// SQL text handed to Prepare uses ?1 ... ?N for parameters (a driver that
// spells them differently, like PostgreSQL's $1, rewrites them once when it
// prepares the statement) and must outlive the connection: statements are
// prepared once per connection and cached by the address of their text.
//
// Errors are store errors (store.h): a unique violation is store.conflict, a
// foreign-key violation store.not_found, a lock or serialization failure
// store.busy; anything else is logged by the driver (names of tables and
// constraints, never values) and returned as store.error.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>

#include "store/store.h"

namespace keyward::store::sql {

// The type of a parameter or a column. Typed NULLs matter to PostgreSQL,
// which prepares a statement with the types of its parameters.
enum class Type { kNull, kInt, kText, kBlob };

// One prepared statement of a connection. Used through Stmt, which resets it
// when done so that the connection can run it again.
class Statement {
 public:
  virtual ~Statement() = default;

  virtual void BindInt(int index, int64_t value) = 0;
  virtual void BindText(int index, std::string_view value) = 0;
  // An empty span binds an empty blob, not NULL.
  virtual void BindBlob(int index, std::span<const uint8_t> value) = 0;
  virtual void BindNull(int index, Type type) = 0;

  // Runs the statement on the first call; true while a row is available.
  [[nodiscard]] virtual Result<bool> Step() = 0;
  // Runs the statement to completion; returns the number of rows changed.
  [[nodiscard]] virtual Result<int64_t> Exec() = 0;

  // Columns of the current row (0-based). NULL reads as 0, "" or no bytes.
  virtual int ColumnCount() const = 0;
  virtual Type ColumnType(int column) const = 0;
  virtual int64_t Int(int column) const = 0;
  virtual std::string Text(int column) const = 0;
  virtual Bytes Blob(int column) const = 0;

  // Forgets the bindings and the result so the statement can run again.
  virtual void Reset() = 0;
};

// The per-database spelling of the few statements that cannot be written
// once. Each member is complete SQL in the ?N convention.
struct Dialect {
  std::string_view name;  // "sqlite", "postgres": for logs
  // FindAccountByEmail: SELECT the account columns (sql::kAccountColumns) of
  // the account whose email equals ?1 case-insensitively, using the
  // database's unique index on the email.
  const char* find_account_by_email;
  // The rows of a set of ids passed as one parameter, ?1, a JSON array of
  // strings (so a page of any size is one prepared statement). Each is the
  // complete statement, columns as in the comment.
  // ListApprovalsOf: request_id, admin_id, created_at of recovery_approvals
  // whose request_id is in ?1, ORDER BY request_id, created_at, admin_id.
  const char* list_approvals_of;
  // AccountEmails: id, email of the accounts whose id is in ?1.
  const char* account_emails;
};

// One open connection, used by one thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;

  virtual const Dialect& dialect() const = 0;

  // The cached statement for sql (prepared on first use). A statement that
  // would write inside a read-only transaction fails with store.error.
  [[nodiscard]] virtual Result<Statement*> Prepare(const char* sql, std::string_view operation) = 0;
  // Runs statements without parameters or rows (schema scripts, SET, ...).
  [[nodiscard]] virtual Status ExecScript(const char* sql, std::string_view operation) = 0;
  // Prepare for SQL built at run time (keywardd migrate): the connection
  // keeps the text for as long as it lives.
  [[nodiscard]] Result<Statement*> PrepareText(std::string sql, std::string_view operation) {
    texts_.push_back(std::move(sql));
    return Prepare(texts_.back().c_str(), operation);
  }
  // The database's own message for the last failure, on one line and without
  // values (the primary message), for tools that report it (keywardd migrate).
  virtual std::string LastError() const = 0;

  // A write transaction that serializes with every other writer (SQLite:
  // BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE), or a read-only snapshot.
  [[nodiscard]] virtual Status Begin(bool read_only) = 0;
  // Fails, and rolls back, when the transaction cannot commit (for instance
  // PostgreSQL after a failed statement).
  [[nodiscard]] virtual Status Commit() = 0;
  // Rolls back the open transaction, if any; logs a failure.
  virtual void Rollback() = 0;

 private:
  std::deque<std::string> texts_;  // PrepareText's SQL
};

// A borrowed statement: binds and reads forward to it, and it is reset when
// the Stmt goes out of scope.
class Stmt {
 public:
  explicit Stmt(Statement* statement) : s_(statement) {}
  ~Stmt() {
    if (s_ != nullptr) s_->Reset();
  }
  Stmt(Stmt&& other) noexcept : s_(other.s_) { other.s_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;

  Stmt& Bind(int index, std::string_view text) {
    s_->BindText(index, text);
    return *this;
  }
  Stmt& Bind(int index, int64_t value) {
    s_->BindInt(index, value);
    return *this;
  }
  Stmt& Bind(int index, std::span<const uint8_t> blob) {
    s_->BindBlob(index, blob);
    return *this;
  }
  Stmt& BindNull(int index, Type type) {
    s_->BindNull(index, type);
    return *this;
  }

  [[nodiscard]] Result<bool> Step() { return s_->Step(); }
  [[nodiscard]] Result<int64_t> Exec() { return s_->Exec(); }

  bool IsNull(int column) const { return s_->ColumnType(column) == Type::kNull; }
  int64_t Int(int column) const { return s_->Int(column); }
  std::string Text(int column) const { return s_->Text(column); }
  Bytes Blob(int column) const { return s_->Blob(column); }
  Statement& statement() { return *s_; }

 private:
  Statement* s_;
};

// Prepares sql on conn as a Stmt.
[[nodiscard]] inline Result<Stmt> Prepare(Connection& conn, const char* sql,
                                          std::string_view operation) {
  auto statement = conn.Prepare(sql, operation);
  if (!statement) return Fail(statement.error());
  return Stmt(*statement);
}

}  // namespace keyward::store::sql
