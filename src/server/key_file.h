// The server's two key files, in the data directory, with the same format and
// the same custody rules:
//   <data>/server.key    "keyward-server-key v1\n"   <base64url 32 bytes> "\n"
//     the master secret (peppers, token and code keys: core/server_keys.h);
//   <data>/recovery.key  "keyward-recovery-key v1\n" <base64url 32 bytes> "\n"
//     the seed of the server recovery key pair (pk_srv of docs/protocol.md escrow).
// The base64url is unpadded. Each is created 0600 on first start (temp file
// with O_EXCL, fsync, no-replace rename, fsync of the directory) and refused
// when group/other may read it, when it is not a regular file (a symbolic
// link included) or when it is malformed. The two are independent: neither is
// derived from the other, so the recovery key can be kept (and later held in
// an HSM) apart from the peppers.
#pragma once

#include <filesystem>

#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"

namespace keyward::server {

// Errors (both functions, whichever file): server.key_insecure (mode),
// server.key_malformed, server.key_io. Messages name the file and its role.
[[nodiscard]] Result<crypto::ServerSecret> LoadOrCreateServerKey(const std::filesystem::path& path);

// The file stores the 32-byte seed; the X25519 pair is
// crypto::BoxKeyPairFromSeed(seed) (crypto_box_seed_keypair: the secret key is
// the first 32 bytes of SHA-512(seed)), so the same file always gives the
// same pair. Exporting it to an HSM means exporting the derived secret key.
[[nodiscard]] Result<crypto::BoxKeyPair> LoadOrCreateRecoveryKey(const std::filesystem::path& path);

}  // namespace keyward::server
