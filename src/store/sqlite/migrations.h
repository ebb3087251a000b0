// The SQLite schema as an append-only list of migrations. A released
// migration is never edited: a schema change is a new entry at the end. The
// PostgreSQL store keeps its own list with the same versions and meaning.
#pragma once

#include <vector>

#include "store/sql/sql_store.h"

namespace keyward::store::sqlite {

using Migration = sql::Migration;

const std::vector<Migration>& Migrations();

}  // namespace keyward::store::sqlite
