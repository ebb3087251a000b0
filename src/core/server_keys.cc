#include "core/server_keys.h"

namespace keyward::core {

ServerKeys ServerKeys::Derive(const crypto::ServerSecret& secret) {
  auto sub = [&](uint64_t id) { return crypto::Sub(secret.span(), id, kServerKeyContext); };
  return ServerKeys{sub(kPepperId),  sub(kPepper2Id), sub(kTokenKeyId),
                    sub(kCodeKeyId), sub(kTotpKeyId), sub(kMailKeyId)};
}

}  // namespace keyward::core
