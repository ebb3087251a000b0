#include "core/rotation.h"

#include <algorithm>

#include "core/validation.h"
#include "crypto/crypto.h"
#include "protocol/binding.h"

namespace keyward::core {

namespace {

constexpr size_t kMinShare = 48 + 32;  // crypto_box_seal overhead + the 32-byte share
constexpr size_t kMaxShare = 4096;

Result<OrgAccess> LoadRotator(store::Tx& tx, std::string_view org_id, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, account_id));
  if (access.role != Role::kOwner && access.role != Role::kAdmin) {
    return Fail(Error::PermissionDenied(
        "org.forbidden", "Only owners and admins rotate the organization's recovery key."));
  }
  return access;
}

// Retires the keys below the current one when no escrow needs them any
// more. Deleting their grants is the latch that makes key.rotation_completed
// appear once per rotation. Returns the escrows still pending.
Result<int64_t> CompleteIfDone(store::Tx& tx, const Clock& clock, const Caller& caller,
                               const core::Org& org) {
  KW_ASSIGN_OR_RETURN(int64_t pending, tx.CountEscrowsBelowKeyVersion(org.id, org.key_version));
  if (pending > 0) return pending;
  KW_ASSIGN_OR_RETURN(int64_t retired, tx.DeleteGrantsBelow(org.id, org.key_version));
  if (retired == 0) return 0;
  EventSpec event;
  event.org_id = org.id;
  event.type = "key.rotation_completed";
  event.actor_id = caller.account_id;
  event.device_id = caller.device_id;
  event.details = {{"key_version", protocol::DecimalText(org.key_version)},
                   {"grants_removed", std::to_string(retired)}};
  KW_TRY(AppendOrgEvent(tx, clock, std::move(event)));
  return 0;
}

}  // namespace

Result<OrgView> RotationService::Start(const Caller& caller, std::string_view org_id,
                                       const RotationStart& start) {
  for (size_t i = 0; i < start.grants.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (start.grants[i].account_id == start.grants[j].account_id) {
        return Fail(InvalidField("grants"));
      }
    }
  }
  const bool grants_caller =
      std::any_of(start.grants.begin(), start.grants.end(),
                  [&](const RotationGrant& g) { return g.account_id == caller.account_id; });
  const int64_t now = ctx_.clock.NowUnix();
  OrgView view;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadRotator(tx, org_id, caller.account_id));
    core::Org org = access.org;
    KW_ASSIGN_OR_RETURN(int64_t pending, CompleteIfDone(tx, ctx_.clock, caller, org));
    if (pending > 0) {
      return Fail(Error::Conflict("org.rotation_in_progress",
                                  "A key rotation is still re-wrapping escrows; finish it first "
                                  "(keyward org rotate-key resumes it)."));
    }
    KW_ASSIGN_OR_RETURN(NextStatement next, VerifyNextStatement(tx, org, start.statement, now));
    if (crypto::ConstantTimeEqual(next.statement.org_public_key, org.recovery_public_key)) {
      return Fail(Error::InvalidArgument("org.key_mismatch",
                                         "A rotation must carry a new organization recovery key."));
    }
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(org));
    if (!(next.policy == policy)) {
      return Fail(Error::InvalidArgument(
          "org.invalid_policy",
          "A rotation keeps the policy; change the policy on its own (org policy set)."));
    }
    if (!grants_caller) {
      return Fail(Error::InvalidArgument("request.invalid_field",
                                         "The field 'grants' must include a grant for yourself."));
    }
    const uint64_t new_key_version = org.key_version + 1;
    for (const auto& g : start.grants) {
      KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, org.id, g.account_id));
      KW_ASSIGN_OR_RETURN(Actor holder, ActorOf(member));
      if (member.status != core::MemberStatus::kActive ||
          !IsRecoveryAdmin(holder.role, holder.permissions)) {
        return Fail(Error::Conflict("org.not_recovery_admin",
                                    "Only active recovery admins receive the recovery key."));
      }
      KW_TRY(CheckGrantUpload(g.grant, new_key_version, holder.role));
    }

    KW_TRY(tx.InsertStatement(core::OrgStatementRow{org.id, next.statement.version,
                                                    start.statement.statement,
                                                    start.statement.signature, now}));
    org.statement_version = next.statement.version;
    org.key_version = new_key_version;
    org.recovery_public_key = next.statement.org_public_key;
    KW_TRY(tx.UpdateOrg(org));
    EventSpec event;
    event.org_id = org.id;
    event.type = "key.rotated";
    event.actor_id = caller.account_id;
    event.device_id = caller.device_id;
    event.details = {{"key_version", protocol::DecimalText(org.key_version)},
                     {"statement_version", protocol::DecimalText(org.statement_version)}};
    KW_TRY(AppendOrgEvent(tx, ctx_.clock, std::move(event)));
    for (const auto& g : start.grants) {
      KW_TRY(StoreGrant(tx, ctx_.clock, caller, org.id, g.account_id, g.grant));
    }
    // An organization without escrows is done at once.
    KW_TRY(Discard(CompleteIfDone(tx, ctx_.clock, caller, org)));
    KW_ASSIGN_OR_RETURN(view, LoadOrgView(tx, org.id, caller.account_id));
    return {};
  }));
  return view;
}

Result<RotationPage> RotationService::Pending(const Caller& caller, std::string_view org_id,
                                              std::string_view after, int64_t limit) {
  if (limit < 1 || limit > kRotationPageMax) return Fail(InvalidField("limit"));
  RotationPage page;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadRotator(tx, org_id, caller.account_id));
    page.key_version = access.org.key_version;
    KW_ASSIGN_OR_RETURN(page.pending,
                        tx.CountEscrowsBelowKeyVersion(access.org.id, access.org.key_version));
    KW_ASSIGN_OR_RETURN(page.escrows, tx.ListEscrowsBelowKeyVersion(
                                          access.org.id, access.org.key_version, after, limit));
    return {};
  }));
  return page;
}

Result<RewrapResult> RotationService::Rewrap(const Caller& caller, std::string_view org_id,
                                             const std::vector<RewrappedShare>& shares) {
  if (shares.size() > static_cast<size_t>(kRotationPageMax)) return Fail(InvalidField("escrows"));
  for (size_t i = 0; i < shares.size(); ++i) {
    if (shares[i].admin_share.size() < kMinShare || shares[i].admin_share.size() > kMaxShare) {
      return Fail(InvalidField("escrows[" + std::to_string(i) + "].admin_share"));
    }
  }
  const int64_t now = ctx_.clock.NowUnix();
  RewrapResult result;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    result = RewrapResult{};
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadRotator(tx, org_id, caller.account_id));
    const core::Org& org = access.org;
    for (const auto& share : shares) {
      if (share.from_key_version >= org.key_version) {
        ++result.skipped;
        continue;
      }
      auto s = tx.RewrapEscrow(org.id, share.account_id, share.epoch, share.from_key_version,
                               org.key_version, share.admin_share, now);
      if (!s) {
        if (s.error().code() != "store.stale" && s.error().code() != "store.not_found") {
          return Fail(s.error());
        }
        ++result.skipped;
        continue;
      }
      ++result.updated;
    }
    KW_ASSIGN_OR_RETURN(result.pending, CompleteIfDone(tx, ctx_.clock, caller, org));
    return {};
  }));
  return result;
}

}  // namespace keyward::core
