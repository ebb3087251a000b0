#include "core/sessions.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/notices.h"
#include "core/org_access.h"
#include "core/sso_signin.h"
#include "core/two_factor.h"
#include "core/validation.h"
#include "protocol/trusted_device.h"

namespace keyward::core {

namespace {

// last_seen is refreshed at most this often, so reads stay reads.
constexpr int64_t kLastSeenGranularity = 300;

// Account events go to every organization the account is an active member
// of, in the login's own transaction.
Status LogLogin(const Context& ctx, store::Tx& tx, const core::Account& account,
                std::string_view device_id, std::string_view type, std::string_view reason) {
  EventSpec event;
  event.type = std::string(type);
  event.actor_id = account.id;
  event.target_id = account.id;
  event.device_id = std::string(device_id);
  if (!reason.empty()) event.details = {{"reason", std::string(reason)}};
  return AppendAccountEvent(tx, ctx.clock, account.id, std::move(event));
}

enum class LoginOutcome {
  kOk,
  kLocked,
  kWrongKey,
  kUnverified,
  kNeedSecondFactor,
  kWrongSecondFactor
};

// The second factor of an account with TOTP on: a TOTP code (its step
// recorded on the account) or a recovery code (used up). kOk, or why not.
Result<LoginOutcome> CheckSecondFactor(const Context& ctx, store::Tx& tx, core::Account& account,
                                       const core::Login& login) {
  bool ok = false;
  if (login.totp_code) {
    KW_ASSIGN_OR_RETURN(ok, AcceptTotp(ctx, account, *login.totp_code));
    if (ok) KW_TRY(tx.UpdateAccount(account));
  } else if (login.recovery_code) {
    KW_ASSIGN_OR_RETURN(ok, UseRecoveryCode(ctx, tx, account, *login.recovery_code));
  } else {
    return LoginOutcome::kNeedSecondFactor;
  }
  return ok ? LoginOutcome::kOk : LoginOutcome::kWrongSecondFactor;
}

// Records the device a login comes from. True when it is new to the owner:
// a deactivated device that logs in again with the master password counts
// as a new sign-in.
Result<bool> UpsertLoginDevice(store::Tx& tx, const std::string& account_id,
                               const DeviceInfo& login_device, int64_t now) {
  KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(account_id, login_device.id));
  const bool new_device = !device || !device->active;
  core::Device row{account_id,
                   login_device.id,
                   login_device.name,
                   login_device.type,
                   device ? device->first_seen : now,
                   now,
                   true};
  KW_TRY(tx.UpsertDevice(row));
  return new_device;
}

// After the answer to a wrong key. Posted for every email; for an unknown
// one the task finds nothing to log (there is no organization to tell).
void LogWrongKeyAfterAnswer(const Context& ctx, std::string email, std::string device_id) {
  ctx.deferred.Post([&ctx, email = std::move(email), device_id = std::move(device_id)] {
    auto s = ctx.store.Transact([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
      if (!account) return {};
      return LogLogin(ctx, tx, *account, device_id, "account.login_failed", "invalid_credentials");
    });
    if (!s) spdlog::warn("events: could not log a failed login ({})", s.error().code());
  });
}

// A trusted device's signature over the login's first SSO ticket, checked
// against the key the device registered (protocol/trusted_device.h). With
// no account or no trusted device, a signature is still checked (against a
// fixed key) so an unknown email costs the same work. On success the
// device's wrapped vault key is copied out for the answer.
Result<bool> TrustedDeviceMatches(store::Tx& tx, const core::Account* account,
                                  const core::Login& login, store::Bytes& wrapped_vault_key) {
  static const crypto::SignKeyPair kNobody = crypto::GenerateSignKeyPair();
  // The same two reads whoever asks (an unknown email reads for no one).
  const std::string account_id = account != nullptr ? account->id : std::string();
  KW_ASSIGN_OR_RETURN(auto trusted, tx.FindTrustedDevice(account_id, login.device.id));
  KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(account_id, login.device.id));
  const bool usable = trusted && device && device->active;
  const store::Bytes message =
      protocol::trusted_device::LoginMessage(login.device.id, login.sso_tickets.front());
  const bool valid = crypto::Verify(usable ? trusted->sign_public_key : kNobody.public_key, message,
                                    *login.device_signature);
  if (!usable || !valid) return false;
  wrapped_vault_key = trusted->wrapped_vault_key;
  return true;
}

// The answer to a login that did not succeed.
Error LoginRefusal(LoginOutcome outcome) {
  switch (outcome) {
    case LoginOutcome::kLocked:
      return AuthRateLimited();
    case LoginOutcome::kWrongKey:
      return InvalidCredentials();
    case LoginOutcome::kUnverified:
      return Error::PermissionDenied("account.unverified",
                                     "Confirm your email address first (enter the emailed code).");
    case LoginOutcome::kNeedSecondFactor:
      return Error::Unauthenticated("auth.two_factor_required",
                                    "Enter the code from your authenticator app.");
    case LoginOutcome::kWrongSecondFactor:
      return Error::Unauthenticated("auth.invalid_two_factor",
                                    "The two-step login code is wrong or was already used.");
    case LoginOutcome::kOk:
      break;
  }
  return Internal();
}

}  // namespace

Error AuthRequired() {
  return Error::Unauthenticated("auth.required", "Log in first (the session is missing or ended).");
}

store::Bytes SessionTokenHash(const Context& ctx, std::span<const uint8_t> token) {
  return crypto::Hash(ctx.keys.token_key.span(), token);
}

Result<LoginResult> SessionService::Login(const core::Login& login) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(login.email));
  if (login.device_signature) {
    if (login.sso_tickets.empty()) {
      return Fail(Error::InvalidArgument(
          "device.sso_required",
          "A trusted device logs in through the organization's single sign-on: give a ticket."));
    }
    if (login.device_signature->size() != 64) return Fail(InvalidField("device_signature"));
  }
  if (!IsValidClientId(login.device.id)) return Fail(InvalidField("device.id"));
  if (!IsValidLabel(login.device.name)) return Fail(InvalidField("device.name"));
  if (!IsValidDeviceType(login.device.type)) return Fail(InvalidField("device.type"));

  const int64_t now = ctx_.clock.NowUnix();
  LoginOutcome outcome = LoginOutcome::kOk;
  LoginResult result;
  bool new_device = false;
  std::optional<Error> sso_refusal;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    outcome = LoginOutcome::kOk;
    new_device = false;
    sso_refusal.reset();
    KW_ASSIGN_OR_RETURN(bool locked, credentials_.Locked(tx, email, login.remote_address));
    if (locked) {
      outcome = LoginOutcome::kLocked;
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
    bool matches = false;
    if (login.device_signature) {
      KW_ASSIGN_OR_RETURN(matches, TrustedDeviceMatches(tx, account ? &*account : nullptr, login,
                                                        result.trusted_wrapped_vault_key));
    } else {
      matches = credentials_.Matches(account ? &*account : nullptr, login.auth_key);
    }
    if (!matches) {
      outcome = LoginOutcome::kWrongKey;
      // The same work for a known and an unknown email: the event of a
      // known account is written after the answer (below).
      return credentials_.RecordFailure(tx, email, login.remote_address);
    }
    if (!account->verified) {
      outcome = LoginOutcome::kUnverified;
      return {};
    }
    // Before the second factor, so that no code is spent on a login that
    // cannot succeed; the tickets themselves are taken last (below).
    if (login.sso_tickets.empty()) {
      KW_ASSIGN_OR_RETURN(auto requiring, OrgsRequiringSso(ctx_, tx, account->id));
      if (!requiring.empty()) {
        sso_refusal = SsoRequired(requiring.front());
        return {};
      }
    }
    if (account->totp_enabled) {
      KW_ASSIGN_OR_RETURN(outcome, CheckSecondFactor(ctx_, tx, *account, login));
      if (outcome == LoginOutcome::kNeedSecondFactor) return {};
      if (outcome == LoginOutcome::kWrongSecondFactor) {
        KW_TRY(credentials_.RecordFailure(tx, email, login.remote_address));
        return LogLogin(ctx_, tx, *account, login.device.id, "account.login_failed",
                        "invalid_two_factor");
      }
    }
    // An error here rolls the whole login back: the tickets stay untaken.
    KW_ASSIGN_OR_RETURN(auto vouch,
                        ApplySsoTickets(ctx_, tx, *account, login.sso_tickets, login.device.id));
    KW_TRY(credentials_.ClearFailures(tx, email));
    KW_ASSIGN_OR_RETURN(new_device, UpsertLoginDevice(tx, account->id, login.device, now));
    if (new_device) {
      KW_TRY(ctx_.mail.Enqueue(
          tx, notices::NewDevice(email, login.device.name, login.device.type, now)));
    }

    result.token = crypto::SecureBytes::Random(32);
    int64_t expires_at = now + ctx_.config.session_ttl_seconds;
    if (vouch.session_ends_by != 0) expires_at = std::min(expires_at, vouch.session_ends_by);
    core::Session session{SessionTokenHash(ctx_, result.token.span()),
                          account->id,
                          login.device.id,
                          now,
                          expires_at,
                          false};
    KW_TRY(tx.InsertSession(session));
    KW_TRY(LogLogin(ctx_, tx, *account, login.device.id, "account.login", ""));
    result.expires_at = session.expires_at;
    result.device_id = login.device.id;
    result.account = std::move(*account);
    return {};
  }));

  if (outcome == LoginOutcome::kWrongKey) LogWrongKeyAfterAnswer(ctx_, email, login.device.id);
  if (outcome != LoginOutcome::kOk) return Fail(LoginRefusal(outcome));
  if (sso_refusal) return Fail(*sso_refusal);
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
  caller.token_hash = SessionTokenHash(ctx_, token);
  caller.remote_address = std::string(remote_address);
  bool valid = false;
  bool touch = false;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    valid = false;
    // The session, its device and its account in one query.
    KW_ASSIGN_OR_RETURN(auto found, tx.FindSessionCaller(caller.token_hash));
    if (!found) return {};
    const core::Session& session = found->session;
    if (session.revoked || session.expires_at <= now || !found->device_active) return {};
    caller.account_id = session.account_id;
    caller.device_id = session.device_id;
    caller.must_change_password = found->must_change_password;
    touch = now - found->device_last_seen >= kLastSeenGranularity;
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
