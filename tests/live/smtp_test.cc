// keywardd configured for real SMTP (STARTTLS + AUTH, verified against the
// test CA) delivers the registration code to a real SMTP server (aiosmtpd),
// and with the SMTP server down registration answers 503 with the JSON error
// shape instead of pretending the code was sent.
#include <regex>
#include <string>

#include <chrono>

#include <thread>

#include <gtest/gtest.h>

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
// whether the email has an account), and the failure is not silent: the
// server logs it, without the address or the password.
TEST(LiveSmtpTest, SmtpDownIsLoggedNotAnswered) {
  auto smtp = SmtpTestServer::Start(StartTlsWithAuth());
  ASSERT_TRUE(smtp.has_value()) << smtp.error().message();
  auto server = StartWithSmtp(**smtp);
  (*smtp)->Stop();

  const std::string email = "down-" + RandomToken(8) + "@example.com";
  auto registered = server->Request("POST", "/v1/accounts", RegistrationBody(email).dump());
  EXPECT_EQ(registered.status, 202) << Describe(registered);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server->StderrText().find("registration was not completed (mail.unavailable)") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string log = server->StderrText();
  EXPECT_NE(log.find("registration was not completed (mail.unavailable)"), std::string::npos)
      << log;
  EXPECT_EQ(log.find(email), std::string::npos);
  EXPECT_EQ(log.find("s3cret-smtp"), std::string::npos);
  EXPECT_EQ(server->Request("GET", "/healthz", "").status, 200);
}

}  // namespace
}  // namespace keyward::live
