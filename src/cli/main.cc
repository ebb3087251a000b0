// keyward: the command-line client. Wiring only: global options, the command
// groups (one file each), and the error/exit-status contract: 0 on success,
// otherwise one line "keyward: <message>" on stderr and 1 (2 for usage).
#include <cstdio>
#include <new>

#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "cli/member_paths.h"
#include "crypto/crypto.h"

namespace {

int ReportError(const keyward::cli::Context* ctx, const keyward::Error& raw) {
  keyward::Error e = keyward::cli::Explain(raw);
  if (ctx != nullptr && ctx->json()) {
    keyward::client::Json j = keyward::client::Json::object();
    keyward::client::Json err = keyward::client::Json::object();
    err["code"] = keyward::client::Str(e.code());
    err["message"] = keyward::client::Str(e.message());
    j["error"] = std::move(err);
    std::fputs(j.dump().c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  std::fprintf(stderr, "keyward: %s\n", e.message().c_str());
  return e.code() == "cli.usage" ? 2 : 1;
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace keyward::cli;
  if (auto st = keyward::crypto::Init(); !st) {
    std::fprintf(stderr, "keyward: %s\n", st.error().message().c_str());
    return 1;
  }

  CLI::App app("keyward: end-to-end-encrypted password vault", "keyward");
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  app.add_option("--server", g.server,
                 "Server URL (default: the profile's, else http://127.0.0.1:8080)")
      ->envname("KEYWARD_SERVER");
  app.add_option("--profile", g.profile,
                 "Profile directory (default: $KEYWARD_PROFILE, $XDG_CONFIG_HOME/keyward, "
                 "~/.config/keyward)");
  app.add_flag("--json", g.json, "Machine-readable output on stdout");
  app.add_flag("--password-stdin", g.password_stdin,
               "Read passwords from standard input even on a terminal");
  app.add_flag("-y,--yes", g.yes, "Answer yes to confirmations");

  Action action;
  AddAccountCommands(app, &action);
  AddSessionCommands(app, &action);
  AddItemCommands(app, &action);
  AddDeviceCommands(app, &action);
  AddTwoFactorCommands(app, &action);
  AddOrgCommands(app, &action);
  AddRecoveryCommands(app, &action);
  AddEventsCommands(app, &action);
  AddBackupCommands(app, &action);
  AddRecoverCommand(app, &action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    return 0;
  } catch (const CLI::ExtrasError&) {
    // CLI11 would quote the extra arguments, and one may be a secret typed
    // after an option that does not exist (`--password hunter2`).
    std::fprintf(stderr,
                 "keyward: unexpected arguments (see 'keyward <group> <command> --help'); "
                 "passwords are never given on the command line\n");
    return 2;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "keyward: %s (see 'keyward --help')\n", OneLine(e.what()).c_str());
    return 2;
  }
  if (!action) {
    std::fprintf(stderr, "keyward: no command given (see 'keyward --help')\n");
    return 2;
  }

  Context ctx(g);
  keyward::Status st;
  try {
    st = action(ctx);
  } catch (const std::bad_alloc&) {
    // Guarded memory for secrets is a limited resource (each buffer is a few
    // memory mappings): a very large vault can run out of it. One clear line
    // instead of an abort; nothing was half-written (files are atomic).
    std::fprintf(stderr,
                 "keyward: out of guarded memory for secrets (the vault is too large for this "
                 "version to hold at once)\n");
    return 1;
  }
  if (!st) return ReportError(&ctx, st.error());
  std::fflush(stdout);
  return 0;
}
