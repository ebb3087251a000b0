#include "core/recovery_requests.h"

#include "core/request_pipeline.h"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/accounts.h"  // HashEmailCode
#include "core/notices.h"
#include "core/org_access.h"
#include "core/orgs.h"
#include "core/restores.h"
#include "core/snapshots.h"
#include "core/validation.h"
#include "core/vault.h"
#include "protocol/binding.h"
#include "protocol/escrow.h"
#include "protocol/policy.h"

namespace keyward::core {

namespace {

// Limits (docs/api.md "Recovery requests"), per hour, counted in the store
// so they hold across server nodes.
constexpr int64_t kWindow = 3600;
constexpr int64_t kAsksPerAddress = 20;
// Code emails: Credentials::SpendCodeAllowance.
constexpr int64_t kWrongConfirmsPerAddress = 20;
constexpr int64_t kWrongTokensPerRequest = 10;
constexpr int64_t kWrongTokensPerAddress = 20;
constexpr int64_t kRedeemCodesPerRequest = 5;  // emailed codes
constexpr int64_t kWrongCodesPerRequest = 10;
constexpr int64_t kWrongCodesPerAddress = 20;

constexpr size_t kChallengeRandom = 16;
constexpr char kSubmitByte = 's';
constexpr char kCancelByte = 'c';
constexpr char kRestoreByte = 'r';  // a submission asking for a cloud restore
constexpr std::string_view kCancelReason = "Cancelled by the member";

constexpr size_t kMinBlob = 1 + 24 + 16;
constexpr size_t kMaxKeyBlob = 4096;

Error InvalidCode() {
  return Error::InvalidArgument("recovery.invalid_code",
                                "The code is wrong, expired or already used; ask for a new one.");
}

Error RequestNotFound() {
  return Error::NotFound("recovery.not_found", "No such recovery request in this organization.");
}

Error LinkInvalid() {
  return Error::NotFound("recovery.link_invalid",
                         "This recovery link is not valid; check that it was copied whole.");
}

Error InvalidTicket() {
  return Error::InvalidArgument(
      "recovery.invalid_ticket",
      "The completion ticket is unknown, used or expired; open the recovery link again.");
}

Error RateLimited() {
  return Error::RateLimited("request.rate_limited", "Too many requests; try again later.");
}

Error AlreadyApproved() {
  return Error::Conflict("recovery.already_approved", "You already approved this request.");
}

Error NotRecoveryAdmin() {
  return Error::PermissionDenied("org.forbidden", "Only recovery admins see recovery requests.");
}

Error EscrowChanged() {
  return Error::Conflict("org.not_enrolled",
                         "The member's enrollment changed since this request was made (withdrawn "
                         "or re-enrolled); the member must ask for recovery again.");
}

}  // namespace

// The refusal of the state machine for (status, action), for a
// compare-and-set that lost: the winner moved the request to a status where
// the action is refused.
Error StateError(std::optional<RequestStatus> status, RequestAction action) {
  auto next = NextRequestStatus(status, action);
  return next ? Internal() : next.error();
}

namespace {

Error NotPending() { return StateError(RequestStatus::kApproved, RequestAction::kDecline); }

}  // namespace

std::string Decimal(uint64_t n) { return protocol::DecimalText(n); }

// A restore request's own events are restore.requested, .approved and
// .declined, a device request's device_request.*; the rest of the pipeline's keep their recovery.*
// names, with the kind in their details.
EventSpec RequestEvent(const core::RecoveryRequest& r, std::string type, std::string actor_id,
                       std::string device_id) {
  if (r.kind != core::RequestKind::kRecovery &&
      (type == "recovery.requested" || type == "recovery.approved" ||
       type == "recovery.declined")) {
    const std::string prefix =
        r.kind == core::RequestKind::kRestore ? "restore." : "device_request.";
    type = prefix + type.substr(type.find('.') + 1);
  }
  EventSpec event;
  event.org_id = r.org_id;
  event.type = std::move(type);
  event.actor_id = std::move(actor_id);
  event.target_id = r.account_id;
  event.device_id = std::move(device_id);
  event.details = {{"request_id", r.id}};
  if (r.kind == core::RequestKind::kRestore) {
    event.details["kind"] = "restore";
    event.details["snapshot_id"] = r.snapshot_id;
  }
  if (r.kind == core::RequestKind::kDevice) {
    event.details["kind"] = "device";
    event.details["device_id"] = r.device_id;
  }
  return event;
}

// The compare-and-set of every status change.
// A restore request that closes drops the items staged for it.
Status UpdateFrom(store::Tx& tx, const core::RecoveryRequest& r, RequestStatus expected,
                  const Error& on_stale) {
  auto s = tx.UpdateRequest(r, expected);
  if (!s && store::IsCode(s.error(), "store.stale")) return Fail(on_stale);
  KW_TRY(s);
  if (r.kind == core::RequestKind::kRestore && !IsOpen(r.status)) {
    KW_TRY(Discard(tx.DeleteStagedItems(r.id)));
  }
  return {};
}

Result<std::string> EmailOf(store::Tx& tx, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(account_id));
  return account ? account->email : std::string();
}

// An open request past its deadline becomes Expired here, with its event and
// the member's email, in the caller's transaction. True when it did.
Result<bool> ExpireIfOverdue(store::Tx& tx, const Context& ctx, core::RecoveryRequest& r) {
  if (!IsOpen(r.status) || r.expires_at > ctx.clock.NowUnix()) return false;
  KW_ASSIGN_OR_RETURN(RequestStatus next, NextRequestStatus(r.status, RequestAction::kExpire));
  const RequestStatus was = r.status;
  r.status = next;
  KW_TRY(UpdateFrom(tx, r, was, StateError(r.status, RequestAction::kExpire)));
  EventSpec event = RequestEvent(r, "recovery.expired", "");
  event.details["was"] = std::string(RequestStatusName(was));
  KW_TRY(AppendOrgEvent(tx, ctx.clock, std::move(event)));
  KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(r.org_id));
  KW_ASSIGN_OR_RETURN(std::string email, EmailOf(tx, r.account_id));
  if (org && !email.empty()) {
    KW_TRY(ctx.mail.Enqueue(
        tx,
        notices::RecoveryExpired(email, org->name, was == RequestStatus::kApproved, r.expires_at)));
  }
  return true;
}

namespace {

// A read shows an open request past its deadline as it will be once
// expired (ExpireEach then writes that down, with its event and email).
// True when it was overdue.
Result<bool> ShowExpiredIfOverdue(const Context& ctx, core::RecoveryRequest& r) {
  if (!IsOpen(r.status) || r.expires_at > ctx.clock.NowUnix()) return false;
  KW_ASSIGN_OR_RETURN(r.status, NextRequestStatus(r.status, RequestAction::kExpire));
  return true;
}

// Expires the requests a read found overdue, each in a write transaction of
// its own that reads it again (another node, the sweeper or a reader may
// have expired it since). Returns how many this call expired; a failure is
// logged and skipped: the next sweep tries again.
int64_t ExpireEach(const Context& ctx, const std::vector<std::string>& request_ids) {
  int64_t expired = 0;
  for (const auto& id : request_ids) {
    bool done = false;
    auto s = ctx.store.Transact([&](store::Tx& tx) -> Status {
      done = false;
      KW_ASSIGN_OR_RETURN(auto r, tx.FindRequest(id));
      if (!r) return {};
      KW_ASSIGN_OR_RETURN(done, ExpireIfOverdue(tx, ctx, *r));
      return {};
    });
    if (!s) {
      spdlog::warn("recovery: expiring a request failed ({})", s.error().code());
      continue;
    }
    if (done) ++expired;
  }
  return expired;
}

// Hits `key` when counting a failure; Peek otherwise.
Result<bool> AtLimit(store::Tx& tx, const std::string& key, int64_t now, int64_t max) {
  KW_ASSIGN_OR_RETURN(int64_t count, tx.PeekRateLimit(key, now, kWindow));
  return count >= max;
}

Status Hit(store::Tx& tx, const std::string& key, int64_t now) {
  return Discard(tx.HitRateLimit(key, now, kWindow));
}

// Approvals by admins who may still approve for this member (an admin
// demoted or removed since no longer counts towards the quorum).
Result<std::vector<core::RecoveryApproval>> EligibleApprovals(store::Tx& tx,
                                                              const core::RecoveryRequest& r,
                                                              const Target& target) {
  KW_ASSIGN_OR_RETURN(auto approvals, tx.ListApprovals(r.id));
  std::vector<core::RecoveryApproval> out;
  for (auto& a : approvals) {
    KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(r.org_id, a.admin_id));
    if (!member || member->status != core::MemberStatus::kActive) continue;
    KW_ASSIGN_OR_RETURN(Actor actor, ActorOf(*member));
    if (!CheckCanActOn(actor, target, MemberAction::kApproveRecovery)) continue;
    out.push_back(std::move(a));
  }
  return out;
}

// Who hears of a new request: the policy's notify list, else every active
// recovery admin the hierarchy lets approve for this member.
Result<std::vector<std::string>> NotifyList(store::Tx& tx, const core::Org& org,
                                            const protocol::RecoveryPolicy& policy,
                                            const Target& target, std::string_view skip) {
  if (!policy.notify.empty()) return policy.notify;
  std::vector<std::string> out;
  KW_ASSIGN_OR_RETURN(auto members, tx.ListMembers(org.id));
  for (const auto& m : members) {
    if (m.status != core::MemberStatus::kActive || m.account_id == skip) continue;
    KW_ASSIGN_OR_RETURN(Actor actor, ActorOf(m));
    if (!IsRecoveryAdmin(actor.role, actor.permissions)) continue;
    if (!CheckCanActOn(actor, target, MemberAction::kApproveRecovery)) continue;
    KW_ASSIGN_OR_RETURN(std::string email, EmailOf(tx, m.account_id));
    if (!email.empty()) out.push_back(std::move(email));
  }
  return out;
}

// The views of a page of requests in two queries whatever its size (their
// approvals, then the emails of their members and approving admins), not
// two per request and one per approval.
Result<std::vector<RequestView>> BuildViews(store::Tx& tx, std::vector<core::RecoveryRequest> rows,
                                            int quorum) {
  std::vector<RequestView> views;
  if (rows.empty()) return views;
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (const auto& r : rows) ids.push_back(r.id);
  KW_ASSIGN_OR_RETURN(auto approvals, tx.ListApprovalsOf(ids));
  std::vector<std::string> accounts;
  accounts.reserve(rows.size() + approvals.size());
  for (const auto& r : rows) accounts.push_back(r.account_id);
  for (const auto& a : approvals) accounts.push_back(a.admin_id);
  std::sort(accounts.begin(), accounts.end());
  accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
  KW_ASSIGN_OR_RETURN(auto emails, tx.AccountEmails(accounts));
  std::unordered_map<std::string, std::string> email_of(std::make_move_iterator(emails.begin()),
                                                        std::make_move_iterator(emails.end()));
  auto email = [&](const std::string& account_id) {
    auto it = email_of.find(account_id);
    return it == email_of.end() ? std::string() : it->second;
  };
  // Approvals come grouped by request id, oldest first within each.
  std::unordered_map<std::string, std::vector<RequestView::Approval>> approvals_of;
  for (const auto& a : approvals) {
    approvals_of[a.request_id].push_back({a.admin_id, email(a.admin_id), a.created_at});
  }
  views.reserve(rows.size());
  for (auto& r : rows) {
    RequestView view;
    view.email = email(r.account_id);
    if (auto it = approvals_of.find(r.id); it != approvals_of.end()) {
      view.approvals = std::move(it->second);
    }
    view.quorum = quorum;
    view.request = std::move(r);
    views.push_back(std::move(view));
  }
  return views;
}

Result<RequestView> BuildView(store::Tx& tx, core::RecoveryRequest r, int quorum) {
  std::vector<core::RecoveryRequest> one;
  one.push_back(std::move(r));
  KW_ASSIGN_OR_RETURN(auto views, BuildViews(tx, std::move(one), quorum));
  return std::move(views.front());
}

// The request `request_id` of the caller's organization, for a recovery
// admin.
struct AdminScope {
  OrgAccess access;
  protocol::RecoveryPolicy policy;
};

Result<AdminScope> LoadAdminScope(store::Tx& tx, std::string_view org_id,
                                  std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, account_id));
  if (!access.recovery_admin()) return Fail(NotRecoveryAdmin());
  KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(access.org));
  return AdminScope{std::move(access), std::move(policy)};
}

Result<core::RecoveryRequest> LoadRequest(store::Tx& tx, std::string_view org_id,
                                          std::string_view request_id) {
  KW_ASSIGN_OR_RETURN(auto r, tx.FindRequest(request_id));
  if (!r || r->org_id != org_id) return Fail(RequestNotFound());
  return std::move(*r);
}

Result<Target> TargetOfRequest(store::Tx& tx, const core::RecoveryRequest& r) {
  KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, r.org_id, r.account_id));
  return TargetOf(member);
}

// Before a recovery admin's decision on `r` (approve, decline): the
// hierarchy must let the caller take `action` on the request's member, and
// an overdue request is expired here (its email queued). The member
// as a target.
Result<Target> CheckDecisionOn(store::Tx& tx, const Context& ctx, const OrgAccess& access,
                               core::RecoveryRequest& r, MemberAction action) {
  KW_ASSIGN_OR_RETURN(Target target, TargetOfRequest(tx, r));
  KW_TRY(CheckCanActOn(access.actor(), target, action));
  KW_TRY(ExpireIfOverdue(tx, ctx, r));
  return target;
}

}  // namespace

// The escrow the request recovers: still the member's current one.
Result<core::Escrow> RequestEscrow(store::Tx& tx, const core::RecoveryRequest& r) {
  KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(r.org_id, r.account_id));
  if (!escrow || escrow->epoch != r.epoch) return Fail(EscrowChanged());
  return std::move(*escrow);
}

namespace {

// The organization of the member's most recent enrollment (active
// membership with an escrow); nullopt when enrolled nowhere.
Result<std::optional<core::Escrow>> LatestEnrollment(store::Tx& tx, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto escrows, tx.ListEscrowsOfAccount(account_id));
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  std::optional<core::Escrow> best;
  for (auto& e : escrows) {
    bool active = std::any_of(memberships.begin(), memberships.end(), [&](const auto& m) {
      return m.org_id == e.org_id && m.status == core::MemberStatus::kActive;
    });
    if (!active) continue;
    if (!best || e.created_at > best->created_at ||
        (e.created_at == best->created_at && e.org_id > best->org_id)) {
      best = std::move(e);
    }
  }
  return best;
}

}  // namespace

// Typed as a command-line argument (keyward recovery show ID): never
// starting with '-'.
std::string NewRequestId() { return crypto::RandomArgSafeId(16); }

namespace {}  // namespace

Result<RedeemMaterial::Org> RedeemOrgOf(store::Tx& tx, const core::Org& org, uint64_t last_epoch) {
  RedeemMaterial::Org o;
  o.org_id = org.id;
  o.name = org.name;
  o.last_epoch = last_epoch;
  o.key_version = org.key_version;
  o.recovery_public_key = org.recovery_public_key;
  KW_ASSIGN_OR_RETURN(o.statements, tx.ListStatements(org.id, 0));
  return o;
}

namespace {

// The member's escrowed organizations, for redemption.
Result<std::vector<RedeemMaterial::Org>> EnrolledOrgs(store::Tx& tx, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto escrows, tx.ListEscrowsOfAccount(account_id));
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  std::vector<RedeemMaterial::Org> out;
  for (const auto& m : memberships) {
    if (m.status != core::MemberStatus::kActive) continue;
    bool has_escrow = std::any_of(escrows.begin(), escrows.end(),
                                  [&](const core::Escrow& e) { return e.org_id == m.org_id; });
    if (!has_escrow) continue;
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(m.org_id));
    if (!org) return Fail(Internal());
    KW_ASSIGN_OR_RETURN(auto o, RedeemOrgOf(tx, *org, m.last_epoch));
    out.push_back(std::move(o));
  }
  return out;
}

// 1-500 characters (code points) of UTF-8 (the JSON decoder checked it)
// without control characters, so it reads as one line in the email.
// Returns the number of characters.
Result<size_t> ReasonLength(std::string_view reason) {
  size_t chars = 0;
  for (unsigned char c : reason) {
    if (c < 0x20 || c == 0x7f) return Fail(InvalidField("reason"));
    if ((c & 0xc0) != 0x80) ++chars;
  }
  if (chars < 1 || chars > kDeclineReasonMaxChars) return Fail(InvalidField("reason"));
  return chars;
}

}  // namespace

store::Bytes TokenHash(const Context& ctx, const crypto::GenericKey& token) {
  return crypto::Hash(ctx.keys.token_key.span(), token.span());
}

namespace {

// The ticket row is found by H(token key, ticket); its code_hash binds the
// request id (the row's challenge) to the ticket.
std::string TicketSubject(const Context& ctx, const crypto::GenericKey& ticket) {
  return crypto::Base64UrlEncode(crypto::Hash(ctx.keys.token_key.span(), ticket.span()));
}

store::Bytes TicketHash(const Context& ctx, std::span<const uint8_t> request_id,
                        const crypto::GenericKey& ticket) {
  store::Bytes message(request_id.begin(), request_id.end());
  message.insert(message.end(), ticket.span().begin(), ticket.span().end());
  return crypto::Hash(ctx.keys.code_key.span(), message);
}

std::string TokenRequestKey(std::string_view request_id) {
  return "redeem-token:req:" + std::string(request_id);
}
std::string TokenAddressKey(std::string_view address) {
  return "redeem-token:addr:" + std::string(address);
}
std::string CodeRequestKey(std::string_view request_id) {
  return "redeem-code:req:" + std::string(request_id);
}
std::string CodeAddressKey(std::string_view address) {
  return "redeem-code:addr:" + std::string(address);
}

// Issue 10, item 6: wrong codes and wrong link tokens are logged in the
// organization's event log, never with the code or token. Whether there is
// an account or a request to log for is found after the answer (Deferred),
// so the answer does the same store work for every email and request id.
void LogAfterAnswer(const Context& ctx, std::function<Status(store::Tx&)> work) {
  ctx.deferred.Post([&ctx, work = std::move(work)] {
    if (auto s = ctx.store.Transact(work); !s) {
      spdlog::warn("events: could not log a rejected code or token ({})", s.error().code());
    }
  });
}

// A wrong code for the recovery request of `email`: logged in the
// organization the request would go to (the member's latest enrollment).
void LogRejectedRequestCode(const Context& ctx, std::string email, std::string address) {
  LogAfterAnswer(
      ctx, [&ctx, email = std::move(email), address = std::move(address)](store::Tx& tx) -> Status {
        KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
        if (!account || !account->verified) return {};
        KW_ASSIGN_OR_RETURN(auto escrow, LatestEnrollment(tx, account->id));
        if (!escrow) return {};
        EventSpec event;
        event.org_id = escrow->org_id;
        event.type = "recovery.code_rejected";
        event.target_id = account->id;
        event.details = {{"step", "request"}, {"remote_address", address}};
        return AppendOrgEvent(tx, ctx.clock, std::move(event));
      });
}

}  // namespace

// A wrong token for `request_id`: logged when that request exists.
void LogRejectedToken(const Context& ctx, std::string request_id, std::string address) {
  LogAfterAnswer(ctx,
                 [&ctx, request_id = std::move(request_id),
                  address = std::move(address)](store::Tx& tx) -> Status {
                   KW_ASSIGN_OR_RETURN(auto r, tx.FindRequest(request_id));
                   if (!r) return {};
                   EventSpec event = RequestEvent(*r, "recovery.link_rejected", "");
                   event.details["remote_address"] = address;
                   return AppendOrgEvent(tx, ctx.clock, std::move(event));
                 });
}

// The approved request behind (request_id, token), counting wrong tokens.
// Sets `late` (and returns nullopt) when the caller must answer an error
// after committing what was counted.
Result<std::optional<core::RecoveryRequest>> RequestByToken(
    store::Tx& tx, const Context& ctx, std::string_view request_id, const crypto::GenericKey& token,
    std::string_view address, std::optional<Error>& late, bool& wrong_token, bool device_claim) {
  const int64_t now = ctx.clock.NowUnix();
  KW_ASSIGN_OR_RETURN(bool by_address,
                      AtLimit(tx, TokenAddressKey(address), now, kWrongTokensPerAddress));
  if (by_address) {
    late = RateLimited();
    return std::nullopt;
  }
  // The lookup is by H(token key, T): comparing hashes in an index reveals
  // nothing usable about T.
  KW_ASSIGN_OR_RETURN(auto r, tx.FindRequestByTokenHash(TokenHash(ctx, token)));
  // A device request's claim is no link token, nor the other way round.
  if (!r || r->id != request_id || (r->kind == core::RequestKind::kDevice) != device_claim) {
    // Wrong tokens for one request are capped too, but the cap never
    // refuses the right token: T is 32 random bytes, so the cap guards
    // nothing a guesser could reach, and anyone who knows the request id
    // could otherwise lock the member out of their own link.
    KW_ASSIGN_OR_RETURN(bool by_request,
                        AtLimit(tx, TokenRequestKey(request_id), now, kWrongTokensPerRequest));
    if (!by_request) KW_TRY(Hit(tx, TokenRequestKey(request_id), now));
    KW_TRY(Hit(tx, TokenAddressKey(address), now));
    late = by_request ? RateLimited() : LinkInvalid();
    wrong_token = true;
    return std::nullopt;
  }
  return r;
}

namespace {

// A new code for the member's ask, stored hashed under (email, asking
// address). The challenge binds the intent and the device name into the
// code's hash: 16 random bytes, 's' or 'c', the device name.
Result<std::string> PutRequestCode(store::Tx& tx, const Context& ctx, std::string_view email,
                                   const RecoveryAsk& ask, const std::string& account_id,
                                   int64_t now) {
  std::string code = crypto::RandomDigits(6);
  core::EmailCode row;
  row.purpose = kRecoveryCodePurpose;
  row.subject = RecoveryCodeSubject(email, ask.remote_address);
  row.account_id = account_id;
  row.challenge = crypto::RandomBytes(kChallengeRandom);
  // 's' ‖ device name | 'c' ‖ device name | 'r' ‖ len ‖ snapshot id ‖ device name
  if (ask.intent == RecoveryIntent::kCancel) {
    row.challenge.push_back(kCancelByte);
  } else if (ask.kind == core::RequestKind::kRestore) {
    row.challenge.push_back(kRestoreByte);
    row.challenge.push_back(static_cast<uint8_t>(ask.snapshot_id.size()));
    row.challenge.insert(row.challenge.end(), ask.snapshot_id.begin(), ask.snapshot_id.end());
  } else {
    row.challenge.push_back(kSubmitByte);
  }
  row.challenge.insert(row.challenge.end(), ask.device_name.begin(), ask.device_name.end());
  row.code_hash = HashEmailCode(ctx, row.challenge, code);
  row.expires_at = now + ctx.config.code_ttl_seconds;
  row.created_at = now;
  KW_TRY(tx.PutEmailCode(row));
  return code;
}

// The code the member asked for from `remote_address` (wrong guesses from
// elsewhere never reach it), checked against `code` and marked used. A
// blocked address, or a wrong, expired or spent code, sets `late` (and
// `wrong_code` for a code) and gives nullopt; the wrong try is counted and
// the caller commits.
Result<std::optional<core::EmailCode>> UseRequestCode(store::Tx& tx, const Context& ctx,
                                                      std::string_view email, std::string_view code,
                                                      std::string_view remote_address, int64_t now,
                                                      std::optional<Error>& late,
                                                      bool& wrong_code) {
  const std::string address_key = "recovery-confirm:addr:" + std::string(remote_address);
  KW_ASSIGN_OR_RETURN(bool blocked, AtLimit(tx, address_key, now, kWrongConfirmsPerAddress));
  if (blocked) {
    late = RateLimited();
    return std::nullopt;
  }
  KW_ASSIGN_OR_RETURN(
      auto row, tx.FindEmailCode(kRecoveryCodePurpose, RecoveryCodeSubject(email, remote_address)));
  if (!row || row->used || row->expires_at <= now ||
      row->attempts >= ctx.config.code_max_attempts || row->challenge.size() <= kChallengeRandom) {
    late = InvalidCode();
    wrong_code = true;
    KW_TRY(Hit(tx, address_key, now));
    return std::nullopt;
  }
  if (!crypto::ConstantTimeEqual(HashEmailCode(ctx, row->challenge, code), row->code_hash)) {
    ++row->attempts;
    late = InvalidCode();
    wrong_code = true;
    KW_TRY(Hit(tx, address_key, now));
    KW_TRY(tx.UpdateEmailCode(*row));
    return std::nullopt;
  }
  row->used = true;
  KW_TRY(tx.UpdateEmailCode(*row));
  return row;
}

// The member's cancel: their open request, if the state machine lets it
// go, becomes Cancelled, with its event. A refusal sets `late` (the used
// code and any expiry stand).
Status CancelOpenRequest(store::Tx& tx, const Context& ctx,
                         std::optional<core::RecoveryRequest>& open, const std::string& account_id,
                         int64_t now, std::optional<Error>& late) {
  std::optional<RequestStatus> current;
  if (open) current = open->status;
  auto next = NextRequestStatus(current, RequestAction::kCancel);
  if (!next) {
    late = next.error();
    return {};
  }
  const RequestStatus was = open->status;
  open->status = *next;
  open->decline_reason = std::string(kCancelReason);
  open->decided_at = now;
  open->decided_by = account_id;
  KW_TRY(UpdateFrom(tx, *open, was, StateError({}, RequestAction::kCancel)));
  EventSpec event = RequestEvent(*open, "recovery.cancelled", account_id);
  event.details["was"] = std::string(RequestStatusName(was));
  return AppendOrgEvent(tx, ctx.clock, std::move(event));
}

// The member's submit: a new Pending request in the organization of their
// latest enrollment (a restore: of `snapshot_id`, else their newest
// snapshot), its event, and emails to the admins who may approve. A
// refusal (an open request, no enrollment, no snapshot) sets `late` and
// gives an empty SubmittedRequest.
Result<SubmittedRequest> SubmitRequest(store::Tx& tx, const Context& ctx,
                                       const std::optional<core::RecoveryRequest>& open,
                                       const core::Account& account, const std::string& device_name,
                                       core::RequestKind kind, const std::string& snapshot_id,
                                       std::string_view remote_address, int64_t now,
                                       std::optional<Error>& late) {
  std::optional<RequestStatus> current;
  if (open) current = open->status;
  if (auto next = NextRequestStatus(current, RequestAction::kSubmit); !next) {
    late = next.error();
    return SubmittedRequest{};
  }
  KW_ASSIGN_OR_RETURN(auto escrow, LatestEnrollment(tx, account.id));
  if (!escrow) {
    late = NotEnrolled();
    return SubmittedRequest{};
  }
  std::optional<core::Snapshot> snapshot;
  if (kind == core::RequestKind::kRestore) {
    if (snapshot_id.empty()) {
      KW_ASSIGN_OR_RETURN(auto mine, tx.ListSnapshots(account.id));
      for (auto& s : mine) {
        if (s.state == core::SnapshotState::kReady) {
          snapshot = std::move(s);
          break;
        }
      }
    } else {
      KW_ASSIGN_OR_RETURN(snapshot, tx.FindSnapshot(snapshot_id));
    }
    if (!snapshot || snapshot->account_id != account.id ||
        snapshot->state != core::SnapshotState::kReady) {
      late = SnapshotNotFound();
      return SubmittedRequest{};
    }
  }
  KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(escrow->org_id));
  if (!org) return Fail(Internal());
  KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(*org));
  core::RecoveryRequest r;
  r.id = NewRequestId();
  r.org_id = org->id;
  r.account_id = account.id;
  r.status = RequestStatus::kPending;
  r.epoch = escrow->epoch;
  r.device_name = device_name;
  r.remote_address = std::string(remote_address);
  r.created_at = now;
  r.expires_at = now + policy.pending_ttl;
  r.kind = kind;
  if (snapshot) r.snapshot_id = snapshot->id;
  KW_TRY(InsertSubmittedRequest(tx, ctx, r, *org, policy, account.email,
                                snapshot ? snapshot->created_at : 0));
  return SubmittedRequest{r.id, org->name, r.expires_at};
}

// The live redeem code emailed for `r`, when `code` matches it. A wrong
// code (or none live) counts against the request and the address, is
// logged in the organization's event log (the token was right, so the
// request exists: logged right here), sets `late` and gives nullopt.
Result<std::optional<core::EmailCode>> CheckRedeemCode(store::Tx& tx, const Context& ctx,
                                                       const core::RecoveryRequest& r,
                                                       std::string_view code,
                                                       std::string_view remote_address, int64_t now,
                                                       std::optional<Error>& late) {
  KW_ASSIGN_OR_RETURN(auto row, tx.FindEmailCode(kRedeemCodePurpose, r.id));
  const bool live =
      row && !row->used && row->expires_at > now && row->attempts < ctx.config.code_max_attempts;
  if (live && crypto::ConstantTimeEqual(HashEmailCode(ctx, row->challenge, code), row->code_hash)) {
    return row;
  }
  if (live) {
    ++row->attempts;
    KW_TRY(tx.UpdateEmailCode(*row));
  }
  KW_TRY(Hit(tx, CodeRequestKey(r.id), now));
  KW_TRY(Hit(tx, CodeAddressKey(remote_address), now));
  late = InvalidCode();
  EventSpec event = RequestEvent(r, "recovery.code_rejected", "");
  event.details["step"] = "redeem";
  event.details["remote_address"] = std::string(remote_address);
  KW_TRY(AppendOrgEvent(tx, ctx.clock, std::move(event)));
  return std::nullopt;
}

// The completion ticket of `r`: found by H(token key, ticket), its hash
// binding the request id; valid kTicketTtlSeconds, and never past the link's
// deadline (r.expires_at), so a live ticket always finds its request open:
// whether the member finishes never depends on when the sweeper ran
// (docs/model.md, "Findings").
Result<core::EmailCode> PutRedeemTicket(store::Tx& tx, const Context& ctx,
                                        const core::RecoveryRequest& r,
                                        const crypto::GenericKey& ticket_key, int64_t now) {
  core::EmailCode ticket;
  ticket.purpose = kRedeemTicketPurpose;
  ticket.subject = TicketSubject(ctx, ticket_key);
  ticket.account_id = r.account_id;
  ticket.challenge.assign(r.id.begin(), r.id.end());
  ticket.code_hash = TicketHash(ctx, ticket.challenge, ticket_key);
  ticket.expires_at = std::min(now + kTicketTtlSeconds, r.expires_at);
  ticket.created_at = now;
  KW_TRY(tx.PutEmailCode(ticket));
  return ticket;
}

}  // namespace

Status CancelOpenRequestInTx(store::Tx& tx, const Context& ctx, const std::string& account_id,
                             int64_t now) {
  KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest(account_id));
  if (!open) return {};
  std::optional<Error> refused;  // a request the state machine keeps stays as it is
  return CancelOpenRequest(tx, ctx, open, account_id, now, refused);
}

Status InsertSubmittedRequest(store::Tx& tx, const Context& ctx, const core::RecoveryRequest& r,
                              const core::Org& org, const protocol::RecoveryPolicy& policy,
                              std::string_view member_email, int64_t snapshot_created_at) {
  KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest(r.account_id));
  if (open) KW_TRY(ExpireIfOverdue(tx, ctx, *open));
  if (auto s = tx.InsertRequest(r); !s) {
    // Another submission won the race for the one open request.
    if (store::IsCode(s.error(), "store.conflict")) {
      return Fail(StateError(RequestStatus::kPending, RequestAction::kSubmit));
    }
    return Fail(s.error());
  }
  EventSpec event = RequestEvent(r, "recovery.requested", r.account_id, r.device_id);
  event.details["epoch"] = Decimal(r.epoch);
  event.details["initiated_by"] = "member";
  KW_TRY(AppendOrgEvent(tx, ctx.clock, std::move(event)));
  KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, org.id, r.account_id));
  KW_ASSIGN_OR_RETURN(Target target, TargetOf(member));
  KW_ASSIGN_OR_RETURN(auto admins, NotifyList(tx, org, policy, target, ""));
  for (const auto& to : admins) {
    if (r.kind == core::RequestKind::kDevice) {
      KW_TRY(ctx.mail.Enqueue(
          tx, notices::DeviceRequested(to, org.name, member_email, r.created_at, r.device_name,
                                       r.remote_address, crypto::Fingerprint(r.device_key))));
    } else if (r.kind == core::RequestKind::kRestore) {
      KW_TRY(ctx.mail.Enqueue(
          tx, notices::RestoreRequested(to, org.name, member_email, r.created_at, r.device_name,
                                        r.remote_address, snapshot_created_at)));
    } else {
      KW_TRY(
          ctx.mail.Enqueue(tx, notices::RecoveryRequested(to, org.name, member_email, r.created_at,
                                                          r.device_name, r.remote_address, false)));
    }
  }
  return {};
}

Result<RequestView> BuildRequestView(store::Tx& tx, core::RecoveryRequest r, int quorum) {
  return BuildView(tx, std::move(r), quorum);
}

namespace {

// The live, unused ticket row for `ticket`, else nullopt.
Result<std::optional<core::EmailCode>> LiveTicket(store::Tx& tx, const Context& ctx,
                                                  const crypto::GenericKey& ticket, int64_t now) {
  KW_ASSIGN_OR_RETURN(auto row, tx.FindEmailCode(kRedeemTicketPurpose, TicketSubject(ctx, ticket)));
  if (!row || row->used || row->expires_at <= now ||
      !crypto::ConstantTimeEqual(TicketHash(ctx, row->challenge, ticket), row->code_hash)) {
    return std::optional<core::EmailCode>();
  }
  return row;
}

}  // namespace

Result<std::optional<core::RecoveryRequest>> RestoreOfTicketInTx(store::Tx& tx, const Context& ctx,
                                                                 const crypto::GenericKey& ticket,
                                                                 std::string_view remote_address,
                                                                 std::optional<Error>& late) {
  const int64_t now = ctx.clock.NowUnix();
  const std::string address_key = TokenAddressKey(remote_address);
  KW_ASSIGN_OR_RETURN(bool limited, AtLimit(tx, address_key, now, kWrongTokensPerAddress));
  if (limited) return Fail(RateLimited());
  KW_ASSIGN_OR_RETURN(auto row, LiveTicket(tx, ctx, ticket, now));
  std::optional<core::RecoveryRequest> r;
  if (row) {
    const std::string request_id(row->challenge.begin(), row->challenge.end());
    KW_ASSIGN_OR_RETURN(r, tx.FindRequest(request_id));
    if (r && (r->account_id != row->account_id || r->kind != core::RequestKind::kRestore ||
              r->status != RequestStatus::kApproved)) {
      r.reset();
    }
  }
  if (!r) {
    KW_TRY(Hit(tx, address_key, now));
    late = InvalidTicket();
  }
  return r;
}

// ---- the member asks ----

std::string RecoveryCodeSubject(std::string_view email, std::string_view remote_address) {
  // An email holds no space, so the pair reads back unambiguously.
  return std::string(email) + " " + std::string(remote_address);
}

Status RecoveryRequestService::Ask(const RecoveryAsk& ask) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(ask.email));
  if (!ask.device_name.empty() && !IsValidLabel(ask.device_name)) {
    return Fail(InvalidField("device_name"));
  }
  if (ask.kind == core::RequestKind::kRestore &&
      (ask.intent != RecoveryIntent::kSubmit ||
       (!ask.snapshot_id.empty() && !IsValidClientId(ask.snapshot_id)))) {
    return Fail(InvalidField("snapshot_id"));
  }
  const int64_t now = ctx_.clock.NowUnix();
  bool limited = false;
  int64_t retry_at = 0;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    limited = false;
    retry_at = 0;
    KW_ASSIGN_OR_RETURN(int64_t asks,
                        tx.HitRateLimit("recovery-ask:addr:" + ask.remote_address, now, kWindow));
    if (asks > kAsksPerAddress) {
      limited = true;
      return {};
    }
    // The same reads and writes whether or not the account exists.
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
    const std::string account_id = account && account->verified ? account->id : std::string();
    KW_ASSIGN_OR_RETURN(auto enrolled, LatestEnrollment(tx, account_id));
    KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest(account_id));
    KW_ASSIGN_OR_RETURN(retry_at, credentials_.SpendCodeAllowance(tx, "recovery-mail:", email,
                                                                  ask.remote_address, now));
    if (retry_at != 0) return {};
    KW_ASSIGN_OR_RETURN(std::string code, PutRequestCode(tx, ctx_, email, ask, account_id, now));
    // One queued row whether or not the account exists (a decoy when it
    // does not); the answer never waits for mail (core/mail_queue.h).
    if (account_id.empty()) return ctx_.mail.EnqueueDecoy(tx);
    if (enrolled || open) {
      return ctx_.mail.Enqueue(
          tx, notices::RecoveryRequestCode(email, code, ctx_.config.code_ttl_seconds / 60,
                                           ask.intent == RecoveryIntent::kCancel));
    }
    return ctx_.mail.Enqueue(tx, notices::RecoveryNotPossible(email, ctx_.config.public_url));
  }));
  if (limited) return Fail(RateLimited());
  // The same for every email, known or not: the counting behind it is.
  if (retry_at != 0) return Fail(CodeLimit("recovery.code_limit", retry_at, now));
  return {};
}

Result<ConfirmOutcome> RecoveryRequestService::Confirm(std::string_view raw_email,
                                                       std::string_view code,
                                                       std::string_view remote_address) {
  auto email = NormalizeEmail(raw_email);
  if (!email) return Fail(InvalidCode());
  const int64_t now = ctx_.clock.NowUnix();
  ConfirmOutcome outcome;
  std::optional<Error> late;
  bool wrong_code = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    outcome = {};
    late.reset();
    wrong_code = false;
    KW_ASSIGN_OR_RETURN(
        auto row, UseRequestCode(tx, ctx_, *email, code, remote_address, now, late, wrong_code));
    if (!row) return {};
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(row->account_id));
    if (row->account_id.empty() || !account) {
      late = InvalidCode();
      return {};
    }
    const uint8_t intent = row->challenge[kChallengeRandom];
    const bool cancel = intent == kCancelByte;
    core::RequestKind kind = core::RequestKind::kRecovery;
    std::string snapshot_id;
    size_t name_at = kChallengeRandom + 1;
    if (intent == kRestoreByte) {
      kind = core::RequestKind::kRestore;
      const size_t len = row->challenge.size() > name_at ? row->challenge[name_at] : 0;
      if (row->challenge.size() < name_at + 1 + len) return Fail(Internal());
      snapshot_id.assign(row->challenge.begin() + static_cast<std::ptrdiff_t>(name_at) + 1,
                         row->challenge.begin() + static_cast<std::ptrdiff_t>(name_at + 1 + len));
      name_at += 1 + len;
    }
    const std::string device_name(row->challenge.begin() + static_cast<std::ptrdiff_t>(name_at),
                                  row->challenge.end());
    outcome.intent = cancel ? RecoveryIntent::kCancel : RecoveryIntent::kSubmit;

    KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest(account->id));
    if (open) KW_TRY(ExpireIfOverdue(tx, ctx_, *open));
    if (cancel) return CancelOpenRequest(tx, ctx_, open, account->id, now, late);
    KW_ASSIGN_OR_RETURN(outcome.submitted,
                        SubmitRequest(tx, ctx_, open, *account, device_name, kind, snapshot_id,
                                      remote_address, now, late));
    return {};
  }));
  if (wrong_code) LogRejectedRequestCode(ctx_, *email, std::string(remote_address));
  if (late) return Fail(std::move(*late));
  return outcome;
}

// ---- recovery admins ----

Result<RequestPage> RecoveryRequestService::List(const Caller& caller, std::string_view org_id,
                                                 std::optional<RequestStatus> status,
                                                 const std::optional<store::RequestCursor>& after,
                                                 int64_t limit, std::string_view email) {
  limit = std::clamp<int64_t>(limit, 1, kRequestPageMax);
  std::optional<std::string> address;
  if (!email.empty()) {
    KW_ASSIGN_OR_RETURN(address, NormalizeEmail(email));
  }
  RequestPage page;
  std::vector<std::string> overdue;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    page = {};
    overdue.clear();
    KW_ASSIGN_OR_RETURN(AdminScope scope, LoadAdminScope(tx, org_id, caller.account_id));
    std::vector<RecoveryRequest> rows;
    if (address) {
      KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(*address));
      if (!account) return {};
      KW_ASSIGN_OR_RETURN(
          rows, tx.ListAccountRequests(scope.access.org.id, account->id, status, after, limit + 1));
    } else {
      KW_ASSIGN_OR_RETURN(rows, tx.ListRequests(scope.access.org.id, status, after, limit + 1));
    }
    if (static_cast<int64_t>(rows.size()) > limit) {
      rows.resize(static_cast<size_t>(limit));
      page.next_after = store::RequestCursor{rows.back().created_at, rows.back().id};
    }
    std::vector<RecoveryRequest> listed;
    listed.reserve(rows.size());
    for (auto& r : rows) {
      KW_ASSIGN_OR_RETURN(bool late, ShowExpiredIfOverdue(ctx_, r));
      if (late) overdue.push_back(r.id);
      if (status && r.status != *status) continue;  // expired while listed
      listed.push_back(std::move(r));
    }
    KW_ASSIGN_OR_RETURN(page.requests, BuildViews(tx, std::move(listed), scope.policy.quorum));
    return {};
  }));
  ExpireEach(ctx_, overdue);
  return page;
}

Result<store::RequestCounts> RecoveryRequestService::Counts(const Caller& caller,
                                                            std::string_view org_id) {
  store::RequestCounts counts;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(AdminScope scope, LoadAdminScope(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(counts, tx.CountRequestsByStatus(scope.access.org.id));
    return {};
  }));
  return counts;
}

Result<RequestView> RecoveryRequestService::Show(const Caller& caller, std::string_view org_id,
                                                 std::string_view request_id) {
  RequestView view;
  bool overdue = false;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(AdminScope scope, LoadAdminScope(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(auto r, LoadRequest(tx, scope.access.org.id, request_id));
    KW_ASSIGN_OR_RETURN(overdue, ShowExpiredIfOverdue(ctx_, r));
    KW_ASSIGN_OR_RETURN(view, BuildView(tx, std::move(r), scope.policy.quorum));
    const auto& req = view.request;
    if (req.status != RequestStatus::kPending) return {};
    KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(req.org_id, req.account_id));
    if (!member) return {};
    KW_ASSIGN_OR_RETURN(Target target, TargetOf(*member));
    if (!CheckCanActOn(scope.access.actor(), target, MemberAction::kApproveRecovery)) return {};
    bool approved_already =
        std::any_of(view.approvals.begin(), view.approvals.end(),
                    [&](const auto& a) { return a.admin_id == caller.account_id; });
    if (approved_already) return {};
    KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(req.org_id, req.account_id));
    if (escrow && escrow->epoch == req.epoch) {
      view.escrow = RequestView::Share{escrow->epoch, escrow->key_version, escrow->admin_share};
    }
    return {};
  }));
  if (overdue) ExpireEach(ctx_, {view.request.id});
  return view;
}

Result<RequestView> RecoveryRequestService::Approve(const Caller& caller, std::string_view org_id,
                                                    std::string_view request_id,
                                                    const ApprovalParts& parts) {
  const std::optional<LinkParts>& link = parts.link;
  if (link && (link->link_share.size() < kMinBlob || link->link_share.size() > kMaxKeyBlob)) {
    return Fail(InvalidField("link_share"));
  }
  if (!parts.device_share.empty() &&
      (parts.device_share.size() < kMinBlob || parts.device_share.size() > kMaxKeyBlob)) {
    return Fail(InvalidField("device_share"));
  }
  const store::Bytes token_hash = link ? TokenHash(ctx_, link->token) : store::Bytes();
  const int64_t now = ctx_.clock.NowUnix();
  RequestView view;
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(auto r, LoadRequest(tx, access.org.id, request_id));
    if (r.account_id == caller.account_id) {
      return Fail(Error::PermissionDenied(
          "org.self_action",
          "You cannot approve your own recovery request; another recovery admin must."));
    }
    // A restore asked for in a session rolls back at once: no link.
    const bool in_session = r.kind == core::RequestKind::kRestore && !r.device_id.empty();
    // A device request releases A to the device's key: DA, and no link.
    const bool device = r.kind == core::RequestKind::kDevice;
    if (device) {
      if (link) return Fail(InvalidField("token"));
      if (parts.device_share.empty()) return Fail(InvalidField("device_share"));
    } else {
      if (!parts.device_share.empty()) return Fail(InvalidField("device_share"));
      if (in_session == link.has_value()) {
        return Fail(InvalidField(in_session ? "token" : "link_share"));
      }
    }
    KW_ASSIGN_OR_RETURN(Target target,
                        CheckDecisionOn(tx, ctx_, access, r, MemberAction::kApproveRecovery));
    if (auto next = NextRequestStatus(r.status, RequestAction::kRecordApproval); !next) {
      late = next.error();  // committed: an expiry found here stands
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto eligible, EligibleApprovals(tx, r, target));
    for (const auto& a : eligible) {
      if (a.admin_id == caller.account_id) return Fail(AlreadyApproved());
    }
    if (!in_session) KW_TRY(RequestEscrow(tx, r));
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(access.org));
    if (auto s = tx.InsertApproval({r.id, caller.account_id, now}); !s) {
      if (store::IsCode(s.error(), "store.conflict")) return Fail(AlreadyApproved());
      return s;
    }
    const int64_t approvals = static_cast<int64_t>(eligible.size()) + 1;
    const bool final_approval = approvals >= policy.quorum;
    const RequestStatus was = r.status;
    KW_ASSIGN_OR_RETURN(r.status,
                        NextRequestStatus(was, final_approval ? RequestAction::kFinalApproval
                                                              : RequestAction::kRecordApproval));
    EventSpec event =
        RequestEvent(r, final_approval ? "recovery.approved" : "recovery.approval_recorded",
                     caller.account_id, caller.device_id);
    event.details["approvals"] = Decimal(static_cast<uint64_t>(approvals));
    event.details["quorum"] = Decimal(static_cast<uint64_t>(policy.quorum));
    if (final_approval) {
      if (link) {
        r.token_hash = token_hash;
        r.link_share = link->link_share;
      }
      if (device) r.link_share = parts.device_share;  // its claim's hash is kept
      r.expires_at = now + policy.link_ttl;
      r.decided_at = now;
      r.decided_by = caller.account_id;
    }
    // Written even for a recorded approval, so that of two racing approvals
    // exactly one commits against the status both read.
    if (auto s = UpdateFrom(tx, r, was, NotPending()); !s) {
      // The other conflict: T is another request's (a client that reused
      // it; a fresh random T never is).
      if (store::IsCode(s.error(), "store.conflict")) return Fail(InvalidField("token"));
      return s;
    }
    KW_TRY(AppendOrgEvent(tx, ctx_.clock, std::move(event)));
    int64_t unpaired = -1;
    if (final_approval && in_session) {
      // The rollback is part of the last approval: both or neither.
      KW_ASSIGN_OR_RETURN(unpaired, RollBackInTx(tx, ctx_, r, r.device_id, r.item_count));
      KW_ASSIGN_OR_RETURN(const RequestStatus used,
                          NextRequestStatus(r.status, RequestAction::kComplete));
      r.status = used;
      r.completed_at = now;
      KW_TRY(UpdateFrom(tx, r, RequestStatus::kApproved, NotPending()));
    }
    KW_ASSIGN_OR_RETURN(view, BuildView(tx, r, policy.quorum));
    if (final_approval && !view.email.empty()) {
      if (in_session) {
        KW_ASSIGN_OR_RETURN(auto snapshot, tx.FindSnapshot(r.snapshot_id));
        KW_TRY(ctx_.mail.Enqueue(
            tx,
            notices::RestoreDone(view.email, snapshot ? snapshot->created_at : 0, unpaired, now)));
      } else if (device) {
        KW_TRY(ctx_.mail.Enqueue(tx, notices::DeviceRequestApproved(view.email, access.org.name,
                                                                    r.device_name, r.expires_at)));
      } else if (r.kind == core::RequestKind::kRestore) {
        KW_TRY(ctx_.mail.Enqueue(
            tx, notices::RestoreApproved(view.email, access.org.name, r.expires_at)));
      } else {
        KW_TRY(ctx_.mail.Enqueue(
            tx, notices::RecoveryApproved(view.email, access.org.name, r.expires_at)));
      }
    }
    return {};
  }));
  if (late) return Fail(std::move(*late));
  return view;
}

Result<RequestView> RecoveryRequestService::Approve(const Caller& caller, std::string_view org_id,
                                                    std::string_view request_id,
                                                    const std::optional<LinkParts>& link) {
  ApprovalParts parts;
  if (link) parts.link = LinkParts{link->token.Clone(), link->link_share};
  return Approve(caller, org_id, request_id, parts);
}

Result<RequestView> RecoveryRequestService::Decline(const Caller& caller, std::string_view org_id,
                                                    std::string_view request_id,
                                                    std::string_view reason) {
  KW_ASSIGN_OR_RETURN(const size_t reason_length, ReasonLength(reason));
  const int64_t now = ctx_.clock.NowUnix();
  RequestView view;
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(auto r, LoadRequest(tx, access.org.id, request_id));
    KW_TRY(CheckDecisionOn(tx, ctx_, access, r, MemberAction::kDeclineRecovery));
    auto next = NextRequestStatus(r.status, RequestAction::kDecline);
    if (!next) {
      late = next.error();  // committed: an expiry found here stands
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(access.org));
    const RequestStatus was = r.status;
    r.status = *next;
    r.decline_reason = std::string(reason);
    r.decided_at = now;
    r.decided_by = caller.account_id;
    KW_TRY(UpdateFrom(tx, r, was, NotPending()));
    EventSpec event = RequestEvent(r, "recovery.declined", caller.account_id, caller.device_id);
    event.details["reason_length"] = Decimal(reason_length);
    KW_TRY(AppendOrgEvent(tx, ctx_.clock, std::move(event)));
    KW_ASSIGN_OR_RETURN(view, BuildView(tx, r, policy.quorum));
    if (!view.email.empty()) {
      KW_TRY(ctx_.mail.Enqueue(
          tx, r.kind == core::RequestKind::kRestore
                  ? notices::RestoreDeclined(view.email, access.org.name, reason, now)
                  : notices::RecoveryDeclined(view.email, access.org.name, reason, now)));
    }
    return {};
  }));
  if (late) return Fail(std::move(*late));
  return view;
}

Result<RequestView> RecoveryRequestService::Start(const Caller& caller, std::string_view org_id,
                                                  std::string_view member_id) {
  const int64_t now = ctx_.clock.NowUnix();
  RequestView view;
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(core::OrgMember member, LoadMember(tx, access.org.id, member_id));
    KW_ASSIGN_OR_RETURN(Target target, TargetOf(member));
    KW_TRY(CheckCanActOn(access.actor(), target, MemberAction::kStartRecovery));
    KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(access.org.id, member_id));
    if (!escrow) return Fail(NotEnrolled());
    KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest(member_id));
    if (open) KW_TRY(ExpireIfOverdue(tx, ctx_, *open));
    std::optional<RequestStatus> current;
    if (open) current = open->status;
    if (auto next = NextRequestStatus(current, RequestAction::kSubmit); !next) {
      late = next.error();
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(access.org));
    core::RecoveryRequest r;
    r.id = NewRequestId();
    r.org_id = access.org.id;
    r.account_id = std::string(member_id);
    r.status = RequestStatus::kPending;
    r.initiated_by = caller.account_id;
    r.epoch = escrow->epoch;
    r.remote_address = caller.remote_address;
    r.created_at = now;
    r.expires_at = now + policy.pending_ttl;
    if (auto s = tx.InsertRequest(r); !s) {
      if (store::IsCode(s.error(), "store.conflict")) {
        return Fail(StateError(RequestStatus::kPending, RequestAction::kSubmit));
      }
      return s;
    }
    EventSpec event = RequestEvent(r, "recovery.requested", caller.account_id, caller.device_id);
    event.details["epoch"] = Decimal(r.epoch);
    event.details["initiated_by"] = "admin";
    KW_TRY(AppendOrgEvent(tx, ctx_.clock, std::move(event)));
    KW_ASSIGN_OR_RETURN(view, BuildView(tx, r, policy.quorum));
    KW_ASSIGN_OR_RETURN(auto admins, NotifyList(tx, access.org, policy, target, caller.account_id));
    for (const auto& to : admins) {
      KW_TRY(ctx_.mail.Enqueue(tx, notices::RecoveryRequested(to, access.org.name, view.email, now,
                                                              "", caller.remote_address, true)));
    }
    return {};
  }));
  if (late) return Fail(std::move(*late));
  return view;
}

// ---- the member redeems the link ----

Status RecoveryRequestService::RedeemStart(std::string_view request_id,
                                           const crypto::GenericKey& token,
                                           std::string_view remote_address) {
  const int64_t now = ctx_.clock.NowUnix();
  std::optional<Error> late;
  bool wrong_token = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    wrong_token = false;
    KW_ASSIGN_OR_RETURN(
        auto r, RequestByToken(tx, ctx_, request_id, token, remote_address, late, wrong_token,
                               /*device_claim=*/false));
    if (!r) return {};
    KW_TRY(ExpireIfOverdue(tx, ctx_, *r));
    if (auto next = NextRequestStatus(r->status, RequestAction::kRedeemStart); !next) {
      late = next.error();
      return {};
    }
    KW_ASSIGN_OR_RETURN(int64_t codes, tx.HitRateLimit("redeem-mail:req:" + r->id, now, kWindow));
    if (codes > kRedeemCodesPerRequest) {
      late = RateLimited();
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(r->account_id));
    if (!account) return Fail(LinkInvalid());
    const std::string code = crypto::RandomDigits(6);
    core::EmailCode row;
    row.purpose = kRedeemCodePurpose;
    row.subject = r->id;
    row.account_id = r->account_id;
    row.challenge = crypto::RandomBytes(kChallengeRandom);
    row.code_hash = HashEmailCode(ctx_, row.challenge, code);
    row.expires_at = now + ctx_.config.code_ttl_seconds;
    row.created_at = now;
    KW_TRY(tx.PutEmailCode(row));
    KW_TRY(
        AppendOrgEvent(tx, ctx_.clock, RequestEvent(*r, "recovery.redeem_started", r->account_id)));
    // Queued with the code: if mail is down, the member gets it once it is
    // back (the queue retries), or asks again for a fresh one.
    return ctx_.mail.Enqueue(
        tx, notices::RecoveryRedeemCode(account->email, code, ctx_.config.code_ttl_seconds / 60));
  }));
  if (wrong_token) LogRejectedToken(ctx_, std::string(request_id), std::string(remote_address));
  if (late) return Fail(std::move(*late));
  return {};
}

Result<RedeemMaterial> RecoveryRequestService::RedeemVerify(std::string_view request_id,
                                                            const crypto::GenericKey& token,
                                                            std::string_view code,
                                                            std::string_view remote_address) {
  const int64_t now = ctx_.clock.NowUnix();
  RedeemMaterial material;
  std::optional<Error> late;
  bool wrong_token = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    wrong_token = false;
    KW_ASSIGN_OR_RETURN(bool codes_by_request,
                        AtLimit(tx, CodeRequestKey(request_id), now, kWrongCodesPerRequest));
    KW_ASSIGN_OR_RETURN(bool codes_by_address,
                        AtLimit(tx, CodeAddressKey(remote_address), now, kWrongCodesPerAddress));
    if (codes_by_request || codes_by_address) {
      late = RateLimited();
      return {};
    }
    KW_ASSIGN_OR_RETURN(
        auto r, RequestByToken(tx, ctx_, request_id, token, remote_address, late, wrong_token,
                               /*device_claim=*/false));
    if (!r) return {};
    KW_TRY(ExpireIfOverdue(tx, ctx_, *r));
    if (auto next = NextRequestStatus(r->status, RequestAction::kRedeemVerify); !next) {
      late = next.error();
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto row, CheckRedeemCode(tx, ctx_, *r, code, remote_address, now, late));
    if (!row) return {};
    if (!ctx_.config.recovery_key) return Fail(RecoveryKeyMissing());
    KW_ASSIGN_OR_RETURN(core::Escrow escrow, RequestEscrow(tx, *r));
    auto server_part = protocol::OpenServerShare(*ctx_.config.recovery_key, escrow.server_share,
                                                 r->org_id, r->account_id, escrow.epoch);
    // Checked when it was stored: the server's recovery key changed since.
    if (!server_part) return Fail(Internal());
    row->used = true;
    KW_TRY(tx.UpdateEmailCode(*row));
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(r->account_id));
    if (!account) return Fail(LinkInvalid());

    material.ticket = crypto::GenericKey::Random();
    KW_ASSIGN_OR_RETURN(core::EmailCode ticket,
                        PutRedeemTicket(tx, ctx_, *r, material.ticket, now));

    EventSpec event = RequestEvent(*r, "recovery.escrow_opened", r->account_id);
    event.details["epoch"] = Decimal(escrow.epoch);
    event.details["key_version"] = Decimal(escrow.key_version);
    KW_TRY(AppendOrgEvent(tx, ctx_.clock, std::move(event)));

    material.account_id = account->id;
    material.email = account->email;
    material.epoch = escrow.epoch;
    material.wrapped_vault_key = std::move(escrow.wrapped_vault_key);
    material.link_share = r->link_share;
    material.server_part = std::move(*server_part);
    material.ticket_expires_at = ticket.expires_at;
    material.kdf_minimum = ctx_.config.kdf_minimum;
    KW_ASSIGN_OR_RETURN(material.orgs, EnrolledOrgs(tx, account->id));
    material.kind = r->kind;
    if (r->kind == core::RequestKind::kRestore) {
      KW_ASSIGN_OR_RETURN(material.snapshot, tx.FindSnapshot(r->snapshot_id));
      if (!material.snapshot) return Fail(SnapshotNotFound());
    }
    return {};
  }));
  if (wrong_token) LogRejectedToken(ctx_, std::string(request_id), std::string(remote_address));
  if (late) return Fail(std::move(*late));
  return material;
}

Status RecoveryRequestService::Complete(const RecoveryCompletion& c) {
  KW_TRY(CheckKdf(c.new_kdf, ctx_.config.kdf_minimum));
  if (c.new_salt.size() != crypto::kSaltSize) return Fail(InvalidField("new_salt"));
  if (c.new_wrapped_vault_key.size() < kMinBlob || c.new_wrapped_vault_key.size() > kMaxKeyBlob) {
    return Fail(InvalidField("new_wrapped_vault_key"));
  }
  KW_TRY(CheckOneEscrowPerOrg(c.escrows));
  const store::Bytes verifier = credentials_.Verifier(c.new_auth_key);
  const int64_t now = ctx_.clock.NowUnix();
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    const std::string address_key = TokenAddressKey(c.remote_address);
    KW_ASSIGN_OR_RETURN(bool limited, AtLimit(tx, address_key, now, kWrongTokensPerAddress));
    if (limited) {
      late = RateLimited();
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto ticket, LiveTicket(tx, ctx_, c.ticket, now));
    if (!ticket) {
      KW_TRY(Hit(tx, address_key, now));
      late = InvalidTicket();
      return {};
    }
    const std::string request_id(ticket->challenge.begin(), ticket->challenge.end());
    KW_ASSIGN_OR_RETURN(auto r, tx.FindRequest(request_id));
    // A live ticket means the link's deadline has not passed (the ticket
    // ends with it at the latest), so the request is still Approved unless
    // it was used, declined or cancelled meanwhile.
    if (!r || r->account_id != ticket->account_id) return Fail(InvalidTicket());
    auto next = NextRequestStatus(r->status, RequestAction::kComplete);
    if (!next) return Fail(InvalidTicket());
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(r->account_id));
    if (!account) return Fail(InvalidTicket());
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(r->org_id));
    if (!org) return Fail(InvalidTicket());

    KW_TRY(
        ReplaceEnrolledEscrowsInTx(tx, ctx_, account->id, c.escrows, EscrowCoverage::kListedOnly));
    SetMasterPassword(*account, c.new_kdf, c.new_salt, verifier, c.new_wrapped_vault_key,
                      /*must_change=*/false);
    KW_TRY(tx.UpdateAccount(*account));  // two-step login untouched
    KW_TRY(tx.RevokeAccountSessions(account->id, {}));
    KW_TRY(DropTrustedDevices(tx, account->id));
    KW_TRY(credentials_.ClearFailures(tx, account->email));
    ticket->used = true;
    KW_TRY(tx.UpdateEmailCode(*ticket));

    int64_t unpaired = -1;
    if (r->kind == core::RequestKind::kRestore) {
      if (!c.restore_items) return Fail(InvalidField("restore_items"));
      KW_ASSIGN_OR_RETURN(unpaired, RollBackInTx(tx, ctx_, *r, "", *c.restore_items));
    }
    const RequestStatus was = r->status;
    r->status = *next;
    r->completed_at = now;
    KW_TRY(UpdateFrom(tx, *r, was, InvalidTicket()));
    if (unpaired >= 0) {
      KW_ASSIGN_OR_RETURN(auto snapshot, tx.FindSnapshot(r->snapshot_id));
      KW_TRY(ctx_.mail.Enqueue(
          tx, notices::RestoreDone(account->email, snapshot ? snapshot->created_at : 0, unpaired,
                                   now)));
    }
    EventSpec used = RequestEvent(*r, "recovery.link_used", account->id);
    used.details["epoch"] = Decimal(r->epoch);
    KW_TRY(AppendOrgEvent(tx, ctx_.clock, std::move(used)));
    KW_TRY(
        AppendOrgEvent(tx, ctx_.clock, RequestEvent(*r, "recovery.password_reset", account->id)));
    KW_TRY(ctx_.mail.Enqueue(tx, notices::PasswordResetByRecovery(account->email, org->name, now)));
    return {};
  }));
  if (late) return Fail(std::move(*late));
  return {};
}

// ---- the sweeper ----

Result<int64_t> SweepRecoveryRequests(const Context& ctx, int64_t limit) {
  const int64_t now = ctx.clock.NowUnix();
  std::vector<core::RecoveryRequest> overdue;
  KW_TRY(ctx.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(overdue, tx.ListExpiredOpenRequests(now, limit));
    return {};
  }));
  std::vector<std::string> ids;
  for (const auto& r : overdue) ids.push_back(r.id);
  return ExpireEach(ctx, ids);
}

}  // namespace keyward::core
