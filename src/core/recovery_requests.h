// Recovery requests, the Enpass flow (docs/recovery.md "The member: "I
// forgot my master password"" and "The recovery admin"; docs/protocol.md
// "Escrow, links, grants and signed statements"; docs/api.md "Recovery
// requests").
//
//   member, no session:   Ask (email -> code) -> Confirm (code) -> Pending
//   recovery admins:      List / Show -> Approve (quorum M; the M-th brings
//                         the link's T and LA) or Decline (reason, emailed)
//                         Start (admin-initiated request for a member)
//   member, any device:   RedeemStart (T -> emailed code) -> RedeemVerify
//                         (T + code -> U, W, LA, ticket) -> Complete (ticket,
//                         new password, fresh escrows) -> Link Used
//   server:               SweepRecoveryRequests expires overdue requests
//
// Every status change goes through NextRequestStatus (recovery_state.h) and
// is written with Tx::UpdateRequest's compare-and-set on the status read in
// the same transaction, so of two admins acting at once one wins and the
// other gets recovery.not_pending; each outcome appends exactly one event,
// in the transaction that makes it. A request found open past its deadline
// is stored as expired (with its event) before anything else, and the
// member is emailed once, by whichever transaction expired it.
//
// Nothing secret is logged, put in an event or in an error: not the codes,
// not T, not the ticket, not U; decline reasons are logged by length only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/credentials.h"
#include "core/enrollment.h"
#include "core/mail.h"
#include "core/recovery_state.h"
#include "crypto/crypto.h"
#include "protocol/policy.h"
#include "store/store.h"

namespace keyward::core {

// What POST /v1/recovery/requests asks for.
enum class RecoveryIntent { kSubmit, kCancel };

struct RecoveryAsk {
  std::string email;
  std::string device_name;  // 0-64 bytes of UTF-8 without control characters
  RecoveryIntent intent = RecoveryIntent::kSubmit;
  std::string remote_address;
  // A submission may ask for a cloud restore instead of a link alone
  // (core/restores.h): the snapshot (empty: the newest at confirmation).
  core::RequestKind kind = core::RequestKind::kRecovery;
  std::string snapshot_id;
};

// The answer to a confirmed submission.
struct SubmittedRequest {
  std::string request_id;
  std::string org_name;
  int64_t expires_at = 0;
};

struct ConfirmOutcome {
  RecoveryIntent intent = RecoveryIntent::kSubmit;
  SubmittedRequest submitted;  // for kSubmit
};

// docs/api.md "Request": a stored request with what an admin sees beside it.
struct RequestView {
  struct Approval {
    std::string admin_id;
    std::string email;  // empty when that account was deleted since
    int64_t at = 0;
  };
  struct Share {  // SA, for a pending request the caller may approve
    uint64_t epoch = 0;
    uint64_t key_version = 0;
    store::Bytes admin_share;
  };
  core::RecoveryRequest request;
  std::string email;  // the member's
  int quorum = 1;     // of the organization's policy in force
  std::vector<Approval> approvals;
  std::optional<Share> escrow;  // only from Show
};

struct RequestPage {
  std::vector<RequestView> requests;
  std::optional<store::RequestCursor> next_after;  // nullopt on the last page
};

inline constexpr int64_t kRequestPageDefault = 50;
inline constexpr int64_t kRequestPageMax = 200;
inline constexpr size_t kDeclineReasonMaxChars = 500;

// What the member's client needs to rebuild the vault key and re-enroll
// (docs/api.md POST /v1/recovery/redeem/verify).
struct RedeemMaterial {
  struct Org {
    std::string org_id;
    std::string name;
    uint64_t last_epoch = 0;
    uint64_t key_version = 0;
    store::Bytes recovery_public_key;
    std::vector<core::OrgStatementRow> statements;
  };
  std::string account_id;
  std::string email;
  uint64_t epoch = 0;
  store::Bytes wrapped_vault_key;  // W
  store::Bytes link_share;         // LA
  crypto::GenericKey server_part;  // U, opened by the server
  crypto::GenericKey ticket;       // single use; only its hash is stored
  int64_t ticket_expires_at = 0;
  crypto::KdfParams kdf_minimum;
  std::vector<Org> orgs;  // every organization the member is enrolled in
  // A restore request: the snapshot to read (with the ticket) and stage
  // before Complete, which rolls the vault back.
  core::RequestKind kind = core::RequestKind::kRecovery;
  std::optional<core::Snapshot> snapshot;
};

// docs/api.md POST /v1/recovery/redeem/complete.
struct RecoveryCompletion {
  crypto::GenericKey ticket;
  crypto::KdfParams new_kdf;
  store::Bytes new_salt;  // 16
  crypto::AuthKey new_auth_key;
  store::Bytes new_wrapped_vault_key;
  std::vector<OrgEscrowUpload> escrows;  // one per enrolled organization
  std::string remote_address;
  // A restore request: how many items were staged (the rollback checks it).
  std::optional<int64_t> restore_items;
};

inline constexpr int64_t kTicketTtlSeconds = 15 * 60;

// The member's open request, if the state machine lets it go, cancelled as
// by the member, with its event, inside `tx` (keyward account restart drops
// the escrow that request would open).
[[nodiscard]] Status CancelOpenRequestInTx(store::Tx& tx, const Context& ctx,
                                           const std::string& account_id, int64_t now);

class RecoveryRequestService {
 public:
  RecoveryRequestService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // The same answer and the same store work for every email: a code to a
  // verified account that is enrolled somewhere (or has an open request),
  // a "recovery not possible" notice to one enrolled nowhere, nothing to an
  // unknown or unverified email. account.invalid_email (400),
  // request.invalid_field (device_name), request.rate_limited (429) over
  // the per-address limit; over the per-email mail limit the answer is the
  // same and nothing is sent (the last code stays valid).
  [[nodiscard]] Status Ask(const RecoveryAsk& ask);
  // recovery.invalid_code (400) for any wrong, expired or used code; then,
  // for a submission: org.not_enrolled (409) when no enrollment is left,
  // recovery.request_open (409); for a cancellation:
  // recovery.no_open_request (409).
  [[nodiscard]] Result<ConfirmOutcome> Confirm(std::string_view email, std::string_view code,
                                               std::string_view remote_address);

  // Recovery admins (org.forbidden otherwise). A non-empty `email` keeps
  // the requests of the member with that address (compared as normalized;
  // account.invalid_email when malformed; an address of nobody in the
  // organization lists nothing).
  [[nodiscard]] Result<RequestPage> List(const Caller& caller, std::string_view org_id,
                                         std::optional<core::RequestStatus> status,
                                         const std::optional<store::RequestCursor>& after,
                                         int64_t limit, std::string_view email = {});
  // Recovery admins: how many requests are stored in each status (zeros
  // left out; a request past its deadline counts as open until it is read
  // or swept, at most a minute).
  [[nodiscard]] Result<store::RequestCounts> Counts(const Caller& caller, std::string_view org_id);
  // recovery.not_found (404) for a request of another organization too.
  [[nodiscard]] Result<RequestView> Show(const Caller& caller, std::string_view org_id,
                                         std::string_view request_id);
  // token = T (32 bytes), link_share = LA. See docs/api.md for the errors.
  // A restore asked for in a session takes neither (request.invalid_field
  // when given) and its last approval rolls the vault back
  // (restore.not_ready until every item is staged).
  struct LinkParts {
    crypto::GenericKey token;
    store::Bytes link_share;
  };
  // What an approval carries: a link's T and LA (recovery, restore by
  // link), nothing (a restore asked for in a session), or DA (a device
  // request: A boxed to the device's key, protocol/device_share.h; each
  // approver sends one, the last approval's is kept; request.invalid_field
  // "device_share" when missing or given to another kind).
  struct ApprovalParts {
    std::optional<LinkParts> link;
    store::Bytes device_share;
  };
  [[nodiscard]] Result<RequestView> Approve(const Caller& caller, std::string_view org_id,
                                            std::string_view request_id,
                                            const ApprovalParts& parts);
  [[nodiscard]] Result<RequestView> Approve(const Caller& caller, std::string_view org_id,
                                            std::string_view request_id,
                                            const std::optional<LinkParts>& link);
  [[nodiscard]] Result<RequestView> Approve(const Caller& caller, std::string_view org_id,
                                            std::string_view request_id,
                                            const crypto::GenericKey& token,
                                            const store::Bytes& link_share) {
    return Approve(caller, org_id, request_id, LinkParts{token.Clone(), link_share});
  }
  // reason: 1-500 characters, no control characters (request.invalid_field).
  [[nodiscard]] Result<RequestView> Decline(const Caller& caller, std::string_view org_id,
                                            std::string_view request_id, std::string_view reason);
  // Admin-initiated: a pending request for `member_id`, initiated_by the
  // caller. org.member_not_found, org.forbidden / org.self_action,
  // org.not_enrolled (409), recovery.request_open (409).
  [[nodiscard]] Result<RequestView> Start(const Caller& caller, std::string_view org_id,
                                          std::string_view member_id);

  // recovery.link_invalid (404) for an unknown request or a wrong token (one
  // answer), recovery.link_expired (410), recovery.link_used (409),
  // recovery.not_approved (409), request.rate_limited (429) over the guess
  // caps (wrong tokens per request and per address, codes per request).
  [[nodiscard]] Status RedeemStart(std::string_view request_id, const crypto::GenericKey& token,
                                   std::string_view remote_address);
  // RedeemStart's checks, then recovery.invalid_code (400); wrong codes are
  // capped per request and per address (request.rate_limited).
  [[nodiscard]] Result<RedeemMaterial> RedeemVerify(std::string_view request_id,
                                                    const crypto::GenericKey& token,
                                                    std::string_view code,
                                                    std::string_view remote_address);
  // recovery.invalid_ticket (400) for an unknown, used or expired ticket (or
  // a request no longer approved); the escrow errors of
  // ReplaceEnrolledEscrowsInTx (escrow.required, ...); kdf.too_weak.
  [[nodiscard]] Status Complete(const RecoveryCompletion& completion);

 private:
  const Context& ctx_;
  const Credentials& credentials_;
};

// Shared with core/restores.h. The member's submission `r` (pending,
// initiated by the member): any overdue open request expired first, then
// inserted (recovery.request_open when one is open), its event appended
// and emails to the admins who may approve it queued (ctx.mail).
[[nodiscard]] Status InsertSubmittedRequest(store::Tx& tx, const Context& ctx,
                                            const core::RecoveryRequest& r, const core::Org& org,
                                            const protocol::RecoveryPolicy& policy,
                                            std::string_view member_email,
                                            int64_t snapshot_created_at);
[[nodiscard]] Result<RequestView> BuildRequestView(store::Tx& tx, core::RecoveryRequest r,
                                                   int quorum);
// The approved restore request a live completion ticket belongs to (the
// ticket is not used up). A wrong ticket is counted against
// `remote_address` (the cap of Complete: request.rate_limited past it) and
// sets `late` to recovery.invalid_ticket, giving nullopt: the caller
// commits the count, then answers the error.
[[nodiscard]] Result<std::optional<core::RecoveryRequest>> RestoreOfTicketInTx(
    store::Tx& tx, const Context& ctx, const crypto::GenericKey& ticket,
    std::string_view remote_address, std::optional<Error>& late);

// Expires every open request whose deadline passed (at most `limit` per
// call), appends recovery.expired and emails the member, once per request
// even with several server nodes sweeping. Returns how many it expired.
[[nodiscard]] Result<int64_t> SweepRecoveryRequests(const Context& ctx, int64_t limit = 1000);

// EmailCode purposes (core::EmailCode::purpose).
inline constexpr char kRecoveryCodePurpose[] = "recovery";       // RecoveryCodeSubject
inline constexpr char kRedeemCodePurpose[] = "redeem";           // subject: the request id
inline constexpr char kRedeemTicketPurpose[] = "redeem-ticket";  // subject: H(ticket)

// The subject of a recovery code row: the email and the address that asked
// for it, so that each asking address has its own code and wrong-guess
// counter (wrong guesses from one address never kill another's code).
[[nodiscard]] std::string RecoveryCodeSubject(std::string_view email,
                                              std::string_view remote_address);

}  // namespace keyward::core
