// The server over real sockets on 127.0.0.1:0, with a tiny POSIX client.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

namespace keyward::http {
namespace {

using namespace std::chrono_literals;

class Socket {
 public:
  explicit Socket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads one response (Content-Length framed) or until EOF; "" on timeout.
  std::string ReadResponse(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      size_t header_end = buffer_.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::string head = buffer_.substr(0, header_end);
        size_t length = 0;
        std::string lower = head;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t cl = lower.find("content-length:");
        if (cl != std::string::npos) length = std::stoul(head.substr(cl + 15));
        bool head_request = last_was_head_;
        size_t total = header_end + 4 + (head_request ? 0 : length);
        if (buffer_.size() >= total) {
          std::string response = buffer_.substr(0, total);
          buffer_.erase(0, total);
          return response;
        }
      }
      if (!Fill(deadline)) {
        std::string rest = std::move(buffer_);
        buffer_.clear();
        return rest;
      }
    }
  }
  // True if the peer closed (EOF or reset) within the timeout.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0) return false;
      if (::poll(&p, 1, left) <= 0) return false;
      char scratch[4096];
      ssize_t n = ::recv(fd_, scratch, sizeof scratch, 0);
      if (n <= 0) return true;
    }
  }
  void ExpectHeadResponse(bool head) { last_was_head_ = head; }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return false;
    char scratch[65536];
    ssize_t n = ::recv(fd_, scratch, sizeof scratch, 0);
    if (n <= 0) return false;
    buffer_.append(scratch, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  bool last_was_head_ = false;
};

ServerOptions Opts(std::string listen) {
  ServerOptions options;
  options.listen = std::move(listen);
  return options;
}

int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.", 0) != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

bool HasHeader(const std::string& response, std::string_view line) {
  std::string head = response.substr(0, response.find("\r\n\r\n"));
  return head.find(std::string("\r\n") + std::string(line) + "\r\n") != std::string::npos ||
         head.ends_with(std::string("\r\n") + std::string(line));
}

std::string Get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

std::string Post(std::string_view path, std::string_view body) {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/healthz", [](const Request&, const PathParams&) {
      return JsonResponse(200, {{"status", "ok"}});
    });
    router_.Add("POST", "/echo", [](const Request& request, const PathParams&) {
      auto body = ParseJsonBody(request);
      if (!body) return ErrorResponse(body.error());
      return JsonResponse(200, {{"size", request.body.size()},
                                {"remote", request.remote_address},
                                {"query_a", request.QueryParam("a")}});
    });
    router_.Add("GET", "/slow", [this](const Request&, const PathParams&) {
      slow_started_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms_.load()));
      return JsonResponse(200, {{"slow", true}});
    });
    router_.Add("GET", "/items/{id}", [](const Request&, const PathParams& params) {
      return JsonResponse(200, {{"id", params.at("id")}});
    });
  }

  void StartServer(ServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    if (options.read_timeout == ServerOptions{}.read_timeout) options.read_timeout = 2000ms;
    options.io_threads = 2;
    options.handler_threads = 4;
    server_ = std::make_unique<Server>(options, router_);
    ASSERT_TRUE(server_->Start().has_value());
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      server_->Wait();
    }
  }

  Router router_;
  std::unique_ptr<Server> server_;
  std::atomic<bool> slow_started_{false};
  std::atomic<int> slow_ms_{500};
};

TEST_F(ServerTest, HealthzWithSecurityHeaders) {
  StartServer();
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(server_->port()));
  Socket s(server_->port());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.Send(Get("/healthz")));
  std::string response = s.ReadResponse();
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_EQ(BodyOf(response), R"({"status":"ok"})");
  EXPECT_TRUE(HasHeader(response, "Cache-Control: no-store")) << response;
  EXPECT_TRUE(HasHeader(response, "X-Content-Type-Options: nosniff")) << response;
  EXPECT_TRUE(HasHeader(response, "Content-Type: application/json")) << response;
}

TEST_F(ServerTest, KeepAliveReusesConnection) {
  StartServer();
  Socket s(server_->port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s.Send(Get("/items/" + std::to_string(i))));
    std::string response = s.ReadResponse();
    ASSERT_EQ(StatusOf(response), 200);
    EXPECT_EQ(BodyOf(response), R"({"id":")" + std::to_string(i) + R"("})");
  }
  // Pipelined requests on the same connection.
  ASSERT_TRUE(s.Send(Get("/items/a") + Get("/items/b")));
  EXPECT_EQ(BodyOf(s.ReadResponse()), R"({"id":"a"})");
  EXPECT_EQ(BodyOf(s.ReadResponse()), R"({"id":"b"})");
  // Connection: close is honoured.
  ASSERT_TRUE(s.Send(Get("/healthz", "Connection: close\r\n")));
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
  EXPECT_TRUE(s.WaitClosed(2000ms));
}

TEST_F(ServerTest, PostBodyQueryAndRemote) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(Post("/echo?a=x%20y", R"({"k":"v"})")));
  std::string response = s.ReadResponse();
  ASSERT_EQ(StatusOf(response), 200) << response;
  auto body = nlohmann::json::parse(BodyOf(response));
  EXPECT_EQ(body["size"], 9);
  EXPECT_EQ(body["remote"], "127.0.0.1");
  EXPECT_EQ(body["query_a"], "x y");
}

TEST_F(ServerTest, ForwardedForCountsOnlyFromATrustedProxy) {
  std::string forwarded =
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "X-Forwarded-For: 1.2.3.4, 198.51.100.9\r\nContent-Length: 2\r\n\r\n{}";
  auto remote = [&] {
    Socket s(server_->port());
    EXPECT_TRUE(s.Send(forwarded));
    std::string response = s.ReadResponse();
    EXPECT_EQ(StatusOf(response), 200) << response;
    return nlohmann::json::parse(BodyOf(response))["remote"].get<std::string>();
  };
  StartServer();  // no trusted proxy: the header is the client's word, ignored
  EXPECT_EQ(remote(), "127.0.0.1");
  server_->Stop();
  server_->Wait();
  ServerOptions options;
  std::string bad;
  ASSERT_TRUE(ProxyList::Parse("127.0.0.1", &options.trusted_proxies, &bad));
  StartServer(options);
  EXPECT_EQ(remote(), "198.51.100.9");
}

TEST_F(ServerTest, BodyAtLimitIsAcceptedAboveIs413) {
  StartServer();
  const size_t limit = 1 << 20;
  std::string at_limit = "{\"p\":\"" + std::string(limit - 8, 'a') + "\"}";
  ASSERT_EQ(at_limit.size(), limit);
  {
    Socket s(server_->port());
    ASSERT_TRUE(s.Send(Post("/echo", at_limit)));
    std::string response = s.ReadResponse();
    EXPECT_EQ(StatusOf(response), 200) << response.substr(0, 200);
  }
  {
    Socket s(server_->port());
    std::string over = at_limit + " ";
    ASSERT_TRUE(s.Send(Post("/echo", over)));
    std::string response = s.ReadResponse();
    EXPECT_EQ(StatusOf(response), 413);
    EXPECT_EQ(
        BodyOf(response),
        R"({"error":{"code":"request.too_large","message":"the request body is too large"}})");
  }
}

TEST_F(ServerTest, TenMegabyteBodyIs413AndServerKeepsServing) {
  StartServer();
  {
    Socket s(server_->port());
    std::string body(10 << 20, 'x');
    // Sending may fail part-way if the server closes: the response must still arrive.
    s.Send(Post("/echo", body));
    std::string response = s.ReadResponse();
    EXPECT_EQ(StatusOf(response), 413) << response.substr(0, 200);
    EXPECT_NE(BodyOf(response).find("request.too_large"), std::string::npos);
  }
  {
    // Chunked without a length: refused while reading.
    Socket s(server_->port());
    std::string request =
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    std::string chunk(1 << 16, 'y');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
    for (int i = 0; i < 20; ++i) request += size_line + chunk + "\r\n";
    request += "0\r\n\r\n";
    s.Send(request);
    EXPECT_EQ(StatusOf(s.ReadResponse()), 413);
  }
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(Get("/healthz")));
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
}

TEST_F(ServerTest, GarbageIs400AndClosed) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16)));
  std::string response = s.ReadResponse();
  EXPECT_EQ(StatusOf(response), 400) << response;
  EXPECT_NE(BodyOf(response).find("request.malformed"), std::string::npos);
  EXPECT_TRUE(s.WaitClosed(2000ms));

  Socket bad_version(server_->port());
  ASSERT_TRUE(bad_version.Send("GET / HTTP/9x\r\n\r\n"));
  EXPECT_EQ(StatusOf(bad_version.ReadResponse()), 400);

  Socket bad_target(server_->port());
  ASSERT_TRUE(bad_target.Send("GET healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(StatusOf(bad_target.ReadResponse()), 400);
}

TEST_F(ServerTest, HugeHeaderIs431) {
  StartServer();
  Socket s(server_->port());
  s.Send(Get("/healthz", "X-Big: " + std::string(64 << 10, 'h') + "\r\n"));
  std::string response = s.ReadResponse();
  EXPECT_EQ(StatusOf(response), 431);
  EXPECT_NE(BodyOf(response).find("request.header_too_large"), std::string::npos);
}

TEST_F(ServerTest, UnknownRouteAndWrongMethod) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(Get("/nope?email=someone")));
  std::string not_found = s.ReadResponse();
  EXPECT_EQ(StatusOf(not_found), 404);
  EXPECT_EQ(BodyOf(not_found),
            R"({"error":{"code":"route.not_found","message":"no such endpoint"}})");
  ASSERT_TRUE(s.Send("DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string not_allowed = s.ReadResponse();
  EXPECT_EQ(StatusOf(not_allowed), 405);
  EXPECT_TRUE(HasHeader(not_allowed, "Allow: GET, HEAD, OPTIONS")) << not_allowed;
  EXPECT_TRUE(HasHeader(not_allowed, "Cache-Control: no-store"));
}

TEST_F(ServerTest, HeadAndOptions) {
  StartServer();
  Socket s(server_->port());
  s.ExpectHeadResponse(true);
  ASSERT_TRUE(s.Send("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string head = s.ReadResponse();
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_TRUE(HasHeader(head, "Content-Length: 15")) << head;
  EXPECT_EQ(BodyOf(head), "");
  s.ExpectHeadResponse(false);
  ASSERT_TRUE(s.Send("OPTIONS /echo HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string options = s.ReadResponse();
  EXPECT_EQ(StatusOf(options), 204);
  EXPECT_TRUE(HasHeader(options, "Allow: OPTIONS, POST")) << options;
  // The connection is still in sync.
  ASSERT_TRUE(s.Send(Get("/healthz")));
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
}

TEST_F(ServerTest, ExpectContinue) {
  StartServer();
  Socket s(server_->port());
  ASSERT_TRUE(
      s.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
  std::string interim = s.ReadResponse();
  EXPECT_EQ(StatusOf(interim), 100);
  ASSERT_TRUE(s.Send("{}"));
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
}

TEST_F(ServerTest, SlowLorisIsClosed) {
  ServerOptions options;
  options.read_timeout = 600ms;
  StartServer(options);
  // Silent connection.
  Socket silent(server_->port());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.WaitClosed(3000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);

  // Headers dribbled byte by byte never complete within the timeout.
  Socket dribble(server_->port());
  std::string request = Get("/healthz", "X-Pad: " + std::string(100, 'p') + "\r\n");
  bool closed = false;
  start = std::chrono::steady_clock::now();
  for (char c : request) {
    if (!dribble.Send(std::string_view(&c, 1))) {
      closed = true;
      break;
    }
    pollfd p{dribble.fd(), POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char scratch[16];
      if (::recv(dribble.fd(), scratch, sizeof scratch, 0) <= 0) {
        closed = true;
        break;
      }
    }
  }
  EXPECT_TRUE(closed || dribble.WaitClosed(1000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3000ms);

  // The server still answers.
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(Get("/healthz")));
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
}

TEST_F(ServerTest, IdleKeepAliveIsClosed) {
  ServerOptions options;
  options.idle_timeout = 500ms;
  StartServer(options);
  Socket s(server_->port());
  ASSERT_TRUE(s.Send(Get("/healthz")));
  EXPECT_EQ(StatusOf(s.ReadResponse()), 200);
  EXPECT_TRUE(s.WaitClosed(2000ms));
}

TEST_F(ServerTest, ConcurrentClients) {
  StartServer();
  slow_ms_ = 300;
  std::vector<std::future<int>> results;
  auto begin = std::chrono::steady_clock::now();
  // Slow handlers run on the handler pool; fast requests are not stuck behind them.
  for (int i = 0; i < 4; ++i) {
    results.push_back(std::async(std::launch::async, [this] {
      Socket s(server_->port());
      s.Send(Get("/slow"));
      return StatusOf(s.ReadResponse());
    }));
  }
  for (int i = 0; i < 16; ++i) {
    results.push_back(std::async(std::launch::async, [this, i] {
      Socket s(server_->port());
      int ok = 0;
      for (int j = 0; j < 10; ++j) {
        s.Send(Get("/items/" + std::to_string(i * 100 + j)));
        if (StatusOf(s.ReadResponse()) == 200) ++ok;
      }
      return ok == 10 ? 200 : 0;
    }));
  }
  for (auto& r : results) EXPECT_EQ(r.get(), 200);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5000ms);
}

TEST_F(ServerTest, StopFinishesInFlightAndClosesIdle) {
  StartServer();
  slow_ms_ = 500;
  Socket idle(server_->port());
  ASSERT_TRUE(idle.Send(Get("/healthz")));
  ASSERT_EQ(StatusOf(idle.ReadResponse()), 200);

  Socket busy(server_->port());
  ASSERT_TRUE(busy.Send(Get("/slow")));
  while (!slow_started_) std::this_thread::sleep_for(5ms);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  std::string response = busy.ReadResponse();
  EXPECT_EQ(StatusOf(response), 200);
  EXPECT_TRUE(HasHeader(response, "Connection: close")) << response;
  EXPECT_TRUE(idle.WaitClosed(2000ms));
  server_->Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3000ms);
  // No longer accepting.
  Socket after(server_->port());
  EXPECT_FALSE(after.ok());
}

TEST(ServerListenTest, PortInUseAndBadAddress) {
  Router router;
  Server first(Opts("127.0.0.1:0"), router);
  ASSERT_TRUE(first.Listen().has_value());
  Server second(Opts("127.0.0.1:" + std::to_string(first.port())), router);
  auto status = second.Listen();
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), "server.listen_failed");
  EXPECT_NE(status.error().message().find("in use"), std::string::npos) << status.error().message();

  // A server that only listened releases its port when destroyed.
  uint16_t port = 0;
  {
    Server listen_only(Opts("127.0.0.1:0"), router);
    ASSERT_TRUE(listen_only.Listen().has_value());
    port = listen_only.port();
  }
  Server rebind(Opts("127.0.0.1:" + std::to_string(port)), router);
  EXPECT_TRUE(rebind.Listen().has_value());
  rebind.Stop();
  EXPECT_FALSE(rebind.Start().has_value());

  for (const char* bad : {"nope", "127.0.0.1", "127.0.0.1:99999", "example.com:80", ":80"}) {
    Server s(Opts(bad), router);
    EXPECT_FALSE(s.Listen().has_value()) << bad;
  }
  Server v6(Opts("[::1]:0"), router);
  if (v6.Listen().has_value()) {
    EXPECT_TRUE(v6.url().starts_with("http://[::1]:"));
  }
}

// ---- TLS ----

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-http-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

bool MakeSelfSigned(const std::filesystem::path& dir) {
  std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 1 -subj /CN=localhost -keyout '" +
      (dir / "key.pem").string() + "' -out '" + (dir / "cert.pem").string() + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

TEST(ServerTlsTest, RoundTrip) {
  TempDir dir;
  if (!MakeSelfSigned(dir.path())) GTEST_SKIP() << "openssl CLI unavailable";
  Router router;
  router.Add("GET", "/healthz", [](const Request&, const PathParams&) {
    return JsonResponse(200, {{"status", "ok"}});
  });
  ServerOptions options = Opts("127.0.0.1:0");
  options.tls_cert_file = (dir.path() / "cert.pem").string();
  options.tls_key_file = (dir.path() / "key.pem").string();
  options.io_threads = 1;
  Server server(options, router);
  ASSERT_TRUE(server.Start().has_value());
  EXPECT_TRUE(server.tls());
  EXPECT_TRUE(server.url().starts_with("https://127.0.0.1:"));

  auto request_with = [&](int max_version) -> std::pair<bool, std::string> {
    Socket s(server.port());
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, s.fd());
    bool connected = SSL_connect(ssl) == 1;
    std::string out;
    if (connected) {
      std::string request = Get("/healthz", "Connection: close\r\n");
      SSL_write(ssl, request.data(), static_cast<int>(request.size()));
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return {connected, out};
  };
  auto [ok, response] = request_with(0);
  ASSERT_TRUE(ok);
  EXPECT_EQ(StatusOf(response), 200) << response;
  EXPECT_EQ(BodyOf(response), R"({"status":"ok"})");
  // TLS 1.1 and below are refused.
  EXPECT_FALSE(request_with(TLS1_1_VERSION).first);

  // Plain HTTP against the TLS port does not get an answer.
  Socket plain(server.port());
  plain.Send(Get("/healthz"));
  EXPECT_EQ(StatusOf(plain.ReadResponse(2000ms)), 0);
}

TEST(ServerTlsTest, MissingFilesFail) {
  Router router;
  ServerOptions options = Opts("127.0.0.1:0");
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  Server server(options, router);
  auto status = server.Listen();
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code(), "server.tls_failed");
  ServerOptions half = Opts("127.0.0.1:0");
  half.tls_cert_file = "/x";
  Server half_server(half, router);
  EXPECT_FALSE(half_server.Listen().has_value());
}

}  // namespace
}  // namespace keyward::http
