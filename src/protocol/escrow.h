// Escrow at enrollment, dual control (docs/protocol.md "Escrow, links, grants
// and signed statements").
// The member's client splits a fresh escrow key E into one-time-pad shares
// A (sealed to the organization) and U = E xor A (sealed to the server), and
// wraps its vault key under E. Every piece is bound to (org, user, epoch).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol {

struct Escrow {
  uint64_t epoch = 0;
  crypto::Bytes wrapped_vault_key;  // W  = Enc(E, UK, EscrowAd(org, user, epoch))
  crypto::Bytes admin_share;        // SA = Seal(pk_org, hdr("share-a", org, user, epoch) ‖ A)
  crypto::Bytes server_share;       // SU = Seal(pk_srv, hdr("share-u", org, user, epoch) ‖ U)
};

// Draws E and A, sets U = E xor A, and builds (epoch, W, SA, SU). E, A and U
// live only in secure buffers and are wiped before returning. Errors:
// protocol.invalid_id, protocol.invalid_counter, protocol.invalid_public_key.
[[nodiscard]] Result<Escrow> CreateEscrow(const crypto::VaultKey& vault_key,
                                          std::string_view org_id, std::string_view user_id,
                                          uint64_t epoch, std::span<const uint8_t> org_public_key,
                                          std::span<const uint8_t> server_public_key);

// A, from SA with the organization's recovery key pair. Any failure (wrong
// key, tampering, or a header naming another org, user or epoch) is
// crypto.decrypt_failed; invalid expected ids are their own errors.
[[nodiscard]] Result<crypto::GenericKey> OpenAdminShare(const crypto::BoxKeyPair& org_key,
                                                        std::span<const uint8_t> admin_share,
                                                        std::string_view org_id,
                                                        std::string_view user_id, uint64_t epoch);

// U, from SU with the server's recovery key pair; errors as OpenAdminShare.
[[nodiscard]] Result<crypto::GenericKey> OpenServerShare(const crypto::BoxKeyPair& server_key,
                                                         std::span<const uint8_t> server_share,
                                                         std::string_view org_id,
                                                         std::string_view user_id, uint64_t epoch);

// UK = Dec(A xor U, W, EscrowAd(org, user, epoch)); crypto.decrypt_failed on
// any failure, including a plaintext that is not 32 bytes.
[[nodiscard]] Result<crypto::VaultKey> RecoverVaultKey(const crypto::GenericKey& admin_part,
                                                       const crypto::GenericKey& server_part,
                                                       std::span<const uint8_t> wrapped_vault_key,
                                                       std::string_view org_id,
                                                       std::string_view user_id, uint64_t epoch);

}  // namespace keyward::protocol

namespace keyward::protocol {

// Key rotation: opens SA with the old organization key and seals the same A,
// with the same header (org, user, epoch), to the new pk_org. A lives only
// in secure memory. Errors as OpenAdminShare, and
// protocol.invalid_public_key for new_org_public_key.
[[nodiscard]] Result<crypto::Bytes> ResealAdminShare(const crypto::BoxKeyPair& old_org_key,
                                                     std::span<const uint8_t> new_org_public_key,
                                                     std::span<const uint8_t> admin_share,
                                                     std::string_view org_id,
                                                     std::string_view user_id, uint64_t epoch);

}  // namespace keyward::protocol
