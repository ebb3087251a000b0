// The PostgreSQL schema as an append-only list of migrations, version for
// version the same as the SQLite list (store/sqlite/migrations.cc): the same
// tables, the same column names in the same order, the same constraints,
// foreign keys and indexes, with INTEGER as BIGINT, TEXT as TEXT and BLOB as
// BYTEA. So a database can be copied from SQLite table by table
// (postgres::TablesInCopyOrder). A released migration is never edited.
#pragma once

#include <vector>

#include "store/sql/sql_store.h"

namespace keyward::store::postgres {

using Migration = sql::Migration;

const std::vector<Migration>& Migrations();

}  // namespace keyward::store::postgres
