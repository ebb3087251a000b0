// The Argon2id parameters a new account gets (docs/protocol.md "Key
// hierarchy"): shared by the clients and the server.
#pragma once

#include <algorithm>

#include "crypto/crypto.h"

namespace keyward::crypto {

// What Keyward's clients register with against a server's minimum: the
// minimum raised to the client floor, field by field (client::RegistrationKdf
// and the web's keys.ts). The server answers pre-login with it for an
// unknown email, so an account made by a Keyward client looks like none.
constexpr KdfParams RegistrationKdf(const KdfParams& server_minimum) {
  return {std::max(server_minimum.ops, kClientFloorKdf.ops),
          std::max(server_minimum.mem, kClientFloorKdf.mem)};
}

}  // namespace keyward::crypto
