// Runs the real `keyward` binary for end-to-end tests: arguments, extra
// environment and standard input in; exit status, stdout and stderr out; a
// deadline so a test never hangs. Standard input is a pipe (never a
// terminal), so every prompt reads one line of it, and passwords never appear
// in argv. The child gets a session of its own (setsid): no controlling
// terminal to fall back on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyward::testing {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

struct CliResult {
  int exit_code = -1;  // 128+signal when killed
  bool timed_out = false;
  std::string out;
  std::string err;
  // Non-empty lines of stderr.
  std::vector<std::string> ErrLines() const;
  // For assertion messages.
  std::string Describe() const;
};

// An interactive run: write to its stdin as answers become known.
class CliProcess {
 public:
  CliProcess(const std::filesystem::path& binary, const std::vector<std::string>& args,
             const EnvVars& env);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  void Write(std::string_view text);
  void CloseStdin();
  // Reads stdout until it contains `needle` (true) or the deadline passes or
  // stdout closes (false).
  bool WaitForStdout(std::string_view needle, std::chrono::milliseconds timeout);
  // The same on stderr (prompts and instructions go there).
  bool WaitForStderr(std::string_view needle, std::chrono::milliseconds timeout);
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  // Closes stdin, drains both streams and reaps the process (killed at the
  // deadline).
  CliResult Finish(std::chrono::milliseconds timeout);

 private:
  // One round of reading; false when both streams are closed.
  bool Pump(std::chrono::milliseconds wait);
  bool WaitFor(const std::string& stream, const int& fd, std::string_view needle,
               std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  bool finished_ = false;
};

CliResult RunCli(const std::filesystem::path& binary, const std::vector<std::string>& args,
                 std::string_view stdin_text, const EnvVars& env = {},
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The 6-digit code on a line of its own in the newest message to `to` in
// `outbox` (*.eml), waiting up to `timeout` for one to appear; `after` skips
// messages already seen (count of matching messages).
std::optional<std::string> LatestEmailCode(
    const std::filesystem::path& outbox, std::string_view to,
    std::chrono::milliseconds timeout = std::chrono::seconds(5), size_t after = 0);
// How many messages in `outbox` are addressed to `to`.
size_t CountMessagesTo(const std::filesystem::path& outbox, std::string_view to);

// The six digits of "Pairing code: 123 456" in `keyward device pair-show`'s
// output.
std::optional<std::string> PairingCodeIn(const std::string& out);
// The session key of the `export KEYWARD_SESSION="..."` line a login prints.
std::optional<std::string> SessionIn(const std::string& out);

}  // namespace keyward::testing
