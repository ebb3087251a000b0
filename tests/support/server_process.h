// Runs a real keywardd for end-to-end tests: a fresh temporary data directory,
// --listen 127.0.0.1:0, the URL read from the first stdout line
// ("keywardd listening on http://127.0.0.1:PORT"). The process is killed and
// reaped, and the directory removed, on destruction. Its stderr (the log) is
// kept in <temp>/keywardd.stderr for diagnosis.
//
//   keyward::testing::ServerProcess server(KEYWARDD_PATH, {"--min-kdf-ops", "1"});
//   auto health = server.Request("GET", "/healthz");
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace keyward::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed or timed out)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// One blocking HTTP/1.1 request over a plain socket (Connection: close).
// url: "http://127.0.0.1:PORT" (no TLS); path includes any query string.
HttpResult HttpRequest(const std::string& url, const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

class ServerProcess {
 public:
  struct Options {
    std::filesystem::path binary;   // the built keywardd
    std::vector<std::string> args;  // extra arguments
    // Extra environment; the child inherits the parent's environment minus
    // every KEYWARD_* variable (so a developer's settings cannot leak in).
    std::vector<std::pair<std::string, std::string>> env;
    std::chrono::milliseconds start_timeout = std::chrono::seconds(15);
  };

  // Throws std::runtime_error (with the server's stderr) when it does not start.
  ServerProcess(std::filesystem::path binary, std::vector<std::string> args = {});
  explicit ServerProcess(Options options);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  uint16_t port() const { return port_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  const std::filesystem::path& temp_dir() const { return temp_dir_; }
  pid_t pid() const { return pid_; }
  // Everything printed on stdout so far (the startup lines).
  std::string StdoutText() const;
  std::string StderrText() const;

  // Sends a signal (default SIGKILL). Does not wait.
  void Kill(int signal = 9);
  // Waits for the process to exit; returns its exit status, or 128+signal,
  // or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // SIGTERM + Wait.
  int Stop();
  // Stops (SIGTERM) and starts again on the same data directory, trying the
  // same port first. Throws like the constructor.
  void Restart();
  bool running() const { return pid_ > 0; }

  HttpResult Request(const std::string& method, const std::string& path,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) const {
    return HttpRequest(url_, method, path, body, headers);
  }

 private:
  void Spawn(const std::string& listen);
  void Reap();

  Options options_;
  std::filesystem::path temp_dir_;
  std::filesystem::path data_dir_;
  std::string url_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  int stdout_fd_ = -1;
  struct Capture {
    std::mutex mu;
    std::string text;
  };
  std::shared_ptr<Capture> stdout_ = std::make_shared<Capture>();
  std::thread stdout_drain_;
};

}  // namespace keyward::testing
