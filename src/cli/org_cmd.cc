// keyward org create | list | members | invite | join | role | grant-recovery |
// revoke | restore | remove | policy show | policy set | rotate-key | trust
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/org_session.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

const std::vector<std::string> kRoles = {"owner", "admin", "custom", "user"};
const std::vector<std::string> kPermissions = {"manage_account_recovery"};

struct OrgArgs {
  std::string org;  // --org
  std::string name;
  std::string email;
  std::string member;
  std::string role;
  std::string permissions;
  std::string token;
  std::string fingerprint;
  bool no_enroll = false;
  // policy set
  std::optional<std::string> enrollment;
  std::optional<std::string> mode;
  std::optional<int> quorum;
  std::optional<std::string> link_ttl;
  std::optional<std::string> pending_ttl;
  std::optional<std::string> pairing_reset;
  std::optional<std::string> snapshot_keep;
  std::optional<std::string> sso;
  std::vector<std::string> notify;
  bool notify_all = false;
};

void AddOrgOption(CLI::App* cmd, OrgArgs& a) {
  cmd->add_option("--org", a.org,
                  "Organization id or name (default: the only organization you belong to)");
}

Result<std::optional<std::string>> FingerprintOption(const std::string& flag) {
  if (flag.empty()) return std::optional<std::string>();
  auto fp = NormalizeFingerprint(flag);
  if (!fp) {
    return Fail(Error::InvalidArgument(
        "cli.usage", "--fingerprint wants the 40 hex digits shown by the organization's owner"));
  }
  return fp;
}

Status FingerprintMismatch() {
  return Fail(Error::Conflict("org.fingerprint_mismatch",
                              "the organization's signing key does not have the fingerprint you "
                              "gave: do not trust it, and tell an owner of the organization"));
}

void PrintVerified(Context& ctx, const client::VerifiedOrg& v) {
  ctx.Out(fmt::format("organization:             {} ({})", v.org.name, v.org.id));
  ctx.Out(fmt::format("signing key fingerprint:  {}", v.signing_fingerprint));
  ctx.Out(fmt::format("recovery key fingerprint: {} (key version {})", v.recovery_fingerprint,
                      v.org.key_version));
}

client::Json VerifiedJson(const client::VerifiedOrg& v) {
  client::Json j = OrgJson(v.org);
  j["signing_fingerprint"] = client::Str(v.signing_fingerprint);
  j["recovery_fingerprint"] = client::Str(v.recovery_fingerprint);
  j["statement_version"] = v.statement.version;
  return j;
}

void Done(Context& ctx, client::Json j, std::string_view text) {
  if (ctx.json()) {
    ctx.OutJson(j);
  } else {
    ctx.Out(text);
  }
}

// ---- create, list, trust ----

Status Create(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, /*with_keys=*/true));
  KW_ASSIGN_OR_RETURN(auto v, s->org().Create(a.name));
  s->profile().org_pins[v.org.id] = v.next_pin;
  KW_TRY(ctx.SaveProfile(s->profile()));
  if (ctx.json()) {
    ctx.OutJson(VerifiedJson(v));
    return {};
  }
  ctx.Out(fmt::format("Created organization {}.", v.org.name));
  PrintVerified(ctx, v);
  ctx.Hint(
      "Members compare the signing key fingerprint when they join (the invitation email shows "
      "it). Recovery is off until you turn it on: keyward org policy set --enrollment opt-in");
  return {};
}

Status List(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto orgs, s->org().List());
  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& o : orgs) arr.push_back(OrgJson(o));
    client::Json j = client::Json::object();
    j["orgs"] = std::move(arr);
    ctx.OutJson(j);
    return {};
  }
  if (orgs.empty()) {
    ctx.Out("You are not a member of any organization.");
    return {};
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ID", "ROLE", "ENROLLMENT", "RECOVERY", "KEY", "PINNED"}};
  for (const auto& o : orgs) {
    rows.push_back({o.name, o.id, RoleText(o.role, o.permissions),
                    std::string(protocol::EnrollmentName(o.policy.enrollment)),
                    EnrollmentText(o.enrollment), fmt::format("v{}", o.key_version),
                    s->profile().org_pins.contains(o.id) ? "yes" : "no"});
  }
  PrintTable(ctx, rows);
  return {};
}

// The self-signed first statement's signing key, pinned on first use and
// checked with the whole chain, without trusting the server for anything.
Result<protocol::VerifiedOrgStatement> VerifyFromFirstUse(
    std::string_view org_id, const std::vector<protocol::SignedOrgStatement>& chain) {
  if (chain.empty()) {
    return Fail(Error::Conflict("org.statement_unsigned", "the organization has no statement"));
  }
  KW_ASSIGN_OR_RETURN(auto first, protocol::DecodeOrgStatement(chain.front().statement));
  if (first.version != 1) {
    return Fail(Error::Conflict("org.statement_malformed",
                                "the server did not send the organization's first statement"));
  }
  KW_ASSIGN_OR_RETURN(auto pin, protocol::PinOnFirstUse(org_id, first.signing_public_key));
  return protocol::VerifyOrgStatementChain(chain, pin, std::time(nullptr));
}

Result<std::vector<protocol::SignedOrgStatement>> FetchStatements(client::Client& c,
                                                                  std::string_view org_id) {
  KW_ASSIGN_OR_RETURN(auto j, c.CallJson("GET", fmt::format("/v1/orgs/{}/statements", org_id)));
  std::vector<protocol::SignedOrgStatement> out;
  if (!j.contains("statements") || !j["statements"].is_array()) {
    return Fail(Error::Internal("client.bad_response", "the server sent no statements"));
  }
  for (const auto& st : j["statements"]) {
    KW_ASSIGN_OR_RETURN(auto statement, client::JsonBase64(st, "statement"));
    KW_ASSIGN_OR_RETURN(auto signature, client::JsonBase64(st, "signature"));
    out.push_back({std::move(statement), std::move(signature)});
  }
  return out;
}

Status Trust(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto expected, FingerprintOption(a.fingerprint));
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto chain, FetchStatements(s->client(), org.id));
  KW_TRY(VerifyFromFirstUse(org.id, chain));
  KW_ASSIGN_OR_RETURN(auto first_statement, protocol::DecodeOrgStatement(chain.front().statement));
  std::string fingerprint = crypto::Fingerprint(first_statement.signing_public_key);
  if (expected && *expected != fingerprint) return FingerprintMismatch();

  auto& pins = s->profile().org_pins;
  auto old = pins.find(org.id);
  if (old != pins.end() && old->second.signing_public_key != first_statement.signing_public_key &&
      !expected) {
    return Fail(Error::Conflict(
        "org.pin_conflict",
        "this device already trusts a different signing key for this organization; give the "
        "expected one with --fingerprint to replace it"));
  }
  if (!ctx.json() || !expected) {
    std::string text = fmt::format("organization:            {} ({})\nsigning key fingerprint: {}",
                                   org.name, org.id, fingerprint);
    if (ctx.json()) {
      std::fprintf(stderr, "%s\n", text.c_str());
    } else {
      ctx.Out(text);
    }
  }
  if (!expected) {
    KW_TRY(ConfirmFingerprintOrCancel(
        ctx, "Does this fingerprint match the one an owner of the organization gave you?",
        "nothing trusted"));
  }
  KW_ASSIGN_OR_RETURN(auto pin,
                      protocol::PinOnFirstUse(org.id, first_statement.signing_public_key));
  KW_ASSIGN_OR_RETURN(auto v, s->org().Verify(org.id, pin));
  pins[org.id] = v.next_pin;
  KW_TRY(ctx.SaveProfile(s->profile()));
  if (ctx.json()) {
    ctx.OutJson(VerifiedJson(v));
  } else {
    ctx.Out(fmt::format("This device now trusts the signing key of {}.", v.org.name));
  }
  return {};
}

// ---- members ----

Status Members(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto list, s->org().Members(org.id));
  if (ctx.json()) {
    client::Json members = client::Json::array();
    for (const auto& m : list.members) {
      client::Json j = client::Json::object();
      j["account_id"] = client::Str(m.account_id);
      j["email"] = client::Str(m.email);
      j["role"] = client::Str(m.role);
      j["permissions"] = client::Str(m.permissions);
      j["status"] = client::Str(m.status);
      j["joined_at"] = client::Str(m.joined_at);
      j["enrollment"] = EnrollmentJson(m.enrollment);
      j["recovery_admin"] = m.recovery_admin;
      j["grant_key_version"] = m.grant_key_version;
      j["recovery_key_granted"] =
          m.recovery_admin && m.grant_key_version != 0 && m.grant_key_version == org.key_version;
      members.push_back(std::move(j));
    }
    client::Json invites = client::Json::array();
    for (const auto& i : list.invites) {
      client::Json j = client::Json::object();
      j["id"] = client::Str(i.id);
      j["email"] = client::Str(i.email);
      j["role"] = client::Str(i.role);
      j["permissions"] = client::Str(i.permissions);
      j["expires_at"] = client::Str(i.expires_at);
      invites.push_back(std::move(j));
    }
    client::Json j = client::Json::object();
    j["org_id"] = client::Str(org.id);
    j["key_version"] = org.key_version;
    j["members"] = std::move(members);
    j["invites"] = std::move(invites);
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format("{} ({}), recovery key version {}", org.name, org.id, org.key_version));
  std::vector<std::vector<std::string>> rows = {
      {"EMAIL", "ROLE", "STATUS", "RECOVERY", "EPOCH", "KEY", "GRANT", "ACCOUNT"}};
  for (const auto& m : list.members) {
    std::string grant = "-";
    if (m.recovery_admin) {
      grant = m.grant_key_version == 0 ? "missing"
              : m.grant_key_version == org.key_version
                  ? fmt::format("v{}", m.grant_key_version)
                  : fmt::format("v{} (old)", m.grant_key_version);
    }
    rows.push_back({m.email, RoleText(m.role, m.permissions), m.status,
                    m.enrollment.enrolled() ? "enrolled" : "not enrolled",
                    m.enrollment.enrolled() ? std::to_string(m.enrollment.epoch) : "-",
                    m.enrollment.enrolled() ? fmt::format("v{}", m.enrollment.key_version) : "-",
                    grant, m.account_id});
  }
  PrintTable(ctx, rows);
  if (!list.invites.empty()) {
    ctx.Out("");
    ctx.Out("Pending invites:");
    std::vector<std::vector<std::string>> inv = {{"EMAIL", "ROLE", "EXPIRES", "ID"}};
    for (const auto& i : list.invites) {
      inv.push_back({i.email, RoleText(i.role, i.permissions), i.expires_at, i.id});
    }
    PrintTable(ctx, inv);
  }
  for (const auto& m : list.members) {
    if (m.recovery_admin && m.grant_key_version != org.key_version) {
      ctx.Hint(
          fmt::format("{} is a recovery admin without the current recovery key: keyward org "
                      "grant-recovery {}",
                      m.email, m.email));
    }
  }
  return {};
}

Status Invite(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto inv, s->org().Invite(org.id, a.email, a.role, a.permissions));
  client::Json j = client::Json::object();
  j["id"] = client::Str(inv.id);
  j["org_id"] = client::Str(org.id);
  j["email"] = client::Str(inv.email);
  j["role"] = client::Str(inv.role);
  j["permissions"] = client::Str(inv.permissions);
  j["expires_at"] = client::Str(inv.expires_at);
  Done(ctx, j,
       fmt::format("Invited {} to {} as {}. The invitation, emailed to them, holds the command to "
                   "join and the signing key fingerprint; it expires {}.",
                   inv.email, org.name, RoleText(inv.role, inv.permissions), inv.expires_at));
  return {};
}

// The invite token: the argument, else asked for.
Result<crypto::SecureBytes> ReadInviteToken(Context& ctx, const OrgArgs& a) {
  if (!a.token.empty()) return crypto::SecureBytes::Copy(a.token);
  KW_ASSIGN_OR_RETURN(auto t, ctx.prompt().Line("Invite token (from the invitation email): "));
  return t;
}

// What the member is about to trust, checked before anything is sent: the
// signing key fingerprint and the verified recovery policy.
struct CheckedInvite {
  std::string fingerprint;
  protocol::RecoveryPolicy policy;
};

Result<CheckedInvite> CheckInvite(const client::InviteInfo& info,
                                  const std::optional<std::string>& expected) {
  std::vector<protocol::SignedOrgStatement> chain;
  for (const auto& st : info.statements) chain.push_back({st.statement, st.signature});
  KW_ASSIGN_OR_RETURN(auto verified, VerifyFromFirstUse(info.org_id, chain));
  KW_ASSIGN_OR_RETURN(auto first, protocol::DecodeOrgStatement(chain.front().statement));
  std::string fingerprint = crypto::Fingerprint(first.signing_public_key);
  if (expected && *expected != fingerprint) return Fail(FingerprintMismatch().error());
  KW_ASSIGN_OR_RETURN(auto policy, protocol::ParsePolicy(verified.statement.policy_json));
  return CheckedInvite{std::move(fingerprint), std::move(policy)};
}

// Shows what joining trusts and asks to join.
Status ConfirmJoin(Context& ctx, const client::InviteInfo& info, const CheckedInvite& checked,
                   const std::optional<std::string>& expected) {
  std::string preview = fmt::format(
      "organization:            {} ({})\nrole:                    {}\nsigning key fingerprint: "
      "{}\nrecovery policy:         enrollment {}, mode {}",
      info.org_name, info.org_id, RoleText(info.role, info.permissions), checked.fingerprint,
      protocol::EnrollmentName(checked.policy.enrollment),
      protocol::RecoveryModeName(checked.policy.mode));
  if (ctx.json()) {
    if (!ctx.options().yes) std::fprintf(stderr, "%s\n", preview.c_str());
  } else {
    ctx.Out(preview);
  }
  if (!expected && !ctx.json() && !ctx.options().yes) {
    ctx.Hint(
        "Check that the fingerprint matches the one in the invitation email (or ask an owner).");
  }
  // Without --fingerprint the member compares the fingerprint on screen:
  // a confirmation --yes cannot give, since the key is trusted from here on.
  const std::string join_question =
      fmt::format("Join {} as {} and trust this signing key?", info.org_name, info.role);
  return expected ? ConfirmOrCancel(ctx, join_question, "not joined")
                  : ConfirmFingerprintOrCancel(ctx, join_question, "not joined");
}

// Whether joining enrolls in account recovery (the policy and --no-enroll),
// said to the member when it does.
bool JoinEnrolls(Context& ctx, const OrgArgs& a, const client::InviteInfo& info,
                 const protocol::RecoveryPolicy& policy) {
  if (policy.enrollment == protocol::Enrollment::kMandatory) {
    std::string text = fmt::format(
        "{} requires account recovery (mandatory policy): joining enrolls you now. Enter your "
        "master password to confirm.",
        info.org_name);
    if (ctx.json()) {
      std::fprintf(stderr, "%s\n", text.c_str());
    } else {
      ctx.Out(text);
    }
    return true;
  }
  if (policy.enrollment == protocol::Enrollment::kOptOut && !a.no_enroll) {
    if (!ctx.json()) {
      ctx.Out(fmt::format(
          "{} enrolls members in account recovery by default (opt-out; --no-enroll to decline). "
          "Enter your master password to confirm.",
          info.org_name));
    }
    return true;
  }
  return false;
}

void PrintJoined(Context& ctx, const client::VerifiedOrg& joined,
                 const protocol::RecoveryPolicy& policy) {
  if (ctx.json()) {
    ctx.OutJson(VerifiedJson(joined));
    return;
  }
  ctx.Out(fmt::format("Joined {} as {}.", joined.org.name,
                      RoleText(joined.org.role, joined.org.permissions)));
  if (joined.org.enrollment.enrolled()) {
    ctx.Out(fmt::format("Enrolled in account recovery (epoch {}, recovery key fingerprint {}).",
                        joined.org.enrollment.epoch, joined.recovery_fingerprint));
  } else if (policy.enrollment != protocol::Enrollment::kDisabled) {
    ctx.Hint(fmt::format("To let {} help you back into your vault: keyward recovery enroll",
                         joined.org.name));
  }
}

Status Join(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto expected, FingerprintOption(a.fingerprint));
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto token, ReadInviteToken(ctx, a));
  KW_ASSIGN_OR_RETURN(auto info, s->org().LookupInvite(token));
  KW_ASSIGN_OR_RETURN(auto checked, CheckInvite(info, expected));
  KW_TRY(ConfirmJoin(ctx, info, checked, expected));
  const bool enroll = JoinEnrolls(ctx, a, info, checked.policy);
  if (enroll) {
    KW_TRY(s->RecheckPassword(ctx));
  }
  KW_ASSIGN_OR_RETURN(auto joined, s->org().Join(token, info, expected, enroll));
  s->profile().org_pins[joined.org.id] = joined.next_pin;
  KW_TRY(ctx.SaveProfile(s->profile()));
  PrintJoined(ctx, joined, checked.policy);
  return {};
}

// ---- member keys ----

// The member's public key as the server lists it, sealed to only when this
// device confirmed it before (the profile's member_keys) or the person
// confirms its fingerprint now: --fingerprint, or comparing it on screen
// with what the member reads from 'keyward account show'. Pinned once
// accepted, so that later grants and rotations need no new comparison.
Result<crypto::Bytes> ConfirmMemberKey(Context& ctx, OrgSession& s, const client::OrgMember& m,
                                       const std::string& flag) {
  if (m.public_key.size() != 32) {
    return Fail(Error::Unavailable("server.bad_response",
                                   "the server's answer has a member without a public key"));
  }
  const std::string fingerprint = crypto::Fingerprint(m.public_key);
  std::optional<std::string> expected;
  if (!flag.empty()) {
    expected = NormalizeFingerprint(flag);
    if (!expected) {
      return Fail(Error::InvalidArgument(
          "cli.usage", "--fingerprint wants the 40 hex digits of 'keyward account show'"));
    }
    if (*expected != fingerprint) {
      return Fail(Error::Conflict(
          "org.member_key_mismatch",
          fmt::format("the server gives {} a member key that does not have the fingerprint you "
                      "gave: nothing granted (tell the member and an owner)",
                      m.email)));
    }
  }
  auto& pinned = s.profile().member_keys;
  if (auto it = pinned.find(m.account_id); it != pinned.end()) {
    if (it->second == m.public_key) return it->second;
    if (!expected) {
      return Fail(Error::Conflict(
          "org.member_key_changed",
          fmt::format("the server now gives {} another member key than the one this device "
                      "confirmed; nothing granted. If the member really has a new key, compare "
                      "its fingerprint and give it with --fingerprint",
                      m.email)));
    }
  }
  if (!expected) {
    std::string text = fmt::format(
        "member:                 {} ({})\nmember key fingerprint: {}\nThe recovery key is sealed "
        "to this key: compare it with the fingerprint {} reads from 'keyward account show'.",
        m.email, m.account_id, fingerprint, m.email);
    if (ctx.json()) {
      std::fprintf(stderr, "%s\n", text.c_str());
    } else {
      ctx.Out(text);
    }
    KW_TRY(ConfirmFingerprintOrCancel(
        ctx, fmt::format("Does it match the fingerprint {} gave you?", m.email),
        "nothing granted"));
  }
  pinned[m.account_id] = m.public_key;
  KW_TRY(ctx.SaveProfile(s.profile()));
  return m.public_key;
}

Status SetRole(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  KW_ASSIGN_OR_RETURN(auto m, s->Member(v.org.id, a.member));
  crypto::Bytes member_key;
  if (client::RoleChangeNeedsGrant(v, m, a.role, a.permissions)) {
    KW_ASSIGN_OR_RETURN(auto key, ConfirmMemberKey(ctx, *s, m, a.fingerprint));
    member_key = std::move(key);
  }
  KW_TRY(s->UnlockKeys(ctx));
  KW_TRY(s->org().SetRole(v, m.account_id, a.role, a.permissions, member_key));
  client::Json j = client::Json::object();
  j["status"] = client::Str("role_changed");
  j["account_id"] = client::Str(m.account_id);
  j["role"] = client::Str(a.role);
  j["permissions"] = client::Str(a.permissions);
  Done(ctx, j, fmt::format("{} is now {}.", m.email, RoleText(a.role, a.permissions)));
  return {};
}

Status GrantRecovery(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  KW_ASSIGN_OR_RETURN(auto m, s->Member(v.org.id, a.member));
  KW_ASSIGN_OR_RETURN(auto member_key, ConfirmMemberKey(ctx, *s, m, a.fingerprint));
  KW_TRY(s->UnlockKeys(ctx));
  KW_TRY(s->org().GrantRecovery(v, m.account_id, member_key));
  client::Json j = client::Json::object();
  j["status"] = client::Str("granted");
  j["account_id"] = client::Str(m.account_id);
  j["key_version"] = v.org.key_version;
  Done(ctx, j,
       fmt::format("{} now holds the recovery key (version {}) of {}.", m.email, v.org.key_version,
                   v.org.name));
  return {};
}

enum class MemberAction { kRevoke, kRestore, kRemove };

Status ChangeMember(Context& ctx, const OrgArgs& a, MemberAction action) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto m, s->Member(org.id, a.member));
  Status st;
  std::string status, text;
  switch (action) {
    case MemberAction::kRevoke:
      st = s->org().Revoke(org.id, m.account_id);
      status = "revoked";
      text = fmt::format(
          "Revoked {}: the membership stays, access and recovery key grants are gone.", m.email);
      break;
    case MemberAction::kRestore:
      st = s->org().Restore(org.id, m.account_id);
      status = "restored";
      text = fmt::format("Restored {}.", m.email);
      break;
    case MemberAction::kRemove:
      KW_TRY(
          ConfirmOrCancel(ctx,
                          fmt::format("Remove {} from {} (membership, grants and recovery escrow)?",
                                      m.email, org.name),
                          "nobody removed"));
      st = s->org().Remove(org.id, m.account_id);
      status = "removed";
      text = fmt::format("Removed {} from {}.", m.email, org.name);
      break;
  }
  if (!st) return st;
  client::Json j = client::Json::object();
  j["status"] = client::Str(status);
  j["account_id"] = client::Str(m.account_id);
  Done(ctx, j, text);
  return {};
}

// ---- policy ----

Status PolicyShow(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["org_id"] = client::Str(v.org.id);
    j["statement_version"] = v.statement.version;
    j["policy"] = PolicyJson(v.org.policy);
    j["signing_fingerprint"] = client::Str(v.signing_fingerprint);
    j["recovery_fingerprint"] = client::Str(v.recovery_fingerprint);
    ctx.OutJson(j);
    return {};
  }
  PrintVerified(ctx, v);
  PrintPolicy(ctx, v.org.policy);
  ctx.Out(fmt::format("statement version:        {} (verified against this device's pin)",
                      v.statement.version));
  return {};
}

Status Usage(std::string message) {
  return Fail(Error::InvalidArgument("cli.usage", std::move(message)));
}

// The policy set options, parsed: everything that can be checked offline
// is, before any prompt.
struct PolicyChanges {
  std::optional<protocol::Enrollment> enrollment;
  std::optional<protocol::RecoveryMode> mode;
  std::optional<int64_t> link_ttl, pending_ttl;
  std::optional<bool> pairing_reset;
  std::optional<uint32_t> snapshot_keep;
  std::optional<bool> require_sso;
};

// "1".."100" (digits only: no sign, no fraction, no spaces).
std::optional<uint32_t> ParseSnapshotKeep(std::string_view text) {
  if (text.empty() || text.size() > 3 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint32_t n = 0;
  for (char c : text) n = n * 10 + static_cast<uint32_t>(c - '0');
  if (n < protocol::kMinSnapshotKeep || n > protocol::kMaxSnapshotKeep) return std::nullopt;
  return n;
}

Status ParsePolicyChanges(const OrgArgs& a, PolicyChanges& out) {
  if (!a.enrollment && !a.mode && !a.quorum && !a.link_ttl && !a.pending_ttl && !a.pairing_reset &&
      !a.snapshot_keep && !a.sso && a.notify.empty() && !a.notify_all) {
    return Fail(Error::InvalidArgument(
        "cli.usage",
        "nothing to change: give --enrollment, --mode, --quorum, --link-ttl, --pending-ttl, "
        "--pairing-reset, --snapshot-keep, --sso or --notify (see 'keyward org policy set "
        "--help')"));
  }
  if (a.sso) {
    if (*a.sso != "required" && *a.sso != "optional") {
      return Usage("--sso must be required or optional");
    }
    out.require_sso = *a.sso == "required";
  }
  if (a.enrollment) {
    auto e = protocol::ParseEnrollment(*a.enrollment);
    if (!e) return Usage(e.error().message());
    out.enrollment = *e;
  }
  if (a.mode) {
    auto m = protocol::ParseRecoveryMode(*a.mode);
    if (!m) return Usage(m.error().message());
    out.mode = *m;
  }
  if (a.link_ttl) {
    auto d = protocol::ParseDuration(*a.link_ttl);
    if (!d) return Usage("--link-ttl: " + d.error().message());
    out.link_ttl = *d;
  }
  if (a.pending_ttl) {
    auto d = protocol::ParseDuration(*a.pending_ttl);
    if (!d) return Usage("--pending-ttl: " + d.error().message());
    out.pending_ttl = *d;
  }
  if (a.pairing_reset) {
    if (*a.pairing_reset != "allow" && *a.pairing_reset != "deny") {
      return Usage("--pairing-reset must be allow or deny");
    }
    out.pairing_reset = *a.pairing_reset == "allow";
  }
  if (a.snapshot_keep) {
    out.snapshot_keep = ParseSnapshotKeep(*a.snapshot_keep);
    if (!out.snapshot_keep) {
      return Usage(fmt::format("--snapshot-keep must be a whole number {}..{}",
                               protocol::kMinSnapshotKeep, protocol::kMaxSnapshotKeep));
    }
  }
  return {};
}

// `policy` with the options given applied.
protocol::RecoveryPolicy ApplyPolicyChanges(protocol::RecoveryPolicy policy, const OrgArgs& a,
                                            const PolicyChanges& changes) {
  if (changes.enrollment) policy.enrollment = *changes.enrollment;
  if (changes.mode) policy.mode = *changes.mode;
  if (a.quorum) policy.quorum = *a.quorum;
  if (changes.link_ttl) policy.link_ttl = *changes.link_ttl;
  if (changes.pending_ttl) policy.pending_ttl = *changes.pending_ttl;
  if (changes.pairing_reset) policy.pairing_reset = *changes.pairing_reset;
  if (changes.snapshot_keep) policy.snapshot_keep = *changes.snapshot_keep;
  if (changes.require_sso) policy.require_sso = *changes.require_sso;
  if (a.notify_all) policy.notify.clear();
  if (!a.notify.empty()) {
    policy.notify.clear();
    for (const auto& e : a.notify) policy.notify.push_back(Lower(e));
  }
  return policy;
}

// protocol::ValidatePolicy, as a usage error naming the option.
Status ValidatePolicyOptions(const protocol::RecoveryPolicy& policy) {
  if (auto st = protocol::ValidatePolicy(policy); !st) {
    // "link_ttl must be ..." names the field: name the option instead.
    std::string message = st.error().message();
    for (std::string_view field :
         {"enrollment", "mode", "quorum", "link_ttl", "pending_ttl", "snapshot_keep", "notify"}) {
      if (message.starts_with(field)) {
        std::string option = "--" + std::string(field);
        std::replace(option.begin(), option.end(), '_', '-');
        message = option + message.substr(field.size());
        break;
      }
    }
    return Usage(message);
  }
  return {};
}

void PrintPolicyUnchanged(Context& ctx, const client::VerifiedOrg& v,
                          const protocol::RecoveryPolicy& policy) {
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["org_id"] = client::Str(v.org.id);
    j["policy"] = PolicyJson(policy);
    j["changed"] = false;
    ctx.OutJson(j);
  } else {
    ctx.Out("The policy already says so; nothing changed.");
  }
}

void PrintPolicyChanged(Context& ctx, const client::VerifiedOrg& next) {
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["org_id"] = client::Str(next.org.id);
    j["policy"] = PolicyJson(next.org.policy);
    j["statement_version"] = next.statement.version;
    j["changed"] = true;
    ctx.OutJson(j);
    return;
  }
  ctx.Out(fmt::format("Recovery policy of {} updated (statement version {}):", next.org.name,
                      next.statement.version));
  PrintPolicy(ctx, next.org.policy);
}

Status PolicySet(Context& ctx, const OrgArgs& a) {
  PolicyChanges changes;
  KW_TRY(ParsePolicyChanges(a, changes));
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  const protocol::RecoveryPolicy policy = ApplyPolicyChanges(v.org.policy, a, changes);
  KW_TRY(ValidatePolicyOptions(policy));
  if (policy == v.org.policy) {
    PrintPolicyUnchanged(ctx, v, policy);
    return {};
  }
  KW_TRY(s->UnlockKeys(ctx));
  KW_ASSIGN_OR_RETURN(auto next, s->org().SetPolicy(v, policy));
  s->profile().org_pins[next.org.id] = next.next_pin;
  KW_TRY(ctx.SaveProfile(s->profile()));
  PrintPolicyChanged(ctx, next);
  return {};
}

// ---- rotation ----

// The new key goes to the recovery admins whose member keys this device
// confirmed; any other is asked about (a comparison --yes cannot make) or
// left out, to be granted later with 'keyward org grant-recovery'.
// `pinned_new` says whether a newly confirmed key was pinned.
client::MemberKeyCheck TrustedNewKeyHolder(Context& ctx, OrgSession& s, bool& pinned_new) {
  return [&ctx, &s, &pinned_new](const client::OrgMember& m) -> Result<bool> {
    auto& pinned = s.profile().member_keys;
    if (auto it = pinned.find(m.account_id); it != pinned.end()) return it->second == m.public_key;
    std::string text = fmt::format(
        "recovery admin:         {} ({})\nmember key fingerprint: {} (not confirmed on this "
        "device)",
        m.email, RoleText(m.role, m.permissions), crypto::Fingerprint(m.public_key));
    std::fprintf(stderr, "%s\n", text.c_str());
    KW_ASSIGN_OR_RETURN(
        auto yes,
        ConfirmFingerprintOrNo(
            ctx,
            fmt::format(
                "Grant the new key to {}: does the fingerprint match the one they gave you?",
                m.email),
            "'keyward org grant-recovery' afterwards"));
    if (yes) {
      pinned[m.account_id] = m.public_key;
      pinned_new = true;
    }
    return yes;
  };
}

void PrintRotated(Context& ctx, const client::VerifiedOrg& v, const client::RotationResult& r,
                  const client::VerifiedOrg& after) {
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["org_id"] = client::Str(v.org.id);
    j["key_version"] = r.key_version;
    j["rewrapped"] = r.rewrapped;
    j["skipped"] = r.skipped;
    j["resumed"] = r.resumed;
    j["recovery_fingerprint"] = client::Str(after.recovery_fingerprint);
    client::Json left_out = client::Json::array();
    for (const auto& m : r.not_granted) left_out.push_back(client::Str(m.account_id));
    j["not_granted"] = std::move(left_out);
    ctx.OutJson(j);
    return;
  }
  for (const auto& m : r.not_granted) {
    ctx.Out(
        fmt::format("Not granted the new key: {} (member key not confirmed on this device); "
                    "run 'keyward org grant-recovery {}' after comparing fingerprints.",
                    m.email, m.email));
  }
  ctx.Out(fmt::format("{} the recovery key of {}: now version {}, fingerprint {}.",
                      r.resumed ? "Finished rotating" : "Rotated", v.org.name, r.key_version,
                      after.recovery_fingerprint));
  ctx.Out(
      fmt::format("Re-wrapped {} member escrow(s); {} skipped (changed meanwhile or already "
                  "current).",
                  r.rewrapped, r.skipped));
}

Status RotateKey(Context& ctx, const OrgArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, true));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  bool pinned_new = false;
  ProgressBar bar(ctx, "Re-wrapping", "members");
  auto r = s->org().RotateKey(v, bar.Fn(), TrustedNewKeyHolder(ctx, *s, pinned_new));
  bar.Done();
  if (pinned_new) {
    KW_TRY(ctx.SaveProfile(s->profile()));
  }
  if (!r) return Fail(r.error());
  // The rotation signed a new statement: move the pin along.
  KW_ASSIGN_OR_RETURN(auto after, s->VerifyPinned(ctx, v.org));
  PrintRotated(ctx, v, *r, after);
  return {};
}

// org create | list | members
void AddOrgOverviewCommands(CLI::App* org, Action* action) {
  auto create_args = std::make_shared<OrgArgs>();
  auto* create = org->add_subcommand(
      "create", "Create an organization (you become its owner; prints its fingerprints)");
  create->add_option("NAME", create_args->name, "Organization name")->required();
  create->callback([=] { *action = [=](Context& c) { return Create(c, *create_args); }; });

  org->add_subcommand("list", "Your organizations")->callback([=] { *action = List; });

  auto members_args = std::make_shared<OrgArgs>();
  auto* members = org->add_subcommand(
      "members", "Members with role, status, recovery enrollment and grants; pending invites");
  AddOrgOption(members, *members_args);
  members->callback([=] { *action = [=](Context& c) { return Members(c, *members_args); }; });
}

// org invite | join
void AddInviteCommands(CLI::App* org, Action* action) {
  auto invite_args = std::make_shared<OrgArgs>();
  auto* invite =
      org->add_subcommand("invite", "Invite someone by email (the token is only emailed)");
  invite->add_option("EMAIL", invite_args->email, "Email of the person to invite")->required();
  invite->add_option("--role", invite_args->role, "owner, admin, custom or user")
      ->required()
      ->check(CLI::IsMember(kRoles));
  invite
      ->add_option("--permissions", invite_args->permissions,
                   "For the custom role: manage_account_recovery")
      ->check(CLI::IsMember(kPermissions));
  AddOrgOption(invite, *invite_args);
  invite->callback([=] { *action = [=](Context& c) { return Invite(c, *invite_args); }; });

  auto join_args = std::make_shared<OrgArgs>();
  auto* join = org->add_subcommand(
      "join", "Join with the token from the invitation email (asked for when not given)");
  join->add_option("TOKEN", join_args->token, "Invite token (the emailed command holds it)");
  join->add_option("--fingerprint", join_args->fingerprint,
                   "Signing key fingerprint to expect (from the email or an owner)");
  join->add_flag("--no-enroll", join_args->no_enroll,
                 "Under an opt-out policy: do not enroll in account recovery now");
  join->callback([=] { *action = [=](Context& c) { return Join(c, *join_args); }; });
}

// org role | grant-recovery | revoke | restore | remove
void AddMemberCommands(CLI::App* org, Action* action) {
  auto role_args = std::make_shared<OrgArgs>();
  auto* role = org->add_subcommand("role", "Change a member's role");
  role->add_option("MEMBER", role_args->member, "Email or account id")->required();
  role->add_option("ROLE", role_args->role, "owner, admin, custom or user")
      ->required()
      ->check(CLI::IsMember(kRoles));
  role->add_option("--permissions", role_args->permissions,
                   "For the custom role: manage_account_recovery")
      ->check(CLI::IsMember(kPermissions));
  role->add_option("--fingerprint", role_args->fingerprint,
                   "The member key fingerprint the member gave (from 'keyward account show'), "
                   "when the role makes them a recovery admin");
  AddOrgOption(role, *role_args);
  role->callback([=] { *action = [=](Context& c) { return SetRole(c, *role_args); }; });

  auto grant_args = std::make_shared<OrgArgs>();
  auto* grant = org->add_subcommand(
      "grant-recovery", "Seal the organization's recovery key to a recovery admin who lacks it");
  grant->add_option("MEMBER", grant_args->member, "Email or account id")->required();
  grant->add_option("--fingerprint", grant_args->fingerprint,
                    "The member key fingerprint the member gave (from 'keyward account show')");
  AddOrgOption(grant, *grant_args);
  grant->callback([=] { *action = [=](Context& c) { return GrantRecovery(c, *grant_args); }; });

  struct Simple {
    const char* name;
    const char* help;
    MemberAction action;
  };
  for (const Simple& m :
       {Simple{"revoke", "Suspend a member (access and grants)", MemberAction::kRevoke},
        Simple{"restore", "Restore a revoked member", MemberAction::kRestore},
        Simple{"remove", "Remove a member (and their recovery escrow)", MemberAction::kRemove}}) {
    auto args = std::make_shared<OrgArgs>();
    auto* cmd = org->add_subcommand(m.name, m.help);
    cmd->add_option("MEMBER", args->member, "Email or account id")->required();
    AddOrgOption(cmd, *args);
    MemberAction which = m.action;
    cmd->callback([=] { *action = [=](Context& c) { return ChangeMember(c, *args, which); }; });
  }
}

// org policy show | set
void AddPolicyCommands(CLI::App* org, Action* action) {
  auto* policy = org->add_subcommand("policy", "The organization's recovery policy");
  policy->require_subcommand(1);
  auto show_args = std::make_shared<OrgArgs>();
  auto* show = policy->add_subcommand("show", "Show the policy (verified against your pin)");
  AddOrgOption(show, *show_args);
  show->callback([=] { *action = [=](Context& c) { return PolicyShow(c, *show_args); }; });

  auto set_args = std::make_shared<OrgArgs>();
  auto* set = policy->add_subcommand(
      "set", "Change the policy (options not given keep their current value)");
  set->add_option("--enrollment", set_args->enrollment, "disabled, opt-in, opt-out or mandatory");
  set->add_option("--mode", set_args->mode, "dual-control or admin-reset");
  set->add_option("--quorum", set_args->quorum,
                  fmt::format("Approvals needed, 1-{}", protocol::kMaxQuorum));
  set->add_option("--link-ttl", set_args->link_ttl, "Recovery link lifetime, e.g. 24h, 30m");
  set->add_option("--pending-ttl", set_args->pending_ttl, "Pending request lifetime, e.g. 7d");
  set->add_option("--pairing-reset", set_args->pairing_reset,
                  "allow or deny: whether a member may set a new master password on a newly "
                  "paired device without the old one (account password --forgotten)");
  set->add_option("--snapshot-keep", set_args->snapshot_keep,
                  fmt::format("Cloud backups (backup push) the server keeps per member, {}-{} "
                              "(default {}); the oldest beyond it are deleted",
                              protocol::kMinSnapshotKeep, protocol::kMaxSnapshotKeep,
                              protocol::kDefaultSnapshotKeep))
      ->type_name("N");
  set->add_option("--sso", set_args->sso,
                  "required or optional: whether members (owners excepted) must sign in through "
                  "the organization's identity provider (docs/sso.md; the server must have it "
                  "configured)");
  auto* notify = set->add_option("--notify", set_args->notify,
                                 "Admins emailed about new requests (replaces the list)");
  set->add_flag("--notify-all", set_args->notify_all,
                "Email every recovery admin about new requests")
      ->excludes(notify);
  AddOrgOption(set, *set_args);
  set->callback([=] { *action = [=](Context& c) { return PolicySet(c, *set_args); }; });
}

// org rotate-key | trust
void AddKeyCommands(CLI::App* org, Action* action) {
  auto rotate_args = std::make_shared<OrgArgs>();
  auto* rotate = org->add_subcommand(
      "rotate-key", "Rotate the recovery key and re-wrap every escrow (rerun to resume)");
  AddOrgOption(rotate, *rotate_args);
  rotate->callback([=] { *action = [=](Context& c) { return RotateKey(c, *rotate_args); }; });

  auto trust_args = std::make_shared<OrgArgs>();
  auto* trust = org->add_subcommand(
      "trust", "Pin an organization's signing key on this device (e.g. a new device)");
  trust->add_option("ORG", trust_args->org, "Organization id or name")->required();
  trust->add_option("--fingerprint", trust_args->fingerprint,
                    "Signing key fingerprint to expect (from an owner)");
  trust->callback([=] { *action = [=](Context& c) { return Trust(c, *trust_args); }; });
}

}  // namespace

void AddOrgCommands(CLI::App& app, Action* action) {
  auto* org = app.add_subcommand("org", "Organizations: members, roles, recovery policy, keys");
  org->require_subcommand(1);
  AddOrgOverviewCommands(org, action);
  AddInviteCommands(org, action);
  AddMemberCommands(org, action);
  AddPolicyCommands(org, action);
  AddKeyCommands(org, action);
}

}  // namespace keyward::cli
