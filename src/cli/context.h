// What every command needs: the global options, the prompter, the profile,
// a client for the right server, the vault key, and output in text or JSON.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cli/prompt.h"
#include "client/secret_json.h"
#include "common/error.h"
#include "keyward/client.h"
#include "keyward/profile.h"

namespace CLI {
class App;
}

namespace keyward::cli {

inline constexpr const char* kDefaultServer = "http://127.0.0.1:8080";
inline constexpr const char* kSessionEnv = "KEYWARD_SESSION";

struct GlobalOptions {
  std::string server;   // --server (or $KEYWARD_SERVER); empty: profile's, else default
  std::string profile;  // --profile; empty: $KEYWARD_PROFILE, XDG, ~/.config
  bool json = false;
  bool password_stdin = false;
  bool yes = false;
};

class Context {
 public:
  explicit Context(const GlobalOptions& options);

  const GlobalOptions& options() const { return options_; }
  bool json() const { return options_.json; }
  Prompter& prompt() { return *prompter_; }

  // The profile (an empty one if there is none yet).
  [[nodiscard]] Result<client::Profile> LoadProfile();
  // The profile of a logged-in user, else "not logged in".
  [[nodiscard]] Result<client::Profile> RequireLogin();
  [[nodiscard]] Status SaveProfile(const client::Profile& profile);

  // A client for --server, else the profile's server, else the default;
  // with the profile's token when it has one.
  client::Client MakeClient(const client::Profile& profile);

  // The vault key: from $KEYWARD_SESSION and the profile, else by asking for
  // the master password.
  [[nodiscard]] Result<crypto::VaultKey> VaultKey(client::Client& client,
                                                  const client::Profile& profile);

  // Stores UK under a fresh session key and prints how to export it.
  [[nodiscard]] Status StartSession(client::Profile& profile, const crypto::VaultKey& uk,
                                    client::Json json_extra);

  // Output: text lines to stdout, or one JSON document.
  void Out(std::string_view text);
  void OutSecret(const crypto::SecureBytes& text);
  void OutJson(const client::Json& j);
  // A hint for humans on stderr (never in --json mode).
  void Hint(std::string_view text);

 private:
  GlobalOptions options_;
  std::unique_ptr<Prompter> prompter_;
  std::optional<std::filesystem::path> dir_;
};

// A progress bar for long operations on a terminal's stderr ("\rRe-wrapping
// 40/100 members [####      ] 40%"); draws nothing with --json or when
// stderr is not a terminal. Done() ends its line (also on destruction).
class ProgressBar {
 public:
  ProgressBar(const Context& ctx, std::string label, std::string unit);
  ~ProgressBar() { Done(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // The callback to hand to the operation: (done, total).
  std::function<void(uint64_t, uint64_t)> Fn();
  void Done();

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string label_;
  std::string unit_;
};

// This machine's host name, the default name of a new device ("keyward-cli"
// when there is none).
std::string HostName();

// Turns a few server errors into messages that tell the user what to do.
Error Explain(const Error& e);

using Action = std::function<Status(Context&)>;
// Each group registers its commands; the chosen one's action is stored in
// `*action` when CLI11 parses it.
void AddAccountCommands(CLI::App& app, Action* action);
void AddSessionCommands(CLI::App& app, Action* action);
void AddItemCommands(CLI::App& app, Action* action);
void AddDeviceCommands(CLI::App& app, Action* action);
void AddTwoFactorCommands(CLI::App& app, Action* action);
void AddOrgCommands(CLI::App& app, Action* action);
void AddRecoveryCommands(CLI::App& app, Action* action);
void AddEventsCommands(CLI::App& app, Action* action);
void AddBackupCommands(CLI::App& app, Action* action);

}  // namespace keyward::cli
