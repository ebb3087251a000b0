// crypto_secretstream_xchacha20poly1305 behind StreamPush / StreamPull
// (crypto.h). The stream state lives in guarded, zeroed-on-free memory.
#include <sodium.h>

#include "crypto/crypto.h"
#include "crypto/internal.h"

namespace keyward::crypto {
namespace {

static_assert(kStreamHeaderSize == crypto_secretstream_xchacha20poly1305_HEADERBYTES);
static_assert(kStreamOverhead == crypto_secretstream_xchacha20poly1305_ABYTES);

crypto_secretstream_xchacha20poly1305_state* State(SecureBytes& bytes) {
  return reinterpret_cast<crypto_secretstream_xchacha20poly1305_state*>(bytes.data());
}

Error StreamFailed() {
  return Error::InvalidArgument("crypto.decrypt_failed", "decryption failed");  // as Decrypt
}

}  // namespace

StreamPush::StreamPush(std::span<const uint8_t> key)
    : state_(sizeof(crypto_secretstream_xchacha20poly1305_state)), header_(kStreamHeaderSize) {
  internal::EnsureSodium();
  internal::Require(key.size() == crypto_secretstream_xchacha20poly1305_KEYBYTES,
                    "StreamPush: key must be 32 bytes");
  crypto_secretstream_xchacha20poly1305_init_push(State(state_), header_.data(), key.data());
}

Bytes StreamPush::Push(std::span<const uint8_t> message, std::span<const uint8_t> ad, bool final) {
  Bytes out(message.size() + kStreamOverhead);
  crypto_secretstream_xchacha20poly1305_push(
      State(state_), out.data(), nullptr, internal::DataOrDummy(message), message.size(),
      internal::DataOrDummy(ad), ad.size(),
      final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
            : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  return out;
}

Result<StreamPull> StreamPull::Start(std::span<const uint8_t> key,
                                     std::span<const uint8_t> header) {
  internal::EnsureSodium();
  internal::Require(key.size() == crypto_secretstream_xchacha20poly1305_KEYBYTES,
                    "StreamPull: key must be 32 bytes");
  if (header.size() != kStreamHeaderSize) return Fail(StreamFailed());
  StreamPull pull;
  pull.state_ = SecureBytes(sizeof(crypto_secretstream_xchacha20poly1305_state));
  if (crypto_secretstream_xchacha20poly1305_init_pull(State(pull.state_), header.data(),
                                                      key.data()) != 0) {
    return Fail(StreamFailed());
  }
  return pull;
}

Status StreamPull::PullInto(std::span<const uint8_t> ciphertext, std::span<const uint8_t> ad,
                            std::span<uint8_t> out, bool* final) {
  if (ciphertext.size() < kStreamOverhead || out.size() != ciphertext.size() - kStreamOverhead) {
    return Fail(StreamFailed());
  }
  uint8_t dummy = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(
          State(state_), out.empty() ? &dummy : out.data(), nullptr, &tag, ciphertext.data(),
          ciphertext.size(), internal::DataOrDummy(ad), ad.size()) != 0) {
    return Fail(StreamFailed());
  }
  // Only the two tags this module writes are accepted.
  if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE &&
      tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    Wipe(out);
    return Fail(StreamFailed());
  }
  *final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  return {};
}

}  // namespace keyward::crypto
