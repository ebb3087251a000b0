// Secret bytes live in sodium_malloc'd memory (guard pages, mlock'd where the
// OS allows) and are wiped when freed. Move-only: a secret is never copied by
// accident. Never hold a secret in std::string or std::vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace keyward::crypto {

class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(size_t size);  // zero-filled
  static SecureBytes Copy(std::span<const uint8_t> bytes);
  static SecureBytes Copy(std::string_view bytes);
  static SecureBytes Random(size_t size);
  ~SecureBytes();

  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::span<uint8_t> mutable_span() { return {data_, size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  // An explicit copy, for the rare place that must keep two.
  SecureBytes Clone() const { return Copy(span()); }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A 32-byte key with a type of its own, so a vault key cannot be passed where
// an auth key is expected.
template <class Tag>
class Key32 {
 public:
  static constexpr size_t kSize = 32;
  Key32() : bytes_(kSize) {}
  explicit Key32(SecureBytes bytes) : bytes_(std::move(bytes)) {}
  static Key32 Random() { return Key32(SecureBytes::Random(kSize)); }
  std::span<const uint8_t> span() const { return bytes_.span(); }
  const SecureBytes& bytes() const { return bytes_; }
  SecureBytes& bytes() { return bytes_; }
  Key32 Clone() const { return Key32(bytes_.Clone()); }

 private:
  SecureBytes bytes_;
};

using MasterKey = Key32<struct MasterKeyTag>;          // KDF(password, salt)
using AuthKey = Key32<struct AuthKeyTag>;              // Sub(MK, 1, "KWmaster")
using EncryptionKey = Key32<struct EncryptionKeyTag>;  // Sub(MK, 2, "KWmaster")
using VaultKey = Key32<struct VaultKeyTag>;            // UK
using SessionKey = Key32<struct SessionKeyTag>;        // CLI unlock key
using ServerSecret = Key32<struct ServerSecretTag>;    // server key file master secret
using GenericKey = Key32<struct GenericKeyTag>;        // E, A, U, L, KL, T ...

}  // namespace keyward::crypto
