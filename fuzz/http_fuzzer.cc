// Whole HTTP requests through keywardd's router as App builds it
// (src/server/app.cc: the /v1 API over an in-memory SQLite store, plus
// /healthz), in memory: no socket, no Beast parser (its own fuzzing is
// Beast's). Mail goes to a MemoryMailer.
//
// An input is up to four requests, run in order against one server. Each
// names its route as "METHOD /pattern" (a registered one, e.g.
// "POST /v1/device-requests/open"; anything else picks a route by number),
// then a value for each {param}, the query, which credentials to send, the
// content type, one more header and the body. One account exists from the
// start, with a session that a request may use: authenticated routes are
// reached, not only their 401. Its auth_key is base64url of 32 bytes 'a'
// (so a seed may delete or re-key it; the harness then signs up again).
//
// Properties: no 500 (a handler that throws, or an internal error, is a
// bug: router.h), and every JSON answer is valid JSON.
#include <stdlib.h>
#include <cstdio>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.h"
#include "http/api/api.h"
#include "server/app.h"
#include "tests/support/memory_mailer.h"

namespace keyward::fuzz {
namespace {

using nlohmann::json;

const std::string kAuthKey = crypto::Base64UrlEncode(crypto::Bytes(32, 'a'));

class Harness {
 public:
  Harness() {
    spdlog::set_level(spdlog::level::off);
    char dir[] = "/tmp/keyward-http-fuzz-XXXXXX";
    Require(mkdtemp(dir) != nullptr, "mkdtemp");
    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.data_dir = dir;
    config.db = "sqlite::memory:";
    config.public_url = "https://vault.example.com";
    config.min_kdf_ops = crypto::kTestKdf.ops;
    config.min_kdf_mem = crypto::kTestKdf.mem;
    config.workers = 1;
    auto factory = [this](const api::ApiConfig& api_config, std::unique_ptr<store::Store> store,
                          mail::Mailer&, const Clock& clock, const crypto::ServerSecret& secret) {
      return api::MakeApi(api_config, std::move(store), mailer_, clock, secret);
    };
    auto app = server::App::Create(config, factory);
    if (!app) {
      fprintf(stderr, "http fuzzer: %s\n", app.error().message().c_str());
      abort();
    }
    app_ = std::move(*app);
    for (const auto& [method, pattern] : app_->router().Routes()) {
      routes_.push_back({method, pattern});
    }
    SignIn();
  }

  const std::vector<std::pair<std::string, std::string>>& routes() const { return routes_; }
  const std::string& token() const { return token_; }

  http::Response Handle(const http::Request& request) const {
    return app_->router().Handle(request);
  }

  // After each input: the account and its session again, if the input
  // ended them.
  void KeepSignedIn() {
    http::Request r = Make("GET", "/v1/account", "");
    r.headers["authorization"] = "Bearer " + token_;
    if (Handle(r).status != 200) SignIn();
  }

 private:
  http::Request Make(std::string method, std::string path, std::string body) const {
    http::Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.remote_address = address_;
    r.headers["content-type"] = "application/json";
    r.body = std::move(body);
    return r;
  }

  std::string Login() {
    json login = {{"email", email_},
                  {"auth_key", kAuthKey},
                  {"device", {{"id", "fuzz-laptop"}, {"name", "laptop"}, {"type", "cli"}}}};
    auto r = Handle(Make("POST", "/v1/sessions", login.dump()));
    if (r.status != 201) return "";
    return json::parse(r.body).value("token", "");
  }

  // Each sign-in comes from an address of its own: a login of an account an
  // input deleted counts as a failure of the address, and enough of them in
  // one run would lock the harness out of its own next account (found by a
  // 5-minute run: "the harness logs in" after ~37,000 inputs).
  void SignIn() {
    ++sign_ins_;
    char address[48];
    std::snprintf(address, sizeof address, "2001:db8:f::%x:%x", (sign_ins_ >> 16) & 0xffff,
                  sign_ins_ & 0xffff);
    address_ = address;
    token_ = Login();
    if (!token_.empty()) return;
    email_ = "fuzz" + std::to_string(++accounts_) + "@example.com";
    json reg = {{"id", crypto::Base64UrlEncode(crypto::RandomBytes(16))},
                {"email", email_},
                {"kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
                {"salt", crypto::Base64UrlEncode(crypto::Bytes(16, 's'))},
                {"auth_key", kAuthKey},
                {"wrapped_vault_key", crypto::Base64UrlEncode(crypto::Bytes(73, 'w'))},
                {"public_key", crypto::Base64UrlEncode(crypto::Bytes(32, 'p'))},
                {"wrapped_private_key", crypto::Base64UrlEncode(crypto::Bytes(73, 'k'))}};
    auto r = Handle(Make("POST", "/v1/accounts", reg.dump()));
    Require(r.status == 202, "the harness registers");
    auto code = mailer_.WaitForCodeFor(email_);
    Require(code.has_value(), "the harness gets its code");
    json verify = {{"email", email_}, {"code", *code}};
    Require(Handle(Make("POST", "/v1/accounts/verify", verify.dump())).status == 200,
            "the harness verifies");
    token_ = Login();
    Require(!token_.empty(), "the harness logs in");
  }

  testing::MemoryMailer mailer_;
  std::unique_ptr<server::App> app_;
  std::vector<std::pair<std::string, std::string>> routes_;
  std::string email_ = "fuzz0@example.com";
  std::string token_;
  int accounts_ = 0;
  int sign_ins_ = 0;
  std::string address_;
};

// "/v1/orgs/{org}/members/{member}" with each {name} replaced by a value.
std::string FillPattern(const std::string& pattern, FuzzedDataProvider& in) {
  std::string path;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '{') {
      size_t end = pattern.find('}', i);
      path += in.ConsumeRandomLengthString(80);
      i = end + 1;
    } else {
      path += pattern[i++];
    }
  }
  return path;
}

http::Request ReadRequest(Harness& h, FuzzedDataProvider& in, bool last) {
  static const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
  static const char* const kContentTypes[] = {"application/json", "application/json; charset=utf-8",
                                              "text/plain", ""};
  const auto& routes = h.routes();
  std::string key = in.ConsumeRandomLengthString(100);
  size_t index = routes.size();
  for (size_t i = 0; i < routes.size(); ++i) {
    if (key == routes[i].first + " " + routes[i].second) index = i;
  }
  if (index == routes.size()) index = in.ConsumeIntegralInRange<size_t>(0, routes.size() - 1);
  http::Request r;
  r.method = routes[index].first;
  if (in.ConsumeIntegralInRange<uint8_t>(0, 15) == 0) {
    r.method = kMethods[in.ConsumeIntegralInRange<size_t>(0, 5)];
  }
  r.path = FillPattern(routes[index].second, in);
  r.query = in.ConsumeRandomLengthString(200);
  r.remote_address = in.ConsumeBool() ? "192.0.2.1" : "2001:db8::1";
  switch (in.ConsumeIntegralInRange<uint8_t>(0, 2)) {
    case 1:
      r.headers["authorization"] = "Bearer " + h.token();
      break;
    case 2:
      r.headers["authorization"] = in.ConsumeRandomLengthString(100);
      break;
    default:
      break;
  }
  const char* content_type = kContentTypes[in.ConsumeIntegralInRange<size_t>(0, 3)];
  if (*content_type) r.headers["content-type"] = content_type;
  std::string name = in.ConsumeRandomLengthString(30);
  std::string value = in.ConsumeRandomLengthString(100);
  if (!name.empty()) r.headers[name] = value;
  r.body = last ? in.ConsumeRemainingBytesAsString() : in.ConsumeRandomLengthString(8192);
  return r;
}

}  // namespace
}  // namespace keyward::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyward::fuzz;
  static Harness* harness = new Harness();
  // KEYWARD_FUZZ_TRACE=1: each request's route and answer on stderr, to see
  // what a seed or a crash input does.
  static const bool trace = getenv("KEYWARD_FUZZ_TRACE") != nullptr;
  FuzzedDataProvider in(data, size);
  const int count = in.ConsumeIntegralInRange<int>(1, 4);
  for (int i = 0; i < count && (i == 0 || in.remaining_bytes() > 0); ++i) {
    keyward::http::Request request = ReadRequest(*harness, in, i + 1 == count);
    keyward::http::Response response = harness->Handle(request);
    if (trace) {
      fprintf(stderr, "%s %s -> %d %.200s\n", request.method.c_str(), request.path.c_str(),
              response.status, response.body.c_str());
    }
    if (response.status == 500) {
      fprintf(stderr, "500 for %s %s: %s\n", request.method.c_str(), request.path.c_str(),
              response.body.c_str());
      abort();
    }
    if (response.content_type == "application/json" && !response.body.empty()) {
      Require(nlohmann::json::accept(response.body), "a JSON answer is JSON");
    }
  }
  harness->KeepSignedIn();
  return 0;
}
