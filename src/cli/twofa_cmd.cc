// keyward 2fa enable | disable
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

Status Enable(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password("Master password: "));
  KW_ASSIGN_OR_RETURN(auto enrolment, c.BeginTotp(password));

  // Shown before the code is asked for, so the user (or a script) can add
  // the secret to an authenticator first.
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["secret"] = client::Json(client::ToSecretString(enrolment.secret));
    j["uri"] = client::Json(client::ToSecretString(enrolment.uri));
    ctx.OutJson(j);
  } else {
    client::SecretString s = client::ToSecretString("Secret: ");
    s.append(enrolment.secret.view().data(), enrolment.secret.size());
    ctx.OutSecret(client::ToSecureBytes(s));
    client::SecretString u = client::ToSecretString("URI:    ");
    u.append(enrolment.uri.view().data(), enrolment.uri.size());
    ctx.OutSecret(client::ToSecureBytes(u));
    ctx.Out("Add this secret to your authenticator app, then type the code it shows.");
  }
  Prompter::FlushOutput();

  KW_ASSIGN_OR_RETURN(auto code, ctx.prompt().Line("Code from your authenticator app: "));
  KW_ASSIGN_OR_RETURN(auto codes, c.ConfirmTotp(code));

  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& rc : codes) arr.push_back(client::Json(client::ToSecretString(rc)));
    client::Json j = client::Json::object();
    j["status"] = client::Str("enabled");
    j["recovery_codes"] = std::move(arr);
    ctx.OutJson(j);
  } else {
    ctx.Out("Two-step login is on. Keep these recovery codes somewhere safe; each works once");
    ctx.Out("in place of a code if you lose your authenticator:");
    for (const auto& rc : codes) {
      client::SecretString line = client::ToSecretString("  ");
      line.append(rc.view().data(), rc.size());
      ctx.OutSecret(client::ToSecureBytes(line));
    }
  }
  return {};
}

Status Disable(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password("Master password: "));
  KW_TRY(c.DisableTotp(password));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("disabled");
    ctx.OutJson(j);
  } else {
    ctx.Out("Two-step login is off.");
  }
  return {};
}

}  // namespace

void AddTwoFactorCommands(CLI::App& app, Action* action) {
  auto* tfa = app.add_subcommand("2fa", "Two-step login (TOTP)");
  tfa->require_subcommand(1);
  tfa->add_subcommand("enable", "Turn on two-step login (shows a secret, asks for a code)")
      ->callback([=] { *action = Enable; });
  tfa->add_subcommand("disable", "Turn off two-step login")->callback([=] { *action = Disable; });
}

}  // namespace keyward::cli
