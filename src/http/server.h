// keywardd's HTTP/1.1 server (Beast, C++20 coroutines), optionally over TLS.
// It turns wire requests into http::Request, runs Router::Handle on a pool of
// handler threads (handlers may block on the database), and writes the
// Response back with no-store/nosniff headers. Every connection has a body
// limit, a header size limit, a header read timeout and an idle timeout.
// Beast stays out of this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "http/client_address.h"
#include "http/router.h"

namespace keyward::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // "ADDR:PORT", "[::1]:PORT"; port 0 = ephemeral
  size_t body_limit = 1 << 20;            // larger bodies: 413 request.too_large
  size_t max_header_size = 16 << 10;      // larger headers: 431 request.header_too_large
  // A request's headers (and its body) must arrive within read_timeout;
  // a kept-alive connection may sit idle for idle_timeout before its next request.
  std::chrono::milliseconds read_timeout{15'000};
  std::chrono::milliseconds idle_timeout{60'000};
  // How long Stop() lets in-flight requests finish before dropping them.
  std::chrono::milliseconds shutdown_grace{10'000};
  int io_threads = 0;       // 0: one per core
  int handler_threads = 0;  // reads (GET, HEAD, OPTIONS); 0: one per core, at least 2
  // Writes (every other method) run on a pool of their own, larger than the
  // cores: a write spends most of its time waiting for its durable commit
  // (an fsync, a database round trip), and the more writes wait together,
  // the more share a commit (the SQLite store's group commit). Reads keep
  // one thread per core, so they do not pay for the writers' threads in
  // context switches. 0: 8 per core, at least 16.
  int write_threads = 0;
  // Both set: serve HTTPS (TLS 1.2+) with this PEM certificate chain and key.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Stop() on SIGTERM/SIGINT while running.
  bool handle_signals = false;
  // Connections from these addresses are reverse proxies: the request's
  // remote_address is taken from X-Forwarded-For (http/client_address.h).
  ProxyList trusted_proxies;
};

class Server {
 public:
  // The router must outlive the server; it may be filled in until Start().
  Server(ServerOptions options, const Router& router);
  ~Server();  // Stop() + Wait()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (errors: server.listen_failed, server.tls_failed).
  // After this, port() is the bound port. Start() calls it if needed.
  [[nodiscard]] Status Listen();
  uint16_t port() const;
  bool tls() const;
  // "http://127.0.0.1:PORT" / "https://[::1]:PORT": the bound address.
  std::string url() const;

  // Starts the io and handler threads and returns.
  [[nodiscard]] Status Start();
  // Graceful stop: stop accepting, close idle connections, let in-flight
  // requests finish (up to shutdown_grace). Thread-safe, idempotent, returns at once.
  void Stop();
  // Blocks until every thread has finished after Stop() (or a signal).
  void Wait();
  // Start() + Wait().
  [[nodiscard]] Status Run();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace keyward::http
