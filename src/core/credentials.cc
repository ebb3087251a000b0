#include "core/credentials.h"

#include <string>

#include <fmt/format.h>

#include "crypto/crypto.h"

namespace keyward::core {

namespace {

std::string AddressKey(std::string_view address) {
  return "login-fail:addr:" + std::string(address);
}

}  // namespace

Error InvalidCredentials() {
  return Error::Unauthenticated("auth.invalid_credentials",
                                "The email or the master password is wrong.");
}

Error AuthRateLimited() {
  return Error::RateLimited("auth.rate_limited",
                            "Too many failed attempts; wait a few minutes and try again.");
}

void SetMasterPassword(core::Account& account, const crypto::KdfParams& kdf,
                       const store::Bytes& salt, const store::Bytes& verifier,
                       const store::Bytes& wrapped_vault_key, bool must_change) {
  account.kdf_ops = kdf.ops;
  account.kdf_mem = kdf.mem;
  account.salt = salt;
  account.verifier = verifier;
  account.wrapped_vault_key = wrapped_vault_key;
  account.must_change_password = must_change;
}

Error CodeLimit(std::string_view code, int64_t retry_at, int64_t now) {
  const int64_t minutes = (retry_at - now + 59) / 60;
  return Error::RateLimited(
      std::string(code),
      fmt::format("No new code can be sent to this address for {} minute{}; use the last code "
                  "you received, if any.",
                  minutes, minutes == 1 ? "" : "s"));
}

Credentials::Credentials(const Context& ctx)
    : ctx_(ctx), dummy_verifier_(crypto::RandomBytes(32)) {}

store::Bytes Credentials::Verifier(const crypto::AuthKey& auth_key) const {
  return crypto::Hash(ctx_.keys.pepper.span(), auth_key.span());
}

bool Credentials::Matches(const core::Account* account, const crypto::AuthKey& auth_key) const {
  store::Bytes computed = Verifier(auth_key);
  const store::Bytes& expected = account != nullptr ? account->verifier : dummy_verifier_;
  bool equal = crypto::ConstantTimeEqual(computed, expected);
  return account != nullptr && equal;
}

std::string Credentials::EmailKey(std::string_view prefix, std::string_view email) const {
  store::Bytes digest = crypto::Hash(ctx_.keys.pepper2.span(), crypto::Ad({"rate-limit", email}));
  digest.resize(16);
  return std::string(prefix) + crypto::HexEncode(digest);
}

Result<int64_t> Credentials::SpendCodeAllowance(store::Tx& tx, std::string_view prefix,
                                                std::string_view email,
                                                std::string_view remote_address,
                                                int64_t now) const {
  const int64_t window = now / kCodeWindow;
  const std::string suffix = ":" + std::to_string(window);
  const std::string pair_key =
      EmailKey(std::string(prefix) + "pair:" + std::string(remote_address) + ":", email) + suffix;
  const std::string email_key = EmailKey(prefix, email) + suffix;
  KW_ASSIGN_OR_RETURN(int64_t pair, tx.PeekRateLimit(pair_key, now, kCodeWindow));
  int64_t all = 0;
  if (pair < kCodesPerAddressAndEmail) {
    KW_ASSIGN_OR_RETURN(all, tx.PeekRateLimit(email_key, now, kCodeWindow));
  }
  if (pair >= kCodesPerAddressAndEmail || all >= kCodesPerEmail) return (window + 1) * kCodeWindow;
  KW_TRY(Discard(tx.HitRateLimit(pair_key, now, kCodeWindow)));
  KW_TRY(Discard(tx.HitRateLimit(email_key, now, kCodeWindow)));
  return int64_t{0};
}

Result<bool> Credentials::Locked(store::Tx& tx, std::string_view email,
                                 std::string_view address) const {
  const auto& cfg = ctx_.config;
  int64_t now = ctx_.clock.NowUnix();
  KW_ASSIGN_OR_RETURN(
      auto lock, tx.PeekRateLimit(EmailKey("login-lock:", email), now, cfg.login_lockout_seconds));
  if (lock > 0) return true;
  KW_ASSIGN_OR_RETURN(auto by_address,
                      tx.PeekRateLimit(AddressKey(address), now, cfg.login_window_seconds));
  return by_address >= cfg.login_max_failures_per_address;
}

Status Credentials::RecordFailure(store::Tx& tx, std::string_view email,
                                  std::string_view address) const {
  const auto& cfg = ctx_.config;
  int64_t now = ctx_.clock.NowUnix();
  std::string fail_key = EmailKey("login-fail:", email);
  KW_ASSIGN_OR_RETURN(auto count, tx.HitRateLimit(fail_key, now, cfg.login_window_seconds));
  if (count >= cfg.login_max_failures_per_account) {
    // The lock is its own row so it lasts login_lockout_seconds from the
    // failure that triggered it; counting starts afresh afterwards.
    KW_TRY(tx.HitRateLimit(EmailKey("login-lock:", email), now, cfg.login_lockout_seconds));
    KW_TRY(tx.ClearRateLimit(fail_key));
  }
  KW_TRY(tx.HitRateLimit(AddressKey(address), now, cfg.login_window_seconds));
  return {};
}

Status Credentials::ClearFailures(store::Tx& tx, std::string_view email) const {
  return tx.ClearRateLimit(EmailKey("login-fail:", email));
}

Result<Credentials::Check> Credentials::CheckAuthKey(store::Tx& tx, const core::Account& account,
                                                     const crypto::AuthKey& auth_key,
                                                     std::string_view address) const {
  KW_ASSIGN_OR_RETURN(bool locked, Locked(tx, account.email, address));
  if (locked) return Check::kLocked;
  if (Matches(&account, auth_key)) return Check::kOk;
  KW_TRY(RecordFailure(tx, account.email, address));
  return Check::kWrong;
}

Error Credentials::ErrorFor(Check check) {
  return check == Check::kLocked ? AuthRateLimited() : InvalidCredentials();
}

}  // namespace keyward::core
