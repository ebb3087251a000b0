// docs/api.md: enrollment (GET/PUT/DELETE /v1/orgs/{org}/enrollment), key
// rotation (/v1/orgs/{org}/rotation...) and the admin actions on a member's
// account (.../members/{member}/reset/begin, /reset, /2fa/reset).
#include <charconv>

#include "core/enrollment.h"
#include "http/api/json_fields.h"
#include "http/api/route_support.h"

namespace keyward::api {

namespace {

using http::PathParams;
using http::Request;
using http::Response;
using nlohmann::json;

class RecoveryRoutes {
 public:
  explicit RecoveryRoutes(RouteContext ctx) : ctx_(ctx) {}

  void Register(http::Router& router) {
    // The router keeps the handlers; they share one copy of this small object.
    RouteAdder route(router, std::make_shared<RecoveryRoutes>(*this));
    route("GET", "/v1/orgs/{org}/enrollment", &RecoveryRoutes::GetEnrollment);
    route("PUT", "/v1/orgs/{org}/enrollment", &RecoveryRoutes::Enroll);
    route("DELETE", "/v1/orgs/{org}/enrollment", &RecoveryRoutes::Withdraw);
    route("POST", "/v1/orgs/{org}/rotation", &RecoveryRoutes::StartRotation);
    route("GET", "/v1/orgs/{org}/rotation", &RecoveryRoutes::PendingRotation);
    route("POST", "/v1/orgs/{org}/rotation/escrows", &RecoveryRoutes::RewrapEscrows);
    route("POST", "/v1/orgs/{org}/members/{member}/reset/begin", &RecoveryRoutes::BeginReset);
    route("POST", "/v1/orgs/{org}/members/{member}/reset", &RecoveryRoutes::Reset);
    route("POST", "/v1/orgs/{org}/members/{member}/2fa/reset", &RecoveryRoutes::ResetTwoFactor);
    route("DELETE", "/v1/orgs/{org}/members/{member}/sso", &RecoveryRoutes::UnlinkSso);
  }

 private:
  core::Services& core() { return ctx_.core; }

  // ---- enrollment ----
  Result<Response> GetEnrollment(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto state, core().enrollment.Get(caller, params.at("org")));
    return http::JsonResponse(200, EnrollmentJson(state));
  }

  Result<Response> Enroll(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"auth_key", "escrow"}));
    KW_ASSIGN_OR_RETURN(auto auth_key, f.AuthKey("auth_key"));
    KW_ASSIGN_OR_RETURN(auto escrow, ParseEscrowUpload(f, "escrow"));
    KW_ASSIGN_OR_RETURN(auto state,
                        core().enrollment.Enroll(caller, params.at("org"), auth_key, escrow));
    return http::JsonResponse(200, EnrollmentJson(state));
  }

  Result<Response> Withdraw(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto auth_key, AuthKeyBody(request));
    KW_TRY(core().enrollment.Withdraw(caller, params.at("org"), auth_key));
    return http::NoContent();
  }

  // ---- key rotation ----
  Result<Response> StartRotation(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"statement", "signature", "grants"}));
    core::RotationStart start;
    KW_ASSIGN_OR_RETURN(start.statement, SignedStatementFrom(f));
    KW_ASSIGN_OR_RETURN(auto grants,
                        f.ObjectArray("grants", {"account_id", "grant"}, core::kRotationPageMax));
    for (const auto& g : grants) {
      core::RotationGrant grant;
      KW_ASSIGN_OR_RETURN(grant.account_id, g.String("account_id"));
      KW_ASSIGN_OR_RETURN(auto grant_fields,
                          g.Object("grant", {"key_version", "recovery_grant", "signing_grant"}));
      KW_ASSIGN_OR_RETURN(grant.grant, GrantUploadFrom(grant_fields));
      start.grants.push_back(std::move(grant));
    }
    KW_ASSIGN_OR_RETURN(auto view, core().rotation.Start(caller, params.at("org"), start));
    return http::JsonResponse(200, OrgJson(view));
  }

  Result<Response> PendingRotation(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(uint64_t limit, QueryNumber(request, "limit", core::kRotationPageDefault, 1,
                                                    core::kRotationPageMax));
    KW_ASSIGN_OR_RETURN(
        auto page, core().rotation.Pending(caller, params.at("org"), request.QueryParam("after"),
                                           static_cast<int64_t>(limit)));
    json escrows = json::array();
    for (const auto& e : page.escrows) {
      escrows.push_back({{"account_id", e.account_id},
                         {"epoch", e.epoch},
                         {"key_version", e.key_version},
                         {"admin_share", crypto::Base64UrlEncode(e.admin_share)}});
    }
    return http::JsonResponse(200, {{"key_version", page.key_version},
                                    {"pending", page.pending},
                                    {"escrows", std::move(escrows)}});
  }

  Result<Response> RewrapEscrows(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"escrows"}));
    KW_ASSIGN_OR_RETURN(
        auto rows,
        f.ObjectArray("escrows", {"account_id", "epoch", "from_key_version", "admin_share"},
                      core::kRotationPageMax));
    std::vector<core::RewrappedShare> shares;
    shares.reserve(rows.size());
    for (const auto& row : rows) {
      core::RewrappedShare share;
      KW_ASSIGN_OR_RETURN(share.account_id, row.String("account_id"));
      KW_ASSIGN_OR_RETURN(int64_t epoch, row.Count("epoch"));
      KW_ASSIGN_OR_RETURN(int64_t from, row.Count("from_key_version"));
      share.epoch = static_cast<uint64_t>(epoch);
      share.from_key_version = static_cast<uint64_t>(from);
      KW_ASSIGN_OR_RETURN(share.admin_share,
                          row.Binary("admin_share", core::kEscrowBlobMin, core::kEscrowBlobMax));
      shares.push_back(std::move(share));
    }
    KW_ASSIGN_OR_RETURN(auto result, core().rotation.Rewrap(caller, params.at("org"), shares));
    return http::JsonResponse(
        200,
        {{"updated", result.updated}, {"skipped", result.skipped}, {"pending", result.pending}});
  }

  // ---- admin actions on a member ----
  Result<Response> BeginReset(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_TRY(NoBody(request));
    KW_ASSIGN_OR_RETURN(auto material,
                        core().admin_reset.Begin(caller, params.at("org"), params.at("member")));
    return http::JsonResponse(
        200, {{"epoch", material.epoch},
              {"key_version", material.key_version},
              {"wrapped_vault_key", crypto::Base64UrlEncode(material.wrapped_vault_key)},
              {"admin_share", crypto::Base64UrlEncode(material.admin_share)},
              {"server_part", crypto::Base64UrlEncode(material.server_part.span())}});
  }

  Result<Response> Reset(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"new_kdf", "new_salt", "new_auth_key",
                                                           "new_wrapped_vault_key", "escrow"}));
    core::TemporaryPassword password;
    KW_ASSIGN_OR_RETURN(password.new_kdf, f.Kdf("new_kdf"));
    KW_ASSIGN_OR_RETURN(password.new_salt,
                        f.Binary("new_salt", crypto::kSaltSize, crypto::kSaltSize));
    KW_ASSIGN_OR_RETURN(password.new_auth_key, f.AuthKey("new_auth_key"));
    KW_ASSIGN_OR_RETURN(password.new_wrapped_vault_key,
                        f.Binary("new_wrapped_vault_key", 1, core::kEscrowBlobMax));
    KW_ASSIGN_OR_RETURN(password.escrow, ParseEscrowUpload(f, "escrow"));
    KW_TRY(core().admin_reset.Reset(caller, params.at("org"), params.at("member"), password));
    return http::NoContent();
  }

  Result<Response> ResetTwoFactor(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_TRY(NoBody(request));
    KW_TRY(core().admin_reset.ResetTwoFactor(caller, params.at("org"), params.at("member")));
    return http::NoContent();
  }

  Result<Response> UnlinkSso(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_TRY(core().admin_reset.UnlinkSso(caller, params.at("org"), params.at("member")));
    return http::NoContent();
  }

  RouteContext ctx_;
};

}  // namespace

Result<core::EscrowUpload> ParseEscrowUpload(const Fields& parent, std::string_view name) {
  KW_ASSIGN_OR_RETURN(auto f, parent.Object(name, {"epoch", "key_version", "wrapped_vault_key",
                                                   "admin_share", "server_share"}));
  return EscrowUploadFrom(f);
}

Result<core::EscrowUpload> EscrowUploadFrom(const Fields& f) {
  core::EscrowUpload escrow;
  KW_ASSIGN_OR_RETURN(int64_t epoch, f.Count("epoch"));
  KW_ASSIGN_OR_RETURN(int64_t key_version, f.Count("key_version"));
  escrow.epoch = static_cast<uint64_t>(epoch);
  escrow.key_version = static_cast<uint64_t>(key_version);
  KW_ASSIGN_OR_RETURN(escrow.wrapped_vault_key,
                      f.Binary("wrapped_vault_key", core::kEscrowBlobMin, core::kEscrowBlobMax));
  KW_ASSIGN_OR_RETURN(escrow.admin_share,
                      f.Binary("admin_share", core::kEscrowBlobMin, core::kEscrowBlobMax));
  KW_ASSIGN_OR_RETURN(escrow.server_share,
                      f.Binary("server_share", core::kEscrowBlobMin, core::kEscrowBlobMax));
  return escrow;
}

Result<std::vector<core::OrgEscrowUpload>> OrgEscrowUploads(const Fields& parent,
                                                            std::string_view name,
                                                            size_t max_items) {
  KW_ASSIGN_OR_RETURN(auto rows,
                      parent.ObjectArray(name,
                                         {"org_id", "epoch", "key_version", "wrapped_vault_key",
                                          "admin_share", "server_share"},
                                         max_items));
  std::vector<core::OrgEscrowUpload> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    core::OrgEscrowUpload upload;
    KW_ASSIGN_OR_RETURN(upload.org_id, row.String("org_id"));
    KW_ASSIGN_OR_RETURN(upload.escrow, EscrowUploadFrom(row));
    out.push_back(std::move(upload));
  }
  return out;
}

void AddRecoveryRoutes(http::Router& router, RouteContext ctx) {
  RecoveryRoutes(ctx).Register(router);
}

}  // namespace keyward::api
