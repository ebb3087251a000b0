// Admin actions on a member's account (docs/recovery.md "The recovery
// admin", admin-reset mode; docs/api.md .../reset/begin, .../reset,
// .../2fa/reset).
//
// Admin reset, in two calls. begin: the server checks the mode and the
// hierarchy, opens the member's server share and hands U to the admin, whose
// client opens the admin share with the organization key, recovers the vault
// key and wraps it under a temporary master password. reset: the server
// stores that password's verifier and wrapped key, a fresh escrow at the
// next epoch, sets must_change_password and signs the member out
// everywhere. Two-step login stays on: recovery never bypasses it. Resetting
// two-step login is its own, separately checked and logged action.
#pragma once

#include <string>
#include <string_view>

#include "core/context.h"
#include "core/credentials.h"
#include "core/enrollment.h"
#include "crypto/crypto.h"

namespace keyward::core {

struct ResetMaterial {
  uint64_t epoch = 0;
  uint64_t key_version = 0;
  store::Bytes wrapped_vault_key;  // W
  store::Bytes admin_share;        // SA
  crypto::GenericKey server_part;  // U, opened by the server
};

struct TemporaryPassword {
  crypto::KdfParams new_kdf;
  store::Bytes new_salt;  // 16
  crypto::AuthKey new_auth_key;
  store::Bytes new_wrapped_vault_key;
  EscrowUpload escrow;  // at the member's last epoch + 1
};

class AdminResetService {
 public:
  AdminResetService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // Errors, in order: org.not_found, org.mode_not_admin_reset (409),
  // org.member_not_found, org.self_action / org.forbidden (hierarchy action
  // reset_password), server.recovery_key_missing (503), org.not_enrolled
  // (409). Logged as recovery.escrow_opened.
  [[nodiscard]] Result<ResetMaterial> Begin(const Caller& caller, std::string_view org_id,
                                            std::string_view member_id);
  // The checks of Begin, then those of the escrow (ValidateEscrowInTx) and
  // of the password fields (kdf.too_weak, request.invalid_field). Logged as
  // recovery.password_reset; the member is emailed.
  [[nodiscard]] Status Reset(const Caller& caller, std::string_view org_id,
                             std::string_view member_id, const TemporaryPassword& password);
  // Turns off the member's TOTP and drops their recovery codes (hierarchy
  // action reset_two_factor; any recovery mode).
  // account.two_factor_not_enabled (409). Logged as recovery.two_factor_reset;
  // the member is emailed.
  [[nodiscard]] Status ResetTwoFactor(const Caller& caller, std::string_view org_id,
                                      std::string_view member_id);
  // Unlinks the member's single sign-on identity in the organization (the
  // provider subject bound at their first SSO login, docs/sso.md), so that
  // their next SSO login binds the subject it brings — for a member whose
  // account at the provider was replaced. The same people who may reset a
  // member's two-step login, by the same hierarchy. sso.not_linked (409);
  // logged as sso.identity_unlinked.
  [[nodiscard]] Status UnlinkSso(const Caller& caller, std::string_view org_id,
                                 std::string_view member_id);

 private:
  const Context& ctx_;
  const Credentials& credentials_;
};

}  // namespace keyward::core
