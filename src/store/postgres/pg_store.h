// The PostgreSQL store, for several keywardd nodes sharing one database.
//
// Transactions. Transact runs BEGIN ISOLATION LEVEL SERIALIZABLE: core does
// read-check-write (quorum counting, "one open request", the next event seq)
// and relies on SQLite's single writer making that atomic; SERIALIZABLE gives
// the same result on PostgreSQL without explicit locks. The price is that a
// transaction may fail with a serialization failure (40001) or a deadlock
// (40P01): the whole callback is then rolled back and run again (up to 10
// attempts, jittered exponential backoff from 2 ms), then store.busy. Read
// runs REPEATABLE READ READ ONLY: one snapshot, writes fail.
//
// Errors. 23505 unique_violation is store.conflict, 23503
// foreign_key_violation store.not_found; anything else is store.error, with
// the SQLSTATE and the server's primary message logged (never its detail,
// which quotes values). As in PostgreSQL generally, a statement that fails
// aborts its transaction: after an error, the callback should return it (as
// core does); further statements in the same transaction fail too.
//
// Pool. Up to pool_size connections, opened lazily and shared by Transact and
// Read; a caller waits while all are busy. Every statement is prepared once
// per connection, parameters are sent in binary (so bytes are never escaped
// and an empty BYTEA stays empty, not NULL). A connection that turns out
// broken (the server restarted, the backend was terminated) is discarded;
// a transaction that lost its connection before COMMIT is run again once on
// a fresh connection, so a node survives a PostgreSQL restart. A COMMIT whose
// connection broke has an unknown outcome and is reported (store.unavailable),
// not repeated.
//
// Schema. Migrations (migrations.h) run at Open in one transaction holding
// pg_advisory_xact_lock(kMigrationLockKey), so nodes starting at once migrate
// one after the other; the others then find nothing to do.
//
// RunExclusive. A process-local try-lock, then pg_try_advisory_lock on
// TaskLockKey(task) on a connection of its own (outside the pool, so fn's own
// transactions cannot wait for it even with a pool of one), held while fn
// runs, then pg_advisory_unlock. If that connection breaks, PostgreSQL
// releases the lock with the session.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql/driver.h"
#include "store/store.h"

namespace keyward::store::postgres {

// url: a libpq URL (postgresql://user[:password]@host[:port]/db?params).
// connect_timeout defaults to 10 seconds unless the URL sets it. Errors:
// store.invalid_url, store.unavailable (the message names host and port but
// never the password), store.schema_too_new, store.error.
[[nodiscard]] Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                               int pool_size = 8);

// One connection of the driver, outside any store (keywardd migrate writes
// its target through it). Errors as OpenPostgresStore's.
[[nodiscard]] Result<std::unique_ptr<sql::Connection>> Connect(const std::string& url);

// Every table of the current schema except schema_migrations, parents before
// children (foreign keys point only to tables earlier in the list), so a copy
// that inserts the tables in this order, each whole, never breaks a foreign
// key. Columns have the same names and order as in SQLite. After copying
// totp_recovery_codes (whose id is an identity column), move its sequence
// past the copied ids:
//   SELECT setval(pg_get_serial_sequence('totp_recovery_codes', 'id'),
//                 (SELECT COALESCE(MAX(id), 0) + 1 FROM totp_recovery_codes), false)
std::vector<std::string> TablesInCopyOrder();

// The advisory lock key of RunExclusive(task): the 64-bit FNV-1a hash of
// "keyward.task:" + task, as a signed integer. Stable across versions and
// nodes (any two keywardd versions sharing a database agree on it).
int64_t TaskLockKey(std::string_view task);

// The transaction-scoped advisory lock key that serializes migrations.
inline constexpr int64_t kMigrationLockKey = 0x6b65797761726431;  // "keyward1"

// The statement Tx::ListRequests runs for one combination of its filters
// (parameters: $1 org_id, $2 status, $3 $4 the cursor, $5 limit), so a test
// can check its plan: an index scan, no sort.
std::string ListRequestsSql(bool by_status, bool after_cursor);

}  // namespace keyward::store::postgres
