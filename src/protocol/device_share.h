// Device requests (docs/protocol.md "Device requests", docs/sso.md): a new
// device of a member of a single sign-on organization, with no trusted
// device left to pair with, asks the recovery admins. It makes a fresh
// X25519 key pair (pk_dev, sk_dev) and shows fingerprint(pk_dev); every
// approving admin compares it. Approval releases the escrow's two shares
// to pk_dev, never to anyone else:
//
//   DA = Box(pk_dev, sk_org, hdr("device-a", org, user, e) || request || 0 || A)
//        made by the approving admin's client after opening SA
//   DU = Seal(pk_dev, hdr("device-u", org, user, e) || request || 0 || U)
//        made by the server after opening SU
//
// DA is an authenticated box from the organization's recovery key, so the
// device (which checks it against pk_org from the organization's signed
// statements, anchored by a pin or a signing-key fingerprint the member
// confirmed) knows an admin made it: a server that forges both shares to
// hand the device a vault key of its own choosing is caught. The device
// then computes E = A xor U and UK = Dec(E, W) as a link redemption does.
#pragma once

#include <span>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol::device_share {

inline constexpr std::string_view kAdminLabel = "device-a";
inline constexpr std::string_view kServerLabel = "device-u";

// hdr(label, org, user, epoch) || request_id || 0x00.
[[nodiscard]] Result<crypto::Bytes> Header(std::string_view label, std::string_view org_id,
                                           std::string_view user_id, uint64_t epoch,
                                           std::string_view request_id);

// The admin's client: A (opened from SA) boxed from the organization's
// recovery key to the device's public key. protocol.invalid_id,
// protocol.invalid_counter, protocol.invalid_public_key.
[[nodiscard]] Result<crypto::Bytes> BoxAdminShare(const crypto::BoxKeyPair& org_key,
                                                  std::span<const uint8_t> device_public_key,
                                                  const crypto::GenericKey& admin_part,
                                                  std::string_view org_id, std::string_view user_id,
                                                  uint64_t epoch, std::string_view request_id);
// The same with a fixed nonce, for known-answer tests.
[[nodiscard]] Result<crypto::Bytes> BoxAdminShareWithNonce(
    const crypto::BoxKeyPair& org_key, std::span<const uint8_t> device_public_key,
    const crypto::GenericKey& admin_part, std::string_view org_id, std::string_view user_id,
    uint64_t epoch, std::string_view request_id, std::span<const uint8_t> nonce);

// The server: U (opened from SU) sealed to the device's public key.
[[nodiscard]] Result<crypto::Bytes> SealServerShare(std::span<const uint8_t> device_public_key,
                                                    const crypto::GenericKey& server_part,
                                                    std::string_view org_id,
                                                    std::string_view user_id, uint64_t epoch,
                                                    std::string_view request_id);

// The device: A from DA, which must be boxed by `org_public_key` (the
// verified pk_org) for this device, organization, user, epoch and request;
// anything else is crypto.decrypt_failed.
[[nodiscard]] Result<crypto::GenericKey> OpenAdminShare(const crypto::BoxKeyPair& device_key,
                                                        std::span<const uint8_t> org_public_key,
                                                        std::span<const uint8_t> device_admin_share,
                                                        std::string_view org_id,
                                                        std::string_view user_id, uint64_t epoch,
                                                        std::string_view request_id);
// The device: U from DU; errors as OpenAdminShare.
[[nodiscard]] Result<crypto::GenericKey> OpenServerShare(
    const crypto::BoxKeyPair& device_key, std::span<const uint8_t> device_server_share,
    std::string_view org_id, std::string_view user_id, uint64_t epoch, std::string_view request_id);

}  // namespace keyward::protocol::device_share
