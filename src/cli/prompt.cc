#include "cli/prompt.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "common/try.h"
#include "crypto/crypto.h"

namespace keyward::cli {
namespace {

constexpr size_t kMaxLine = 4096;

void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads one line (without its end) from fd into secure memory.
Result<crypto::SecureBytes> ReadLine(int fd, std::string_view question) {
  crypto::SecureBytes buf(kMaxLine);
  size_t len = 0;
  bool got_any = false;
  for (;;) {
    char c = 0;
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Fail(Error::Internal("cli.read_failed",
                                  fmt::format("cannot read input: {}", std::strerror(errno))));
    }
    if (n == 0) {
      if (!got_any) {
        return Fail(Error::InvalidArgument(
            "cli.no_input", fmt::format("expected an answer to \"{}\" on standard input, got the "
                                        "end of input",
                                        question)));
      }
      break;
    }
    got_any = true;
    if (c == '\n') break;
    if (len == kMaxLine) {
      return Fail(Error::InvalidArgument("cli.line_too_long", "input line too long"));
    }
    buf.data()[len++] = static_cast<uint8_t>(c);
  }
  if (len > 0 && buf.data()[len - 1] == '\r') --len;
  return crypto::SecureBytes::Copy(std::span<const uint8_t>(buf.data(), len));
}

crypto::SecureBytes Trim(const crypto::SecureBytes& s) {
  std::string_view v = s.view();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return crypto::SecureBytes::Copy(v);
}

std::string_view Label(std::string_view question) {
  while (!question.empty() && (question.back() == ' ' || question.back() == ':')) {
    question.remove_suffix(1);
  }
  return question;
}

}  // namespace

Prompter::Prompter(PromptOptions options) : options_(options) {}

PromptOptions Prompter::ForStdin(bool password_stdin, bool assume_yes) {
  return {0, ::isatty(0) == 1, password_stdin, assume_yes};
}

void Prompter::FlushOutput() { std::fflush(stdout); }

Result<crypto::SecureBytes> Prompter::Ask(std::string_view question, bool hidden, bool from_stdin) {
  FlushOutput();
  if (from_stdin || !options_.interactive) return ReadLine(options_.in_fd, Label(question));

  int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) return ReadLine(options_.in_fd, Label(question));
  WriteAll(tty, question);
  termios saved{};
  bool restore = false;
  if (hidden && ::tcgetattr(tty, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    restore = ::tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
  }
  auto answer = ReadLine(tty, Label(question));
  if (restore) ::tcsetattr(tty, TCSAFLUSH, &saved);
  ::close(tty);
  return answer;
}

Result<crypto::SecureBytes> Prompter::Password(std::string_view question) {
  auto answer = Ask(question, /*hidden=*/true, options_.password_stdin);
  if (!answer) return answer;
  if (answer->empty()) {
    return Fail(Error::InvalidArgument("cli.empty_answer",
                                       fmt::format("{} cannot be empty", Label(question))));
  }
  return answer;
}

Result<crypto::SecureBytes> Prompter::NewPassword(std::string_view question,
                                                  std::string_view again) {
  auto first = Password(question);
  if (!first) return first;
  auto second = Password(again);
  if (!second) return second;
  if (!crypto::ConstantTimeEqual(first->span(), second->span())) {
    return Fail(Error::InvalidArgument("cli.password_mismatch", "the passwords do not match"));
  }
  return first;
}

Result<crypto::SecureBytes> Prompter::Line(std::string_view question) {
  auto answer = Ask(question, /*hidden=*/false, /*from_stdin=*/false);
  if (!answer) return answer;
  auto trimmed = Trim(*answer);
  if (trimmed.empty()) {
    return Fail(Error::InvalidArgument("cli.empty_answer",
                                       fmt::format("{} cannot be empty", Label(question))));
  }
  return trimmed;
}

Result<bool> Prompter::ConfirmFingerprint(std::string_view question, std::string_view flag_hint) {
  if (options_.assume_yes) {
    return Fail(Error::InvalidArgument(
        "cli.fingerprint_unconfirmed",
        fmt::format("--yes does not confirm a fingerprint: compare it and answer, or give {}",
                    flag_hint)));
  }
  return Confirm(question);
}

Result<bool> Prompter::Confirm(std::string_view question) {
  if (options_.assume_yes) return true;
  KW_ASSIGN_OR_RETURN(
      auto answer, Ask(fmt::format("{} [y/N] ", question), /*hidden=*/false, /*from_stdin=*/false));
  auto t = Trim(answer);
  std::string_view v = t.view();
  return v == "y" || v == "Y" || v == "yes" || v == "Yes" || v == "YES";
}

}  // namespace keyward::cli
