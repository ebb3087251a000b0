#include "tests/support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/support/pg_test_db.h"

extern char** environ;

namespace keyward::testing {
namespace {

constexpr std::string_view kListeningPrefix = "keywardd listening on ";

int MillisLeft(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Connects to "http://HOST:PORT"; -1 on failure.
int Connect(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return -1;
  std::string host = rest.substr(0, colon);
  int port = std::atoi(rest.c_str() + colon + 1);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[') {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &addr.sin6_addr) != 1) {
      return -1;
    }
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return -1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

bool HasDbArg(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--db" || a.starts_with("--db=")) return true;
  }
  return false;
}

std::string DbArgOf(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with("--db=")) return args[i].substr(5);
  }
  return "";
}

std::string SqlitePath(std::string_view url) {
  std::string path(url.substr(std::string_view("sqlite:").size()));
  if (path.starts_with("//")) path.erase(0, 2);
  return path;
}

// One SQLite connection with a busy timeout (the server holds the file).
struct SqliteDb {
  explicit SqliteDb(std::string_view url) {
    std::string path = SqlitePath(url);
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      std::string why = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      throw std::runtime_error("cannot open " + path + ": " + why);
    }
    sqlite3_busy_timeout(db, 10000);
  }
  ~SqliteDb() { sqlite3_close(db); }
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  sqlite3* db = nullptr;
};

struct PgConn {
  explicit PgConn(const std::string& url) : conn(PQconnectdb(url.c_str())) {
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string why = PQerrorMessage(conn);
      PQfinish(conn);
      throw std::runtime_error("cannot connect to the test database: " + why);
    }
  }
  ~PgConn() { PQfinish(conn); }
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;
  PGresult* Run(const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      std::string why = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("SQL failed: " + why + ": " + sql);
    }
    return r;
  }
  PGconn* conn;
};

constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea in PostgreSQL's hex output format ("\x0aff") to its bytes.
std::string FromPgHex(std::string_view text) {
  if (!text.starts_with("\\x")) throw std::runtime_error("unexpected bytea output");
  text.remove_prefix(2);
  std::string out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(HexValue(text[i]) * 16 + HexValue(text[i + 1])));
  }
  return out;
}

}  // namespace

SqlStore StoreOf(std::string_view db_url) {
  return db_url.starts_with("postgresql://") || db_url.starts_with("postgres://")
             ? SqlStore::kPostgres
             : SqlStore::kSqlite;
}

bool TestStoreIsPostgres() {
  const char* store = std::getenv("KEYWARD_TEST_STORE");
  return store != nullptr &&
         (std::string_view(store) == "postgresql" || std::string_view(store) == "postgres");
}

void ExecSql(const std::string& db_url, const std::string& sql) {
  if (StoreOf(db_url) == SqlStore::kPostgres) {
    PgConn conn(db_url);
    PQclear(conn.Run(sql));
    return;
  }
  SqliteDb db(db_url);
  char* err = nullptr;
  if (sqlite3_exec(db.db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err ? err : sqlite3_errmsg(db.db);
    sqlite3_free(err);
    throw std::runtime_error("SQL failed: " + why + ": " + sql);
  }
}

std::vector<SqlRow> QuerySql(const std::string& db_url, const std::string& sql) {
  std::vector<SqlRow> rows;
  if (StoreOf(db_url) == SqlStore::kPostgres) {
    PgConn conn(db_url);
    PGresult* r = conn.Run(sql);
    for (int i = 0; i < PQntuples(r); ++i) {
      SqlRow row;
      for (int j = 0; j < PQnfields(r); ++j) {
        if (PQgetisnull(r, i, j)) {
          row.emplace_back();
          continue;
        }
        std::string_view value(PQgetvalue(r, i, j), static_cast<size_t>(PQgetlength(r, i, j)));
        if (PQftype(r, j) == kByteaOid) {
          row.push_back(FromPgHex(value));
        } else if (PQftype(r, j) == kBoolOid) {
          row.emplace_back(value == "t" ? "1" : "0");
        } else {
          row.emplace_back(value);
        }
      }
      rows.push_back(std::move(row));
    }
    PQclear(r);
    return rows;
  }
  SqliteDb db(db_url);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("SQL failed: ") + sqlite3_errmsg(db.db) + ": " + sql);
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    SqlRow row;
    for (int j = 0; j < sqlite3_column_count(st); ++j) {
      if (sqlite3_column_type(st, j) == SQLITE_BLOB) {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(st, j));
        row.emplace_back(p, p + sqlite3_column_bytes(st, j));
      } else {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, j));
        row.emplace_back(p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, j))) : "");
      }
    }
    rows.push_back(std::move(row));
  }
  std::string why = sqlite3_errmsg(db.db);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) throw std::runtime_error("SQL failed: " + why + ": " + sql);
  return rows;
}

std::string BlobLiteral(SqlStore store, std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : bytes) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return store == SqlStore::kPostgres ? "'\\x" + hex + "'::bytea" : "x'" + hex + "'";
}

std::string SqlText(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  return out + "'";
}

HttpResult HttpRequest(const std::string& url, const std::string& method, const std::string& path,
                       const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       std::chrono::milliseconds timeout) {
  HttpResult result;
  int fd = Connect(url);
  if (fd < 0) return result;
  std::string host = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n";
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
    if (Lower(name) == "content-type") has_type = true;
  }
  if (!body.empty() && !has_type) request += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;

  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string_view out = request;
  while (!out.empty()) {
    ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    out.remove_prefix(static_cast<size_t>(n));
  }
  std::string raw;
  char buffer[65536];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) break;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);

  size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.rfind("HTTP/1.", 0) != 0) return result;
  std::istringstream head(raw.substr(0, header_end));
  std::string line;
  std::getline(head, line);
  if (line.size() >= 12) result.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    result.headers[Lower(line.substr(0, colon))] = value;
  }
  result.body = raw.substr(header_end + 4);
  if (auto it = result.headers.find("content-length");
      it != result.headers.end() && method != "HEAD") {
    size_t length = std::stoul(it->second);
    if (result.body.size() > length) result.body.resize(length);
  }
  return result;
}

ServerProcess::ServerProcess(std::filesystem::path binary, std::vector<std::string> args)
    : ServerProcess([&] {
        Options options;
        options.binary = std::move(binary);
        options.args = std::move(args);
        return options;
      }()) {}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {
  std::string pattern = (std::filesystem::temp_directory_path() / "keywardd-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  temp_dir_ = pattern;
  data_dir_ = temp_dir_ / "data";
  try {
    if (!options_.db_url.empty()) {
      db_url_ = options_.db_url;
      options_.args.insert(options_.args.end(), {"--db", db_url_});
    } else if (HasDbArg(options_.args)) {
      db_url_ = DbArgOf(options_.args);
    } else if (TestStoreIsPostgres()) {
      own_db_ = std::make_unique<TestDatabase>("node");
      db_url_ = own_db_->url();
      options_.args.insert(options_.args.end(), {"--db", db_url_});
    } else {
      db_url_ = "sqlite:" + (data_dir_ / "keyward.db").string();
    }
    if (!options_.copy_keys_from.empty()) {
      std::filesystem::create_directories(data_dir_);
      std::filesystem::permissions(data_dir_, std::filesystem::perms::owner_all);
      for (const char* name : {"server.key", "recovery.key"}) {
        std::filesystem::copy_file(options_.copy_keys_from / name, data_dir_ / name);
        std::filesystem::permissions(data_dir_ / name, std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write);
      }
    }
    Spawn("127.0.0.1:0");
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
    throw;
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
  Reap();
  std::error_code ec;
  std::filesystem::remove_all(temp_dir_, ec);
}

void ServerProcess::Reap() {
  if (stdout_drain_.joinable()) stdout_drain_.join();
  if (stdout_fd_ >= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
  }
}

void ServerProcess::Spawn(const std::string& listen) {
  std::vector<std::string> args = {options_.binary.string(), "--listen", listen, "--data",
                                   data_dir_.string()};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "KEYWARD_", 8) != 0) env.emplace_back(*e);
  }
  for (const auto& [name, value] : options_.env) env.push_back(name + "=" + value);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::string stderr_path = (temp_dir_ / "keywardd.stderr").string();
  int err_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(pipe_fds[1], 1);
    ::dup2(err_fd, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  ::close(err_fd);
  ::close(null_fd);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error("fork failed");
  }
  pid_ = pid;
  exit_status_ = -1;
  stdout_fd_ = pipe_fds[0];

  // Read the first line.
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  std::string text;
  while (text.find('\n') == std::string::npos) {
    pollfd p{stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) <= 0) break;
    char buffer[4096];
    ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  std::string first = text.substr(0, text.find('\n'));
  if (text.find('\n') == std::string::npos || first.rfind(kListeningPrefix, 0) != 0) {
    ::kill(pid_, SIGKILL);
    int status = Wait(std::chrono::seconds(10));
    Reap();
    throw std::runtime_error("keywardd did not start (exit " + std::to_string(status) +
                             "); stdout: " + text + "; stderr: " + StderrText());
  }
  url_ = first.substr(kListeningPrefix.size());
  port_ = static_cast<uint16_t>(std::atoi(url_.c_str() + url_.rfind(':') + 1));
  {
    std::lock_guard lock(stdout_->mu);
    stdout_->text = text;
  }
  stdout_drain_ = std::thread([fd = stdout_fd_, capture = stdout_] {
    char buffer[4096];
    while (true) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      std::lock_guard lock(capture->mu);
      capture->text.append(buffer, static_cast<size_t>(n));
    }
  });
}

std::string ServerProcess::StdoutText() const {
  std::lock_guard lock(stdout_->mu);
  return stdout_->text;
}

std::string ServerProcess::StderrText() const { return ReadFile(temp_dir_ / "keywardd.stderr"); }

void ServerProcess::Kill(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int ServerProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) {
        exit_status_ = WEXITSTATUS(status);
      } else if (WIFSIGNALED(status)) {
        exit_status_ = 128 + WTERMSIG(status);
      }
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return exit_status_ = -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return exit_status_;
  Kill(SIGTERM);
  int status = Wait();
  if (status == -1 && pid_ > 0) {
    Kill(SIGKILL);
    Wait();
  }
  Reap();
  return status;
}

void ServerProcess::Restart() {
  Stop();
  Reap();
  try {
    Spawn("127.0.0.1:" + std::to_string(port_));
  } catch (const std::runtime_error&) {
    Spawn("127.0.0.1:0");
  }
}

}  // namespace keyward::testing
