#include "core/admin_reset.h"

#include "core/notices.h"
#include "core/org_access.h"
#include "core/validation.h"
#include "core/vault.h"
#include "protocol/binding.h"
#include "protocol/escrow.h"

namespace keyward::core {

namespace {

constexpr size_t kMinBlob = 1 + 24 + 16;
constexpr size_t kMaxKeyBlob = 4096;

// What Begin and Reset both check, in the order of docs/api.md.
struct ResetTarget {
  OrgAccess access;
  core::OrgMember member;
  core::Escrow escrow;
};

Result<ResetTarget> CheckResetTarget(store::Tx& tx, const Context& ctx, const Caller& caller,
                                     std::string_view org_id, std::string_view member_id) {
  KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
  KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(access.org));
  if (policy.mode != protocol::RecoveryMode::kAdminReset) {
    return Fail(Error::Conflict("org.mode_not_admin_reset",
                                "This organization's recovery mode is not admin-reset: use a "
                                "recovery request (approve a link) instead."));
  }
  KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, access.org.id, member_id));
  KW_ASSIGN_OR_RETURN(Target target, TargetOf(member));
  KW_TRY(CheckCanActOn(access.actor(), target, MemberAction::kResetPassword));
  if (member.status != core::MemberStatus::kActive) {
    return Fail(Error::Conflict("org.member_revoked",
                                "The member's access is revoked: restore the member before "
                                "resetting their master password."));
  }
  if (!ctx.config.recovery_key) return Fail(RecoveryKeyMissing());
  KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(access.org.id, member_id));
  if (!escrow) return Fail(NotEnrolled());
  // An escrow keeps the mode it was made under: a member who enrolled under
  // dual control is never reset by one admin alone, whatever the policy says
  // now, until they enroll again.
  if (escrow->mode != protocol::RecoveryModeName(protocol::RecoveryMode::kAdminReset)) {
    return Fail(Error::Conflict(
        "org.escrow_dual_control",
        "The member enrolled under dual control: one administrator cannot reset them until they "
        "enroll again under the admin-reset policy. Use a recovery request instead."));
  }
  return ResetTarget{std::move(access), std::move(member), std::move(*escrow)};
}

EventSpec AdminEvent(const Caller& caller, const core::Org& org, std::string_view member_id,
                     std::string type) {
  EventSpec event;
  event.org_id = org.id;
  event.type = std::move(type);
  event.actor_id = caller.account_id;
  event.target_id = std::string(member_id);
  event.device_id = caller.device_id;
  return event;
}

}  // namespace

Result<ResetMaterial> AdminResetService::Begin(const Caller& caller, std::string_view org_id,
                                               std::string_view member_id) {
  ResetMaterial material;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(ResetTarget t, CheckResetTarget(tx, ctx_, caller, org_id, member_id));
    auto server_part = protocol::OpenServerShare(*ctx_.config.recovery_key, t.escrow.server_share,
                                                 t.access.org.id, member_id, t.escrow.epoch);
    // Checked when it was stored: the server's recovery key changed since.
    if (!server_part) return Fail(Internal());
    material.epoch = t.escrow.epoch;
    material.key_version = t.escrow.key_version;
    material.wrapped_vault_key = std::move(t.escrow.wrapped_vault_key);
    material.admin_share = std::move(t.escrow.admin_share);
    material.server_part = std::move(*server_part);
    EventSpec event = AdminEvent(caller, t.access.org, member_id, "recovery.escrow_opened");
    event.details = {{"epoch", protocol::DecimalText(t.escrow.epoch)},
                     {"key_version", protocol::DecimalText(t.escrow.key_version)}};
    return AppendOrgEvent(tx, ctx_.clock, std::move(event));
  }));
  return material;
}

Status AdminResetService::Reset(const Caller& caller, std::string_view org_id,
                                std::string_view member_id, const TemporaryPassword& password) {
  KW_TRY(CheckKdf(password.new_kdf, ctx_.config.kdf_minimum));
  if (password.new_salt.size() != crypto::kSaltSize) return Fail(InvalidField("new_salt"));
  if (password.new_wrapped_vault_key.size() < kMinBlob ||
      password.new_wrapped_vault_key.size() > kMaxKeyBlob) {
    return Fail(InvalidField("new_wrapped_vault_key"));
  }
  const store::Bytes verifier = credentials_.Verifier(password.new_auth_key);
  std::string email;
  std::string org_name;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(ResetTarget t, CheckResetTarget(tx, ctx_, caller, org_id, member_id));
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(member_id));
    if (!account) return Fail(MemberNotFound());
    KW_ASSIGN_OR_RETURN(core::Escrow fresh,
                        ValidateEscrowInTx(tx, ctx_, t.access.org, member_id, password.escrow));
    fresh.mode = t.escrow.mode;
    KW_TRY(PutEscrowInTx(tx, fresh));
    SetMasterPassword(*account, password.new_kdf, password.new_salt, verifier,
                      password.new_wrapped_vault_key,
                      /*must_change=*/true);
    KW_TRY(tx.UpdateAccount(*account));
    KW_TRY(tx.RevokeAccountSessions(member_id, {}));
    KW_TRY(DropTrustedDevices(tx, member_id));
    // The member starts afresh with the temporary password.
    KW_TRY(credentials_.ClearFailures(tx, account->email));
    email = account->email;
    org_name = t.access.org.name;
    KW_TRY(ctx_.mail.Enqueue(tx,
                             notices::PasswordResetByAdmin(email, org_name, ctx_.clock.NowUnix())));
    EventSpec event = AdminEvent(caller, t.access.org, member_id, "recovery.password_reset");
    event.details = {{"epoch", protocol::DecimalText(fresh.epoch)},
                     {"key_version", protocol::DecimalText(fresh.key_version)}};
    return AppendOrgEvent(tx, ctx_.clock, std::move(event));
  }));
  return {};
}

Status AdminResetService::ResetTwoFactor(const Caller& caller, std::string_view org_id,
                                         std::string_view member_id) {
  std::string email;
  std::string org_name;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, access.org.id, member_id));
    KW_ASSIGN_OR_RETURN(Target target, TargetOf(member));
    KW_TRY(CheckCanActOn(access.actor(), target, MemberAction::kResetTwoFactor));
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(member_id));
    if (!account) return Fail(MemberNotFound());
    if (!account->totp_enabled) {
      return Fail(Error::Conflict("account.two_factor_not_enabled",
                                  "The member's two-step login is not on."));
    }
    account->totp_enabled = false;
    account->totp_secret_sealed.clear();
    account->totp_last_step = -1;
    KW_TRY(tx.UpdateAccount(*account));
    KW_TRY(tx.ReplaceRecoveryCodes(member_id, {}));
    email = account->email;
    org_name = access.org.name;
    KW_TRY(ctx_.mail.Enqueue(
        tx, notices::TwoFactorResetByAdmin(email, org_name, ctx_.clock.NowUnix())));
    return AppendOrgEvent(tx, ctx_.clock,
                          AdminEvent(caller, access.org, member_id, "recovery.two_factor_reset"));
  }));
  return {};
}

Status AdminResetService::UnlinkSso(const Caller& caller, std::string_view org_id,
                                    std::string_view member_id) {
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, access.org.id, member_id));
    KW_ASSIGN_OR_RETURN(Target target, TargetOf(member));
    KW_TRY(CheckCanActOn(access.actor(), target, MemberAction::kResetTwoFactor));
    KW_ASSIGN_OR_RETURN(auto identity, tx.FindSsoIdentityOfAccount(access.org.id, member_id));
    if (!identity) {
      return Fail(Error::Conflict(
          "sso.not_linked", "The member has no single sign-on identity in the organization."));
    }
    KW_TRY(tx.DeleteSsoIdentity(access.org.id, member_id));
    return AppendOrgEvent(tx, ctx_.clock,
                          AdminEvent(caller, access.org, member_id, "sso.identity_unlinked"));
  });
}

}  // namespace keyward::core
