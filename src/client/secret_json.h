// JSON whose every heap byte is wiped when freed. The client's request and
// response bodies carry auth keys, TOTP secrets and item plaintext, so they
// are built and parsed with this type instead of nlohmann::json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"

namespace keyward::client {

void WipeMemory(void* p, size_t n);

template <class T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept {
    WipeMemory(p, n * sizeof(T));
    ::operator delete(p);
  }
  template <class U>
  bool operator==(const WipingAllocator<U>&) const noexcept {
    return true;
  }
};

using SecretString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;
using Json = nlohmann::basic_json<std::map, std::vector, SecretString, bool, std::int64_t,
                                  std::uint64_t, double, WipingAllocator>;

inline SecretString ToSecretString(std::string_view s) { return SecretString(s.data(), s.size()); }
inline SecretString ToSecretString(const crypto::SecureBytes& s) {
  return SecretString(s.view().data(), s.size());
}
inline crypto::SecureBytes ToSecureBytes(const SecretString& s) {
  return crypto::SecureBytes::Copy(std::string_view(s.data(), s.size()));
}

// Typed field access with a clear error naming the field.
[[nodiscard]] Result<std::string> JsonString(const Json& j, std::string_view key);
[[nodiscard]] Result<crypto::SecureBytes> JsonSecret(const Json& j, std::string_view key);
[[nodiscard]] Result<int64_t> JsonInt(const Json& j, std::string_view key);
[[nodiscard]] Result<bool> JsonBool(const Json& j, std::string_view key);
[[nodiscard]] Result<crypto::Bytes> JsonBase64(const Json& j, std::string_view key);
[[nodiscard]] Result<crypto::KdfParams> JsonKdf(const Json& j, std::string_view key);
Json KdfToJson(const crypto::KdfParams& kdf);
Json Str(std::string_view s);

}  // namespace keyward::client
