#include "protocol/trusted_device.h"

namespace keyward::protocol::trusted_device {

Result<DeviceKeys> DeriveKeys(std::span<const uint8_t> secret) {
  if (secret.size() != kSecretSize) {
    return Fail(Error::InvalidArgument("device.bad_secret", "a device secret is 32 bytes"));
  }
  crypto::SecureBytes seed = crypto::Sub(secret, 1, "KWdevice");
  DeviceKeys keys{crypto::SignKeyPairFromSeed(seed.span()), crypto::Sub(secret, 2, "KWdevice")};
  return keys;
}

crypto::Bytes WrapVaultKey(const DeviceKeys& keys, const crypto::VaultKey& vault_key,
                           std::string_view account_id, std::string_view device_id) {
  return crypto::Encrypt(keys.wrap_key.span(), vault_key.span(),
                         crypto::Ad({"keyward/v1/trusted-device", account_id, device_id}));
}

Result<crypto::VaultKey> UnwrapVaultKey(const DeviceKeys& keys, std::span<const uint8_t> wrapped,
                                        std::string_view account_id, std::string_view device_id) {
  auto opened = crypto::Decrypt(keys.wrap_key.span(), wrapped,
                                crypto::Ad({"keyward/v1/trusted-device", account_id, device_id}));
  if (!opened || opened->size() != crypto::VaultKey::kSize) {
    return Fail(Error::PermissionDenied(
        "device.key_mismatch",
        "the server's wrapped vault key for this trusted device does not open with its key"));
  }
  return crypto::VaultKey(std::move(*opened));
}

crypto::Bytes LoginMessage(std::string_view device_id, std::span<const uint8_t> ticket) {
  crypto::Bytes message = crypto::Ad({"keyward/v1/trusted-device-login", device_id});
  message.insert(message.end(), ticket.begin(), ticket.end());
  return message;
}

}  // namespace keyward::protocol::trusted_device
