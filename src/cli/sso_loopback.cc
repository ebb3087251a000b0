#include "cli/sso_loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "common/percent.h"
#include "crypto/crypto.h"

namespace keyward::cli {

namespace {

constexpr size_t kMaxRequest = 16 * 1024;

Error Timeout() {
  return Error::Unavailable("cli.sso_timeout",
                            "no answer from the browser in time; run the login again");
}

// The request line's target, read until the end of the headers (or the
// limit); empty when the peer sent nothing usable in time.
std::string ReadTarget(int fd) {
  std::string request;
  char buf[2048];
  while (request.size() < kMaxRequest && request.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  const size_t line_end = request.find("\r\n");
  const std::string_view line = std::string_view(request).substr(0, line_end);
  if (!line.starts_with("GET ")) return "";
  const std::string_view rest = line.substr(4);
  return std::string(rest.substr(0, rest.find(' ')));
}

void Answer(int fd, int status, std::string_view text) {
  const std::string body =
      "<!doctype html><meta charset=utf-8><title>Keyward</title><p>" + std::string(text) + "</p>";
  std::string reply = "HTTP/1.1 " + std::to_string(status) +
                      (status == 200 ? " OK" : " Not Found") +
                      "\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
                      "Referrer-Policy: no-referrer\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < reply.size()) {
    const ssize_t n = ::send(fd, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

Result<LoopbackListener> LoopbackListener::Open(uint16_t port) {
  auto fail = [&] {
    return Fail(Error::Unavailable(
        "cli.sso_listen", port == 0 ? std::string("cannot listen on 127.0.0.1 for the sign-in")
                                    : "cannot listen on 127.0.0.1:" + std::to_string(port) +
                                          " for the sign-in (in use?)"));
  };
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail();
  // A fixed --redirect-port is used again by the next login while the last
  // one's connection is still in TIME_WAIT (never while another listens).
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return fail();
  }
  return LoopbackListener(fd, ntohs(addr.sin_port));
}

LoopbackListener::LoopbackListener(LoopbackListener&& other) noexcept
    : fd_(other.fd_), port_(other.port_) {
  other.fd_ = -1;
}

LoopbackListener::~LoopbackListener() {
  if (fd_ >= 0) ::close(fd_);
}

std::string LoopbackListener::redirect_uri() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/callback";
}

Result<std::string> LoopbackListener::Wait(std::string_view expected_state,
                                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Fail(Timeout());
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) return Fail(Timeout());
    if (ready <= 0) continue;
    const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    const std::string target = ReadTarget(conn);
    const std::string_view path = std::string_view(target).substr(0, target.find('?'));
    if (path != "/callback") {
      // A favicon, a probe: not the answer.
      Answer(conn, 404, "Not found.");
      ::close(conn);
      continue;
    }
    const size_t q = target.find('?');
    const std::string_view query =
        q == std::string::npos ? std::string_view() : std::string_view(target).substr(q + 1);
    auto error = QueryValue(query, "error");
    auto code = QueryValue(query, "code");
    auto state = QueryValue(query, "state");
    if (!state || state->size() != expected_state.size() ||
        !crypto::ConstantTimeEqual(
            std::span(reinterpret_cast<const uint8_t*>(state->data()), state->size()),
            std::span(reinterpret_cast<const uint8_t*>(expected_state.data()),
                      expected_state.size()))) {
      Answer(conn, 404, "This is not the sign-in this terminal started.");
      ::close(conn);
      continue;
    }
    if (error) {
      Answer(conn, 200, "The sign-in was refused. You can close this tab.");
      ::close(conn);
      // Only the standard code: a description is the provider's free text.
      std::string shown;
      for (char c : *error) {
        if ((c >= 'a' && c <= 'z') || c == '_') shown.push_back(c);
        if (shown.size() >= 64) break;
      }
      return Fail(Error::PermissionDenied(
          "sso.denied", "the identity provider refused the sign-in (" + shown + ")"));
    }
    if (!code || code->empty()) {
      Answer(conn, 200, "This answer has no sign-in code. You can close this tab.");
      ::close(conn);
      return Fail(Error::InvalidArgument("cli.sso_bad_callback",
                                         "the browser came back without a sign-in code"));
    }
    Answer(conn, 200, "Signed in. You can close this tab and go back to the terminal.");
    ::close(conn);
    return std::move(*code);
  }
}

}  // namespace keyward::cli
