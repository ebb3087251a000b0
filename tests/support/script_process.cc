#include "tests/support/script_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace keyward::testing {

Result<std::unique_ptr<ScriptProcess>> ScriptProcess::Start(std::vector<std::string> args,
                                                            std::chrono::milliseconds ready_timeout,
                                                            const std::string& error_code) {
  using Clock = std::chrono::steady_clock;
  auto fail = [&](std::string message) { return Error::Internal(error_code, std::move(message)); };
  std::unique_ptr<ScriptProcess> p(new ScriptProcess());
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return Fail(fail("pipe failed"));
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return Fail(fail("pipe failed"));
  }
  p->stdin_fd_ = in_pipe[1];
  p->stdout_fd_ = out_pipe[0];
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  pid_t pid;
  const int rc = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) return Fail(fail(fmt::format("cannot run {}: {}", args[0], std::strerror(rc))));
  p->pid_ = pid;

  std::string line;
  const auto deadline = Clock::now() + ready_timeout;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Fail(fail(fmt::format("{} did not become ready", args[1])));
    pollfd pfd{p->stdout_fd_, POLLIN, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return Fail(fail("poll failed"));
    if (n <= 0) continue;
    char buf[512];
    const ssize_t got = ::read(p->stdout_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return Fail(fail(fmt::format("{} exited before it was ready (see stderr)", args[1])));
    }
    line.append(buf, static_cast<std::size_t>(got));
  }
  line.resize(line.find('\n'));
  p->ready_line_ = std::move(line);
  return p;
}

void ScriptProcess::Stop() {
  using Clock = std::chrono::steady_clock;
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (true) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdout_fd_ = -1;
}

}  // namespace keyward::testing
