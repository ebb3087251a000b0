// JSON text written straight into a string, for the answers a list page
// sends often (a page of requests): a tree of nlohmann::json objects costs
// an allocation per field and a sort per object. The text is byte for byte
// what nlohmann::json's dump(-1, ' ', false, error_handler_t::replace) writes
// (http::JsonResponse), which json_text_test.cc checks on random input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keyward::http {

// `text` as a JSON string literal, quotes included: ", \ and control
// characters escaped, valid UTF-8 as it is, invalid UTF-8 replaced by U+FFFD.
void AppendJsonString(std::string& out, std::string_view text);

// Members of an object, written in the order given (write them sorted by
// key to match nlohmann::json, whose objects are sorted).
class JsonObjectText {
 public:
  explicit JsonObjectText(std::string& out) : out_(out) { out_ += '{'; }
  ~JsonObjectText() { out_ += '}'; }
  JsonObjectText(const JsonObjectText&) = delete;
  JsonObjectText& operator=(const JsonObjectText&) = delete;

  // The key, then the caller appends the value itself (an array, an object).
  std::string& Key(std::string_view key);
  void String(std::string_view key, std::string_view value) { AppendJsonString(Key(key), value); }
  // null when empty.
  void StringOrNull(std::string_view key, std::string_view value);
  void Int(std::string_view key, int64_t value) { Key(key) += std::to_string(value); }
  void Uint(std::string_view key, uint64_t value) { Key(key) += std::to_string(value); }
  void Bool(std::string_view key, bool value) { Key(key) += value ? "true" : "false"; }
  void Null(std::string_view key) { Key(key) += "null"; }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace keyward::http
