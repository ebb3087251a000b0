#include "store/store.h"

#include <string>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace keyward::store {

Error StoreError(std::string_view operation) {
  return Error::Internal("store.error",
                         "The database failed during " + std::string(operation) + ".");
}
Error ConflictError(std::string_view operation) {
  return Error::Conflict("store.conflict",
                         "A record already exists (" + std::string(operation) + ").");
}
Error NotFoundError(std::string_view operation) {
  return Error::NotFound("store.not_found", "No such record (" + std::string(operation) + ").");
}
Error StaleError(std::string_view operation) {
  return Error::Conflict("store.stale",
                         "The record changed since it was read (" + std::string(operation) + ").");
}

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
