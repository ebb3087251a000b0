// `keyward login --sso ORG` and `keyward device pair --sso ORG`: the
// native-app single sign-on of RFC 8252 (docs/sso.md "From the terminal").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "keyward/client.h"

namespace keyward::cli {

struct SsoOptions {
  std::vector<std::string> orgs;  // organization ids, in order
  bool qr = false;                // also draw the address as a QR code
  // 0: a random free port. A provider that, unlike RFC 8252 7.3, wants the
  // exact redirect address registered gets a fixed one.
  uint16_t redirect_port = 0;
};

// --sso ORG (repeatable), --qr, --redirect-port on a login-like command.
void AddSsoOptions(CLI::App* command, SsoOptions& options);

// For each organization: a loopback listener, POST /v1/sso/start, the
// address printed (stderr) for the browser, the callback with the same
// state, POST /v1/sso/finish. The tickets, in order.
[[nodiscard]] Result<std::vector<std::string>> SignInAtProviders(Context& ctx, client::Client& c,
                                                                 const SsoOptions& options);

// Logs this trusted device in with `tickets` (the first is signed with the
// profile's trusted-device secret), asking for the two-step code when the
// account has it, and starts the session in `profile` (`before`'s session
// ends). keyward login --trusted-device and keyward device request-finish.
[[nodiscard]] Status TrustedDeviceLogin(Context& ctx, client::Client& c, client::Profile& profile,
                                        const client::Profile& before, const std::string& email,
                                        const std::vector<std::string>& tickets);

}  // namespace keyward::cli
