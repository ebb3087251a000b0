// Outgoing mail: the transports core's mail queue (core/mail_queue.h)
// delivers through. The default Mailer writes one RFC 5322 .eml file per
// message into <data>/outbox/ (atomically: temp file, fsync, rename); the
// SMTP Mailer talks to a real server through libcurl (STARTTLS or implicit
// TLS, AUTH).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/error.h"
#include "core/mail.h"

namespace keyward::mail {

// The interface is core's (core/mail.h); this module implements it and core
// never links it.
using Message = core::mail::Message;
using Mailer = core::mail::Mailer;

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
