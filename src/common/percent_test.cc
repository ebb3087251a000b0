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

}  // namespace
}  // namespace keyward
