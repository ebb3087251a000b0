#include "protocol/link.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/binding.h"
#include "tests/support/status_assertions.h"

namespace keyward::protocol {
namespace {

using crypto::Bytes;

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init().has_value()); }
  crypto::GenericKey a_ = crypto::GenericKey::Random();
};

void ExpectMalformed(std::string_view text) {
  auto r = ParseLinkText(text);
  ASSERT_FALSE(r.has_value()) << text;
  EXPECT_EQ(r.error().code(), "link.malformed") << text;
  if (!text.empty()) {
    EXPECT_EQ(r.error().message().find(std::string(text)), std::string::npos);
  }
}

TEST_F(LinkTest, RoundTrip) {
  auto link = CreateLink(a_, "req-1", "user-1", 2);
  ASSERT_TRUE(link.has_value());
  EXPECT_TRUE(
      crypto::ConstantTimeEqual(link->token.span(), DeriveLinkToken(link->link_secret).span()));
  EXPECT_FALSE(
      crypto::ConstantTimeEqual(link->token.span(), DeriveLinkKey(link->link_secret).span()));
  EXPECT_FALSE(crypto::ConstantTimeEqual(link->token.span(), link->link_secret.span()));
  auto a = OpenLink(link->link_secret, link->linked_admin_share, "req-1", "user-1", 2);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(a->span(), a_.span()));
}

TEST_F(LinkTest, WrongSecretOrBindingFails) {
  auto link = CreateLink(a_, "req-1", "user-1", 2);
  ASSERT_TRUE(link.has_value());
  const crypto::GenericKey other = crypto::GenericKey::Random();
  auto wrong = OpenLink(other, link->linked_admin_share, "req-1", "user-1", 2);
  EXPECT_ERROR(wrong, "crypto.decrypt_failed");
  // T is not L: the server's token opens nothing.
  auto token = OpenLink(link->token, link->linked_admin_share, "req-1", "user-1", 2);
  EXPECT_ERROR(token, "crypto.decrypt_failed");
  for (auto [req, user, epoch] : {std::tuple{"req-2", "user-1", 2},
                                  {"req-1", "user-2", 2},
                                  std::tuple{"req-1", "user-1", 3}}) {
    auto r = OpenLink(link->link_secret, link->linked_admin_share, req, user, epoch);
    ASSERT_FALSE(r.has_value()) << req << user << epoch;
    EXPECT_EQ(r.error().code(), "crypto.decrypt_failed");
  }
}

OrgPin Anchor(std::string org_id = "org-1") {
  OrgPin pin;
  pin.org_id = std::move(org_id);
  pin.signing_public_key = crypto::RandomBytes(32);
  pin.statement_digest = crypto::RandomBytes(32);
  pin.version = 7;
  return pin;
}

TEST_F(LinkTest, AnchorRoundTrip) {
  const OrgPin anchor = Anchor("o-" + std::string(62, 'x'));
  auto link = CreateLink(a_, "req-1", "user-1", 2, &anchor);
  ASSERT_TRUE(link.has_value());
  auto opened =
      OpenLinkWithAnchor(link->link_secret, link->linked_admin_share, "req-1", "user-1", 2);
  ASSERT_TRUE(opened.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(opened->admin_part.span(), a_.span()));
  ASSERT_TRUE(opened->anchor.has_value());
  EXPECT_EQ(opened->anchor->org_id, anchor.org_id);
  EXPECT_EQ(opened->anchor->signing_public_key, anchor.signing_public_key);
  EXPECT_EQ(opened->anchor->statement_digest, anchor.statement_digest);
  EXPECT_EQ(opened->anchor->version, 7u);
  // OpenLink still gives A alone.
  auto a = OpenLink(link->link_secret, link->linked_admin_share, "req-1", "user-1", 2);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(a->span(), a_.span()));
}

TEST_F(LinkTest, LinkWithoutAnchorOpensWithNone) {
  auto link = CreateLink(a_, "req-1", "user-1", 2);
  ASSERT_TRUE(link.has_value());
  auto opened =
      OpenLinkWithAnchor(link->link_secret, link->linked_admin_share, "req-1", "user-1", 2);
  ASSERT_TRUE(opened.has_value());
  EXPECT_FALSE(opened->anchor.has_value());
}

TEST_F(LinkTest, BadAnchorsAreRefused) {
  OrgPin no_digest = Anchor();
  no_digest.statement_digest.clear();
  EXPECT_EQ(CreateLink(a_, "req-1", "user-1", 1, &no_digest).error().code(), "link.invalid_anchor");
  OrgPin bad_key = Anchor();
  bad_key.signing_public_key.resize(31);
  EXPECT_EQ(CreateLink(a_, "req-1", "user-1", 1, &bad_key).error().code(),
            "protocol.invalid_public_key");
  OrgPin bad_org = Anchor("a b");
  EXPECT_EQ(CreateLink(a_, "req-1", "user-1", 1, &bad_org).error().code(), "protocol.invalid_id");
  OrgPin no_version = Anchor();
  no_version.version = 0;
  EXPECT_FALSE(CreateLink(a_, "req-1", "user-1", 1, &no_version).has_value());
}

TEST_F(LinkTest, MalformedAnchorPlaintextIsOneDecryptError) {
  // A plaintext that is neither A nor A and a whole anchor, even under the
  // right key and binding, opens nothing.
  const crypto::GenericKey l = crypto::GenericKey::Random();
  const crypto::GenericKey kl = DeriveLinkKey(l);
  const OrgPin anchor = Anchor();
  auto plain = EncodeLinkPlaintext(a_, &anchor);
  ASSERT_TRUE(plain.has_value());
  for (size_t size : {size_t{0}, size_t{31}, size_t{33}, size_t{32 + kLinkAnchorFixedSize}}) {
    std::span<const uint8_t> cut = plain->span().first(size);
    const Bytes la = crypto::Encrypt(kl.span(), cut, LinkAd("req-1", "user-1", 1));
    auto r = OpenLinkWithAnchor(l, la, "req-1", "user-1", 1);
    ASSERT_FALSE(r.has_value()) << size;
    EXPECT_EQ(r.error().code(), "crypto.decrypt_failed");
  }
  crypto::SecureBytes bad_org = plain->Clone();
  bad_org.data()[bad_org.size() - 1] = ' ';
  const Bytes la = crypto::Encrypt(kl.span(), bad_org.span(), LinkAd("req-1", "user-1", 1));
  EXPECT_FALSE(OpenLinkWithAnchor(l, la, "req-1", "user-1", 1).has_value());
}

TEST_F(LinkTest, TextRoundTrip) {
  const crypto::GenericKey l = crypto::GenericKey::Random();
  auto text = BuildLinkText("https://vault.example.com:8443/kw", "req-1", l);
  ASSERT_TRUE(text.has_value());
  const std::string expected =
      "https://vault.example.com:8443/kw/recover/req-1#" + crypto::Base64UrlEncode(l.span());
  EXPECT_EQ(text->view(), expected);
  auto parsed = ParseLinkText(text->view());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->public_url, "https://vault.example.com:8443/kw");
  EXPECT_EQ(parsed->request_id, "req-1");
  EXPECT_TRUE(crypto::ConstantTimeEqual(parsed->link_secret.span(), l.span()));
  auto plain =
      ParseLinkText("http://127.0.0.1:8080/recover/r#" + crypto::Base64UrlEncode(l.span()));
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->public_url, "http://127.0.0.1:8080");
}

TEST_F(LinkTest, BuildRefusesBadParts) {
  const crypto::GenericKey l = crypto::GenericKey::Random();
  for (std::string_view url :
       {"", "vault.example.com", "ftp://x", "https://", "https:///x", "https://x/", "https://x?a=1",
        "https://x#y", "https://a b", "https://x\\y"}) {
    auto r = BuildLinkText(url, "req-1", l);
    ASSERT_FALSE(r.has_value()) << url;
    EXPECT_EQ(r.error().code(), "link.invalid_public_url") << url;
  }
  auto r = BuildLinkText("https://x", "req/1", l);
  EXPECT_ERROR(r, "protocol.invalid_id");
}

TEST_F(LinkTest, ParseRejectsMalformedLinks) {
  const std::string l = crypto::Base64UrlEncode(crypto::GenericKey::Random().span());
  const std::string good = "https://vault.example.com/recover/req-1#" + l;
  ASSERT_TRUE(ParseLinkText(good).has_value());
  ExpectMalformed("");
  ExpectMalformed("https://vault.example.com/recover/req-1");   // no fragment
  ExpectMalformed("https://vault.example.com/recover/req-1#");  // empty fragment
  ExpectMalformed(good + "#");                                  // two fragments
  ExpectMalformed(good + "A");                                  // 44 chars
  ExpectMalformed(good.substr(0, good.size() - 1));             // 31 bytes and bits
  ExpectMalformed(good + "=");                                  // padding
  ExpectMalformed("https://vault.example.com/recover/req-1#" + l.substr(0, 42) + "+");
  ExpectMalformed("https://vault.example.com/recover/req-1#" + l.substr(0, 41) + " A");
  ExpectMalformed("https://vault.example.com/recover/#" + l);           // empty request id
  ExpectMalformed("https://vault.example.com/recover/req.1#" + l);      // request id alphabet
  ExpectMalformed("https://vault.example.com/recover/a/b#" + l);        // extra path segment
  ExpectMalformed("https://vault.example.com/recover/req-1/#" + l);     // trailing slash
  ExpectMalformed("https://vault.example.com/recover/req-1?x=1#" + l);  // query
  ExpectMalformed("https://vault.example.com/item/req-1#" + l);         // wrong path
  ExpectMalformed("https://vault.example.com//recover/req-1#" + l);     // url ends with '/'
  ExpectMalformed("javascript://x/recover/req-1#" + l);                 // scheme
  ExpectMalformed("HTTPS://vault.example.com/recover/req-1#" + l);      // scheme case
  ExpectMalformed("/recover/req-1#" + l);                               // no server
  ExpectMalformed("https:///recover/req-1#" + l);                       // empty host
  ExpectMalformed(" " + good);                                          // whitespace
  ExpectMalformed(good + "\n");
  ExpectMalformed("https://v\xc3\xa4ult.example.com/recover/req-1#" + l);  // non-ASCII
  ExpectMalformed("https://" + std::string(kMaxLinkSize, 'a') + "/recover/r#" + l);
}

TEST_F(LinkTest, InvalidInputsAreNamed) {
  auto bad = CreateLink(a_, "req-1", "user 1", 1);
  EXPECT_ERROR(bad, "protocol.invalid_id");
  auto bad_epoch = CreateLink(a_, "req-1", "user-1", 0);
  EXPECT_ERROR(bad_epoch, "protocol.invalid_counter");
}

}  // namespace
}  // namespace keyward::protocol
