#include "mail/message_format.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/try.h"

namespace keyward::mail {
namespace {

constexpr std::size_t kMaxLineOctets = 998;      // RFC 5322 2.1.1, without CRLF
constexpr std::size_t kFoldColumn = 78;          // RFC 5322 2.1.1 "SHOULD"
constexpr std::size_t kEncodedChunkOctets = 39;  // 52 base64 chars, 64-char word
constexpr std::size_t kMaxAsciiWord = 900;

Error InvalidHeader(std::string_view what) {
  return Error::InvalidArgument("mail.invalid_header",
                                fmt::format("{} contains a line break or NUL", what));
}

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool IsAtext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if ((c < 0x20 || c > 0x7E) && c != '\t') return false;
  }
  return true;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (std::size_t rest = in.size() - i; rest > 0) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// RFC 2047 B-encoded words, one per folded line.
std::string EncodeWords(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = std::min(text.size(), i + kEncodedChunkOctets);
    // Never split a UTF-8 sequence: back up over continuation bytes.
    while (end < text.size() && end > i && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out += Base64(text.substr(i, end - i));
    out += "?=";
    i = end;
  }
  return out;
}

// Folds printable ASCII at spaces so header lines stay near 78 columns.
std::string FoldAscii(std::string_view text, std::size_t first_column) {
  std::string out;
  std::size_t column = first_column;
  std::size_t start = 0;
  bool first = true;
  while (start <= text.size()) {
    std::size_t space = text.find(' ', start);
    std::string_view word = text.substr(
        start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (!first) {
      if (!word.empty() && column + 1 + word.size() > kFoldColumn) {
        out += "\r\n";
        column = 0;
      }
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    first = false;
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return out;
}

std::string EncodeDisplayName(std::string_view name) {
  if (!IsPrintableAscii(name) || name.find("=?") != std::string_view::npos) {
    return EncodeWords(name);
  }
  bool plain = true;
  for (char c : name) {
    if (!IsAtext(c) && c != ' ') plain = false;
  }
  if (plain) return std::string(name);
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on CRLF, LF or a lone CR; the result has no line-break characters.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r' && text[i] != '\n') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

}  // namespace

Status ValidateAddress(std::string_view address) {
  if (HasLineBreakOrNul(address)) return Fail(InvalidHeader("address"));
  auto bad = [] {
    return Fail(Error::InvalidArgument("mail.invalid_address", "not a single email address"));
  };
  if (address.size() < 3 || address.size() > 254) return bad();
  std::size_t at = address.find('@');
  if (at == std::string_view::npos || address.find('@', at + 1) != std::string_view::npos) {
    return bad();
  }
  std::string_view local = address.substr(0, at);
  std::string_view domain = address.substr(at + 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return bad();
  }
  for (char c : local) {
    if (!IsAtext(c) && c != '.') return bad();
  }
  if (domain.empty() || domain.size() > 253) return bad();
  std::size_t start = 0;
  while (true) {
    std::size_t dot = domain.find('.', start);
    std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return bad();
    }
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return bad();
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

Result<Mailbox> ParseMailbox(std::string_view text) {
  if (HasLineBreakOrNul(text)) return Fail(InvalidHeader("from"));
  text = Trim(text);
  Mailbox mailbox;
  if (std::size_t open = text.rfind('<'); open != std::string_view::npos) {
    if (text.back() != '>') {
      return Fail(Error::InvalidArgument("mail.invalid_address", "malformed sender mailbox"));
    }
    mailbox.address = std::string(text.substr(open + 1, text.size() - open - 2));
    std::string_view name = Trim(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) ++i;
        mailbox.display_name += name[i];
      }
    } else {
      mailbox.display_name = std::string(name);
    }
    if (!IsValidUtf8(mailbox.display_name)) return Fail(InvalidHeader("from"));
  } else {
    mailbox.address = std::string(text);
  }
  KW_TRY(ValidateAddress(mailbox.address));
  return mailbox;
}

std::string FormatRfc5322Date(int64_t unix_seconds) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string EncodeSubject(std::string_view subject) {
  bool ascii_ok = IsPrintableAscii(subject) && subject.find("=?") == std::string_view::npos;
  if (ascii_ok) {
    std::size_t start = 0;
    while (start <= subject.size()) {
      std::size_t space = subject.find(' ', start);
      std::size_t end = space == std::string_view::npos ? subject.size() : space;
      if (end - start > kMaxAsciiWord) ascii_ok = false;
      if (space == std::string_view::npos) break;
      start = space + 1;
    }
  }
  if (ascii_ok) return FoldAscii(subject, std::string_view("Subject: ").size());
  return EncodeWords(subject);
}

std::string EncodeQuotedPrintable(std::string_view crlf_text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t start = 0;
  while (start <= crlf_text.size()) {
    std::size_t eol = crlf_text.find("\r\n", start);
    std::string_view line =
        crlf_text.substr(start, eol == std::string_view::npos ? eol : eol - start);
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      bool last = i + 1 == line.size();
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
      std::size_t width = literal ? 1 : 3;
      if (column + width > 75) {
        out += "=\r\n";
        column = 0;
      }
      if (literal) {
        out += static_cast<char>(c);
      } else {
        out += '=';
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      column += width;
    }
    if (eol == std::string_view::npos) break;
    out += "\r\n";
    start = eol + 2;
  }
  return out;
}

std::string RandomHex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  std::size_t filled = 0;
  while (filled < bytes) {
    ssize_t n = getrandom(buf.data() + filled, bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();  // The kernel's CSPRNG is not optional.
    }
    filled += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : buf) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string NewMessageId(std::string_view domain) {
  return fmt::format("<{}@{}>", RandomHex(16), domain);
}

Result<FormattedMessage> FormatMessage(const Message& message, const FormatOptions& options) {
  KW_ASSIGN_OR_RETURN(auto from, ParseMailbox(options.from));
  if (HasLineBreakOrNul(message.to)) return Fail(InvalidHeader("recipient"));
  KW_TRY(ValidateAddress(message.to));
  if (HasLineBreakOrNul(message.subject)) return Fail(InvalidHeader("subject"));
  if (!IsValidUtf8(message.subject)) {
    return Fail(Error::InvalidArgument("mail.invalid_header", "subject is not valid UTF-8"));
  }
  if (HasLineBreakOrNul(options.message_id)) return Fail(InvalidHeader("message id"));
  for (char c : message.id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return Fail(InvalidHeader("message id"));
  }
  if (message.body.find('\0') != std::string::npos || !IsValidUtf8(message.body)) {
    return Fail(Error::InvalidArgument("mail.invalid_body", "body is not NUL-free UTF-8 text"));
  }

  std::string body;
  body.reserve(message.body.size() + message.body.size() / 16 + 2);
  bool ascii = true;
  bool long_line = false;
  for (std::string_view line : SplitLines(message.body)) {
    if (line.size() > kMaxLineOctets) long_line = true;
    for (char c : line) {
      if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    }
    body += line;
    body += "\r\n";
  }
  const char* encoding = ascii ? "7bit" : "8bit";
  if (long_line) {
    body = EncodeQuotedPrintable(body);
    encoding = "quoted-printable";
  }

  std::string domain = from.address.substr(from.address.find('@') + 1);
  std::string from_header =
      from.display_name.empty()
          ? from.address
          : fmt::format("{} <{}>", EncodeDisplayName(from.display_name), from.address);

  FormattedMessage out;
  out.envelope_from = from.address;
  out.envelope_to = message.to;
  out.data.reserve(body.size() + 512);
  out.data += fmt::format("Date: {}\r\n", FormatRfc5322Date(options.date_unix));
  out.data += fmt::format("From: {}\r\n", from_header);
  out.data += fmt::format("To: {}\r\n", message.to);
  out.data += fmt::format("Subject: {}\r\n", EncodeSubject(message.subject));
  std::string message_id = options.message_id;
  if (message_id.empty() && !message.id.empty()) {
    message_id = fmt::format("<{}@{}>", message.id, domain);
  }
  if (message_id.empty()) message_id = NewMessageId(domain);
  out.data += fmt::format("Message-ID: {}\r\n", message_id);
  out.data += "MIME-Version: 1.0\r\n";
  out.data += "Content-Type: text/plain; charset=utf-8\r\n";
  out.data += fmt::format("Content-Transfer-Encoding: {}\r\n", encoding);
  // RFC 3834: keeps vacation responders from answering codes and notices.
  out.data += "Auto-Submitted: auto-generated\r\n";
  out.data += "\r\n";
  out.data += body;
  return out;
}

}  // namespace keyward::mail
