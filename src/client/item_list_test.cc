// The vault listing read two ways (client/item_list.h): keywardd's own form
// directly, any other text through the JSON parser. Every text gives what
// the parser's path gives, the same items or an error.
#include "client/item_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "crypto/crypto.h"
#include "tests/support/status_assertions.h"

namespace keyward::client {
namespace {

// The parser's path alone: what every text must give.
Result<std::vector<EncryptedItem>> Reference(std::string_view text) {
  Json answer = Json::parse(text.begin(), text.end(), nullptr, false);
  if (answer.is_discarded()) return Fail(Error::Unavailable("server.bad_response", "not JSON"));
  return ParseItemList(answer);
}

void ExpectSame(std::string_view text) {
  SCOPED_TRACE(std::string(text.substr(0, 300)));
  auto want = Reference(text);
  auto got = ParseItemListText(text);
  ASSERT_EQ(want.has_value(), got.has_value());
  if (!want) {
    EXPECT_EQ(got.error().code(), "server.bad_response");
    return;
  }
  ASSERT_EQ(want->size(), got->size());
  for (size_t i = 0; i < want->size(); ++i) {
    EXPECT_EQ((*want)[i].id, (*got)[i].id);
    EXPECT_EQ((*want)[i].revision, (*got)[i].revision);
    EXPECT_EQ((*want)[i].data, (*got)[i].data);
    EXPECT_EQ((*want)[i].created_at, (*got)[i].created_at);
    EXPECT_EQ((*want)[i].updated_at, (*got)[i].updated_at);
  }
}

std::string ServerItem(std::string_view id, std::string_view revision, std::string_view data) {
  return fmt::format(R"({{"id":"{}","revision":{},"data":"{}","created_at":"2026-12-08T01:02:03Z",)"
                     R"("updated_at":"2026-12-08T04:05:06.789+01:00"}})",
                     id, revision, data);
}

TEST(ItemListTest, TheServersFormReadsAsTheParserReadsIt) {
  const std::string data = crypto::Base64UrlEncode(crypto::RandomBytes(300));
  std::string many = R"({"items":[)";
  for (int i = 0; i < 100; ++i) {
    if (i > 0) many += ',';
    many += ServerItem(fmt::format("item-{}_x", i), std::to_string(i * 1000),
                       crypto::Base64UrlEncode(crypto::RandomBytes(static_cast<size_t>(i))));
  }
  many += "]}";
  auto got = ParseItemListText(many);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), 100u);
  EXPECT_EQ((*got)[99].revision, 99000);
  ExpectSame(many);
  ExpectSame(R"({"items":[]})");
  ExpectSame(R"({"items":[)" + ServerItem("a", "0", data) + "]}");
  ExpectSame(R"({"items":[)" + ServerItem("", "999999999999999999", "") + "]}");
}

// Texts off the server's form, each read by the parser's path: spaces,
// another member order, escapes, other members, numbers the direct reader
// does not take, and broken ones.
TEST(ItemListTest, AnyOtherTextReadsAsTheParserReadsIt) {
  const std::string d = crypto::Base64UrlEncode(crypto::RandomBytes(40));
  const std::string item = ServerItem("abc", "7", d);
  for (const std::string& text : std::vector<std::string>{
           R"( {"items":[)" + item + "]}",
           R"({"items": [)" + item + "]}",
           R"({"items":[)" + item + "]} ",
           R"({"items":[)" + item + "," + item + "]}",
           R"({"items":[)" + item + ",]}",
           R"({"items":[)" + item + "]",
           R"({"items":[)" + item + "]}x",
           R"({"items":[)" + item + R"(],"next":"more"})",
           R"({"next":1,"items":[)" + item + "]}",
           R"({"items":[{"revision":7,"id":"abc","data":")" + d + R"("}]})",
           R"({"items":[{"id":"a\u0062c","revision":7,"data":")" + d + R"("}]})",
           R"({"items":[{"id":"a/b c","revision":7,"data":")" + d + R"("}]})",
           R"({"items":[)" + ServerItem("abc", "07", d) + "]}",
           R"({"items":[)" + ServerItem("abc", "-7", d) + "]}",
           R"({"items":[)" + ServerItem("abc", "7.0", d) + "]}",
           R"({"items":[)" + ServerItem("abc", "7e2", d) + "]}",
           R"({"items":[)" + ServerItem("abc", "9223372036854775807", d) + "]}",
           R"({"items":[)" + ServerItem("abc", "99999999999999999999", d) + "]}",
           R"({"items":[)" + ServerItem("abc", "\"7\"", d) + "]}",
           R"({"items":[)" + ServerItem("abc", "7", "Zg=") + "]}",
           R"({"items":[)" + ServerItem("abc", "7", "Z") + "]}",
           R"({"items":[)" + ServerItem("abc", "7", "Zh") + "]}",
           R"({"items":[{"id":"abc","revision":7,"data":")" + d +
               R"(","created_at":"t\u00e9","updated_at":null}]})",
           R"({"items":[{"id":"abc","revision":7,"data":")" + d + R"(","extra":[1,{"a":2}]}]})",
           R"({"items":[{"id":"abc","revision":7}]})",
           R"({"items":[{"id":7,"revision":7,"data":")" + d + R"("}]})",
           R"({"items":[1]})",
           R"({"items":{}})",
           R"({"items":null})",
           R"({})",
           R"([])",
           R"(not json)",
           R"()",
       }) {
    ExpectSame(text);
  }
}

}  // namespace
}  // namespace keyward::client
