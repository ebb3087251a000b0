#include "core/sessions.h"

#include <spdlog/spdlog.h>

#include "core/notices.h"
#include "core/org_access.h"
#include "core/two_factor.h"
#include "core/validation.h"

namespace keyward::core {

namespace {

// last_seen is refreshed at most this often, so reads stay reads.
constexpr int64_t kLastSeenGranularity = 300;

// Account events go to every organization the account is an active member
// of, in the login's own transaction.
Status LogLogin(const Context& ctx, store::Tx& tx, const store::Account& account,
                std::string_view device_id, std::string_view type, std::string_view reason) {
  EventSpec event;
  event.type = std::string(type);
  event.actor_id = account.id;
  event.target_id = account.id;
  event.device_id = std::string(device_id);
  if (!reason.empty()) event.details = {{"reason", std::string(reason)}};
  return AppendAccountEvent(tx, ctx.clock, account.id, std::move(event));
}

}  // namespace

Error AuthRequired() {
  return Error::Unauthenticated("auth.required", "Log in first (the session is missing or ended).");
}

store::Bytes SessionService::TokenHash(std::span<const uint8_t> token) const {
  return crypto::Hash(ctx_.keys.token_key.span(), token);
}

Result<LoginResult> SessionService::Login(const core::Login& login) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(login.email));
  if (!IsValidClientId(login.device.id)) return Fail(InvalidField("device.id"));
  if (!IsValidLabel(login.device.name)) return Fail(InvalidField("device.name"));
  if (!IsValidDeviceType(login.device.type)) return Fail(InvalidField("device.type"));

  const int64_t now = ctx_.clock.NowUnix();
  enum class Outcome {
    kOk,
    kLocked,
    kWrongKey,
    kUnverified,
    kNeedSecondFactor,
    kWrongSecondFactor
  } outcome = Outcome::kOk;
  LoginResult result;
  bool new_device = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    outcome = Outcome::kOk;
    new_device = false;
    KW_ASSIGN_OR_RETURN(bool locked, credentials_.Locked(tx, email, login.remote_address));
    if (locked) {
      outcome = Outcome::kLocked;
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
    if (!credentials_.Matches(account ? &*account : nullptr, login.auth_key)) {
      outcome = Outcome::kWrongKey;
      // The same work for a known and an unknown email: the event of a
      // known account is written after the answer (below).
      return credentials_.RecordFailure(tx, email, login.remote_address);
    }
    if (!account->verified) {
      outcome = Outcome::kUnverified;
      return {};
    }
    if (account->totp_enabled) {
      bool ok = false;
      if (login.totp_code) {
        KW_ASSIGN_OR_RETURN(ok, AcceptTotp(ctx_, *account, *login.totp_code));
        if (ok) KW_TRY(tx.UpdateAccount(*account));
      } else if (login.recovery_code) {
        KW_ASSIGN_OR_RETURN(ok, UseRecoveryCode(ctx_, tx, *account, *login.recovery_code));
      } else {
        outcome = Outcome::kNeedSecondFactor;
        return {};
      }
      if (!ok) {
        outcome = Outcome::kWrongSecondFactor;
        KW_TRY(credentials_.RecordFailure(tx, email, login.remote_address));
        return LogLogin(ctx_, tx, *account, login.device.id, "account.login_failed",
                        "invalid_two_factor");
      }
    }
    KW_TRY(credentials_.ClearFailures(tx, email));

    KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(account->id, login.device.id));
    // A deactivated device that logs in again with the master password is
    // a new sign-in as far as the owner is concerned.
    new_device = !device || !device->active;
    store::Device row{account->id,
                      login.device.id,
                      login.device.name,
                      login.device.type,
                      device ? device->first_seen : now,
                      now,
                      true};
    KW_TRY(tx.UpsertDevice(row));

    result.token = crypto::SecureBytes::Random(32);
    store::Session session{TokenHash(result.token.span()),        account->id, login.device.id, now,
                           now + ctx_.config.session_ttl_seconds, false};
    KW_TRY(tx.InsertSession(session));
    KW_TRY(LogLogin(ctx_, tx, *account, login.device.id, "account.login", ""));
    result.expires_at = session.expires_at;
    result.device_id = login.device.id;
    result.account = std::move(*account);
    return {};
  }));

  switch (outcome) {
    case Outcome::kOk:
      break;
    case Outcome::kLocked:
      return Fail(AuthRateLimited());
    case Outcome::kWrongKey:
      // Posted for every email; for an unknown one the task finds nothing
      // to log (there is no organization to tell).
      ctx_.deferred.Post([&ctx = ctx_, email, device_id = login.device.id] {
        auto s = ctx.store.Transact([&](store::Tx& tx) -> Status {
          KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
          if (!account) return {};
          return LogLogin(ctx, tx, *account, device_id, "account.login_failed",
                          "invalid_credentials");
        });
        if (!s) spdlog::warn("events: could not log a failed login ({})", s.error().code());
      });
      return Fail(InvalidCredentials());
    case Outcome::kUnverified:
      return Fail(Error::PermissionDenied(
          "account.unverified", "Confirm your email address first (enter the emailed code)."));
    case Outcome::kNeedSecondFactor:
      return Fail(Error::Unauthenticated("auth.two_factor_required",
                                         "Enter the code from your authenticator app."));
    case Outcome::kWrongSecondFactor:
      return Fail(Error::Unauthenticated("auth.invalid_two_factor",
                                         "The two-step login code is wrong or was already used."));
  }
  if (new_device) {
    notices::SendBestEffort(ctx_.mailer,
                            notices::NewDevice(email, login.device.name, login.device.type, now),
                            "new device");
  }
  return result;
}

Status SessionService::Logout(const Caller& caller) {
  return ctx_.store.Transact(
      [&](store::Tx& tx) -> Status { return tx.RevokeSession(caller.token_hash); });
}

Result<Caller> SessionService::Authenticate(std::span<const uint8_t> token,
                                            std::string_view remote_address) {
  if (token.size() != 32) return Fail(AuthRequired());
  const int64_t now = ctx_.clock.NowUnix();
  Caller caller;
  caller.token_hash = TokenHash(token);
  caller.remote_address = std::string(remote_address);
  bool valid = false;
  bool touch = false;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    valid = false;
    KW_ASSIGN_OR_RETURN(auto session, tx.FindSession(caller.token_hash));
    if (!session || session->revoked || session->expires_at <= now) return {};
    KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(session->account_id, session->device_id));
    if (!device || !device->active) return {};
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(session->account_id));
    if (!account) return {};
    caller.account_id = session->account_id;
    caller.device_id = session->device_id;
    caller.must_change_password = account->must_change_password;
    touch = now - device->last_seen >= kLastSeenGranularity;
    valid = true;
    return {};
  }));
  if (!valid) return Fail(AuthRequired());
  if (touch) {
    KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(caller.account_id, caller.device_id));
      if (!device) return {};
      device->last_seen = now;
      return tx.UpsertDevice(*device);
    }));
  }
  return caller;
}

}  // namespace keyward::core
