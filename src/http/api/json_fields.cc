#include "http/api/json_fields.h"

#include <algorithm>

#include "common/try.h"

namespace keyward::api {

Result<Fields> Fields::FromBody(const http::Request& request,
                                std::initializer_list<std::string_view> allowed) {
  KW_ASSIGN_OR_RETURN(auto json, http::ParseJsonBody(request));
  return Check(std::move(json), "", allowed);
}

Result<Fields> Fields::Check(nlohmann::json json, std::string prefix,
                             std::initializer_list<std::string_view> allowed) {
  if (!json.is_object()) {
    return Fail(Error::InvalidArgument(
        "request.invalid_field",
        prefix.empty()
            ? "The body must be a JSON object."
            : "The field '" + prefix.substr(0, prefix.size() - 1) + "' must be an object."));
  }
  for (const auto& [key, value] : json.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      // Field names are the client's vocabulary, not its data; still, cap
      // what is echoed.
      std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      return Fail(Error::InvalidArgument("request.unknown_field",
                                         "Unknown field '" + prefix + shown + "'."));
    }
  }
  return Fields(std::move(json), std::move(prefix));
}

std::string Fields::Path(std::string_view name) const { return prefix_ + std::string(name); }

Error Fields::Invalid(std::string_view name) const {
  return Error::InvalidArgument("request.invalid_field",
                                "The field '" + Path(name) + "' is not valid.");
}

Result<const nlohmann::json*> Fields::Required(std::string_view name) const {
  auto it = json_.find(name);
  if (it == json_.end()) {
    return Fail(Error::InvalidArgument("request.missing_field",
                                       "The field '" + Path(name) + "' is missing."));
  }
  return &*it;
}

Result<std::string> Fields::String(std::string_view name) const {
  KW_ASSIGN_OR_RETURN(const nlohmann::json* v, Required(name));
  if (!v->is_string()) return Fail(Invalid(name));
  return v->get<std::string>();
}

Result<std::optional<std::string>> Fields::OptionalString(std::string_view name) const {
  auto it = json_.find(name);
  if (it == json_.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Fail(Invalid(name));
  return std::optional<std::string>(it->get<std::string>());
}

Result<int64_t> Fields::Count(std::string_view name) const {
  KW_ASSIGN_OR_RETURN(const nlohmann::json* v, Required(name));
  const nlohmann::json& j = *v;
  if (j.is_number_unsigned()) {
    auto u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return Fail(Invalid(name));
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return j.get<int64_t>();
  return Fail(Invalid(name));
}

Result<crypto::Bytes> Fields::Binary(std::string_view name, size_t min_size,
                                     size_t max_size) const {
  KW_ASSIGN_OR_RETURN(const nlohmann::json* v, Required(name));
  if (!v->is_string()) return Fail(Invalid(name));
  const auto& text = v->get_ref<const std::string&>();
  // Cheap bound before decoding: 4 characters per 3 bytes.
  if (text.size() > (max_size / 3 + 1) * 4) return Fail(Invalid(name));
  auto bytes = crypto::Base64UrlDecode(text);
  if (!bytes || bytes->size() < min_size || bytes->size() > max_size) return Fail(Invalid(name));
  return std::move(*bytes);
}

Result<std::vector<crypto::Bytes>> Fields::BinaryArray(std::string_view name, size_t size,
                                                       size_t max_items) const {
  KW_ASSIGN_OR_RETURN(const nlohmann::json* v, Required(name));
  if (!v->is_array() || v->size() > max_items) return Fail(Invalid(name));
  std::vector<crypto::Bytes> out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string element = std::string(name) + "[" + std::to_string(i) + "]";
    if (!(*v)[i].is_string()) return Fail(Invalid(element));
    auto bytes = crypto::Base64UrlDecode((*v)[i].get_ref<const std::string&>());
    if (!bytes || bytes->size() != size) return Fail(Invalid(element));
    out.push_back(std::move(*bytes));
  }
  return out;
}

Result<crypto::AuthKey> Fields::AuthKey(std::string_view name) const {
  KW_ASSIGN_OR_RETURN(const nlohmann::json* v, Required(name));
  if (!v->is_string()) return Fail(Invalid(name));
  const auto& text = v->get_ref<const std::string&>();
  if (text.size() != 43) return Fail(Invalid(name));  // 32 bytes, unpadded
  auto bytes = crypto::Base64UrlDecodeSecret(text);
  if (!bytes || bytes->size() != crypto::AuthKey::kSize) return Fail(Invalid(name));
  return crypto::AuthKey(std::move(*bytes));
}

Result<crypto::KdfParams> Fields::Kdf(std::string_view name) const {
  KW_ASSIGN_OR_RETURN(auto object, Object(name, {"ops", "mem"}));
  KW_ASSIGN_OR_RETURN(int64_t ops, object.Count("ops"));
  KW_ASSIGN_OR_RETURN(int64_t mem, object.Count("mem"));
  return crypto::KdfParams{static_cast<uint64_t>(ops), static_cast<uint64_t>(mem)};
}

Result<Fields> Fields::Object(std::string_view name,
                              std::initializer_list<std::string_view> allowed) const {
  KW_ASSIGN_OR_RETURN(const nlohmann::json* v, Required(name));
  if (!v->is_object()) return Fail(Invalid(name));
  return Check(*v, Path(name) + ".", allowed);
}

bool Fields::Has(std::string_view name) const {
  auto it = json_.find(name);
  return it != json_.end() && !it->is_null();
}

Result<std::vector<Fields>> Fields::ObjectArray(std::string_view name,
                                                std::initializer_list<std::string_view> allowed,
                                                size_t max_items) const {
  KW_ASSIGN_OR_RETURN(const nlohmann::json* v, Required(name));
  if (!v->is_array() || v->size() > max_items) return Fail(Invalid(name));
  std::vector<Fields> out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    KW_ASSIGN_OR_RETURN(auto element,
                        Check((*v)[i], Path(name) + "[" + std::to_string(i) + "].", allowed));
    out.push_back(std::move(element));
  }
  return out;
}

}  // namespace keyward::api
