// Every question the CLI asks goes through a Prompter. On a terminal,
// questions are written to and answered on /dev/tty (passwords without
// echo); when standard input is not a terminal, each question silently reads
// the next line of standard input, in order, so scripts and tests can drive
// any flow. Answers are read byte by byte straight into secure memory: no
// stdio buffer ever holds them.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/secure_bytes.h"

namespace keyward::cli {

struct PromptOptions {
  int in_fd = 0;                // standard input
  bool interactive = false;     // in_fd is a terminal
  bool password_stdin = false;  // --password-stdin: passwords from in_fd even on a terminal
  bool assume_yes = false;      // --yes
};

class Prompter {
 public:
  explicit Prompter(PromptOptions options);
  // Detects whether standard input is a terminal.
  static PromptOptions ForStdin(bool password_stdin, bool assume_yes);

  // A hidden answer (passwords, codes); never empty.
  [[nodiscard]] Result<crypto::SecureBytes> Password(std::string_view question);
  // A new password, asked twice; never empty.
  [[nodiscard]] Result<crypto::SecureBytes> NewPassword(std::string_view question,
                                                        std::string_view again);
  // A visible answer (emailed and TOTP codes), trimmed; never empty.
  [[nodiscard]] Result<crypto::SecureBytes> Line(std::string_view question);
  // y/yes (any case) is yes; --yes answers without asking.
  [[nodiscard]] Result<bool> Confirm(std::string_view question);
  // A fingerprint comparison: only the person can answer it, so --yes does
  // not (cli.fingerprint_unconfirmed, naming `flag_hint`, the option that
  // gives the fingerprint non-interactively); otherwise as Confirm.
  [[nodiscard]] Result<bool> ConfirmFingerprint(std::string_view question,
                                                std::string_view flag_hint);

  // Lets the caller show something (e.g. a TOTP secret) before the next
  // question: flushes stdout so a reader of a pipe sees it.
  static void FlushOutput();

 private:
  [[nodiscard]] Result<crypto::SecureBytes> Ask(std::string_view question, bool hidden,
                                                bool from_stdin);

  PromptOptions options_;
};

}  // namespace keyward::cli
