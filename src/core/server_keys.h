// Server subkeys, all derived from the ServerSecret (the server key file) as
// Sub(secret, id, "KWserver"):
//   1 pepper        verifier = H(pepper, auth_key)
//   2 pepper2       pre-login salt for unknown emails = H(pepper2, email)[0..16),
//                   and the keys of per-email rate-limit rows
//   3 token key     sessions are stored as H(token key, token)
//   4 code key      email codes as H(code key, challenge || code), TOTP
//                   recovery codes as H(code key, label 0 account 0 code)
//   5 TOTP key      TOTP secrets at rest: Enc(TOTP key, secret, label 0 account)
//   6 mail key      queued emails at rest: Enc(mail key, padded message,
//                   "keyward-mail" 0 row id) (core/mail_queue.h)
// Ids are never reused for another purpose; new subkeys take new ids.
#pragma once

#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"

namespace keyward::core {

struct ServerKeys {
  crypto::SecureBytes pepper;
  crypto::SecureBytes pepper2;
  crypto::SecureBytes token_key;
  crypto::SecureBytes code_key;
  crypto::SecureBytes totp_key;
  crypto::SecureBytes mail_key;

  static ServerKeys Derive(const crypto::ServerSecret& secret);
};

inline constexpr char kServerKeyContext[] = "KWserver";
inline constexpr uint64_t kPepperId = 1;
inline constexpr uint64_t kPepper2Id = 2;
inline constexpr uint64_t kTokenKeyId = 3;
inline constexpr uint64_t kCodeKeyId = 4;
inline constexpr uint64_t kTotpKeyId = 5;
inline constexpr uint64_t kMailKeyId = 6;

}  // namespace keyward::core
