#include "core/two_factor.h"

#include <fmt/format.h>

#include "common/percent.h"
#include "core/notices.h"
#include "core/org_access.h"
#include "core/sessions.h"

namespace keyward::core {

namespace {

constexpr size_t kSecretBytes = 20;  // RFC 4226 recommends 160 bits
constexpr int kRecoveryCodes = 10;
// No 0/o, 1/l/i: codes are read off paper.
constexpr std::string_view kRecoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";

crypto::Bytes SecretAd(std::string_view account_id) {
  return crypto::Ad({"keyward/v1/totp-secret", account_id});
}

// Lower case without dashes or spaces: how a code is hashed.
std::string CanonicalRecoveryCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

store::Bytes HashRecoveryCode(const Context& ctx, std::string_view account_id,
                              std::string_view canonical) {
  return crypto::Hash(ctx.keys.code_key.span(),
                      crypto::Ad({"keyward/v1/totp-recovery", account_id, canonical}));
}

std::string NewRecoveryCode() {
  std::string code;
  for (int i = 0; i < 12; ++i) {
    if (i > 0 && i % 4 == 0) code.push_back('-');
    code.push_back(kRecoveryAlphabet[crypto::RandomUniform(kRecoveryAlphabet.size())]);
  }
  return code;
}

Error NotPending() {
  return Error::Conflict("2fa.not_pending",
                         "No two-step login enrolment is waiting; start one first.");
}

}  // namespace

Result<bool> AcceptTotp(const Context& ctx, core::Account& account, std::string_view code) {
  if (account.totp_secret_sealed.empty()) return false;
  auto secret =
      crypto::Decrypt(ctx.keys.totp_key.span(), account.totp_secret_sealed, SecretAd(account.id));
  if (!secret)
    return Fail(
        Error::Internal("2fa.secret_unreadable", "The two-step login secret could not be read."));
  auto step = crypto::TotpVerifyStep(secret->span(), code, ctx.clock.NowUnix(), 1);
  if (!step || *step <= account.totp_last_step) return false;
  account.totp_last_step = *step;
  return true;
}

Result<bool> UseRecoveryCode(const Context& ctx, store::Tx& tx, const core::Account& account,
                             std::string_view code) {
  store::Bytes hash = HashRecoveryCode(ctx, account.id, CanonicalRecoveryCode(code));
  KW_ASSIGN_OR_RETURN(auto codes, tx.ListRecoveryCodes(account.id));
  std::optional<int64_t> match;
  for (const auto& c : codes) {
    // Every stored code is compared, used or not, in constant time.
    if (crypto::ConstantTimeEqual(hash, c.code_hash) && !c.used) match = c.id;
  }
  if (!match) return false;
  if (auto s = tx.MarkRecoveryCodeUsed(account.id, *match); !s) {
    if (s.error().code() == "store.conflict") return false;
    return Fail(s.error());
  }
  return true;
}

Result<TotpEnrollment> TwoFactorService::Begin(const Caller& caller,
                                               const crypto::AuthKey& auth_key) {
  Credentials::Check check = Credentials::Check::kOk;
  bool already = false;
  std::string email;
  crypto::SecureBytes secret = crypto::SecureBytes::Random(kSecretBytes);
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    already = false;
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    if (!account) return Fail(AuthRequired());
    KW_ASSIGN_OR_RETURN(check,
                        credentials_.CheckAuthKey(tx, *account, auth_key, caller.remote_address));
    if (check != Credentials::Check::kOk) return {};
    if (account->totp_enabled) {
      already = true;
      return {};
    }
    email = account->email;
    account->totp_secret_sealed =
        crypto::Encrypt(ctx_.keys.totp_key.span(), secret.span(), SecretAd(account->id));
    account->totp_last_step = -1;
    return tx.UpdateAccount(*account);
  }));
  if (check != Credentials::Check::kOk) return Fail(Credentials::ErrorFor(check));
  if (already) {
    return Fail(Error::Conflict("2fa.already_enabled",
                                "Two-step login is already on; turn it off first to re-enrol."));
  }
  TotpEnrollment out;
  out.secret_base32 = crypto::Base32Encode(secret.span());
  out.uri = fmt::format("otpauth://totp/Keyward:{}?secret={}&issuer=Keyward", PercentEncode(email),
                        out.secret_base32);
  return out;
}

Result<std::vector<std::string>> TwoFactorService::Confirm(const Caller& caller,
                                                           std::string_view code) {
  const int64_t now = ctx_.clock.NowUnix();
  const std::string limit_key = "totp-confirm:" + caller.account_id;
  enum class Outcome { kOk, kNotPending, kWrong, kLimited } outcome = Outcome::kOk;
  std::vector<std::string> codes;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    outcome = Outcome::kOk;
    codes.clear();
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    if (!account) return Fail(AuthRequired());
    if (account->totp_enabled || account->totp_secret_sealed.empty()) {
      outcome = Outcome::kNotPending;
      return {};
    }
    KW_ASSIGN_OR_RETURN(int64_t failures,
                        tx.PeekRateLimit(limit_key, now, ctx_.config.totp_confirm_window_seconds));
    if (failures >= ctx_.config.totp_confirm_max_failures) {
      outcome = Outcome::kLimited;
      return {};
    }
    KW_ASSIGN_OR_RETURN(bool ok, AcceptTotp(ctx_, *account, code));
    if (!ok) {
      outcome = Outcome::kWrong;
      return Discard(tx.HitRateLimit(limit_key, now, ctx_.config.totp_confirm_window_seconds));
    }
    account->totp_enabled = true;
    KW_TRY(tx.UpdateAccount(*account));
    std::vector<store::Bytes> hashes;
    for (int i = 0; i < kRecoveryCodes; ++i) {
      codes.push_back(NewRecoveryCode());
      hashes.push_back(HashRecoveryCode(ctx_, account->id, CanonicalRecoveryCode(codes.back())));
    }
    KW_TRY(tx.ReplaceRecoveryCodes(account->id, hashes));
    KW_TRY(tx.ClearRateLimit(limit_key));
    KW_TRY(AppendAccountEvent(
        tx, ctx_.clock, account->id,
        EventSpec{
            "", "account.two_factor_enabled", account->id, account->id, caller.device_id, {}}));
    return ctx_.mail.Enqueue(tx, notices::TwoFactorEnabled(account->email, now));
  }));
  switch (outcome) {
    case Outcome::kOk:
      break;
    case Outcome::kNotPending:
      return Fail(NotPending());
    case Outcome::kWrong:
      return Fail(Error::InvalidArgument("2fa.invalid_code",
                                         "The code is wrong; check the authenticator's clock."));
    case Outcome::kLimited:
      return Fail(
          Error::RateLimited("request.rate_limited", "Too many wrong codes; try again later."));
  }
  return codes;
}

Status TwoFactorService::Disable(const Caller& caller, const crypto::AuthKey& auth_key) {
  Credentials::Check check = Credentials::Check::kOk;
  bool was_enabled = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    if (!account) return Fail(AuthRequired());
    KW_ASSIGN_OR_RETURN(check,
                        credentials_.CheckAuthKey(tx, *account, auth_key, caller.remote_address));
    if (check != Credentials::Check::kOk) return {};
    was_enabled = account->totp_enabled;
    account->totp_enabled = false;
    account->totp_secret_sealed.clear();
    account->totp_last_step = -1;
    KW_TRY(tx.UpdateAccount(*account));
    if (was_enabled) {
      KW_TRY(AppendAccountEvent(
          tx, ctx_.clock, account->id,
          EventSpec{
              "", "account.two_factor_disabled", account->id, account->id, caller.device_id, {}}));
      KW_TRY(
          ctx_.mail.Enqueue(tx, notices::TwoFactorDisabled(account->email, ctx_.clock.NowUnix())));
    }
    return tx.ReplaceRecoveryCodes(account->id, {});
  }));
  if (check != Credentials::Check::kOk) return Fail(Credentials::ErrorFor(check));
  return {};
}

}  // namespace keyward::core
