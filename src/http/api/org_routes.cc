// docs/api.md "Organizations": organizations, statements, policy, members,
// invites, roles, grants and the event log. Decode, call core, encode.
#include <charconv>

#include "common/clock.h"
#include "core/events.h"
#include "core/org_members.h"
#include "core/orgs.h"
#include "core/validation.h"
#include "http/api/json_fields.h"
#include "http/api/route_support.h"

namespace keyward::api {

namespace {

using http::PathParams;
using http::Request;
using http::Response;
using nlohmann::json;

// ---- encoding ----

json InviteJson(const core::OrgInvite& i) {
  return {{"id", i.id},
          {"email", i.email},
          {"role", i.role},
          {"permissions", i.permissions},
          {"expires_at", FormatRfc3339(i.expires_at)}};
}

json MemberJson(const core::MemberView& m) {
  return {{"account_id", m.member.account_id},
          {"email", m.email},
          {"role", m.member.role},
          {"permissions", m.member.permissions},
          {"status", core::MemberStatusName(m.member.status)},
          {"joined_at", FormatRfc3339(m.member.joined_at)},
          {"public_key", B64(m.public_key)},
          {"enrollment", EnrollmentJson(m.enrollment)},
          {"recovery_admin", m.recovery_admin},
          {"grant_key_version", m.grant_key_version}};
}

json GrantJson(const core::OrgGrant& g) {
  return {{"key_version", g.key_version},
          {"recovery_grant", B64(g.recovery_grant)},
          {"signing_grant", g.signing_grant.empty() ? json() : json(B64(g.signing_grant))}};
}

json EventJson(const core::OrgEvent& e) {
  return {{"seq", e.seq},
          {"type", e.type},
          {"actor_id", e.actor_id},
          {"target_id", e.target_id},
          {"device_id", e.device_id},
          {"time", e.time},
          {"at", FormatRfc3339(e.time)},
          {"details", e.details},
          {"hash", B64(e.hash)}};
}

// ---- decoding ----

Result<core::GrantUpload> GrantFrom(const Fields& f, std::string_view name) {
  KW_ASSIGN_OR_RETURN(Fields g, f.Object(name, {"key_version", "recovery_grant", "signing_grant"}));
  return GrantUploadFrom(g);
}

constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

bool IsEventType(std::string_view type) {
  if (type.size() < 3 || type.size() > 64) return false;
  for (char c : type) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

Result<core::EventQuery> EventQueryFrom(const Request& request) {
  core::EventQuery q;
  KW_ASSIGN_OR_RETURN(q.after, QueryNumber(request, "after", 0, 0, kMaxSafeInteger));
  KW_ASSIGN_OR_RETURN(uint64_t limit, QueryNumber(request, "limit", core::kDefaultEventPage, 1,
                                                  core::kMaxEventPage));
  q.limit = static_cast<int64_t>(limit);
  q.filter.type = request.QueryParam("type");
  if (!q.filter.type.empty() && !IsEventType(q.filter.type)) {
    return Fail(core::InvalidQuery("type"));
  }
  q.filter.actor_id = request.QueryParam("actor");
  if (!q.filter.actor_id.empty() && !core::IsValidAccountId(q.filter.actor_id)) {
    return Fail(core::InvalidQuery("actor"));
  }
  q.filter.target_id = request.QueryParam("target");
  if (!q.filter.target_id.empty() && !core::IsValidAccountId(q.filter.target_id)) {
    return Fail(core::InvalidQuery("target"));
  }
  for (auto [name, slot] : {std::pair{"since", &q.filter.since}, {"until", &q.filter.until}}) {
    const std::string text = request.QueryParam(name);
    if (text.empty()) continue;
    auto time = core::ParseRfc3339(text);
    if (!time) return Fail(core::InvalidQuery(name));
    *slot = *time;
  }
  return q;
}

// ---- routes ----

class OrgRoutes {
 public:
  explicit OrgRoutes(RouteContext ctx) : ctx_(ctx) {}

  Result<Response> CreateOrg(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(
        auto f, Fields::FromBody(request, {"id", "name", "statement", "signature", "grant"}));
    core::NewOrg org;
    KW_ASSIGN_OR_RETURN(org.id, f.String("id"));
    KW_ASSIGN_OR_RETURN(org.name, f.String("name"));
    KW_ASSIGN_OR_RETURN(auto signed_statement, SignedStatementFrom(f));
    org.statement = std::move(signed_statement.statement);
    org.signature = std::move(signed_statement.signature);
    KW_ASSIGN_OR_RETURN(org.grant, GrantFrom(f, "grant"));
    KW_ASSIGN_OR_RETURN(auto view, ctx_.core.orgs.Create(caller, org));
    return http::JsonResponse(201, OrgJson(view));
  }

  Result<Response> ListOrgs(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller,
                        Authenticate(ctx_.core, request, Access::kWhilePasswordChangeRequired));
    KW_ASSIGN_OR_RETURN(auto views, ctx_.core.orgs.List(caller));
    json orgs = json::array();
    for (const auto& v : views) orgs.push_back(OrgJson(v));
    return http::JsonResponse(200, {{"orgs", std::move(orgs)}});
  }

  Result<Response> GetOrg(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller,
                        Authenticate(ctx_.core, request, Access::kWhilePasswordChangeRequired));
    KW_ASSIGN_OR_RETURN(auto view, ctx_.core.orgs.Get(caller, p.at("org")));
    return http::JsonResponse(200, OrgJson(view));
  }

  Result<Response> Statements(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller,
                        Authenticate(ctx_.core, request, Access::kWhilePasswordChangeRequired));
    KW_ASSIGN_OR_RETURN(uint64_t after, QueryNumber(request, "after", 0, 0, kMaxSafeInteger));
    KW_ASSIGN_OR_RETURN(auto rows, ctx_.core.orgs.Statements(caller, p.at("org"), after));
    return http::JsonResponse(200, {{"statements", StatementsJson(rows)}});
  }

  Result<Response> ChangePolicy(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"statement", "signature"}));
    KW_ASSIGN_OR_RETURN(auto signed_statement, SignedStatementFrom(f));
    KW_ASSIGN_OR_RETURN(auto view,
                        ctx_.core.orgs.ChangePolicy(caller, p.at("org"), signed_statement));
    return http::JsonResponse(200, OrgJson(view));
  }

  Result<Response> ListMembers(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto list, ctx_.core.members.List(caller, p.at("org")));
    json members = json::array();
    for (const auto& m : list.members) members.push_back(MemberJson(m));
    json invites = json::array();
    for (const auto& i : list.invites) invites.push_back(InviteJson(i));
    return http::JsonResponse(200,
                              {{"members", std::move(members)}, {"invites", std::move(invites)}});
  }

  Result<Response> Invite(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email", "role", "permissions"}));
    core::NewInvite invite;
    KW_ASSIGN_OR_RETURN(invite.email, f.String("email"));
    KW_ASSIGN_OR_RETURN(invite.role, f.String("role"));
    KW_ASSIGN_OR_RETURN(invite.permissions, f.String("permissions"));
    KW_ASSIGN_OR_RETURN(auto stored, ctx_.core.members.Invite(caller, p.at("org"), invite));
    return http::JsonResponse(201, InviteJson(stored));
  }

  Result<Response> LookupInvite(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"token"}));
    KW_ASSIGN_OR_RETURN(auto token, f.String("token"));
    KW_ASSIGN_OR_RETURN(auto info, ctx_.core.members.LookupInvite(caller, token));
    return http::JsonResponse(200, {{"invite_id", info.invite.id},
                                    {"org", {{"id", info.invite.org_id}, {"name", info.org_name}}},
                                    {"role", info.invite.role},
                                    {"permissions", info.invite.permissions},
                                    {"email", info.invite.email},
                                    {"expires_at", FormatRfc3339(info.invite.expires_at)},
                                    {"statements", StatementsJson(info.statements)}});
  }

  Result<Response> AcceptInvite(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"token", "escrow"}));
    KW_ASSIGN_OR_RETURN(auto token, f.String("token"));
    std::optional<core::EscrowUpload> escrow;
    if (f.Has("escrow")) {
      KW_ASSIGN_OR_RETURN(escrow, ParseEscrowUpload(f, "escrow"));
    }
    KW_ASSIGN_OR_RETURN(auto view, ctx_.core.members.AcceptInvite(caller, token, escrow));
    return http::JsonResponse(201, OrgJson(view));
  }

  Result<Response> ChangeRole(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"role", "permissions", "grant"}));
    KW_ASSIGN_OR_RETURN(auto role, f.String("role"));
    KW_ASSIGN_OR_RETURN(auto permissions, f.String("permissions"));
    std::optional<core::GrantUpload> grant;
    if (f.Has("grant")) {
      KW_ASSIGN_OR_RETURN(grant, GrantFrom(f, "grant"));
    }
    KW_TRY(ctx_.core.members.ChangeRole(caller, p.at("org"), p.at("member"), role, permissions,
                                        grant));
    return http::NoContent();
  }

  Result<Response> Grant(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"grant"}));
    KW_ASSIGN_OR_RETURN(auto grant, GrantFrom(f, "grant"));
    KW_TRY(ctx_.core.members.Grant(caller, p.at("org"), p.at("member"), grant));
    return http::NoContent();
  }

  Result<Response> GetGrant(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    std::optional<uint64_t> key_version;
    if (!request.QueryParam("key_version").empty()) {
      KW_ASSIGN_OR_RETURN(key_version, QueryNumber(request, "key_version", 0, 1, kMaxSafeInteger));
    }
    KW_ASSIGN_OR_RETURN(auto grant, ctx_.core.members.GetGrant(caller, p.at("org"), key_version));
    return http::JsonResponse(200, GrantJson(grant));
  }

  Result<Response> Revoke(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_TRY(NoBody(request));
    KW_TRY(ctx_.core.members.Revoke(caller, p.at("org"), p.at("member")));
    return http::NoContent();
  }

  Result<Response> Restore(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_TRY(NoBody(request));
    KW_TRY(ctx_.core.members.Restore(caller, p.at("org"), p.at("member")));
    return http::NoContent();
  }

  Result<Response> Remove(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_TRY(NoBody(request));
    KW_TRY(ctx_.core.members.Remove(caller, p.at("org"), p.at("member")));
    return http::NoContent();
  }

  Result<Response> ListEvents(const Request& request, const PathParams& p) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(ctx_.core, request));
    KW_ASSIGN_OR_RETURN(auto query, EventQueryFrom(request));
    KW_ASSIGN_OR_RETURN(auto page, ctx_.core.events.List(caller, p.at("org"), query));
    json events = json::array();
    for (const auto& e : page.events) events.push_back(EventJson(e));
    return http::JsonResponse(200,
                              {{"events", std::move(events)},
                               {"next_after", page.next_after ? json(*page.next_after) : json()}});
  }

 private:
  RouteContext ctx_;
};

}  // namespace

void AddOrgRoutes(http::Router& router, RouteContext ctx) {
  auto routes = std::make_shared<OrgRoutes>(ctx);
  RouteAdder add(router, routes);
  add("POST", "/v1/orgs", &OrgRoutes::CreateOrg);
  add("GET", "/v1/orgs", &OrgRoutes::ListOrgs);
  add("GET", "/v1/orgs/{org}", &OrgRoutes::GetOrg);
  add("GET", "/v1/orgs/{org}/statements", &OrgRoutes::Statements);
  add("PUT", "/v1/orgs/{org}/policy", &OrgRoutes::ChangePolicy);
  add("GET", "/v1/orgs/{org}/members", &OrgRoutes::ListMembers);
  add("POST", "/v1/orgs/{org}/invites", &OrgRoutes::Invite);
  add("POST", "/v1/invites/lookup", &OrgRoutes::LookupInvite);
  add("POST", "/v1/invites/accept", &OrgRoutes::AcceptInvite);
  add("PUT", "/v1/orgs/{org}/members/{member}/role", &OrgRoutes::ChangeRole);
  add("POST", "/v1/orgs/{org}/members/{member}/grant", &OrgRoutes::Grant);
  add("GET", "/v1/orgs/{org}/grant", &OrgRoutes::GetGrant);
  add("POST", "/v1/orgs/{org}/members/{member}/revoke", &OrgRoutes::Revoke);
  add("POST", "/v1/orgs/{org}/members/{member}/restore", &OrgRoutes::Restore);
  add("DELETE", "/v1/orgs/{org}/members/{member}", &OrgRoutes::Remove);
  add("GET", "/v1/orgs/{org}/events", &OrgRoutes::ListEvents);
}

}  // namespace keyward::api
