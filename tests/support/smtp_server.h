// A real SMTP server for end-to-end tests: tests/support/smtp_server.py
// (aiosmtpd on Debian's /usr/bin/python3) in a child process, behind an RAII
// handle. Link `keyward_test_smtp` (defined in src/mail/CMakeLists.txt).
//
//   auto server = keyward::testing::SmtpTestServer::Start({.tls = Tls::kStartTls,
//                                                           .username = "u", .password = "p"});
//   ASSERT_TRUE(server) << server.error().message();
//   auto mailer = keyward::mail::MakeSmtpMailer((*server)->ClientConfig());
//   ... send ...
//   std::vector<std::string> raw = (*server)->Messages();
//
// With TLS, a throw-away self-signed certificate for "localhost" and
// 127.0.0.1 is made with the openssl CLI; ca_file() is its path, so clients
// can verify the peer. The server is stopped and its files removed when the
// handle is destroyed; it also exits by itself if the test process dies.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "mail/mailer.h"
#include "tests/support/script_process.h"

namespace keyward::testing {

struct SmtpTestServerOptions {
  enum class Tls { kNone, kStartTls, kImplicit };
  Tls tls = Tls::kNone;
  // With kStartTls: also accept mail without STARTTLS.
  bool allow_plaintext = false;
  // Non-empty: AUTH (PLAIN or LOGIN) with these credentials is required
  // before MAIL. Needs TLS (aiosmtpd offers AUTH only over TLS).
  std::string username;
  std::string password;
  int port = 0;  // 0: a free port
  std::chrono::milliseconds ready_timeout{15000};
};

struct ReceivedMessage {
  std::string mail_from;             // envelope sender, without <>
  std::vector<std::string> rcpt_to;  // envelope recipients, without <>
  std::string data;                  // raw message as received (CRLF, dot-unstuffed)
};

class SmtpTestServer {
 public:
  using Options = SmtpTestServerOptions;
  using Tls = SmtpTestServerOptions::Tls;

  // Starts the server and waits for it to listen. Error kInternal
  // "test.smtp_server" when the certificate or the process cannot be made.
  static Result<std::unique_ptr<SmtpTestServer>> Start(Options options = {});

  SmtpTestServer(const SmtpTestServer&) = delete;
  SmtpTestServer& operator=(const SmtpTestServer&) = delete;
  ~SmtpTestServer();

  const std::string& host() const { return host_; }  // "127.0.0.1"
  int port() const { return port_; }
  const std::string& ca_file() const { return ca_file_; }  // empty without TLS
  const Options& options() const { return options_; }

  // Raw messages received so far, in arrival order.
  std::vector<std::string> Messages() const;
  // The same with their SMTP envelopes.
  std::vector<ReceivedMessage> Received() const;
  // Polls until at least `count` messages arrived or `timeout` passed; returns
  // whatever is there by then.
  std::vector<std::string> WaitForMessages(
      std::size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // A client configuration for this server: host, port, security, the
  // credentials from Options, ca_file, verify_peer on, a short timeout.
  mail::SmtpConfig ClientConfig() const;

  // Stops the server now (e.g. to test a server that is down). Idempotent.
  void Stop();

 private:
  SmtpTestServer() = default;

  Options options_;
  std::filesystem::path dir_;  // temp dir: maildir/, cert.pem, key.pem
  std::filesystem::path maildir_;
  std::string host_ = "127.0.0.1";
  std::string ca_file_;
  int port_ = 0;
  std::unique_ptr<ScriptProcess> process_;  // smtp_server.py
};

}  // namespace keyward::testing
