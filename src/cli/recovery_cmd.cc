// keyward recovery enroll | withdraw | status | reset | reset-2fa | reset-sso, and the
// request commands of request_cmd.cc
#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/org_session.h"
#include "cli/request_cmd.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

struct RecoveryArgs {
  std::string org;
  std::string member;
};

void AddOrgOption(CLI::App* cmd, RecoveryArgs& a) {
  cmd->add_option("--org", a.org,
                  "Organization id or name (default: the only organization you belong to)");
}

// Shown before a confirmation: on stdout, or on stderr in --json mode (where
// stdout carries only the result) unless --yes skips the question.
void Preview(Context& ctx, const std::string& text) {
  if (!ctx.json()) {
    ctx.Out(text);
  } else if (!ctx.options().yes) {
    std::fprintf(stderr, "%s\n", text.c_str());
  }
}

Status Enroll(Context& ctx, const RecoveryArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  if (v.org.policy.enrollment == protocol::Enrollment::kDisabled) {
    return Fail(Error::Conflict("org.enrollment_disabled",
                                fmt::format("account recovery is turned off in {} (policy "
                                            "enrollment: disabled); ask an owner or admin",
                                            v.org.name)));
  }
  KW_ASSIGN_OR_RETURN(auto server, s->client().GetServerInfo());
  if (server.recovery_fingerprint.empty()) {
    return Fail(Error::Unavailable("server.recovery_key_missing",
                                   "the server has no recovery key; ask its operator"));
  }
  Preview(ctx,
          fmt::format("organization:                    {} ({})\n"
                      "organization recovery key:       {} (version {})\n"
                      "server recovery key:             {}\n"
                      "recovery mode:                   {}",
                      v.org.name, v.org.id, v.recovery_fingerprint, v.org.key_version,
                      server.recovery_fingerprint, protocol::RecoveryModeName(v.org.policy.mode)));
  std::string question =
      v.org.policy.mode == protocol::RecoveryMode::kAdminReset
          ? fmt::format(
                "Escrow your vault key with {}? In admin-reset mode a recovery admin can "
                "reset your master password, and could then read your vault.",
                v.org.name)
          : fmt::format(
                "Escrow your vault key with {}? Recovering it will need both a recovery "
                "admin and this server.",
                v.org.name);
  KW_TRY(ConfirmOrCancel(ctx, question, "not enrolled"));
  KW_ASSIGN_OR_RETURN(auto auth, s->RecheckPassword(ctx));
  KW_ASSIGN_OR_RETURN(auto e, s->org().Enroll(v, auth));
  if (ctx.json()) {
    client::Json j = EnrollmentJson(e);
    j["org_id"] = client::Str(v.org.id);
    j["recovery_fingerprint"] = client::Str(v.recovery_fingerprint);
    j["server_recovery_fingerprint"] = client::Str(server.recovery_fingerprint);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Enrolled in account recovery of {} (epoch {}, key version {}).",
                        v.org.name, e.epoch, e.key_version));
  }
  return {};
}

Status Withdraw(Context& ctx, const RecoveryArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  // The server enforces these too; checking first spares a password prompt.
  if (org.policy.enrollment == protocol::Enrollment::kMandatory) {
    return Fail(Error::Conflict(
        "org.enrollment_mandatory",
        fmt::format("{} requires account recovery (mandatory policy): you cannot withdraw",
                    org.name)));
  }
  if (!org.enrollment.enrolled()) {
    return Fail(
        Error::Conflict("org.not_enrolled",
                        fmt::format("you are not enrolled in account recovery of {}", org.name)));
  }
  KW_TRY(ConfirmOrCancel(
      ctx,
      fmt::format("Withdraw from account recovery of {}? Nobody there will be able to help "
                  "you back into your vault if you forget your master password.",
                  org.name),
      "still enrolled"));
  KW_ASSIGN_OR_RETURN(auto auth, s->RecheckPassword(ctx));
  KW_TRY(s->org().Withdraw(org.id, auth));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("withdrawn");
    j["org_id"] = client::Str(org.id);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Withdrawn from account recovery of {}; your escrow there is deleted.",
                        org.name));
  }
  return {};
}

Status ShowStatus(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto orgs, s->org().List());
  std::string server_fingerprint;
  if (auto info = s->client().GetServerInfo(); info) {
    server_fingerprint = info->recovery_fingerprint;
  }
  client::Json arr = client::Json::array();
  std::vector<std::vector<std::string>> rows = {
      {"ORGANIZATION", "STATE", "EPOCH", "KEY", "POLICY", "MODE", "RECOVERY KEY FINGERPRINT"}};
  std::vector<std::string> notes;
  for (const auto& o : orgs) {
    // Shown from the statement this device verified, never from the server's word alone.
    std::string fingerprint, problem;
    protocol::RecoveryPolicy policy = o.policy;
    if (s->profile().org_pins.contains(o.id)) {
      auto v = s->VerifyPinned(ctx, o);
      if (v) {
        fingerprint = v->recovery_fingerprint;
        policy = v->org.policy;
      } else {
        problem = Explain(v.error()).message();
      }
    } else {
      problem = fmt::format("not pinned on this device: keyward org trust {}", o.id);
    }
    const client::Enrollment& e = o.enrollment;
    if (ctx.json()) {
      client::Json j = client::Json::object();
      j["org_id"] = client::Str(o.id);
      j["name"] = client::Str(o.name);
      j["state"] = client::Str(e.state);
      j["epoch"] = e.epoch;
      j["key_version"] = e.key_version;
      j["org_key_version"] = o.key_version;
      j["recovery_fingerprint"] = client::Str(fingerprint);
      j["server_recovery_fingerprint"] = client::Str(server_fingerprint);
      j["enrollment"] = client::Str(protocol::EnrollmentName(policy.enrollment));
      j["mode"] = client::Str(protocol::RecoveryModeName(policy.mode));
      j["verified"] = problem.empty();
      if (!problem.empty()) j["problem"] = client::Str(problem);
      arr.push_back(std::move(j));
      continue;
    }
    rows.push_back({o.name, e.state, e.enrolled() ? std::to_string(e.epoch) : "-",
                    e.enrolled() ? fmt::format("v{}", e.key_version) : "-",
                    std::string(protocol::EnrollmentName(policy.enrollment)),
                    std::string(protocol::RecoveryModeName(policy.mode)),
                    fingerprint.empty() ? "(unverified)" : fingerprint});
    if (!problem.empty()) notes.push_back(fmt::format("{}: {}", o.name, problem));
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["server_recovery_fingerprint"] = client::Str(server_fingerprint);
    j["orgs"] = std::move(arr);
    ctx.OutJson(j);
    return {};
  }
  if (orgs.empty()) {
    ctx.Out("You are not a member of any organization.");
    return {};
  }
  PrintTable(ctx, rows);
  ctx.Out(fmt::format("server recovery key fingerprint: {}",
                      server_fingerprint.empty() ? "(none)" : server_fingerprint));
  for (const auto& n : notes) ctx.Hint(n);
  return {};
}

Status Reset(Context& ctx, const RecoveryArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto v, s->ResolveVerified(ctx, a.org));
  if (v.org.policy.mode != protocol::RecoveryMode::kAdminReset) {
    return Fail(Error::Conflict(
        "org.mode_not_admin_reset",
        fmt::format("{} recovers accounts in dual-control mode; resetting a master password needs "
                    "'keyward org policy set --mode admin-reset'",
                    v.org.name)));
  }
  KW_ASSIGN_OR_RETURN(auto m, s->Member(v.org.id, a.member));
  KW_TRY(ConfirmOrCancel(
      ctx,
      fmt::format("Reset the master password of {}? Their sessions end and they must choose "
                  "a new password at their next login.",
                  m.email),
      "nothing reset"));
  KW_TRY(s->UnlockKeys(ctx));
  KW_ASSIGN_OR_RETURN(auto r, s->org().ResetPassword(v, m.account_id));
  const std::string warning = fmt::format(
      "Warning: to set this password your client opened {}'s vault key; whoever knows the "
      "temporary password can read their vault until they change it. Hand it over privately.",
      m.email);
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("password_reset");
    j["account_id"] = client::Str(m.account_id);
    j["email"] = client::Str(m.email);
    j["temporary_password"] = client::Json(client::ToSecretString(r.temporary_password));
    j["warning"] = client::Str(warning);
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format("Temporary master password for {} (shown only this once):", m.email));
  ctx.OutSecret(r.temporary_password);
  ctx.Hint(warning);
  ctx.Hint(fmt::format("{} must choose a new master password at the next login.", m.email));
  return {};
}

Status UnlinkSso(Context& ctx, const RecoveryArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto m, s->Member(org.id, a.member));
  KW_TRY(ConfirmOrCancel(
      ctx,
      fmt::format("Unlink {}'s single sign-on identity? Their next SSO login (with their master "
                  "password) binds the provider account it comes from.",
                  m.email),
      "nothing unlinked"));
  KW_TRY(s->org().UnlinkSso(org.id, m.account_id));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("sso_unlinked");
    j["account_id"] = client::Str(m.account_id);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Unlinked {}'s single sign-on identity.", m.email));
  }
  return {};
}

Status ResetTwoFactor(Context& ctx, const RecoveryArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, OrgSession::Open(ctx, false));
  KW_ASSIGN_OR_RETURN(auto org, s->ResolveOrg(a.org));
  KW_ASSIGN_OR_RETURN(auto m, s->Member(org.id, a.member));
  KW_TRY(ConfirmOrCancel(ctx,
                         fmt::format("Turn off two-step login for {}? They are emailed.", m.email),
                         "nothing reset"));
  KW_TRY(s->org().ResetTwoFactor(org.id, m.account_id));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("two_factor_reset");
    j["account_id"] = client::Str(m.account_id);
    ctx.OutJson(j);
  } else {
    ctx.Out(
        fmt::format("Two-step login is off for {}; they can turn it on again with 'keyward "
                    "2fa enable'.",
                    m.email));
  }
  return {};
}

}  // namespace

void AddRecoveryCommands(CLI::App& app, Action* action) {
  auto* recovery = app.add_subcommand(
      "recovery", "Account recovery: enrollment, requests and links, admin resets");
  recovery->require_subcommand(1);

  auto enroll_args = std::make_shared<RecoveryArgs>();
  auto* enroll = recovery->add_subcommand(
      "enroll", "Escrow your vault key with an organization (asks for the master password)");
  AddOrgOption(enroll, *enroll_args);
  enroll->callback([=] { *action = [=](Context& c) { return Enroll(c, *enroll_args); }; });

  auto withdraw_args = std::make_shared<RecoveryArgs>();
  auto* withdraw = recovery->add_subcommand(
      "withdraw", "Withdraw from account recovery (not under a mandatory policy)");
  AddOrgOption(withdraw, *withdraw_args);
  withdraw->callback([=] { *action = [=](Context& c) { return Withdraw(c, *withdraw_args); }; });

  recovery->add_subcommand("status", "Your enrollment in each organization, with fingerprints")
      ->callback([=] { *action = ShowStatus; });

  auto reset_args = std::make_shared<RecoveryArgs>();
  auto* reset = recovery->add_subcommand(
      "reset", "Admin-reset mode: set a temporary master password for a member");
  reset->add_option("MEMBER", reset_args->member, "Email or account id")->required();
  AddOrgOption(reset, *reset_args);
  reset->callback([=] { *action = [=](Context& c) { return Reset(c, *reset_args); }; });

  auto twofa_args = std::make_shared<RecoveryArgs>();
  auto* twofa = recovery->add_subcommand("reset-2fa", "Turn off a member's two-step login");
  twofa->add_option("MEMBER", twofa_args->member, "Email or account id")->required();
  AddOrgOption(twofa, *twofa_args);
  twofa->callback([=] { *action = [=](Context& c) { return ResetTwoFactor(c, *twofa_args); }; });

  auto sso_args = std::make_shared<RecoveryArgs>();
  auto* sso = recovery->add_subcommand(
      "reset-sso",
      "Unlink a member's single sign-on identity (their next SSO login binds the one it brings)");
  sso->add_option("MEMBER", sso_args->member, "Email or account id")->required();
  AddOrgOption(sso, *sso_args);
  sso->callback([=] { *action = [=](Context& c) { return UnlinkSso(c, *sso_args); }; });

  AddRecoveryRequestCommands(*recovery, action);
}

}  // namespace keyward::cli
