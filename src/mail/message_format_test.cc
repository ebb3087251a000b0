#include "mail/message_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/support/status_assertions.h"

namespace keyward::mail {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr int64_t kDate = 1'795'295'640;  // 2026-11-21T21:14:00Z, a Saturday

FormatOptions Options() {
  return {.from = "keyward@example.com", .date_unix = kDate, .message_id = "<fixed@example.com>"};
}

std::string Format(const Message& message) {
  auto formatted = FormatMessage(message, Options());
  EXPECT_OK(formatted);
  return formatted ? formatted->data : std::string();
}

// Header name -> unfolded value; body after the blank line.
struct Parsed {
  std::map<std::string, std::string> headers;
  std::string body;
};

Parsed Parse(const std::string& data) {
  Parsed parsed;
  std::size_t end = data.find("\r\n\r\n");
  std::string head = data.substr(0, end);
  parsed.body = data.substr(end + 4);
  std::string unfolded;
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head.compare(i, 3, "\r\n ") == 0) {
      i += 1;  // drop CRLF, keep the space
      continue;
    }
    unfolded += head[i];
  }
  std::size_t start = 0;
  while (start < unfolded.size()) {
    std::size_t eol = unfolded.find("\r\n", start);
    if (eol == std::string::npos) eol = unfolded.size();
    std::string line = unfolded.substr(start, eol - start);
    std::size_t colon = line.find(": ");
    parsed.headers[line.substr(0, colon)] = line.substr(colon + 2);
    start = eol + 2;
  }
  return parsed;
}

TEST(MessageFormatTest, HasAllHeadersAndCrlfBody) {
  std::string data =
      Format({.to = "alice@example.org", .subject = "Your code", .body = "Hi\n\n123456\n\nBye"});
  Parsed p = Parse(data);
  EXPECT_EQ(p.headers["Date"], "Sat, 21 Nov 2026 21:14:00 +0000");
  EXPECT_EQ(p.headers["From"], "keyward@example.com");
  EXPECT_EQ(p.headers["To"], "alice@example.org");
  EXPECT_EQ(p.headers["Subject"], "Your code");
  EXPECT_EQ(p.headers["Message-ID"], "<fixed@example.com>");
  EXPECT_EQ(p.headers["MIME-Version"], "1.0");
  EXPECT_EQ(p.headers["Content-Type"], "text/plain; charset=utf-8");
  EXPECT_EQ(p.headers["Content-Transfer-Encoding"], "7bit");
  EXPECT_EQ(p.body, "Hi\r\n\r\n123456\r\n\r\nBye\r\n");
}

// Golden: the exact bytes of a typical code message.
TEST(MessageFormatTest, GoldenCodeMessage) {
  FormatOptions options = Options();
  options.from = "Keyward <keyward@vault.example.com>";
  auto r = FormatMessage({.to = "alice@example.org",
                          .subject = "Your Keyward code",
                          .body = "Your code is:\n\n482913\n\nIt expires in 10 minutes.\n"},
                         options);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->data,
            "Date: Sat, 21 Nov 2026 21:14:00 +0000\r\n"
            "From: Keyward <keyward@vault.example.com>\r\n"
            "To: alice@example.org\r\n"
            "Subject: Your Keyward code\r\n"
            "Message-ID: <fixed@example.com>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 7bit\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "\r\n"
            "Your code is:\r\n"
            "\r\n"
            "482913\r\n"
            "\r\n"
            "It expires in 10 minutes.\r\n");
}

TEST(MessageFormatTest, EmptySubjectAndBody) {
  Parsed p = Parse(Format({.to = "a@b.c", .subject = "", .body = ""}));
  EXPECT_EQ(p.headers["Subject"], "");
  EXPECT_EQ(p.body, "");
}

TEST(MessageFormatTest, EveryLineEndsInCrlf) {
  std::string data = Format({.to = "a@b.c", .subject = "s", .body = "one\rtwo\r\nthree\nfour"});
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\n') {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(data[i - 1], '\r') << "bare LF at " << i;
    }
    if (data[i] == '\r') {
      ASSERT_LT(i + 1, data.size());
      EXPECT_EQ(data[i + 1], '\n') << "bare CR at " << i;
    }
  }
  EXPECT_THAT(data, testing::EndsWith("one\r\ntwo\r\nthree\r\nfour\r\n"));
}

TEST(MessageFormatTest, CodeLineKeptExactly) {
  Parsed p = Parse(Format({.to = "a@b.c", .subject = "s", .body = "Code:\n  042917  \nend\n"}));
  EXPECT_EQ(p.body, "Code:\r\n  042917  \r\nend\r\n");
}

TEST(MessageFormatTest, LinksWithEqualsSignsStayVerbatim) {
  std::string link = "https://vault.example.com/recover?id=abc&token=" + std::string(120, 'x');
  Parsed p = Parse(Format({.to = "a@b.c", .subject = "s", .body = "Open:\n" + link + "\n"}));
  EXPECT_EQ(p.headers["Content-Transfer-Encoding"], "7bit");
  EXPECT_EQ(p.body, "Open:\r\n" + link + "\r\n");
}

TEST(MessageFormatTest, NonAsciiBodyIs8bit) {
  Parsed p = Parse(Format({.to = "a@b.c", .subject = "s", .body = "Grüße\n"}));
  EXPECT_EQ(p.headers["Content-Transfer-Encoding"], "8bit");
  EXPECT_EQ(p.body, "Grüße\r\n");
}

TEST(MessageFormatTest, OverlongLineFallsBackToQuotedPrintable) {
  std::string body = "123456\n" + std::string(1200, 'a') + "=é \n";
  Parsed p = Parse(Format({.to = "a@b.c", .subject = "s", .body = body}));
  EXPECT_EQ(p.headers["Content-Transfer-Encoding"], "quoted-printable");
  EXPECT_THAT(p.body, StartsWith("123456\r\n"));
  std::size_t start = 0;
  while (start < p.body.size()) {
    std::size_t eol = p.body.find("\r\n", start);
    ASSERT_NE(eol, std::string::npos);
    EXPECT_LE(eol - start, 76u);
    start = eol + 2;
  }
  EXPECT_THAT(p.body, HasSubstr("=3D=C3=A9=20\r\n"));
}

TEST(MessageFormatTest, QuotedPrintableKnownAnswers) {
  EXPECT_EQ(EncodeQuotedPrintable("a=b\r\ntrailing \r\n"), "a=3Db\r\ntrailing=20\r\n");
  EXPECT_EQ(EncodeQuotedPrintable("caf\xc3\xa9"), "caf=C3=A9");
  std::string wrapped = EncodeQuotedPrintable(std::string(80, 'x'));
  EXPECT_EQ(wrapped, std::string(75, 'x') + "=\r\n" + std::string(5, 'x'));
}

TEST(MessageFormatTest, NonAsciiSubjectIsEncodedWord) {
  std::string subject = "Wiederherstellung für Jürgen — bestätigt ✓";
  Parsed p = Parse(Format({.to = "a@b.c", .subject = subject, .body = "x"}));
  EXPECT_THAT(p.headers["Subject"], StartsWith("=?UTF-8?B?"));
  for (char c : p.headers["Subject"]) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

TEST(MessageFormatTest, EncodedWordKnownAnswerAndLimits) {
  EXPECT_EQ(EncodeSubject("Grüße"), "=?UTF-8?B?R3LDvMOfZQ==?=");
  std::string long_subject;
  for (int i = 0; i < 40; ++i) long_subject += "é€";
  std::string encoded = EncodeSubject(long_subject);
  std::size_t start = 0;
  while (start < encoded.size()) {
    std::size_t eol = encoded.find("\r\n ", start);
    std::string word = encoded.substr(start, eol == std::string::npos ? eol : eol - start);
    EXPECT_LE(word.size(), 75u);
    EXPECT_THAT(word, MatchesRegex("=\\?UTF-8\\?B\\?[A-Za-z0-9+/=]+\\?="));
    if (eol == std::string::npos) break;
    start = eol + 3;
  }
}

TEST(MessageFormatTest, AsciiLookingLikeEncodedWordIsEncoded) {
  EXPECT_THAT(EncodeSubject("=?UTF-8?B?aGk=?="), StartsWith("=?UTF-8?B?"));
}

TEST(MessageFormatTest, LongAsciiSubjectIsFoldedAtSpaces) {
  std::string subject;
  for (int i = 0; i < 30; ++i) subject += "word" + std::to_string(i) + " ";
  subject += "end";
  std::string data = Format({.to = "a@b.c", .subject = subject, .body = "x"});
  EXPECT_EQ(Parse(data).headers["Subject"], subject);
  std::string head = data.substr(0, data.find("\r\n\r\n") + 2);
  std::size_t start = 0;
  while (start < head.size()) {
    std::size_t eol = head.find("\r\n", start);
    EXPECT_LE(eol - start, 78u);
    start = eol + 2;
  }
}

TEST(MessageFormatTest, RejectsHeaderInjection) {
  for (std::string bad : {std::string("a@b.c\r\nBcc: x@y.z"), std::string("a@b.c\nBcc: x@y.z"),
                          std::string("a@b.c\r"), std::string("a@b.c\0x", 7)}) {
    auto r = FormatMessage({.to = bad, .subject = "s", .body = "x"}, Options());
    EXPECT_ERROR(r, "mail.invalid_header");
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_THAT(r.error().message(), ::testing::Not(HasSubstr("a@b.c")));
  }
  for (std::string bad :
       {std::string("hi\r\nBcc: x@y.z"), std::string("hi\n"), std::string("hi\0", 3)}) {
    auto r = FormatMessage({.to = "a@b.c", .subject = bad, .body = "x"}, Options());
    EXPECT_ERROR(r, "mail.invalid_header");
  }
  FormatOptions options = Options();
  options.from = "keyward@example.com\r\nBcc: x@y.z";
  auto r = FormatMessage({.to = "a@b.c", .subject = "s", .body = "x"}, options);
  EXPECT_ERROR(r, "mail.invalid_header");
}

TEST(MessageFormatTest, RecipientMustBeOneAddress) {
  for (const char* bad :
       {"", "alice", "@example.com", "alice@", "a@b@c", "a@b.c, d@e.f", "a@b.c d@e.f",
        "Alice <a@b.c>", "<a@b.c>", "a..b@c.d", ".a@b.c", "a.@b.c", "a@-b.c", "a@b..c", "a@b.c.",
        "\"a b\"@c.d", "ä@b.c", "a@bü.c", "a\t@b.c"}) {
    auto r = FormatMessage({.to = bad, .subject = "s", .body = "x"}, Options());
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), "mail.invalid_address") << bad;
  }
  for (const char* good :
       {"a@b.c", "alice.smith+tag@mail.example.org", "o'brien@x-y.example", "root@localhost"}) {
    EXPECT_TRUE(ValidateAddress(good).has_value()) << good;
  }
}

TEST(MessageFormatTest, RejectsNulAndInvalidUtf8) {
  auto r =
      FormatMessage({.to = "a@b.c", .subject = "s", .body = std::string("a\0b", 3)}, Options());
  EXPECT_ERROR(r, "mail.invalid_body");
  r = FormatMessage({.to = "a@b.c", .subject = "s", .body = "\xc3\x28"}, Options());
  EXPECT_ERROR(r, "mail.invalid_body");
  r = FormatMessage({.to = "a@b.c", .subject = "\xed\xa0\x80", .body = "x"}, Options());
  EXPECT_ERROR(r, "mail.invalid_header");
}

TEST(MessageFormatTest, FromWithDisplayName) {
  FormatOptions options = Options();
  options.from = "Keyward Vault <vault@example.com>";
  auto r = FormatMessage({.to = "a@b.c", .subject = "s", .body = "x"}, options);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Parse(r->data).headers["From"], "Keyward Vault <vault@example.com>");
  EXPECT_EQ(r->envelope_from, "vault@example.com");
  EXPECT_EQ(r->envelope_to, "a@b.c");

  options.from = "\"ACME, Inc.\" <vault@example.com>";
  r = FormatMessage({.to = "a@b.c", .subject = "s", .body = "x"}, options);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Parse(r->data).headers["From"], "\"ACME, Inc.\" <vault@example.com>");

  options.from = "Tresor für Jürgen <vault@example.com>";
  r = FormatMessage({.to = "a@b.c", .subject = "s", .body = "x"}, options);
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(Parse(r->data).headers["From"],
              MatchesRegex("=\\?UTF-8\\?B\\?.*\\?= <vault@example.com>"));

  options.from = "Bad <a@b.c, d@e.f>";
  EXPECT_FALSE(FormatMessage({.to = "a@b.c", .subject = "s", .body = "x"}, options).has_value());
}

TEST(MessageFormatTest, GeneratedMessageIdIsRandomAtFromDomain) {
  FormatOptions options = Options();
  options.message_id.clear();
  options.from = "Keyward <keyward@vault.example.com>";
  auto a = FormatMessage({.to = "a@b.c", .subject = "s", .body = "x"}, options);
  auto b = FormatMessage({.to = "a@b.c", .subject = "s", .body = "x"}, options);
  ASSERT_TRUE(a && b);
  std::string id_a = Parse(a->data).headers["Message-ID"];
  std::string id_b = Parse(b->data).headers["Message-ID"];
  EXPECT_THAT(id_a, MatchesRegex("<[0-9a-f]{32}@vault\\.example\\.com>"));
  EXPECT_NE(id_a, id_b);
}

TEST(MessageFormatTest, DatesAreRfc5322) {
  EXPECT_EQ(FormatRfc5322Date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(FormatRfc5322Date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
  EXPECT_EQ(FormatRfc5322Date(kDate), "Sat, 21 Nov 2026 21:14:00 +0000");
}

TEST(MessageFormatTest, DotLinesAreLeftForTheTransport) {
  // libcurl dot-stuffs on upload; the .eml must hold the plain text.
  Parsed p = Parse(Format({.to = "a@b.c", .subject = "s", .body = ".\n.hidden\n"}));
  EXPECT_EQ(p.body, ".\r\n.hidden\r\n");
}

}  // namespace
}  // namespace keyward::mail
