// Keyward client library: talks to keywardd over HTTP/JSON (docs/api.md) and
// does all of the client-side cryptography of docs/protocol.md. The master
// password, the keys derived from it and the vault key never leave this
// process in the clear; the server only ever sees the auth key and ciphertext.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/secret_json.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"

namespace keyward::client {

// ---------------------------------------------------------------------------
// Client-side key handling, usable without a server (and unit tested so).

// The client's own floor (Argon2id ops 2, 19 MiB): parameters below it are
// refused whatever the server says ("kdf.too_weak_from_server"), which closes
// the KDF downgrade attack of a malicious server.
[[nodiscard]] Status CheckKdfFloor(const crypto::KdfParams& params);

// The parameters a new account uses: the server's minimum raised to the
// client floor, field by field.
crypto::KdfParams RegistrationKdf(const crypto::KdfParams& server_minimum);

// What a registration uploads, plus the vault key it made.
struct RegistrationMaterial {
  std::string account_id;  // 16 random bytes, base64url
  crypto::KdfParams kdf;
  crypto::Bytes salt;  // 16 bytes
  crypto::AuthKey auth_key;
  crypto::Bytes wrapped_vault_key;    // Enc(EK, UK, "keyward/v1/uk" 0 account_id)
  crypto::Bytes public_key;           // X25519
  crypto::Bytes wrapped_private_key;  // Enc(UK, sk, "keyward/v1/sk" 0 account_id)
  crypto::VaultKey vault_key;
};
[[nodiscard]] Result<RegistrationMaterial> MakeRegistration(const crypto::SecureBytes& password,
                                                            const crypto::KdfParams& kdf);
// The same for an existing account id (starting over: keyward account restart).
[[nodiscard]] Result<RegistrationMaterial> MakeRegistrationFor(const crypto::SecureBytes& password,
                                                               const crypto::KdfParams& kdf,
                                                               std::string account_id);

// AK and EK from the master password (after CheckKdfFloor).
[[nodiscard]] Result<crypto::AccountKeys> DeriveAccountKeys(const crypto::SecureBytes& password,
                                                            std::span<const uint8_t> salt,
                                                            const crypto::KdfParams& kdf);

crypto::Bytes WrapVaultKey(const crypto::EncryptionKey& ek, std::string_view account_id,
                           const crypto::VaultKey& uk);
[[nodiscard]] Result<crypto::VaultKey> UnwrapVaultKey(const crypto::EncryptionKey& ek,
                                                      std::string_view account_id,
                                                      std::span<const uint8_t> wrapped);

// The CLI keeps the vault key on disk only under a random session key that
// is never stored: Enc(session_key, UK, "keyward/v1/session" 0 account_id).
crypto::Bytes ProtectVaultKey(const crypto::SessionKey& session_key, std::string_view account_id,
                              const crypto::VaultKey& uk);
[[nodiscard]] Result<crypto::VaultKey> UnprotectVaultKey(const crypto::SessionKey& session_key,
                                                         std::string_view account_id,
                                                         std::span<const uint8_t> protected_key);

// An item's plaintext: {name, username, password, url, notes}.
struct ItemFields {
  std::string name;
  std::string username;
  crypto::SecureBytes password;
  std::string url;
  crypto::SecureBytes notes;

  ItemFields Clone() const;
};

// A fresh item id: 16 random bytes, base64url.
std::string NewItemId();
// Enc(UK, json, "keyward/v1/item" 0 account_id 0 item_id)
crypto::Bytes EncryptItem(const crypto::VaultKey& uk, std::string_view account_id,
                          std::string_view item_id, const ItemFields& fields);
// Whether `blob` opens under `uk` as item `item_id` of `account_id` (the
// AEAD check of DecryptItem, without reading the fields).
[[nodiscard]] bool ItemOpens(const crypto::VaultKey& uk, std::string_view account_id,
                             std::string_view item_id, std::span<const uint8_t> blob);
[[nodiscard]] Result<ItemFields> DecryptItem(const crypto::VaultKey& uk,
                                             std::string_view account_id, std::string_view item_id,
                                             std::span<const uint8_t> blob);

// Password generator: `length` characters drawn uniformly (RandomUniform)
// from kPasswordAlphabet.
inline constexpr std::string_view kPasswordAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&*+-=?@^_~";
inline constexpr int kDefaultPasswordLength = 24;
inline constexpr int kMinPasswordLength = 8;
inline constexpr int kMaxPasswordLength = 256;
[[nodiscard]] Result<crypto::SecureBytes> GeneratePassword(int length = kDefaultPasswordLength);

// Unpadded base64url written straight into secure memory (for secrets that
// must be shown or sent as text, e.g. the session key).
crypto::SecureBytes SecretBase64Url(std::span<const uint8_t> bytes);

// ---------------------------------------------------------------------------
// Wire objects.

struct ServerInfo {
  std::string version;
  crypto::KdfParams kdf_minimum;
  std::string public_url;
  crypto::Bytes recovery_public_key;  // empty when the server has none
  std::string recovery_fingerprint;
};

struct PreloginInfo {
  crypto::KdfParams kdf;
  crypto::Bytes salt;
};

struct Account {
  std::string id;
  std::string email;
  crypto::KdfParams kdf;
  crypto::Bytes salt;
  crypto::Bytes wrapped_vault_key;
  crypto::Bytes public_key;
  crypto::Bytes wrapped_private_key;
  bool two_factor_enabled = false;
  bool must_change_password = false;  // an admin set a temporary password
  std::string created_at;
};

struct DeviceIdentity {
  std::string id;  // client-chosen, [A-Za-z0-9_-]{1,64}
  std::string name;
  std::string type = "cli";
};

struct Device {
  std::string id;
  std::string name;
  std::string type;
  std::string first_seen;
  std::string last_seen;
  bool active = false;
  bool current = false;
  bool trusted = false;  // a trusted device (logs in with single sign-on alone)
};

// One of the two, or neither on the first try.
struct SecondFactor {
  std::optional<crypto::SecureBytes> totp_code;
  std::optional<crypto::SecureBytes> recovery_code;
};

// POST /v1/sso/start's answer: where to send the browser, and the state
// the loopback callback must bring back.
struct SsoStarted {
  std::string authorization_url;
  std::string state;
};

// POST /v1/sso/finish's answer: a single-use ticket for POST /v1/sessions
// (or a pairing's pickup), base64url.
struct SsoTicket {
  std::string ticket;
  std::string org_id;
  std::string expires_at;
};

struct LoginResult {
  std::string token;
  std::string expires_at;
  std::string device_id;
  Account account;
  crypto::VaultKey vault_key;
};

struct EncryptedItem {
  std::string id;
  int64_t revision = 0;
  crypto::Bytes data;
  std::string created_at;
  std::string updated_at;
};

struct Item {
  std::string id;
  int64_t revision = 0;
  std::string created_at;
  std::string updated_at;
  ItemFields fields;
};

struct TotpEnrolment {
  crypto::SecureBytes secret;  // base32 text
  crypto::SecureBytes uri;     // otpauth://...
};

struct ClientOptions {
  std::string server_url = "http://127.0.0.1:8080";
  long connect_timeout_ms = 10'000;
  long timeout_ms = 60'000;
};

class HttpTransport;
struct EscrowForOrg;  // org.h

// One server, optionally one session (bearer token). Not thread-safe.
class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const std::string& server_url() const;
  void set_token(std::string token);
  const std::string& token() const;

  // ---- no session needed ----
  [[nodiscard]] Result<ServerInfo> GetServerInfo();
  // Refuses parameters under the client floor ("kdf.too_weak_from_server").
  [[nodiscard]] Result<PreloginInfo> Prelogin(std::string_view email);
  // Makes all keys client-side and uploads them; the server emails a code.
  [[nodiscard]] Status Register(std::string_view email, const crypto::SecureBytes& password);
  [[nodiscard]] Status Verify(std::string_view email, const crypto::SecureBytes& code);
  [[nodiscard]] Status ResendVerification(std::string_view email);
  // Prelogin + KDF: the keys to log in with (done once, reused on a retry
  // with a second factor).
  [[nodiscard]] Result<crypto::AccountKeys> DeriveLoginKeys(std::string_view email,
                                                            const crypto::SecureBytes& password);
  // POST /v1/sessions, then unwraps the vault key. On success the client
  // holds the new token. "auth.two_factor_required" asks for a second factor.
  // `sso_tickets`: from SsoFinish, one per organization whose provider
  // the member signed in at (required where the policy says so).
  [[nodiscard]] Result<LoginResult> Login(std::string_view email, const crypto::AccountKeys& keys,
                                          const DeviceIdentity& device,
                                          const SecondFactor& second = {},
                                          const std::vector<std::string>& sso_tickets = {});

  // A trusted device's login (protocol/trusted_device.h): the device
  // secret D signs the first ticket instead of the master password; the
  // vault key comes from the device's own wrapped copy, checked against
  // the account and device ids.
  [[nodiscard]] Result<LoginResult> LoginWithTrustedDevice(
      std::string_view email, std::string_view account_id, const DeviceIdentity& device,
      std::span<const uint8_t> device_secret, const std::vector<std::string>& sso_tickets,
      const SecondFactor& second = {});
  // PUT /v1/devices/{this device}/trust: a fresh device secret wraps
  // `vault_key`; the secret, for the profile.
  [[nodiscard]] Result<crypto::Bytes> TrustThisDevice(std::string_view account_id,
                                                      std::string_view device_id,
                                                      const crypto::VaultKey& vault_key);
  [[nodiscard]] Status UntrustDevice(std::string_view device_id);

  // Single sign-on (docs/sso.md): POST /v1/sso/start for a CLI sign-in
  // returning to `redirect_uri` (the loopback listener), and POST
  // /v1/sso/finish with what the browser brought back.
  [[nodiscard]] Result<SsoStarted> SsoStart(std::string_view org_id, std::string_view redirect_uri);
  [[nodiscard]] Result<SsoTicket> SsoFinish(std::string_view state, std::string_view code);

  // Starting over with a new, empty vault (docs/recovery.md "Start over"):
  // POST /v1/account/restart/code, .../verify (the emailed code → a ticket
  // and the account id), then /v1/account/restart with keys made here for
  // that id. The client keeps nothing of the old vault.
  [[nodiscard]] Status AskRestartCode(std::string_view email);
  struct RestartTicket {
    crypto::SecureBytes ticket;
    std::string account_id;
  };
  [[nodiscard]] Result<RestartTicket> VerifyRestart(std::string_view email,
                                                    const crypto::SecureBytes& code);
  [[nodiscard]] Status Restart(const RestartTicket& ticket, const crypto::SecureBytes& password);

  // ---- session needed ----
  [[nodiscard]] Status Logout();
  [[nodiscard]] Result<Account> GetAccount();
  // Re-derives AK/EK from the password with the account's own salt and
  // params (floor checked) and unwraps the vault key.
  struct Unlocked {
    crypto::AccountKeys keys;
    crypto::VaultKey vault_key;
    Account account;
  };
  [[nodiscard]] Result<Unlocked> UnlockWithPassword(const crypto::SecureBytes& password);
  // New salt, new AK/EK, vault key re-wrapped; the server revokes the other
  // sessions. The current password is checked by the server (via AK).
  // `escrows`: OrgClient::FreshEscrows, one per enrolled organization.
  [[nodiscard]] Status ChangePassword(const crypto::SecureBytes& current_password,
                                      const crypto::SecureBytes& new_password,
                                      std::span<const EscrowForOrg> escrows = {});
  // POST /v1/account/password/forgotten: from a device just paired (it holds
  // the vault key, docs/recovery.md "Pair with a device"), without the old
  // password. `account` is this account as the server last gave it.
  [[nodiscard]] Status ChangeForgottenPassword(const crypto::VaultKey& vault_key,
                                               const Account& account,
                                               const crypto::SecureBytes& new_password,
                                               std::span<const EscrowForOrg> escrows = {});
  [[nodiscard]] Status DeleteAccount(const crypto::SecureBytes& password);
  [[nodiscard]] Result<TotpEnrolment> BeginTotp(const crypto::SecureBytes& password);
  [[nodiscard]] Result<std::vector<crypto::SecureBytes>> ConfirmTotp(
      const crypto::SecureBytes& code);
  [[nodiscard]] Status DisableTotp(const crypto::SecureBytes& password);

  [[nodiscard]] Result<std::vector<EncryptedItem>> ListEncryptedItems();
  [[nodiscard]] Result<std::vector<Item>> ListItems(const crypto::VaultKey& uk,
                                                    std::string_view account_id);
  [[nodiscard]] Result<Item> GetItem(const crypto::VaultKey& uk, std::string_view account_id,
                                     std::string_view item_id);
  [[nodiscard]] Result<Item> AddItem(const crypto::VaultKey& uk, std::string_view account_id,
                                     const ItemFields& fields,
                                     std::optional<std::string> item_id = {});
  // `revision` is the one last seen; "item.stale_revision" if it changed.
  [[nodiscard]] Result<Item> UpdateItem(const crypto::VaultKey& uk, std::string_view account_id,
                                        std::string_view item_id, int64_t revision,
                                        const ItemFields& fields);
  [[nodiscard]] Status DeleteItem(std::string_view item_id);

  [[nodiscard]] Result<std::vector<Device>> ListDevices();
  [[nodiscard]] Status RemoveDevice(std::string_view device_id);

  // A JSON call with this client's session, for the organization client
  // (org.h): the answer's body (null for 204), or the server's error. `path`
  // must hold no secret; bodies are wiping JSON.
  [[nodiscard]] Result<Json> CallJson(std::string_view method, std::string_view path,
                                      const std::optional<Json>& body = std::nullopt);

 private:
  [[nodiscard]] Result<Json> NewPasswordBody(const crypto::VaultKey& vault_key,
                                             const Account& account,
                                             const crypto::SecureBytes& new_password,
                                             std::span<const EscrowForOrg> escrows);

  std::unique_ptr<HttpTransport> http_;
  std::string token_;
};

}  // namespace keyward::client
