// docs/api.md "Device pairing": the server relays the CPace messages of the
// signed-in device (A, with a session) and the new device (B, with the
// account's email and, after its answer, its claim secret) — core/pairing.h.
#include <algorithm>

#include "core/pairing.h"
#include "http/api/json_fields.h"
#include "http/api/route_support.h"
#include "protocol/pairing.h"

namespace keyward::api {

namespace {

using http::PathParams;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr size_t kPoint = 32;
constexpr size_t kConfirmation = protocol::pairing::kConfirmationSize;
constexpr size_t kClaim = 32;
constexpr size_t kPayloadMax = 256;

// Seconds left, so that a client with a wrong clock still knows.
int64_t ExpiresIn(int64_t expires_at, int64_t now) {
  return std::max<int64_t>(0, expires_at - now);
}

// What A reads: B's answer once there is one.
json PairingJson(const core::Pairing& p, int64_t now) {
  json j = {{"id", p.id},
            {"state", core::PairingStateName(p.state)},
            {"joining_device_id", p.joining_device_id},
            {"expires_at", FormatRfc3339(p.expires_at)},
            {"expires_in", ExpiresIn(p.expires_at, now)}};
  if (!p.yb.empty()) {
    j["yb"] = B64(p.yb);
    j["tb"] = B64(p.tb);
    j["device"] = {{"name", p.joining_name}, {"type", p.joining_type}};
    j["remote_address"] = p.joining_address;
  }
  return j;
}

class PairingRoutes {
 public:
  explicit PairingRoutes(RouteContext ctx) : ctx_(ctx) {}

  void Register(http::Router& router) {
    RouteAdder route(router, std::make_shared<PairingRoutes>(*this));
    route("POST", "/v1/pairings", &PairingRoutes::Start);
    route("POST", "/v1/pairings/lookup", &PairingRoutes::Lookup);
    route("GET", "/v1/pairings/{id}", &PairingRoutes::Show);
    route("POST", "/v1/pairings/{id}/answer", &PairingRoutes::Answer);
    route("POST", "/v1/pairings/{id}/close", &PairingRoutes::Close);
    route("POST", "/v1/pairings/{id}/release", &PairingRoutes::Release);
    route("POST", "/v1/pairings/{id}/pickup", &PairingRoutes::Pickup);
  }

 private:
  core::Services& core() { return ctx_.core; }
  int64_t Now() { return ctx_.core.context().clock.NowUnix(); }

  Result<Response> Start(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"id", "joining_device_id", "ya"}));
    core::PairingStart start;
    KW_ASSIGN_OR_RETURN(start.id, f.String("id"));
    KW_ASSIGN_OR_RETURN(start.joining_device_id, f.String("joining_device_id"));
    KW_ASSIGN_OR_RETURN(start.ya, f.Binary("ya", kPoint, kPoint));
    KW_ASSIGN_OR_RETURN(auto p, core().pairings.Start(caller, start));
    return http::JsonResponse(201, PairingJson(p, Now()));
  }

  Result<Response> Lookup(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email"}));
    KW_ASSIGN_OR_RETURN(auto email, f.String("email"));
    KW_ASSIGN_OR_RETURN(auto offer, core().pairings.Lookup(email, request.remote_address));
    return http::JsonResponse(200, {{"id", offer.id},
                                    {"account_id", offer.account_id},
                                    {"shown_device_id", offer.shown_device_id},
                                    {"joining_device_id", offer.joining_device_id},
                                    {"ya", B64(offer.ya)},
                                    {"expires_at", FormatRfc3339(offer.expires_at)},
                                    {"expires_in", ExpiresIn(offer.expires_at, Now())}});
  }

  Result<Response> Show(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto p, core().pairings.Show(caller, params.at("id")));
    return http::JsonResponse(200, PairingJson(p, Now()));
  }

  Result<Response> Answer(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"yb", "tb", "device", "claim"}));
    core::PairingAnswer a;
    a.id = params.at("id");
    KW_ASSIGN_OR_RETURN(a.yb, f.Binary("yb", kPoint, kPoint));
    KW_ASSIGN_OR_RETURN(a.tb, f.Binary("tb", kConfirmation, kConfirmation));
    KW_ASSIGN_OR_RETURN(auto device, f.Object("device", {"name", "type"}));
    KW_ASSIGN_OR_RETURN(a.device_name, device.String("name"));
    KW_ASSIGN_OR_RETURN(a.device_type, device.String("type"));
    KW_ASSIGN_OR_RETURN(a.claim, f.Binary("claim", kClaim, kClaim));
    a.remote_address = request.remote_address;
    KW_TRY(core().pairings.Answer(a));
    return http::JsonResponse(202, {{"state", "answered"}});
  }

  Result<Response> Close(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_TRY(NoBody(request));
    KW_TRY(core().pairings.Close(caller, params.at("id")));
    return http::NoContent();
  }

  Result<Response> Release(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"ta", "payload"}));
    KW_ASSIGN_OR_RETURN(auto ta, f.Binary("ta", kConfirmation, kConfirmation));
    KW_ASSIGN_OR_RETURN(auto payload, f.Binary("payload", 1, kPayloadMax));
    KW_TRY(core().pairings.Release(caller, params.at("id"), ta, payload));
    return http::NoContent();
  }

  Result<Response> Pickup(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"claim", "sso_tickets"}));
    KW_ASSIGN_OR_RETURN(auto claim, f.Binary("claim", kClaim, kClaim));
    std::vector<crypto::Bytes> tickets;
    if (f.Has("sso_tickets")) {
      KW_ASSIGN_OR_RETURN(tickets, f.BinaryArray("sso_tickets", 32, core::kMaxSsoTickets));
    }
    KW_ASSIGN_OR_RETURN(auto picked, core().pairings.Pickup(params.at("id"), claim, tickets));
    json j = {{"state", core::PairingStateName(picked.state)}};
    if (picked.state == core::PairingState::kDone) {
      j["ta"] = B64(picked.ta);
      j["payload"] = B64(picked.payload);
      j["token"] = B64(picked.token.span());
      j["expires_at"] = FormatRfc3339(picked.session_expires_at);
      j["device_id"] = picked.device_id;
      j["account"] = AccountJson(picked.account);
    }
    return http::JsonResponse(200, j);
  }

  RouteContext ctx_;
};

}  // namespace

void AddPairingRoutes(http::Router& router, RouteContext ctx) {
  PairingRoutes(ctx).Register(router);
}

}  // namespace keyward::api
