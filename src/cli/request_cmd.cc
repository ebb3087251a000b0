// keyward recovery request | cancel | redeem | list | show | approve |
// decline | start: docs/cli.md "Recovery requests". The member's commands
// run without a session (the master password is what was lost); the
// admin's run in the admin's session, and `approve` unlocks the admin's keys
// to open the escrow share and make the link.
#include "cli/request_cmd.h"
#include "common/try.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/member_paths.h"
#include "cli/org_session.h"
#include "cli/qr.h"
#include "keyward/recovery.h"
#include "protocol/link.h"

namespace keyward::cli {
namespace {

constexpr int kMaxListLimit = 200;

struct RequestArgs {
  std::string email;
  std::string device_name;
  bool code_stdin = false;
  std::string link;
  std::string org;
  std::string status;
  int limit = 50;
  std::string after;
  std::string id;
  std::string member;
  std::string reason;
  bool qr = false;
  std::vector<std::string> fingerprints;  // redeem: organizations' signing keys to accept
  std::string device_fingerprint;         // approve: a new device's key, read by the member
};

Status Usage(std::string message) {
  return Fail(Error::InvalidArgument("cli.usage", std::move(message)));
}

// The server's recovery errors, said with what to do next.
Error ExplainRequest(const Error& e, std::string_view email) {
  const std::string& c = e.code();
  const std::string who = email.empty() ? "EMAIL" : std::string(email);
  if (c == "recovery.request_open") {
    return Error(e.kind(), c,
                 fmt::format("you already have an open recovery request: contact your "
                             "administrator, or cancel it with 'keyward recovery cancel --email "
                             "{}'",
                             who));
  }
  if (c == "recovery.no_open_request") {
    return Error(e.kind(), c, "you have no open recovery request to cancel");
  }
  if (c == "recovery.link_invalid") {
    return Error(e.kind(), c,
                 "this recovery link is not valid (unknown request, or the link is damaged); ask "
                 "your administrator to send it again");
  }
  if (c == "recovery.link_expired") {
    return Error(e.kind(), c,
                 fmt::format("this recovery link has expired and cannot be used or extended; "
                             "submit a new request with 'keyward recovery request --email {}'",
                             who));
  }
  if (c == "recovery.link_used") {
    return Error(e.kind(), c,
                 "this recovery link was already used (it works once); if that was not you, tell "
                 "your administrator at once");
  }
  if (c == "recovery.not_approved") {
    return Error(e.kind(), c,
                 "this recovery request is not approved: it is still pending, or was declined");
  }
  if (c == "recovery.invalid_ticket") {
    return Error(e.kind(), c,
                 "the reset took too long or was already finished; run 'keyward recovery redeem' "
                 "again");
  }
  if (c == "recovery.not_found") {
    return Error(e.kind(), c,
                 "no such recovery request in this organization (see 'keyward recovery list')");
  }
  if (c == "recovery.not_pending") {
    return Error(e.kind(), c,
                 "the request is not pending (approved, declined, used or expired, maybe by "
                 "another admin just now): only a pending request can be approved or declined; "
                 "see 'keyward recovery show ID'");
  }
  if (c == "recovery.already_approved") {
    return Error(e.kind(), c,
                 "you already approved this request; another recovery admin must approve it");
  }
  if (c == "recovery.expired") {
    return Error(e.kind(), c, "the request has expired; the member must submit a new one");
  }
  if (c == "org.self_action") {
    return Error(e.kind(), c, "you cannot approve, decline or start your own recovery");
  }
  if (c == "crypto.decrypt_failed") {
    return Error(e.kind(), c,
                 "the recovery data does not decrypt: the link is wrong or damaged, or the "
                 "server's data was tampered with; nothing was changed");
  }
  return e;
}

// The member is not signed in: no session token goes with these requests.
client::Client MemberClient(Context& ctx, client::Profile profile) {
  client::Client c = ctx.MakeClient(profile);
  c.set_token("");
  return c;
}

// Before a code prompt on a terminal: where to look. Scripts get nothing
// (a command that then fails keeps its one line on stderr).
void CodeHint(Context& ctx, bool code_stdin, std::string_view text) {
  if (!code_stdin && ::isatty(0) == 1) ctx.Hint(text);
}

// The emailed code: a line of standard input with --code-stdin (even on a
// terminal), else the usual prompt.
Result<crypto::SecureBytes> AskCode(Context& ctx, bool code_stdin) {
  constexpr std::string_view kQuestion = "Code from the email: ";
  if (code_stdin) {
    Prompter from_stdin(PromptOptions{0, false, false, false});
    return from_stdin.Line(kQuestion);
  }
  return ctx.prompt().Line(kQuestion);
}

// ---- the member ----

Status Request(Context& ctx, const RequestArgs& a) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = MemberClient(ctx, profile);
  const std::string device = !a.device_name.empty()         ? a.device_name
                             : !profile.device_name.empty() ? profile.device_name
                                                            : HostName();
  KW_TRY(client::AskRecoveryCode(c, a.email, device, "submit"));
  KW_ASSIGN_OR_RETURN(auto sub, ConfirmByEmail(ctx, c, a.email, a.code_stdin));
  if (ctx.json()) return {};
  ctx.Out(fmt::format("Your request is pending (request {}{}).", sub.request_id,
                      sub.org_name.empty() ? "" : ", organization " + sub.org_name));
  ctx.Out(fmt::format(
      "Contact your administrator: a recovery admin must approve it{}. They will send you a "
      "recovery link; then run 'keyward recovery redeem LINK'.",
      sub.expires_at.empty() ? "" : " before " + sub.expires_at));
  return {};
}

Status Cancel(Context& ctx, const RequestArgs& a) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = MemberClient(ctx, profile);
  const std::string device = !profile.device_name.empty() ? profile.device_name : HostName();
  KW_TRY(client::AskRecoveryCode(c, a.email, device, "cancel"));
  CodeHint(ctx, a.code_stdin,
           fmt::format("If {} has an account, a 6-digit code was emailed to it.", a.email));
  KW_ASSIGN_OR_RETURN(auto code, AskCode(ctx, a.code_stdin));
  KW_TRY(client::ConfirmRecoveryCancel(c, a.email, code));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("cancelled");
    ctx.OutJson(j);
  } else {
    ctx.Out("Your recovery request is cancelled.");
  }
  return {};
}

// The recovery link: --link, else asked for.
Result<crypto::SecureBytes> ReadLink(Context& ctx, const RequestArgs& a) {
  if (!a.link.empty()) return crypto::SecureBytes::Copy(std::string_view(a.link));
  KW_ASSIGN_OR_RETURN(auto asked, ctx.prompt().Password("Recovery link: "));
  return asked;
}

// Which server: --server, else the profile's, else the one the link names.
Result<client::Profile> RedeemServer(Context& ctx, const client::Profile& profile,
                                     const crypto::SecureBytes& link) {
  client::Profile where = profile;
  if (ctx.options().server.empty() && where.server_url.empty()) {
    std::string_view text = link.view();
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    KW_ASSIGN_OR_RETURN(auto parsed, protocol::ParseLinkText(text));
    where.server_url = parsed.public_url;
  }
  return where;
}

// The --fingerprint values, normalized.
Result<std::vector<std::string>> AcceptedFingerprints(const RequestArgs& a) {
  std::vector<std::string> accepted;
  for (const std::string& f : a.fingerprints) {
    auto fp = NormalizeFingerprint(f);
    if (!fp)
      return Fail(
          Usage("--fingerprint wants the 40 hex digits an owner of the organization gave").error());
    accepted.push_back(*fp);
  }
  return accepted;
}

// An organization that neither this device nor the link vouches for is
// escrowed to only if the member confirms its fingerprint.
client::ConfirmOrgFn ConfirmUnvouched(Context& ctx, std::vector<std::string> accepted) {
  return [&ctx, accepted = std::move(accepted)](const client::UnvouchedOrg& o) -> Result<bool> {
    if (std::find(accepted.begin(), accepted.end(), o.signing_fingerprint) != accepted.end()) {
      return true;
    }
    std::string text = fmt::format(
        "The server lists {} ({}) as an organization you are enrolled in, but neither this device "
        "nor the recovery link vouches for it.\nsigning key fingerprint: {}\nEscrow your vault "
        "key to it only if this matches the fingerprint an owner of that organization gave you; "
        "otherwise your previous escrow there stays as it was.",
        o.name, o.org_id, o.signing_fingerprint);
    if (ctx.json()) {
      std::fprintf(stderr, "%s\n", text.c_str());
    } else {
      ctx.Out(text);
    }
    return ConfirmFingerprintOrNo(ctx, fmt::format("Does the fingerprint of {} match?", o.name),
                                  "--fingerprint FP");
  };
}

// The server ended every session of the account; keep the new pins.
Status SaveRedeemedProfile(Context& ctx, client::Profile profile, const client::Redemption& r,
                           const client::Redemption::Completed& done, const client::Client& c) {
  for (auto& [org_id, pin] : done.pins) profile.org_pins[org_id] = pin;
  const bool same_account = profile.email.empty() || Lower(profile.email) == Lower(r.email());
  if (same_account) {
    profile.email = r.email();
    profile.token.clear();
    profile.protected_vault_key.clear();
    if (profile.server_url.empty()) profile.server_url = c.server_url();
  }
  return ctx.SaveProfile(profile);
}

void PrintRedeemedJson(Context& ctx, const client::Redemption& r,
                       const client::Redemption::Completed& done, const std::string& login) {
  client::Json j = client::Json::object();
  j["status"] = client::Str("password_reset");
  j["restored_snapshot"] = r.restores() ? client::Str(r.snapshot_id()) : client::Json(nullptr);
  j["request_id"] = client::Str(r.request_id());
  j["email"] = client::Str(r.email());
  client::Json pinned = client::Json::array();
  for (const auto& id : done.newly_pinned) {
    client::Json p = client::Json::object();
    p["org_id"] = client::Str(id);
    p["signing_fingerprint"] =
        client::Str(crypto::Fingerprint(done.pins.at(id).signing_public_key));
    pinned.push_back(std::move(p));
  }
  j["newly_pinned"] = std::move(pinned);
  client::Json skipped = client::Json::array();
  for (const auto& o : done.skipped) {
    client::Json k = client::Json::object();
    k["org_id"] = client::Str(o.org_id);
    k["signing_fingerprint"] = client::Str(o.signing_fingerprint);
    skipped.push_back(std::move(k));
  }
  j["not_escrowed"] = std::move(skipped);
  j["next"] = client::Str(login);
  ctx.OutJson(j);
}

void PrintRedeemedText(Context& ctx, const client::Redemption::Completed& done,
                       const std::string& login, bool restored) {
  for (const auto& id : done.newly_pinned) {
    ctx.Out(fmt::format(
        "Pinned organization {} on this device; its signing key fingerprint is {} (compare it "
        "with an owner).",
        id, crypto::Fingerprint(done.pins.at(id).signing_public_key)));
  }
  for (const auto& o : done.skipped) {
    ctx.Out(fmt::format(
        "Not escrowed to {} ({}): its fingerprint was not confirmed. Your previous escrow there "
        "stays; once you trust it ('keyward org trust'), re-enroll with 'keyward recovery enroll'.",
        o.name, o.org_id));
  }
  ctx.Out(fmt::format("Your master password was reset{}. Log in with: {}",
                      restored ? " and the cloud backup restored" : "", login));
}

Status Redeem(Context& ctx, const RequestArgs& a) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  KW_ASSIGN_OR_RETURN(auto link, ReadLink(ctx, a));
  KW_ASSIGN_OR_RETURN(auto where, RedeemServer(ctx, profile, link));
  client::Client c = MemberClient(ctx, where);
  KW_ASSIGN_OR_RETURN(auto info, c.GetServerInfo());
  KW_ASSIGN_OR_RETURN(auto r, client::Redemption::Parse(link, info.public_url));
  KW_TRY(r.Begin(c));
  CodeHint(ctx, false, "A 6-digit code was emailed to the account this link recovers.");
  KW_ASSIGN_OR_RETURN(auto code, ctx.prompt().Line("Code from the email: "));
  KW_TRY(r.Verify(c, code));
  if (r.restores()) {
    // The approval was for a cloud restore: its items are staged now and put
    // back with the new password, in one step.
    if (!ctx.json()) {
      ctx.Out(fmt::format(
          "This link also restores cloud backup {}: every item of your vault is replaced with "
          "the backup's and every device is signed out.",
          r.snapshot_id()));
    }
    ProgressBar bar(ctx, "Staging", "items");
    KW_ASSIGN_OR_RETURN(const uint64_t staged, r.StageRestore(c, bar.Fn()));
    (void)staged;
    bar.Done();
  }
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().NewPassword("New master password: ",
                                                              "Repeat new master password: "));
  KW_ASSIGN_OR_RETURN(auto accepted, AcceptedFingerprints(a));
  // Pins are facts about organizations, whoever's profile holds them.
  KW_ASSIGN_OR_RETURN(auto done, r.Complete(c, password, profile.org_pins,
                                            ConfirmUnvouched(ctx, std::move(accepted))));
  KW_TRY(SaveRedeemedProfile(ctx, std::move(profile), r, done, c));

  const std::string login = fmt::format("keyward login --email {}", r.email());
  if (ctx.json()) {
    PrintRedeemedJson(ctx, r, done, login);
  } else {
    PrintRedeemedText(ctx, done, login, r.restores());
  }
  return {};
}

// ---- the recovery admin ----

std::string StatusFilter(std::string_view status) {
  std::string s = Lower(status);
  for (char& ch : s) {
    if (ch == '-' || ch == ' ') ch = '_';
  }
  return s;
}

std::string Approvals(const client::RecoveryRequestInfo& r) {
  return fmt::format("{} of {}", r.approvals.size(), r.quorum);
}

client::Json RequestJson(const client::RecoveryRequestInfo& r) {
  client::Json j = client::Json::object();
  j["id"] = client::Str(r.id);
  j["org_id"] = client::Str(r.org_id);
  j["account_id"] = client::Str(r.account_id);
  j["email"] = client::Str(r.email);
  j["status"] = client::Str(r.status);
  j["status_text"] = client::Str(client::RequestStatusText(r.status));
  j["initiated_by"] = client::Str(r.initiated_by);
  j["epoch"] = r.epoch;
  j["device_name"] = client::Str(r.device_name);
  j["remote_address"] = client::Str(r.remote_address);
  j["created_at"] = client::Str(r.created_at);
  j["expires_at"] = client::Str(r.expires_at);
  j["quorum"] = r.quorum;
  client::Json approvals = client::Json::array();
  for (const auto& a : r.approvals) {
    client::Json x = client::Json::object();
    x["admin_id"] = client::Str(a.admin_id);
    x["email"] = client::Str(a.email);
    x["at"] = client::Str(a.at);
    approvals.push_back(std::move(x));
  }
  j["approvals"] = std::move(approvals);
  j["decided_by"] = client::Str(r.decided_by);
  j["decided_at"] = client::Str(r.decided_at);
  j["decline_reason"] = client::Str(r.decline_reason);
  j["completed_at"] = client::Str(r.completed_at);
  j["kind"] = client::Str(r.kind);
  j["snapshot_id"] = client::Str(r.snapshot_id);
  if (r.kind == "device") {
    j["device_fingerprint"] = client::Str(crypto::Fingerprint(r.device_public_key));
  }
  j["link"] = r.link;
  j["item_count"] = r.item_count;
  return j;
}

std::string Dash(const std::string& s) { return s.empty() ? "-" : s; }

// A reader that needs no keys of the admin's (list, show, decline, start).
client::RecoveryAdmin Reader(OrgSession& s) {
  return client::RecoveryAdmin(
      s.client(), client::MemberKeys{s.profile().account_id, crypto::GenerateBoxKeyPair()});
}

// The admin's own member keys, after OrgSession::UnlockKeys.
Result<client::MemberKeys> MyKeys(OrgSession& s) {
  KW_ASSIGN_OR_RETURN(auto account, s.client().GetAccount());
  return client::UnwrapMemberKeys(s.vault_key(), account.id, account.public_key,
                                  account.wrapped_private_key);
}

Status List(Context& ctx, const RequestArgs& a) {
  std::string status;
  if (!a.status.empty()) {
    status = StatusFilter(a.status);
    if (status != "pending" && status != "approved" && status != "link_used" &&
        status != "expired" && status != "declined") {
      return Usage("--status must be pending, approved, link-used, expired or declined");
    }
  }
  if (a.limit < 1 || a.limit > kMaxListLimit) {
    return Usage(fmt::format("--limit must be between 1 and {}", kMaxListLimit));
  }
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto page, Reader(*s).List(org.id, status, a.after, a.limit));
  if (ctx.json()) {
    client::Json list = client::Json::array();
    for (const auto& r : page.requests) list.push_back(RequestJson(r));
    client::Json j = client::Json::object();
    j["org_id"] = client::Str(org.id);
    j["requests"] = std::move(list);
    j["next_after"] = page.next_after ? client::Str(*page.next_after) : client::Json(nullptr);
    ctx.OutJson(j);
    return {};
  }
  if (page.requests.empty()) {
    ctx.Out(status.empty() ? fmt::format("No recovery requests in {}.", org.name)
                           : fmt::format("No {} recovery requests in {}.",
                                         client::RequestStatusText(status), org.name));
    return {};
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "TYPE", "MEMBER", "STATUS", "REQUESTED", "DEVICE", "ADDRESS", "EPOCH", "APPROVALS"}};
  for (const auto& r : page.requests) {
    rows.push_back({r.id, r.kind, r.email.empty() ? r.account_id : r.email,
                    std::string(client::RequestStatusText(r.status)), r.created_at,
                    r.initiated_by.empty() ? Dash(r.device_name) : "(started by an admin)",
                    Dash(r.remote_address), std::to_string(r.epoch), Approvals(r)});
  }
  PrintTable(ctx, rows);
  if (page.next_after) {
    ctx.Hint(fmt::format("More: keyward recovery list --after {}{}", *page.next_after,
                         a.status.empty() ? "" : " --status " + a.status));
  }
  return {};
}

void PrintRequest(Context& ctx, const client::RecoveryRequestInfo& r) {
  ctx.Out(fmt::format("request:      {}", r.id));
  if (r.kind == "restore") {
    ctx.Out(fmt::format("type:         restore of cloud backup {} ({})", r.snapshot_id,
                        r.link ? "the member lost the password too: approval makes a link"
                               : "asked while signed in: the last approval rolls the vault back "
                                 "and unpairs the member's other devices"));
  } else if (r.kind == "device") {
    ctx.Out("type:         new device (approval releases the vault key to that device only)");
    ctx.Out(fmt::format("fingerprint:  {}  (the member reads it off the new device)",
                        crypto::Fingerprint(r.device_public_key)));
  } else {
    ctx.Out("type:         recovery");
  }
  ctx.Out(fmt::format("member:       {} ({})", r.email, r.account_id));
  ctx.Out(fmt::format("status:       {}", client::RequestStatusText(r.status)));
  ctx.Out(fmt::format("requested:    {}", r.created_at));
  if (!r.initiated_by.empty()) {
    ctx.Out(fmt::format("started by:   admin {}", r.initiated_by));
  }
  ctx.Out(fmt::format("device:       {}", Dash(r.device_name)));
  ctx.Out(fmt::format("address:      {}", Dash(r.remote_address)));
  ctx.Out(fmt::format("epoch:        {}", r.epoch));
  ctx.Out(fmt::format("approvals:    {}", Approvals(r)));
  for (const auto& a : r.approvals) {
    ctx.Out(fmt::format("  approved by {} at {}", a.email.empty() ? a.admin_id : a.email, a.at));
  }
  if (r.status == "pending" || r.status == "approved") {
    ctx.Out(fmt::format("{}  {}",
                        r.status == "pending" ? "expires at:" : "link until:", Dash(r.expires_at)));
  }
  if (!r.decided_at.empty()) {
    ctx.Out(fmt::format("decided:      {} by {}", r.decided_at, Dash(r.decided_by)));
  }
  if (!r.decline_reason.empty()) ctx.Out(fmt::format("reason:       {}", r.decline_reason));
  if (!r.completed_at.empty()) ctx.Out(fmt::format("link used:    {}", r.completed_at));
}

Status Show(Context& ctx, const RequestArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto r, Reader(*s).Get(org.id, a.id));
  if (ctx.json()) {
    ctx.OutJson(RequestJson(r));
  } else {
    PrintRequest(ctx, r);
  }
  return {};
}

// The outcome of an approval: the link, once, or how many approvals remain.
Status ShowApproval(Context& ctx, client::ApproveResult& result, bool qr) {
  const client::RecoveryRequestInfo& r = result.request;
  const size_t recorded = r.approvals.size();
  const size_t needed = static_cast<size_t>(r.quorum);
  std::optional<crypto::SecureBytes> drawn;
  if (result.link && qr) {
    KW_ASSIGN_OR_RETURN(auto q, RenderQr(*result.link));
    drawn = std::move(q);
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["request"] = RequestJson(r);
    j["approvals_recorded"] = recorded;
    j["quorum"] = r.quorum;
    if (result.link) j["link"] = client::Json(client::ToSecretString(*result.link));
    ctx.OutJson(j);
    return {};
  }
  if (r.kind == "device" && r.status == "approved") {
    ctx.Out(
        fmt::format("New device of {} approved: it can now finish on its side ('keyward device "
                    "request-finish') until {}. Only that device can open what you released.",
                    r.email, Dash(r.expires_at)));
    return {};
  }
  if (!result.link && r.status == "link_used" && r.kind == "restore") {
    ctx.Out(fmt::format(
        "Restore of {} approved: their vault is rolled back to cloud backup {} and their other "
        "devices are signed out.",
        r.email, r.snapshot_id));
    return {};
  }
  if (!result.link) {
    const size_t more = needed > recorded ? needed - recorded : 1;
    ctx.Out(fmt::format("{} of {} approvals recorded; {} must approve.", recorded, needed,
                        more == 1 ? std::string("another recovery admin")
                                  : fmt::format("{} more recovery admins", more)));
    return {};
  }
  ctx.Out(fmt::format(
      "Recovery of {} approved. Their recovery link (shown only this once, valid until {}):",
      r.email, Dash(r.expires_at)));
  ctx.OutSecret(*result.link);
  if (drawn) ctx.OutSecret(*drawn);
  ctx.Out(fmt::format(
      "Send it to {} over a channel you trust. They run 'keyward recovery redeem LINK' and "
      "confirm with the code emailed to them; the link alone cannot reset their password.",
      r.email));
  return {};
}

Status ApproveCmd(Context& ctx, const RequestArgs& a) {
  if (a.qr && !QrAvailable()) {
    return Fail(RenderQr(crypto::SecureBytes()).error());
  }
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  KW_ASSIGN_OR_RETURN(auto req, Reader(*s).Get(v.org.id, a.id));
  if (req.status != "pending") {
    return Fail(
        Error::Conflict("recovery.not_pending",
                        fmt::format("request {} is {}: only a pending request can be approved",
                                    req.id, client::RequestStatusText(req.status))));
  }
  if (!ctx.json()) PrintRequest(ctx, req);
  const bool device = req.kind == "device";
  // Checked before any prompt or key is unlocked: the key the server
  // lists must be the one the member's device shows.
  if (device) KW_TRY(client::CheckDeviceFingerprint(req, a.device_fingerprint));
  KW_TRY(ConfirmOrCancel(
      ctx,
      device ? fmt::format("Release the vault key of {} to their new device \"{}\"? Check first "
                           "(in person or by phone) that they asked for it.",
                           req.email, req.device_name)
      : req.link ? fmt::format("Approve the {} of {}? Check first (e.g. by phone) that they asked "
                               "for it.",
                               req.kind == "restore" ? "cloud restore" : "recovery", req.email)
                 : fmt::format("Approve rolling the vault of {} back to cloud backup {} and "
                               "unpairing their other devices? Check first (e.g. by phone) that "
                               "they asked for it.",
                               req.email, req.snapshot_id),
      "not approved"));
  KW_ASSIGN_OR_RETURN(auto info, s->client().GetServerInfo());
  if (!req.link && !device) {
    // No link to make: the approval opens no escrow share, so the admin's
    // keys stay locked.
    client::RecoveryAdmin admin(
        s->client(), client::MemberKeys{s->profile().account_id, crypto::GenerateBoxKeyPair()});
    KW_ASSIGN_OR_RETURN(auto result, admin.Approve(v, a.id, info.public_url));
    return ShowApproval(ctx, result, a.qr);
  }
  KW_TRY(s->UnlockKeys(ctx));
  KW_ASSIGN_OR_RETURN(auto keys, MyKeys(*s));
  client::RecoveryAdmin admin(s->client(), std::move(keys));
  KW_ASSIGN_OR_RETURN(auto result, admin.Approve(v, a.id, info.public_url, a.device_fingerprint));
  return ShowApproval(ctx, result, a.qr);
}

Status DeclineCmd(Context& ctx, const RequestArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  std::string reason = a.reason;
  if (reason.empty()) {
    KW_ASSIGN_OR_RETURN(auto asked,
                        ctx.prompt().Line("Reason for declining (emailed to the member): "));
    reason = std::string(asked.view());
  }
  KW_ASSIGN_OR_RETURN(auto r, Reader(*s).Decline(org.id, a.id, reason));
  if (ctx.json()) {
    ctx.OutJson(RequestJson(r));
  } else {
    ctx.Out(
        fmt::format("Request {} declined; {} is emailed your reason and may submit a new request.",
                    r.id, r.email.empty() ? "the member" : r.email));
  }
  return {};
}

Status StartCmd(Context& ctx, const RequestArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  KW_ASSIGN_OR_RETURN(auto m, s->Member(v.org.id, a.member));
  const bool alone = v.org.policy.quorum <= 1;
  KW_TRY(ConfirmOrCancel(
      ctx,
      fmt::format("Start a recovery of {}'s account{}? They will need the link and a code "
                  "emailed to them.",
                  m.email, alone ? " and approve it now" : ""),
      "nothing started"));
  // Keys first: a wrong master password leaves no request behind.
  std::optional<client::MemberKeys> keys;
  if (alone) {
    KW_TRY(s->UnlockKeys(ctx));
    KW_ASSIGN_OR_RETURN(auto k, MyKeys(*s));
    keys = std::move(k);
  }
  KW_ASSIGN_OR_RETURN(auto req, Reader(*s).Start(v.org.id, m.account_id));
  if (alone && req.quorum <= 1) {
    KW_ASSIGN_OR_RETURN(auto info, s->client().GetServerInfo());
    client::RecoveryAdmin admin(s->client(), std::move(*keys));
    KW_ASSIGN_OR_RETURN(auto result, admin.Approve(v, req.id, info.public_url));
    return ShowApproval(ctx, result, a.qr);
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["request"] = RequestJson(req);
    j["approvals_recorded"] = req.approvals.size();
    j["quorum"] = req.quorum;
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format(
      "Recovery request {} started for {}; it needs {} approvals. Recovery admins approve it "
      "with: keyward recovery approve {}",
      req.id, m.email, req.quorum, req.id));
  return {};
}

}  // namespace

Result<client::RequestSubmitted> ConfirmByEmail(Context& ctx, client::Client& c,
                                                const std::string& email, bool code_stdin) {
  CodeHint(ctx, code_stdin,
           fmt::format("If {} can be recovered, a 6-digit code was emailed to it (an email "
                       "explains it when it cannot).",
                       email));
  KW_ASSIGN_OR_RETURN(auto code, AskCode(ctx, code_stdin));
  KW_ASSIGN_OR_RETURN(auto sub, client::ConfirmRecoveryRequest(c, email, code));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["request_id"] = client::Str(sub.request_id);
    j["status"] = client::Str(sub.status.empty() ? "pending" : sub.status);
    j["org_name"] = client::Str(sub.org_name);
    j["expires_at"] = client::Str(sub.expires_at);
    ctx.OutJson(j);
  }
  return sub;
}

Status RequestRecovery(Context& ctx, const std::string& email) {
  RequestArgs a;
  a.email = email;
  return Request(ctx, a);
}

void AddRecoveryRequestCommands(CLI::App& recovery, Action* action) {
  // Each command's errors are explained with the email it was given.
  auto bind = [action](auto fn, std::shared_ptr<RequestArgs> args) {
    return [=] {
      *action = [=](Context& c) -> Status {
        Status st = fn(c, *args);
        if (!st) return Fail(ExplainRequest(st.error(), args->email));
        return st;
      };
    };
  };

  auto request_args = std::make_shared<RequestArgs>();
  auto* request = recovery.add_subcommand(
      "request", "Forgot your master password? Ask your organization to recover your account");
  request->add_option("--email", request_args->email, "Your account's email")->required();
  request->add_option("--device-name", request_args->device_name,
                      "Name of this device, shown to the admin (default: host name)");
  request->add_flag("--code-stdin", request_args->code_stdin,
                    "Read the emailed code from standard input even on a terminal");
  request->callback(bind(Request, request_args));

  auto cancel_args = std::make_shared<RequestArgs>();
  auto* cancel = recovery.add_subcommand("cancel", "Cancel your open recovery request");
  cancel->add_option("--email", cancel_args->email, "Your account's email")->required();
  cancel->add_flag("--code-stdin", cancel_args->code_stdin,
                   "Read the emailed code from standard input even on a terminal");
  cancel->callback(bind(Cancel, cancel_args));

  auto redeem_args = std::make_shared<RequestArgs>();
  auto* redeem = recovery.add_subcommand(
      "redeem", "Set a new master password with the recovery link your admin sent");
  redeem->add_option("LINK", redeem_args->link, "The recovery link (asked for when omitted)");
  redeem->add_option("--fingerprint", redeem_args->fingerprints,
                     "Signing key fingerprint of an organization to escrow to that neither this "
                     "device nor the link vouches for (repeatable)");
  redeem->callback(bind(Redeem, redeem_args));

  auto list_args = std::make_shared<RequestArgs>();
  auto* list = recovery.add_subcommand("list", "Recovery requests of an organization (admins)");
  list->add_option("--org", list_args->org, "Organization id or name");
  list->add_option("--status", list_args->status,
                   "pending, approved, link-used, expired or declined");
  list->add_option("--limit", list_args->limit, "At most this many (1-200, default 50)");
  list->add_option("--after", list_args->after, "Continue after this cursor (from the last page)");
  list->callback(bind(List, list_args));

  auto show_args = std::make_shared<RequestArgs>();
  auto* show = recovery.add_subcommand("show", "One recovery request (admins)");
  show->add_option("ID", show_args->id, "Request id")->required();
  show->add_option("--org", show_args->org, "Organization id or name");
  show->callback(bind(Show, show_args));

  auto approve_args = std::make_shared<RequestArgs>();
  auto* approve = recovery.add_subcommand(
      "approve", "Approve a pending request: prints the recovery link once (admins)");
  approve->add_option("ID", approve_args->id, "Request id")->required();
  approve->add_option("--org", approve_args->org, "Organization id or name");
  approve->add_flag("--qr", approve_args->qr, "Also draw the link as a QR code");
  approve->add_option("--device-fingerprint", approve_args->device_fingerprint,
                      "A new device's request: the fingerprint the member reads off that device");
  approve->callback(bind(ApproveCmd, approve_args));

  auto decline_args = std::make_shared<RequestArgs>();
  auto* decline = recovery.add_subcommand(
      "decline", "Decline a pending request; the reason is emailed to the member (admins)");
  decline->add_option("ID", decline_args->id, "Request id")->required();
  decline->add_option("--reason", decline_args->reason, "Why (asked for when omitted)");
  decline->add_option("--org", decline_args->org, "Organization id or name");
  decline->callback(bind(DeclineCmd, decline_args));

  auto start_args = std::make_shared<RequestArgs>();
  auto* start = recovery.add_subcommand(
      "start", "Start a member's recovery yourself; approves it too when one approval suffices");
  start->add_option("MEMBER", start_args->member, "Email or account id")->required();
  start->add_option("--org", start_args->org, "Organization id or name");
  start->add_flag("--qr", start_args->qr, "Also draw the link as a QR code");
  start->callback(bind(StartCmd, start_args));
}

}  // namespace keyward::cli
