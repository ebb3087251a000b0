#include "http/api/route_support.h"

#include <array>

#include <spdlog/spdlog.h>

#include "http/request_log.h"

namespace keyward::api {

http::Response Answer(Result<http::Response> result) {
  if (!result) {
    if (result.error().kind() == ErrorKind::kInternal) {
      spdlog::error("api: internal error {}", result.error().code());
    }
    return http::ErrorResponse(result.error());
  }
  return std::move(*result);
}

void AddRoute(http::Router& router, std::string method, std::string pattern, Handler fn) {
  router.Add(std::move(method), std::move(pattern),
             [fn = std::move(fn)](const http::Request& request, const http::PathParams& params) {
               return Answer(fn(request, params));
             });
}

Result<core::Caller> Authenticate(core::Services& core, const http::Request& request,
                                  Access access) {
  std::string token = request.BearerToken();
  if (token.empty() || token.size() > 64) return Fail(core::AuthRequired());
  std::array<uint8_t, 48> bytes;
  auto size = crypto::Base64UrlDecodeInto(token, bytes);
  if (!size) return Fail(core::AuthRequired());
  auto caller = core.sessions.Authenticate(std::span(bytes).first(*size), request.remote_address);
  crypto::Wipe(bytes);
  if (caller) http::NoteRequestActor(caller->account_id);
  if (caller && caller->must_change_password && access == Access::kNormal) {
    return Fail(Error::PermissionDenied(
        "account.password_change_required",
        "Your administrator reset your master password: choose a new one first "
        "(keyward login asks for it)."));
  }
  return caller;
}

nlohmann::json KdfJson(uint64_t ops, uint64_t mem) { return {{"ops", ops}, {"mem", mem}}; }

}  // namespace keyward::api
