// docs/web.md "How it is built and served": the embedded pages at `/`, their
// hashed files under `/assets/`, the recovery link's landing page
// (`/recover/{id}`, whose secret stays in the URL fragment and never reaches
// the server) and the single sign-on callback page (`/sso/callback`). Every
// page answer carries the Content-Security-Policy and the other headers of
// docs/web.md "Security headers".
#include <cctype>
#include <string>
#include <string_view>

#include "http/api/route_support.h"
#include "web/assets.h"

namespace keyward::api {

namespace {

using http::PathParams;
using http::Request;
using http::Response;

// No inline script or style, nothing from elsewhere; WebAssembly (libsodium)
// may be compiled; forms post only here; never framed.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

// Whether Accept-Encoding lists gzip without q=0 (RFC 9110 12.5.3).
bool AcceptsGzip(const Request& request) {
  std::string value = request.Header("accept-encoding");
  for (char& ch : value) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string_view v = value;
  while (!v.empty()) {
    const size_t comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    std::string_view name = item.substr(0, item.find(';'));
    while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (name != "gzip") continue;
    const size_t q = item.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view weight = item.substr(q + 2);
    return !(weight.starts_with("0") &&
             weight.find_first_not_of("0. \t") == std::string_view::npos);
  }
  return false;
}

Response Page(const Request& request, const web::Asset& asset, bool immutable) {
  Response r;
  r.status = 200;
  r.content_type = std::string(asset.content_type);
  r.headers = {{"Content-Security-Policy", kCsp},
               {"Referrer-Policy", "no-referrer"},
               {"Cross-Origin-Opener-Policy", "same-origin"},
               {"Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache"}};
  if (!asset.gzip.empty()) {
    r.headers.emplace_back("Vary", "Accept-Encoding");
    if (AcceptsGzip(request)) {
      r.headers.emplace_back("Content-Encoding", "gzip");
      r.body = std::string(asset.gzip);
      return r;
    }
  }
  r.body = std::string(asset.body);
  return r;
}

Error NotBuilt() {
  return Error::NotFound("web.not_built",
                         "The web pages were not built into this keywardd (scripts/build.sh "
                         "builds them).");
}

Result<Response> Index(const Request& request, const PathParams&) {
  const web::Asset* index = web::Find("index.html");
  if (!index) return Fail(NotBuilt());
  return Page(request, *index, false);
}

Result<Response> AssetFile(const Request& request, const PathParams& params) {
  const web::Asset* asset = web::Find("assets/" + params.at("file"));
  if (!asset) return Fail(Error::NotFound("web.not_found", "No such file."));
  return Page(request, *asset, true);
}

}  // namespace

void AddWebRoutes(http::Router& router) {
  AddRoute(router, "GET", "/", Index);
  AddRoute(router, "GET", "/assets/{file}", AssetFile);
  AddRoute(router, "GET", "/recover/{id}", Index);
  // Where an organization's identity provider sends the browser back after a
  // web single sign-on (POST /v1/sso/start with client "web"); the page reads
  // code and state from the query and finishes the sign-in itself.
  AddRoute(router, "GET", "/sso/callback", Index);
}

}  // namespace keyward::api
