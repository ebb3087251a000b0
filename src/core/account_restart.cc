#include "core/account_restart.h"

#include "core/notices.h"
#include "core/org_access.h"
#include "core/recovery_requests.h"
#include "core/validation.h"
#include "core/vault.h"

namespace keyward::core {
namespace {

// Codes sent: Credentials::SpendCodeAllowance, as for the other emailed
// codes; wrong codes per address in the same windows.
constexpr int64_t kWindow = Credentials::kCodeWindow;
constexpr int64_t kWrongCodesPerAddress = 20;
constexpr size_t kChallengeSize = 16;
constexpr size_t kTicketSize = 32;

Error RateLimited() {
  return Error::RateLimited("request.rate_limited", "Too many requests; try again later.");
}
Error InvalidCode() {
  return Error::InvalidArgument("account.invalid_code",
                                "The code is wrong, expired or already used; ask for a new one.");
}
Error InvalidTicket() {
  return Error::InvalidArgument("account.invalid_ticket",
                                "This step expired or was already done; start again.");
}

std::string CodeSubject(const Credentials& credentials, std::string_view email,
                        std::string_view address) {
  return credentials.EmailKey("restart:", email) + ":" + std::string(address);
}

std::string TicketSubject(const Context& ctx, std::span<const uint8_t> ticket) {
  return crypto::HexEncode(crypto::Hash(ctx.keys.code_key.span(), ticket));
}

Result<bool> AtLimit(store::Tx& tx, const std::string& key, int64_t now, int64_t max) {
  KW_ASSIGN_OR_RETURN(int64_t count, tx.PeekRateLimit(key, now, kWindow));
  return count >= max;
}

// Everything of the old vault goes (cloud snapshots too); the account row itself is rewritten by
// the caller. Memberships stay.
Status DropOldVault(store::Tx& tx, const Context& ctx, const std::string& account_id, int64_t now) {
  KW_ASSIGN_OR_RETURN(auto items, tx.ListItems(account_id));
  for (const auto& item : items) KW_TRY(tx.DeleteItem(account_id, item.id));
  KW_ASSIGN_OR_RETURN(auto devices, tx.ListDevices(account_id));
  for (auto device : devices) {
    if (!device.active) continue;
    device.active = false;
    KW_TRY(tx.UpsertDevice(device));
  }
  KW_TRY(Discard(tx.RevokeAccountSessions(account_id, {})));
  KW_TRY(DropTrustedDevices(tx, account_id));
  KW_ASSIGN_OR_RETURN(auto escrows, tx.ListEscrowsOfAccount(account_id));
  for (const auto& e : escrows) KW_TRY(tx.DeleteEscrow(e.org_id, account_id));
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  for (const auto& m : memberships) KW_TRY(Discard(tx.DeleteMemberGrants(m.org_id, account_id)));
  KW_TRY(CancelOpenRequestInTx(tx, ctx, account_id, now));
  KW_TRY(Discard(tx.DeleteAccountSnapshots(account_id)));  // under the old vault key
  return Discard(tx.CloseOpenPairings(account_id, now));
}

}  // namespace

Status AccountRestartService::Ask(std::string_view raw_email, std::string_view remote_address) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(raw_email));
  const int64_t now = ctx_.clock.NowUnix();
  int64_t retry_at = 0;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(
        retry_at, credentials_.SpendCodeAllowance(tx, "restart-mail:", email, remote_address, now));
    if (retry_at != 0) return {};
    // The same reads and writes whether or not the account exists.
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
    const std::string code = crypto::RandomDigits(6);
    EmailCode row;
    row.purpose = kRestartCodePurpose;
    row.subject = CodeSubject(credentials_, email, remote_address);
    row.account_id = account && account->verified ? account->id : std::string();
    row.challenge = crypto::RandomBytes(kChallengeSize);
    row.code_hash = HashEmailCode(ctx_, row.challenge, code);
    row.expires_at = now + ctx_.config.code_ttl_seconds;
    row.created_at = now;
    KW_TRY(tx.PutEmailCode(row));
    // One queued row either way (a decoy for an unknown email).
    if (row.account_id.empty()) return ctx_.mail.EnqueueDecoy(tx);
    return ctx_.mail.Enqueue(tx,
                             notices::RestartCode(email, code, ctx_.config.code_ttl_seconds / 60));
  }));
  if (retry_at != 0) return Fail(CodeLimit("account.code_limit", retry_at, now));
  return {};
}

Result<RestartTicket> AccountRestartService::Verify(std::string_view raw_email,
                                                    std::string_view code,
                                                    std::string_view remote_address) {
  auto email = NormalizeEmail(raw_email);
  if (!email) return Fail(InvalidCode());
  const int64_t now = ctx_.clock.NowUnix();
  const std::string address_key = "restart-confirm:addr:" + std::string(remote_address);
  RestartTicket out;
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    KW_ASSIGN_OR_RETURN(bool blocked, AtLimit(tx, address_key, now, kWrongCodesPerAddress));
    if (blocked) {
      late = RateLimited();
      return {};
    }
    KW_ASSIGN_OR_RETURN(
        auto row,
        tx.FindEmailCode(kRestartCodePurpose, CodeSubject(credentials_, *email, remote_address)));
    const bool live =
        row && !row->used && row->expires_at > now && row->attempts < ctx_.config.code_max_attempts;
    if (!live ||
        !crypto::ConstantTimeEqual(HashEmailCode(ctx_, row->challenge, code), row->code_hash)) {
      late = InvalidCode();
      KW_TRY(Discard(tx.HitRateLimit(address_key, now, kWindow)));
      if (live) {
        ++row->attempts;
        KW_TRY(tx.UpdateEmailCode(*row));
      }
      return {};
    }
    row->used = true;
    KW_TRY(tx.UpdateEmailCode(*row));
    if (row->account_id.empty()) {  // an unknown email: the same answer as a wrong code
      late = InvalidCode();
      return {};
    }
    out.ticket = crypto::SecureBytes::Random(kTicketSize);
    out.account_id = row->account_id;
    out.expires_at = now + kRestartTicketTtl;
    EmailCode ticket;
    ticket.purpose = kRestartTicketPurpose;
    ticket.subject = TicketSubject(ctx_, out.ticket.span());
    ticket.account_id = row->account_id;
    ticket.challenge = crypto::RandomBytes(kChallengeSize);
    ticket.code_hash = HashEmailCode(ctx_, ticket.challenge, out.ticket.view());
    ticket.expires_at = out.expires_at;
    ticket.created_at = now;
    return tx.PutEmailCode(ticket);
  }));
  if (late) return Fail(std::move(*late));
  return out;
}

Status AccountRestartService::Complete(std::span<const uint8_t> ticket, const RestartMaterial& m,
                                       std::string_view remote_address) {
  KW_TRY(CheckKdf(m.kdf, ctx_.config.kdf_minimum));
  if (m.salt.size() != crypto::kSaltSize) return Fail(InvalidField("salt"));
  if (m.public_key.size() != 32) return Fail(InvalidField("public_key"));
  KW_TRY(CheckBlob(m.wrapped_vault_key, "wrapped_vault_key"));
  KW_TRY(CheckBlob(m.wrapped_private_key, "wrapped_private_key"));
  if (ticket.size() != kTicketSize) return Fail(InvalidTicket());
  const store::Bytes verifier = credentials_.Verifier(m.auth_key);
  const std::string subject = TicketSubject(ctx_, ticket);
  const std::string_view ticket_text(reinterpret_cast<const char*>(ticket.data()), ticket.size());
  const int64_t now = ctx_.clock.NowUnix();
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto row, tx.FindEmailCode(kRestartTicketPurpose, subject));
    if (!row || row->used || row->expires_at <= now ||
        !crypto::ConstantTimeEqual(HashEmailCode(ctx_, row->challenge, ticket_text),
                                   row->code_hash)) {
      return Fail(InvalidTicket());
    }
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(row->account_id));
    if (!account) return Fail(InvalidTicket());
    KW_TRY(DropOldVault(tx, ctx_, account->id, now));
    SetMasterPassword(*account, m.kdf, m.salt, verifier, m.wrapped_vault_key,
                      /*must_change=*/false);
    account->public_key = m.public_key;
    account->wrapped_private_key = m.wrapped_private_key;
    KW_TRY(tx.UpdateAccount(*account));  // two-step login untouched
    KW_TRY(credentials_.ClearFailures(tx, account->email));
    row->used = true;
    KW_TRY(tx.UpdateEmailCode(*row));
    KW_TRY(ctx_.mail.Enqueue(tx, notices::AccountRestarted(account->email, now)));
    EventSpec event;
    event.type = "account.restarted";
    event.actor_id = account->id;
    event.target_id = account->id;
    event.details = {{"remote_address", std::string(remote_address)}};
    return AppendAccountEvent(tx, ctx_.clock, account->id, std::move(event));
  }));
  return {};
}

}  // namespace keyward::core
