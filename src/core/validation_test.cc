#include "core/validation.h"

#include <gtest/gtest.h>

namespace keyward::core {
namespace {

TEST(NormalizeEmailTest, TrimsAndLowercases) {
  auto e = NormalizeEmail("  Ann.Lee+vault@Example.COM\t");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "ann.lee+vault@example.com");
}

TEST(NormalizeEmailTest, Rejects) {
  for (std::string_view bad :
       {"", "   ", "ann", "@example.com", "ann@", "ann@@example.com", "a@b@c",
        "ann lee@example.com", "ann@exa mple.com", "ann\x01@example.com", "ann@.example.com",
        "ann@example.com.", "ann@example..com"}) {
    auto e = NormalizeEmail(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code(), "account.invalid_email");
    EXPECT_EQ(e.error().message().find('@'), std::string::npos);  // never echoed
  }
  std::string long_local(64, 'a');
  EXPECT_TRUE(NormalizeEmail(long_local + "@example.com"));
  EXPECT_FALSE(NormalizeEmail(long_local + "a@example.com"));
  std::string domain(254 - 2, 'b');
  EXPECT_FALSE(NormalizeEmail("a@" + domain + "x"));
  EXPECT_TRUE(NormalizeEmail("a@" + domain));
}

TEST(ValidationTest, ClientIds) {
  EXPECT_TRUE(IsValidClientId("a"));
  EXPECT_TRUE(IsValidClientId("Item_1-x"));
  EXPECT_TRUE(IsValidClientId(std::string(64, 'z')));
  EXPECT_FALSE(IsValidClientId(""));
  EXPECT_FALSE(IsValidClientId(std::string(65, 'z')));
  EXPECT_FALSE(IsValidClientId("a/b"));
  EXPECT_FALSE(IsValidClientId("a b"));
  EXPECT_FALSE(IsValidClientId("é"));
}

TEST(ValidationTest, AccountIds) {
  EXPECT_TRUE(IsValidAccountId("AAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(IsValidAccountId("AAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(IsValidAccountId("AAAAAAAAAAAAAAAAAAAAA+"));
}

TEST(ValidationTest, Kdf) {
  crypto::KdfParams min{3, 64ull << 20};
  EXPECT_TRUE(CheckKdf({3, 64ull << 20}, min));
  EXPECT_EQ(CheckKdf({2, 64ull << 20}, min).error().code(), "kdf.too_weak");
  EXPECT_EQ(CheckKdf({3, 32ull << 20}, min).error().code(), "kdf.too_weak");
  EXPECT_EQ(CheckKdf({1000, 64ull << 20}, min).error().code(), "request.invalid_field");
}

}  // namespace
}  // namespace keyward::core
