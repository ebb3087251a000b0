// Registration with an emailed code, pre-login, the signed-in owner's view of
// the account, master password change and account deletion.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/credentials.h"
#include "core/enrollment.h"
#include "crypto/crypto.h"

namespace keyward::core {

struct Registration {
  std::string id;  // base64url of 16 client-chosen random bytes
  std::string email;
  crypto::KdfParams kdf;
  store::Bytes salt;  // 16
  crypto::AuthKey auth_key;
  store::Bytes wrapped_vault_key;
  store::Bytes public_key;  // 32
  store::Bytes wrapped_private_key;
  std::string remote_address;
};

struct PreloginAnswer {
  crypto::KdfParams kdf;
  store::Bytes salt;
};

struct PasswordChange {
  crypto::AuthKey auth_key;  // current
  crypto::KdfParams new_kdf;
  store::Bytes new_salt;
  crypto::AuthKey new_auth_key;
  store::Bytes new_wrapped_vault_key;
  // A fresh escrow at the next epoch for every organization the account is
  // enrolled in (an active member with an escrow); may be empty when none.
  std::vector<OrgEscrowUpload> escrows;
};

// The same without the current password, from a device just paired with a
// signed-in one (keyward account password --forgotten).
struct ForgottenPasswordChange {
  crypto::KdfParams new_kdf;
  store::Bytes new_salt;
  crypto::AuthKey new_auth_key;
  store::Bytes new_wrapped_vault_key;
  std::vector<OrgEscrowUpload> escrows;
};

// How long after its pairing a new device may set a forgotten password.
inline constexpr int64_t kPairingResetWindowSeconds = 15 * 60;

class AccountService {
 public:
  AccountService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // Checks the registration (input, per-address limit) and answers; the
  // registration itself is stored after the answer (core/deferred.h), so the
  // answer does the same store work, and takes the same time, for a new and
  // an already registered email (issue 10, item 4). Then a code goes to a
  // new address and a notice to the owner of an existing one; a failure
  // there (mail down, store error, an id collision) is logged, and the
  // registrant's `account resend` (or a new registration) tries again.
  [[nodiscard]] Status Register(const Registration& registration);
  // The code emailed to `email` for a request from `remote_address` (codes
  // are bound to the address that asked for them). verify.invalid_code for
  // every kind of failure; request.rate_limited after 20 of them from the
  // address in an hour.
  [[nodiscard]] Status Verify(std::string_view email, std::string_view code,
                              std::string_view remote_address);
  // Sends a fresh code to an unverified account; the same store work and
  // answer for every email. request.rate_limited (per address);
  // verify.code_limit (429) when no new code can be sent to this email from
  // this address for now (5 per address and email, then 10 per email, an
  // hour), whether or not the email has an account.
  [[nodiscard]] Status Resend(std::string_view email, std::string_view remote_address);
  [[nodiscard]] Result<PreloginAnswer> Prelogin(std::string_view email);

  [[nodiscard]] Result<core::Account> Get(const Caller& caller);
  // Replaces salt, KDF, verifier, wrapped vault key and the escrows at once,
  // clears must_change_password and signs out every other session.
  // escrow.required (409) unless `escrows` covers every enrollment;
  // org.not_enrolled (409) for an escrow where the account is not enrolled.
  [[nodiscard]] Status ChangePassword(const Caller& caller, const PasswordChange& change);
  // After a device pairing (docs/recovery.md "Pair with a device"): the
  // caller's device was made by a pairing that finished less than
  // kPairingResetWindowSeconds ago and has not been used for this yet.
  // Escrows renewed, every other session ended, the owner emailed, the event
  // logged; two-step login stays on. Errors: pair.reset_not_allowed (403),
  // org.pairing_reset_forbidden (403, an organization's policy says deny).
  [[nodiscard]] Status ChangeForgottenPassword(const Caller& caller,
                                               const ForgottenPasswordChange& change);
  // Removes the account with everything it owns; the email is free again.
  [[nodiscard]] Status Delete(const Caller& caller, const crypto::AuthKey& auth_key);

 private:
  struct PendingRegistration;
  // The transaction and the email of a registration that was answered.
  [[nodiscard]] Status StoreRegistration(const PendingRegistration& p);
  [[nodiscard]] Status CheckRegisterRate(std::string_view remote_address);
  // Counts one email to this address; false when over the hourly limit.
  [[nodiscard]] Result<bool> MayMail(store::Tx& tx, std::string_view email);

  const Context& ctx_;
  const Credentials& credentials_;
};

inline constexpr char kRegisterPurpose[] = "register";  // VerifyCodeSubject

// The subject of a registration code row: the email and the address that
// asked for the code, so that wrong guesses or a resend from another
// address never kill the code of the one who registered.
[[nodiscard]] std::string VerifyCodeSubject(std::string_view email,
                                            std::string_view remote_address);

// A wrapped key of the account (vault key, private key): its size limits;
// request.invalid_field naming `field` otherwise.
[[nodiscard]] Status CheckBlob(const store::Bytes& blob, std::string_view field);

// H(code key, challenge || code).
store::Bytes HashEmailCode(const Context& ctx, std::span<const uint8_t> challenge,
                           std::string_view code);

}  // namespace keyward::core
