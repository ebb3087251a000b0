// Copies a whole installation from the embedded SQLite store into an empty
// PostgreSQL database (`keywardd migrate`, docs/operations.md "Moving from
// SQLite to PostgreSQL"), over the store drivers' connections (sql/driver.h).
//
// Both databases are opened with store::Open first, so the source is brought
// to the newest schema and the target's schema is created; their schema
// versions must then agree. The copy reads the source inside one SQLite read
// transaction (a consistent snapshot) and writes every table, parents before
// children, in batches of multi-row INSERTs inside ONE PostgreSQL
// transaction: a failure anywhere leaves the target without a row. Columns
// are matched by name (PRAGMA table_info against information_schema); the
// schema_migrations table is not copied (each database keeps its own).
// Identity / serial sequences are moved past the copied ids. After the
// commit, every table's row count and every organization's event chain (seq
// and hash) are compared between the snapshot and the target.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace keyward::store::migrate {

struct MigrateOptions {
  std::string from;  // sqlite:PATH (the file must exist)
  std::string to;    // postgresql://... (an empty keyward database, or a new one)
  // Non-null: one line per table ("accounts: 1200/1200") as the copy goes.
  std::FILE* progress = nullptr;
};

struct MigratedTable {
  std::string name;
  int64_t rows = 0;
};

struct MigrateReport {
  int schema_version = 0;
  std::vector<MigratedTable> tables;  // in copy order
  int64_t rows = 0;                   // sum over tables
  int64_t sequences_advanced = 0;     // identity / serial columns moved past max(id)
  int64_t orgs_verified = 0;          // organizations whose event chains match
  int64_t events_verified = 0;        // events compared across those chains
};

// Errors (each with a one-line message free of passwords):
//   migrate.bad_url           --from or --to is not a database URL this supports
//   migrate.source_missing    the SQLite file does not exist (nothing is created)
//   migrate.open_failed       store::Open failed on either side (unreachable, ...)
//   migrate.version_mismatch  the two schema versions differ
//   migrate.schema_mismatch   a table or column of one side is missing on the other
//   migrate.target_not_empty  some target table has rows (nothing is written)
//   migrate.copy_failed       reading or writing failed; the target has no rows
//   migrate.verify_failed     counts or event chains differ after the commit
[[nodiscard]] Result<MigrateReport> Migrate(const MigrateOptions& options);

// `url` without its password (postgresql://user:secret@host -> user@host,
// ?password=... dropped), safe to print.
std::string RedactDbUrl(std::string_view url);

// Database messages may span lines: returns text on one line.
std::string OneLine(std::string_view text);

}  // namespace keyward::store::migrate
