#include "core/accounts.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/notices.h"
#include "core/org_access.h"
#include "core/validation.h"
#include "core/vault.h"
#include "protocol/policy.h"

namespace keyward::core {

namespace {

constexpr size_t kMinBlob = 1 + 24 + 16;  // version, nonce, tag
constexpr size_t kMaxKeyBlob = 4096;

Error InvalidCode() {
  return Error::InvalidArgument("verify.invalid_code",
                                "The code is wrong or expired; ask for a new one.");
}

Error RateLimited() {
  return Error::RateLimited("request.rate_limited", "Too many requests; try again later.");
}

// Issue 10, item 2: resent codes spend Credentials::SpendCodeAllowance;
// wrong codes are counted per address in the same windows.
constexpr int64_t kCodeWindow = Credentials::kCodeWindow;
constexpr int64_t kWrongCodesPerAddress = 20;

}  // namespace

Status CheckBlob(const store::Bytes& blob, std::string_view field) {
  if (blob.size() < kMinBlob || blob.size() > kMaxKeyBlob) return Fail(InvalidField(field));
  return {};
}

std::string VerifyCodeSubject(std::string_view email, std::string_view remote_address) {
  return std::string(email) + " " + std::string(remote_address);
}

store::Bytes HashEmailCode(const Context& ctx, std::span<const uint8_t> challenge,
                           std::string_view code) {
  store::Bytes message(challenge.begin(), challenge.end());
  message.insert(message.end(), code.begin(), code.end());
  return crypto::Hash(ctx.keys.code_key.span(), message);
}

Status AccountService::CheckRegisterRate(std::string_view remote_address) {
  int64_t count = 0;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(
        count, tx.HitRateLimit("register:addr:" + std::string(remote_address), ctx_.clock.NowUnix(),
                               ctx_.config.register_window_seconds));
    return {};
  }));
  if (count > ctx_.config.register_max_per_address) {
    return Fail(Error::RateLimited("request.rate_limited", "Too many requests; try again later."));
  }
  return {};
}

Result<bool> AccountService::MayMail(store::Tx& tx, std::string_view email) {
  KW_ASSIGN_OR_RETURN(auto count,
                      tx.HitRateLimit(credentials_.EmailKey("mail:", email), ctx_.clock.NowUnix(),
                                      ctx_.config.mail_window_seconds));
  return count <= ctx_.config.mail_max_per_email;
}

// What a registration stores, copied out of the request for the work done
// after the answer (no auth key: only its verifier).
struct AccountService::PendingRegistration {
  std::string email;
  core::Account account;
  std::string remote_address;
};

Status AccountService::Register(const Registration& r) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(r.email));
  if (!IsValidAccountId(r.id)) return Fail(InvalidField("id"));
  KW_TRY(CheckKdf(r.kdf, ctx_.config.kdf_minimum));
  if (r.salt.size() != crypto::kSaltSize) return Fail(InvalidField("salt"));
  if (r.public_key.size() != 32) return Fail(InvalidField("public_key"));
  KW_TRY(CheckBlob(r.wrapped_vault_key, "wrapped_vault_key"));
  KW_TRY(CheckBlob(r.wrapped_private_key, "wrapped_private_key"));
  KW_TRY(CheckRegisterRate(r.remote_address));

  auto p = std::make_shared<PendingRegistration>();
  p->email = email;
  p->remote_address = r.remote_address;
  core::Account& account = p->account;
  account.id = r.id;
  account.email = email;
  account.kdf_ops = r.kdf.ops;
  account.kdf_mem = r.kdf.mem;
  account.salt = r.salt;
  account.verifier = credentials_.Verifier(r.auth_key);
  account.wrapped_vault_key = r.wrapped_vault_key;
  account.public_key = r.public_key;
  account.wrapped_private_key = r.wrapped_private_key;
  // Whether the email is new or taken is found out after the answer.
  ctx_.deferred.Post([this, p] {
    if (auto s = StoreRegistration(*p); !s) {
      spdlog::warn("register: a registration was not completed ({})", s.error().code());
    }
  });
  return {};
}

Status AccountService::StoreRegistration(const PendingRegistration& p) {
  const std::string& email = p.email;
  const int64_t now = ctx_.clock.NowUnix();
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto existing, tx.FindAccountByEmail(email));
    KW_ASSIGN_OR_RETURN(bool may_mail, MayMail(tx, email));
    // Exactly one email per registration, whichever it is, queued with it.
    if (existing && existing->verified) {
      if (!may_mail) return {};
      return ctx_.mail.Enqueue(tx, notices::AlreadyRegistered(email, ctx_.config.public_url));
    }
    // An unverified registration proves nothing about the address: a new
    // one replaces it.
    if (existing) KW_TRY(tx.DeleteAccount(existing->id));
    core::Account account = p.account;
    account.created_at = now;
    if (auto s = tx.InsertAccount(account); !s) {
      if (s.error().code() == "store.conflict") {
        return Fail(
            Error::Conflict("account.id_taken", "This account id is taken; generate a new one."));
      }
      return s;
    }
    const std::string code = crypto::RandomDigits(6);
    core::EmailCode row;
    row.purpose = kRegisterPurpose;
    row.subject = VerifyCodeSubject(email, p.remote_address);
    row.account_id = account.id;
    row.challenge = crypto::RandomBytes(16);
    row.code_hash = HashEmailCode(ctx_, row.challenge, code);
    row.expires_at = now + ctx_.config.code_ttl_seconds;
    row.created_at = now;
    KW_TRY(tx.PutEmailCode(row));
    if (!may_mail) return {};
    return ctx_.mail.Enqueue(
        tx, notices::VerificationCode(email, code, ctx_.config.code_ttl_seconds / 60));
  }));
  return {};
}

Status AccountService::Verify(std::string_view raw_email, std::string_view code,
                              std::string_view remote_address) {
  auto email = NormalizeEmail(raw_email);
  if (!email) return Fail(InvalidCode());
  const int64_t now = ctx_.clock.NowUnix();
  bool verified = false;
  bool limited = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    verified = false;
    limited = false;
    const std::string address_key = "verify-wrong:addr:" + std::string(remote_address);
    KW_ASSIGN_OR_RETURN(int64_t wrong, tx.PeekRateLimit(address_key, now, kCodeWindow));
    if (wrong >= kWrongCodesPerAddress) {
      limited = true;
      return {};
    }
    // The code asked from this address: guesses from elsewhere never reach it.
    KW_ASSIGN_OR_RETURN(
        auto row, tx.FindEmailCode(kRegisterPurpose, VerifyCodeSubject(*email, remote_address)));
    if (!row || row->used || row->expires_at <= now ||
        row->attempts >= ctx_.config.code_max_attempts) {
      return Discard(tx.HitRateLimit(address_key, now, kCodeWindow));
    }
    store::Bytes submitted = HashEmailCode(ctx_, row->challenge, code);
    if (!crypto::ConstantTimeEqual(submitted, row->code_hash)) {
      ++row->attempts;
      KW_TRY(Discard(tx.HitRateLimit(address_key, now, kCodeWindow)));
      return tx.UpdateEmailCode(*row);  // committed: the wrong try counts
    }
    row->used = true;
    KW_TRY(tx.UpdateEmailCode(*row));
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(row->account_id));
    if (!account) return {};
    account->verified = true;
    KW_TRY(tx.UpdateAccount(*account));
    verified = true;
    return {};
  }));
  if (limited) return Fail(RateLimited());
  if (!verified) return Fail(InvalidCode());
  return {};
}

Status AccountService::Resend(std::string_view raw_email, std::string_view remote_address) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(raw_email));
  KW_TRY(CheckRegisterRate(remote_address));
  const int64_t now = ctx_.clock.NowUnix();
  int64_t retry_at = 0;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    retry_at = 0;
    // The same reads and writes for every email (issue 10, items 2 and 4):
    // the counts and a code row, which only an unverified account's owner
    // is emailed.
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
    const bool unverified = account && !account->verified;
    KW_ASSIGN_OR_RETURN(
        retry_at, credentials_.SpendCodeAllowance(tx, "verify-mail:", email, remote_address, now));
    if (retry_at != 0) return {};
    const std::string code = crypto::RandomDigits(6);
    core::EmailCode row;
    row.purpose = kRegisterPurpose;
    row.subject = VerifyCodeSubject(email, remote_address);
    row.account_id = unverified ? account->id : std::string();
    row.challenge = crypto::RandomBytes(16);
    row.code_hash = HashEmailCode(ctx_, row.challenge, code);
    row.expires_at = now + ctx_.config.code_ttl_seconds;
    row.created_at = now;
    KW_TRY(tx.PutEmailCode(row));
    // One queued row either way (a decoy unless the owner of an unverified
    // account is emailed); the answer never waits for mail.
    if (!unverified) return ctx_.mail.EnqueueDecoy(tx);
    return ctx_.mail.Enqueue(
        tx, notices::VerificationCode(email, code, ctx_.config.code_ttl_seconds / 60));
  }));
  if (retry_at != 0) return Fail(CodeLimit("verify.code_limit", retry_at, now));
  return {};
}

Result<PreloginAnswer> AccountService::Prelogin(std::string_view raw_email) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(raw_email));
  std::optional<core::Account> account;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(account, tx.FindAccountByEmail(email));
    return {};
  }));
  if (account) {
    return PreloginAnswer{crypto::KdfParams{account->kdf_ops, account->kdf_mem}, account->salt};
  }
  // docs/api.md "POST /v1/accounts/prelogin": a stable fake salt and
  // default parameters, so the answer
  // looks like that of an account that exists.
  store::Bytes salt =
      crypto::Hash(ctx_.keys.pepper2.span(),
                   std::span(reinterpret_cast<const uint8_t*>(email.data()), email.size()));
  salt.resize(crypto::kSaltSize);
  crypto::KdfParams kdf = ctx_.config.kdf_default;
  if (kdf.ops < ctx_.config.kdf_minimum.ops || kdf.mem < ctx_.config.kdf_minimum.mem) {
    kdf = ctx_.config.kdf_minimum;
  }
  return PreloginAnswer{kdf, std::move(salt)};
}

Result<core::Account> AccountService::Get(const Caller& caller) {
  std::optional<core::Account> account;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(account, tx.FindAccountById(caller.account_id));
    return {};
  }));
  if (!account) return Fail(Error::Unauthenticated("auth.required", "Log in first."));
  return std::move(*account);
}

Status AccountService::ChangePassword(const Caller& caller, const PasswordChange& change) {
  KW_TRY(CheckKdf(change.new_kdf, ctx_.config.kdf_minimum));
  if (change.new_salt.size() != crypto::kSaltSize) return Fail(InvalidField("new_salt"));
  KW_TRY(CheckBlob(change.new_wrapped_vault_key, "new_wrapped_vault_key"));
  KW_TRY(CheckOneEscrowPerOrg(change.escrows));
  const store::Bytes new_verifier = credentials_.Verifier(change.new_auth_key);
  Credentials::Check check = Credentials::Check::kOk;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    if (!account) return Fail(Error::Unauthenticated("auth.required", "Log in first."));
    KW_ASSIGN_OR_RETURN(
        check, credentials_.CheckAuthKey(tx, *account, change.auth_key, caller.remote_address));
    if (check != Credentials::Check::kOk) return {};
    KW_TRY(ReplaceEnrolledEscrowsInTx(tx, ctx_, caller.account_id, change.escrows));
    const bool was_temporary = account->must_change_password;
    KW_TRY(ctx_.mail.Enqueue(tx, notices::PasswordChanged(account->email, ctx_.clock.NowUnix())));
    SetMasterPassword(*account, change.new_kdf, change.new_salt, new_verifier,
                      change.new_wrapped_vault_key,
                      /*must_change=*/false);
    KW_TRY(tx.UpdateAccount(*account));
    KW_TRY(tx.RevokeAccountSessions(caller.account_id, caller.token_hash));
    KW_TRY(DropTrustedDevices(tx, caller.account_id, caller.device_id));
    EventSpec event;
    event.type = was_temporary ? "recovery.temporary_password_updated" : "account.password_changed";
    event.actor_id = caller.account_id;
    event.target_id = caller.account_id;
    event.device_id = caller.device_id;
    return AppendAccountEvent(tx, ctx_.clock, caller.account_id, std::move(event));
  }));
  if (check != Credentials::Check::kOk) return Fail(Credentials::ErrorFor(check));
  return {};
}

namespace {

// Every organization the member is active in must allow a reset after
// pairing (policy pairing_reset).
Status CheckPairingResetAllowed(store::Tx& tx, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto orgs, ActiveMemberships(tx, account_id));
  for (const auto& o : orgs) {
    if (o.policy && o.policy->pairing_reset) continue;
    return Fail(Error::PermissionDenied(
        "org.pairing_reset_forbidden",
        fmt::format("The organization '{}' does not allow a new master password after pairing "
                    "a device: ask its administrators for a recovery (keyward recovery request)",
                    o.org.name)));
  }
  return {};
}

}  // namespace

Status AccountService::ChangeForgottenPassword(const Caller& caller,
                                               const ForgottenPasswordChange& change) {
  KW_TRY(CheckKdf(change.new_kdf, ctx_.config.kdf_minimum));
  if (change.new_salt.size() != crypto::kSaltSize) return Fail(InvalidField("new_salt"));
  KW_TRY(CheckBlob(change.new_wrapped_vault_key, "new_wrapped_vault_key"));
  KW_TRY(CheckOneEscrowPerOrg(change.escrows));
  const store::Bytes new_verifier = credentials_.Verifier(change.new_auth_key);
  const int64_t now = ctx_.clock.NowUnix();
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    if (!account) return Fail(Error::Unauthenticated("auth.required", "Log in first."));
    KW_ASSIGN_OR_RETURN(auto pairing, tx.FindPairingOfDevice(caller.account_id, caller.device_id));
    if (!pairing || pairing->state != PairingState::kDone ||
        pairing->updated_at + kPairingResetWindowSeconds < now) {
      return Fail(Error::PermissionDenied(
          "pair.reset_not_allowed",
          "Only a device paired in the last 15 minutes may set a new master password without "
          "the old one (once); pair again, or ask for a recovery (keyward recovery request)."));
    }
    KW_TRY(CheckPairingResetAllowed(tx, caller.account_id));
    KW_TRY(ReplaceEnrolledEscrowsInTx(tx, ctx_, caller.account_id, change.escrows));
    KW_TRY(ctx_.mail.Enqueue(tx, notices::PasswordChanged(account->email, now)));
    SetMasterPassword(*account, change.new_kdf, change.new_salt, new_verifier,
                      change.new_wrapped_vault_key, /*must_change=*/false);
    KW_TRY(tx.UpdateAccount(*account));
    KW_TRY(tx.RevokeAccountSessions(caller.account_id, caller.token_hash));
    KW_TRY(DropTrustedDevices(tx, caller.account_id, caller.device_id));
    pairing->state = PairingState::kClosed;  // used: once per pairing
    pairing->updated_at = now;
    KW_TRY(tx.UpdatePairing(*pairing));
    EventSpec event;
    event.type = "account.password_reset_after_pairing";
    event.actor_id = caller.account_id;
    event.target_id = caller.account_id;
    event.device_id = caller.device_id;
    event.details = {{"pairing_id", pairing->id}};
    return AppendAccountEvent(tx, ctx_.clock, caller.account_id, std::move(event));
  }));
  return {};
}

namespace {

// An organization with other members keeps an owner (Bitwarden asks the same
// before an account deletion): its sole active owner must first make someone
// else owner, or remove the other members.
Status CheckNotSoleOwner(store::Tx& tx, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  for (const auto& m : memberships) {
    if (m.status != core::MemberStatus::kActive || m.role != "owner") continue;
    KW_ASSIGN_OR_RETURN(int64_t owners, tx.CountOwners(m.org_id));
    if (owners > 1) continue;
    KW_ASSIGN_OR_RETURN(auto members, tx.ListMembers(m.org_id));
    if (members.size() > 1) {
      return Fail(Error::Conflict(
          "org.last_owner",
          "You are the only owner of an organization that has other members: make another "
          "member owner (keyward org role MEMBER owner) or remove them before deleting your "
          "account."));
    }
  }
  return {};
}

}  // namespace

Status AccountService::Delete(const Caller& caller, const crypto::AuthKey& auth_key) {
  Credentials::Check check = Credentials::Check::kOk;
  std::string email;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    if (!account) return Fail(Error::Unauthenticated("auth.required", "Log in first."));
    KW_ASSIGN_OR_RETURN(check,
                        credentials_.CheckAuthKey(tx, *account, auth_key, caller.remote_address));
    if (check != Credentials::Check::kOk) return {};
    email = account->email;
    KW_TRY(CheckNotSoleOwner(tx, account->id));
    // Logged in every organization while the memberships still exist: the
    // store deletes them with the account, the events stay.
    KW_TRY(AppendAccountEvent(
        tx, ctx_.clock, account->id,
        EventSpec{"", "account.deleted", account->id, account->id, caller.device_id, {}}));
    KW_TRY(tx.DeleteAccount(account->id));
    KW_TRY(ctx_.mail.Enqueue(tx, notices::AccountDeleted(email, ctx_.clock.NowUnix())));
    // A fresh registration of this email starts with a clean slate.
    return credentials_.ClearFailures(tx, email);
  }));
  if (check != Credentials::Check::kOk) return Fail(Credentials::ErrorFor(check));
  return {};
}

}  // namespace keyward::core
