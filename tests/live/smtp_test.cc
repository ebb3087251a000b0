// keywardd configured for real SMTP (STARTTLS + AUTH, verified against the
// test CA) delivers the registration code to a real SMTP server (aiosmtpd);
// with the SMTP server down the code waits in the durable mail queue, even
// through a kill -9, and goes out once SMTP is back.
#include <regex>
#include <string>

#include <chrono>

#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/live/live_support.h"
#include "tests/support/smtp_server.h"

namespace keyward::live {
namespace {

using testing::ServerProcess;
using testing::SmtpTestServer;

std::unique_ptr<ServerProcess> StartWithSmtp(const SmtpTestServer& smtp) {
  ServerProcess::Options options;
  options.binary = KEYWARDD_PATH;
  options.args = kTestKdfArgs;
  for (const char* arg : {"--smtp-host", "127.0.0.1", "--smtp-security", "starttls",
                          "--smtp-username", "keyward", "--smtp-from", "vault@example.com"}) {
    options.args.emplace_back(arg);
  }
  options.args.insert(options.args.end(), {"--smtp-port", std::to_string(smtp.port()),
                                           "--smtp-ca-file", smtp.ca_file()});
  // The password travels in the environment, never on argv.
  options.env = {{"KEYWARD_SMTP_PASSWORD", "s3cret-smtp"}};
  return std::make_unique<ServerProcess>(options);
}

SmtpTestServer::Options StartTlsWithAuth() {
  SmtpTestServer::Options options;
  options.tls = SmtpTestServer::Tls::kStartTls;
  options.username = "keyward";
  options.password = "s3cret-smtp";
  return options;
}

TEST(LiveSmtpTest, RegistrationCodeArrivesOverStartTlsWithAuth) {
  auto smtp = SmtpTestServer::Start(StartTlsWithAuth());
  ASSERT_TRUE(smtp.has_value()) << smtp.error().message();
  auto server = StartWithSmtp(**smtp);

  const std::string email = "smtp-" + RandomToken(8) + "@example.com";
  auto registered = server->Request("POST", "/v1/accounts", RegistrationBody(email).dump());
  ASSERT_EQ(registered.status, 202) << Describe(registered);

  auto received = (*smtp)->WaitForMessages(1);
  ASSERT_EQ(received.size(), 1u);
  auto envelopes = (*smtp)->Received();
  ASSERT_EQ(envelopes[0].rcpt_to, std::vector<std::string>{email});
  EXPECT_EQ(envelopes[0].mail_from, "vault@example.com");
  std::smatch code;
  ASSERT_TRUE(std::regex_search(received[0], code, std::regex("\r\n([0-9]{6})\r\n")))
      << received[0];
  // Nothing went to the outbox: SMTP replaced it.
  EXPECT_FALSE(std::filesystem::exists(server->data_dir() / "outbox") &&
               !std::filesystem::is_empty(server->data_dir() / "outbox"));

  nlohmann::json verify = {{"email", email}, {"code", code[1].str()}};
  auto verified = server->Request("POST", "/v1/accounts/verify", verify.dump());
  EXPECT_EQ(verified.status, 200) << Describe(verified);
}

// SMTP down: the registration's answer is the same as ever (it never tells
// whether the email has an account); its code waits in the mail queue
// (GET /v1/server "health"), a kill -9 of keywardd loses nothing, and once
// SMTP is back the restarted node sends it. The log says what failed,
// without the address or the SMTP password.
TEST(LiveSmtpTest, MailWaitsOutAnSmtpOutageAndAKill) {
  // A port where a plain SMTP server comes up later; nothing listens yet.
  int port = 0;
  {
    auto probe = SmtpTestServer::Start();
    ASSERT_TRUE(probe.has_value()) << probe.error().message();
    port = (*probe)->port();
  }
  ServerProcess::Options options;
  options.binary = KEYWARDD_PATH;
  options.args = kTestKdfArgs;
  for (const char* arg : {"--smtp-host", "127.0.0.1", "--smtp-security", "none", "--smtp-from",
                          "vault@example.com", "--mail-retry-after", "1s"}) {
    options.args.emplace_back(arg);
  }
  options.args.insert(options.args.end(), {"--smtp-port", std::to_string(port)});
  options.env = {{"KEYWARD_SMTP_PASSWORD", "s3cret-smtp"}};
  auto server = std::make_unique<ServerProcess>(options);

  const std::string email = "down-" + RandomToken(8) + "@example.com";
  auto registered = server->Request("POST", "/v1/accounts", RegistrationBody(email).dump());
  EXPECT_EQ(registered.status, 202) << Describe(registered);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server->StderrText().find("mail: delivery failed") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string log = server->StderrText();
  EXPECT_NE(log.find("mail: delivery failed (mail.send_failed)"), std::string::npos) << log;
  EXPECT_EQ(log.find(email), std::string::npos);
  EXPECT_EQ(log.find("s3cret-smtp"), std::string::npos);
  auto info = server->Request("GET", "/v1/server");
  ASSERT_EQ(info.status, 200) << Describe(info);
  auto health = nlohmann::json::parse(info.body).at("health");
  EXPECT_EQ(health.at("store"), "ok");
  EXPECT_EQ(health.at("mail_queue").at("messages"), 1) << health.dump();
  EXPECT_GE(health.at("mail_queue").at("oldest_seconds").get<int64_t>(), 0);

  // The node dies with the email unsent; SMTP comes back; a new node sends it.
  server->Kill();
  EXPECT_EQ(server->Wait(), 128 + 9);
  SmtpTestServer::Options back;
  back.port = port;
  auto smtp = SmtpTestServer::Start(back);
  ASSERT_TRUE(smtp.has_value()) << smtp.error().message();
  server->Restart();
  auto received = (*smtp)->WaitForMessages(1, std::chrono::seconds(30));
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ((*smtp)->Received()[0].rcpt_to, std::vector<std::string>{email});
  std::smatch code;
  ASSERT_TRUE(std::regex_search(received[0], code, std::regex("\r\n([0-9]{6})\r\n")))
      << received[0];
  nlohmann::json verify = {{"email", email}, {"code", code[1].str()}};
  auto verified = server->Request("POST", "/v1/accounts/verify", verify.dump());
  EXPECT_EQ(verified.status, 200) << Describe(verified);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int64_t left = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    auto now_info = server->Request("GET", "/v1/server");
    left = nlohmann::json::parse(now_info.body)["health"]["mail_queue"]["messages"].get<int64_t>();
    if (left == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left, 0);
  // Sent once: no second copy after the delivery.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ((*smtp)->Messages().size(), 1u);
}

}  // namespace
}  // namespace keyward::live
