// Every primitive of docs/protocol.md. This module is the only code that
// includes <sodium.h>; everything else uses these functions. Failures to
// decrypt or open are one error ("crypto.decrypt_failed") whatever the cause.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "crypto/secure_bytes.h"

namespace keyward::crypto {

using Bytes = std::vector<uint8_t>;

// Must be called once before anything else (idempotent, thread-safe).
[[nodiscard]] Status Init();

// ---- encodings ----
std::string Base64UrlEncode(std::span<const uint8_t> bytes);  // unpadded
// The same encoding appended to `out`, table-driven and NOT constant time:
// only for public bytes such as ciphertexts (item listings encode many).
void AppendBase64UrlPublic(std::string& out, std::span<const uint8_t> bytes);
// Rejects padding, '+', '/', whitespace and any non-alphabet character.
[[nodiscard]] Result<Bytes> Base64UrlDecode(std::string_view text);
[[nodiscard]] Result<SecureBytes> Base64UrlDecodeSecret(std::string_view text);
// The same decoding, table-driven and NOT constant time: only for public
// bytes such as ciphertexts (a vault listing decodes thousands). It accepts
// exactly the texts Base64UrlDecode accepts (Base64Test holds the two to
// each other) and gives the same bytes.
[[nodiscard]] Result<Bytes> Base64UrlDecodePublic(std::string_view text);
// Decodes into caller storage, without allocating: for hot paths where the
// text itself already sits in ordinary memory (a bearer token in a request
// header), so a guarded buffer would add nothing. Returns the decoded size.
[[nodiscard]] Result<size_t> Base64UrlDecodeInto(std::string_view text, std::span<uint8_t> out);
// Zeroes memory in a way the compiler cannot drop (sodium_memzero).
void Wipe(std::span<uint8_t> bytes);
std::string HexEncode(std::span<const uint8_t> bytes);
[[nodiscard]] Result<Bytes> HexDecode(std::string_view text);

// Associated data / sealed headers: UTF-8 parts joined by 0x00.
Bytes Ad(std::initializer_list<std::string_view> parts);
// The same bytes written into `buffer` (a hot path's stack buffer): the
// part of it they fill, or nullopt when they do not fit.
std::optional<std::span<const uint8_t>> AdInto(std::span<uint8_t> buffer,
                                               std::initializer_list<std::string_view> parts);

// ---- randomness ----
Bytes RandomBytes(size_t n);
// n (>= 1) random bytes whose unpadded base64url does not start with '-',
// and that text: ids and tokens are typed as command-line arguments, where a
// leading '-' reads as an option (`keyward org join -Xy...`). Redrawing the
// 1 in 64 draws that would start so costs 0.023 bits.
Bytes RandomArgSafeBytes(size_t n);
std::string RandomArgSafeId(size_t n);
uint32_t RandomUniform(uint32_t upper_bound);  // randombytes_uniform
std::string RandomDigits(int n);               // e.g. 6-digit email codes

// ---- KDF: crypto_pwhash Argon2id13, 32-byte output ----
struct KdfParams {
  uint64_t ops = 3;
  uint64_t mem = 64ull << 20;  // bytes
};
inline constexpr KdfParams kDefaultKdf{3, 64ull << 20};
inline constexpr KdfParams kClientFloorKdf{2, 19ull << 20};  // the client refuses less
inline constexpr KdfParams kTestKdf{1, 8ull << 10};          // tests only
inline constexpr size_t kSaltSize = 16;                      // crypto_pwhash_SALTBYTES

[[nodiscard]] Result<MasterKey> DeriveMasterKey(std::string_view password,
                                                std::span<const uint8_t> salt, KdfParams params);

// Sub(K, id, ctx): crypto_kdf_derive_from_key, 32 bytes; ctx is exactly 8 chars.
SecureBytes Sub(std::span<const uint8_t> key, uint64_t id, std::string_view ctx8);

struct AccountKeys {
  AuthKey auth;
  EncryptionKey enc;
};
// AK = Sub(MK, 1, "KWmaster"), EK = Sub(MK, 2, "KWmaster")
AccountKeys SplitMasterKey(const MasterKey& mk);

// ---- AEAD: XChaCha20-Poly1305-IETF, blob = 0x01 || nonce(24) || ct ----
Bytes Encrypt(std::span<const uint8_t> key, std::span<const uint8_t> plaintext,
              std::span<const uint8_t> ad);
[[nodiscard]] Result<SecureBytes> Decrypt(std::span<const uint8_t> key,
                                          std::span<const uint8_t> blob,
                                          std::span<const uint8_t> ad);
// Deterministic variant for known-answer vectors only.
Bytes EncryptWithNonce(std::span<const uint8_t> key, std::span<const uint8_t> nonce24,
                       std::span<const uint8_t> plaintext, std::span<const uint8_t> ad);

// ---- secretstream: crypto_secretstream_xchacha20poly1305 ----
// A sequence of messages under one key: each is authenticated with its
// place in the stream, so a reordered, dropped, repeated or edited message
// fails to open, and the last one carries the FINAL tag, so a cut stream is
// told from a whole one. Used by local backup files (docs/protocol.md
// "Backups").
inline constexpr size_t kStreamHeaderSize = 24;  // crypto_secretstream_..._HEADERBYTES
inline constexpr size_t kStreamOverhead = 17;    // crypto_secretstream_..._ABYTES

class StreamPush {
 public:
  // A fresh stream under a 32-byte key; `header` (24 bytes, random) must be
  // stored before the first message.
  explicit StreamPush(std::span<const uint8_t> key);
  const Bytes& header() const { return header_; }
  // One message (kStreamOverhead longer); `final` tags it as the last.
  Bytes Push(std::span<const uint8_t> message, std::span<const uint8_t> ad, bool final);

 private:
  SecureBytes state_;
  Bytes header_;
};

class StreamPull {
 public:
  // "crypto.decrypt_failed" if the header is not 24 bytes.
  [[nodiscard]] static Result<StreamPull> Start(std::span<const uint8_t> key,
                                                std::span<const uint8_t> header);
  // Opens the next message into `out` (exactly kStreamOverhead shorter than
  // the ciphertext; the caller's buffer, so many messages can share one
  // guarded allocation); "crypto.decrypt_failed" (the one error of every
  // failure to decrypt) if it is not the next message of this stream.
  // `*final` says whether it carried the FINAL tag.
  [[nodiscard]] Status PullInto(std::span<const uint8_t> ciphertext, std::span<const uint8_t> ad,
                                std::span<uint8_t> out, bool* final);

 private:
  StreamPull() = default;
  SecureBytes state_;
};

// ---- keyed hash: BLAKE2b-256 ----
Bytes Hash(std::span<const uint8_t> key, std::span<const uint8_t> message);

// Constant time; false when lengths differ.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

// ---- sealed boxes (X25519) ----
struct BoxKeyPair {
  Bytes public_key;        // 32
  SecureBytes secret_key;  // 32
};
BoxKeyPair GenerateBoxKeyPair();
BoxKeyPair BoxKeyPairFromSeed(std::span<const uint8_t> seed32);
// False for anything but 32 bytes and for the low-order points, for which
// no shared key exists (Seal and Box to them fail): checked before a key a
// client sent is stored to be sealed or boxed to later.
bool IsUsableBoxPublicKey(std::span<const uint8_t> public_key);
Bytes Seal(std::span<const uint8_t> public_key, std::span<const uint8_t> message);
[[nodiscard]] Result<SecureBytes> Open(std::span<const uint8_t> public_key,
                                       std::span<const uint8_t> secret_key,
                                       std::span<const uint8_t> sealed);

// ---- authenticated boxes (X25519 + XSalsa20-Poly1305, crypto_box_easy) ----
// nonce (24 bytes) || crypto_box_easy(message, nonce, recipient, sender).
// Unlike a sealed box, it proves the sender: only the holder of the
// sender's or the recipient's secret key can make one that opens.
inline constexpr size_t kBoxOverhead = 24 + 16;
Bytes Box(std::span<const uint8_t> recipient_public_key, std::span<const uint8_t> sender_secret_key,
          std::span<const uint8_t> message);
// With a given 24-byte nonce: for known-answer tests only (a nonce must
// never repeat for a key pair; Box draws a random one).
Bytes BoxWithNonce(std::span<const uint8_t> recipient_public_key,
                   std::span<const uint8_t> sender_secret_key, std::span<const uint8_t> nonce,
                   std::span<const uint8_t> message);
// crypto.decrypt_failed for anything that was not boxed by these two keys
// (or was edited).
[[nodiscard]] Result<SecureBytes> BoxOpen(std::span<const uint8_t> sender_public_key,
                                          std::span<const uint8_t> recipient_secret_key,
                                          std::span<const uint8_t> box);

// ---- signatures (Ed25519) ----
struct SignKeyPair {
  Bytes public_key;        // 32
  SecureBytes secret_key;  // 64
};
SignKeyPair GenerateSignKeyPair();
SignKeyPair SignKeyPairFromSeed(std::span<const uint8_t> seed32);
Bytes Sign(std::span<const uint8_t> secret_key, std::span<const uint8_t> message);  // detached, 64
bool Verify(std::span<const uint8_t> public_key, std::span<const uint8_t> message,
            std::span<const uint8_t> signature);

// Human-checkable fingerprint of a public key: first 20 bytes of
// BLAKE2b-256(unkeyed, "keyward/v1/fingerprint" 0 pk) as 5 groups of 8 hex
// digits, e.g. "1a2b3c4d 5e6f7a8b ...".
std::string Fingerprint(std::span<const uint8_t> public_key);

// ---- MACs ----
Bytes HmacSha512(std::span<const uint8_t> key, std::span<const uint8_t> message);
Bytes HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> message);
Bytes HmacSha1(std::span<const uint8_t> key, std::span<const uint8_t> message);  // OpenSSL
// Plain SHA-256 (PKCE's S256 code challenge, RFC 7636).
Bytes Sha256(std::span<const uint8_t> message);

// ---- TOTP (RFC 6238 / RFC 4226) ----
enum class TotpAlgorithm { kSha1, kSha256, kSha512 };
// Code for the time step containing unix_time (step 30 s, t0 = 0). digits must
// be 6..8 (RFC 4226); anything else is a programming error and aborts.
std::string TotpCode(std::span<const uint8_t> secret, int64_t unix_time, int digits = 6,
                     TotpAlgorithm alg = TotpAlgorithm::kSha1);
// Accepts the current step and +-window steps; compares in constant time.
bool TotpVerify(std::span<const uint8_t> secret, std::string_view code, int64_t unix_time,
                int window = 1);
// As TotpVerify (SHA-1, digits = code length), but returns the matched time
// step so a server can refuse a second use of the same step (RFC 6238 5.2).
std::optional<int64_t> TotpVerifyStep(std::span<const uint8_t> secret, std::string_view code,
                                      int64_t unix_time, int window = 1);
std::string Base32Encode(std::span<const uint8_t> bytes);  // RFC 4648, no padding
[[nodiscard]] Result<Bytes> Base32Decode(std::string_view text);

}  // namespace keyward::crypto
