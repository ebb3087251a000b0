// The client's readers of what a (possibly hostile) server sends and of what
// a vault's items decrypt to (src/client/item_list.h): the vault listing
// read directly in keywardd's form or through the JSON parser, and an
// item's plaintext read directly or through the SAX reader. Each must give
// exactly what the JSON parser's tree gives, the same items or an error,
// and never throw.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/item_list.h"
#include "fuzz/fuzz_support.h"

namespace keyward::fuzz {
namespace {

using client::Json;

// The vault listing: ParseItemListText against the tree's reading.
void ItemList(std::string_view text) {
  auto got = client::ParseItemListText(text);
  RequireCoded(got);
  Json answer = Json::parse(text.begin(), text.end(), nullptr, false);
  if (answer.is_discarded()) {
    Require(!got.has_value(), "a text that is not JSON listed items");
    return;
  }
  auto want = client::ParseItemList(answer);
  Require(want.has_value() == got.has_value(), "the two readings of a listing disagree");
  if (!want) return;
  Require(want->size() == got->size(), "the two readings list different numbers of items");
  for (size_t i = 0; i < want->size(); ++i) {
    const auto& a = (*want)[i];
    const auto& b = (*got)[i];
    Require(a.id == b.id && a.revision == b.revision && a.data == b.data &&
                a.created_at == b.created_at && a.updated_at == b.updated_at,
            "the two readings give different items");
  }
}

// An item's plaintext, sealed under a fixed key and opened by DecryptItem,
// against the tree's reading of the same text.
void Plaintext(std::string_view text) {
  static const crypto::VaultKey uk(crypto::SecureBytes::Copy(std::string(32, 'k')));
  const crypto::Bytes blob =
      crypto::EncryptWithNonce(uk.span(), crypto::Bytes(24, 0x01), AsBytes(text),
                               crypto::Ad({"keyward/v1/item", "account", "item"}));
  auto got = client::DecryptItem(uk, "account", "item", blob);
  RequireCoded(got);
  Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  const bool object = !j.is_discarded() && j.is_object();
  Require(object == got.has_value(), "DecryptItem and the parser disagree on an item");
  if (!object) return;
  auto member = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string()
               ? std::string(it->get_ref<const client::SecretString&>())
               : std::string();
  };
  Require(got->name == member("name") && got->username == member("username") &&
              got->url == member("url") && got->password.view() == member("password") &&
              got->notes.view() == member("notes"),
          "DecryptItem reads an item's members differently from the parser");
}

}  // namespace
}  // namespace keyward::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)keyward::crypto::Init();
  FuzzedDataProvider in(data, size);
  const bool plaintext = in.ConsumeBool();
  const std::string text = in.ConsumeRemainingBytesAsString();
  if (plaintext) {
    keyward::fuzz::Plaintext(text);
  } else {
    keyward::fuzz::ItemList(text);
  }
  return 0;
}
