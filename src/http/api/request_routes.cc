// docs/api.md "Recovery requests": the member's request (no session), the
// recovery admins' review (list, show, approve, decline, start) and the
// redemption of a link (no session).
#include <charconv>

#include "core/device_requests.h"
#include "core/recovery_requests.h"
#include "core/restores.h"
#include "core/snapshots.h"
#include "core/validation.h"
#include "http/api/json_fields.h"
#include "http/api/route_support.h"
#include "http/json_text.h"

namespace keyward::api {

namespace {

using http::PathParams;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr size_t kMaxRedeemEscrows = 1000;  // organizations one account is enrolled in

json OrNull(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

}  // namespace

// docs/api.md "Request", written as text (a page of the list writes 50 of
// them); the keys sorted, as nlohmann::json writes an object's.
void AppendRequestJson(std::string& out, const core::RequestView& v) {
  const core::RecoveryRequest& r = v.request;
  const auto time_or_null = [](http::JsonObjectText& o, std::string_view key, int64_t t) {
    if (t == 0) {
      o.Null(key);
    } else {
      o.String(key, FormatRfc3339(t));
    }
  };
  http::JsonObjectText o(out);
  o.String("account_id", r.account_id);
  std::string& approvals = o.Key("approvals");
  approvals += '[';
  for (size_t i = 0; i < v.approvals.size(); ++i) {
    if (i > 0) approvals += ',';
    const auto& a = v.approvals[i];
    http::JsonObjectText approval(approvals);
    approval.String("admin_id", a.admin_id);
    approval.String("at", FormatRfc3339(a.at));
    approval.String("email", a.email);
  }
  approvals += ']';
  time_or_null(o, "completed_at", r.completed_at);
  o.String("created_at", FormatRfc3339(r.created_at));
  time_or_null(o, "decided_at", r.decided_at);
  o.StringOrNull("decided_by", r.decided_by);
  o.StringOrNull("decline_reason", r.decline_reason);
  o.String("device_name", r.device_name);
  if (r.device_key.empty()) {
    o.Null("device_public_key");
  } else {
    o.String("device_public_key", B64(r.device_key));
  }
  o.String("email", v.email);
  o.Uint("epoch", r.epoch);
  if (v.escrow) {
    http::JsonObjectText escrow(o.Key("escrow"));
    escrow.String("admin_share", B64(v.escrow->admin_share));
    escrow.Uint("epoch", v.escrow->epoch);
    escrow.Uint("key_version", v.escrow->key_version);
  }
  o.String("expires_at", FormatRfc3339(r.expires_at));
  o.String("id", r.id);
  o.StringOrNull("initiated_by", r.initiated_by);
  o.Int("item_count", r.item_count);
  o.String("kind", core::RequestKindName(r.kind));
  o.Bool("link", r.kind == core::RequestKind::kRecovery || r.device_id.empty());
  o.String("org_id", r.org_id);
  o.Int("quorum", v.quorum);
  o.String("remote_address", r.remote_address);
  o.StringOrNull("snapshot_id", r.snapshot_id);
  o.String("status", core::RequestStatusName(r.status));
}

json RequestJson(const core::RequestView& v) {
  std::string text;
  AppendRequestJson(text, v);
  return json::parse(text);
}

namespace {

// The `next_after` cursor: "<created_at>.<id>" (ids are base64url, without
// dots). The client passes it back as it is.
std::string CursorText(const store::RequestCursor& c) {
  return std::to_string(c.created_at) + "." + c.id;
}

Result<std::optional<store::RequestCursor>> CursorFrom(const Request& request) {
  const std::string text = request.QueryParam("after");
  if (text.empty()) return std::nullopt;
  auto dot = text.find('.');
  if (dot == std::string::npos) return Fail(core::InvalidQuery("after"));
  store::RequestCursor cursor;
  auto [end, ec] = std::from_chars(text.data(), text.data() + dot, cursor.created_at);
  cursor.id = text.substr(dot + 1);
  if (ec != std::errc() || end != text.data() + dot || cursor.created_at < 0 ||
      !core::IsValidAccountId(cursor.id)) {
    return Fail(core::InvalidQuery("after"));
  }
  return cursor;
}

// T and the completion ticket: base64url of 32 bytes, into secure memory.
Result<crypto::GenericKey> SecretKey(const Fields& f, std::string_view name) {
  KW_ASSIGN_OR_RETURN(auto key, f.AuthKey(name));
  return crypto::GenericKey(std::move(key.bytes()));
}

class RequestRoutes {
 public:
  explicit RequestRoutes(RouteContext ctx) : ctx_(ctx) {}

  void Register(http::Router& router) {
    // The router keeps the handlers; they share one copy of this small object.
    RouteAdder route(router, std::make_shared<RequestRoutes>(*this));
    route("POST", "/v1/recovery/requests", &RequestRoutes::Ask);
    route("POST", "/v1/recovery/requests/confirm", &RequestRoutes::Confirm);
    route("GET", "/v1/orgs/{org}/recovery/requests", &RequestRoutes::List);
    route("GET", "/v1/orgs/{org}/recovery/requests/{id}", &RequestRoutes::Show);
    route("POST", "/v1/orgs/{org}/recovery/requests/{id}/approve", &RequestRoutes::Approve);
    route("POST", "/v1/orgs/{org}/recovery/requests/{id}/decline", &RequestRoutes::Decline);
    route("POST", "/v1/orgs/{org}/recovery/start", &RequestRoutes::Start);
    route("GET", "/v1/orgs/{org}/recovery/counts", &RequestRoutes::Counts);
    route("POST", "/v1/recovery/redeem", &RequestRoutes::RedeemStart);
    route("POST", "/v1/recovery/redeem/verify", &RequestRoutes::RedeemVerify);
    route("POST", "/v1/recovery/redeem/complete", &RequestRoutes::Complete);
    route("POST", "/v1/recovery/redeem/snapshot", &RequestRoutes::RedeemSnapshotPart);
    route("POST", "/v1/recovery/redeem/stage", &RequestRoutes::RedeemStage);
    route("POST", "/v1/device-requests", &RequestRoutes::DeviceSubmit);
    route("POST", "/v1/device-requests/open", &RequestRoutes::DeviceOpen);
    route("POST", "/v1/device-requests/complete", &RequestRoutes::DeviceComplete);
  }

 private:
  core::RecoveryRequestService& requests() { return ctx_.core.requests; }

  // ---- the member, no session ----
  Result<Response> Ask(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email", "device_name", "intent", "kind",
                                                           "snapshot_id"}));
    core::RecoveryAsk ask;
    KW_ASSIGN_OR_RETURN(ask.email, f.String("email"));
    KW_ASSIGN_OR_RETURN(auto device_name, f.OptionalString("device_name"));
    KW_ASSIGN_OR_RETURN(auto intent, f.OptionalString("intent"));
    KW_ASSIGN_OR_RETURN(auto kind, f.OptionalString("kind"));
    KW_ASSIGN_OR_RETURN(auto snapshot_id, f.OptionalString("snapshot_id"));
    ask.device_name = device_name.value_or("");
    if (kind) {
      auto parsed = core::ParseRequestKind(*kind);
      if (!parsed) return Fail(core::InvalidField("kind"));
      ask.kind = *parsed;
    }
    if (snapshot_id && ask.kind != core::RequestKind::kRestore) {
      return Fail(core::InvalidField("snapshot_id"));
    }
    ask.snapshot_id = snapshot_id.value_or("");
    if (!intent || *intent == "submit") {
      ask.intent = core::RecoveryIntent::kSubmit;
    } else if (*intent == "cancel") {
      ask.intent = core::RecoveryIntent::kCancel;
    } else {
      return Fail(core::InvalidField("intent"));
    }
    ask.remote_address = request.remote_address;
    KW_TRY(requests().Ask(ask));
    return http::JsonResponse(202, {{"status", "code_sent"}});
  }

  Result<Response> Confirm(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email", "code"}));
    KW_ASSIGN_OR_RETURN(auto email, f.String("email"));
    KW_ASSIGN_OR_RETURN(auto code, f.String("code"));
    KW_ASSIGN_OR_RETURN(auto outcome, requests().Confirm(email, code, request.remote_address));
    if (outcome.intent == core::RecoveryIntent::kCancel) {
      return http::JsonResponse(200, {{"status", "cancelled"}});
    }
    return http::JsonResponse(201, {{"request_id", outcome.submitted.request_id},
                                    {"status", "pending"},
                                    {"org_name", outcome.submitted.org_name},
                                    {"expires_at", FormatRfc3339(outcome.submitted.expires_at)}});
  }

  // ---- recovery admins ----
  Result<Response> List(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    std::optional<core::RequestStatus> status;
    if (std::string text = request.QueryParam("status"); !text.empty()) {
      status = core::ParseRequestStatus(text);
      if (!status) return Fail(core::InvalidQuery("status"));
    }
    KW_ASSIGN_OR_RETURN(auto after, CursorFrom(request));
    KW_ASSIGN_OR_RETURN(uint64_t limit, QueryNumber(request, "limit", core::kRequestPageDefault, 1,
                                                    core::kRequestPageMax));
    KW_ASSIGN_OR_RETURN(auto page,
                        requests().List(caller, params.at("org"), status, after,
                                        static_cast<int64_t>(limit), request.QueryParam("email")));
    // Written as text: a page is the console's most frequent answer.
    Response response;
    std::string& out = response.body;
    out.reserve(64 + page.requests.size() * 700);
    {
      http::JsonObjectText o(out);
      if (page.next_after) {
        o.String("next_after", CursorText(*page.next_after));
      } else {
        o.Null("next_after");
      }
      std::string& list = o.Key("requests");
      list += '[';
      for (size_t i = 0; i < page.requests.size(); ++i) {
        if (i > 0) list += ',';
        AppendRequestJson(list, page.requests[i]);
      }
      list += ']';
    }
    return response;
  }

  Result<Response> Counts(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto counts, requests().Counts(caller, params.at("org")));
    json out = json::object();
    for (auto status : {core::RequestStatus::kPending, core::RequestStatus::kApproved,
                        core::RequestStatus::kLinkUsed, core::RequestStatus::kDeclined,
                        core::RequestStatus::kExpired}) {
      out[std::string(core::RequestStatusName(status))] = 0;
    }
    for (const auto& [status, n] : counts) out[std::string(core::RequestStatusName(status))] = n;
    return http::JsonResponse(200, {{"counts", std::move(out)}});
  }

  Result<Response> Show(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto view, requests().Show(caller, params.at("org"), params.at("id")));
    return http::JsonResponse(200, RequestJson(view));
  }

  Result<Response> Approve(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"token", "link_share", "device_share"}));
    // A restore asked for in a session is approved without a link, a
    // device request with DA.
    core::RecoveryRequestService::ApprovalParts parts;
    if (f.Has("token") || f.Has("link_share")) {
      KW_ASSIGN_OR_RETURN(auto token, SecretKey(f, "token"));
      KW_ASSIGN_OR_RETURN(auto link_share,
                          f.Binary("link_share", core::kEscrowBlobMin, core::kEscrowBlobMax));
      parts.link = core::RecoveryRequestService::LinkParts{std::move(token), std::move(link_share)};
    }
    if (f.Has("device_share")) {
      KW_ASSIGN_OR_RETURN(parts.device_share,
                          f.Binary("device_share", core::kEscrowBlobMin, core::kEscrowBlobMax));
    }
    KW_ASSIGN_OR_RETURN(auto view,
                        requests().Approve(caller, params.at("org"), params.at("id"), parts));
    return http::JsonResponse(200, RequestJson(view));
  }

  Result<Response> Decline(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"reason"}));
    KW_ASSIGN_OR_RETURN(auto reason, f.String("reason"));
    KW_ASSIGN_OR_RETURN(auto view,
                        requests().Decline(caller, params.at("org"), params.at("id"), reason));
    return http::JsonResponse(200, RequestJson(view));
  }

  Result<Response> Start(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"member"}));
    KW_ASSIGN_OR_RETURN(auto member, f.String("member"));
    KW_ASSIGN_OR_RETURN(auto view, requests().Start(caller, params.at("org"), member));
    return http::JsonResponse(201, RequestJson(view));
  }

  // ---- the member redeems the link, no session ----
  Result<Response> RedeemStart(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"request_id", "token"}));
    KW_ASSIGN_OR_RETURN(auto request_id, f.String("request_id"));
    KW_ASSIGN_OR_RETURN(auto token, SecretKey(f, "token"));
    KW_TRY(requests().RedeemStart(request_id, token, request.remote_address));
    return http::JsonResponse(202, {{"status", "code_sent"}});
  }

  Result<Response> RedeemVerify(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"request_id", "token", "code"}));
    KW_ASSIGN_OR_RETURN(auto request_id, f.String("request_id"));
    KW_ASSIGN_OR_RETURN(auto token, SecretKey(f, "token"));
    KW_ASSIGN_OR_RETURN(auto code, f.String("code"));
    KW_ASSIGN_OR_RETURN(auto m,
                        requests().RedeemVerify(request_id, token, code, request.remote_address));
    json orgs = json::array();
    for (const auto& o : m.orgs) {
      orgs.push_back({{"org_id", o.org_id},
                      {"name", o.name},
                      {"last_epoch", o.last_epoch},
                      {"key_version", o.key_version},
                      {"recovery_public_key", B64(o.recovery_public_key)},
                      {"statements", StatementsJson(o.statements)}});
    }
    return http::JsonResponse(
        200, {{"account_id", m.account_id},
              {"email", m.email},
              {"epoch", m.epoch},
              {"wrapped_vault_key", B64(m.wrapped_vault_key)},
              {"link_share", B64(m.link_share)},
              {"server_part", B64(m.server_part.span())},
              {"ticket", B64(m.ticket.span())},
              {"ticket_expires_at", FormatRfc3339(m.ticket_expires_at)},
              {"kdf_minimum", KdfJson(m.kdf_minimum.ops, m.kdf_minimum.mem)},
              {"orgs", std::move(orgs)},
              {"kind", core::RequestKindName(m.kind)},
              {"snapshot", m.snapshot ? SnapshotJson(*m.snapshot) : json(nullptr)}});
  }

  Result<Response> Complete(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(
        auto f, Fields::FromBody(request, {"ticket", "new_kdf", "new_salt", "new_auth_key",
                                           "new_wrapped_vault_key", "escrows", "restore_items"}));
    core::RecoveryCompletion c;
    KW_ASSIGN_OR_RETURN(c.ticket, SecretKey(f, "ticket"));
    KW_ASSIGN_OR_RETURN(c.new_kdf, f.Kdf("new_kdf"));
    KW_ASSIGN_OR_RETURN(c.new_salt, f.Binary("new_salt", crypto::kSaltSize, crypto::kSaltSize));
    KW_ASSIGN_OR_RETURN(c.new_auth_key, f.AuthKey("new_auth_key"));
    KW_ASSIGN_OR_RETURN(c.new_wrapped_vault_key,
                        f.Binary("new_wrapped_vault_key", 1, core::kEscrowBlobMax));
    KW_ASSIGN_OR_RETURN(c.escrows, OrgEscrowUploads(f, "escrows", kMaxRedeemEscrows));
    c.remote_address = request.remote_address;
    if (f.Has("restore_items")) {
      KW_ASSIGN_OR_RETURN(int64_t n, f.Count("restore_items"));
      c.restore_items = n;
    }
    KW_TRY(requests().Complete(c));
    return http::NoContent();
  }

  // A restore's link being redeemed: the snapshot and the staging, with the
  // ticket of /verify instead of a session.
  Result<Response> RedeemSnapshotPart(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"ticket", "n"}));
    KW_ASSIGN_OR_RETURN(auto ticket, SecretKey(f, "ticket"));
    KW_ASSIGN_OR_RETURN(int64_t n, f.Count("n"));
    if (n >= core::kSnapshotMaxParts) return Fail(core::InvalidField("n"));
    KW_ASSIGN_OR_RETURN(auto data, ctx_.core.restores.SnapshotPartWithTicket(
                                       ticket, static_cast<uint32_t>(n), request.remote_address));
    return http::JsonResponse(200, {{"n", n}, {"data", B64(data)}});
  }

  Result<Response> RedeemStage(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"ticket", "items"}));
    KW_ASSIGN_OR_RETURN(auto ticket, SecretKey(f, "ticket"));
    KW_ASSIGN_OR_RETURN(auto items, StagedItemsFrom(f, ctx_.core.config().item_max_bytes));
    KW_TRY(ctx_.core.restores.StageWithTicket(ticket, items, request.remote_address));
    return http::NoContent();
  }

  // ---- a new device asks the recovery admins (core/device_requests.h) ----
  Result<Response> DeviceSubmit(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(
        auto f, Fields::FromBody(request, {"sso_ticket", "device", "device_public_key", "claim"}));
    core::DeviceRequestSubmission s;
    KW_ASSIGN_OR_RETURN(s.sso_ticket, f.Binary("sso_ticket", 32, 32));
    KW_ASSIGN_OR_RETURN(s.device, DeviceFrom(f));
    KW_ASSIGN_OR_RETURN(s.device_public_key, f.Binary("device_public_key", 32, 32));
    KW_ASSIGN_OR_RETURN(s.claim, SecretKey(f, "claim"));
    s.remote_address = request.remote_address;
    KW_ASSIGN_OR_RETURN(auto submitted, ctx_.core.device_requests.Submit(s));
    return http::JsonResponse(201, {{"request_id", submitted.request_id},
                                    {"org_name", submitted.org_name},
                                    {"expires_at", FormatRfc3339(submitted.expires_at)}});
  }

  Result<Response> DeviceOpen(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"request_id", "claim"}));
    KW_ASSIGN_OR_RETURN(auto request_id, f.String("request_id"));
    KW_ASSIGN_OR_RETURN(auto claim, SecretKey(f, "claim"));
    KW_ASSIGN_OR_RETURN(auto state,
                        ctx_.core.device_requests.Open(request_id, claim, request.remote_address));
    const core::RecoveryRequest& r = state.request;
    json grant = nullptr;
    if (state.grant) {
      const auto& g = *state.grant;
      grant = {{"account_id", r.account_id},
               {"email", g.email},
               {"epoch", g.epoch},
               {"wrapped_vault_key", B64(g.wrapped_vault_key)},
               {"device_admin_share", B64(g.admin_share)},
               {"device_server_share", B64(g.server_share)},
               {"org",
                {{"org_id", g.org.org_id},
                 {"name", g.org.name},
                 {"last_epoch", g.org.last_epoch},
                 {"key_version", g.org.key_version},
                 {"recovery_public_key", B64(g.org.recovery_public_key)},
                 {"statements", StatementsJson(g.org.statements)}}}};
    }
    return http::JsonResponse(200, {{"request_id", r.id},
                                    {"status", core::RequestStatusName(r.status)},
                                    {"expires_at", FormatRfc3339(r.expires_at)},
                                    {"quorum", state.quorum},
                                    {"approvals", state.approvals},
                                    {"decline_reason", OrNull(r.decline_reason)},
                                    {"grant", std::move(grant)}});
  }

  Result<Response> DeviceComplete(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(
        auto f, Fields::FromBody(request, {"request_id", "claim", "device_type", "sign_public_key",
                                           "wrapped_vault_key"}));
    core::DeviceCompletion c;
    KW_ASSIGN_OR_RETURN(c.request_id, f.String("request_id"));
    KW_ASSIGN_OR_RETURN(c.claim, SecretKey(f, "claim"));
    KW_ASSIGN_OR_RETURN(auto device_type, f.String("device_type"));
    KW_ASSIGN_OR_RETURN(c.sign_public_key, f.Binary("sign_public_key", 32, 32));
    KW_ASSIGN_OR_RETURN(c.wrapped_vault_key,
                        f.Binary("wrapped_vault_key", core::kEscrowBlobMin, core::kEscrowBlobMax));
    c.remote_address = request.remote_address;
    KW_TRY(ctx_.core.device_requests.Complete(c, device_type));
    return http::NoContent();
  }

  RouteContext ctx_;
};

}  // namespace

void AddRequestRoutes(http::Router& router, RouteContext ctx) {
  RequestRoutes(ctx).Register(router);
}

}  // namespace keyward::api
