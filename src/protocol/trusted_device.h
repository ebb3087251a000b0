// Trusted devices (docs/protocol.md "Trusted devices", docs/sso.md): a
// device of a member of a single sign-on organization that logs in without
// the master password. The device keeps one random 32-byte secret D
// locally; from it
//   sign seed = Sub(D, 1, "KWdevice")  -> an Ed25519 key pair: the server
//                                         keeps its public key and checks a
//                                         signature at each login
//   wrap key  = Sub(D, 2, "KWdevice")  -> XChaCha20-Poly1305 key: the server
//                                         keeps the vault key wrapped with it
// The wrapped vault key is bound to the account and the device (AD), so a
// server that swaps it for another device's or account's blob is caught;
// only this device can open it, and the server cannot. The login signature
// covers a single-use SSO ticket, so it cannot be replayed.
#pragma once

#include <span>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol::trusted_device {

inline constexpr size_t kSecretSize = 32;

struct DeviceKeys {
  crypto::SignKeyPair sign;
  crypto::SecureBytes wrap_key;  // 32
};

// The keys of the device secret D (kSecretSize bytes; else
// device.bad_secret).
[[nodiscard]] Result<DeviceKeys> DeriveKeys(std::span<const uint8_t> secret);

// AD = Ad("keyward/v1/trusted-device", account_id, device_id).
crypto::Bytes WrapVaultKey(const DeviceKeys& keys, const crypto::VaultKey& vault_key,
                           std::string_view account_id, std::string_view device_id);
// device.key_mismatch when the blob was not made by this device for this
// account and device (or was edited).
[[nodiscard]] Result<crypto::VaultKey> UnwrapVaultKey(const DeviceKeys& keys,
                                                      std::span<const uint8_t> wrapped,
                                                      std::string_view account_id,
                                                      std::string_view device_id);

// What a login signs: Ad("keyward/v1/trusted-device-login", device_id) ||
// ticket (the first SSO ticket of the login, 32 bytes).
crypto::Bytes LoginMessage(std::string_view device_id, std::span<const uint8_t> ticket);

}  // namespace keyward::protocol::trusted_device
