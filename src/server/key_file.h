// The server's master secret lives in <data>/server.key:
//   "keyward-server-key v1\n" <base64url of 32 bytes, unpadded> "\n"
// created 0600 on first start (temp file with O_EXCL, fsync, no-replace
// rename, fsync of the directory); refused when group/other may read it.
#pragma once

#include <filesystem>

#include "common/error.h"
#include "crypto/secure_bytes.h"

namespace keyward::server {

// Errors: server.key_insecure (mode), server.key_malformed, server.key_io.
Result<crypto::ServerSecret> LoadOrCreateServerKey(const std::filesystem::path& path);

}  // namespace keyward::server
