// Debian's nginx as the load balancer in front of several keywardd nodes, for
// multi-node end-to-end tests: round robin over the given upstreams, a refused
// or timed-out connection retried on the next node (proxy_next_upstream
// error timeout: nginx does so for POST too while nothing was sent), a node
// that failed set aside briefly (max_fails / fail_timeout), and every answer
// carrying X-Keyward-Upstream: $upstream_addr so a test sees which node served
// it (also in the access log, one line per request).
//
//   keyward::testing::NginxProxy proxy({.upstreams = {a.url(), b.url()}});
//   auto r = proxy.Request("GET", "/healthz");
//   std::string node = NginxProxy::ServedBy(r);   // "127.0.0.1:PORT"
//
// Everything lives in a temporary directory (config, pid, logs, temp paths),
// removed on destruction, after nginx is stopped (SIGTERM, then SIGKILL) and
// reaped. nginx runs in the foreground (daemon off) as the test's child; it
// gets SIGTERM if the test process dies.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/server_process.h"

namespace keyward::testing {

struct NginxProxyOptions {
  // "http://127.0.0.1:PORT" or "127.0.0.1:PORT", one per node.
  std::vector<std::string> upstreams;
  uint16_t port = 0;  // 0: a free port
  std::filesystem::path binary = "/usr/sbin/nginx";
  int max_fails = 1;
  std::chrono::seconds fail_timeout{10};
  std::chrono::seconds connect_timeout{2};
  std::chrono::milliseconds start_timeout{10000};
};

// One line of the access log.
struct NginxAccess {
  std::string method;
  std::string uri;  // path without the query
  int status = 0;
  // Every node tried, in order ("127.0.0.1:PORT"); the last one answered.
  std::vector<std::string> upstreams;
};

class NginxProxy {
 public:
  using Options = NginxProxyOptions;

  // Throws std::runtime_error (with nginx's error log) when it does not start.
  explicit NginxProxy(Options options);
  ~NginxProxy();
  NginxProxy(const NginxProxy&) = delete;
  NginxProxy& operator=(const NginxProxy&) = delete;

  // Whether the nginx binary is there (tests skip without it).
  static bool Available(const std::filesystem::path& binary = "/usr/sbin/nginx");
  // A port free right now on 127.0.0.1 (for a public URL fixed before start).
  static uint16_t FreePort();
  // The node that answered (the last address of X-Keyward-Upstream); "" when
  // the answer has no such header.
  static std::string ServedBy(const HttpResult& result);

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT"
  uint16_t port() const { return port_; }
  const std::filesystem::path& temp_dir() const { return temp_dir_; }
  pid_t pid() const { return pid_; }
  std::string ConfigText() const;
  std::string ErrorLog() const;
  // The requests served so far, oldest first (nginx writes a line after the
  // answer: this waits until the log stops growing for 100 ms).
  std::vector<NginxAccess> AccessLog() const;

  HttpResult Request(const std::string& method, const std::string& path,
                     const std::string& body = "",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}) const {
    return HttpRequest(url_, method, path, body, headers);
  }

  // SIGTERM, wait, SIGKILL if need be. Idempotent.
  void Stop();

 private:
  void WriteConfig() const;
  void Spawn();

  Options options_;
  std::filesystem::path temp_dir_;
  std::string url_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace keyward::testing
