#include "http/json_text.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace keyward::http {
namespace {

std::string Nlohmann(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Appended(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

TEST(JsonTextTest, EscapesAsNlohmannDoes) {
  for (std::string_view text :
       {std::string_view(""), std::string_view("plain"), std::string_view("quote \" and \\"),
        std::string_view("\b\f\n\r\t"), std::string_view("\x01\x1f\x7f", 3),
        std::string_view("nul \0 inside", 13), std::string_view("é ✓ 😀"),
        std::string_view("bad \xff byte"), std::string_view("cut \xe2\x9c"),
        std::string_view("overlong \xc0\xaf"), std::string_view("surrogate \xed\xa0\x80"),
        std::string_view("too high \xf4\x90\x80\x80")}) {
    EXPECT_EQ(Appended(text), Nlohmann(std::string(text))) << ::testing::PrintToString(text);
  }
}

// Random bytes, mostly the ones that matter (controls, quotes, UTF-8 lead
// and continuation bytes): the same text as nlohmann's, every time.
TEST(JsonTextTest, RandomTextMatchesNlohmann) {
  std::mt19937 rng(16);
  const std::string alphabet("aZ \"\\/\x01\x1f\x7f\x80\xbf\xc2\xc3\xdf\xe0\xed\xef\xf0\xf4\xf5\xff",
                             21);
  for (int round = 0; round < 20000; ++round) {
    std::string text(rng() % 12, '\0');
    for (auto& c : text) {
      c = rng() % 4 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    ASSERT_EQ(Appended(text), Nlohmann(text)) << ::testing::PrintToString(text);
  }
}

TEST(JsonTextTest, ObjectsMatchNlohmannWhenKeysAreSorted) {
  std::string out;
  {
    JsonObjectText o(out);
    o.Bool("a", true);
    o.Int("b", -7);
    o.StringOrNull("c", "");
    o.StringOrNull("d", "x\ny");
    o.Uint("e", 18446744073709551615u);
    o.Key("f") += "[]";
  }
  const nlohmann::json expected = {{"a", true},
                                   {"b", -7},
                                   {"c", nullptr},
                                   {"d", "x\ny"},
                                   {"e", 18446744073709551615u},
                                   {"f", nlohmann::json::array()}};
  EXPECT_EQ(out, Nlohmann(expected));
}

}  // namespace
}  // namespace keyward::http
