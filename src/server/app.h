// keywardd's wiring, kept out of main.cc so it can be tested: data directory,
// server key, mailer, API, router, HTTP server, periodic sweep, logging.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/error.h"
#include "crypto/secure_bytes.h"
#include "http/api/api.h"
#include "http/router.h"
#include "http/server.h"
#include "mail/mailer.h"
#include "server/config.h"
#include "store/store.h"

namespace keyward::server {

// api::MakeApi in keywardd; a fake in tests. It is given the store App opened.
using ApiFactory = std::function<Result<std::unique_ptr<api::Api>>(
    const api::ApiConfig&, std::unique_ptr<store::Store>, mail::Mailer&, const Clock&,
    const crypto::ServerSecret&)>;

class App {
 public:
  // Everything up to a listening socket: creates the data directory (0700),
  // loads or creates the server key (<data>/server.key) and the server
  // recovery key (<data>/recovery.key, passed to the API as
  // ApiConfig::recovery_key), builds the mailer, binds, opens (and migrates)
  // the store named by config.EffectiveDb() and hands it to the API.
  // With handle_signals, SIGTERM/SIGINT stop the server gracefully.
  [[nodiscard]] static Result<std::unique_ptr<App>> Create(const ServerConfig& config,
                                                           ApiFactory factory,
                                                           bool handle_signals = false);
  ~App();

  std::string url() const;  // the bound address, e.g. http://127.0.0.1:41234
  std::string public_url() const;
  uint16_t port() const;
  // crypto::Fingerprint of the server recovery public key (GET /v1/server).
  std::string recovery_fingerprint() const;
  const http::Router& router() const { return router_; }

  // Starts serving and sweeping (every sweep_interval).
  [[nodiscard]] Status Start();
  void Stop();
  void Wait();

  std::chrono::milliseconds sweep_interval{60'000};

 private:
  App() = default;
  void SweepLoop(std::stop_token stop);

  ServerConfig config_;
  std::string public_url_;
  SystemClock clock_;
  std::unique_ptr<crypto::ServerSecret> secret_;
  std::shared_ptr<const crypto::BoxKeyPair> recovery_key_;
  std::unique_ptr<mail::Mailer> mailer_;
  std::unique_ptr<api::Api> api_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::jthread sweeper_;
};

// Logging to stderr (stdout carries only the startup lines), at config's
// level, as text or JSON lines.
void SetUpLogging(const ServerConfig& config);

// The whole of keywardd: returns the exit status (0; 1 startup failure;
// 2 bad configuration).
int Main(int argc, char** argv, ApiFactory factory);

}  // namespace keyward::server
