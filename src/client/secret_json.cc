#include "client/secret_json.h"

#include <string.h>

#include <fmt/format.h>

#include "common/try.h"

namespace keyward::client {

void WipeMemory(void* p, size_t n) {
  if (p != nullptr && n > 0) explicit_bzero(p, n);
}

namespace {

Error BadField(std::string_view key, std::string_view what) {
  return Error::Unavailable("server.bad_response",
                            fmt::format("the server's answer has {} field '{}'", what, key));
}

Result<const Json*> Field(const Json& j, std::string_view key) {
  if (!j.is_object()) return Fail(BadField(key, "no object around"));
  auto it = j.find(ToSecretString(key));
  if (it == j.end()) return Fail(BadField(key, "no"));
  return &*it;
}

}  // namespace

Result<std::string> JsonString(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto f, Field(j, key));
  if (!f->is_string()) return Fail(BadField(key, "a non-string"));
  const auto& s = f->get_ref<const SecretString&>();
  return std::string(s.data(), s.size());
}

Result<crypto::SecureBytes> JsonSecret(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto f, Field(j, key));
  if (!f->is_string()) return Fail(BadField(key, "a non-string"));
  return ToSecureBytes(f->get_ref<const SecretString&>());
}

Result<int64_t> JsonInt(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto f, Field(j, key));
  if (!f->is_number_integer()) return Fail(BadField(key, "a non-integer"));
  return f->get<int64_t>();
}

Result<bool> JsonBool(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto f, Field(j, key));
  if (!f->is_boolean()) return Fail(BadField(key, "a non-boolean"));
  return f->get<bool>();
}

Result<crypto::Bytes> JsonBase64(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto s, JsonString(j, key));
  auto b = crypto::Base64UrlDecode(s);
  if (!b) return Fail(BadField(key, "an invalid base64url"));
  return std::move(*b);
}

Result<crypto::KdfParams> JsonKdf(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto f, Field(j, key));
  auto ops = JsonInt(*f, "ops");
  auto mem = JsonInt(*f, "mem");
  if (!ops || !mem || *ops <= 0 || *mem <= 0) return Fail(BadField(key, "an invalid"));
  return crypto::KdfParams{static_cast<uint64_t>(*ops), static_cast<uint64_t>(*mem)};
}

Json KdfToJson(const crypto::KdfParams& kdf) {
  Json j = Json::object();
  j[ToSecretString("ops")] = kdf.ops;
  j[ToSecretString("mem")] = kdf.mem;
  return j;
}

Json Str(std::string_view s) { return Json(ToSecretString(s)); }

}  // namespace keyward::client
