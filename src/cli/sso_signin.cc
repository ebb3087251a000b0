#include "cli/sso_signin.h"

#include <cstdio>

#include <fmt/format.h>

#include "cli/qr.h"
#include "cli/sso_loopback.h"
#include "common/try.h"

namespace keyward::cli {

namespace {

// As long as the server keeps the sign-in (core::kSsoLoginTtl).
constexpr auto kBrowserWait = std::chrono::minutes(10);

}  // namespace

void AddSsoOptions(CLI::App* command, SsoOptions& options) {
  command->add_option("--sso", options.orgs,
                      "Sign in at this organization's identity provider first (its id; repeat "
                      "for each organization that requires single sign-on)");
  command->add_flag("--qr", options.qr,
                    "With --sso: also draw the sign-in address as a QR code, for a phone");
  command
      ->add_option("--redirect-port", options.redirect_port,
                   "With --sso: the loopback port the provider sends the browser back to "
                   "(default: any free port; for providers that want it registered)")
      ->check(CLI::Range(1024, 65535));
}

Result<std::vector<std::string>> SignInAtProviders(Context& ctx, client::Client& c,
                                                   const SsoOptions& options) {
  std::vector<std::string> tickets;
  for (const std::string& org : options.orgs) {
    KW_ASSIGN_OR_RETURN(auto listener, LoopbackListener::Open(options.redirect_port));
    KW_ASSIGN_OR_RETURN(auto started, c.SsoStart(org, listener.redirect_uri()));
    // On stderr: stdout stays the session's export line (or --json's
    // answer); with --json, as one JSON object for a wrapper to act on.
    if (ctx.json()) {
      client::Json j = client::Json::object();
      j["sso_sign_in"] = client::Str(org);
      j["authorization_url"] = client::Str(started.authorization_url);
      const client::SecretString text = j.dump();
      std::fwrite(text.data(), 1, text.size(), stderr);
      std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr,
                   "Sign in at the identity provider of organization %s; open in a browser:\n%s\n",
                   org.c_str(), started.authorization_url.c_str());
    }
    if (options.qr) {
      KW_ASSIGN_OR_RETURN(
          auto drawing,
          RenderQr(crypto::SecureBytes::Copy(std::string_view(started.authorization_url))));
      std::fwrite(drawing.data(), 1, drawing.size(), stderr);
    }
    std::fflush(stderr);
    KW_ASSIGN_OR_RETURN(auto code, listener.Wait(started.state, kBrowserWait));
    KW_ASSIGN_OR_RETURN(auto ticket, c.SsoFinish(started.state, code));
    if (ticket.org_id != org) {
      return Fail(Error::Unavailable("server.bad_response",
                                     "the sign-in answer names another organization"));
    }
    tickets.push_back(std::move(ticket.ticket));
  }
  return tickets;
}

}  // namespace keyward::cli
