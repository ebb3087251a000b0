#include "http/api/route_support.h"

#include <array>

#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "http/request_log.h"

namespace keyward::api {

http::Response Answer(Result<http::Response> result) {
  if (!result) {
    const Error& e = result.error();
    // A store error that core did not map to a documented code (a conflict,
    // a stale revision or a missing row: a race core does not expect, or a
    // bug) never reaches a client as such (issue 10, item 6). store.busy
    // stays a 503 that the client may retry.
    if (e.code().starts_with("store.") && e.kind() != ErrorKind::kUnavailable) {
      spdlog::error("api: unmapped store error {}", e.code());
      return http::ErrorResponse(
          Error::Internal("internal", "Something went wrong on the server; try again."));
    }
    if (e.kind() == ErrorKind::kInternal) spdlog::error("api: internal error {}", e.code());
    return http::ErrorResponse(e);
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

nlohmann::json AccountJson(const core::Account& a) {
  return {{"id", a.id},
          {"email", a.email},
          {"kdf", KdfJson(a.kdf_ops, a.kdf_mem)},
          {"salt", crypto::Base64UrlEncode(a.salt)},
          {"wrapped_vault_key", crypto::Base64UrlEncode(a.wrapped_vault_key)},
          {"public_key", crypto::Base64UrlEncode(a.public_key)},
          {"wrapped_private_key", crypto::Base64UrlEncode(a.wrapped_private_key)},
          {"two_factor_enabled", a.totp_enabled},
          {"must_change_password", a.must_change_password},
          {"created_at", FormatRfc3339(a.created_at)}};
}

nlohmann::json KdfJson(uint64_t ops, uint64_t mem) { return {{"ops", ops}, {"mem", mem}}; }

std::string B64(std::span<const uint8_t> bytes) { return crypto::Base64UrlEncode(bytes); }

Result<crypto::AuthKey> AuthKeyBody(const http::Request& request) {
  KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"auth_key"}));
  return f.AuthKey("auth_key");
}

}  // namespace keyward::api
