// The embedded SQLite store: WAL journal, synchronous=FULL (an acknowledged
// commit survives kill -9 and power loss), foreign keys on, a busy timeout,
// and a small pool of connections so several HTTP worker threads can read at
// once while SQLite serializes writers (BEGIN IMMEDIATE).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "store/sql/driver.h"
#include "store/store.h"

namespace keyward::store::sqlite {

// path ":memory:" opens one private in-memory database (pool of one).
[[nodiscard]] Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                             int pool_size = 4);

// One connection of the driver, outside any store (keywardd migrate reads
// its source through it): read_only opens an existing file without creating
// it; otherwise as the store's own connections (WAL, synchronous=FULL,
// foreign keys).
// The group commit's counters (issue 16): write transactions asked for, and
// the commits they shared. Zeros for a store that is not a SQLite store.
struct WriteStats {
  int64_t writes = 0;
  int64_t commits = 0;
};
WriteStats WriteStatsOf(Store& store);

[[nodiscard]] Result<std::unique_ptr<sql::Connection>> Connect(const std::string& path,
                                                               bool read_only);

// The statement Tx::ListRequests runs for one combination of its filters
// (parameters: ?1 org_id, ?2 status, ?3 ?4 the cursor, ?5 limit), so a test
// can check its query plan: an index search, no sort.
std::string ListRequestsSql(bool by_status, bool after_cursor);

}  // namespace keyward::store::sqlite
