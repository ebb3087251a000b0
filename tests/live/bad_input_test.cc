// Hostile input against a live keywardd over real sockets. Every answer must be
// the right 4xx with exactly {"error":{"code":"<dotted.code>","message":"..."}}
// (never 5xx, never an echo of the bad value or a secret), a slow or silent
// client must be cut off at the read timeout, and after the whole table the
// server must still serve /healthz and an authenticated request.
//
// The table is split into groups (one ctest test each, each with its own
// server); the group "all" runs every case against one server in a row.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/live/live_support.h"
#include "tests/support/server_process.h"

namespace keyward::live {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr size_t kBodyLimit = 1 << 20;  // the server's default
constexpr auto kReadTimeout = std::chrono::seconds(2);
constexpr size_t kTenMiB = 10u << 20;

std::vector<std::string> ServerArgs() {
  std::vector<std::string> args = kTestKdfArgs;
  args.insert(args.end(), {"--read-timeout", "2s"});
  return args;
}

// ---------------------------------------------------------------------------
// The table.

struct Case {
  std::string group;
  std::string name;
  std::string request;                 // the raw bytes sent
  std::vector<int> statuses;           // acceptable statuses
  std::vector<std::string> codes;      // acceptable error codes (empty: any well-formed one)
  std::vector<std::string> forbidden;  // must not appear in the answer
  bool may_close = false;              // closing without an answer is acceptable
  bool huge = false;                   // a 10 MiB-class request (memory is watched)
};

struct Env {
  uint16_t port = 0;
  LiveAccount account;
  std::string item_id;  // an item that exists, at revision 1
};

json Set(json base, const std::string& pointer, json value) {
  base[json::json_pointer(pointer)] = std::move(value);
  return base;
}

json Drop(json base, const std::string& pointer) {
  json::json_pointer p(pointer);
  base[p.parent_pointer()].erase(p.back());
  return base;
}

// Replaces the placeholder string value "@@RAW@@" in a dump with raw bytes,
// for what nlohmann::json will not produce (invalid UTF-8, bad escapes).
std::string WithRaw(const json& body, const std::string& raw) {
  std::string text = body.dump();
  const std::string placeholder = "\"@@RAW@@\"";
  size_t at = text.find(placeholder);
  if (at == std::string::npos) return text;
  return text.replace(at, placeholder.size(), raw);
}

const std::vector<std::pair<std::string, json>>& NotStrings() {
  static const std::vector<std::pair<std::string, json>> v = {
      {"number", 42},
      {"bool", true},
      {"null", nullptr},
      {"array", json::array({"x"})},
      {"object", json::object({{"x", "y"}})}};
  return v;
}

const std::vector<std::pair<std::string, json>>& NotUnsigned() {
  static const std::vector<std::pair<std::string, json>> v = {
      {"string", "3"},
      {"float", 2.5},
      {"negative", -1},
      {"bool", true},
      {"null", nullptr},
      {"array", json::array({3})},
      {"object", json::object()},
      {"huge", 1e30},
      {"two_to_64", json::parse("18446744073709551616")}};
  return v;
}

const std::vector<std::pair<std::string, json>>& NotObjects() {
  static const std::vector<std::pair<std::string, json>> v = {
      {"string", "object"}, {"number", 3}, {"null", nullptr}, {"array", json::array()}};
  return v;
}

// base64url text that is not the unpadded base64url of anything, or (when the
// field has a fixed size) not of n bytes.
std::vector<std::pair<std::string, std::string>> BadBase64(size_t n, bool fixed_size) {
  std::string good = RandomB64(n);
  std::vector<std::pair<std::string, std::string>> v = {
      {"padding", good + (n % 3 == 1 ? "==" : "=")},
      {"plus", "+" + good.substr(1)},
      {"slash", "/" + good.substr(1)},
      {"inner_space", good.substr(0, 4) + " " + good.substr(5)},
      {"leading_space", " " + good},
      {"trailing_newline", good + "\n"},
      {"star", "*" + good.substr(1)},
      {"dot", good.substr(0, 3) + "." + good.substr(4)},
      {"non_ascii", "\xc3\xa9" + good.substr(2)},
      {"impossible_length", good + std::string((5 - good.size() % 4) % 4, 'A')},
  };
  if (fixed_size) {
    v.push_back({"short", good.substr(0, good.size() - 4)});
    v.push_back({"long", good + "AAAA"});
  }
  if (n % 3 != 0) {
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string odd = good;
    odd.back() = kAlphabet[kAlphabet.find(odd.back()) | 1];
    v.push_back({"non_canonical_tail", odd});
  }
  return v;
}

class Table {
 public:
  explicit Table(const Env& env) : env_(env) {}

  std::vector<Case> Build() {
    Transport();
    Json();
    Register();
    Login();
    Items();
    Routing();
    return std::move(cases_);
  }

 private:
  std::string Bearer() const { return "Bearer " + env_.account.token; }
  std::vector<std::string> Secrets() const { return {env_.account.auth_key, env_.account.token}; }

  void Add(const std::string& group, const std::string& name, const RawRequest& request,
           std::vector<int> statuses, std::vector<std::string> codes,
           std::vector<std::string> forbidden = {}, bool may_close = false) {
    Case c;
    c.group = group;
    c.name = group + "/" + name;
    c.request = request.Build(env_.port);
    c.statuses = std::move(statuses);
    c.codes = std::move(codes);
    c.forbidden = std::move(forbidden);
    for (const std::string& s : Secrets()) c.forbidden.push_back(s);
    c.may_close = may_close;
    cases_.push_back(std::move(c));
  }

  void AddRaw(const std::string& name, std::string bytes, std::vector<int> statuses,
              std::vector<std::string> codes, bool may_close, bool huge = false) {
    Case c;
    c.group = "transport";
    c.name = "transport/" + name;
    c.request = std::move(bytes);
    c.statuses = std::move(statuses);
    c.codes = std::move(codes);
    c.forbidden = Secrets();
    c.may_close = may_close;
    c.huge = huge;
    cases_.push_back(std::move(c));
  }

  // A JSON body sent to method/path (with the session token when auth).
  void AddJson(const std::string& group, const std::string& name, const std::string& method,
               const std::string& path, bool auth, const std::string& body,
               std::vector<int> statuses, std::vector<std::string> codes,
               std::vector<std::string> forbidden = {}) {
    RawRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    if (auth) r.authorization = Bearer();
    Add(group, name, r, std::move(statuses), std::move(codes), std::move(forbidden));
  }

  // The value itself must not come back when it is a distinctive string.
  static std::vector<std::string> Echo(const json& value) {
    if (value.is_string() && value.get<std::string>().size() >= 8) {
      return {value.get<std::string>()};
    }
    return {};
  }

  // null may be read as absent; anything else of the wrong type is invalid.
  static std::vector<std::string> WrongTypeCodes(const std::string& type) {
    if (type == "null") return {"request.invalid_field", "request.missing_field"};
    return {"request.invalid_field"};
  }

  // Wrong types, a missing field and unknown fields for one endpoint, against
  // a valid body.
  void FieldCases(const std::string& group, const std::string& method, const std::string& path,
                  bool auth, const std::function<json()>& valid,
                  const std::vector<std::string>& string_fields,
                  const std::vector<std::string>& unsigned_fields,
                  const std::vector<std::string>& object_fields,
                  const std::vector<std::string>& required,
                  const std::vector<std::string>& objects_for_unknown) {
    for (const std::string& field : string_fields) {
      for (const auto& [type, value] : NotStrings()) {
        AddJson(group, "wrong_type" + field + "/" + type, method, path, auth,
                Set(valid(), field, value).dump(), {400}, WrongTypeCodes(type));
      }
    }
    for (const std::string& field : unsigned_fields) {
      for (const auto& [type, value] : NotUnsigned()) {
        AddJson(group, "wrong_type" + field + "/" + type, method, path, auth,
                Set(valid(), field, value).dump(), {400}, WrongTypeCodes(type));
      }
    }
    for (const std::string& field : object_fields) {
      for (const auto& [type, value] : NotObjects()) {
        AddJson(group, "wrong_type" + field + "/" + type, method, path, auth,
                Set(valid(), field, value).dump(), {400}, WrongTypeCodes(type));
      }
    }
    for (const std::string& field : required) {
      AddJson(group, "missing" + field, method, path, auth, Drop(valid(), field).dump(), {400},
              {"request.missing_field"});
    }
    AddJson(group, "missing_everything", method, path, auth, "{}", {400},
            {"request.missing_field"});
    for (const std::string& object : objects_for_unknown) {
      std::string where = object.empty() ? "/top" : object;
      AddJson(group, "unknown_field" + where, method, path, auth,
              Set(valid(), object + "/zq_unknown", "zq-unknown-value-1234").dump(), {400},
              {"request.unknown_field"}, {"zq-unknown-value-1234"});
      AddJson(group, "unknown_field_null" + where, method, path, auth,
              Set(valid(), object + "/zq_unknown", nullptr).dump(), {400},
              {"request.unknown_field"});
    }
  }

  // Bad base64url and wrong decoded lengths for a binary field of n bytes
  // (variable-size fields take lengths around n: no short/long variants).
  void Base64Cases(const std::string& group, const std::string& method, const std::string& path,
                   bool auth, const std::function<json()>& valid, const std::string& field,
                   size_t n, bool fixed_size, std::vector<size_t> wrong_lengths) {
    const std::vector<std::string> codes = {"request.invalid_field"};
    for (const auto& [name, text] : BadBase64(n, fixed_size)) {
      AddJson(group, "bad_base64" + field + "/" + name, method, path, auth,
              Set(valid(), field, text).dump(), {400}, codes, Echo(text));
    }
    for (size_t length : wrong_lengths) {
      std::string text = RandomB64(length);
      AddJson(group, "length" + field + "/" + std::to_string(length), method, path, auth,
              Set(valid(), field, text).dump(), {400}, codes, Echo(text));
    }
  }

  void InvalidUtf8Cases(const std::string& group, const std::string& method,
                        const std::string& path, bool auth, const json& valid,
                        const std::string& field) {
    static const std::vector<std::pair<std::string, std::string>> kBad = {
        {"ff_fe", "\"\xff\xfe@example.com\""},
        {"overlong_slash",
         "\"a\xc0\xaf"
         "b@example.com\""},
        {"truncated_euro", "\"a\xe2\x82@example.com\""},
        {"utf8_surrogate", "\"a\xed\xa0\x80@example.com\""},
        {"above_u10ffff", "\"a\xf4\x90\x80\x80@example.com\""},
        {"lone_continuation", "\"a\x80@example.com\""},
        {"escaped_lone_surrogate", "\"a\\ud800@example.com\""},
    };
    for (const auto& [name, raw] : kBad) {
      AddJson(group, "invalid_utf8" + field + "/" + name, method, path, auth,
              WithRaw(Set(valid, field, "@@RAW@@"), raw), {400}, {"request.malformed_json"});
    }
    // Invalid UTF-8 in a key.
    std::string text = valid.dump();
    text.insert(1, "\"k\xff\":1,");
    AddJson(group, "invalid_utf8_in_key", method, path, auth, text, {400},
            {"request.malformed_json"});
  }

  // -------------------------------------------------------------------------

  void Transport() {
    const uint16_t port = env_.port;
    const std::string host = "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
    const std::string valid = RegistrationBody("t-" + RandomToken(10) + "@example.com").dump();

    // 10 MiB bodies, first, so the server's peak memory is measured on them.
    {
      RawRequest r;
      r.path = "/v1/accounts";
      r.body = std::string(kTenMiB, ' ');
      r.body.front() = '{';
      r.body.back() = '}';
      AddRaw("ten_mib_body", r.Build(port), {413}, {"request.too_large"}, false, true);
      r.path = "/v1/items";
      r.authorization = Bearer();
      AddRaw("ten_mib_body_authenticated", r.Build(port), {413}, {"request.too_large"}, false,
             true);
    }
    {
      std::string chunked = "POST /v1/accounts HTTP/1.1\r\n" + host +
                            "Connection: close\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n";
      const std::string chunk(64 << 10, 'a');
      for (size_t sent = 0; sent < kTenMiB; sent += chunk.size()) {
        chunked += "10000\r\n" + chunk + "\r\n";
      }
      chunked += "0\r\n\r\n";
      AddRaw("ten_mib_chunked", chunked, {413}, {"request.too_large"}, false, true);
    }
    {
      // The length alone must be refused, without waiting for a body.
      std::string head = "POST /v1/accounts HTTP/1.1\r\n" + host +
                         "Connection: close\r\nContent-Type: application/json\r\n"
                         "Content-Length: 10485760\r\nExpect: 100-continue\r\n\r\n";
      AddRaw("ten_mib_expect_continue_no_body", head, {413}, {"request.too_large"}, false, true);
    }

    // The body limit's edges: exactly 1 MiB is read and judged; one more byte is not.
    {
      RawRequest r;
      r.path = "/v1/accounts";
      r.body = std::string(kBodyLimit, ' ');
      r.body.front() = '{';
      r.body.back() = '}';
      AddRaw("body_at_limit", r.Build(port), {400}, {"request.missing_field"}, false);
      r.body.push_back(' ');
      AddRaw("body_one_over_limit", r.Build(port), {413}, {"request.too_large"}, false);
    }

    // Absurd and broken Content-Length.
    auto with_length = [&](const std::string& length, const std::string& body) {
      return "POST /v1/accounts HTTP/1.1\r\n" + host +
             "Connection: close\r\nContent-Type: application/json\r\nContent-Length: " + length +
             "\r\n\r\n" + body;
    };
    AddRaw("content_length_1e12", with_length("1000000000000", ""), {413}, {"request.too_large"},
           false);
    AddRaw("content_length_2_to_64", with_length("18446744073709551616", ""), {400, 413},
           {"request.malformed", "request.too_large"}, true);
    AddRaw("content_length_30_digits", with_length("999999999999999999999999999999", ""),
           {400, 413}, {"request.malformed", "request.too_large"}, true);
    AddRaw("content_length_negative", with_length("-1", ""), {400}, {"request.malformed"}, true);
    AddRaw("content_length_text", with_length("abc", ""), {400}, {"request.malformed"}, true);
    AddRaw("content_length_list", with_length("10, 20", std::string(10, ' ')), {400},
           {"request.malformed"}, true);
    AddRaw("content_length_twice",
           "POST /v1/accounts HTTP/1.1\r\n" + host +
               "Connection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
               "Content-Length: 3\r\n\r\n{} ",
           {400}, {"request.malformed"}, true);
    AddRaw("content_length_shorter_than_body", with_length("5", valid), {400},
           {"request.malformed_json"}, false);
    AddRaw("chunk_size_not_hex",
           "POST /v1/accounts HTTP/1.1\r\n" + host +
               "Connection: close\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
           {400}, {"request.malformed"}, true);
    AddRaw("transfer_encoding_gzip",
           "POST /v1/accounts HTTP/1.1\r\n" + host +
               "Connection: close\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: gzip\r\n\r\n{}",
           // Beast reads no body for a non-chunked coding, so the empty body
           // may be what is refused.
           {400}, {"request.malformed", "request.malformed_json"}, true);

    // Headers too large.
    AddRaw("one_header_of_20_kib",
           "GET /healthz HTTP/1.1\r\n" + host + "X-Junk: " + std::string(20 << 10, 'j') +
               "\r\nConnection: close\r\n\r\n",
           {431}, {"request.header_too_large"}, true);
    {
      std::string many = "GET /healthz HTTP/1.1\r\n" + host + "Connection: close\r\n";
      for (int i = 0; i < 3000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
      AddRaw("three_thousand_headers", many + "\r\n", {431}, {"request.header_too_large"}, true);
    }

    // Not HTTP at all.
    AddRaw("garbage_line", "GARBAGE\r\n\r\n", {400}, {"request.malformed"}, true);
    AddRaw("random_bytes", RandomBytes(4096) + "\r\n\r\n", {400}, {"request.malformed"}, true);
    AddRaw("nul_bytes", std::string(512, '\0') + "\r\n\r\n", {400}, {"request.malformed"}, true);
    AddRaw("tls_client_hello",
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + RandomBytes(500),
           {400}, {"request.malformed"}, true);
    AddRaw("http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400}, {"request.malformed"}, true);
    AddRaw("header_without_colon",
           "GET /healthz HTTP/1.1\r\n" + host + "NoColonHere\r\nConnection: close\r\n\r\n", {400},
           {"request.malformed"}, true);
    AddRaw("nul_in_header_value",
           "GET /healthz HTTP/1.1\r\n" + host + "X-A: a" + std::string(1, '\0') +
               "b\r\nConnection: close\r\n\r\n",
           {400}, {"request.malformed"}, true);
    AddRaw("space_before_colon",
           "GET /healthz HTTP/1.1\r\n" + host + "X-A : b\r\nConnection: close\r\n\r\n", {400},
           {"request.malformed"}, true);
    AddRaw("bad_version", "GET /healthz HTTP/x.y\r\n" + host + "Connection: close\r\n\r\n", {400},
           {"request.malformed"}, true);
    AddRaw("asterisk_target", "OPTIONS * HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n",
           {400, 404, 405}, {"request.malformed", "route.not_found", "route.method_not_allowed"},
           true);
  }

  void Json() {
    struct Target {
      std::string name, method, path;
      bool auth;
      json valid;
    };
    const std::vector<Target> targets = {
        {"register", "POST", "/v1/accounts", false,
         RegistrationBody("j-" + RandomToken(10) + "@example.com")},
        {"login", "POST", "/v1/sessions", false,
         json{{"email", env_.account.email},
              {"auth_key", env_.account.auth_key},
              {"device", {{"id", env_.account.device_id}, {"name", "live"}, {"type", "cli"}}}}},
        {"item_create", "POST", "/v1/items", true,
         json{{"id", "json-" + RandomToken(8)}, {"data", RandomB64(60)}}},
        {"item_update", "PUT", "/v1/items/" + env_.item_id, true,
         json{{"revision", 1}, {"data", RandomB64(60)}}},
    };
    std::string deep_closed = std::string(200000, '[') + std::string(200000, ']');
    std::string deep_open(900000, '[');
    std::string deep_object;
    for (int i = 0; i < 100000; ++i) deep_object += "{\"a\":";
    deep_object += "1" + std::string(100000, '}');
    const std::vector<std::pair<std::string, std::string>> malformed = {
        {"empty", ""},
        {"open_brace", "{"},
        {"missing_value", "{\"email\":}"},
        {"open_bracket", "["},
        {"trailing_garbage", "{\"a\":1}garbage"},
        {"two_objects", "{}{}"},
        {"trailing_comma", "{\"email\":\"a@example.com\",}"},
        {"comment", "/*c*/{}"},
        {"single_quotes", "{'email':'a@example.com'}"},
        {"nan", "{\"x\":NaN}"},
        {"infinity", "{\"x\":Infinity}"},
        {"leading_zero", "{\"x\":01}"},
        {"hex_number", "{\"x\":0x10}"},
        {"bad_escape", "{\"x\":\"\\q\"}"},
        {"raw_control_char", "{\"x\":\"a\x01z\"}"},
        {"raw_newline_in_string", "{\"x\":\"a\nz\"}"},
        {"unquoted_key", "{email:\"a@example.com\"}"},
        {"number_overflow", "{\"x\":1e400}"},
        {"deep_unclosed", deep_open},
        {"deep_arrays", deep_closed},
        {"deep_objects", deep_object},
        {"nul_byte", std::string("{\"x\":1}\0", 8)},
    };
    const std::vector<std::pair<std::string, std::string>> not_objects = {
        {"array", "[]"},       {"array_of_object", "[{}]"},
        {"string", "\"str\""}, {"number", "42"},
        {"null", "null"},      {"true", "true"},
    };
    for (const Target& t : targets) {
      // A valid body, a NUL byte, then garbage: not JSON either.
      AddJson("json", t.name + "/malformed/valid_then_nul_then_garbage", t.method, t.path, t.auth,
              t.valid.dump() + std::string(1, '\0') + "zq trailing garbage", {400},
              {"request.malformed_json"});
      for (const auto& [name, body] : malformed) {
        // "empty" may be judged as not an object; the rest is not JSON.
        std::vector<std::string> codes = {"request.malformed_json"};
        if (name == "empty") codes.push_back("request.invalid_body");
        AddJson("json", t.name + "/malformed/" + name, t.method, t.path, t.auth, body, {400},
                codes);
      }
      // Duplicate keys: the parser would keep the last one; refused at any depth.
      const auto first = t.valid.begin();
      const std::string head = "{" + json(first.key()).dump() + ":" + first.value().dump() + ",";
      const std::string rest = t.valid.dump().substr(1);
      AddJson("json", t.name + "/duplicate_key/top_level", t.method, t.path, t.auth, head + rest,
              {400}, {"request.duplicate_key"});
      AddJson("json", t.name + "/duplicate_key/nested", t.method, t.path, t.auth,
              R"({"x":{"k":1,"k":2},)" + rest, {400}, {"request.duplicate_key"});
      AddJson("json", t.name + "/duplicate_key/in_array", t.method, t.path, t.auth,
              R"({"x":[{"k":1},{"k":1,"k":1}],)" + rest, {400}, {"request.duplicate_key"});
      for (const auto& [name, body] : not_objects) {
        AddJson("json", t.name + "/not_an_object/" + name, t.method, t.path, t.auth, body, {400},
                {"request.invalid_body", "request.malformed_json"});
      }
      // Wrong content types.
      for (const auto& [name, type] :
           std::vector<std::pair<std::string, std::optional<std::string>>>{
               {"none", std::nullopt},
               {"text_plain", "text/plain"},
               {"form", "application/x-www-form-urlencoded"},
               {"multipart", "multipart/form-data; boundary=x"},
               {"jsonx", "application/jsonx"},
               {"text_json", "text/json"},
               {"xml", "application/xml"}}) {
        RawRequest r;
        r.method = t.method;
        r.path = t.path;
        r.body = t.valid.dump();
        r.content_type = type;
        if (t.auth) r.authorization = Bearer();
        Add("json", t.name + "/content_type/" + name, r, {415}, {"request.unsupported_media_type"});
      }
    }
    // Invalid UTF-8 inside strings, on each endpoint.
    InvalidUtf8Cases("json", "POST", "/v1/accounts", false, targets[0].valid, "/email");
    InvalidUtf8Cases("json", "POST", "/v1/sessions", false, targets[1].valid, "/device/name");
    InvalidUtf8Cases("json", "POST", "/v1/items", true, targets[2].valid, "/id");
    InvalidUtf8Cases("json", "PUT", "/v1/items/" + env_.item_id, true, targets[3].valid, "/data");
  }

  void Register() {
    auto valid = [] { return RegistrationBody("r-" + RandomToken(10) + "@example.com"); };
    const std::string path = "/v1/accounts";
    FieldCases("register", "POST", path, false, valid,
               {"/id", "/email", "/salt", "/auth_key", "/wrapped_vault_key", "/public_key",
                "/wrapped_private_key"},
               {"/kdf/ops", "/kdf/mem"}, {"/kdf"},
               {"/id", "/email", "/kdf", "/kdf/ops", "/kdf/mem", "/salt", "/auth_key",
                "/wrapped_vault_key", "/public_key", "/wrapped_private_key"},
               {"", "/kdf"});
    Base64Cases("register", "POST", path, false, valid, "/id", 16, true, {0, 15, 17, 32});
    Base64Cases("register", "POST", path, false, valid, "/salt", 16, true, {0, 15, 17});
    Base64Cases("register", "POST", path, false, valid, "/auth_key", 32, true, {0, 16, 31, 33, 64});
    Base64Cases("register", "POST", path, false, valid, "/public_key", 32, true, {0, 31, 33});
    Base64Cases("register", "POST", path, false, valid, "/wrapped_vault_key", 73, false,
                {0, 40, 4097});
    Base64Cases("register", "POST", path, false, valid, "/wrapped_private_key", 73, false,
                {0, 40, 4097});

    // Emails.
    const std::vector<std::pair<std::string, std::string>> emails = {
        {"over_254", std::string(64, 'a') + "@" + std::string(186, 'b') + ".example.com"},
        {"hundred_kib", std::string(100 << 10, 'a') + "@example.com"},
        {"no_at", "zq-not-an-email.example.com"},
        {"two_at", "zq@two@example.com"},
        {"empty", ""},
        {"only_at", "@"},
        {"no_local_part", "@zq-example.com"},
        {"no_domain", "zq-local-part@"},
        {"space_inside", "zq local@example.com"},
        {"control_char", "zq\x01local@example.com"},
        {"newline_header_injection", "zq@example.com\r\nBcc: victim@example.com"},
        {"nul", std::string("zq\0local@example.com", 20)},
    };
    for (const auto& [name, email] : emails) {
      AddJson("register", "email/" + name, "POST", path, false,
              Set(valid(), "/email", email).dump(), {400},
              {"account.invalid_email", "request.invalid_field"}, Echo(email));
    }

    // KDF.
    AddJson("register", "kdf/ops_below_minimum", "POST", path, false,
            Set(valid(), "/kdf/ops", 1).dump(), {400}, {"kdf.too_weak"});
    AddJson("register", "kdf/mem_below_minimum", "POST", path, false,
            Set(valid(), "/kdf/mem", 8192).dump(), {400}, {"kdf.too_weak"});
    AddJson("register", "kdf/ops_zero", "POST", path, false, Set(valid(), "/kdf/ops", 0).dump(),
            {400}, {"kdf.too_weak", "request.invalid_field"});
    AddJson("register", "kdf/ops_absurd", "POST", path, false,
            Set(valid(), "/kdf/ops", 4294967296ull).dump(), {400}, {"request.invalid_field"});
    AddJson("register", "kdf/mem_absurd", "POST", path, false,
            Set(valid(), "/kdf/mem", 1ull << 50).dump(), {400}, {"request.invalid_field"});
    AddJson("register", "kdf/mem_max_u64", "POST", path, false,
            Set(valid(), "/kdf/mem", 18446744073709551615ull).dump(), {400},
            {"request.invalid_field"});

    // Related endpoints that take an email.
    FieldCases("register", "POST", "/v1/accounts/prelogin", false,
               [] {
                 return json{{"email", "p@example.com"}};
               },
               {"/email"}, {}, {}, {"/email"}, {""});
    FieldCases("register", "POST", "/v1/accounts/verify", false,
               [] {
                 return json{{"email", "nobody-live@example.com"}, {"code", "123456"}};
               },
               {"/email", "/code"}, {}, {}, {"/email", "/code"}, {""});
    FieldCases("register", "POST", "/v1/accounts/verify/resend", false,
               [] {
                 return json{{"email", "nobody-live@example.com"}};
               },
               {"/email"}, {}, {}, {"/email"}, {""});
  }

  void Login() {
    const LiveAccount& a = env_.account;
    auto valid = [&a] {
      return json{{"email", a.email},
                  {"auth_key", a.auth_key},
                  {"device", {{"id", a.device_id}, {"name", "live"}, {"type", "cli"}}}};
    };
    const std::string path = "/v1/sessions";
    FieldCases("login", "POST", path, false, valid,
               {"/email", "/auth_key", "/device/id", "/device/name", "/device/type"}, {},
               {"/device"},
               {"/email", "/auth_key", "/device", "/device/id", "/device/name", "/device/type"},
               {"", "/device"});
    for (const auto& [type, value] :
         std::vector<std::pair<std::string, json>>{{"number", 123456},
                                                   {"array", json::array()},
                                                   {"object", json::object()},
                                                   {"bool", false}}) {
      AddJson("login", "wrong_type/totp_code/" + type, "POST", path, false,
              Set(valid(), "/totp_code", value).dump(), {400}, {"request.invalid_field"});
      AddJson("login", "wrong_type/recovery_code/" + type, "POST", path, false,
              Set(valid(), "/recovery_code", value).dump(), {400}, {"request.invalid_field"});
    }
    Base64Cases("login", "POST", path, false, valid, "/auth_key", 32, true, {0, 31, 33});
    for (const auto& [name, id] :
         std::vector<std::pair<std::string, std::string>>{{"empty", ""},
                                                          {"sixty_five", std::string(65, 'd')},
                                                          {"space", "zq device"},
                                                          {"slash", "zq/device"},
                                                          {"dot", "zq.device"},
                                                          {"non_ascii", "zq-d\xc3\xa9vice"}}) {
      AddJson("login", "device_id/" + name, "POST", path, false,
              Set(valid(), "/device/id", id).dump(), {400}, {"request.invalid_field"}, Echo(id));
    }
    for (const auto& [name, label] : std::vector<std::pair<std::string, std::string>>{
             {"empty", ""},
             {"sixty_five_bytes", std::string(65, 'n')},
             {"control_char", "zq\x07name-bell"},
             {"newline", "zq-name\nsecond-line"}}) {
      AddJson("login", "device_name/" + name, "POST", path, false,
              Set(valid(), "/device/name", label).dump(), {400}, {"request.invalid_field"},
              Echo(label));
    }
    for (std::string type : {"toaster", "", "CLI", "cli "}) {
      AddJson("login", "device_type/" + (type.empty() ? std::string("empty") : type), "POST", path,
              false, Set(valid(), "/device/type", type).dump(), {400}, {"request.invalid_field"});
    }
    AddJson("login", "email/over_254", "POST", path, false,
            Set(valid(), "/email", std::string(300, 'a') + "@example.com").dump(), {400, 401},
            {"account.invalid_email", "auth.invalid_credentials"},
            {std::string(300, 'a') + "@example.com"});
  }

  void Items() {
    auto create = [] { return json{{"id", "new-" + RandomToken(10)}, {"data", RandomB64(60)}}; };
    auto update = [] { return json{{"revision", 1}, {"data", RandomB64(60)}}; };
    const std::string item_path = "/v1/items/" + env_.item_id;
    FieldCases("items", "POST", "/v1/items", true, create, {"/id", "/data"}, {}, {},
               {"/id", "/data"}, {""});
    FieldCases("items", "PUT", item_path, true, update, {"/data"}, {"/revision"}, {},
               {"/revision", "/data"}, {""});
    Base64Cases("items", "POST", "/v1/items", true, create, "/data", 60, false, {});
    Base64Cases("items", "PUT", item_path, true, update, "/data", 60, false, {});
    for (const auto& [name, id] :
         std::vector<std::pair<std::string, std::string>>{{"empty", ""},
                                                          {"sixty_five", std::string(65, 'i')},
                                                          {"space", "zq item"},
                                                          {"slash", "zq/item"},
                                                          {"dot_dot", ".."},
                                                          {"percent", "zq%20item"},
                                                          {"non_ascii", "zq-\xc3\xbc-item"}}) {
      AddJson("items", "create_id/" + name, "POST", "/v1/items", true,
              Set(create(), "/id", id).dump(), {400}, {"request.invalid_field"}, Echo(id));
    }
    AddJson("items", "create_data_empty", "POST", "/v1/items", true,
            Set(create(), "/data", "").dump(), {400}, {"request.invalid_field"});
    AddJson("items", "create_data_over_64_kib", "POST", "/v1/items", true,
            Set(create(), "/data", RandomB64((64 << 10) + 1)).dump(), {400, 413},
            {"item.too_large", "request.invalid_field"});
    AddJson("items", "update_data_over_64_kib", "PUT", item_path, true,
            Set(update(), "/data", RandomB64((64 << 10) + 1)).dump(), {400, 413},
            {"item.too_large", "request.invalid_field"});
    AddJson("items", "create_existing_id", "POST", "/v1/items", true,
            Set(create(), "/id", env_.item_id).dump(), {409}, {"item.exists"});
    AddJson("items", "update_revision_zero", "PUT", item_path, true,
            Set(update(), "/revision", 0).dump(), {400, 409},
            {"request.invalid_field", "item.stale_revision"});
    AddJson("items", "update_stale_revision", "PUT", item_path, true,
            Set(update(), "/revision", 7).dump(), {409}, {"item.stale_revision"});
    AddJson("items", "update_unknown_item", "PUT", "/v1/items/zq-no-such-item", true,
            update().dump(), {404}, {"item.not_found"});
    for (std::string method : {"GET", "DELETE"}) {
      for (const auto& [name, path] : std::vector<std::pair<std::string, std::string>>{
               {"unknown", "/v1/items/zq-no-such-item"},
               {"sixty_five", "/v1/items/" + std::string(65, 'i')},
               {"percent_encoded", "/v1/items/zq%2Fitem"},
               {"dot_dot", "/v1/items/.."}}) {
        RawRequest r;
        r.method = method;
        r.path = path;
        r.content_type.reset();
        r.authorization = Bearer();
        Add("items", method + "_item/" + name, r, {404}, {"item.not_found", "route.not_found"});
      }
    }
    RawRequest r;
    r.method = "DELETE";
    r.path = "/v1/devices/zq-no-such-device";
    r.content_type.reset();
    r.authorization = Bearer();
    Add("items", "delete_unknown_device", r, {404}, {"device.not_found"});
  }

  void Routing() {
    auto plain = [](const std::string& method, const std::string& path) {
      RawRequest r;
      r.method = method;
      r.path = path;
      r.content_type.reset();
      return r;
    };
    // Unknown routes.
    for (std::string path :
         {"/v1/nope", "/nope", "/v1", "/v2/items", "/V1/items", "/v1/items/a/b",
          "/v1/accounts/zq/extra", "/healthz/x", "/v1/items/x/y/z", "/%00", "/v1/account/2fa"}) {
      RawRequest r = plain("GET", path);
      r.authorization = Bearer();
      Add("routing", "unknown_route" + path, r, {404}, {"route.not_found"});
    }
    // Known routes, wrong methods: 405 with Allow.
    for (const auto& [method, path] :
         std::vector<std::pair<std::string, std::string>>{{"DELETE", "/healthz"},
                                                          {"POST", "/healthz"},
                                                          {"PATCH", "/v1/items"},
                                                          {"DELETE", "/v1/items"},
                                                          {"POST", "/v1/items/zq-item"},
                                                          {"PATCH", "/v1/items/zq-item"},
                                                          {"GET", "/v1/accounts"},
                                                          {"PUT", "/v1/accounts"},
                                                          {"GET", "/v1/sessions"},
                                                          {"GET", "/v1/sessions/current"},
                                                          {"POST", "/v1/server"},
                                                          {"PUT", "/v1/devices/zq-device"},
                                                          {"BREW", "/v1/items"}}) {
      RawRequest r = plain(method, path);
      r.authorization = Bearer();
      Add("routing", "wrong_method/" + method + path, r, {405}, {"route.method_not_allowed"});
    }
    // Bearer tokens: absent, malformed, wrong.
    std::string token = env_.account.token;
    std::string flipped = token;
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    const std::vector<std::pair<std::string, std::optional<std::string>>> auths = {
        {"absent", std::nullopt},
        {"empty", ""},
        {"bearer_only", "Bearer"},
        {"bearer_space", "Bearer "},
        {"garbage_token", "Bearer zq-garbage-token-value"},
        {"flipped_last_char", "Bearer " + flipped},
        {"token_plus_junk", "Bearer " + token + "x"},
        {"token_twice", "Bearer " + token + " " + token},
        {"basic", "Basic dXNlcjpwYXNzd29yZA=="},
        {"no_scheme", token},
        {"ten_kib_token", "Bearer " + std::string(10 << 10, 't')},
        {"non_ascii", "Bearer zq-\xc3\xa9-token"},
    };
    const std::vector<std::pair<std::string, std::string>> protected_routes = {
        {"GET", "/v1/items"},
        {"GET", "/v1/account"},
        {"GET", "/v1/devices"},
        {"GET", "/v1/items/" + env_.item_id}};
    for (const auto& [name, header] : auths) {
      for (const auto& [method, path] : protected_routes) {
        RawRequest r = plain(method, path);
        r.authorization = header;
        std::vector<std::string> forbidden = {"zq-garbage-token-value", flipped};
        Add("routing", "auth/" + name + "/" + method + path, r, {401}, {"auth.required"},
            forbidden);
      }
    }
    // Logging out needs a session too (only with headers that cannot hold
    // the fixture's token, so a lenient parser cannot end its session).
    for (std::string name : {"absent", "garbage_token", "basic", "ten_kib_token"}) {
      auto header =
          std::find_if(auths.begin(), auths.end(), [&](const auto& a) { return a.first == name; });
      RawRequest r = plain("DELETE", "/v1/sessions/current");
      r.authorization = header->second;
      Add("routing", "auth/" + name + "/DELETE/v1/sessions/current", r, {401}, {"auth.required"});
    }
    // Authentication comes with a valid body too.
    for (const auto& [name, header] : auths) {
      RawRequest r;
      r.path = "/v1/items";
      r.body = json{{"id", "zq-unauth"}, {"data", RandomB64(60)}}.dump();
      r.authorization = header;
      Add("routing", "auth/" + name + "/POST/v1/items", r, {401}, {"auth.required"});
    }
    {
      RawRequest r = plain("GET", "/v1/items?token=" + token);
      Add("routing", "auth/token_in_query", r, {401}, {"auth.required"});
      RawRequest two = plain("GET", "/v1/items");
      two.authorization = "Bearer zq-garbage-token-value";
      two.extra.push_back({"Authorization", "Bearer " + token});
      Add("routing", "auth/two_authorization_headers", two, {400, 401},
          {"auth.required", "request.malformed"});
    }
  }

  const Env& env_;
  std::vector<Case> cases_;
};

// ---------------------------------------------------------------------------
// The fixture: one server, one account, one item.

class LiveServer {
 public:
  LiveServer() : server_(KEYWARDD_PATH, ServerArgs()) {
    env_.port = server_.port();
    env_.account = CreateAccount(server_, "bad-" + RandomToken(10) + "@example.com");
    env_.item_id = "existing-" + RandomToken(8);
    HttpResult r = server_.Request("POST", "/v1/items",
                                   json{{"id", env_.item_id}, {"data", RandomB64(80)}}.dump(),
                                   {{"Authorization", "Bearer " + env_.account.token}});
    if (r.status != 201) throw std::runtime_error("POST /v1/items: " + Describe(r));
  }

  testing::ServerProcess& server() { return server_; }
  const Env& env() const { return env_; }

  // The server is still running, healthy, and serves authenticated reads and
  // writes; its log holds no secret.
  void ExpectAlive() {
    EXPECT_EQ(server_.Wait(milliseconds(0)), -1) << "keywardd exited; log:\n"
                                                 << server_.StderrText();
    HttpResult health = server_.Request("GET", "/healthz");
    EXPECT_EQ(health.status, 200) << Describe(health);
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Bearer " + env_.account.token}};
    HttpResult items = server_.Request("GET", "/v1/items", "", auth);
    EXPECT_EQ(items.status, 200) << Describe(items);
    json body = json::parse(items.body, nullptr, false);
    bool found = false;
    if (body.is_object() && body.contains("items") && body["items"].is_array()) {
      for (const json& item : body["items"]) {
        if (item.value("id", "") == env_.item_id) found = true;
      }
    }
    EXPECT_TRUE(found) << "the fixture's item is gone: " << Describe(items);
    std::string id = "after-" + RandomToken(8);
    HttpResult created = server_.Request("POST", "/v1/items",
                                         json{{"id", id}, {"data", RandomB64(50)}}.dump(), auth);
    EXPECT_EQ(created.status, 201) << Describe(created);
    std::string log = server_.StderrText();
    EXPECT_EQ(log.find(env_.account.auth_key), std::string::npos) << "the log holds an auth key";
    EXPECT_EQ(log.find(env_.account.token), std::string::npos) << "the log holds a token";
  }

 private:
  testing::ServerProcess server_;
  Env env_;
};

void RunCase(const Case& c, uint16_t port) {
  SCOPED_TRACE(c.name);
  RawResponse got = RawExchange(port, c.request, std::chrono::seconds(20));
  ASSERT_TRUE(got.connected) << c.name << ": could not connect";
  if (!got.answered) {
    EXPECT_TRUE(c.may_close && got.closed) << c.name << ": no HTTP answer ("
                                           << (got.timed_out ? "timed out"
                                               : got.closed  ? "closed"
                                                             : "?")
                                           << "), received " << got.raw.size() << " bytes";
    return;
  }
  const HttpResult& r = got.http;
  EXPECT_LT(r.status, 500) << c.name << ": " << Describe(r);
  EXPECT_THAT(c.statuses, ::testing::Contains(r.status)) << c.name << ": " << Describe(r);
  EXPECT_TRUE(IsErrorBody(r, c.forbidden)) << c.name;
  if (!c.codes.empty()) {
    EXPECT_THAT(c.codes, ::testing::Contains(ErrorCode(r))) << c.name << ": " << Describe(r);
  }
  if (r.status == 405) {
    auto allow = r.headers.find("allow");
    EXPECT_TRUE(allow != r.headers.end() && !allow->second.empty())
        << c.name << ": 405 without Allow";
  }
  if (c.huge) {
    EXPECT_LT(got.elapsed, std::chrono::seconds(10))
        << c.name << ": the refusal took " << got.elapsed.count() << " ms";
  }
}

class BadInputTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadInputTest, EveryAnswerIsTheRight4xxAndTheServerSurvives) {
  std::unique_ptr<LiveServer> live;
  try {
    live = std::make_unique<LiveServer>();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  std::vector<Case> cases = Table(live->env()).Build();
  const std::string group = GetParam();
  std::erase_if(cases, [&](const Case& c) { return group != "all" && c.group != group; });
  ASSERT_FALSE(cases.empty());

  // The huge bodies first, with the server's peak memory watched: refusing
  // 10 MiB must not mean holding 10 MiB.
  long peak_before = PeakRssKib(live->server().pid());
  size_t huge = 0;
  for (const Case& c : cases) {
    if (!c.huge) continue;
    RunCase(c, live->env().port);
    ++huge;
  }
  if (huge > 0 && peak_before > 0 && !kUnderAddressSanitizer) {
    long peak_after = PeakRssKib(live->server().pid());
    EXPECT_LT(peak_after - peak_before, 8 * 1024)
        << "keywardd's peak RSS grew from " << peak_before << " KiB to " << peak_after
        << " KiB while refusing " << huge << " bodies of 10 MiB";
  }
  for (const Case& c : cases) {
    if (!c.huge) RunCase(c, live->env().port);
  }
  live->ExpectAlive();
  RecordProperty("cases", static_cast<int>(cases.size()));
}

INSTANTIATE_TEST_SUITE_P(live, BadInputTest,
                         ::testing::Values("transport", "json", "register", "login", "items",
                                           "routing", "all"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------
// Slow clients: the read timeout (2 s here) bounds a request's headers and
// body however the bytes trickle in; the connection is dropped (or answered
// with a 4xx error) and the server goes on serving.

struct SlowClient {
  std::string name;
  std::string first;  // sent at once
  bool trickle;       // then one byte every 200 ms (else nothing)
};

// For readable test names in ctest.
[[maybe_unused]] void PrintTo(const SlowClient& slow, std::ostream* os) { *os << slow.name; }

class SlowClientTest : public ::testing::TestWithParam<SlowClient> {};

TEST_P(SlowClientTest, IsCutOffAtTheReadTimeout) {
  std::unique_ptr<LiveServer> live;
  try {
    live = std::make_unique<LiveServer>();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  const SlowClient& slow = GetParam();
  int fd = ConnectLocal(live->env().port);
  ASSERT_GE(fd, 0);
  auto start = Clock::now();
  if (!slow.first.empty()) {
    ASSERT_EQ(::send(fd, slow.first.data(), slow.first.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(slow.first.size()));
  }
  std::string received;
  bool closed = false;
  const auto give_up = start + std::chrono::seconds(12);
  auto next_byte = start + milliseconds(200);
  while (Clock::now() < give_up) {
    pollfd p{fd, POLLIN, 0};
    int wait = static_cast<int>(
        std::chrono::duration_cast<milliseconds>(next_byte - Clock::now()).count());
    if (::poll(&p, 1, std::max(wait, 0)) > 0) {
      char buffer[4096];
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      received.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (Clock::now() >= next_byte) {
      next_byte += milliseconds(200);
      if (slow.trickle && ::send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
        closed = true;
        break;
      }
    }
  }
  auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ::close(fd);
  EXPECT_TRUE(closed) << slow.name << ": still open after " << elapsed.count() << " ms";
  EXPECT_LT(elapsed, kReadTimeout + std::chrono::seconds(3))
      << slow.name << ": cut off only after " << elapsed.count() << " ms";
  EXPECT_GE(elapsed, kReadTimeout - milliseconds(500))
      << slow.name << ": cut off before the read timeout, after " << elapsed.count() << " ms";
  if (!received.empty()) {
    std::optional<HttpResult> r = ParseResponse(received);
    ASSERT_TRUE(r.has_value()) << slow.name << ": not HTTP: " << received.substr(0, 200);
    EXPECT_THAT(r->status, ::testing::AnyOf(400, 408)) << Describe(*r);
    EXPECT_TRUE(IsErrorBody(*r));
  }
  live->ExpectAlive();
}

INSTANTIATE_TEST_SUITE_P(
    live, SlowClientTest,
    ::testing::Values(
        SlowClient{"silent_after_connect", "", false},
        SlowClient{"request_line_stalled", "POST /v1/acc", false},
        SlowClient{"headers_stalled", "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nX-Slow: ", false},
        SlowClient{"headers_trickled", "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nX-Slow: ", true},
        SlowClient{"body_stalled",
                   "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 1000\r\n\r\n{\"email\":",
                   false},
        SlowClient{"body_trickled",
                   "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 100000\r\n\r\n{\"email\":\"",
                   true},
        SlowClient{"chunked_body_stalled",
                   "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n10\r\n{\"email\":",
                   false}),
    [](const auto& info) { return info.param.name; });

// Many stalled connections at once must not starve a well-behaved client.
class StalledConnectionsTest : public ::testing::TestWithParam<int> {};

TEST_P(StalledConnectionsTest, OthersAreStillServed) {
  std::unique_ptr<LiveServer> live;
  try {
    live = std::make_unique<LiveServer>();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  std::vector<int> fds;
  for (int i = 0; i < GetParam(); ++i) {
    int fd = ConnectLocal(live->env().port);
    ASSERT_GE(fd, 0) << "connection " << i;
    std::string partial = "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  auto start = Clock::now();
  HttpResult health = testing::HttpRequest(live->server().url(), "GET", "/healthz", "", {},
                                           std::chrono::seconds(5));
  auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  EXPECT_EQ(health.status, 200) << Describe(health);
  EXPECT_LT(elapsed, milliseconds(1500))
      << "a healthy request waited " << elapsed.count() << " ms behind stalled ones";
  HttpResult items = testing::HttpRequest(
      live->server().url(), "GET", "/v1/items", "",
      {{"Authorization", "Bearer " + live->env().account.token}}, std::chrono::seconds(5));
  EXPECT_EQ(items.status, 200) << Describe(items);
  for (int fd : fds) ::close(fd);
  live->ExpectAlive();
}

INSTANTIATE_TEST_SUITE_P(live, StalledConnectionsTest, ::testing::Values(64),
                         [](const auto& info) { return std::to_string(info.param) + "_stalled"; });

}  // namespace
}  // namespace keyward::live
