// The life of a recovery request (docs/recovery.md "Statuses"; docs/api.md
// "Recovery requests"): which action may happen in which status, and what
// status follows. Pure rules: no store, no clock, no I/O. The services in
// recovery_requests.cc ask this table before every change and write the
// answer with a compare-and-set (Tx::UpdateRequest with the status they
// read), so two admins acting at once get one winner.
//
//                 submit
//   (none, or a final/expired request) ──> Pending
//   Pending  ── record_approval ──> Pending      (1 of M approvals)
//   Pending  ── final_approval  ──> Approved     (the M-th: the link exists)
//   Pending  ── decline         ──> Declined     (final; the member may ask again)
//   Pending  ── cancel          ──> Declined     ("Cancelled by the member")
//   Approved ── cancel          ──> Declined
//   Pending  ── expire          ──> Expired      (read or swept after its deadline)
//   Approved ── expire          ──> Expired      (the link was not used in time)
//   Approved ── redeem_start    ──> Approved     (a code is emailed)
//   Approved ── redeem_verify   ──> Approved     (U and a completion ticket)
//   Approved ── complete        ──> Link Used    (final)
//
// Deadlines are not this file's job: a service that finds an open request
// past expires_at applies `expire` first (and commits it), then the action
// it was asked for, which the Expired status then refuses.
// Declined and Link Used are final; Expired is never reopened or extended.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "common/error.h"
#include "store/store.h"

namespace keyward::core {

enum class RequestAction {
  kSubmit,          // the member (or an admin) opens a new request
  kRecordApproval,  // an approval that does not yet reach the quorum
  kFinalApproval,   // the quorum-th approval, with the link's token and share
  kDecline,         // an admin declines, with a reason
  kCancel,          // the member withdraws the open request
  kExpire,          // the deadline passed (lazy read or the sweeper)
  kRedeemStart,     // the link's token, to get an emailed code
  kRedeemVerify,    // token + code, to get U and a completion ticket
  kComplete,        // the completion ticket and the new password
};

inline constexpr std::array kAllRequestActions = {
    RequestAction::kSubmit,      RequestAction::kRecordApproval, RequestAction::kFinalApproval,
    RequestAction::kDecline,     RequestAction::kCancel,         RequestAction::kExpire,
    RequestAction::kRedeemStart, RequestAction::kRedeemVerify,   RequestAction::kComplete,
};

inline constexpr std::array kAllRequestStatuses = {
    core::RequestStatus::kPending, core::RequestStatus::kApproved, core::RequestStatus::kLinkUsed,
    core::RequestStatus::kExpired, core::RequestStatus::kDeclined,
};

// RequestStatusName and ParseRequestStatus: core/domain.h.
// "submit", "record_approval", ... (for test names and messages).
std::string_view RequestActionName(RequestAction action);

// Pending or Approved: the member's one open request.
bool IsOpen(core::RequestStatus status);

// The status after `action` on a request in `current`. For kSubmit,
// `current` is the status of the member's latest request (nullopt: none),
// and the answer is the status of the NEW request. Errors (no value in
// them, just the rule):
//   recovery.request_open     (409) submit while a request is open
//   recovery.not_pending      (409) approve / decline a request that is not pending
//   recovery.expired          (410) approve / decline an expired request
//   recovery.no_open_request  (409) cancel without an open request
//   recovery.not_open         (409) expire a request that is no longer open
//   recovery.not_approved     (409) redeem / complete a pending or declined request
//   recovery.link_expired     (410) redeem / complete an expired request
//   recovery.link_used        (409) redeem / complete a used link
// An action on a missing request (other than submit) is
// recovery.not_found (404).
[[nodiscard]] Result<core::RequestStatus> NextRequestStatus(
    std::optional<core::RequestStatus> current, RequestAction action);

}  // namespace keyward::core
