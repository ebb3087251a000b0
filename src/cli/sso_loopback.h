// The native-app side of a single sign-on (RFC 8252 7.3): a one-shot HTTP
// listener on the loopback address that the provider sends the browser
// back to with the authorization code. It answers every request with a
// short page and returns the code of the first callback that carries the
// state this sign-in started with: a callback with another state (a page
// forging one, to slip its own sign-in in) is answered and ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace keyward::cli {

class LoopbackListener {
 public:
  // Binds 127.0.0.1 on `port` (0: a random free port the system picks).
  // cli.sso_listen when the port cannot be had.
  [[nodiscard]] static Result<LoopbackListener> Open(uint16_t port);
  LoopbackListener(LoopbackListener&& other) noexcept;
  LoopbackListener& operator=(LoopbackListener&&) = delete;
  ~LoopbackListener();

  uint16_t port() const { return port_; }
  // http://127.0.0.1:PORT/callback
  std::string redirect_uri() const;

  // Serves requests until a callback with `state` arrives or `timeout`
  // passes: its code; cli.sso_timeout; sso.denied when the provider sent an
  // error instead of a code (its error code only, never its description);
  // cli.sso_bad_callback for a callback with the state but no code.
  [[nodiscard]] Result<std::string> Wait(std::string_view state, std::chrono::milliseconds timeout);

 private:
  LoopbackListener(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace keyward::cli
