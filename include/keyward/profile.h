// The CLI's profile: one JSON file (profile.json, mode 0600, written
// atomically) in a 0700 directory. It holds the server URL, email, account id,
// device id, session token and the vault key protected under a session key
// that is never stored (see ProtectVaultKey): nothing in it opens the vault
// without $KEYWARD_SESSION or the master password.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/error.h"
#include "crypto/crypto.h"
#include "protocol/audit_chain.h"
#include "protocol/statement.h"

namespace keyward::client {

// What the device keeps between the request and its end (in the profile,
// mode 0600): the request, the organization asked, the seed of (pk_dev,
// sk_dev) and the claim.
struct PendingDeviceRequest {
  std::string request_id;
  std::string org_id;
  crypto::Bytes device_seed;  // 32: crypto::BoxKeyPairFromSeed
  crypto::Bytes claim;        // 32
};

struct Profile {
  std::string server_url;
  std::string email;
  std::string account_id;
  std::string device_id;
  std::string device_name;
  std::string token;                  // empty when logged out
  crypto::Bytes protected_vault_key;  // empty when locked
  // Per organization id: the signing key pinned at join (trust on first use)
  // and the last statement accepted; and the last event-log head that
  // `keyward events verify` checked (a later log must extend it).
  std::map<std::string, protocol::OrgPin> org_pins;
  std::map<std::string, protocol::audit::Head> event_heads;
  // Per account id: the member public key this device's person confirmed by
  // its fingerprint before sealing a recovery key grant to it; grants (and
  // key rotations) seal to no other key of that member.
  std::map<std::string, crypto::Bytes> member_keys;
  // This device's trusted-device secret D (protocol/trusted_device.h), when
  // `keyward device trust` made it one: with a single sign-on, it logs in
  // without the master password. As safe as this file (mode 0600); empty
  // when the device is not trusted.
  crypto::Bytes trusted_device_secret;
  // The device request this device made and has not finished
  // (keyward device request; docs/sso.md).
  std::optional<PendingDeviceRequest> device_request;
};

inline constexpr const char* kProfileFileName = "profile.json";

// --profile DIR, else $KEYWARD_PROFILE, else $XDG_CONFIG_HOME/keyward, else
// ~/.config/keyward.
[[nodiscard]] Result<std::filesystem::path> ResolveProfileDir(
    const std::optional<std::string>& flag);

// Creates the directory (and missing parents) with mode 0700.
[[nodiscard]] Status EnsureProfileDir(const std::filesystem::path& dir);

// nullopt when there is no profile file yet.
[[nodiscard]] Result<std::optional<Profile>> LoadProfile(const std::filesystem::path& dir);

// Temp file (0600) + fsync + rename + fsync of the directory.
[[nodiscard]] Status SaveProfile(const std::filesystem::path& dir, const Profile& profile);

// Writes `contents` to `path` atomically with mode 0600.
[[nodiscard]] Status WriteFileAtomically(const std::filesystem::path& path,
                                         std::string_view contents);

}  // namespace keyward::client
