#include "tests/live/live_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace keyward::live {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::mt19937_64& Rng() {
  static std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

std::mutex& RngMutex() {
  static std::mutex mu;
  return mu;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int MillisLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitCrlfLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    std::string line =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

[[noreturn]] void Throw(const std::string& what, const HttpResult& r) {
  throw std::runtime_error(what + ": " + Describe(r));
}

}  // namespace

std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                 (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                 uint32_t{static_cast<uint8_t>(bytes[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                 (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string RandomBytes(size_t n) {
  std::lock_guard lock(RngMutex());
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(Rng()() & 0xff);
  return out;
}

std::string RandomB64(size_t n) { return Base64Url(RandomBytes(n)); }

std::string RandomToken(size_t n) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::lock_guard lock(RngMutex());
  std::string out(n, 'a');
  for (char& c : out) c = kChars[Rng()() % (sizeof kChars - 1)];
  return out;
}

int ConnectLocal(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::optional<HttpResult> ParseResponse(std::string_view raw) {
  size_t header_end = raw.find("\r\n\r\n");
  if (header_end == std::string_view::npos || !raw.starts_with("HTTP/1.")) return std::nullopt;
  HttpResult result;
  std::vector<std::string> lines = SplitCrlfLines(std::string(raw.substr(0, header_end)));
  if (lines.empty() || lines[0].size() < 12) return std::nullopt;
  result.status = std::atoi(lines[0].c_str() + 9);
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    std::string value = lines[i].substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    result.headers[Lower(lines[i].substr(0, colon))] = value;
  }
  result.body = std::string(raw.substr(header_end + 4));
  if (auto it = result.headers.find("content-length"); it != result.headers.end()) {
    size_t length = std::stoul(it->second);
    if (result.body.size() > length) result.body.resize(length);
  }
  return result;
}

RawResponse RawExchange(uint16_t port, std::string_view request,
                        std::chrono::milliseconds timeout) {
  RawResponse out;
  auto start = Clock::now();
  auto deadline = start + timeout;
  int fd = ConnectLocal(port);
  if (fd < 0) return out;
  out.connected = true;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string_view pending = request;
  bool sending = !pending.empty();
  char buffer[65536];
  while (true) {
    pollfd p{fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
    int left = MillisLeft(deadline);
    if (left == 0) {
      out.timed_out = true;
      break;
    }
    int ready = ::poll(&p, 1, left);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      out.timed_out = true;
      break;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        out.raw.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        out.closed = true;
        break;
      }
    }
    if (sending && (p.revents & POLLOUT)) {
      ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n > 0) {
        pending.remove_prefix(static_cast<size_t>(n));
        sending = !pending.empty();
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        sending = false;  // the server stopped reading; its answer may still come
      }
    }
  }
  ::close(fd);
  out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (auto parsed = ParseResponse(out.raw)) {
    out.answered = true;
    out.http = std::move(*parsed);
  }
  return out;
}

std::string RawRequest::Build(uint16_t port) const {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                  "\r\nConnection: close\r\n";
  if (content_type) r += "Content-Type: " + *content_type + "\r\n";
  if (authorization) r += "Authorization: " + *authorization + "\r\n";
  if (content_length) {
    r += "Content-Length: " + *content_length + "\r\n";
  } else if (!body.empty() || method == "POST" || method == "PUT") {
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const auto& [name, value] : extra) r += name + ": " + value + "\r\n";
  r += "\r\n";
  r += body;
  return r;
}

::testing::AssertionResult IsErrorBody(const HttpResult& r,
                                       const std::vector<std::string>& forbidden) {
  auto fail = [&](const std::string& why) {
    return ::testing::AssertionFailure() << why << "; got " << Describe(r);
  };
  auto type = r.headers.find("content-type");
  if (type == r.headers.end() || !type->second.starts_with("application/json")) {
    return fail("the error is not application/json");
  }
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return fail("the error body is not JSON");
  if (!body.is_object() || body.size() != 1 || !body.contains("error")) {
    return fail("the body is not exactly {\"error\":{...}}");
  }
  const json& error = body["error"];
  if (!error.is_object() || error.size() != 2 || !error.contains("code") ||
      !error.contains("message")) {
    return fail("\"error\" is not exactly {\"code\",\"message\"}");
  }
  if (!error["code"].is_string() || error["code"].get<std::string>().empty()) {
    return fail("the code is not a non-empty string");
  }
  if (!error["message"].is_string() || error["message"].get<std::string>().empty()) {
    return fail("the message is not a non-empty string");
  }
  static const std::regex kDotted("[a-z0-9_]+(\\.[a-z0-9_]+)+");
  if (!std::regex_match(error["code"].get<std::string>(), kDotted)) {
    return fail("the code is not <dotted.code>");
  }
  for (const std::string& value : forbidden) {
    if (value.size() >= 4 && r.body.find(value) != std::string::npos) {
      return fail("the answer echoes a value it was sent (" + value.substr(0, 40) + ")");
    }
  }
  return ::testing::AssertionSuccess();
}

std::string ErrorCode(const HttpResult& r) {
  json body = json::parse(r.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object() &&
      body["error"].contains("code") && body["error"]["code"].is_string()) {
    return body["error"]["code"].get<std::string>();
  }
  return "";
}

namespace {

// The code in the first message to `email` whose file is not in `seen`
// (every message when `seen` is null); adds that file to `seen`.
std::optional<std::string> WaitForCodeIn(const std::filesystem::path& data_dir,
                                         const std::string& email, std::set<std::string>* seen,
                                         std::chrono::milliseconds timeout) {
  static const std::regex kCode("[0-9]{6}");
  auto deadline = Clock::now() + timeout;
  const std::filesystem::path outbox = data_dir / "outbox";
  const std::string to = Lower(email);
  do {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(outbox, ec)) {
      if (entry.path().extension() != ".eml") continue;
      if (seen != nullptr && seen->count(entry.path().filename().string())) continue;
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::vector<std::string> lines = SplitCrlfLines(ReadFile(file));
      bool addressed = false;
      bool in_body = false;
      std::optional<std::string> code;
      for (const std::string& line : lines) {
        if (!in_body) {
          if (line.empty()) {
            in_body = true;
          } else if (Lower(line).starts_with("to:") && Lower(line).find(to) != std::string::npos) {
            addressed = true;
          }
          continue;
        }
        std::string trimmed = line;
        while (!trimmed.empty() && trimmed.front() == ' ') trimmed.erase(0, 1);
        while (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
        if (std::regex_match(trimmed, kCode)) code = trimmed;
      }
      if (addressed && code) {
        if (seen != nullptr) seen->insert(file.filename().string());
        return code;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (Clock::now() < deadline);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> WaitForCode(const std::filesystem::path& data_dir,
                                       const std::string& email,
                                       std::chrono::milliseconds timeout) {
  return WaitForCodeIn(data_dir, email, nullptr, timeout);
}

std::optional<std::string> WaitForNewCode(const std::filesystem::path& data_dir,
                                          const std::string& email, std::set<std::string>& seen,
                                          std::chrono::milliseconds timeout) {
  return WaitForCodeIn(data_dir, email, &seen, timeout);
}

json RegistrationBody(const std::string& email) {
  return json{{"id", RandomB64(16)},
              {"email", email},
              {"kdf", {{"ops", 2}, {"mem", 20971520}}},
              {"salt", RandomB64(16)},
              {"auth_key", RandomB64(32)},
              {"wrapped_vault_key", RandomB64(73)},
              {"public_key", RandomB64(32)},
              {"wrapped_private_key", RandomB64(73)}};
}

LiveAccount CreateAccount(const testing::ServerProcess& server, const std::string& email) {
  json body = RegistrationBody(email);
  LiveAccount account;
  account.id = body["id"];
  account.email = email;
  account.auth_key = body["auth_key"];
  account.device_id = "live-" + RandomToken(12);

  HttpResult r = server.Request("POST", "/v1/accounts", body.dump());
  if (r.status != 202) Throw("POST /v1/accounts", r);
  std::optional<std::string> code = WaitForCode(server.data_dir(), email);
  if (!code) {
    throw std::runtime_error("no code for " + email + " in " +
                             (server.data_dir() / "outbox").string());
  }
  r = server.Request("POST", "/v1/accounts/verify", json{{"email", email}, {"code", *code}}.dump());
  if (r.status != 200) Throw("POST /v1/accounts/verify", r);
  account.token = Login(server.url(), account);
  return account;
}

std::string Login(const std::string& url, const LiveAccount& account) {
  json body = {{"email", account.email},
               {"auth_key", account.auth_key},
               {"device", {{"id", account.device_id}, {"name", "live test"}, {"type", "cli"}}}};
  HttpResult r = testing::HttpRequest(url, "POST", "/v1/sessions", body.dump());
  if (r.status != 201) Throw("POST /v1/sessions", r);
  json answer = json::parse(r.body, nullptr, false);
  if (!answer.is_object() || !answer.contains("token") || !answer["token"].is_string() ||
      answer["token"].get<std::string>().empty()) {
    Throw("POST /v1/sessions answered no token", r);
  }
  return answer["token"].get<std::string>();
}

std::string Describe(const HttpResult& r) {
  if (r.status == 0) return "no answer";
  std::string body = r.body.size() > 300 ? r.body.substr(0, 300) + "..." : r.body;
  return std::to_string(r.status) + " " + body;
}

long PeakRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::atol(line.c_str() + 6);
  }
  return -1;
}

bool IsBase64Url(const std::string& s) {
  static const std::regex kB64("[A-Za-z0-9_-]+");
  return !s.empty() && s.size() % 4 != 1 && std::regex_match(s, kB64);
}

bool IsRfc3339Utc(const std::string& s) {
  static const std::regex kTime(
      "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z");
  return std::regex_match(s, kTime);
}

void WriteItems(const std::string& url, const std::string& token, const std::string& prefix,
                const std::atomic<bool>& stop, ItemLedger& ledger) {
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + token}};
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> size(41, 400);
  for (int n = 0; !stop.load(); ++n) {
    std::string id = prefix + "-" + std::to_string(n);
    std::string data = RandomB64(size(rng));
    {
      std::lock_guard lock(ledger.mu);
      ledger.sent[id] = data;
    }
    HttpResult r =
        testing::HttpRequest(url, "POST", "/v1/items", json{{"id", id}, {"data", data}}.dump(),
                             auth, std::chrono::seconds(10));
    if (r.status == 0) {
      // The server is gone (or going): this write is unacknowledged.
      if (stop.load()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    std::lock_guard lock(ledger.mu);
    json body = json::parse(r.body, nullptr, false);
    if (r.status == 201 && body.is_object() && body.value("id", "") == id &&
        body.value("data", "") == data && body.value("revision", 0) == 1) {
      ledger.acknowledged.insert(id);
    } else {
      ledger.unexpected.push_back("POST /v1/items " + id + ": " + Describe(r));
    }
  }
}

}  // namespace keyward::live
