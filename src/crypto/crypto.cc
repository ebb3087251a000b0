// libsodium behind the API of crypto.h: KDF, AEAD, keyed hash, sealed boxes,
// signatures, randomness, fingerprints.
#include "crypto/crypto.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crypto/internal.h"

namespace keyward::crypto {

static_assert(kSaltSize == crypto_pwhash_SALTBYTES);
static_assert(MasterKey::kSize == crypto_kdf_KEYBYTES);
static_assert(crypto_kdf_CONTEXTBYTES == 8);

namespace internal {

void EnsureSodium() {
  // A function-local static is initialised exactly once, thread-safely.
  static const bool ok = sodium_init() >= 0;
  if (!ok) {
    std::fputs("keyward: libsodium failed to initialise\n", stderr);
    std::abort();
  }
}

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "keyward: crypto precondition violated: %s\n", what);
  std::abort();
}

}  // namespace internal

namespace {

constexpr uint8_t kBlobVersion = 0x01;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kBlobOverhead = 1 + kNonceSize + kTagSize;

// One error for every way a decryption or an open can fail, so that no caller
// (or attacker watching responses) can tell a wrong key from a truncated blob.
Error DecryptFailed() {
  return Error::InvalidArgument("crypto.decrypt_failed", "decryption failed");
}

}  // namespace

Status Init() {
  internal::EnsureSodium();
  return {};
}

// ---- randomness ----

Bytes RandomBytes(size_t n) {
  internal::EnsureSodium();
  Bytes out(n);
  if (n != 0) randombytes_buf(out.data(), n);
  return out;
}

Bytes RandomArgSafeBytes(size_t n) {
  Bytes out = RandomBytes(n);
  // The first base64url character is the top 6 bits of byte 0; 62 is '-'.
  while (n != 0 && (out[0] >> 2) == 62) out = RandomBytes(n);
  return out;
}

std::string RandomArgSafeId(size_t n) { return Base64UrlEncode(RandomArgSafeBytes(n)); }

uint32_t RandomUniform(uint32_t upper_bound) {
  internal::EnsureSodium();
  return randombytes_uniform(upper_bound);
}

std::string RandomDigits(int n) {
  internal::EnsureSodium();
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>('0' + randombytes_uniform(10)));
  return out;
}

// ---- KDF ----

Result<MasterKey> DeriveMasterKey(std::string_view password, std::span<const uint8_t> salt,
                                  KdfParams params) {
  internal::EnsureSodium();
  if (salt.size() != kSaltSize) {
    return Fail(Error::InvalidArgument("crypto.invalid_salt", "salt must be 16 bytes"));
  }
  if (params.ops < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
      params.ops > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
      params.mem < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
      params.mem > crypto_pwhash_argon2id_MEMLIMIT_MAX) {
    return Fail(
        Error::InvalidArgument("crypto.invalid_kdf_params", "Argon2id parameters out of range"));
  }
  if (password.size() > crypto_pwhash_argon2id_PASSWD_MAX) {
    return Fail(Error::InvalidArgument("crypto.invalid_password", "password too long"));
  }
  SecureBytes out(MasterKey::kSize);
  if (crypto_pwhash(out.data(), out.size(), password.data(), password.size(), salt.data(),
                    params.ops, static_cast<size_t>(params.mem),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    // Only an allocation failure gets here: the parameters were checked.
    return Fail(Error::Internal("crypto.kdf_failed", "Argon2id ran out of memory"));
  }
  return MasterKey(std::move(out));
}

SecureBytes Sub(std::span<const uint8_t> key, uint64_t id, std::string_view ctx8) {
  internal::Require(key.size() == crypto_kdf_KEYBYTES, "Sub: key must be 32 bytes");
  internal::Require(ctx8.size() == crypto_kdf_CONTEXTBYTES, "Sub: context must be 8 chars");
  SecureBytes out(32);
  crypto_kdf_derive_from_key(out.data(), out.size(), id, ctx8.data(), key.data());
  return out;
}

AccountKeys SplitMasterKey(const MasterKey& mk) {
  return AccountKeys{AuthKey(Sub(mk.span(), 1, "KWmaster")),
                     EncryptionKey(Sub(mk.span(), 2, "KWmaster"))};
}

// ---- AEAD ----

Bytes EncryptWithNonce(std::span<const uint8_t> key, std::span<const uint8_t> nonce24,
                       std::span<const uint8_t> plaintext, std::span<const uint8_t> ad) {
  internal::EnsureSodium();
  internal::Require(key.size() == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
                    "Encrypt: key must be 32 bytes");
  internal::Require(nonce24.size() == kNonceSize, "Encrypt: nonce must be 24 bytes");
  Bytes blob(kBlobOverhead + plaintext.size());
  blob[0] = kBlobVersion;
  std::memcpy(blob.data() + 1, nonce24.data(), kNonceSize);
  unsigned long long ct_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      blob.data() + 1 + kNonceSize, &ct_len, internal::DataOrDummy(plaintext), plaintext.size(),
      internal::DataOrDummy(ad), ad.size(), nullptr, nonce24.data(), key.data());
  return blob;
}

Bytes Encrypt(std::span<const uint8_t> key, std::span<const uint8_t> plaintext,
              std::span<const uint8_t> ad) {
  // 192-bit random nonces: collisions are negligible without any counter state.
  const Bytes nonce = RandomBytes(kNonceSize);
  return EncryptWithNonce(key, nonce, plaintext, ad);
}

Result<SecureBytes> Decrypt(std::span<const uint8_t> key, std::span<const uint8_t> blob,
                            std::span<const uint8_t> ad) {
  internal::EnsureSodium();
  if (key.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES || blob.size() < kBlobOverhead ||
      blob[0] != kBlobVersion) {
    return Fail(DecryptFailed());
  }
  const std::span<const uint8_t> nonce = blob.subspan(1, kNonceSize);
  const std::span<const uint8_t> ct = blob.subspan(1 + kNonceSize);
  SecureBytes plaintext(ct.size() - kTagSize);
  uint8_t dummy = 0;
  unsigned long long pt_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plaintext.empty() ? &dummy : plaintext.data(), &pt_len, nullptr, ct.data(), ct.size(),
          internal::DataOrDummy(ad), ad.size(), nonce.data(), key.data()) != 0) {
    return Fail(DecryptFailed());
  }
  return plaintext;
}

// ---- keyed hash ----

Bytes Hash(std::span<const uint8_t> key, std::span<const uint8_t> message) {
  internal::EnsureSodium();
  internal::Require(key.empty() || (key.size() >= crypto_generichash_KEYBYTES_MIN &&
                                    key.size() <= crypto_generichash_KEYBYTES_MAX),
                    "Hash: key must be empty or 16..64 bytes");
  Bytes out(crypto_generichash_BYTES);
  crypto_generichash(out.data(), out.size(), internal::DataOrDummy(message), message.size(),
                     key.empty() ? nullptr : key.data(), key.size());
  return out;
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  // Lengths are public (fixed-size MACs and codes); only contents are secret.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- sealed boxes ----

BoxKeyPair GenerateBoxKeyPair() {
  internal::EnsureSodium();
  BoxKeyPair kp{Bytes(crypto_box_PUBLICKEYBYTES), SecureBytes(crypto_box_SECRETKEYBYTES)};
  crypto_box_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

BoxKeyPair BoxKeyPairFromSeed(std::span<const uint8_t> seed32) {
  internal::EnsureSodium();
  internal::Require(seed32.size() == crypto_box_SEEDBYTES, "BoxKeyPairFromSeed: seed 32 bytes");
  BoxKeyPair kp{Bytes(crypto_box_PUBLICKEYBYTES), SecureBytes(crypto_box_SECRETKEYBYTES)};
  crypto_box_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed32.data());
  return kp;
}

bool IsUsableBoxPublicKey(std::span<const uint8_t> public_key) {
  internal::EnsureSodium();
  if (public_key.size() != crypto_scalarmult_BYTES) return false;
  // Any scalar times a low-order point is the identity, which
  // crypto_scalarmult refuses.
  SecureBytes scalar(crypto_scalarmult_SCALARBYTES);
  randombytes_buf(scalar.data(), scalar.size());
  SecureBytes shared(crypto_scalarmult_BYTES);
  return crypto_scalarmult(shared.data(), scalar.data(), public_key.data()) == 0;
}

Bytes Seal(std::span<const uint8_t> public_key, std::span<const uint8_t> message) {
  internal::EnsureSodium();
  internal::Require(public_key.size() == crypto_box_PUBLICKEYBYTES, "Seal: public key 32 bytes");
  Bytes out(crypto_box_SEALBYTES + message.size());
  const int rc = crypto_box_seal(out.data(), internal::DataOrDummy(message), message.size(),
                                 public_key.data());
  // Fails only for a low-order public key, which no honest key pair has.
  internal::Require(rc == 0, "Seal: invalid public key");
  return out;
}

Result<SecureBytes> Open(std::span<const uint8_t> public_key, std::span<const uint8_t> secret_key,
                         std::span<const uint8_t> sealed) {
  internal::EnsureSodium();
  if (public_key.size() != crypto_box_PUBLICKEYBYTES ||
      secret_key.size() != crypto_box_SECRETKEYBYTES || sealed.size() < crypto_box_SEALBYTES) {
    return Fail(DecryptFailed());
  }
  SecureBytes message(sealed.size() - crypto_box_SEALBYTES);
  uint8_t dummy = 0;
  if (crypto_box_seal_open(message.empty() ? &dummy : message.data(), sealed.data(), sealed.size(),
                           public_key.data(), secret_key.data()) != 0) {
    return Fail(DecryptFailed());
  }
  return message;
}

// ---- authenticated boxes ----

Bytes BoxWithNonce(std::span<const uint8_t> recipient_public_key,
                   std::span<const uint8_t> sender_secret_key, std::span<const uint8_t> nonce,
                   std::span<const uint8_t> message) {
  internal::EnsureSodium();
  internal::Require(recipient_public_key.size() == crypto_box_PUBLICKEYBYTES,
                    "Box: public key 32 bytes");
  internal::Require(sender_secret_key.size() == crypto_box_SECRETKEYBYTES,
                    "Box: secret key 32 bytes");
  internal::Require(nonce.size() == crypto_box_NONCEBYTES, "Box: nonce 24 bytes");
  Bytes out(crypto_box_NONCEBYTES + crypto_box_MACBYTES + message.size());
  std::copy(nonce.begin(), nonce.end(), out.begin());
  const int rc = crypto_box_easy(out.data() + crypto_box_NONCEBYTES, internal::DataOrDummy(message),
                                 message.size(), nonce.data(), recipient_public_key.data(),
                                 sender_secret_key.data());
  // Fails only for a low-order public key, which no honest key pair has.
  internal::Require(rc == 0, "Box: invalid public key");
  return out;
}

Bytes Box(std::span<const uint8_t> recipient_public_key, std::span<const uint8_t> sender_secret_key,
          std::span<const uint8_t> message) {
  const Bytes nonce = RandomBytes(crypto_box_NONCEBYTES);
  return BoxWithNonce(recipient_public_key, sender_secret_key, nonce, message);
}

Result<SecureBytes> BoxOpen(std::span<const uint8_t> sender_public_key,
                            std::span<const uint8_t> recipient_secret_key,
                            std::span<const uint8_t> box) {
  internal::EnsureSodium();
  static_assert(kBoxOverhead == crypto_box_NONCEBYTES + crypto_box_MACBYTES);
  if (sender_public_key.size() != crypto_box_PUBLICKEYBYTES ||
      recipient_secret_key.size() != crypto_box_SECRETKEYBYTES || box.size() < kBoxOverhead) {
    return Fail(DecryptFailed());
  }
  SecureBytes message(box.size() - kBoxOverhead);
  uint8_t dummy = 0;
  const std::span<const uint8_t> cipher = box.subspan(crypto_box_NONCEBYTES);
  if (crypto_box_open_easy(message.empty() ? &dummy : message.data(), cipher.data(), cipher.size(),
                           box.data(), sender_public_key.data(),
                           recipient_secret_key.data()) != 0) {
    return Fail(DecryptFailed());
  }
  return message;
}

// ---- signatures ----

SignKeyPair GenerateSignKeyPair() {
  internal::EnsureSodium();
  SignKeyPair kp{Bytes(crypto_sign_PUBLICKEYBYTES), SecureBytes(crypto_sign_SECRETKEYBYTES)};
  crypto_sign_keypair(kp.public_key.data(), kp.secret_key.data());
  return kp;
}

SignKeyPair SignKeyPairFromSeed(std::span<const uint8_t> seed32) {
  internal::EnsureSodium();
  internal::Require(seed32.size() == crypto_sign_SEEDBYTES, "SignKeyPairFromSeed: seed 32 bytes");
  SignKeyPair kp{Bytes(crypto_sign_PUBLICKEYBYTES), SecureBytes(crypto_sign_SECRETKEYBYTES)};
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.data(), seed32.data());
  return kp;
}

Bytes Sign(std::span<const uint8_t> secret_key, std::span<const uint8_t> message) {
  internal::EnsureSodium();
  internal::Require(secret_key.size() == crypto_sign_SECRETKEYBYTES, "Sign: secret key 64 bytes");
  Bytes signature(crypto_sign_BYTES);
  crypto_sign_detached(signature.data(), nullptr, internal::DataOrDummy(message), message.size(),
                       secret_key.data());
  return signature;
}

bool Verify(std::span<const uint8_t> public_key, std::span<const uint8_t> message,
            std::span<const uint8_t> signature) {
  internal::EnsureSodium();
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  return crypto_sign_verify_detached(signature.data(), internal::DataOrDummy(message),
                                     message.size(), public_key.data()) == 0;
}

// ---- fingerprints ----

std::string Fingerprint(std::span<const uint8_t> public_key) {
  Bytes input = Ad({"keyward/v1/fingerprint", ""});
  input.insert(input.end(), public_key.begin(), public_key.end());
  const Bytes digest = Hash({}, input);
  const std::string hex = HexEncode(std::span<const uint8_t>(digest).first(20));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 8) {
    if (i != 0) out.push_back(' ');
    out.append(hex, i, 8);
  }
  return out;
}

}  // namespace keyward::crypto
