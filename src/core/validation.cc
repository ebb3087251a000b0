#include "core/validation.h"

#include <algorithm>
#include <string>

namespace keyward::core {

namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

Error InvalidEmail() {
  return Error::InvalidArgument("account.invalid_email", "The email address is not valid.");
}

}  // namespace

Error InvalidField(std::string_view field) {
  return Error::InvalidArgument("request.invalid_field",
                                "The field '" + std::string(field) + "' is not valid.");
}

Result<std::string> NormalizeEmail(std::string_view email) {
  while (!email.empty() && IsSpace(email.front())) email.remove_prefix(1);
  while (!email.empty() && IsSpace(email.back())) email.remove_suffix(1);
  if (email.empty() || email.size() > kMaxEmailLength) return Fail(InvalidEmail());
  std::string out;
  out.reserve(email.size());
  for (char c : email) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return Fail(InvalidEmail());
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (std::count(out.begin(), out.end(), '@') != 1) return Fail(InvalidEmail());
  size_t at = out.find('@');
  std::string_view local(out.data(), at);
  std::string_view domain(out.data() + at + 1, out.size() - at - 1);
  if (local.empty() || local.size() > 64 || domain.empty()) return Fail(InvalidEmail());
  if (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string::npos) {
    return Fail(InvalidEmail());
  }
  return out;
}

bool IsValidClientId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool IsValidAccountId(std::string_view id) {
  if (id.size() != 22) return false;  // 16 bytes, unpadded base64url
  auto decoded = crypto::Base64UrlDecode(id);
  return decoded && decoded->size() == 16;
}

bool IsValidLabel(std::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  return std::none_of(label.begin(), label.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool IsValidDeviceType(std::string_view type) {
  return type == "cli" || type == "web" || type == "desktop" || type == "mobile";
}

Status CheckKdf(const crypto::KdfParams& kdf, const crypto::KdfParams& minimum) {
  // Beyond these the client would only hurt itself, but the values are
  // echoed to every device of the account, so keep them sane.
  constexpr uint64_t kMaxOps = 64;
  constexpr uint64_t kMaxMem = 4ull << 30;
  if (kdf.ops > kMaxOps || kdf.mem > kMaxMem) return Fail(InvalidField("kdf"));
  if (kdf.ops < minimum.ops || kdf.mem < minimum.mem) {
    return Fail(Error::InvalidArgument(
        "kdf.too_weak", "The key derivation parameters are below this server's minimum."));
  }
  return {};
}

}  // namespace keyward::core
