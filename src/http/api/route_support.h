// What the route files of the /v1 API share (api.cc: accounts, items,
// devices; org_routes.cc: organizations, members, invites, policy, events;
// recovery_routes.cc: enrollment, key rotation, admin reset).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/try.h"
#include "core/services.h"
#include "http/api/api.h"
#include "http/api/json_fields.h"
#include "http/router.h"
#include "protocol/statement.h"

namespace keyward::api {

struct RouteContext {
  const ApiConfig& config;
  core::Services& core;
};

using Handler =
    std::function<Result<http::Response>(const http::Request&, const http::PathParams&)>;

// Registers `fn`; its error becomes the JSON error answer (internal errors
// are logged by code only).
void AddRoute(http::Router& router, std::string method, std::string pattern, Handler fn);
http::Response Answer(Result<http::Response> result);

// Registers member functions of a route class as handlers. `Holder` keeps
// the object for the handlers: a pointer when the object outlives the
// router (ApiImpl), a shared_ptr otherwise.
//
//   RouteAdder route(router, std::make_shared<OrgRoutes>(ctx));
//   route("GET", "/v1/orgs", &OrgRoutes::ListOrgs);
template <class Routes, class Holder>
class RouteAdder {
 public:
  using Method = Result<http::Response> (Routes::*)(const http::Request&, const http::PathParams&);

  RouteAdder(http::Router& router, Holder routes) : router_(router), routes_(std::move(routes)) {}

  void operator()(std::string method, std::string pattern, Method fn) const {
    AddRoute(router_, std::move(method), std::move(pattern),
             [routes = routes_, fn](const http::Request& request, const http::PathParams& params) {
               return ((*routes).*fn)(request, params);
             });
  }

 private:
  http::Router& router_;
  Holder routes_;
};
template <class Routes>
RouteAdder(http::Router&, Routes*) -> RouteAdder<Routes, Routes*>;
template <class Routes>
RouteAdder(http::Router&, std::shared_ptr<Routes>) -> RouteAdder<Routes, std::shared_ptr<Routes>>;

// Which routes a caller whose master password was reset by an admin may use
// before choosing a new one (docs/api.md "Organizations").
enum class Access { kNormal, kWhilePasswordChangeRequired };

// The bearer token's caller, else auth.required (401). With Access::kNormal a
// caller whose account must change its password gets
// account.password_change_required (403).
[[nodiscard]] Result<core::Caller> Authenticate(core::Services& core, const http::Request& request,
                                                Access access = Access::kNormal);

nlohmann::json KdfJson(uint64_t ops, uint64_t mem);
// docs/api.md "Account": what a login (or a pairing's pickup) returns.
nlohmann::json AccountJson(const core::Account& a);
// Binary fields on the wire are base64url.
std::string B64(std::span<const uint8_t> bytes);

// A body that is {"auth_key"} alone (deleting the account, TOTP, leaving
// recovery): the key, decoded into secure memory.
[[nodiscard]] Result<crypto::AuthKey> AuthKeyBody(const http::Request& request);

// ---- organization wire objects shared by org_routes.cc and
// recovery_routes.cc (defined in org_wire.cc) ----

// docs/api.md "Enrollment" and "Org".
nlohmann::json EnrollmentJson(const core::EnrollmentState& e);
nlohmann::json OrgJson(const core::OrgView& view);
// docs/api.md "Organizations": a signed statement {"version","statement",
// "signature"}, and a list of them.
nlohmann::json StatementJson(const core::OrgStatementRow& s);
nlohmann::json StatementsJson(const std::vector<core::OrgStatementRow>& rows);
// Routes without a request body take none, or an empty object.
[[nodiscard]] Status NoBody(const http::Request& request);
// A query parameter that is absent (or empty) gives `fallback`; anything but
// a decimal integer in [min, max] is request.invalid_query.
[[nodiscard]] Result<uint64_t> QueryNumber(const http::Request& request, std::string_view name,
                                           uint64_t fallback, uint64_t min, uint64_t max);
// The object "device" of `f`: {"id","name","type"} (POST /v1/sessions,
// POST /v1/device-requests); the services check the values.
[[nodiscard]] Result<core::DeviceInfo> DeviceFrom(const Fields& f);
// docs/api.md "Grant": the fields of a grant object.
[[nodiscard]] Result<core::GrantUpload> GrantUploadFrom(const Fields& grant);
// {"statement","signature"} fields of `f`.
[[nodiscard]] Result<protocol::SignedOrgStatement> SignedStatementFrom(const Fields& f);

// docs/api.md "Escrow upload": the object
// `name` of `parent`, with exactly its five fields; EscrowUploadFrom reads
// them from an object whose other fields the caller checked (the elements
// of POST /v1/account/password's `escrows` also carry `org_id`).
[[nodiscard]] Result<core::EscrowUpload> ParseEscrowUpload(const Fields& parent,
                                                           std::string_view name);
[[nodiscard]] Result<core::EscrowUpload> EscrowUploadFrom(const Fields& escrow);
// The array `name` of at most `max_items` escrow uploads, each with its
// `org_id` (POST /v1/account/password, POST /v1/recovery/redeem/complete).
[[nodiscard]] Result<std::vector<core::OrgEscrowUpload>> OrgEscrowUploads(const Fields& parent,
                                                                          std::string_view name,
                                                                          size_t max_items);

// ---- cloud backups (snapshot_routes.cc) and requests (request_routes.cc) ----

// docs/api.md "Snapshot".
nlohmann::json SnapshotJson(const core::Snapshot& s);
// docs/api.md "Request", appended as JSON text (http/json_text.h): a page
// of the request list is 50 of them.
void AppendRequestJson(std::string& out, const core::RequestView& v);
// The same object as a value, for answers that nest it.
nlohmann::json RequestJson(const core::RequestView& v);
// The array "items" of `f`: at most core::kStageBatchMax {"id","data"}
// objects, data of 1..item_max_bytes.
[[nodiscard]] Result<std::vector<core::StagedItem>> StagedItemsFrom(const Fields& f,
                                                                    size_t item_max_bytes);

// Defined in their own files.
void AddOrgRoutes(http::Router& router, RouteContext ctx);
void AddRecoveryRoutes(http::Router& router, RouteContext ctx);
void AddRequestRoutes(http::Router& router, RouteContext ctx);   // request_routes.cc
void AddPairingRoutes(http::Router& router, RouteContext ctx);   // pairing_routes.cc
void AddSnapshotRoutes(http::Router& router, RouteContext ctx);  // snapshot_routes.cc
void AddWebRoutes(http::Router& router);                         // web_routes.cc

}  // namespace keyward::api
