// Organization wire objects shared by the org and recovery routes
// (route_support.h).
#include <charconv>

#include "core/events.h"
#include "core/orgs.h"
#include "http/api/route_support.h"

namespace keyward::api {

using nlohmann::json;

namespace {
constexpr size_t kMaxStatementSize = 32 * 1024;  // the policy is at most 16 KiB
constexpr size_t kSignatureSize = 64;
}  // namespace

json EnrollmentJson(const core::EnrollmentState& e) {
  return {{"state", e.enrolled ? "enrolled" : "not_enrolled"},
          {"epoch", e.enrolled ? e.epoch : 0},
          {"key_version", e.enrolled ? e.key_version : 0},
          {"last_epoch", e.last_epoch}};
}

json StatementJson(const core::OrgStatementRow& s) {
  return {{"version", s.version}, {"statement", B64(s.statement)}, {"signature", B64(s.signature)}};
}

json StatementsJson(const std::vector<core::OrgStatementRow>& rows) {
  json out = json::array();
  for (const auto& s : rows) out.push_back(StatementJson(s));
  return out;
}

json OrgJson(const core::OrgView& v) {
  // Stored canonical by the service (protocol::EncodePolicy).
  json policy = json::parse(v.org.policy_json, nullptr, /*allow_exceptions=*/false);
  return {{"id", v.org.id},
          {"name", v.org.name},
          {"role", v.me.role},
          {"permissions", v.me.permissions},
          {"status", core::MemberStatusName(v.me.status)},
          {"key_version", v.org.key_version},
          {"recovery_public_key", B64(v.org.recovery_public_key)},
          {"statement_version", v.org.statement_version},
          {"policy", policy.is_discarded() ? json::object() : std::move(policy)},
          {"enrollment", EnrollmentJson(v.enrollment)},
          {"created_at", FormatRfc3339(v.org.created_at)}};
}

Status NoBody(const http::Request& request) {
  if (request.body.empty()) return {};
  KW_TRY(Fields::FromBody(request, {}));
  return {};
}

Result<uint64_t> QueryNumber(const http::Request& request, std::string_view name, uint64_t fallback,
                             uint64_t min, uint64_t max) {
  const std::string text = request.QueryParam(name);
  if (text.empty()) return fallback;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Fail(core::InvalidQuery(name));
  }
  return value;
}

Result<core::DeviceInfo> DeviceFrom(const Fields& f) {
  KW_ASSIGN_OR_RETURN(auto device, f.Object("device", {"id", "name", "type"}));
  core::DeviceInfo out;
  KW_ASSIGN_OR_RETURN(out.id, device.String("id"));
  KW_ASSIGN_OR_RETURN(out.name, device.String("name"));
  KW_ASSIGN_OR_RETURN(out.type, device.String("type"));
  return out;
}

Result<core::GrantUpload> GrantUploadFrom(const Fields& g) {
  core::GrantUpload out;
  KW_ASSIGN_OR_RETURN(int64_t key_version, g.Count("key_version"));
  out.key_version = static_cast<uint64_t>(key_version);
  KW_ASSIGN_OR_RETURN(out.recovery_grant,
                      g.Binary("recovery_grant", core::kMinGrantSize, core::kMaxGrantSize));
  if (g.Has("signing_grant")) {
    KW_ASSIGN_OR_RETURN(out.signing_grant,
                        g.Binary("signing_grant", core::kMinGrantSize, core::kMaxGrantSize));
  }
  return out;
}

Result<protocol::SignedOrgStatement> SignedStatementFrom(const Fields& f) {
  protocol::SignedOrgStatement out;
  KW_ASSIGN_OR_RETURN(out.statement, f.Binary("statement", 1, kMaxStatementSize));
  KW_ASSIGN_OR_RETURN(out.signature, f.Binary("signature", kSignatureSize, kSignatureSize));
  return out;
}

}  // namespace keyward::api
