// docs/api.md "Cloud backups": the member's encrypted snapshots (uploaded in
// parts, core/snapshots.h) and restoring one through a request
// (core/restores.h). All with the member's session.
#include <set>

#include "core/restores.h"
#include "core/snapshots.h"
#include "core/validation.h"
#include "http/api/json_fields.h"
#include "http/api/route_support.h"

namespace keyward::api {

using http::PathParams;
using http::Request;
using http::Response;
using nlohmann::json;

json SnapshotJson(const core::Snapshot& s) {
  return {{"id", s.id},
          {"state", core::SnapshotStateName(s.state)},
          {"size", s.size},
          {"parts", s.parts},
          {"part_size", core::kSnapshotPartMax},
          {"created_at", FormatRfc3339(s.created_at)},
          {"ready_at", s.ready_at == 0 ? json(nullptr) : json(FormatRfc3339(s.ready_at))}};
}

Result<std::vector<core::StagedItem>> StagedItemsFrom(const Fields& f, size_t item_max_bytes) {
  KW_ASSIGN_OR_RETURN(auto rows, f.ObjectArray("items", {"id", "data"}, core::kStageBatchMax));
  std::vector<core::StagedItem> items;
  items.reserve(rows.size());
  for (const auto& row : rows) {
    core::StagedItem item;
    KW_ASSIGN_OR_RETURN(item.item_id, row.String("id"));
    KW_ASSIGN_OR_RETURN(item.data, row.Binary("data", 1, item_max_bytes));
    items.push_back(std::move(item));
  }
  return items;
}

namespace {

// Part numbers in the path: a decimal below kSnapshotMaxParts.
Result<uint32_t> PartNumber(const PathParams& params) {
  const std::string& text = params.at("n");
  uint32_t n = 0;
  if (text.empty() || text.size() > 4) return Fail(core::InvalidField("n"));
  for (char c : text) {
    if (c < '0' || c > '9') return Fail(core::InvalidField("n"));
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n >= core::kSnapshotMaxParts) return Fail(core::InvalidField("n"));
  return n;
}

class SnapshotRoutes {
 public:
  explicit SnapshotRoutes(RouteContext ctx) : ctx_(ctx) {}

  void Register(http::Router& router) {
    RouteAdder route(router, std::make_shared<SnapshotRoutes>(*this));
    route("GET", "/v1/snapshots", &SnapshotRoutes::List);
    route("POST", "/v1/snapshots", &SnapshotRoutes::Begin);
    route("GET", "/v1/snapshots/{id}", &SnapshotRoutes::Show);
    route("DELETE", "/v1/snapshots/{id}", &SnapshotRoutes::Delete);
    route("PUT", "/v1/snapshots/{id}/parts/{n}", &SnapshotRoutes::PutPart);
    route("GET", "/v1/snapshots/{id}/parts/{n}", &SnapshotRoutes::GetPart);
    route("POST", "/v1/snapshots/{id}/finish", &SnapshotRoutes::Finish);
    route("POST", "/v1/restores", &SnapshotRoutes::RequestRestore);
    route("GET", "/v1/restores/current", &SnapshotRoutes::CurrentRestore);
    route("POST", "/v1/restores/{id}/items", &SnapshotRoutes::Stage);
  }

 private:
  core::Services& core() { return ctx_.core; }

  Result<Response> List(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto list, core().snapshots.List(caller));
    json out = json::array();
    for (const auto& s : list) out.push_back(SnapshotJson(s));
    return http::JsonResponse(200, {{"snapshots", std::move(out)}});
  }

  Result<Response> Begin(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"id", "size", "parts"}));
    KW_ASSIGN_OR_RETURN(auto id, f.String("id"));
    KW_ASSIGN_OR_RETURN(int64_t size, f.Count("size"));
    KW_ASSIGN_OR_RETURN(int64_t parts, f.Count("parts"));
    if (parts > core::kSnapshotMaxParts) return Fail(core::InvalidField("parts"));
    KW_ASSIGN_OR_RETURN(auto s, core().snapshots.Begin(caller, id, static_cast<uint64_t>(size),
                                                       static_cast<uint32_t>(parts)));
    return http::JsonResponse(201, SnapshotJson(s));
  }

  Result<Response> Show(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto s, core().snapshots.Get(caller, params.at("id")));
    return http::JsonResponse(200, SnapshotJson(s));
  }

  Result<Response> Delete(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_TRY(NoBody(request));
    KW_TRY(core().snapshots.Delete(caller, params.at("id")));
    return http::NoContent();
  }

  Result<Response> PutPart(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(uint32_t n, PartNumber(params));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"data"}));
    KW_ASSIGN_OR_RETURN(auto data, f.Binary("data", 1, core::kSnapshotPartMax));
    KW_TRY(core().snapshots.PutPart(caller, params.at("id"), n, data));
    return http::NoContent();
  }

  Result<Response> GetPart(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(uint32_t n, PartNumber(params));
    KW_ASSIGN_OR_RETURN(auto data, core().snapshots.GetPart(caller, params.at("id"), n));
    return http::JsonResponse(200, {{"n", n}, {"data", B64(data)}});
  }

  Result<Response> Finish(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_TRY(NoBody(request));
    KW_ASSIGN_OR_RETURN(auto s, core().snapshots.Finish(caller, params.at("id")));
    return http::JsonResponse(200, SnapshotJson(s));
  }

  Result<Response> RequestRestore(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"snapshot_id", "device_name",
                                                           "item_count", "acknowledge"}));
    core::RestoreAsk ask;
    KW_ASSIGN_OR_RETURN(ask.snapshot_id, f.String("snapshot_id"));
    KW_ASSIGN_OR_RETURN(auto device_name, f.OptionalString("device_name"));
    ask.device_name = device_name.value_or("");
    KW_ASSIGN_OR_RETURN(ask.item_count, f.Count("item_count"));
    // The member saw that every other device will be unpaired.
    KW_ASSIGN_OR_RETURN(auto ack, f.String("acknowledge"));
    if (ack != "unpair_other_devices") return Fail(core::InvalidField("acknowledge"));
    KW_ASSIGN_OR_RETURN(auto view, core().restores.Request(caller, ask));
    return http::JsonResponse(201, RequestJson(view));
  }

  Result<Response> CurrentRestore(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto view, core().restores.Current(caller));
    return http::JsonResponse(200, {{"request", view ? RequestJson(*view) : json(nullptr)}});
  }

  Result<Response> Stage(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(core(), request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"items"}));
    KW_ASSIGN_OR_RETURN(auto items, StagedItemsFrom(f, core().config().item_max_bytes));
    KW_TRY(core().restores.Stage(caller, params.at("id"), items));
    return http::NoContent();
  }

  RouteContext ctx_;
};

}  // namespace

void AddSnapshotRoutes(http::Router& router, RouteContext ctx) {
  SnapshotRoutes(ctx).Register(router);
}

}  // namespace keyward::api
