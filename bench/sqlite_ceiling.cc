// The ceiling for durable writes on SQLite (bench/run): raw sqlite3, opened
// as keywardd opens its database (WAL, synchronous=FULL, a busy timeout),
// each writer thread on a connection of its own committing one row of an
// item's size per transaction (BEGIN IMMEDIATE; INSERT; COMMIT), as fast as
// SQLite and the disk allow. No Keyward code.
//
// Usage: keyward_sqlite_ceiling DB_PATH WRITERS SECONDS
// Prints one line: "commits_per_second=<n> writers=<w>". The file is created
// (and should be new: the run appends rows to it).
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

// A stored item is ~300 bytes of ciphertext (bench/seed_account.py).
constexpr int kRowBytes = 300;

bool Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "keyward_sqlite_ceiling: %s: %s\n", sql, error ? error : "?");
    sqlite3_free(error);
    return false;
  }
  return true;
}

sqlite3* Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "keyward_sqlite_ceiling: cannot open %s\n", path.c_str());
    std::exit(1);
  }
  sqlite3_busy_timeout(db, 5000);
  if (!Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")) std::exit(1);
  return db;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: keyward_sqlite_ceiling DB_PATH WRITERS SECONDS\n");
    return 2;
  }
  const std::string path = argv[1];
  const int writers = std::atoi(argv[2]);
  const int seconds = std::atoi(argv[3]);
  if (writers < 1 || seconds < 1) {
    std::fprintf(stderr, "keyward_sqlite_ceiling: WRITERS and SECONDS must be positive\n");
    return 2;
  }
  {
    sqlite3* db = Open(path);
    const bool made =
        Exec(db,
             "CREATE TABLE IF NOT EXISTS items (owner TEXT NOT NULL, id TEXT NOT NULL,"
             " data BLOB NOT NULL, revision INTEGER NOT NULL,"
             " PRIMARY KEY (owner, id))");
    sqlite3_close_v2(db);
    if (!made) return 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<long> commits{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      sqlite3* db = Open(path);
      sqlite3_stmt* insert = nullptr;
      sqlite3_prepare_v2(db,
                         "INSERT INTO items (owner, id, data, revision) VALUES (?1, ?2, ?3, ?4)",
                         -1, &insert, nullptr);
      const std::string owner = "writer-" + std::to_string(w);
      std::vector<unsigned char> data(kRowBytes, static_cast<unsigned char>(w));
      for (long n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        const std::string id = std::to_string(n);
        if (!Exec(db, "BEGIN IMMEDIATE")) {
          failed = true;
          break;
        }
        sqlite3_bind_text(insert, 1, owner.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_text(insert, 2, id.c_str(), -1, SQLITE_STATIC);
        sqlite3_bind_blob(insert, 3, data.data(), kRowBytes, SQLITE_STATIC);
        sqlite3_bind_int64(insert, 4, n);
        const bool inserted = sqlite3_step(insert) == SQLITE_DONE;
        sqlite3_reset(insert);
        if (!inserted || !Exec(db, "COMMIT")) {
          failed = true;
          break;
        }
        commits.fetch_add(1, std::memory_order_relaxed);
      }
      sqlite3_finalize(insert);
      sqlite3_close_v2(db);
    });
  }
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  const long done = commits.load();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& t : threads) t.join();
  if (failed) return 1;
  std::printf("commits_per_second=%.1f writers=%d\n", static_cast<double>(done) / elapsed, writers);
  return 0;
}
