#include "core/device_requests.h"

#include <functional>
#include <utility>

#include "core/enrollment.h"
#include "core/events.h"
#include "core/notices.h"
#include "core/orgs.h"
#include "core/request_pipeline.h"
#include "core/sso_signin.h"
#include "core/validation.h"
#include "protocol/device_share.h"
#include "protocol/escrow.h"

namespace keyward::core {

namespace {

constexpr size_t kMinBlob = 1 + 24 + 16;
constexpr size_t kMaxKeyBlob = 4096;

// The organization `r` belongs to, as the device checks DA against it.
Result<RedeemMaterial::Org> OrgMaterial(store::Tx& tx, const core::RecoveryRequest& r) {
  KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(r.org_id));
  KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(r.org_id, r.account_id));
  if (!org || !member) return Fail(NotEnrolled());
  return RedeemOrgOf(tx, *org, member->last_epoch);
}

// `step` on the device request of (request_id, claim), expired first when
// overdue (its email queued), in one transaction; then a wrong claim
// logged (after the answer) and an error the step left in `late` answered
// (what it counted or expired is committed first).
using ClaimedStep =
    std::function<Status(store::Tx&, core::RecoveryRequest&, std::optional<Error>& late)>;
Status OnClaimedRequest(const Context& ctx, std::string_view request_id,
                        const crypto::GenericKey& claim, std::string_view address,
                        const ClaimedStep& step) {
  std::optional<Error> late;
  bool wrong_claim = false;
  KW_TRY(ctx.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    wrong_claim = false;
    KW_ASSIGN_OR_RETURN(auto r, RequestByToken(tx, ctx, request_id, claim, address, late,
                                               wrong_claim, /*device_claim=*/true));
    if (!r) return {};
    KW_TRY(ExpireIfOverdue(tx, ctx, *r));
    return step(tx, *r, late);
  }));
  if (wrong_claim) LogRejectedToken(ctx, std::string(request_id), std::string(address));
  if (late) return Fail(std::move(*late));
  return {};
}

}  // namespace

Result<SubmittedRequest> DeviceRequestService::Submit(const DeviceRequestSubmission& s) {
  if (!IsValidClientId(s.device.id)) return Fail(InvalidField("device.id"));
  if (!IsValidLabel(s.device.name)) return Fail(InvalidField("device.name"));
  if (!IsValidDeviceType(s.device.type)) return Fail(InvalidField("device.type"));
  if (!crypto::IsUsableBoxPublicKey(s.device_public_key)) {
    return Fail(InvalidField("device_public_key"));
  }
  const store::Bytes claim_hash = TokenHash(ctx_, s.claim);
  const int64_t now = ctx_.clock.NowUnix();
  SubmittedRequest submitted;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(SsoBoundAccount who, TakeBoundSsoTicket(ctx_, tx, s.sso_ticket));
    KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(who.org_id, who.account.id));
    if (!escrow) return Fail(NotEnrolled());
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(who.org_id));
    if (!org) return Fail(NotEnrolled());
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(*org));
    core::RecoveryRequest r;
    r.id = NewRequestId();
    r.org_id = org->id;
    r.account_id = who.account.id;
    r.status = RequestStatus::kPending;
    r.epoch = escrow->epoch;
    r.device_name = s.device.name;
    r.remote_address = s.remote_address;
    r.created_at = now;
    r.expires_at = now + policy.pending_ttl;
    r.kind = core::RequestKind::kDevice;
    r.device_id = s.device.id;
    r.device_key = s.device_public_key;
    r.token_hash = claim_hash;
    KW_TRY(InsertSubmittedRequest(tx, ctx_, r, *org, policy, who.account.email, 0));
    submitted = SubmittedRequest{r.id, org->name, r.expires_at};
    return {};
  }));
  return submitted;
}

Result<DeviceRequestState> DeviceRequestService::Open(std::string_view request_id,
                                                      const crypto::GenericKey& claim,
                                                      std::string_view remote_address) {
  DeviceRequestState state;
  KW_TRY(OnClaimedRequest(
      ctx_, request_id, claim, remote_address,
      [&](store::Tx& tx, core::RecoveryRequest& r, std::optional<Error>&) -> Status {
        state = DeviceRequestState{};
        KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(r.org_id));
        if (!org) return Fail(NotEnrolled());
        KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(*org));
        KW_ASSIGN_OR_RETURN(auto approvals, tx.ListApprovals(r.id));
        state.quorum = policy.quorum;
        state.approvals = static_cast<int>(approvals.size());
        if (r.status == RequestStatus::kApproved) {
          if (!ctx_.config.recovery_key) return Fail(RecoveryKeyMissing());
          KW_ASSIGN_OR_RETURN(core::Escrow escrow, RequestEscrow(tx, r));
          auto server_part = protocol::OpenServerShare(
              *ctx_.config.recovery_key, escrow.server_share, r.org_id, r.account_id, escrow.epoch);
          if (!server_part) return Fail(Internal());  // the server's recovery key changed since
          KW_ASSIGN_OR_RETURN(auto server_share, protocol::device_share::SealServerShare(
                                                     r.device_key, *server_part, r.org_id,
                                                     r.account_id, escrow.epoch, r.id));
          KW_ASSIGN_OR_RETURN(std::string email, EmailOf(tx, r.account_id));
          DeviceRequestState::Grant grant;
          grant.email = std::move(email);
          grant.epoch = escrow.epoch;
          grant.wrapped_vault_key = std::move(escrow.wrapped_vault_key);
          grant.admin_share = r.link_share;
          grant.server_share = std::move(server_share);
          KW_ASSIGN_OR_RETURN(grant.org, OrgMaterial(tx, r));
          state.grant = std::move(grant);
          EventSpec event = RequestEvent(r, "device_request.opened", r.account_id, r.device_id);
          event.details["epoch"] = Decimal(escrow.epoch);
          KW_TRY(AppendOrgEvent(tx, ctx_.clock, std::move(event)));
        }
        state.request = r;
        return {};
      }));
  return state;
}

Status DeviceRequestService::Complete(const DeviceCompletion& c, std::string_view device_type) {
  if (!IsValidDeviceType(device_type)) return Fail(InvalidField("device_type"));
  if (c.sign_public_key.size() != 32) return Fail(InvalidField("sign_public_key"));
  if (c.wrapped_vault_key.size() < kMinBlob || c.wrapped_vault_key.size() > kMaxKeyBlob) {
    return Fail(InvalidField("wrapped_vault_key"));
  }
  const int64_t now = ctx_.clock.NowUnix();
  return OnClaimedRequest(
      ctx_, c.request_id, c.claim, c.remote_address,
      [&](store::Tx& tx, core::RecoveryRequest& r, std::optional<Error>& late) -> Status {
        auto next = NextRequestStatus(r.status, RequestAction::kComplete);
        if (!next) {
          late = next.error();  // committed: an expiry found here stands
          return {};
        }
        KW_TRY(RequestEscrow(tx, r));  // the vault key the device opened is still the escrowed one
        KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(r.account_id));
        KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(r.org_id));
        if (!account || !org) return Fail(NotEnrolled());
        KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(account->id, r.device_id));
        KW_TRY(tx.UpsertDevice({account->id, r.device_id, r.device_name, std::string(device_type),
                                device ? device->first_seen : now, now, true}));
        KW_TRY(tx.UpsertTrustedDevice(
            {account->id, r.device_id, c.sign_public_key, c.wrapped_vault_key, now}));
        const RequestStatus was = r.status;
        r.status = *next;
        r.completed_at = now;
        KW_TRY(UpdateFrom(tx, r, was, StateError(r.status, RequestAction::kComplete)));
        KW_TRY(AppendOrgEvent(
            tx, ctx_.clock, RequestEvent(r, "device_request.completed", account->id, r.device_id)));
        KW_TRY(ctx_.mail.Enqueue(
            tx, notices::DeviceAddedByAdmins(account->email, org->name, r.device_name, now)));
        return {};
      });
}

}  // namespace keyward::core
