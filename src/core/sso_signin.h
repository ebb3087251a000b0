// Single sign-on through an organization's OpenID Connect provider
// (docs/sso.md "How a sign-in goes"): Start sends the member's browser to
// the provider with a fresh state, nonce and PKCE verifier kept server-side
// (the state only as a keyed hash); Finish takes that pending sign-in once,
// exchanges the code and verifies the ID token, and answers a short-lived
// single-use ticket naming the provider's `sub`. The ticket is not a
// session: it is presented to POST /v1/sessions with the master password
// (and the two-step code), where ApplySsoTickets binds or checks the
// account's identity and the `require-sso` policy. The provider
// authenticates; it never unlocks a vault.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/domain.h"
#include "core/sso_provider.h"
#include "crypto/crypto.h"

namespace keyward::core {

// How long a sign-in may wait for the provider's answer, and how long the
// ticket it yields lives before a login presents it.
inline constexpr int64_t kSsoLoginTtl = 10 * 60;
inline constexpr int64_t kSsoTicketTtl = 5 * 60;
// Tickets one login may carry: one per organization that requires SSO.
inline constexpr size_t kMaxSsoTickets = 8;

struct SsoStartRequest {
  std::string org_id;
  SsoClientKind client_kind = SsoClientKind::kCli;
  // cli: http://127.0.0.1:PORT/callback or http://[::1]:PORT/callback (RFC
  // 8252 7.3); web: exactly public_url + "/sso/callback".
  std::string redirect_uri;
  std::string remote_address;
};

struct SsoStarted {
  std::string authorization_url;
  // Also in the URL; the client compares the state the browser brings back
  // with it before it finishes (a forged callback is another sign-in).
  std::string state;
  int64_t expires_at = 0;
};

struct SsoTicket {
  crypto::SecureBytes ticket;  // 32 random bytes; the store keeps only a keyed hash
  std::string org_id;
  int64_t expires_at = 0;
};

class SsoService {
 public:
  explicit SsoService(const Context& ctx) : ctx_(ctx) {}

  // Errors: sso.not_configured (no provider for this organization here, or
  // no such organization: the same answer), sso.bad_redirect_uri,
  // request.rate_limited (sign-ins started per address), and the
  // provider's discovery errors, before anything is written.
  [[nodiscard]] Result<SsoStarted> Start(const SsoStartRequest& request);

  // Takes the pending sign-in of `state` (once: a replayed answer finds
  // nothing), then redeems `code` at the provider and verifies the ID
  // token. Errors: sso.unknown_state (unknown, already finished, or older
  // than kSsoLoginTtl), the provider's refusals (sso.token_refused, the ID
  // token's sso.* codes) and sso.provider_unreachable; in each case the
  // sign-in is used up and nothing else is written.
  [[nodiscard]] Result<SsoTicket> Finish(std::string_view state, std::string_view code);

 private:
  const Context& ctx_;
};

// What the tickets of a login (or a pairing's pickup) vouch for.
struct SsoVouch {
  // Organizations whose provider vouched for this account in this login.
  std::vector<std::string> org_ids;
  // The earliest end of a session made with them (max session age); 0 when
  // no ticket was given.
  int64_t session_ends_by = 0;
};

// Organizations whose policy requires SSO of this account: active
// memberships, owners excepted (so an owner can still reach the settings
// when the provider is gone), policy "sso":"required", and a provider on
// this server — one whose [sso.ORG] table the operator removed cannot sign
// anyone in, so its policy is not enforced rather than locking the members
// out. No store work at all on a server without single sign-on.
[[nodiscard]] Result<std::vector<core::Org>> OrgsRequiringSso(const Context& ctx, store::Tx& tx,
                                                              std::string_view account_id);

// Inside the transaction that makes the session: takes each ticket (once),
// checks it is a live ticket of an organization the account is an active
// member of, binds the account to the ticket's (issuer, subject) on its
// first SSO sign-in there or checks it is the same identity, and checks
// that every organization of OrgsRequiringSso has a ticket. Errors:
// sso.ticket_invalid, sso.not_a_member, sso.identity_mismatch (the subject
// belongs to another account, or the account to another subject),
// auth.sso_required (naming the first organization that lacks a ticket).
[[nodiscard]] Result<SsoVouch> ApplySsoTickets(const Context& ctx, store::Tx& tx,
                                               const core::Account& account,
                                               const std::vector<store::Bytes>& tickets,
                                               std::string_view device_id);

// A device request's sign-in (core/device_requests.h): takes `ticket` once
// and answers the account bound to its (issuer, subject) in its
// organization — never found by email — an active member there. Errors:
// sso.ticket_invalid, sso.not_linked (no account bound to that identity
// yet: the member has never logged in through this provider), and
// sso.not_a_member.
struct SsoBoundAccount {
  std::string org_id;
  core::Account account;
};
[[nodiscard]] Result<SsoBoundAccount> TakeBoundSsoTicket(const Context& ctx, store::Tx& tx,
                                                         const store::Bytes& ticket);

// auth.sso_required naming the organization (its name, and its id for
// `keyward login --sso ID`).
Error SsoRequired(const core::Org& org);

}  // namespace keyward::core
