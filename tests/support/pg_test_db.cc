#include "pg_test_db.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>

namespace keyward::testing {
namespace {

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using PgResult = std::unique_ptr<PGresult, ResultClearer>;

Conn Connect(const std::string& url) {
  Conn conn(PQconnectdb(url.c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error(std::string("cannot connect to the test cluster: ") +
                             PQerrorMessage(conn.get()));
  }
  return conn;
}

PgResult Run(PGconn* conn, const std::string& sql) {
  PgResult r(PQexec(conn, sql.c_str()));
  auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error(std::string("SQL failed: ") + PQresultErrorMessage(r.get()));
  }
  return r;
}

}  // namespace

std::string TestClusterUrl() {
  const char* file = std::getenv("KEYWARD_TEST_PG_URL_FILE");
  if (file == nullptr || *file == '\0') return "";
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  return url;
}

bool PgRequired() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0' && std::string_view(ci) != "false";
}

std::string DatabaseUrl(const std::string& admin_url, const std::string& name) {
  // postgresql://user@host:port/postgres[?params] -> .../name[?params]
  auto query = admin_url.find('?');
  std::string base = admin_url.substr(0, query);
  std::string params = query == std::string::npos ? "" : admin_url.substr(query);
  auto slash = base.rfind('/');
  if (slash == std::string::npos || slash < base.find("//") + 2) {
    base += "/";
  } else {
    base.erase(slash + 1);
  }
  return base + name + params;
}

TestDatabase::TestDatabase(std::string_view label) {
  std::string admin = TestClusterUrl();
  if (admin.empty()) throw std::runtime_error("no PostgreSQL test cluster");
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = "kw_" + std::string(label) + "_" + std::to_string(::getpid()) + "_" +
          std::to_string(counter++) + "_" + std::to_string(rd() % 100000);
  for (char& c : name_) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) c = '_';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto conn = Connect(admin);
  Run(conn.get(), "CREATE DATABASE " + name_);
  url_ = DatabaseUrl(admin, name_);
}

TestDatabase::~TestDatabase() {
  try {
    auto conn = Connect(TestClusterUrl());
    Run(conn.get(), "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The cluster is removed after the run anyway.
  }
}

void TestDatabase::Exec(const std::string& sql) const {
  auto conn = Connect(url_);
  Run(conn.get(), sql);
}

std::vector<std::vector<std::string>> TestDatabase::Query(const std::string& sql) const {
  auto conn = Connect(url_);
  auto r = Run(conn.get(), sql);
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r.get()); ++j) {
      row.emplace_back(PQgetisnull(r.get(), i, j) ? "" : PQgetvalue(r.get(), i, j));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace keyward::testing
