// Outgoing mail. The default Mailer writes one RFC 5322 .eml file per message
// into <data>/outbox/ (atomically: temp file, fsync, rename); the SMTP Mailer
// talks to a real server through libcurl (STARTTLS or implicit TLS, AUTH).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/error.h"

namespace keyward::mail {

struct Message {
  std::string to;       // one address
  std::string subject;  // plain ASCII/UTF-8, encoded by the mailer as needed
  std::string body;     // text/plain UTF-8; codes stand on a line of their own
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  [[nodiscard]] virtual Status Send(const Message& message) = 0;
};

struct SmtpConfig {
  std::string host;
  int port = 587;
  enum class Security { kNone, kStartTls, kTls } security = Security::kStartTls;
  std::string username;  // empty: no AUTH
  std::string password;
  std::string from = "keyward@localhost";
  bool verify_peer = true;
  std::string ca_file;  // optional
  long timeout_seconds = 20;
};

std::unique_ptr<Mailer> MakeOutboxMailer(std::filesystem::path dir, std::string from);
std::unique_ptr<Mailer> MakeSmtpMailer(SmtpConfig config);

// Checks an SmtpConfig without connecting (host, port, from; AUTH only over
// STARTTLS or TLS). Error kUnavailable "mail.invalid_config". The SMTP Mailer
// runs it on every Send; call it at startup to fail early.
[[nodiscard]] Status ValidateSmtpConfig(const SmtpConfig& config);

}  // namespace keyward::mail
