// The SQLite schema as an append-only list of migrations. A released
// migration is never edited: a schema change is a new entry at the end. The
// PostgreSQL store keeps its own list with the same versions and meaning.
#pragma once

#include <vector>

namespace keyward::store::sqlite {

struct Migration {
  int version;
  const char* sql;  // several statements, run in the opening transaction
};

const std::vector<Migration>& Migrations();

}  // namespace keyward::store::sqlite
