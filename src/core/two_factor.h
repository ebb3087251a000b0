// TOTP two-step login (RFC 6238): the secret is made by the server, kept
// encrypted under the TOTP subkey, pending until a first code confirms it;
// ten one-time recovery codes are stored hashed. A time step is accepted
// once: a replayed code is refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/credentials.h"

namespace keyward::core {

struct TotpEnrollment {
  std::string secret_base32;  // shown once to the owner
  std::string uri;            // otpauth://totp/...
};

class TwoFactorService {
 public:
  TwoFactorService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // 409 2fa.already_enabled when two-step login is on; a pending enrolment
  // is replaced.
  [[nodiscard]] Result<TotpEnrollment> Begin(const Caller& caller, const crypto::AuthKey& auth_key);
  // Returns the ten recovery codes. 2fa.invalid_code, 2fa.not_pending,
  // rate_limited.
  [[nodiscard]] Result<std::vector<std::string>> Confirm(const Caller& caller,
                                                         std::string_view code);
  [[nodiscard]] Status Disable(const Caller& caller, const crypto::AuthKey& auth_key);

 private:
  const Context& ctx_;
  const Credentials& credentials_;
};

// Used by login inside its transaction. True when the code is right for the
// account's active secret and its step is newer than the last one accepted;
// the account's last step is then advanced (the caller writes the account).
[[nodiscard]] Result<bool> AcceptTotp(const Context& ctx, core::Account& account,
                                      std::string_view code);
// True when the code is one of the account's unused recovery codes; marks it
// used.
[[nodiscard]] Result<bool> UseRecoveryCode(const Context& ctx, store::Tx& tx,
                                           const core::Account& account, std::string_view code);

}  // namespace keyward::core
