// keyward account register | verify | resend | show | delete | password
#include <cstdlib>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/member_paths.h"
#include "cli/org_session.h"
#include "common/try.h"
#include "keyward/org.h"

namespace keyward::cli {
namespace {

void Done(Context& ctx, std::string_view status, std::string_view text) {
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str(status);
    ctx.OutJson(j);
  } else {
    ctx.Out(text);
  }
}

Status Register(Context& ctx, const std::string& email) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(
      auto password, ctx.prompt().NewPassword("New master password: ", "Repeat master password: "));
  KW_TRY(c.Register(email, password));
  Done(ctx, "verification_sent",
       fmt::format("Registration received. Check {} for a 6-digit code, then run: keyward "
                   "account verify --email {}",
                   email, email));
  return {};
}

Status Verify(Context& ctx, const std::string& email) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto code, ctx.prompt().Line("Code from the email: "));
  KW_TRY(c.Verify(email, code));
  Done(ctx, "verified",
       fmt::format("Account verified. Log in with: keyward login --email {}", email));
  return {};
}

Status Resend(Context& ctx, const std::string& email) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = ctx.MakeClient(profile);
  KW_TRY(c.ResendVerification(email));
  Done(ctx, "verification_sent",
       fmt::format("If {} awaits verification, a new code was sent.", email));
  return {};
}

// The member key fingerprint is what an admin compares before granting this
// account an organization's recovery key: computed from the key pair the
// vault key opens, so a server cannot show another.
Status Show(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  KW_ASSIGN_OR_RETURN(auto account, c.GetAccount());
  KW_ASSIGN_OR_RETURN(auto keys, client::UnwrapMemberKeys(uk, account.id, account.public_key,
                                                          account.wrapped_private_key));
  const std::string fingerprint = crypto::Fingerprint(keys.key_pair.public_key);
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["email"] = client::Str(account.email);
    j["account_id"] = client::Str(account.id);
    j["member_key_fingerprint"] = client::Str(fingerprint);
    j["two_factor"] = account.two_factor_enabled;
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format("email:                  {}", account.email));
  ctx.Out(fmt::format("account id:             {}", account.id));
  ctx.Out(fmt::format("member key fingerprint: {}", fingerprint));
  ctx.Out(fmt::format("two-step login:         {}", account.two_factor_enabled ? "on" : "off"));
  ctx.Hint(
      "An admin who grants you an organization's recovery key compares the member key "
      "fingerprint with you first.");
  return {};
}

Status Delete(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  KW_ASSIGN_OR_RETURN(auto yes,
                      ctx.prompt().Confirm(fmt::format(
                          "Delete the account {} and all of its items for good?", profile.email)));
  if (!yes) return Fail(Error::InvalidArgument("cli.cancelled", "cancelled; nothing deleted"));
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password("Master password: "));
  KW_TRY(c.DeleteAccount(password));
  client::Profile cleared;
  cleared.server_url = profile.server_url;
  cleared.device_id = profile.device_id;
  cleared.device_name = profile.device_name;
  KW_TRY(ctx.SaveProfile(cleared));
  Done(ctx, "deleted", "Account deleted.");
  return {};
}

Status ChangePassword(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto current, ctx.prompt().Password("Current master password: "));
  KW_ASSIGN_OR_RETURN(auto fresh, ctx.prompt().NewPassword("New master password: ",
                                                           "Repeat new master password: "));
  // Every organization escrow is renewed with the password (a wrong current
  // password fails here, before anything changes).
  KW_ASSIGN_OR_RETURN(auto unlocked, c.UnlockWithPassword(current));
  KW_ASSIGN_OR_RETURN(auto escrows,
                      FreshEscrowsFor(c, unlocked.vault_key, unlocked.account, profile));
  KW_TRY(c.ChangePassword(current, fresh, escrows));
  Done(ctx, "password_changed",
       "Master password changed. Your other devices were signed out; this one stays signed in.");
  return {};
}

// When nothing else works: a new, empty vault for the same account
// (docs/recovery.md "Start over with a new vault").
Status Restart(Context& ctx, const std::string& email) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  profile.token.clear();
  client::Client c = ctx.MakeClient(profile);
  ctx.Hint(
      "Starting over deletes everything in your vault for good and signs out every device. "
      "Your organizations stay (enroll in recovery again when asked). A local backup can be "
      "restored afterwards with the password it was made with.");
  KW_ASSIGN_OR_RETURN(bool yes, ctx.prompt().Confirm("Start over with a new, empty vault?"));
  if (!yes) return Fail(Error::InvalidArgument("cli.cancelled", "cancelled; nothing changed"));
  KW_TRY(c.AskRestartCode(email));
  ctx.Hint(fmt::format("If {} has an account, a code was emailed to it.", email));
  KW_ASSIGN_OR_RETURN(auto code, ctx.prompt().Line("Code from the email: "));
  KW_ASSIGN_OR_RETURN(auto ticket, c.VerifyRestart(email, code));
  KW_ASSIGN_OR_RETURN(auto fresh, ctx.prompt().NewPassword("New master password: ",
                                                           "Repeat new master password: "));
  KW_TRY(c.Restart(ticket, fresh));
  profile.protected_vault_key.clear();
  if (profile.account_id == ticket.account_id || profile.account_id.empty()) {
    KW_TRY(ctx.SaveProfile(profile));
  }
  Done(ctx, "restarted",
       fmt::format("Started over with a new, empty vault. Log in with: keyward login --email {}",
                   email));
  return {};
}

// On a device just paired (keyward device pair): the vault key is in this
// shell's session, the old password is not needed (nor known).
Status ChangeForgottenPassword(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  if (std::getenv(kSessionEnv) == nullptr) {
    return Fail(Error::InvalidArgument(
        "cli.session_required",
        "--forgotten needs the vault key of this session: run the export line that 'keyward "
        "device pair' printed, then this command again"));
  }
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  KW_ASSIGN_OR_RETURN(auto account, c.GetAccount());
  KW_ASSIGN_OR_RETURN(auto fresh, ctx.prompt().NewPassword("New master password: ",
                                                           "Repeat new master password: "));
  KW_ASSIGN_OR_RETURN(auto escrows, FreshEscrowsFor(c, uk, account, profile));
  KW_TRY(c.ChangeForgottenPassword(uk, account, fresh, escrows));
  Done(ctx, "password_changed",
       "Master password set. Your other devices were signed out; this one stays signed in. "
       "Two-step login, if on, is still asked at the next login.");
  return {};
}

}  // namespace

Status StartOver(Context& ctx, const std::string& email) { return Restart(ctx, email); }

void AddAccountCommands(CLI::App& app, Action* action) {
  auto* account = app.add_subcommand("account", "Register, verify, delete, change password");
  account->require_subcommand(1);

  auto reg_email = std::make_shared<std::string>();
  auto* reg =
      account->add_subcommand("register", "Create an account (prompts for the password twice)");
  reg->add_option("--email", *reg_email, "Account email")->required();
  reg->callback([=] { *action = [=](Context& c) { return Register(c, *reg_email); }; });

  auto verify_email = std::make_shared<std::string>();
  auto* verify =
      account->add_subcommand("verify", "Verify the email (prompts for the emailed code)");
  verify->add_option("--email", *verify_email, "Account email")->required();
  verify->callback([=] { *action = [=](Context& c) { return Verify(c, *verify_email); }; });

  auto resend_email = std::make_shared<std::string>();
  auto* resend = account->add_subcommand("resend", "Email a new verification code");
  resend->add_option("--email", *resend_email, "Account email")->required();
  resend->callback([=] { *action = [=](Context& c) { return Resend(c, *resend_email); }; });

  account->add_subcommand("show", "Your account, with the member key fingerprint admins compare")
      ->callback([=] { *action = Show; });

  account->add_subcommand("delete", "Delete the account and its items for good")->callback([=] {
    *action = Delete;
  });
  auto restart_email = std::make_shared<std::string>();
  auto* restart = account->add_subcommand(
      "restart", "Start over with a new, empty vault when no other way back works");
  restart->add_option("--email", *restart_email, "Account email")->required();
  restart->callback([=] { *action = [=](Context& c) { return Restart(c, *restart_email); }; });

  auto forgotten = std::make_shared<bool>(false);
  auto* password = account->add_subcommand("password", "Change the master password");
  password->add_flag("--forgotten", *forgotten,
                     "Set a new one without the old, on a device paired in the last 15 minutes");
  password->callback(
      [=] { *action = *forgotten ? Action(ChangeForgottenPassword) : Action(ChangePassword); });
}

}  // namespace keyward::cli
