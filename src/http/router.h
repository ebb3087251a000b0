// Plain request -> response handling, testable without sockets. The Beast
// server (server.h) turns wire requests into Request, calls Router::Handle,
// and writes the Response back. Handlers decode, call core, encode.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace keyward::http {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // without the query string
  std::string query;                           // raw, without '?'
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote_address;  // peer IP, for rate limits and device records

  // Header value or "" (name must be lower case).
  std::string Header(std::string_view name) const;
  // Query parameter value (percent-decoded) or "".
  std::string QueryParam(std::string_view name) const;
  // "Authorization: Bearer <token>" -> token, or "".
  std::string BearerToken() const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using PathParams = std::map<std::string, std::string>;
using Handler = std::function<Response(const Request&, const PathParams&)>;

// HTTP status for an error kind: the one table.
int HttpStatus(ErrorKind kind);
// {"error":{"code":"...","message":"..."}} with the mapped status.
Response ErrorResponse(const Error& error);
Response JsonResponse(int status, const nlohmann::json& body);
Response NoContent();
// Parses the body as a JSON object; errors: request.malformed_json (400:
// invalid UTF-8 or JSON), request.invalid_body (400: not an object),
// request.unsupported_media_type (415) when Content-Type is not JSON.
[[nodiscard]] Result<nlohmann::json> ParseJsonBody(const Request& request);

class Router {
 public:
  // pattern: "/v1/items/{id}" — a {name} segment matches one non-empty segment.
  void Add(std::string method, std::string pattern, Handler handler);
  // Unknown path -> 404 route.not_found; known path, other method -> 405
  // route.method_not_allowed with an Allow header. A handler that throws is
  // a bug: it is logged (without the body) and answered 500 internal.
  Response Handle(const Request& request) const;
  // Same; also reports the matched route pattern ("" when none), for the
  // access log, which must not show concrete paths.
  Response Handle(const Request& request, std::string* matched_pattern) const;
  // Every (method, pattern) registered, for the docs/api.md sync test.
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace keyward::http
