// The mail port of core: the message core writes (core/notices.h) and the
// mailer it hands them to. Core owns this interface and links no mail code;
// src/mail implements it (outbox files, SMTP, a background queue; see
// mail/mailer.h) and tests use tests/support/memory_mailer.h. Header-only.
#pragma once

#include <string>

#include "common/error.h"

namespace keyward::core::mail {

struct Message {
  std::string to;       // one address
  std::string subject;  // plain ASCII/UTF-8, encoded by the mailer as needed
  std::string body;     // text/plain UTF-8; codes stand on a line of their own
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Delivers now (or writes the outbox file now); the caller learns whether
  // it worked (registration answers 503 when its email cannot be sent).
  [[nodiscard]] virtual Status Send(const Message& message) = 0;
  // Hands a best-effort message over for delivery without waiting for it,
  // so that how long a request takes never depends on whether an email went
  // out (the recovery request answer must not reveal whether an account
  // exists). By default the same as Send; a queueing mailer (such as
  // mail::MakeBackgroundMailer's) hands it to a worker thread.
  [[nodiscard]] virtual Status Queue(const Message& message) { return Send(message); }
};

}  // namespace keyward::core::mail
