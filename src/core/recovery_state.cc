#include "core/recovery_state.h"

namespace keyward::core {

namespace {

Error RequestOpen() {
  return Error::Conflict("recovery.request_open",
                         "A recovery request is already open for this account; wait for an "
                         "administrator's answer, or cancel it first.");
}

Error NotPending() {
  return Error::Conflict("recovery.not_pending",
                         "The request is no longer pending (another administrator may have "
                         "approved or declined it); reload it.");
}

Error RequestExpired() {
  return Error::Gone("recovery.expired",
                     "The request expired before it was approved; the member must ask again.");
}

Error NoOpenRequest() {
  return Error::Conflict("recovery.no_open_request",
                         "There is no open recovery request to cancel.");
}

Error NotOpen() { return Error::Conflict("recovery.not_open", "The request is no longer open."); }

Error NotApproved() {
  return Error::Conflict("recovery.not_approved",
                         "The request has not been approved (it is pending or was declined).");
}

Error LinkExpired() {
  return Error::Gone("recovery.link_expired",
                     "The recovery link expired; links are never reused or extended. Ask for "
                     "a new recovery.");
}

Error LinkUsed() {
  return Error::Conflict("recovery.link_used",
                         "The recovery link was already used; log in with your new master "
                         "password.");
}

// Approve and decline: only a pending request.
Result<RequestStatus> FromPending(RequestStatus current, RequestStatus next) {
  switch (current) {
    case RequestStatus::kPending:
      return next;
    case RequestStatus::kExpired:
      return Fail(RequestExpired());
    case RequestStatus::kApproved:
    case RequestStatus::kLinkUsed:
    case RequestStatus::kDeclined:
      return Fail(NotPending());
  }
  return Fail(NotPending());
}

// Redeeming: only an approved request, with one error per other status.
Result<RequestStatus> FromApproved(RequestStatus current, RequestStatus next) {
  switch (current) {
    case RequestStatus::kApproved:
      return next;
    case RequestStatus::kExpired:
      return Fail(LinkExpired());
    case RequestStatus::kLinkUsed:
      return Fail(LinkUsed());
    case RequestStatus::kPending:
    case RequestStatus::kDeclined:
      return Fail(NotApproved());
  }
  return Fail(NotApproved());
}

}  // namespace

std::string_view RequestActionName(RequestAction action) {
  switch (action) {
    case RequestAction::kSubmit:
      return "submit";
    case RequestAction::kRecordApproval:
      return "record_approval";
    case RequestAction::kFinalApproval:
      return "final_approval";
    case RequestAction::kDecline:
      return "decline";
    case RequestAction::kCancel:
      return "cancel";
    case RequestAction::kExpire:
      return "expire";
    case RequestAction::kRedeemStart:
      return "redeem_start";
    case RequestAction::kRedeemVerify:
      return "redeem_verify";
    case RequestAction::kComplete:
      return "complete";
  }
  return "unknown";
}

bool IsOpen(RequestStatus status) {
  return status == RequestStatus::kPending || status == RequestStatus::kApproved;
}

Result<RequestStatus> NextRequestStatus(std::optional<RequestStatus> current,
                                        RequestAction action) {
  if (action == RequestAction::kSubmit) {
    if (current && IsOpen(*current)) return Fail(RequestOpen());
    return RequestStatus::kPending;
  }
  if (!current) {
    if (action == RequestAction::kCancel) return Fail(NoOpenRequest());
    return Fail(Error::NotFound("recovery.not_found", "No such recovery request."));
  }
  switch (action) {
    case RequestAction::kRecordApproval:
      return FromPending(*current, RequestStatus::kPending);
    case RequestAction::kFinalApproval:
      return FromPending(*current, RequestStatus::kApproved);
    case RequestAction::kDecline:
      return FromPending(*current, RequestStatus::kDeclined);
    case RequestAction::kCancel:
      if (IsOpen(*current)) return RequestStatus::kDeclined;
      return Fail(NoOpenRequest());
    case RequestAction::kExpire:
      if (IsOpen(*current)) return RequestStatus::kExpired;
      return Fail(NotOpen());
    case RequestAction::kRedeemStart:
    case RequestAction::kRedeemVerify:
      return FromApproved(*current, RequestStatus::kApproved);
    case RequestAction::kComplete:
      return FromApproved(*current, RequestStatus::kLinkUsed);
    case RequestAction::kSubmit:
      break;  // handled above
  }
  return Fail(Error::Internal("internal", "Something went wrong on the server; try again."));
}

}  // namespace keyward::core
