// HMACs and the one-time passwords built on them (RFC 4226 / RFC 6238).
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <array>
#include <optional>

#include "crypto/crypto.h"
#include "crypto/internal.h"

namespace keyward::crypto {
namespace {

constexpr int64_t kTotpStep = 30;
constexpr int kMinDigits = 6;
constexpr int kMaxDigits = 8;

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

Bytes Hmac(TotpAlgorithm alg, std::span<const uint8_t> key, std::span<const uint8_t> message) {
  switch (alg) {
    case TotpAlgorithm::kSha1:
      return HmacSha1(key, message);
    case TotpAlgorithm::kSha256:
      return HmacSha256(key, message);
    case TotpAlgorithm::kSha512:
      return HmacSha512(key, message);
  }
  internal::Require(false, "Hmac: unknown algorithm");
  return {};
}

// RFC 4226 section 5.3 (HOTP with dynamic truncation) for counter `step`.
std::string HotpCode(std::span<const uint8_t> secret, uint64_t counter, int digits,
                     TotpAlgorithm alg) {
  std::array<uint8_t, 8> message{};
  for (int i = 7; i >= 0; --i) {
    message[static_cast<size_t>(i)] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  const Bytes mac = Hmac(alg, secret, message);
  const size_t offset = mac.back() & 0x0f;
  const uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                          (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                          (static_cast<uint32_t>(mac[offset + 2]) << 8) |
                          static_cast<uint32_t>(mac[offset + 3]);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  uint32_t value = binary % modulus;
  std::string code(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    code[static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return code;
}

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

Bytes HmacSha512(std::span<const uint8_t> key, std::span<const uint8_t> message) {
  internal::EnsureSodium();
  // The _init API takes keys of any length (hashed when longer than a block),
  // unlike crypto_auth_hmacsha512 which fixes the key at 32 bytes.
  crypto_auth_hmacsha512_state state;
  crypto_auth_hmacsha512_init(&state, internal::DataOrDummy(key), key.size());
  crypto_auth_hmacsha512_update(&state, internal::DataOrDummy(message), message.size());
  Bytes out(crypto_auth_hmacsha512_BYTES);
  crypto_auth_hmacsha512_final(&state, out.data());
  sodium_memzero(&state, sizeof state);
  return out;
}

Bytes HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> message) {
  internal::EnsureSodium();
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, internal::DataOrDummy(key), key.size());
  crypto_auth_hmacsha256_update(&state, internal::DataOrDummy(message), message.size());
  Bytes out(crypto_auth_hmacsha256_BYTES);
  crypto_auth_hmacsha256_final(&state, out.data());
  sodium_memzero(&state, sizeof state);
  return out;
}

Bytes Sha256(std::span<const uint8_t> message) {
  internal::EnsureSodium();
  Bytes out(crypto_hash_sha256_BYTES);
  crypto_hash_sha256(out.data(), internal::DataOrDummy(message), message.size());
  return out;
}

Bytes HmacSha1(std::span<const uint8_t> key, std::span<const uint8_t> message) {
  // libsodium has no SHA-1; authenticator apps still default to it.
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int out_len = 0;
  const unsigned char* result =
      HMAC(EVP_sha1(), internal::DataOrDummy(key), static_cast<int>(key.size()),
           internal::DataOrDummy(message), message.size(), out.data(), &out_len);
  internal::Require(result != nullptr && out_len == 20, "HmacSha1: OpenSSL HMAC failed");
  out.resize(out_len);
  return out;
}

std::string TotpCode(std::span<const uint8_t> secret, int64_t unix_time, int digits,
                     TotpAlgorithm alg) {
  internal::Require(digits >= kMinDigits && digits <= kMaxDigits, "TotpCode: digits 6..8");
  const int64_t step = FloorDiv(unix_time, kTotpStep);
  return HotpCode(secret, static_cast<uint64_t>(step), digits, alg);
}

std::optional<int64_t> TotpVerifyStep(std::span<const uint8_t> secret, std::string_view code,
                                      int64_t unix_time, int window) {
  const int digits = static_cast<int>(code.size());
  if (digits < kMinDigits || digits > kMaxDigits) return std::nullopt;
  if (window < 0) window = 0;
  const int64_t now_step = FloorDiv(unix_time, kTotpStep);
  std::optional<int64_t> matched;
  // Every candidate step is computed and compared, so timing does not tell
  // which step (if any) matched.
  for (int64_t delta = -window; delta <= window; ++delta) {
    const int64_t step = now_step + delta;
    if (step < 0) continue;
    const std::string expected =
        HotpCode(secret, static_cast<uint64_t>(step), digits, TotpAlgorithm::kSha1);
    if (ConstantTimeEqual(AsBytes(expected), AsBytes(code)) && !matched) matched = step;
  }
  return matched;
}

bool TotpVerify(std::span<const uint8_t> secret, std::string_view code, int64_t unix_time,
                int window) {
  return TotpVerifyStep(secret, code, unix_time, window).has_value();
}

}  // namespace keyward::crypto
