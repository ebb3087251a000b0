// JSON over HTTP(S) with libcurl. Turns the server's error shape
// {"error":{"code","message"}} into an Error carrying that code and message;
// an unreachable server, a non-JSON answer or a bare 5xx becomes a clear
// "server.*" error instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "client/secret_json.h"
#include "common/error.h"

namespace keyward::client {

struct HttpResponse {
  long status = 0;
  Json body;          // null for 204, or when the text was asked for instead
  SecretString text;  // the body as sent, when asked for (BodyAs::kText)
};

// How a 2xx answer's body is handed back: parsed, or as its text for a
// caller with a faster reader of its own (a vault listing). An error
// answer is always parsed for its error shape.
enum class BodyAs { kJson, kText };

class HttpTransport {
 public:
  HttpTransport(std::string base_url, long connect_timeout_ms, long timeout_ms);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  const std::string& base_url() const { return base_url_; }

  // `path` starts with '/'. A 2xx answer is returned; anything else is an
  // Error. The body, when given, is sent as application/json.
  [[nodiscard]] Result<HttpResponse> Call(std::string_view method, std::string_view path,
                                          const std::optional<Json>& body, std::string_view token,
                                          BodyAs as = BodyAs::kJson);

 private:
  std::string base_url_;
  long connect_timeout_ms_;
  long timeout_ms_;
  void* curl_ = nullptr;  // CURL*
};

ErrorKind ErrorKindForStatus(long status);

}  // namespace keyward::client
