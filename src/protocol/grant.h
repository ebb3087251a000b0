// Organization recovery key grants (docs/protocol.md "Escrow, links, grants
// and signed statements"): sk_org
// sealed to one recovery admin, bound to the org, the admin and the key
// version. The server stores grants and can open none.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol {

// Seal(pk_admin, hdr("grant", org, admin_user, key_version) ‖ sk_org). Errors:
// protocol.invalid_id, protocol.invalid_counter, protocol.invalid_public_key,
// protocol.invalid_secret_key (sk_org not 32 bytes).
[[nodiscard]] Result<crypto::Bytes> CreateGrant(std::span<const uint8_t> admin_public_key,
                                                const crypto::BoxKeyPair& org_key,
                                                std::string_view org_id,
                                                std::string_view admin_user_id,
                                                uint64_t key_version);

// Opens a grant with the admin's key pair and returns the org key pair
// (pk_org as given, from the org's signed statement). Any failure to open or
// a header naming another org, admin or version is crypto.decrypt_failed; a
// secret key that does not belong to org_public_key is org.grant_key_mismatch.
[[nodiscard]] Result<crypto::BoxKeyPair> OpenGrant(
    const crypto::BoxKeyPair& admin_key, std::span<const uint8_t> grant, std::string_view org_id,
    std::string_view admin_user_id, uint64_t key_version, std::span<const uint8_t> org_public_key);

}  // namespace keyward::protocol

namespace keyward::protocol {

inline constexpr std::string_view kSigningGrantLabel = "sign-grant";

// The organization's Ed25519 signing key (its 32-byte seed) sealed to an owner
// or admin: Seal(pk_admin, hdr("sign-grant", org, admin_user, key_version) ‖
// seed). Errors as CreateGrant.
[[nodiscard]] Result<crypto::Bytes> CreateSigningGrant(std::span<const uint8_t> admin_public_key,
                                                       const crypto::SignKeyPair& signing_key,
                                                       std::string_view org_id,
                                                       std::string_view admin_user_id,
                                                       uint64_t key_version);
// Opens it; crypto.decrypt_failed on any failure or header mismatch;
// org.grant_key_mismatch when the seed does not give expected_signing_public_key.
[[nodiscard]] Result<crypto::SignKeyPair> OpenSigningGrant(
    const crypto::BoxKeyPair& admin_key, std::span<const uint8_t> grant, std::string_view org_id,
    std::string_view admin_user_id, uint64_t key_version,
    std::span<const uint8_t> expected_signing_public_key);

}  // namespace keyward::protocol
