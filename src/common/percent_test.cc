#include "common/percent.h"

#include <gtest/gtest.h>

namespace keyward {
namespace {

TEST(PercentTest, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a b&c=d/e?f#g+h"), "a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh");
  EXPECT_EQ(PercentEncode("bob@example.com"), "bob%40example.com");
  EXPECT_EQ(PercentEncode("\xc3\xa9\x00\xff"), "%C3%A9");
  EXPECT_EQ(PercentEncode(std::string_view("\x00\xff", 2)), "%00%FF");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(PercentTest, DecodesWhatItEncodesAndRefusesBrokenEscapes) {
  for (std::string_view text : {"a b&c=d/e?f#g+h", "bob@example.com", "", "\xc3\xa9"}) {
    auto back = PercentDecode(PercentEncode(text));
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, text);
  }
  EXPECT_EQ(PercentDecode("a+b%2b"), "a b+");
  EXPECT_EQ(PercentDecode("%7e%7E"), "~~");
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("ab%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
}

TEST(PercentTest, QueryValueFindsTheFirstExactName) {
  const std::string_view q = "code=abc%2Fd&state=s1&xstate=no&state=s2&empty=";
  EXPECT_EQ(QueryValue(q, "code"), "abc/d");
  EXPECT_EQ(QueryValue(q, "state"), "s1");
  EXPECT_EQ(QueryValue(q, "empty"), "");
  EXPECT_FALSE(QueryValue(q, "stat").has_value());
  EXPECT_FALSE(QueryValue(q, "error").has_value());
  EXPECT_FALSE(QueryValue("code=%g0", "code").has_value());
  EXPECT_FALSE(QueryValue("", "code").has_value());
}

}  // namespace
}  // namespace keyward
