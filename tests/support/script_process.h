// A helper script of the tests (tests/support/*.py on Debian's
// /usr/bin/python3) in a child process: started with its stdin on a pipe
// we hold (closing it stops the script, so it cannot outlive a test process
// that dies), its first line of stdout read as its "ready" answer, and
// stopped (SIGTERM, then SIGKILL after 5 s) when the handle goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace keyward::testing {

class ScriptProcess {
 public:
  // Runs `args` (args[0] the program's absolute path) and waits for one
  // line on its stdout. `error_code` names the errors (kInternal).
  static Result<std::unique_ptr<ScriptProcess>> Start(std::vector<std::string> args,
                                                      std::chrono::milliseconds ready_timeout,
                                                      const std::string& error_code);

  ScriptProcess(const ScriptProcess&) = delete;
  ScriptProcess& operator=(const ScriptProcess&) = delete;
  ~ScriptProcess() { Stop(); }

  const std::string& ready_line() const { return ready_line_; }
  // Idempotent.
  void Stop();

 private:
  ScriptProcess() = default;
  std::string ready_line_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
};

}  // namespace keyward::testing
