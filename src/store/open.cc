#include <string>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"

namespace keyward::store {

Result<std::unique_ptr<Store>> Open(std::string_view url) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.starts_with(kSqlite)) {
    std::string path(url.substr(kSqlite.size()));
    // Accept "sqlite:///abs/path" too, as people write URLs that way.
    if (path.starts_with("//")) path.erase(0, 2);
    if (path.empty()) {
      return Fail(
          Error::InvalidArgument("store.invalid_url", "The sqlite: database URL names no file."));
    }
    return sqlite::OpenSqliteStore(path);
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return postgres::OpenPostgresStore(std::string(url));
  }
  return Fail(Error::InvalidArgument(
      "store.invalid_url",
      "Unknown database URL scheme; expected sqlite:PATH or postgresql://..."));
}

}  // namespace keyward::store
