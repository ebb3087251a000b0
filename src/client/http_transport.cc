#include "client/http_transport.h"

#include <curl/curl.h>

#include <mutex>

#include <fmt/format.h>

namespace keyward::client {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t Append(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<SecretString*>(user);
  constexpr size_t kMaxBody = 8u << 20;
  if (out->size() + size * nmemb > kMaxBody) return 0;  // aborts the transfer
  out->append(data, size * nmemb);
  return size * nmemb;
}

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

ErrorKind ErrorKindForStatus(long status) {
  switch (status) {
    case 400:
      return ErrorKind::kInvalidArgument;
    case 401:
      return ErrorKind::kUnauthenticated;
    case 403:
      return ErrorKind::kPermissionDenied;
    case 404:
      return ErrorKind::kNotFound;
    case 405:
      return ErrorKind::kMethodNotAllowed;
    case 409:
      return ErrorKind::kConflict;
    case 410:
      return ErrorKind::kGone;
    case 413:
      return ErrorKind::kTooLarge;
    case 415:
      return ErrorKind::kUnsupportedMedia;
    case 429:
      return ErrorKind::kRateLimited;
    case 503:
      return ErrorKind::kUnavailable;
    default:
      return status >= 500 ? ErrorKind::kInternal : ErrorKind::kInvalidArgument;
  }
}

HttpTransport::HttpTransport(std::string base_url, long connect_timeout_ms, long timeout_ms)
    : base_url_(TrimSlash(std::move(base_url))),
      connect_timeout_ms_(connect_timeout_ms),
      timeout_ms_(timeout_ms) {
  GlobalInit();
}

HttpTransport::~HttpTransport() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

namespace {

// A failed transfer: no answer in time, or none at all.
Error TransferError(CURLcode rc, const std::string& base_url) {
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Error::Unavailable("server.timeout",
                              fmt::format("the server at {} did not answer in time", base_url));
  }
  return Error::Unavailable("server.unreachable", fmt::format("cannot reach the server at {}: {}",
                                                              base_url, curl_easy_strerror(rc)));
}

// A non-2xx answer: the server's {"error": {"code", "message"}}, else a
// server.bad_response naming the status.
Error ServerError(long status, const Json& parsed, bool json_ok, const std::string& base_url) {
  if (json_ok && parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    const Json& e = parsed["error"];
    auto code = JsonString(e, "code");
    auto message = JsonString(e, "message");
    if (code) {
      return Error(ErrorKindForStatus(status), *code,
                   message && !message->empty() ? *message : *code);
    }
  }
  return Error(
      status >= 500 ? ErrorKind::kUnavailable : ErrorKindForStatus(status), "server.bad_response",
      fmt::format("the server at {} answered HTTP {} without a usable error", base_url, status));
}

// The answer of a completed transfer: 2xx with a JSON body (or none), or
// the error it stands for.
Result<HttpResponse> ReadResponse(long status, SecretString& response_body,
                                  const std::string& base_url, BodyAs as) {
  HttpResponse out;
  out.status = status;
  if (as == BodyAs::kText && status >= 200 && status < 300) {
    out.text = std::move(response_body);
    return out;
  }
  Json parsed;
  bool json_ok = false;
  if (!response_body.empty()) {
    parsed = Json::parse(response_body.begin(), response_body.end(), nullptr,
                         /*allow_exceptions=*/false);
    json_ok = !parsed.is_discarded();
  }

  if (status >= 200 && status < 300) {
    if (status == 204 || response_body.empty()) return out;
    if (!json_ok) {
      return Fail(Error::Unavailable(
          "server.bad_response",
          fmt::format("the server at {} answered HTTP {} with something other than JSON", base_url,
                      status)));
    }
    out.body = std::move(parsed);
    return out;
  }
  return Fail(ServerError(status, parsed, json_ok, base_url));
}

}  // namespace

Result<HttpResponse> HttpTransport::Call(std::string_view method, std::string_view path,
                                         const std::optional<Json>& body, std::string_view token,
                                         BodyAs as) {
  if (!base_url_.starts_with("http://") && !base_url_.starts_with("https://")) {
    return Fail(Error::InvalidArgument(
        "client.bad_server_url",
        fmt::format("server URL '{}' must start with http:// or https://", base_url_)));
  }
  if (curl_ == nullptr) curl_ = curl_easy_init();
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Fail(Error::Internal("client.curl", "cannot start libcurl"));
  curl_easy_reset(curl);

  const std::string url = base_url_ + std::string(path);
  SecretString request_body;
  SecretString response_body;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  // The bearer header holds the token only for the duration of the call.
  SecretString auth;
  if (!token.empty()) {
    auth = ToSecretString("Authorization: Bearer ");
    auth.append(token.data(), token.size());
    headers = curl_slist_append(headers, auth.c_str());
  }
  if (body) {
    request_body = body->dump();
    headers = curl_slist_append(headers, "Content-Type: application/json");
  }

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (method == "GET") curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request_body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request_body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response_body);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms_);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "keyward-cli/0.1");

  // CUSTOMREQUEST keeps a pointer: the method string must outlive perform.
  const std::string method_copy(method);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_copy.c_str());
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (!auth.empty()) WipeMemory(auth.data(), auth.size());

  if (rc != CURLE_OK) return Fail(TransferError(rc, base_url_));
  return ReadResponse(status, response_body, base_url_, as);
}

}  // namespace keyward::client
