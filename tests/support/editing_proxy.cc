#include "tests/support/editing_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>
#include <string_view>

namespace keyward::testing {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void SetTimeout(int fd) {
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Message {
  std::string start_line;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (Lower(k) == name) return v;
    }
    return {};
  }
};

// Splits "start\r\nK: V\r\n...\r\n\r\n" off `raw`; false when incomplete.
bool ParseHead(const std::string& raw, Message& m, size_t& body_start) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  body_start = end + 4;
  size_t pos = raw.find("\r\n");
  m.start_line = raw.substr(0, pos);
  while (pos < end) {
    size_t next = raw.find("\r\n", pos + 2);
    std::string line = raw.substr(pos + 2, next - pos - 2);
    pos = next;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    m.headers.emplace_back(line.substr(0, colon), value);
  }
  return true;
}

// A request from the client: head, then Content-Length bytes of body.
bool ReadRequest(int fd, Message& m) {
  std::string raw;
  char buf[8192];
  size_t body_start = 0;
  while (!ParseHead(raw, m, body_start)) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    raw.append(buf, static_cast<size_t>(n));
  }
  const std::string length = m.Header("content-length");
  const size_t want = length.empty() ? 0 : std::stoul(length);
  m.body = raw.substr(body_start);
  while (m.body.size() < want) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    m.body.append(buf, static_cast<size_t>(n));
  }
  m.body.resize(want);
  return true;
}

std::string Dechunk(const std::string& body) {
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t eol = body.find("\r\n", pos);
    if (eol == std::string::npos) break;
    const size_t size = std::stoul(body.substr(pos, eol - pos), nullptr, 16);
    if (size == 0) break;
    out.append(body, eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

// The whole answer of an upstream that closes after it (Connection: close).
bool ReadResponse(int fd, Message& m) {
  std::string raw;
  char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0) return false;
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  size_t body_start = 0;
  if (!ParseHead(raw, m, body_start)) return false;
  m.body = raw.substr(body_start);
  if (Lower(m.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    m.body = Dechunk(m.body);
  } else if (const std::string length = m.Header("content-length"); !length.empty()) {
    m.body.resize(std::min(m.body.size(), static_cast<size_t>(std::stoul(length))));
  }
  return true;
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  SetTimeout(fd);
  return fd;
}

bool Hop(std::string_view name) {
  const std::string n = Lower(name);
  return n == "connection" || n == "keep-alive" || n == "content-length" ||
         n == "transfer-encoding";
}

std::string Serialize(const std::string& start_line,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      const std::string& body) {
  std::string out = start_line + "\r\n";
  for (const auto& [k, v] : headers) {
    if (!Hop(k)) out += k + ": " + v + "\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  return out + body;
}

}  // namespace

EditingProxy::EditingProxy() {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw std::runtime_error("proxy: socket");
  int one = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listener_, 64) != 0) {
    ::close(listener_);
    throw std::runtime_error("proxy: bind/listen");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

EditingProxy::~EditingProxy() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(listener_);
}

void EditingProxy::SetEdit(Edit edit) {
  std::lock_guard lock(mu_);
  edit_ = std::move(edit);
}

std::vector<ProxyExchange> EditingProxy::Exchanges() const {
  std::lock_guard lock(mu_);
  return exchanges_;
}

std::vector<ProxyExchange> EditingProxy::ExchangesTo(const std::string& prefix) const {
  std::vector<ProxyExchange> out;
  for (auto& x : Exchanges()) {
    if (x.path.starts_with(prefix)) out.push_back(std::move(x));
  }
  return out;
}

void EditingProxy::Serve() {
  while (!stopping_) {
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (stopping_) return;
      continue;
    }
    SetTimeout(client);
    Handle(client);
    ::close(client);
  }
}

void EditingProxy::Handle(int client) {
  Message request;
  if (!ReadRequest(client, request)) return;
  ProxyExchange x;
  const size_t sp1 = request.start_line.find(' ');
  const size_t sp2 = request.start_line.find(' ', sp1 + 1);
  x.method = request.start_line.substr(0, sp1);
  x.path = request.start_line.substr(sp1 + 1, sp2 - sp1 - 1);
  x.request_body = request.body;

  Message response;
  const int upstream = upstream_port_ == 0 ? -1 : Connect(upstream_port_);
  if (upstream < 0 ||
      !SendAll(upstream, Serialize(request.start_line, request.headers, request.body)) ||
      !ReadResponse(upstream, response)) {
    if (upstream >= 0) ::close(upstream);
    SendAll(client, Serialize("HTTP/1.1 502 Bad Gateway", {}, ""));
    return;
  }
  ::close(upstream);
  // "HTTP/1.1 200 OK"
  const size_t s1 = response.start_line.find(' ');
  int status = std::stoi(response.start_line.substr(s1 + 1, 3));
  std::string body = response.body;
  Edit edit;
  {
    std::lock_guard lock(mu_);
    edit = edit_;
  }
  const int original = status;
  if (edit) edit(x, status, body);
  const std::string start_line =
      status == original ? response.start_line : "HTTP/1.1 " + std::to_string(status) + " Edited";
  x.status = status;
  x.response_body = body;
  {
    std::lock_guard lock(mu_);
    exchanges_.push_back(x);
  }
  SendAll(client, Serialize(start_line, response.headers, body));
}

}  // namespace keyward::testing
