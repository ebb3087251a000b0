#include "store/store.h"

#include <string>

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

}  // namespace keyward::store
