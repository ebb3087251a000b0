#include "core/enrollment.h"

#include <algorithm>

#include "core/org_access.h"
#include "core/sessions.h"
#include "core/validation.h"
#include "protocol/binding.h"
#include "protocol/escrow.h"
#include "protocol/policy.h"

namespace keyward::core {

Error RecoveryKeyMissing() {
  return Error::Unavailable("server.recovery_key_missing",
                            "This server has no recovery key, so it cannot take part in account "
                            "recovery; ask the operator.");
}

Error EscrowInvalid() {
  return Error::InvalidArgument(
      "escrow.invalid",
      "The escrow does not belong to this organization, member and epoch, or is damaged.");
}

namespace {

Error StaleEpoch() {
  return Error::Conflict("escrow.stale_epoch",
                         "The escrow's epoch is not the next one; reload your enrollment and "
                         "enroll again.");
}

Error KeyVersionMismatch() {
  return Error::Conflict("org.key_version_mismatch",
                         "The organization's recovery key changed; reload the organization and "
                         "try again.");
}

bool BlobSizeOk(const store::Bytes& blob) {
  return blob.size() >= kEscrowBlobMin && blob.size() <= kEscrowBlobMax;
}

// The caller's membership of `org_id`, with `*check` saying whether
// `auth_key` is the caller's (a wrong key is counted like a failed login,
// so the caller commits the transaction as is when it is not kOk).
Result<OrgAccess> MemberWithAuthKey(store::Tx& tx, const Credentials& credentials,
                                    const Caller& caller, std::string_view org_id,
                                    const crypto::AuthKey& auth_key, Credentials::Check* check) {
  KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
  KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
  if (!account) return Fail(AuthRequired());
  KW_ASSIGN_OR_RETURN(*check,
                      credentials.CheckAuthKey(tx, *account, auth_key, caller.remote_address));
  return access;
}

}  // namespace

Error NotEnrolled() {
  return Error::Conflict("org.not_enrolled",
                         "The member is not enrolled in this organization's account recovery.");
}

Result<core::Escrow> ValidateEscrowInTx(store::Tx& tx, const Context& ctx, const core::Org& org,
                                        std::string_view account_id, const EscrowUpload& upload) {
  if (!ctx.config.recovery_key) return Fail(RecoveryKeyMissing());
  KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, org.id, account_id));
  if (upload.epoch != member.last_epoch + 1) return Fail(StaleEpoch());
  if (upload.key_version != org.key_version) return Fail(KeyVersionMismatch());
  if (!BlobSizeOk(upload.wrapped_vault_key) || !BlobSizeOk(upload.admin_share) ||
      !BlobSizeOk(upload.server_share) || !protocol::CheckCounter(upload.epoch)) {
    return Fail(EscrowInvalid());
  }
  // The opened U goes out of scope (and is wiped) right here.
  if (!protocol::OpenServerShare(*ctx.config.recovery_key, upload.server_share, org.id, account_id,
                                 upload.epoch)) {
    return Fail(EscrowInvalid());
  }
  const int64_t now = ctx.clock.NowUnix();
  core::Escrow escrow;
  escrow.org_id = org.id;
  escrow.account_id = std::string(account_id);
  escrow.epoch = upload.epoch;
  escrow.key_version = upload.key_version;
  escrow.wrapped_vault_key = upload.wrapped_vault_key;
  escrow.admin_share = upload.admin_share;
  escrow.server_share = upload.server_share;
  escrow.created_at = now;
  escrow.updated_at = now;
  return escrow;
}

Status PutEscrowInTx(store::Tx& tx, const core::Escrow& escrow) {
  KW_TRY(tx.PutEscrow(escrow));
  return tx.SetMemberLastEpoch(escrow.org_id, escrow.account_id, escrow.epoch);
}

Status StoreEscrowInTx(store::Tx& tx, const Context& ctx, const core::Org& org,
                       std::string_view account_id, const EscrowUpload& upload,
                       std::string_view device_id) {
  KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(org));
  if (policy.enrollment == protocol::Enrollment::kDisabled) {
    return Fail(Error::Conflict("org.enrollment_disabled",
                                "Account recovery is turned off in this organization."));
  }
  KW_ASSIGN_OR_RETURN(core::Escrow escrow, ValidateEscrowInTx(tx, ctx, org, account_id, upload));
  // The member enrolls under the policy in force: its mode stays with the
  // escrow until the member enrolls again.
  escrow.mode = std::string(protocol::RecoveryModeName(policy.mode));
  KW_TRY(PutEscrowInTx(tx, escrow));
  EventSpec event;
  event.org_id = org.id;
  event.type = "recovery.enrolled";
  event.actor_id = std::string(account_id);
  event.target_id = std::string(account_id);
  event.device_id = std::string(device_id);
  event.details = {{"epoch", protocol::DecimalText(escrow.epoch)},
                   {"key_version", protocol::DecimalText(escrow.key_version)},
                   {"mode", escrow.mode}};
  return AppendOrgEvent(tx, ctx.clock, std::move(event));
}

Status CheckOneEscrowPerOrg(const std::vector<OrgEscrowUpload>& uploads) {
  for (size_t i = 0; i < uploads.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (uploads[i].org_id == uploads[j].org_id) return Fail(InvalidField("escrows"));
    }
  }
  return {};
}

// A new password moves every enrollment to a new epoch, so that whatever was
// bound to the old one (an approved link, an opened share) dies with it.
// Escrows in organizations where the membership is revoked are left as they
// are: the member cannot see those organizations, and their vault key, which
// the escrow wraps, does not change.
Status ReplaceEnrolledEscrowsInTx(store::Tx& tx, const Context& ctx, std::string_view account_id,
                                  const std::vector<OrgEscrowUpload>& uploads,
                                  EscrowCoverage coverage) {
  KW_TRY(CheckOneEscrowPerOrg(uploads));
  KW_ASSIGN_OR_RETURN(auto escrows, tx.ListEscrowsOfAccount(account_id));
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  auto enrolled = [&](std::string_view org_id) {
    bool has_escrow = std::any_of(escrows.begin(), escrows.end(),
                                  [&](const core::Escrow& e) { return e.org_id == org_id; });
    bool active = std::any_of(memberships.begin(), memberships.end(), [&](const auto& m) {
      return m.org_id == org_id && m.status == core::MemberStatus::kActive;
    });
    return has_escrow && active;
  };
  for (const auto& upload : uploads) {
    if (!enrolled(upload.org_id)) return Fail(NotEnrolled());
  }
  for (const auto& escrow : escrows) {
    if (!enrolled(escrow.org_id)) continue;
    auto upload = std::find_if(uploads.begin(), uploads.end(),
                               [&](const OrgEscrowUpload& u) { return u.org_id == escrow.org_id; });
    if (upload == uploads.end()) {
      if (coverage == EscrowCoverage::kListedOnly) continue;
      return Fail(Error::Conflict("escrow.required",
                                  "Your account is enrolled in account recovery: the new password "
                                  "needs a fresh escrow for every organization you are enrolled "
                                  "in (reload your organizations and try again)."));
    }
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(escrow.org_id));
    if (!org) return Fail(Internal());
    KW_ASSIGN_OR_RETURN(core::Escrow fresh,
                        ValidateEscrowInTx(tx, ctx, *org, account_id, upload->escrow));
    // A new password is not a new enrollment: the escrow keeps its mode.
    fresh.mode = escrow.mode;
    KW_TRY(PutEscrowInTx(tx, fresh));
  }
  return {};
}

Result<EnrollmentState> EnrollmentService::Get(const Caller& caller, std::string_view org_id) {
  EnrollmentState state;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(state, EnrollmentOf(tx, access.org.id, caller.account_id));
    return {};
  }));
  return state;
}

Result<EnrollmentState> EnrollmentService::Enroll(const Caller& caller, std::string_view org_id,
                                                  const crypto::AuthKey& auth_key,
                                                  const EscrowUpload& upload) {
  Credentials::Check check = Credentials::Check::kOk;
  EnrollmentState state;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access,
                        MemberWithAuthKey(tx, credentials_, caller, org_id, auth_key, &check));
    // Committed as is, so that a wrong key counts like a failed login.
    if (check != Credentials::Check::kOk) return {};
    KW_TRY(StoreEscrowInTx(tx, ctx_, access.org, caller.account_id, upload, caller.device_id));
    state = EnrollmentState{true, upload.epoch, upload.key_version, upload.epoch};
    return {};
  }));
  if (check != Credentials::Check::kOk) return Fail(Credentials::ErrorFor(check));
  return state;
}

Status EnrollmentService::Withdraw(const Caller& caller, std::string_view org_id,
                                   const crypto::AuthKey& auth_key) {
  Credentials::Check check = Credentials::Check::kOk;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access,
                        MemberWithAuthKey(tx, credentials_, caller, org_id, auth_key, &check));
    if (check != Credentials::Check::kOk) return {};
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(access.org));
    if (policy.enrollment == protocol::Enrollment::kMandatory) {
      return Fail(Error::Conflict(
          "org.enrollment_mandatory",
          "This organization requires account recovery enrollment; you cannot withdraw."));
    }
    KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(access.org.id, caller.account_id));
    if (!escrow) return Fail(NotEnrolled());
    KW_TRY(tx.DeleteEscrow(access.org.id, caller.account_id));
    EventSpec event;
    event.org_id = access.org.id;
    event.type = "recovery.withdrew";
    event.actor_id = caller.account_id;
    event.target_id = caller.account_id;
    event.device_id = caller.device_id;
    event.details = {{"epoch", protocol::DecimalText(escrow->epoch)}};
    return AppendOrgEvent(tx, ctx_.clock, std::move(event));
  }));
  if (check != Credentials::Check::kOk) return Fail(Credentials::ErrorFor(check));
  return {};
}

}  // namespace keyward::core
