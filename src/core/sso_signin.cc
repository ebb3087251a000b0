#include "core/sso_signin.h"

#include <algorithm>

#include "core/org_access.h"
#include "core/orgs.h"
#include "core/validation.h"

namespace keyward::core {

namespace {

// Sign-ins started per remote address and window: each writes a row, so
// an anonymous caller may not write without end.
constexpr int64_t kStartWindow = 3600;
constexpr int64_t kStartsPerAddress = 60;

// The keyed hashes a pending sign-in's state and a ticket are found by; the
// domains differ, so a state is never taken as a ticket or the reverse.
store::Bytes KeyedHash(const Context& ctx, std::string_view domain,
                       std::span<const uint8_t> secret) {
  store::Bytes message(domain.begin(), domain.end());
  message.push_back(0);
  message.insert(message.end(), secret.begin(), secret.end());
  return crypto::Hash(ctx.keys.token_key.span(), message);
}

store::Bytes StateHash(const Context& ctx, std::string_view state) {
  return KeyedHash(ctx, "keyward sso state",
                   {reinterpret_cast<const uint8_t*>(state.data()), state.size()});
}

store::Bytes TicketHash(const Context& ctx, std::span<const uint8_t> ticket) {
  return KeyedHash(ctx, "keyward sso ticket", ticket);
}

Error NotConfigured() {
  return Error::NotFound("sso.not_configured",
                         "This organization has no single sign-on provider on this server.");
}

Error UnknownState() {
  return Error::InvalidArgument("sso.unknown_state",
                                "This sign-in is unknown, already finished, or older than 10 "
                                "minutes; start it again.");
}

Error TicketInvalid() {
  return Error::Unauthenticated("sso.ticket_invalid",
                                "The single sign-on answer expired or was already used; sign in "
                                "through the provider again.");
}

Error NotAMember() {
  return Error::PermissionDenied(
      "sso.not_a_member",
      "You signed in at the provider of an organization you are not an active member of.");
}

Error IdentityMismatch() {
  return Error::PermissionDenied(
      "sso.identity_mismatch",
      "This sign-in at the identity provider belongs to another Keyward account, or this account "
      "is linked to another one there; an owner or admin can unlink it.");
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 8252 7.3: the loopback literal (never "localhost", which a hostile
// resolver may point elsewhere), any port, path /callback.
bool LoopbackRedirect(std::string_view uri) {
  for (std::string_view host : {"http://127.0.0.1:", "http://[::1]:"}) {
    if (!uri.starts_with(host)) continue;
    std::string_view rest = uri.substr(host.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos || rest.substr(slash) != "/callback") return false;
    const std::string_view port = rest.substr(0, slash);
    if (!AllDigits(port) || port.size() > 5) return false;
    const int p = std::stoi(std::string(port));
    return p >= 1024 && p <= 65535;
  }
  return false;
}

}  // namespace

Error SsoRequired(const core::Org& org) {
  return Error::PermissionDenied(
      "auth.sso_required",
      "The organization \"" + org.name + "\" requires single sign-on: log in with `keyward login " +
          "--sso " + org.id + "` (or \"Sign in with single sign-on\" on the web page).");
}

Result<SsoStarted> SsoService::Start(const SsoStartRequest& request) {
  if (!IsValidClientId(request.org_id)) return Fail(NotConfigured());
  auto configured = ctx_.config.sso.find(request.org_id);
  if (configured == ctx_.config.sso.end()) return Fail(NotConfigured());
  const bool redirect_ok = request.client_kind == SsoClientKind::kCli
                               ? LoopbackRedirect(request.redirect_uri)
                               : request.redirect_uri == ctx_.config.public_url + "/sso/callback";
  if (!redirect_ok) {
    return Fail(Error::InvalidArgument(
        "sso.bad_redirect_uri",
        request.client_kind == SsoClientKind::kCli
            ? "The redirect address must be http://127.0.0.1:PORT/callback or "
              "http://[::1]:PORT/callback."
            : "The redirect address must be this server's /sso/callback page."));
  }
  const int64_t now = ctx_.clock.NowUnix();
  int64_t starts = 0;
  bool org_exists = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(
        starts, tx.HitRateLimit("sso-start:addr:" + request.remote_address, now, kStartWindow));
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(request.org_id));
    org_exists = org.has_value();
    return {};
  }));
  // The provider is not asked on behalf of an organization that is not here.
  if (!org_exists) return Fail(NotConfigured());
  if (starts > kStartsPerAddress) {
    return Fail(Error::RateLimited("request.rate_limited", "Too many requests; try again later."));
  }

  sso::Pkce pkce = sso::NewPkce();
  SsoStarted started;
  started.state = sso::RandomToken();
  const std::string nonce = sso::RandomToken();
  sso::AuthorizationRequest auth;
  auth.redirect_uri = request.redirect_uri;
  auth.state = started.state;
  auth.nonce = nonce;
  auth.code_challenge = pkce.challenge;
  // Discovery before anything is written: a provider that is down leaves
  // no pending row behind.
  KW_ASSIGN_OR_RETURN(started.authorization_url,
                      configured->second.provider->AuthorizationUrl(auth));

  SsoLogin login;
  login.id = sso::RandomToken();
  login.state_hash = StateHash(ctx_, started.state);
  login.org_id = request.org_id;
  login.nonce = nonce;
  login.code_verifier = pkce.verifier;
  login.redirect_uri = request.redirect_uri;
  login.client_kind = request.client_kind;
  login.created_at = now;
  login.expires_at = now + kSsoLoginTtl;
  auto inserted = ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(request.org_id));
    if (!org) return Fail(NotConfigured());
    return tx.InsertSsoLogin(login);
  });
  if (!inserted) {
    if (inserted.error().code() == "sso.not_configured") return Fail(inserted.error());
    return Fail(Internal());
  }
  started.expires_at = login.expires_at;
  return started;
}

Result<SsoTicket> SsoService::Finish(std::string_view state, std::string_view code) {
  if (state.empty() || state.size() > 512 || code.empty() || code.size() > 4096) {
    return Fail(UnknownState());
  }
  const int64_t now = ctx_.clock.NowUnix();
  std::optional<SsoLogin> login;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(login, tx.TakeSsoLogin(StateHash(ctx_, state)));
    return {};
  }));
  if (!login || login->subject || login->expires_at <= now) return Fail(UnknownState());
  auto configured = ctx_.config.sso.find(login->org_id);
  if (configured == ctx_.config.sso.end()) return Fail(NotConfigured());
  SsoIdentityProvider& provider = *configured->second.provider;
  KW_ASSIGN_OR_RETURN(auto claims, provider.Redeem(code, login->redirect_uri, login->code_verifier,
                                                   login->nonce, now));

  SsoTicket out;
  out.ticket = crypto::SecureBytes::Random(32);
  out.org_id = login->org_id;
  out.expires_at = now + kSsoTicketTtl;
  SsoLogin ticket;
  ticket.id = sso::RandomToken();
  ticket.state_hash = TicketHash(ctx_, out.ticket.span());
  ticket.org_id = login->org_id;
  ticket.client_kind = login->client_kind;
  ticket.issuer = provider.issuer();
  ticket.subject = claims.subject;
  ticket.created_at = now;
  ticket.expires_at = out.expires_at;
  auto inserted = ctx_.store.Transact([&](store::Tx& tx) { return tx.InsertSsoLogin(ticket); });
  // The organization went away meanwhile: the ticket would name nothing.
  if (!inserted)
    return Fail(inserted.error().code() == "store.not_found" ? UnknownState() : Internal());
  return out;
}

Result<std::vector<core::Org>> OrgsRequiringSso(const Context& ctx, store::Tx& tx,
                                                std::string_view account_id) {
  std::vector<core::Org> out;
  if (ctx.config.sso.empty()) return out;  // every login pays for this check
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  for (const auto& m : memberships) {
    if (m.status != MemberStatus::kActive || m.role == "owner") continue;
    if (!ctx.config.sso.contains(m.org_id)) continue;
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(m.org_id));
    if (!org) continue;
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(*org));
    if (policy.require_sso) out.push_back(std::move(*org));
  }
  return out;
}

Result<SsoBoundAccount> TakeBoundSsoTicket(const Context& ctx, store::Tx& tx,
                                           const store::Bytes& raw) {
  const int64_t now = ctx.clock.NowUnix();
  if (raw.size() != 32) return Fail(TicketInvalid());
  KW_ASSIGN_OR_RETURN(auto ticket, tx.TakeSsoLogin(TicketHash(ctx, raw)));
  if (!ticket || !ticket->subject || !ticket->issuer || ticket->expires_at <= now) {
    return Fail(TicketInvalid());
  }
  KW_ASSIGN_OR_RETURN(auto bound,
                      tx.FindSsoIdentity(ticket->org_id, *ticket->issuer, *ticket->subject));
  if (!bound) {
    return Fail(Error::PermissionDenied(
        "sso.not_linked",
        "No Keyward account is linked to this sign-in at the identity provider yet: log in once "
        "with the master password through single sign-on (keyward login --sso), or ask for a "
        "recovery link."));
  }
  KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(bound->account_id));
  KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(ticket->org_id, bound->account_id));
  if (!account || !member || member->status != MemberStatus::kActive) {
    return Fail(NotAMember());
  }
  KW_TRY(tx.TouchSsoIdentity(ticket->org_id, *ticket->issuer, *ticket->subject, now));
  return SsoBoundAccount{ticket->org_id, std::move(*account)};
}

Result<SsoVouch> ApplySsoTickets(const Context& ctx, store::Tx& tx, const core::Account& account,
                                 const std::vector<store::Bytes>& tickets,
                                 std::string_view device_id) {
  const int64_t now = ctx.clock.NowUnix();
  SsoVouch vouch;
  if (tickets.size() > kMaxSsoTickets) return Fail(TicketInvalid());
  for (const store::Bytes& raw : tickets) {
    if (raw.size() != 32) return Fail(TicketInvalid());
    KW_ASSIGN_OR_RETURN(auto ticket, tx.TakeSsoLogin(TicketHash(ctx, raw)));
    if (!ticket || !ticket->subject || !ticket->issuer || ticket->expires_at <= now) {
      return Fail(TicketInvalid());
    }
    KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(ticket->org_id, account.id));
    if (!member || member->status != MemberStatus::kActive) {
      return Fail(NotAMember());
    }
    KW_ASSIGN_OR_RETURN(auto bound,
                        tx.FindSsoIdentity(ticket->org_id, *ticket->issuer, *ticket->subject));
    if (bound) {
      // Never by email: only the subject the account was bound to.
      if (bound->account_id != account.id) return Fail(IdentityMismatch());
      KW_TRY(tx.TouchSsoIdentity(ticket->org_id, *ticket->issuer, *ticket->subject, now));
    } else {
      KW_ASSIGN_OR_RETURN(auto mine, tx.FindSsoIdentityOfAccount(ticket->org_id, account.id));
      if (mine) return Fail(IdentityMismatch());
      // The first SSO sign-in here: the master password (and the two-step
      // code) were checked by the caller in this transaction.
      KW_TRY(tx.InsertSsoIdentity(
          {ticket->org_id, *ticket->issuer, *ticket->subject, account.id, now, now}));
      EventSpec event;
      event.org_id = ticket->org_id;
      event.type = "sso.identity_linked";
      event.actor_id = account.id;
      event.target_id = account.id;
      event.device_id = std::string(device_id);
      KW_TRY(AppendOrgEvent(tx, ctx.clock, std::move(event)));
    }
    if (std::find(vouch.org_ids.begin(), vouch.org_ids.end(), ticket->org_id) ==
        vouch.org_ids.end()) {
      vouch.org_ids.push_back(ticket->org_id);
    }
    int64_t age = ctx.config.session_ttl_seconds;
    if (auto c = ctx.config.sso.find(ticket->org_id); c != ctx.config.sso.end()) {
      age = std::min(age, c->second.max_session_age_seconds);
    }
    const int64_t ends = now + age;
    vouch.session_ends_by =
        vouch.session_ends_by == 0 ? ends : std::min(vouch.session_ends_by, ends);
  }
  KW_ASSIGN_OR_RETURN(auto required, OrgsRequiringSso(ctx, tx, account.id));
  for (const core::Org& org : required) {
    if (std::find(vouch.org_ids.begin(), vouch.org_ids.end(), org.id) == vouch.org_ids.end()) {
      return Fail(SsoRequired(org));
    }
  }
  return vouch;
}

}  // namespace keyward::core
