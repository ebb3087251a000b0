#include "client/item_list.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>

#include "common/try.h"

namespace keyward::client {
namespace {

// Every byte but the closing quote (the data's bytes are checked by its
// decoder: a backslash or any other byte outside base64url fails it).
struct AnyByteClass {
  static bool All(std::string_view) { return true; }
};

// Printable ASCII but the backslash: a plaintext member's value, which has
// no escapes then (the quote ends it).
// Eight bytes at a time (the exact "has a byte less than n" and "has a
// zero byte" word tests), then byte by byte.
struct PlainByteClass {
  static bool All(std::string_view s) {
    constexpr uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
    auto has_zero = [&](uint64_t x) { return ((x - kOnes) & ~x & kHigh) != 0; };
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      const bool below_space = ((w - kOnes * 0x20) & ~w & kHigh) != 0;
      if (below_space || (w & kHigh) != 0 || has_zero(w ^ (kOnes * 0x7f)) ||
          has_zero(w ^ (kOnes * '\\'))) {
        return false;
      }
    }
    for (; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
    }
    return true;
  }
};

// A forward-only reader of the one form keywardd writes: each step either
// consumes what it expects or fails, and a failure anywhere sends the whole
// text to the JSON parser.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}
  // (A loop rather than memcmp: the literals are a few bytes long.)
  bool Literal(std::string_view s) {
    if (text_.size() - pos_ < s.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (text_[pos_ + i] != s[i]) return false;
    }
    pos_ += s.size();
    return true;
  }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  // A string's contents up to its closing quote (consumed), every byte of
  // them in the class `Ok` (Ok::All); no escapes. The quote is found by
  // memchr, then the bytes are checked in one loop without early exit,
  // which the compiler vectorizes.
  template <class Ok>
  std::optional<std::string_view> StringBody(Ok) {
    const size_t end = text_.find('"', pos_);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view body = text_.substr(pos_, end - pos_);
    if (!Ok::All(body)) return std::nullopt;
    pos_ = end + 1;
    return body;
  }
  // 0 or [1-9][0-9]{0,17}: a JSON integer that fits int64_t.
  std::optional<int64_t> SmallInteger() {
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && pos_ - start < 18) {
      v = v * 10 + (text_[pos_++] - '0');
    }
    const size_t n = pos_ - start;
    if (n == 0 || (n > 1 && text_[start] == '0')) return std::nullopt;
    if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') return std::nullopt;
    return v;
  }
  bool AtEnd() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Byte classes as tables.
template <bool (*kIn)(unsigned char)>
struct ByteClass {
  static constexpr auto kTable = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c) t[static_cast<size_t>(c)] = kIn(static_cast<unsigned char>(c));
    return t;
  }();
  static bool All(std::string_view s) {
    bool ok = true;
    for (char c : s) ok &= kTable[static_cast<unsigned char>(c)];
    return ok;
  }
};
constexpr bool Alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
constexpr bool IsIdByte(unsigned char c) { return Alnum(c) || c == '-' || c == '_'; }
constexpr bool IsTimeByte(unsigned char c) {
  return Alnum(c) || c == ':' || c == '.' || c == '+' || c == '-';
}
constexpr ByteClass<IsIdByte> IdByte;
// A plaintext member's name.
constexpr bool IsNameByte(unsigned char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
constexpr ByteClass<IsNameByte> NameByte;
constexpr PlainByteClass PlainByte;
constexpr ByteClass<IsTimeByte> TimeByte;
constexpr AnyByteClass AnyByte;

// keywardd's form of the listing (http/api/api.cc ItemListBody), or nullopt.
std::optional<std::vector<EncryptedItem>> ReadServerItemList(std::string_view text) {
  Scanner in(text);
  if (!in.Literal(R"({"items":[)")) return std::nullopt;
  std::vector<EncryptedItem> out;
  // About 450 bytes per item of ~250 bytes of plaintext.
  out.reserve(text.size() / 400);
  bool first = true;
  while (!in.Peek(']')) {
    if (!first && !in.Literal(",")) return std::nullopt;
    first = false;
    EncryptedItem it;
    std::optional<std::string_view> id, data, created, updated;
    std::optional<int64_t> revision;
    if (!in.Literal(R"({"id":")") || !(id = in.StringBody(IdByte)) ||
        !in.Literal(R"(,"revision":)") || !(revision = in.SmallInteger()) ||
        !in.Literal(R"(,"data":")") || !(data = in.StringBody(AnyByte)) ||
        !in.Literal(R"(,"created_at":")") || !(created = in.StringBody(TimeByte)) ||
        !in.Literal(R"(,"updated_at":")") || !(updated = in.StringBody(TimeByte)) ||
        !in.Literal("}")) {
      return std::nullopt;
    }
    auto bytes = crypto::Base64UrlDecodePublic(*data);
    if (!bytes) return std::nullopt;  // the parser's path gives the error
    it.id = *id;
    it.revision = *revision;
    it.data = std::move(*bytes);
    it.created_at = *created;
    it.updated_at = *updated;
    out.push_back(std::move(it));
  }
  if (!in.Literal("]}") || !in.AtEnd()) return std::nullopt;
  return out;
}

}  // namespace

Result<EncryptedItem> ParseItem(const Json& j) {
  EncryptedItem it;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "id"));
  it.id = id;
  KW_ASSIGN_OR_RETURN(auto rev, JsonInt(j, "revision"));
  it.revision = rev;
  // Ciphertext: public bytes, so the table decoder (thousands per listing).
  KW_ASSIGN_OR_RETURN(auto text, JsonString(j, "data"));
  auto data = crypto::Base64UrlDecodePublic(text);
  if (!data) {
    return Fail(Error::Unavailable("server.bad_response",
                                   "the server's answer has an invalid base64url field 'data'"));
  }
  it.data = std::move(*data);
  if (auto c = JsonString(j, "created_at")) it.created_at = *c;
  if (auto u = JsonString(j, "updated_at")) it.updated_at = *u;
  return it;
}

Result<std::vector<EncryptedItem>> ParseItemList(const Json& answer) {
  auto items = answer.find("items");
  if (items == answer.end() || !items->is_array()) {
    return Fail(Error::Unavailable("server.bad_response", "no items in the answer"));
  }
  std::vector<EncryptedItem> out;
  out.reserve(items->size());
  for (const Json& j : *items) {
    KW_ASSIGN_OR_RETURN(auto it, ParseItem(j));
    out.push_back(std::move(it));
  }
  return out;
}

Result<std::vector<EncryptedItem>> ParseItemListText(std::string_view text) {
  if (auto fast = ReadServerItemList(text)) return std::move(*fast);
  Json answer = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded()) {
    return Fail(Error::Unavailable("server.bad_response",
                                   "the server answered the item list with something other "
                                   "than JSON"));
  }
  return ParseItemList(answer);
}

bool ReadPlainItemFields(std::string_view text, ItemFields& fields) {
  Scanner in(text);
  if (!in.Literal("{")) return false;
  struct Member {
    std::string_view name, value;
  };
  // Checked whole before `fields` is touched.
  Member members[8];
  size_t n = 0;
  while (!in.Peek('}')) {
    if (n == std::size(members)) return false;
    if (n > 0 && !in.Literal(",")) return false;
    std::optional<std::string_view> name, value;
    if (!in.Literal("\"") || !(name = in.StringBody(NameByte)) || !in.Literal(":\"") ||
        !(value = in.StringBody(PlainByte))) {
      return false;
    }
    members[n++] = {*name, *value};
  }
  if (!in.Literal("}") || !in.AtEnd()) return false;
  for (size_t i = 0; i < n; ++i) {
    const auto& [name, value] = members[i];
    if (name == "name") fields.name.assign(value);
    if (name == "username") fields.username.assign(value);
    if (name == "url") fields.url.assign(value);
    if (name == "password") fields.password = crypto::SecureBytes::Copy(value);
    if (name == "notes") fields.notes = crypto::SecureBytes::Copy(value);
  }
  return true;
}

Result<std::vector<Item>> OpenItems(const crypto::VaultKey& uk, std::string_view account_id,
                                    std::vector<EncryptedItem> items) {
  std::vector<Item> out;
  out.reserve(items.size());
  for (auto& e : items) {
    KW_ASSIGN_OR_RETURN(auto item, OpenItem(uk, account_id, std::move(e)));
    out.push_back(std::move(item));
  }
  return out;
}

Result<Item> OpenItem(const crypto::VaultKey& uk, std::string_view account_id, EncryptedItem e) {
  KW_ASSIGN_OR_RETURN(auto fields, DecryptItem(uk, account_id, e.id, e.data));
  return Item{std::move(e.id), e.revision, std::move(e.created_at), std::move(e.updated_at),
              std::move(fields)};
}

}  // namespace keyward::client
