#include "core/pairing.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/notices.h"
#include "core/org_access.h"
#include "core/sessions.h"
#include "core/sso_signin.h"
#include "core/validation.h"
#include "crypto/cpace.h"
#include "protocol/pairing.h"

namespace keyward::core {
namespace {

constexpr size_t kClaimSize = 32;

Error NotFound() { return Error::NotFound("pair.not_found", "No such pairing."); }
Error Expired() {
  return Error::Gone("pair.expired",
                     "The pairing code expired; show a new one on the signed-in "
                     "device (keyward device pair-show).");
}
Error Closed() {
  return Error::Conflict("pair.closed",
                         "This pairing is closed (a code allows one try); show a new code on the "
                         "signed-in device (keyward device pair-show).");
}
Error RateLimited() {
  return Error::RateLimited("pair.rate_limited",
                            "Too many pairing attempts from this address; try again later.");
}

Error BadRequest(std::string_view what) {
  return Error::InvalidArgument("pair.bad_request", fmt::format("Invalid pairing {}.", what));
}

bool IsPoint(const Bytes& b) { return b.size() == crypto::cpace::kPointSize; }

bool ValidId(std::string_view id) {
  auto raw = crypto::Base64UrlDecode(id);
  return raw && raw->size() == protocol::pairing::kSidSize;
}

std::span<const uint8_t> Text(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// An id like the clients' RandomArgSafeId(16), drawn from `seed`.
std::string DecoyId(const crypto::SecureBytes& key, std::string_view label, std::string_view email,
                    int64_t window) {
  for (int n = 0;; ++n) {
    const std::string msg =
        fmt::format("keyward/v1/pair/decoy/{}\x1f{}\x1f{}\x1f{}", label, email, window, n);
    Bytes h = crypto::Hash(key.span(), Text(msg));
    h.resize(16);
    std::string id = crypto::Base64UrlEncode(h);
    if (id.front() != '-') return id;
  }
}

Status LogPairing(const Context& ctx, store::Tx& tx, const Pairing& p, std::string_view type) {
  EventSpec event;
  event.type = std::string(type);
  event.actor_id = p.account_id;
  event.target_id = p.account_id;
  event.device_id = p.shown_device_id;
  event.details = {{"pairing_id", p.id}, {"new_device_id", p.joining_device_id}};
  return AppendAccountEvent(tx, ctx.clock, p.account_id, std::move(event));
}

}  // namespace

// Kept apart from session token hashes (the same key) by a label.
Bytes PairingService::ClaimHash(std::span<const uint8_t> claim) const {
  Bytes message = crypto::Ad({"keyward/v1/pair/claim", ""});
  message.insert(message.end(), claim.begin(), claim.end());
  return crypto::Hash(ctx_.keys.token_key.span(), message);
}

Result<Pairing> PairingService::Start(const Caller& caller, const PairingStart& start) {
  if (!ValidId(start.id)) return Fail(BadRequest("id"));
  if (!IsValidClientId(start.joining_device_id) || start.joining_device_id == caller.device_id) {
    return Fail(BadRequest("device id"));
  }
  if (!IsPoint(start.ya)) return Fail(BadRequest("message"));
  const int64_t now = ctx_.clock.NowUnix();
  Pairing p;
  p.id = start.id;
  p.account_id = caller.account_id;
  p.shown_device_id = caller.device_id;
  p.joining_device_id = start.joining_device_id;
  p.ya = start.ya;
  p.created_at = p.updated_at = now;
  p.expires_at = now + ctx_.config.pairing_ttl_seconds;
  auto s = ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(caller.account_id, start.joining_device_id));
    if (device) return Fail(BadRequest("device id"));
    KW_TRY(tx.CloseOpenPairings(caller.account_id, now));
    KW_TRY(tx.InsertPairing(p));
    return LogPairing(ctx_, tx, p, "device.pairing_started");
  });
  if (!s && s.error().code() == "store.conflict") {
    return Fail(Error::Conflict("pair.exists", "This pairing id is taken; start again."));
  }
  KW_TRY(std::move(s));
  return p;
}

Result<Pairing> PairingService::Decoy(store::Tx& tx, const std::string& email, int64_t now) const {
  const int64_t ttl = std::max<int64_t>(1, ctx_.config.pairing_ttl_seconds);
  const int64_t window = now / ttl;
  const crypto::SecureBytes& key = ctx_.keys.pepper2;
  Bytes sid = crypto::Hash(
      key.span(), Text(fmt::format("keyward/v1/pair/decoy/sid\x1f{}\x1f{}", email, window)));
  sid.resize(protocol::pairing::kSidSize);
  const std::string id = crypto::Base64UrlEncode(sid);
  KW_ASSIGN_OR_RETURN(auto existing, tx.FindPairing(id));
  if (existing) return std::move(*existing);
  Pairing p;
  p.id = id;
  p.shown_device_id = DecoyId(key, "shown", email, window);
  p.joining_device_id = DecoyId(key, "joining", email, window);
  const Bytes seed = crypto::HmacSha512(
      key.span(), Text(fmt::format("keyward/v1/pair/decoy/ya\x1f{}\x1f{}", email, window)));
  p.ya = crypto::cpace::PointFromHash(seed);
  p.created_at = p.updated_at = now;
  p.expires_at = now + ctx_.config.pairing_ttl_seconds;
  KW_TRY(tx.InsertPairing(p));
  return p;
}

Result<PairingOffer> PairingService::Lookup(std::string_view email_in,
                                            std::string_view remote_address) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(email_in));
  const int64_t now = ctx_.clock.NowUnix();
  PairingOffer offer;
  bool limited = false;
  auto lookup = [&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(int64_t hits,
                        tx.HitRateLimit("pair-lookup:addr:" + std::string(remote_address), now,
                                        kPairingRateWindow));
    limited = hits > kLookupsPerAddress;
    if (limited) return {};
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
    std::optional<Pairing> found;
    if (account) {
      KW_ASSIGN_OR_RETURN(found, tx.FindWaitingPairing(account->id));
      if (found && found->expires_at <= now) found.reset();
    }
    if (!found) {
      KW_ASSIGN_OR_RETURN(found, Decoy(tx, email, now));
    }
    offer.id = found->id;
    // A decoy names an account id like a real one, the same for the email.
    offer.account_id = account ? account->id : DecoyId(ctx_.keys.pepper2, "account", email, 0);
    offer.shown_device_id = found->shown_device_id;
    offer.joining_device_id = found->joining_device_id;
    offer.ya = found->ya;
    offer.expires_at = found->expires_at;
    return {};
  };
  auto s = ctx_.store.Transact(lookup);
  // Two lookups of one email at once may both make its decoy: the second
  // insert conflicts, and the retry finds the first one's.
  if (!s && s.error().code() == "store.conflict") s = ctx_.store.Transact(lookup);
  KW_TRY(std::move(s));
  if (limited) return Fail(RateLimited());
  return offer;
}

Status PairingService::Answer(const PairingAnswer& a) {
  if (!ValidId(a.id)) return Fail(NotFound());
  if (!IsPoint(a.yb) || a.tb.size() != protocol::pairing::kConfirmationSize ||
      a.claim.size() != kClaimSize) {
    return Fail(BadRequest("answer"));
  }
  if (!IsValidLabel(a.device_name)) return Fail(InvalidField("device_name"));
  if (!IsValidDeviceType(a.device_type)) return Fail(InvalidField("device_type"));
  const int64_t now = ctx_.clock.NowUnix();
  // Refusals are answered after the commit, so that every try counts.
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    KW_ASSIGN_OR_RETURN(int64_t hits, tx.HitRateLimit("pair-answer:addr:" + a.remote_address, now,
                                                      kPairingRateWindow));
    if (hits > kAnswersPerAddress) {
      late = RateLimited();
      return {};
    }
    KW_ASSIGN_OR_RETURN(auto p, tx.FindPairing(a.id));
    if (!p)
      late = NotFound();
    else if (p->state != PairingState::kWaiting)
      late = Closed();
    else if (p->expires_at <= now)
      late = Expired();
    if (late) return {};
    p->state = PairingState::kAnswered;
    p->yb = a.yb;
    p->tb = a.tb;
    p->joining_name = a.device_name;
    p->joining_type = a.device_type;
    p->joining_address = a.remote_address;
    p->claim_hash = ClaimHash(a.claim);
    p->updated_at = now;
    return tx.UpdatePairing(*p);
  }));
  if (late) return Fail(std::move(*late));
  return {};
}

Result<Pairing> PairingService::Show(const Caller& caller, std::string_view id) {
  if (!ValidId(id)) return Fail(NotFound());
  std::optional<Pairing> p;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(p, tx.FindPairing(id));
    return {};
  }));
  if (!p || p->account_id != caller.account_id || p->shown_device_id != caller.device_id) {
    return Fail(NotFound());
  }
  return std::move(*p);
}

Status PairingService::Close(const Caller& caller, std::string_view id) {
  if (!ValidId(id)) return Fail(NotFound());
  const int64_t now = ctx_.clock.NowUnix();
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto p, tx.FindPairing(id));
    if (!p || p->account_id != caller.account_id || p->shown_device_id != caller.device_id) {
      return Fail(NotFound());
    }
    if (p->state == PairingState::kDone || p->state == PairingState::kClosed) return {};
    p->state = PairingState::kClosed;
    p->updated_at = now;
    KW_TRY(tx.UpdatePairing(*p));
    return LogPairing(ctx_, tx, *p, "device.pairing_failed");
  });
}

Status PairingService::Release(const Caller& caller, std::string_view id, const Bytes& ta,
                               const Bytes& payload) {
  if (!ValidId(id)) return Fail(NotFound());
  if (ta.size() != protocol::pairing::kConfirmationSize || payload.empty() ||
      payload.size() > 256) {
    return Fail(BadRequest("release"));
  }
  const int64_t now = ctx_.clock.NowUnix();
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto p, tx.FindPairing(id));
    if (!p || p->account_id != caller.account_id || p->shown_device_id != caller.device_id) {
      return Fail(NotFound());
    }
    if (p->state != PairingState::kAnswered) return Fail(Closed());
    if (p->expires_at <= now) return Fail(Expired());
    p->state = PairingState::kReleased;
    p->ta = ta;
    p->payload = payload;
    p->updated_at = now;
    return tx.UpdatePairing(*p);
  });
}

Result<PairingPickup> PairingService::Pickup(std::string_view id, std::span<const uint8_t> claim,
                                             const std::vector<Bytes>& sso_tickets) {
  if (!ValidId(id) || claim.size() != kClaimSize) return Fail(NotFound());
  const int64_t now = ctx_.clock.NowUnix();
  const Bytes claim_hash = ClaimHash(claim);
  PairingPickup out;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto p, tx.FindPairing(id));
    // Only the device that answered may pick up, and a decoy looks the
    // same as a pairing whose owner never acts.
    if (!p || p->claim_hash.empty() || !crypto::ConstantTimeEqual(p->claim_hash, claim_hash)) {
      return Fail(NotFound());
    }
    out.state = p->state;
    if (p->state == PairingState::kClosed || p->state == PairingState::kDone) {
      return Fail(Closed());
    }
    if (p->state == PairingState::kAnswered) {
      if (p->expires_at <= now) return Fail(Expired());
      return {};
    }
    // Released: B's device and session, in the same transaction as "done".
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(p->account_id));
    if (!account) return Fail(Closed());
    // A pairing is not a way around the provider.
    KW_ASSIGN_OR_RETURN(auto vouch,
                        ApplySsoTickets(ctx_, tx, *account, sso_tickets, p->joining_device_id));
    int64_t expires_at = now + ctx_.config.session_ttl_seconds;
    if (vouch.session_ends_by != 0) expires_at = std::min(expires_at, vouch.session_ends_by);
    Device device{p->account_id, p->joining_device_id, p->joining_name, p->joining_type, now, now,
                  true};
    KW_TRY(tx.UpsertDevice(device));
    out.token = crypto::SecureBytes::Random(32);
    Session session{SessionTokenHash(ctx_, out.token.span()),
                    p->account_id,
                    p->joining_device_id,
                    now,
                    expires_at,
                    false};
    KW_TRY(tx.InsertSession(session));
    p->state = PairingState::kDone;
    p->updated_at = now;
    KW_TRY(tx.UpdatePairing(*p));
    KW_TRY(LogPairing(ctx_, tx, *p, "device.paired"));
    KW_TRY(ctx_.mail.Enqueue(
        tx, notices::DevicePaired(account->email, p->joining_name, p->joining_type, now)));
    out.state = PairingState::kDone;
    out.ta = p->ta;
    out.payload = p->payload;
    out.session_expires_at = session.expires_at;
    out.device_id = p->joining_device_id;
    out.account = std::move(*account);
    return {};
  }));
  return out;
}

}  // namespace keyward::core
