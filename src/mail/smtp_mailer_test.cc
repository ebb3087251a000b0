// End-to-end: the SMTP Mailer against a real SMTP server (aiosmtpd).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mail/mailer.h"
#include "tests/support/smtp_server.h"
#include "tests/support/status_assertions.h"

namespace keyward::mail {
namespace {

using ::keyward::testing::SmtpTestServer;
using ::testing::HasSubstr;
using ::testing::Not;
using Tls = SmtpTestServer::Tls;
using SteadyClock = std::chrono::steady_clock;

constexpr char kUser[] = "keyward-relay";
constexpr char kPassword[] = "s3cret-relay-pass";

std::unique_ptr<SmtpTestServer> StartServer(Tls tls = Tls::kNone, bool auth = false) {
  SmtpTestServer::Options options;
  options.tls = tls;
  if (auth) {
    options.username = kUser;
    options.password = kPassword;
  }
  auto server = SmtpTestServer::Start(std::move(options));
  EXPECT_OK(server);
  return server ? std::move(*server) : nullptr;
}

Message CodeMessage() {
  return {.to = "alice@example.org",
          .subject = "Your Keyward code",
          .body = "Hello,\n\nyour code is:\n\n482913\n\n.a line starting with a dot\n.\nBye\n"};
}

std::string Header(const std::string& data, const std::string& name) {
  std::smatch m;
  if (std::regex_search(data, m, std::regex("(^|\r\n)" + name + ": ([^\r\n]*)\r\n"))) return m[2];
  return "";
}

void ExpectCodeMessage(const SmtpTestServer& server, const std::string& from) {
  auto received = server.Received();
  ASSERT_EQ(received.size(), 1u);
  const auto& m = received[0];
  EXPECT_EQ(m.mail_from, from);
  EXPECT_EQ(m.rcpt_to, std::vector<std::string>{"alice@example.org"});
  EXPECT_EQ(Header(m.data, "To"), "alice@example.org");
  EXPECT_EQ(Header(m.data, "From"), from);
  EXPECT_EQ(Header(m.data, "Subject"), "Your Keyward code");
  EXPECT_EQ(Header(m.data, "MIME-Version"), "1.0");
  EXPECT_EQ(Header(m.data, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_THAT(Header(m.data, "Message-ID"),
              ::testing::EndsWith("@" + from.substr(from.find('@') + 1) + ">"));
  EXPECT_THAT(m.data, HasSubstr("\r\n\r\n482913\r\n\r\n"));
  // Dot-stuffed by libcurl, unstuffed by the server: the lines arrive intact.
  EXPECT_THAT(m.data, HasSubstr("\r\n.a line starting with a dot\r\n.\r\nBye\r\n"));
}

TEST(SmtpMailerTest, SendsPlain) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  SmtpConfig config = server->ClientConfig();
  config.from = "keyward@vault.example.com";
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  ASSERT_OK(status);
  ExpectCodeMessage(*server, "keyward@vault.example.com");
}

TEST(SmtpMailerTest, SendsWithStartTlsAndAuthVerifyingThePeer) {
  auto server = StartServer(Tls::kStartTls, /*auth=*/true);
  ASSERT_TRUE(server);
  SmtpConfig config = server->ClientConfig();
  ASSERT_EQ(config.security, SmtpConfig::Security::kStartTls);
  ASSERT_FALSE(config.ca_file.empty());
  config.from = "Keyward <keyward@vault.example.com>";
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  ASSERT_OK(status);
  auto received = server->Received();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].mail_from, "keyward@vault.example.com");
  EXPECT_EQ(Header(received[0].data, "From"), "Keyward <keyward@vault.example.com>");
  EXPECT_THAT(received[0].data, HasSubstr("\r\n482913\r\n"));
}

TEST(SmtpMailerTest, SendsWithImplicitTlsAndAuth) {
  auto server = StartServer(Tls::kImplicit, /*auth=*/true);
  ASSERT_TRUE(server);
  SmtpConfig config = server->ClientConfig();
  config.from = "keyward@vault.example.com";
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  ASSERT_OK(status);
  ExpectCodeMessage(*server, "keyward@vault.example.com");
}

TEST(SmtpMailerTest, NonAsciiSubjectArrivesEncoded) {
  auto server = StartServer(Tls::kStartTls);
  ASSERT_TRUE(server);
  auto status = MakeSmtpMailer(server->ClientConfig())
                    ->Send({.to = "bob@example.org", .subject = "Grüße", .body = "Schön.\n"});
  ASSERT_OK(status);
  auto messages = server->Messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(Header(messages[0], "Subject"), "=?UTF-8?B?R3LDvMOfZQ==?=");
  EXPECT_EQ(Header(messages[0], "Content-Transfer-Encoding"), "8bit");
  EXPECT_THAT(messages[0], HasSubstr("\r\n\r\nSchön.\r\n"));
}

TEST(SmtpMailerTest, UntrustedCertificateIsRefused) {
  auto server = StartServer(Tls::kStartTls, /*auth=*/true);
  ASSERT_TRUE(server);
  SmtpConfig config = server->ClientConfig();
  config.ca_file.clear();  // the system store does not know the test CA
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  EXPECT_ERROR(status, "mail.send_failed");
  EXPECT_THAT(status.error().message(), Not(HasSubstr(kPassword)));
  EXPECT_TRUE(server->Messages().empty());
}

TEST(SmtpMailerTest, WrongPasswordIsAnErrorWithoutTheSecret) {
  auto server = StartServer(Tls::kStartTls, /*auth=*/true);
  ASSERT_TRUE(server);
  SmtpConfig config = server->ClientConfig();
  config.password = "wrong-password-xyz";
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  EXPECT_ERROR(status, "mail.send_failed");
  EXPECT_EQ(status.error().kind(), ErrorKind::kUnavailable);
  EXPECT_THAT(status.error().message(), HasSubstr("login"));
  for (const char* secret : {"wrong-password-xyz", kPassword, kUser, "alice", "482913"}) {
    EXPECT_THAT(status.error().message(), Not(HasSubstr(secret)));
  }
  EXPECT_TRUE(server->Messages().empty());
}

TEST(SmtpMailerTest, ServerRequiringStartTlsRefusesPlainClient) {
  auto server = StartServer(Tls::kStartTls);
  ASSERT_TRUE(server);
  SmtpConfig config = server->ClientConfig();
  config.security = SmtpConfig::Security::kNone;
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  EXPECT_ERROR(status, "mail.send_failed");
  EXPECT_TRUE(server->Messages().empty());
}

// A loopback port with a bound but not listening socket: connections are
// refused, and no other test's server can take the port meanwhile.
class ReservedPort {
 public:
  explicit ReservedPort(bool listen) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (listen) {
      EXPECT_EQ(::listen(fd_, 4), 0);
    }
    socklen_t len = sizeof addr;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~ReservedPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

TEST(SmtpMailerTest, ServerDownFailsQuickly) {
  ReservedPort down(/*listen=*/false);
  SmtpConfig config;
  config.host = "127.0.0.1";
  config.port = down.port();
  config.security = SmtpConfig::Security::kStartTls;
  auto start = SteadyClock::now();
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  auto elapsed = SteadyClock::now() - start;
  EXPECT_ERROR(status, "mail.send_failed");
  EXPECT_EQ(status.error().kind(), ErrorKind::kUnavailable);
  EXPECT_THAT(status.error().message(), HasSubstr("could not reach"));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(SmtpMailerTest, StoppedTestServerRefusesConnections) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  SmtpConfig config = server->ClientConfig();
  server->Stop();
  server->Stop();  // idempotent
  // The port is free again; another process could take it, so only check
  // that the call returns promptly either way.
  auto start = SteadyClock::now();
  (void)MakeSmtpMailer(config)->Send(CodeMessage());
  EXPECT_LT(SteadyClock::now() - start, std::chrono::seconds(3));
  EXPECT_TRUE(server->Messages().empty());
}

TEST(SmtpMailerTest, SilentServerTimesOut) {
  // Listens but never speaks: the kernel completes the handshake, no greeting follows.
  ReservedPort silent(/*listen=*/true);
  SmtpConfig config;
  config.host = "127.0.0.1";
  config.port = silent.port();
  config.security = SmtpConfig::Security::kNone;
  config.timeout_seconds = 1;
  auto start = SteadyClock::now();
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  auto elapsed = SteadyClock::now() - start;
  EXPECT_ERROR(status, "mail.send_failed");
  EXPECT_LT(elapsed, std::chrono::seconds(4));
}

TEST(SmtpMailerTest, AuthWithoutTlsIsRefusedBeforeConnecting) {
  SmtpConfig config;
  config.host = "127.0.0.1";
  config.port = 1;
  config.security = SmtpConfig::Security::kNone;
  config.username = kUser;
  config.password = kPassword;
  EXPECT_FALSE(ValidateSmtpConfig(config).has_value());
  auto status = MakeSmtpMailer(config)->Send(CodeMessage());
  EXPECT_ERROR(status, "mail.invalid_config");
  EXPECT_THAT(status.error().message(), Not(HasSubstr(kPassword)));
}

TEST(SmtpMailerTest, InvalidRecipientIsRejectedBeforeSending) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto status = MakeSmtpMailer(server->ClientConfig())
                    ->Send({.to = "alice@example.org>\r\nRCPT TO:<bob@example.org",
                            .subject = "s",
                            .body = "x"});
  EXPECT_ERROR(status, "mail.invalid_header");
  EXPECT_TRUE(server->Messages().empty());
}

TEST(SmtpMailerTest, ConcurrentSendsAllArrive) {
  auto server = StartServer(Tls::kStartTls, /*auth=*/true);
  ASSERT_TRUE(server);
  auto mailer = MakeSmtpMailer(server->ClientConfig());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string code = std::to_string(100000 + t * 100 + i);
        if (!mailer->Send({.to = "a@example.org", .subject = "s", .body = code + "\n"})) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> bodies;
  for (const auto& m : server->Messages()) bodies.insert(m.substr(m.find("\r\n\r\n") + 4));
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace keyward::mail
