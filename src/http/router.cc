#include "http/router.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <set>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "http/request_log.h"

namespace keyward::http {
namespace {

// Deeper JSON is refused before parsing: no legitimate body nests this much,
// and it keeps recursion in the JSON library bounded.
constexpr int kMaxJsonDepth = 64;

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes; '+' becomes a space only in query strings. Invalid
// escapes are kept literally.
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  if (path.empty() || path == "/") return segments;
  if (path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.emplace_back(path.substr(start));
      break;
    }
    segments.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool Match(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
           PathParams* params) {
  if (pattern.size() != path.size()) return false;
  PathParams found;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (IsParam(pattern[i])) {
      if (path[i].empty()) return false;
      found[pattern[i].substr(1, pattern[i].size() - 2)] = PercentDecode(path[i], false);
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  if (params) *params = std::move(found);
  return true;
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

int MaxNesting(std::string_view s) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

Response InternalError() {
  return ErrorResponse(Error::Internal("internal", "internal server error"));
}

}  // namespace

std::string Request::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string Request::QueryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    if (key != name) continue;
    return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
  }
  return {};
}

std::string Request::BearerToken() const {
  std::string value = Header("authorization");
  std::string_view v = Trim(value);
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() || ToLower(v.substr(0, kScheme.size())) != kScheme ||
      (v[kScheme.size()] != ' ' && v[kScheme.size()] != '\t')) {
    return {};
  }
  return std::string(Trim(v.substr(kScheme.size())));
}

int HttpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return 400;
    case ErrorKind::kUnauthenticated:
      return 401;
    case ErrorKind::kPermissionDenied:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kMethodNotAllowed:
      return 405;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kGone:
      return 410;
    case ErrorKind::kTooLarge:
      return 413;
    case ErrorKind::kUnsupportedMedia:
      return 415;
    case ErrorKind::kRateLimited:
      return 429;
    case ErrorKind::kInternal:
      return 500;
    case ErrorKind::kUnavailable:
      return 503;
  }
  return 500;
}

Response ErrorResponse(const Error& error) {
  return JsonResponse(HttpStatus(error.kind()),
                      {{"error", {{"code", error.code()}, {"message", error.message()}}}});
}

Response JsonResponse(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  // Replace invalid UTF-8 rather than throw: a response must always be produced.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

Response NoContent() {
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

Result<nlohmann::json> ParseJsonBody(const Request& request) {
  std::string content_type = request.Header("content-type");
  std::string media =
      ToLower(Trim(std::string_view(content_type)
                       .substr(0, std::min(content_type.size(), content_type.find(';')))));
  if (media != "application/json") {
    return Fail(Error(ErrorKind::kUnsupportedMedia, "request.unsupported_media_type",
                      "the request body must be application/json"));
  }
  if (!IsValidUtf8(request.body)) {
    return Fail(Error::InvalidArgument("request.malformed_json", "the body is not valid UTF-8"));
  }
  // JSON never holds a raw NUL, and the parser would stop at one and ignore
  // whatever follows it.
  if (request.body.find('\0') != std::string::npos) {
    return Fail(Error::InvalidArgument("request.malformed_json", "the body contains a NUL byte"));
  }
  if (MaxNesting(request.body) > kMaxJsonDepth) {
    return Fail(Error::InvalidArgument("request.malformed_json", "the body nests too deeply"));
  }
  // nlohmann::json keeps the last of duplicate keys; two readers of one body
  // could then disagree on what it says, so a repeated key is refused, in
  // every object at any depth (keys compared once unescaped).
  std::vector<std::set<std::string>> keys;  // one per open object
  bool duplicate = false;
  nlohmann::json::parser_callback_t check = [&keys, &duplicate](int /*depth*/,
                                                                nlohmann::json::parse_event_t event,
                                                                nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      keys.emplace_back();
    } else if (event == Event::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == Event::key && !keys.empty() && parsed.is_string()) {
      if (!keys.back().insert(parsed.get<std::string>()).second) duplicate = true;
    }
    return true;
  };
  nlohmann::json body = nlohmann::json::parse(request.body, check, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Fail(Error::InvalidArgument("request.malformed_json", "the body is not valid JSON"));
  }
  if (duplicate) {
    return Fail(Error::InvalidArgument("request.duplicate_key",
                                       "a key appears twice in one object of the body"));
  }
  if (!body.is_object()) {
    return Fail(Error::InvalidArgument("request.invalid_body", "the body must be a JSON object"));
  }
  return body;
}

namespace {
thread_local std::string request_actor;
}  // namespace

void NoteRequestActor(std::string_view account_id) { request_actor = account_id; }

std::string TakeRequestActor() { return std::exchange(request_actor, std::string()); }

void Router::Add(std::string method, std::string pattern, Handler handler) {
  Route route;
  route.segments = SplitPath(pattern);
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

Response Router::Handle(const Request& request) const { return Handle(request, nullptr); }

Response Router::Handle(const Request& request, std::string* matched_pattern) const {
  const std::vector<std::string> path = SplitPath(request.path);
  std::set<std::string> allowed;
  const Route* chosen = nullptr;
  const Route* head_fallback = nullptr;
  PathParams params;
  for (const Route& route : routes_) {
    PathParams candidate;
    if (!Match(route.segments, path, &candidate)) continue;
    allowed.insert(route.method);
    if (route.method == "GET") allowed.insert("HEAD");
    if (!chosen && route.method == request.method) {
      chosen = &route;
      params = std::move(candidate);
    } else if (!chosen && !head_fallback && request.method == "HEAD" && route.method == "GET") {
      head_fallback = &route;
      params = std::move(candidate);
    }
  }
  if (!chosen) chosen = head_fallback;
  if (allowed.empty()) {
    if (matched_pattern) matched_pattern->clear();
    return ErrorResponse(Error::NotFound("route.not_found", "no such endpoint"));
  }
  if (matched_pattern) {
    for (const Route& route : routes_) {
      if (Match(route.segments, path, nullptr)) {
        *matched_pattern = route.pattern;
        break;
      }
    }
  }
  allowed.insert("OPTIONS");
  std::string allow;
  for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;

  if (!chosen) {
    if (request.method == "OPTIONS") {
      Response response = NoContent();
      response.headers.emplace_back("Allow", allow);
      return response;
    }
    Response response =
        ErrorResponse(Error(ErrorKind::kMethodNotAllowed, "route.method_not_allowed",
                            "this endpoint does not support the method"));
    response.headers.emplace_back("Allow", allow);
    return response;
  }
  if (matched_pattern) *matched_pattern = chosen->pattern;
  try {
    return chosen->handler(request, params);
  } catch (const std::exception& e) {
    // The exception text may quote request data: log only its type.
    spdlog::error("handler for {} {} threw {}", chosen->method, chosen->pattern, typeid(e).name());
  } catch (...) {
    spdlog::error("handler for {} {} threw a non-exception", chosen->method, chosen->pattern);
  }
  return InternalError();
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const Route& route : routes_) out.emplace_back(route.method, route.pattern);
  return out;
}

}  // namespace keyward::http
