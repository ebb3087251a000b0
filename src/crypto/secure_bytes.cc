#include "crypto/secure_bytes.h"

#include <sodium.h>

#include <cstring>
#include <new>

#include "crypto/internal.h"

namespace keyward::crypto {

SecureBytes::SecureBytes(size_t size) : size_(size) {
  if (size == 0) return;
  internal::EnsureSodium();
  data_ = static_cast<uint8_t*>(sodium_malloc(size));
  if (data_ == nullptr) throw std::bad_alloc();
  // sodium_malloc fills with 0xdb to expose use of uninitialised memory.
  sodium_memzero(data_, size);
}

SecureBytes SecureBytes::Copy(std::span<const uint8_t> bytes) {
  SecureBytes out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data_, bytes.data(), bytes.size());
  return out;
}

SecureBytes SecureBytes::Copy(std::string_view bytes) {
  return Copy(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

SecureBytes SecureBytes::Random(size_t size) {
  SecureBytes out(size);
  if (size != 0) randombytes_buf(out.data_, size);
  return out;
}

SecureBytes::~SecureBytes() {
  // sodium_free wipes before unmapping.
  if (data_ != nullptr) sodium_free(data_);
}

SecureBytes::SecureBytes(SecureBytes&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

}  // namespace keyward::crypto
