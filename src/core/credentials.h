// Checking a proof of the master password (the auth key) and counting
// failures. Failures are counted per email and per remote address in the
// store's rate_limits table, so the limits hold across server nodes; an
// email that reaches the limit is locked for a while even when the account
// does not exist, so a lock does not reveal existence either.
#pragma once

#include <string>
#include <string_view>

#include "core/context.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"
#include "store/store.h"

namespace keyward::core {

Error InvalidCredentials();
Error AuthRateLimited();
// An email-code limit reached (`code`: verify.code_limit,
// recovery.code_limit): no new code until `retry_at`, said in whole minutes
// from `now`.
Error CodeLimit(std::string_view code, int64_t retry_at, int64_t now);

// Puts a new master password on `account`: KDF parameters, salt, the
// verifier of the new auth key and the vault key wrapped under it.
// `must_change`: an admin chose it, the member replaces it at next login.
void SetMasterPassword(core::Account& account, const crypto::KdfParams& kdf,
                       const store::Bytes& salt, const store::Bytes& verifier,
                       const store::Bytes& wrapped_vault_key, bool must_change);

class Credentials {
 public:
  explicit Credentials(const Context& ctx);

  // H(pepper, auth_key).
  store::Bytes Verifier(const crypto::AuthKey& auth_key) const;
  // Constant time. With no account the key is compared against a dummy
  // verifier, so an unknown email costs the same work as a wrong key.
  bool Matches(const core::Account* account, const crypto::AuthKey& auth_key) const;

  // True when the email or the address is locked out right now.
  [[nodiscard]] Result<bool> Locked(store::Tx& tx, std::string_view email,
                                    std::string_view address) const;
  [[nodiscard]] Status RecordFailure(store::Tx& tx, std::string_view email,
                                     std::string_view address) const;
  [[nodiscard]] Status ClearFailures(store::Tx& tx, std::string_view email) const;

  enum class Check { kOk, kWrong, kLocked };
  // Locked -> kLocked; wrong key -> failure recorded, kWrong. The caller
  // commits either way so the count sticks, then answers the error.
  [[nodiscard]] Result<Check> CheckAuthKey(store::Tx& tx, const core::Account& account,
                                           const crypto::AuthKey& auth_key,
                                           std::string_view address) const;
  static Error ErrorFor(Check check);

  // A rate-limit key that names an email without storing it.
  std::string EmailKey(std::string_view prefix, std::string_view email) const;

  // The allowance of emailed codes of one kind (`prefix`, e.g.
  // "verify-mail:"): kCodesPerAddressAndEmail per (asking address, email)
  // checked first, so one address never uses up the email's allowance, then
  // kCodesPerEmail per email, in windows aligned on the hour so that the
  // answer can say when. The same reads and writes for every email. Spends
  // one code and returns 0, or spends nothing and returns when the next
  // window opens (for CodeLimit; the last code sent stays valid).
  static constexpr int64_t kCodeWindow = 3600;
  static constexpr int64_t kCodesPerAddressAndEmail = 5;
  static constexpr int64_t kCodesPerEmail = 10;
  [[nodiscard]] Result<int64_t> SpendCodeAllowance(store::Tx& tx, std::string_view prefix,
                                                   std::string_view email,
                                                   std::string_view remote_address,
                                                   int64_t now) const;

 private:
  const Context& ctx_;
  store::Bytes dummy_verifier_;
};

}  // namespace keyward::core
