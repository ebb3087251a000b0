#include "cli/context.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "common/try.h"

namespace keyward::cli {

Context::Context(const GlobalOptions& options)
    : options_(options),
      prompter_(
          std::make_unique<Prompter>(Prompter::ForStdin(options.password_stdin, options.yes))) {}

Result<client::Profile> Context::LoadProfile() {
  if (!dir_) {
    KW_ASSIGN_OR_RETURN(
        auto dir, client::ResolveProfileDir(options_.profile.empty()
                                                ? std::nullopt
                                                : std::optional<std::string>(options_.profile)));
    dir_ = dir;
  }
  KW_ASSIGN_OR_RETURN(auto p, client::LoadProfile(*dir_));
  return p.has_value() ? std::move(*p) : client::Profile{};
}

Result<client::Profile> Context::RequireLogin() {
  auto p = LoadProfile();
  if (!p) return p;
  if (p->token.empty() || p->account_id.empty()) {
    return Fail(Error::Unauthenticated("cli.not_logged_in",
                                       "not logged in; run 'keyward login --email EMAIL' first"));
  }
  return p;
}

Status Context::SaveProfile(const client::Profile& profile) {
  if (!dir_) {
    KW_TRY(LoadProfile());
  }
  return client::SaveProfile(*dir_, profile);
}

client::Client Context::MakeClient(const client::Profile& profile) {
  client::ClientOptions o;
  if (!options_.server.empty()) {
    o.server_url = options_.server;
  } else if (!profile.server_url.empty()) {
    o.server_url = profile.server_url;
  } else {
    o.server_url = kDefaultServer;
  }
  client::Client c(std::move(o));
  if (!profile.token.empty()) c.set_token(profile.token);
  return c;
}

Result<crypto::VaultKey> Context::VaultKey(client::Client& client, const client::Profile& profile) {
  const char* env = std::getenv(kSessionEnv);
  if (env != nullptr && *env != '\0' && !profile.protected_vault_key.empty()) {
    auto key = crypto::Base64UrlDecodeSecret(env);
    if (key && key->size() == crypto::SessionKey::kSize) {
      auto uk = client::UnprotectVaultKey(crypto::SessionKey(std::move(*key)), profile.account_id,
                                          profile.protected_vault_key);
      if (uk) return uk;
    }
  }
  // No usable session key: the master password unlocks, this once.
  KW_ASSIGN_OR_RETURN(auto password, prompter_->Password("Master password: "));
  KW_ASSIGN_OR_RETURN(auto unlocked, client.UnlockWithPassword(password));
  return std::move(unlocked.vault_key);
}

Status Context::StartSession(client::Profile& profile, const crypto::VaultKey& uk,
                             client::Json json_extra) {
  crypto::SessionKey session_key = crypto::SessionKey::Random();
  profile.protected_vault_key = client::ProtectVaultKey(session_key, profile.account_id, uk);
  KW_TRY(SaveProfile(profile));
  crypto::SecureBytes encoded = client::SecretBase64Url(session_key.span());
  if (json()) {
    if (!json_extra.is_object()) json_extra = client::Json::object();
    json_extra["session"] = client::Json(client::ToSecretString(encoded));
    OutJson(json_extra);
    return {};
  }
  client::SecretString line = client::ToSecretString("export KEYWARD_SESSION=\"");
  line.append(encoded.view().data(), encoded.size());
  line.append("\"");
  OutSecret(client::ToSecureBytes(line));
  Hint(
      "To unlock the vault in this shell, run the export line above (or: eval \"$(keyward "
      "unlock)\"); without it, commands ask for the master password.");
  return {};
}

void Context::Out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

void Context::OutSecret(const crypto::SecureBytes& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void Context::OutJson(const client::Json& j) {
  client::SecretString s = j.dump();
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void Context::Hint(std::string_view text) {
  if (json()) return;
  std::fflush(stdout);
  std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
}

ProgressBar::ProgressBar(const Context& ctx, std::string label, std::string unit)
    : enabled_(!ctx.json() && ::isatty(2) == 1), label_(std::move(label)), unit_(std::move(unit)) {}

std::function<void(uint64_t, uint64_t)> ProgressBar::Fn() {
  return [this](uint64_t done, uint64_t total) {
    if (!enabled_) return;
    constexpr uint64_t kWidth = 10;
    uint64_t filled = total == 0 ? kWidth : std::min(kWidth, done * kWidth / total);
    uint64_t percent = total == 0 ? 100 : std::min<uint64_t>(100, done * 100 / total);
    std::string cells(filled, '#');
    cells.append(kWidth - filled, ' ');
    std::fprintf(stderr, "\r%s %llu/%llu %s [%s] %llu%%", label_.c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 unit_.c_str(), cells.c_str(), static_cast<unsigned long long>(percent));
    std::fflush(stderr);
    drawn_ = true;
  };
}

void ProgressBar::Done() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

Error Explain(const Error& e) {
  const std::string& c = e.code();
  if (c == "auth.invalid_credentials") {
    return Error(e.kind(), c, "wrong email or master password");
  }
  if (c == "client.wrong_password") return Error(e.kind(), c, "wrong master password");
  if (c == "auth.required") {
    return Error(e.kind(), c,
                 "your session has ended (logged out, expired, or this device was removed); run "
                 "'keyward login --email EMAIL'");
  }
  if (c == "auth.invalid_two_factor") {
    return Error(e.kind(), c, "wrong two-step login code or recovery code");
  }
  if (c == "account.unverified") {
    return Error(e.kind(), c,
                 "this account is not verified yet; run 'keyward account verify --email EMAIL' "
                 "with the code from the email");
  }
  if (c == "verify.invalid_code") {
    return Error(e.kind(), c, "wrong or expired code; 'keyward account resend' sends a new one");
  }
  if (c == "item.not_found") return Error(e.kind(), c, "no such item");
  if (c == "device.not_found") return Error(e.kind(), c, "no such device");
  if (c == "account.password_change_required") {
    return Error(e.kind(), c,
                 "your administrator reset your master password: log in again to choose a new "
                 "one ('keyward login --email EMAIL')");
  }
  if (c == "org.forbidden") {
    return Error(e.kind(), c, "your role in this organization does not allow that");
  }
  if (c == "org.self_action") return Error(e.kind(), c, "you cannot do that to yourself");
  if (c == "org.member_not_found") return Error(e.kind(), c, "no such member in this organization");
  if (c == "org.enrollment_mandatory") {
    return Error(e.kind(), c,
                 "the organization's recovery policy is mandatory: you cannot withdraw");
  }
  if (c == "org.enrollment_disabled") {
    return Error(e.kind(), c, "account recovery is turned off in this organization");
  }
  if (c == "org.not_pinned") {
    return Error(e.kind(), c,
                 e.message().find("keyward org trust") != std::string::npos
                     ? e.message()
                     : e.message() + " (run 'keyward org trust ORG --fingerprint FP')");
  }
  if (c == "org.fingerprint_mismatch") {
    return Error(e.kind(), c,
                 "the organization's signing key does not have the fingerprint you gave: do not "
                 "trust it, and tell an owner of the organization");
  }
  if (c == "invite.not_found") {
    return Error(e.kind(), c,
                 "no such invite: unknown, already used, expired, or meant for another email");
  }
  return e;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "keyward-cli";
  return buf;
}

}  // namespace keyward::cli
