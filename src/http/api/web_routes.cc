// docs/web.md "How it is built and served": the embedded pages at `/`, their
// hashed files under `/assets/`, and the recovery link's landing page
// (`/recover/{id}`, whose secret stays in the URL fragment and never reaches
// the server). Every page answer carries the Content-Security-Policy and
// the other headers of docs/web.md "Security headers".
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

Response Page(const web::Asset& asset, bool immutable) {
  Response r;
  r.status = 200;
  r.content_type = std::string(asset.content_type);
  r.body = std::string(asset.body);
  r.headers = {{"Content-Security-Policy", kCsp},
               {"Referrer-Policy", "no-referrer"},
               {"Cross-Origin-Opener-Policy", "same-origin"},
               {"Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache"}};
  return r;
}

Error NotBuilt() {
  return Error::NotFound("web.not_built",
                         "The web pages were not built into this keywardd (scripts/build.sh "
                         "builds them).");
}

Result<Response> Index(const Request&, const PathParams&) {
  const web::Asset* index = web::Find("index.html");
  if (!index) return Fail(NotBuilt());
  return Page(*index, false);
}

Result<Response> AssetFile(const Request&, const PathParams& params) {
  const web::Asset* asset = web::Find("assets/" + params.at("file"));
  if (!asset) return Fail(Error::NotFound("web.not_found", "No such file."));
  return Page(*asset, true);
}

}  // namespace

void AddWebRoutes(http::Router& router) {
  AddRoute(router, "GET", "/", Index);
  AddRoute(router, "GET", "/assets/{file}", AssetFile);
  AddRoute(router, "GET", "/recover/{id}", Index);
}

}  // namespace keyward::api
