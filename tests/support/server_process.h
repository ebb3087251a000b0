// Runs a real keywardd for end-to-end tests: a fresh temporary data directory,
// --listen 127.0.0.1:0, the URL read from the first stdout line
// ("keywardd listening on http://127.0.0.1:PORT"). The process is killed and
// reaped, and the directory removed, on destruction. Its stderr (the log) is
// kept in <temp>/keywardd.stderr for diagnosis.
//
//   keyward::testing::ServerProcess server(KEYWARDD_PATH, {"--min-kdf-ops", "1"});
//   auto health = server.Request("GET", "/healthz");
//
// The store: SQLite in the data directory by default. With the environment
// variable KEYWARD_TEST_STORE=postgresql (set by keyward_test_on_postgres in
// cmake/KeywardTest.cmake) and no --db among the arguments, each server gets a
// fresh database of the PostgreSQL test cluster (tests/support/pg_test_db.h),
// kept for the ServerProcess's life (Restart included). Tests that act as a
// malicious server or move a deadline edit that database through ExecSql /
// QuerySql, whichever the store:
//
//   server.ExecSql("UPDATE orgs SET recovery_public_key = " + server.BlobLiteral(bytes) +
//                  " WHERE id = " + SqlText(org_id));
//
// Several nodes of one installation: Options.db_url names one database for
// all, Options.copy_keys_from another node's data directory (its server.key
// and recovery.key are copied in before the first start).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace keyward::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed or timed out)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// One blocking HTTP/1.1 request over a plain socket (Connection: close).
// url: "http://127.0.0.1:PORT" (no TLS); path includes any query string.
HttpResult HttpRequest(const std::string& url, const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

class TestDatabase;

// The store behind a database URL ("sqlite:PATH" or "postgresql://...").
enum class SqlStore { kSqlite, kPostgres };
SqlStore StoreOf(std::string_view db_url);
// Whether KEYWARD_TEST_STORE=postgresql (the pg/ variants of the e2e suites).
bool TestStoreIsPostgres();

// One row of a query: every column as text, blobs (bytea) as their raw bytes,
// booleans as "1"/"0", NULL as "".
using SqlRow = std::vector<std::string>;
// Run SQL on the database at `db_url` behind the server's back. Throw
// std::runtime_error with the database's message on failure. ExecSql takes
// several statements; QuerySql one.
void ExecSql(const std::string& db_url, const std::string& sql);
std::vector<SqlRow> QuerySql(const std::string& db_url, const std::string& sql);
// A literal for `bytes` in the store's dialect: x'ab01' (SQLite) or
// '\xab01'::bytea (PostgreSQL).
std::string BlobLiteral(SqlStore store, std::span<const uint8_t> bytes);
// A quoted text literal ('it''s'), the same in both dialects.
std::string SqlText(std::string_view text);

class ServerProcess {
 public:
  struct Options {
    std::filesystem::path binary;   // the built keywardd
    std::vector<std::string> args;  // extra arguments
    // Extra environment; the child inherits the parent's environment minus
    // every KEYWARD_* variable (so a developer's settings cannot leak in).
    std::vector<std::pair<std::string, std::string>> env;
    std::chrono::milliseconds start_timeout = std::chrono::seconds(15);
    // Non-empty: --db db_url (one database shared by several nodes). Empty:
    // the args' --db if any, else PostgreSQL or SQLite by KEYWARD_TEST_STORE.
    std::string db_url;
    // Non-empty: copy server.key and recovery.key of this data directory into
    // the new one before the first start (nodes of one installation share them).
    std::filesystem::path copy_keys_from;
  };

  // Throws std::runtime_error (with the server's stderr) when it does not start.
  ServerProcess(std::filesystem::path binary, std::vector<std::string> args = {});
  explicit ServerProcess(Options options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  const std::filesystem::path& temp_dir() const { return temp_dir_; }
  pid_t pid() const { return pid_; }
  // The database the server runs on: "sqlite:<data>/keyward.db",
  // "postgresql://...", or the --db given.
  const std::string& db_url() const { return db_url_; }
  SqlStore store() const { return StoreOf(db_url_); }
  bool on_postgres() const { return store() == SqlStore::kPostgres; }
  void ExecSql(const std::string& sql) const { testing::ExecSql(db_url_, sql); }
  std::vector<SqlRow> QuerySql(const std::string& sql) const {
    return testing::QuerySql(db_url_, sql);
  }
  std::string BlobLiteral(std::span<const uint8_t> bytes) const {
    return testing::BlobLiteral(store(), bytes);
  }
  // Everything printed on stdout so far (the startup lines).
  std::string StdoutText() const;
  std::string StderrText() const;

  // Sends a signal (default SIGKILL). Does not wait.
  void Kill(int signal = 9);
  // Waits for the process to exit; returns its exit status, or 128+signal,
  // or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // SIGTERM + Wait.
  int Stop();
  // Stops (SIGTERM) and starts again on the same data directory, trying the
  // same port first. Throws like the constructor.
  void Restart();
  bool running() const { return pid_ > 0; }

  HttpResult Request(const std::string& method, const std::string& path,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) const {
    return HttpRequest(url_, method, path, body, headers);
  }

 private:
  void Spawn(const std::string& listen);
  void Reap();

  Options options_;
  std::filesystem::path temp_dir_;
  std::filesystem::path data_dir_;
  std::unique_ptr<TestDatabase> own_db_;  // KEYWARD_TEST_STORE=postgresql
  std::string db_url_;
  std::string url_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  int stdout_fd_ = -1;
  struct Capture {
    std::mutex mu;
    std::string text;
  };
  std::shared_ptr<Capture> stdout_ = std::make_shared<Capture>();
  std::thread stdout_drain_;
};

}  // namespace keyward::testing
