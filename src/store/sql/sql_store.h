// The one SQL implementation of store::Tx, shared by the SQLite and the
// PostgreSQL store: every query and every row mapping is written here once,
// over the driver interface (driver.h). The per-database stores keep only
// their connection, pool, retry, locking and migration lists.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "store/sql/driver.h"
#include "store/store.h"

namespace keyward::store::sql {

// Runs fn once in one transaction on conn: Begin(read_only), fn over the SQL
// Tx, then Commit, or Rollback when fn (or the commit) fails. Retrying is the
// caller's business: only it knows which failures are worth another run.
// The SQL statements run on this thread so far: each query of a
// transaction, and its BEGIN and COMMIT (a page's statement count is the
// difference across it: ListStatementsTest, issue 16). Group-committed
// writes count on the thread that commits them.
uint64_t& StatementsOnThisThread();

[[nodiscard]] Status RunTransaction(Connection& conn, const std::function<Status(Tx&)>& fn,
                                    bool read_only);

// Group commit: runs each of `jobs` in a savepoint of one write transaction
// on conn, in order, and commits once, so that they share one durable
// commit (one fsync). results[i] is jobs[i]'s outcome: a job that fails is
// rolled back alone and the others go on; a job that succeeds is OK only
// once the commit is done, and gets the commit's error if it fails (or the
// error that broke the transaction, which fails every job). Each job is
// atomic and sees what the jobs before it wrote, as in a serial run.
void RunBatch(Connection& conn, std::span<const std::function<Status(Tx&)>* const> jobs,
              std::span<Status> results);

// One step of a schema: several statements run in the migrating transaction.
// A released migration is never edited.
struct Migration {
  int version;
  const char* sql;
};

// The schema's versions, the same on every database:
//   1 accounts, codes, devices, sessions, items, rate limits
//   2 organizations, members, invites, events
//   3 statements, grants, escrows
//   4 recovery requests and approvals
//   5 the keys the database is bound to
//   6 the recovery mode of each escrow
//   7 device pairings
//   8 cloud snapshots, restore requests and their staged items
//   9 single sign-on identities and pending sign-ins
//  10 single sign-on tickets
//  11 trusted devices
//  12 device requests (the device key of a recovery request)
// A driver lists its scripts in that order; they become versions 1, 2, ...
std::vector<Migration> NumberMigrations(std::initializer_list<const char*> scripts);

// The newest migration recorded in schema_migrations (0 for a new database).
[[nodiscard]] Result<int> SchemaVersion(Connection& conn);

// Inside a transaction the caller opened (and commits): creates
// schema_migrations with create_table_sql if needed, refuses a database newer
// than `migrations` (store.schema_too_new), then applies and records every
// migration above the current version, in order.
[[nodiscard]] Status ApplyMigrations(Connection& conn, const std::vector<Migration>& migrations,
                                     const char* create_table_sql, int64_t now);

// The statement Tx::ListRequests runs for one combination of its filters
// (parameters: ?1 org_id, ?2 status, ?3 ?4 the cursor, ?5 limit), so a test
// can check its plan: an index search, no sort.
std::string ListRequestsSql(bool by_status, bool after_cursor, bool by_account = false);

// The columns of the accounts table in the order the Tx reads them, for a
// Dialect's find_account_by_email.
#define KW_SQL_ACCOUNT_COLUMNS                                                                    \
  "id, email, kdf_ops, kdf_mem, salt, verifier, wrapped_vault_key, public_key, "                  \
  "wrapped_private_key, verified, created_at, totp_secret_sealed, totp_enabled, totp_last_step, " \
  "must_change_password"

}  // namespace keyward::store::sql
