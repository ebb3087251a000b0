// keyward login | logout | status | unlock | lock
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/org_session.h"
#include "cli/sso_signin.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

// A person at a terminal who typed a wrong master password is shown the
// way out of it, as a second line after main's one-line error (hence at
// exit). Scripts (stderr not a terminal) and --json keep the one line.
std::string& ForgotEmail() {
  static std::string email;
  return email;
}

void PrintForgotHint() {
  std::fprintf(stderr, "Forgot your master password? Run: keyward recovery request --email %s\n",
               ForgotEmail().c_str());
  std::fprintf(stderr,
               "Other ways back (another signed-in device, a new vault): keyward recover --email "
               "%s\n",
               ForgotEmail().c_str());
}

Error WithForgotHint(Context& ctx, Error e, std::string_view email) {
  const bool wrong_password =
      e.code() == "auth.invalid_credentials" || e.code() == "client.wrong_password";
  if (wrong_password && !ctx.json() && !email.empty() && ::isatty(2) == 1 &&
      ForgotEmail().empty()) {
    ForgotEmail() = std::string(email);
    std::atexit(PrintForgotHint);
  }
  return e;
}

bool LooksLikeTotp(std::string_view code) {
  if (code.size() != 6) return false;
  for (char c : code) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Ends the session `profile` had (best effort: it may have ended already).
void EndSession(Context& ctx, const client::Profile& profile) {
  if (profile.token.empty()) return;
  client::Client old = ctx.MakeClient(profile);
  (void)old.Logout();
}

// The code the server asked for: six digits are a TOTP code, anything
// else a recovery code.
Result<client::SecondFactor> AskSecondFactor(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto code, ctx.prompt().Line("Two-step login code (or a recovery code): "));
  client::SecondFactor second;
  if (LooksLikeTotp(code.view())) {
    second.totp_code = std::move(code);
  } else {
    second.recovery_code = std::move(code);
  }
  return second;
}

}  // namespace

// keyward login --sso ORG --trusted-device: the device secret instead of
// the master password (and the two-step code, if the account has it on).
Status TrustedDeviceLogin(Context& ctx, client::Client& c, client::Profile& profile,
                          const client::Profile& before, const std::string& email,
                          const std::vector<std::string>& tickets) {
  client::DeviceIdentity device;
  device.id = profile.device_id;
  device.name = !profile.device_name.empty() ? profile.device_name : HostName();
  auto result = c.LoginWithTrustedDevice(email, profile.account_id, device,
                                         profile.trusted_device_secret, tickets);
  if (!result && result.error().code() == "auth.two_factor_required") {
    KW_ASSIGN_OR_RETURN(auto second, AskSecondFactor(ctx));
    result = c.LoginWithTrustedDevice(email, profile.account_id, device,
                                      profile.trusted_device_secret, tickets, second);
  }
  if (!result && result.error().code() == "auth.invalid_credentials") {
    // The server no longer knows this device's key: removed, untrusted, or
    // dropped by a recovery.
    return Fail(Error(result.error().kind(), "cli.not_trusted",
                      "this device is not a trusted device of the account any more (removed, "
                      "untrusted, or dropped by a recovery); log in with the master password"));
  }
  if (!result) return Fail(result.error());
  EndSession(ctx, before);
  profile.server_url = c.server_url();
  profile.token = result->token;
  profile.protected_vault_key.clear();
  client::Json extra = client::Json::object();
  extra["email"] = client::Str(profile.email);
  extra["account_id"] = client::Str(profile.account_id);
  extra["device_id"] = client::Str(profile.device_id);
  extra["expires_at"] = client::Str(result->expires_at);
  extra["trusted_device"] = true;
  KW_TRY(ctx.StartSession(profile, result->vault_key, std::move(extra)));
  ctx.Hint(fmt::format("Logged in as {} on this trusted device.", profile.email));
  return {};
}

namespace {

Status Login(Context& ctx, const std::string& email, const std::string& device_name,
             const SsoOptions& sso, bool trusted_device) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = ctx.MakeClient(profile);
  // One session per profile: the one it had ends once the new one is made,
  // so a login that fails (a wrong password, another provider account)
  // leaves the member signed in as before.
  const client::Profile before = profile;

  if (trusted_device && (profile.trusted_device_secret.empty() || profile.account_id.empty() ||
                         profile.email != email)) {
    return Fail(Error::InvalidArgument(
        "cli.not_trusted",
        "this device is not a trusted device of that account; log in with the master password "
        "and run 'keyward device trust'"));
  }
  // The provider first: its tickets live minutes, the password prompt after.
  KW_ASSIGN_OR_RETURN(auto tickets, SignInAtProviders(ctx, c, sso));
  if (trusted_device) return TrustedDeviceLogin(ctx, c, profile, before, email, tickets);

  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password("Master password: "));
  KW_ASSIGN_OR_RETURN(auto keys, c.DeriveLoginKeys(email, password));

  client::DeviceIdentity device;
  device.id = profile.device_id.empty() ? client::NewItemId() : profile.device_id;
  device.name = !device_name.empty()           ? device_name
                : !profile.device_name.empty() ? profile.device_name
                                               : HostName();
  auto result = c.Login(email, keys, device, {}, tickets);
  if (!result && result.error().code() == "auth.two_factor_required") {
    KW_ASSIGN_OR_RETURN(auto second, AskSecondFactor(ctx));
    result = c.Login(email, keys, device, second, tickets);
  }
  if (!result) return Fail(WithForgotHint(ctx, result.error(), email));
  EndSession(ctx, before);

  profile.server_url = c.server_url();
  profile.email = result->account.email;
  profile.account_id = result->account.id;
  profile.device_id = result->device_id;
  profile.device_name = device.name;
  profile.token = result->token;
  profile.protected_vault_key.clear();

  if (result->account.must_change_password) {
    // An admin reset set a temporary password: the server allows almost
    // nothing until the member picks their own. The session is saved first,
    // so that whatever stops the change here (e.g. an organization this
    // device has not pinned yet) can be fixed and the change finished with
    // `keyward account password`.
    KW_TRY(ctx.SaveProfile(profile));
    std::string text = "Your administrator reset your master password; choose a new one now.";
    if (ctx.json()) {
      std::fprintf(stderr, "%s\n", text.c_str());
    } else {
      ctx.Out(text);
    }
    auto pending = [](const Error& e) {
      return Fail(Error(e.kind(), "cli.password_change_pending",
                        fmt::format("{}; then finish with 'keyward account password' (the "
                                    "current password is the temporary one)",
                                    Explain(e).message())));
    };
    auto fresh = ctx.prompt().NewPassword("New master password: ", "Repeat new master password: ");
    if (!fresh) return pending(fresh.error());
    auto escrows = FreshEscrowsFor(c, result->vault_key, result->account, profile);
    if (!escrows) return pending(escrows.error());
    if (auto st = c.ChangePassword(password, *fresh, *escrows); !st) return pending(st.error());
    ctx.Hint("Master password changed.");
  }

  client::Json extra = client::Json::object();
  extra["email"] = client::Str(profile.email);
  extra["account_id"] = client::Str(profile.account_id);
  extra["device_id"] = client::Str(profile.device_id);
  extra["expires_at"] = client::Str(result->expires_at);
  KW_TRY(ctx.StartSession(profile, result->vault_key, std::move(extra)));
  ctx.Hint(fmt::format("Logged in as {}.", profile.email));
  return {};
}

Status Logout(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  if (!profile.token.empty()) {
    client::Client c = ctx.MakeClient(profile);
    auto st = c.Logout();
    // A session the server already ended is logged out all the same.
    if (!st && st.error().code() != "auth.required") return st;
  }
  profile.token.clear();
  profile.protected_vault_key.clear();
  KW_TRY(ctx.SaveProfile(profile));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("logged_out");
    ctx.OutJson(j);
  } else {
    ctx.Out("Logged out.");
  }
  return {};
}

Status ShowStatus(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = ctx.MakeClient(profile);
  bool logged_in = !profile.token.empty();
  bool session_valid = false;
  bool two_factor = false;
  std::string server_error;
  if (logged_in) {
    auto account = c.GetAccount();
    if (account) {
      session_valid = true;
      two_factor = account->two_factor_enabled;
    } else if (account.error().code() != "auth.required") {
      server_error = account.error().message();
    }
  }
  bool unlocked = false;
  const char* env = std::getenv(kSessionEnv);
  if (env != nullptr && *env != '\0' && !profile.protected_vault_key.empty()) {
    auto key = crypto::Base64UrlDecodeSecret(env);
    unlocked = key && key->size() == crypto::SessionKey::kSize &&
               client::UnprotectVaultKey(crypto::SessionKey(std::move(*key)), profile.account_id,
                                         profile.protected_vault_key)
                   .has_value();
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["server"] = client::Str(c.server_url());
    j["email"] = client::Str(profile.email);
    j["account_id"] = client::Str(profile.account_id);
    j["device_id"] = client::Str(profile.device_id);
    j["logged_in"] = logged_in && session_valid;
    j["unlocked"] = unlocked;
    j["two_factor_enabled"] = two_factor;
    if (!server_error.empty()) j["server_error"] = client::Str(server_error);
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format("server:     {}", c.server_url()));
  if (!logged_in) {
    ctx.Out("status:     not logged in");
    return {};
  }
  ctx.Out(fmt::format("email:      {}", profile.email));
  ctx.Out(fmt::format("account:    {}", profile.account_id));
  ctx.Out(fmt::format("device:     {}", profile.device_id));
  if (!server_error.empty()) {
    ctx.Out(fmt::format("status:     unknown ({})", server_error));
  } else if (!session_valid) {
    ctx.Out("status:     session ended; log in again");
  } else {
    ctx.Out(fmt::format("status:     logged in, vault {}", unlocked ? "unlocked" : "locked"));
    ctx.Out(fmt::format("two-step:   {}", two_factor ? "on" : "off"));
  }
  return {};
}

Status Unlock(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password("Master password: "));
  auto unlocked = c.UnlockWithPassword(password);
  if (!unlocked) return Fail(WithForgotHint(ctx, unlocked.error(), profile.email));
  client::Json extra = client::Json::object();
  extra["email"] = client::Str(profile.email);
  return ctx.StartSession(profile, unlocked->vault_key, std::move(extra));
}

Status Lock(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  profile.protected_vault_key.clear();
  KW_TRY(ctx.SaveProfile(profile));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("locked");
    ctx.OutJson(j);
  } else {
    ctx.Out("Locked: the vault key is forgotten; 'keyward unlock' opens it again.");
  }
  return {};
}

}  // namespace

void AddSessionCommands(CLI::App& app, Action* action) {
  auto* login = app.add_subcommand("login", "Log in (prints the KEYWARD_SESSION export line)");
  auto email = std::make_shared<std::string>();
  auto device_name = std::make_shared<std::string>();
  login->add_option("--email", *email, "Account email")->required();
  login->add_option("--device-name", *device_name, "Name of this device (default: host name)");
  auto sso = std::make_shared<SsoOptions>();
  AddSsoOptions(login, *sso);
  auto trusted = std::make_shared<bool>(false);
  login->add_flag("--trusted-device", *trusted,
                  "With --sso: log in with this trusted device's key instead of the master "
                  "password ('keyward device trust')");
  login->callback([=] {
    *action = [=](Context& c) -> Status {
      if (*trusted && sso->orgs.empty()) {
        return Fail(Error::InvalidArgument(
            "cli.usage",
            "--trusted-device needs --sso ORG: a trusted device logs in through "
            "single sign-on"));
      }
      return Login(c, *email, *device_name, *sso, *trusted);
    };
  });

  app.add_subcommand("logout", "End this device's session")->callback([=] { *action = Logout; });
  app.add_subcommand("status", "Show server, account, session and lock state")->callback([=] {
    *action = ShowStatus;
  });
  app.add_subcommand("unlock", "Unlock the vault with the master password (prints the export line)")
      ->callback([=] { *action = Unlock; });
  app.add_subcommand("lock", "Forget the vault key kept for this session")->callback([=] {
    *action = Lock;
  });
}

}  // namespace keyward::cli
