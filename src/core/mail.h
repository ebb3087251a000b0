// The mail port of core: the message core writes (core/notices.h) and the
// mailer its queue hands them to. Core owns this interface and links no mail
// code; src/mail implements it (outbox files, SMTP; see mail/mailer.h) and
// tests use tests/support/memory_mailer.h. Header-only.
#pragma once

#include <string>

#include "common/error.h"

namespace keyward::core::mail {

struct Message {
  std::string to;       // one address
  std::string subject;  // plain ASCII/UTF-8, encoded by the mailer as needed
  std::string body;     // text/plain UTF-8; codes stand on a line of their own
  // The mail queue's row id (core/mail_queue.h): the Message-ID's local
  // part, the same on every delivery attempt. Empty: the mailer draws one.
  std::string id = {};
};

// The transport: core writes every email into its mail queue
// (core/mail_queue.h), whose sender hands each one here.
class Mailer {
 public:
  virtual ~Mailer() = default;
  // Delivers now (or writes the outbox file now); on failure the queue
  // keeps the message and tries again later.
  [[nodiscard]] virtual Status Send(const Message& message) = 0;
};

}  // namespace keyward::core::mail
