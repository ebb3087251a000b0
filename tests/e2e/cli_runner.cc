#include "cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace keyward::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::filesystem::path> MessagesTo(const std::filesystem::path& outbox,
                                              std::string_view to) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (!std::filesystem::exists(outbox, ec)) return out;
  std::vector<std::filesystem::path> all;
  for (const auto& e : std::filesystem::directory_iterator(outbox, ec)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() == ".eml" && !name.starts_with(".")) all.push_back(e.path());
  }
  std::sort(all.begin(), all.end());  // names start with a UTC timestamp
  const std::string want = Lower(std::string(to));
  for (const auto& p : all) {
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line == "\r") break;  // end of headers
      std::string l = Lower(line);
      if (l.starts_with("to:") && l.find(want) != std::string::npos) {
        out.push_back(p);
        break;
      }
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> CliResult::ErrLines() const {
  std::vector<std::string> lines;
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string CliResult::Describe() const {
  std::ostringstream s;
  s << "exit " << exit_code << (timed_out ? " (timed out)" : "") << "\n--- stdout ---\n"
    << out << "\n--- stderr ---\n"
    << err;
  return s.str();
}

CliProcess::CliProcess(const std::filesystem::path& binary, const std::vector<std::string>& args,
                       const EnvVars& env) {
  ::signal(SIGPIPE, SIG_IGN);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> argv_s = {binary.string()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("KEYWARD_") || v.starts_with("XDG_CONFIG_HOME=")) continue;
    env_s.emplace_back(v);
  }
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setsid();
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_fd_ = in[1];
  out_fd_ = out[0];
  err_fd_ = err[0];
  ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
}

CliProcess::~CliProcess() {
  if (!finished_) (void)Finish(std::chrono::milliseconds(0));
}

void CliProcess::Write(std::string_view text) {
  while (!text.empty() && in_fd_ >= 0) {
    ssize_t n = ::write(in_fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the child stopped reading
    text.remove_prefix(static_cast<size_t>(n));
  }
}

void CliProcess::CloseStdin() {
  if (in_fd_ >= 0) ::close(in_fd_);
  in_fd_ = -1;
}

bool CliProcess::Pump(std::chrono::milliseconds wait) {
  pollfd fds[2];
  int n = 0;
  if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
  if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
  if (n == 0) return false;
  int r = ::poll(fds, n, static_cast<int>(wait.count()));
  if (r <= 0) return true;
  for (int i = 0; i < n; ++i) {
    if (fds[i].revents == 0) continue;
    char buf[4096];
    ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
    if (got > 0) {
      (fds[i].fd == out_fd_ ? out_ : err_).append(buf, static_cast<size_t>(got));
    } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
      if (fds[i].fd == out_fd_) {
        ::close(out_fd_);
        out_fd_ = -1;
      } else {
        ::close(err_fd_);
        err_fd_ = -1;
      }
    }
  }
  return true;
}

bool CliProcess::WaitFor(const std::string& stream, const int& fd, std::string_view needle,
                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (stream.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || fd < 0) return stream.find(needle) != std::string::npos;
    if (!Pump(std::min(left, std::chrono::milliseconds(100)))) break;
  }
  return stream.find(needle) != std::string::npos;
}

bool CliProcess::WaitForStdout(std::string_view needle, std::chrono::milliseconds timeout) {
  return WaitFor(out_, out_fd_, needle, timeout);
}

bool CliProcess::WaitForStderr(std::string_view needle, std::chrono::milliseconds timeout) {
  return WaitFor(err_, err_fd_, needle, timeout);
}

CliResult CliProcess::Finish(std::chrono::milliseconds timeout) {
  CloseStdin();
  CliResult r;
  const auto deadline = Clock::now() + timeout;
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    Pump(std::min(left, std::chrono::milliseconds(100)));
  }
  int status = 0;
  pid_t w = ::waitpid(pid_, &status, WNOHANG);
  while (w == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    w = ::waitpid(pid_, &status, WNOHANG);
  }
  if (w == 0) {
    r.timed_out = true;
    ::kill(pid_, SIGKILL);
    w = ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
  out_fd_ = err_fd_ = -1;
  if (w == pid_) {
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
  }
  finished_ = true;
  r.out = out_;
  r.err = err_;
  return r;
}

CliResult RunCli(const std::filesystem::path& binary, const std::vector<std::string>& args,
                 std::string_view stdin_text, const EnvVars& env,
                 std::chrono::milliseconds timeout) {
  CliProcess p(binary, args, env);
  p.Write(stdin_text);
  return p.Finish(timeout);
}

size_t CountMessagesTo(const std::filesystem::path& outbox, std::string_view to) {
  return MessagesTo(outbox, to).size();
}

std::optional<std::string> LatestEmailCode(const std::filesystem::path& outbox, std::string_view to,
                                           std::chrono::milliseconds timeout, size_t after) {
  static const std::regex kCode(R"(^\s*(\d{6})\s*$)");
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto messages = MessagesTo(outbox, to);
    if (messages.size() > after) {
      std::ifstream in(messages.back());
      std::string line;
      while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_match(line, m, kCode)) return m[1].str();
      }
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::optional<std::string> PairingCodeIn(const std::string& out) {
  std::smatch m;
  static const std::regex kCode(R"(Pairing code: ([0-9]{3}) ([0-9]{3}))");
  if (!std::regex_search(out, m, kCode)) return std::nullopt;
  return m[1].str() + m[2].str();
}

std::optional<std::string> SessionIn(const std::string& out) {
  std::smatch m;
  static const std::regex kExport(R"re(export KEYWARD_SESSION="([A-Za-z0-9_-]+)")re");
  if (!std::regex_search(out, m, kExport)) return std::nullopt;
  return m[1].str();
}

}  // namespace keyward::testing
