// SIGKILL during writes: writer threads stream POST /v1/items (distinct ids)
// at a live keywardd and record every acknowledged (201) item; the server is
// killed at a random moment while writes are in flight, restarted on the same
// data directory, and must then list every acknowledged item with the data it
// was sent (unacknowledged ones may or may not be there, but whole), and its
// SQLite file must pass PRAGMA integrity_check. Several cycles in one test.
// On PostgreSQL (the pg/ variant) the database outlives keywardd; the items
// must survive all the same (there is no file of ours to check).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/live/live_support.h"
#include "tests/support/server_process.h"

namespace keyward::live {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kWriters = 2;

// Every row PRAGMA integrity_check returns (one "ok" when the file is sound).
std::vector<std::string> IntegrityCheck(const std::filesystem::path& db, int flags) {
  std::vector<std::string> rows;
  sqlite3* handle = nullptr;
  if (sqlite3_open_v2(db.c_str(), &handle, flags, nullptr) != SQLITE_OK) {
    rows.push_back(std::string("open failed: ") + (handle ? sqlite3_errmsg(handle) : "?"));
    sqlite3_close(handle);
    return rows;
  }
  sqlite3_busy_timeout(handle, 5000);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(handle, "PRAGMA integrity_check", -1, &stmt, nullptr) != SQLITE_OK) {
    rows.push_back(std::string("prepare failed: ") + sqlite3_errmsg(handle));
  } else {
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      rows.emplace_back(text ? reinterpret_cast<const char*>(text) : "(null)");
    }
    if (rc != SQLITE_DONE) rows.push_back(std::string("step failed: ") + sqlite3_errmsg(handle));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
  return rows;
}

// The SQLite file: <data>/keyward.db by default, else the one *.db under data.
std::filesystem::path FindDatabase(const std::filesystem::path& data_dir) {
  std::filesystem::path preferred = data_dir / "keyward.db";
  if (std::filesystem::exists(preferred)) return preferred;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir, ec)) {
    if (entry.path().extension() == ".db") return entry.path();
  }
  return preferred;
}

class CrashTest : public ::testing::TestWithParam<int> {};

TEST_P(CrashTest, EveryAcknowledgedItemSurvivesSigkill) {
  const int cycles = GetParam();
  std::unique_ptr<testing::ServerProcess> server;
  LiveAccount account;
  try {
    server = std::make_unique<testing::ServerProcess>(KEYWARDD_PATH, kTestKdfArgs);
    account = CreateAccount(*server, "crash-" + RandomToken(10) + "@example.com");
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  ItemLedger ledger;
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> delay_ms(300, 800);

  for (int cycle = 1; cycle <= cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    size_t acknowledged_before;
    {
      std::lock_guard lock(ledger.mu);
      acknowledged_before = ledger.acknowledged.size();
    }

    // Write, and kill the server while the writes are in flight.
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back(WriteItems, server->url(), account.token,
                           "c" + std::to_string(cycle) + "-w" + std::to_string(w), std::cref(stop),
                           std::ref(ledger));
    }
    const int delay = delay_ms(rng);
    std::this_thread::sleep_for(milliseconds(delay));
    server->Kill(SIGKILL);
    stop = true;
    for (auto& t : writers) t.join();
    int status = server->Wait();
    EXPECT_EQ(status, 128 + SIGKILL) << "keywardd did not die of SIGKILL";

    size_t acknowledged_now;
    {
      std::lock_guard lock(ledger.mu);
      acknowledged_now = ledger.acknowledged.size();
      for (const std::string& u : ledger.unexpected) ADD_FAILURE() << u;
      ledger.unexpected.clear();
    }
    EXPECT_GT(acknowledged_now, acknowledged_before)
        << "no write was acknowledged in " << delay << " ms: the test proves nothing";
    RecordProperty("cycle" + std::to_string(cycle) + "_acknowledged",
                   static_cast<int>(acknowledged_now - acknowledged_before));

    // Restart on the same data directory and log in again.
    try {
      server->Restart();
      account.token = Login(server->url(), account);
    } catch (const std::exception& e) {
      FAIL() << "after SIGKILL: " << e.what();
    }
    HttpResult health = server->Request("GET", "/healthz");
    EXPECT_EQ(health.status, 200) << Describe(health);

    // Every acknowledged item is there, whole; nothing else is.
    HttpResult list =
        server->Request("GET", "/v1/items", "", {{"Authorization", "Bearer " + account.token}});
    ASSERT_EQ(list.status, 200) << Describe(list);
    json body = json::parse(list.body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("items") && body["items"].is_array())
        << Describe(list);
    std::set<std::string> listed;
    std::string previous_id;
    std::lock_guard lock(ledger.mu);
    for (const json& item : body["items"]) {
      ASSERT_TRUE(item.is_object()) << item.dump();
      ASSERT_TRUE(item.contains("id") && item["id"].is_string()) << item.dump();
      const std::string id = item["id"];
      EXPECT_FALSE(listed.count(id)) << "listed twice: " << id;
      listed.insert(id);
      EXPECT_LT(previous_id, id) << "GET /v1/items is not ordered by id";
      previous_id = id;
      auto sent = ledger.sent.find(id);
      if (sent == ledger.sent.end()) {
        ADD_FAILURE() << "an item nobody sent: " << item.dump();
        continue;
      }
      EXPECT_TRUE(item.contains("revision") && item["revision"].is_number_integer() &&
                  item["revision"].get<int64_t>() == 1)
          << item.dump();
      EXPECT_TRUE(item.contains("data") && item["data"].is_string() &&
                  IsBase64Url(item["data"].get<std::string>()))
          << item.dump();
      EXPECT_EQ(item.value("data", ""), sent->second) << "item " << id << " came back different";
      for (const char* field : {"created_at", "updated_at"}) {
        EXPECT_TRUE(item.contains(field) && item[field].is_string() &&
                    IsRfc3339Utc(item[field].get<std::string>()))
            << field << " of " << item.dump();
      }
    }
    size_t lost = 0;
    for (const std::string& id : ledger.acknowledged) {
      if (!listed.count(id)) {
        if (++lost <= 10) ADD_FAILURE() << "acknowledged item lost after SIGKILL: " << id;
      }
    }
    EXPECT_EQ(lost, 0u) << "of " << ledger.acknowledged.size() << " acknowledged items";
    size_t unacknowledged_kept = listed.size() - (ledger.acknowledged.size() - lost);
    RecordProperty("cycle" + std::to_string(cycle) + "_unacknowledged_kept",
                   static_cast<int>(unacknowledged_kept));

    // The database file is sound (read while the restarted server runs).
    if (!server->on_postgres()) {
      std::filesystem::path db = FindDatabase(server->data_dir());
      std::vector<std::string> check = IntegrityCheck(db, SQLITE_OPEN_READONLY);
      EXPECT_EQ(check, std::vector<std::string>{"ok"}) << db;
    }
  }

  // And once more with the server stopped cleanly, read-write.
  EXPECT_EQ(server->Stop(), 0) << "keywardd did not exit cleanly within 15 s of SIGTERM (-1: "
                                  "still running, then SIGKILLed)";
  if (!server->on_postgres()) {
    std::filesystem::path db = FindDatabase(server->data_dir());
    EXPECT_EQ(IntegrityCheck(db, SQLITE_OPEN_READWRITE), std::vector<std::string>{"ok"}) << db;
  }
}

INSTANTIATE_TEST_SUITE_P(live, CrashTest, ::testing::Values(3),
                         [](const auto& info) { return std::to_string(info.param) + "_cycles"; });

}  // namespace
}  // namespace keyward::live
