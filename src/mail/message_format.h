// RFC 5322 formatting of outgoing mail, shared by the outbox and SMTP mailers.
//
// Content-Transfer-Encoding: the body goes out as-is (declared 7bit when it is
// ASCII, 8bit otherwise) and falls back to quoted-printable only when a line is
// longer than RFC 5322's 998-octet limit. Quoted-printable everywhere would
// turn every '=' into "=3D" and soft-wrap lines past 76 characters, so the
// recovery links (query strings, long tokens) in an outbox .eml file would no
// longer be what a human or a script reading the file expects; as-is bodies
// keep codes and links byte-for-byte. Every mainstream MTA speaks 8BITMIME.
//
// SMTP dot-stuffing is a transport concern: libcurl doubles a leading '.' on
// upload, so the text built here is the plain RFC 5322 message (which is also
// what belongs in an .eml file). Lines always end in CRLF, including the last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "mail/mailer.h"

namespace keyward::mail {

// "keyward@example.com" or "Keyward <keyward@example.com>".
struct Mailbox {
  std::string display_name;  // UTF-8, may be empty
  std::string address;       // local@domain
};

// One plain addr-spec (dot-atom local part, host-name domain, ASCII only).
// CR, LF or NUL: "mail.invalid_header"; anything else malformed, including
// lists, display names and angle brackets: "mail.invalid_address".
[[nodiscard]] Status ValidateAddress(std::string_view address);

// Parses a From setting, either a bare address or `Name <address>`.
[[nodiscard]] Result<Mailbox> ParseMailbox(std::string_view text);

struct FormatOptions {
  std::string from;       // as accepted by ParseMailbox
  int64_t date_unix = 0;  // the Date header, seconds since the epoch (UTC)
  // "<id@domain>"; empty: "<message.id@domain>" (message.id: letters,
  // digits, '-' and '_' only), or a new random one at the from-domain.
  std::string message_id;
};

struct FormattedMessage {
  std::string envelope_from;  // bare address, for SMTP MAIL FROM
  std::string envelope_to;    // bare address, for SMTP RCPT TO
  std::string data;           // the whole message: headers, blank line, body
};

// Errors (kInvalidArgument): "mail.invalid_header" (CR/LF/NUL in from, to or
// subject; subject not UTF-8), "mail.invalid_address", "mail.invalid_body"
// (NUL or invalid UTF-8 in the body).
[[nodiscard]] Result<FormattedMessage> FormatMessage(const Message& message,
                                                     const FormatOptions& options);

// "Sat, 21 Nov 2026 21:14:00 +0000" (always UTC, locale-independent).
std::string FormatRfc5322Date(int64_t unix_seconds);

// The value of a Subject header: as-is (folded at spaces) when it is printable
// ASCII, otherwise RFC 2047 "=?UTF-8?B?...?=" words of at most 75 characters,
// split on character boundaries. `subject` must be valid UTF-8 without CR/LF/NUL.
std::string EncodeSubject(std::string_view subject);

// Quoted-printable (RFC 2045 6.7) of CRLF-separated text; hard line breaks stay.
std::string EncodeQuotedPrintable(std::string_view crlf_text);

// "<32 hex digits@domain>".
std::string NewMessageId(std::string_view domain);

// `bytes` random bytes from the kernel (getrandom), as lower-case hex.
std::string RandomHex(std::size_t bytes);

}  // namespace keyward::mail
