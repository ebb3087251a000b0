// Strict decoding of JSON request bodies. Every object names the fields it
// accepts; anything else is refused. Error messages name the field (with its
// path, e.g. "device.id") but never echo a value:
//   request.unknown_field   a field the route does not take
//   request.missing_field   a required field is absent
//   request.invalid_field   wrong type, invalid base64url, wrong length
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "crypto/crypto.h"
#include "http/router.h"

namespace keyward::api {

class Fields {
 public:
  // Parses the body (see http::ParseJsonBody) and checks its field names.
  [[nodiscard]] static Result<Fields> FromBody(const http::Request& request,
                                               std::initializer_list<std::string_view> allowed);

  [[nodiscard]] Result<std::string> String(std::string_view name) const;
  // Absent or null -> nullopt.
  [[nodiscard]] Result<std::optional<std::string>> OptionalString(std::string_view name) const;
  // A non-negative integer.
  [[nodiscard]] Result<int64_t> Count(std::string_view name) const;
  // base64url, decoded size within [min_size, max_size].
  [[nodiscard]] Result<crypto::Bytes> Binary(std::string_view name, size_t min_size,
                                             size_t max_size) const;
  // An array of at most max_items base64url strings, each decoded to
  // exactly `size` bytes (paths "name[i]").
  [[nodiscard]] Result<std::vector<crypto::Bytes>> BinaryArray(std::string_view name, size_t size,
                                                               size_t max_items) const;
  // base64url of exactly 32 bytes, decoded straight into secure memory.
  [[nodiscard]] Result<crypto::AuthKey> AuthKey(std::string_view name) const;
  // {"ops": n, "mem": n}
  [[nodiscard]] Result<crypto::KdfParams> Kdf(std::string_view name) const;
  [[nodiscard]] Result<Fields> Object(std::string_view name,
                                      std::initializer_list<std::string_view> allowed) const;
  // Present and not null (for optional objects and arrays).
  bool Has(std::string_view name) const;
  // An array of at most max_items objects, each checked like Object (paths
  // "name[i].field").
  [[nodiscard]] Result<std::vector<Fields>> ObjectArray(
      std::string_view name, std::initializer_list<std::string_view> allowed,
      size_t max_items) const;

 private:
  Fields(nlohmann::json json, std::string prefix)
      : json_(std::move(json)), prefix_(std::move(prefix)) {}
  [[nodiscard]] static Result<Fields> Check(nlohmann::json json, std::string prefix,
                                            std::initializer_list<std::string_view> allowed);
  [[nodiscard]] Result<const nlohmann::json*> Required(std::string_view name) const;
  std::string Path(std::string_view name) const;
  Error Invalid(std::string_view name) const;

  nlohmann::json json_;
  std::string prefix_;
};

}  // namespace keyward::api
