// The runner itself, and the CLI's contract that needs no server: usage
// errors, one-line errors, an unreachable server.
#include "cli_runner.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace keyward::testing {
namespace {

const std::filesystem::path kCli = KEYWARD_CLI_PATH;

TEST(CliRunner, HelpExitsZero) {
  auto r = RunCli(kCli, {"--help"}, "");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("item"), std::string::npos);
}

TEST(CliRunner, UsageErrorIsExitTwoWithOneLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"item"},
           {"nosuchgroup"},
           {"item", "add"},
           {"item", "add", "--name", "x", "--password", "secret"}}) {
    auto r = RunCli(kCli, args, "");
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    ASSERT_EQ(r.ErrLines().size(), 1u) << r.Describe();
    EXPECT_TRUE(r.ErrLines()[0].starts_with("keyward: ")) << r.Describe();
    // A secret typed on argv by mistake is not repeated on the terminal.
    EXPECT_EQ(r.ErrLines()[0].find("secret"), std::string::npos) << r.Describe();
  }
}

TEST(CliRunner, UnreachableServerIsOneLineExitOne) {
  auto dir = std::filesystem::temp_directory_path() / "keyward-runner-test";
  // Port 9 (discard) on loopback: nothing listens there.
  auto r = RunCli(kCli,
                  {"--server", "http://127.0.0.1:9", "--profile", dir.string(), "login", "--email",
                   "a@example.com"},
                  "pw\n");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.Describe();
  EXPECT_NE(r.err.find("cannot reach the server"), std::string::npos) << r.Describe();
  std::filesystem::remove_all(dir);
}

TEST(CliRunner, MissingAnswerOnStdinFailsInsteadOfHanging) {
  auto dir = std::filesystem::temp_directory_path() / "keyward-runner-test2";
  auto r = RunCli(kCli,
                  {"--server", "http://127.0.0.1:9", "--profile", dir.string(), "account",
                   "register", "--email", "a@example.com"},
                  "only-once\n", {}, std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("end of input"), std::string::npos) << r.Describe();
  std::filesystem::remove_all(dir);
}

TEST(CliRunner, TimeoutKillsAHungChild) {
  auto r = RunCli("/bin/sleep", {"30"}, "", {}, std::chrono::milliseconds(200));
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + 9);
}

// A malicious server that hands out Argon2id parameters below the client's
// floor (the ETH Zurich downgrade): it answers every request with `body`.
class EvilServer {
 public:
  explicit EvilServer(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EvilServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      // Headers, then Content-Length bytes of body.
      size_t want = std::string::npos;
      while (true) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        auto end = req.find("\r\n\r\n");
        if (end != std::string::npos && want == std::string::npos) {
          auto cl = req.find("Content-Length: ");
          size_t body = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
          want = end + 4 + body;
        }
        if (want != std::string::npos && req.size() >= want) break;
      }
      ++requests_;
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      (void)::write(c, resp.data(), resp.size());
      ::close(c);
    }
  }

  std::string body_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

TEST(CliRunner, ClientRefusesKdfParamsBelowItsFloorWhateverTheServerSays) {
  EvilServer evil(R"({"kdf":{"ops":1,"mem":8192},"salt":"AAAAAAAAAAAAAAAAAAAAAA"})");
  auto dir = std::filesystem::temp_directory_path() / "keyward-runner-test3";
  auto r = RunCli(
      kCli,
      {"--server", evil.url(), "--profile", dir.string(), "login", "--email", "ann@example.com"},
      "pw\n");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ASSERT_EQ(r.ErrLines().size(), 1u) << r.Describe();
  EXPECT_NE(r.err.find("below this client's floor"), std::string::npos) << r.Describe();
  // Only the prelogin was asked: no auth key derived from weak parameters was sent.
  EXPECT_EQ(evil.requests(), 1);
  std::filesystem::remove_all(dir);
}

TEST(CliRunner, NonJsonAnswerIsAClearError) {
  EvilServer evil("<html>oops</html>");
  auto dir = std::filesystem::temp_directory_path() / "keyward-runner-test4";
  auto r = RunCli(kCli,
                  {"--server", evil.url(), "--profile", dir.string(), "account", "resend",
                   "--email", "ann@example.com"},
                  "");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("something other than JSON"), std::string::npos) << r.Describe();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyward::testing
