// Login (with optional TOTP second step), logout, and resolving a bearer
// token to the caller.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/credentials.h"
#include "crypto/crypto.h"

namespace keyward::core {

struct DeviceInfo {
  std::string id;
  std::string name;
  std::string type;  // cli | web | desktop | mobile
};

struct Login {
  std::string email;
  crypto::AuthKey auth_key;
  // A trusted device's login instead of the master password's auth key
  // (protocol/trusted_device.h): its Ed25519 signature of LoginMessage
  // over the first SSO ticket, which must be given.
  std::optional<store::Bytes> device_signature;
  DeviceInfo device;
  std::optional<std::string> totp_code;
  std::optional<std::string> recovery_code;
  // Tickets from POST /v1/sso/finish (core/sso_signin.h), one per
  // organization whose provider vouched; required for the organizations
  // whose policy says "sso":"required".
  std::vector<store::Bytes> sso_tickets;
  std::string remote_address;
};

struct LoginResult {
  crypto::SecureBytes token;  // 32 random bytes; the store keeps only its hash
  int64_t expires_at = 0;
  std::string device_id;
  core::Account account;
  // A trusted device's login: the vault key its device wrapped.
  store::Bytes trusted_wrapped_vault_key;
};

class SessionService {
 public:
  SessionService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // Errors: auth.invalid_credentials (unknown email or wrong key, the same
  // work and answer), account.unverified (only after the key checked out),
  // auth.sso_required (an organization requires SSO and the login carries
  // no ticket; checked before the second factor so no code is spent on
  // it), auth.two_factor_required, auth.invalid_two_factor,
  // auth.rate_limited, and ApplySsoTickets's errors (checked last). A
  // trusted device's login: device.sso_required without a ticket, and
  // auth.invalid_credentials (the same answer and work as a wrong key) for
  // an unknown email, a device that is not trusted or a wrong signature.
  [[nodiscard]] Result<LoginResult> Login(const core::Login& login);
  [[nodiscard]] Status Logout(const Caller& caller);
  // auth.required for an unknown, expired or revoked token or a deactivated
  // device.
  [[nodiscard]] Result<Caller> Authenticate(std::span<const uint8_t> token,
                                            std::string_view remote_address);

 private:
  const Context& ctx_;
  const Credentials& credentials_;
};

Error AuthRequired();

// How a session's token is stored: H(token key, token). Every place that
// makes a session (a login, a pairing's pickup) stores it so.
store::Bytes SessionTokenHash(const Context& ctx, std::span<const uint8_t> token);

}  // namespace keyward::core
