#include "client/org_json.h"

#include <chrono>

#include <fmt/format.h>

#include "common/try.h"
#include "keyward/client.h"

namespace keyward::client::org_json {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json SecretB64(std::span<const uint8_t> bytes) {
  crypto::SecureBytes text = SecretBase64Url(bytes);
  return Json(ToSecretString(text));
}

std::string Text(const Json& j, std::string_view key) {
  auto v = JsonString(j, key);
  return v ? *v : std::string();
}

Error BadResponse(std::string_view what) {
  return Error::Unavailable("server.bad_response", fmt::format("the server's answer {}", what));
}

Result<uint64_t> U64(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto v, JsonInt(j, key));
  if (v < 0) return Fail(BadResponse(fmt::format("has a negative '{}'", key)));
  return static_cast<uint64_t>(v);
}

Json B64(std::span<const uint8_t> bytes) { return Str(crypto::Base64UrlEncode(bytes)); }

Result<Enrollment> ParseEnrollment(const Json& j) {
  Enrollment e;
  KW_ASSIGN_OR_RETURN(auto state, JsonString(j, "state"));
  if (state != "enrolled" && state != "not_enrolled") {
    return Fail(BadResponse("has an unknown enrollment state"));
  }
  e.state = state;
  if (auto v = U64(j, "epoch")) e.epoch = *v;
  if (auto v = U64(j, "key_version")) e.key_version = *v;
  return e;
}

Result<SignedStatement> ParseStatement(const Json& j) {
  SignedStatement s;
  KW_ASSIGN_OR_RETURN(auto version, U64(j, "version"));
  s.version = version;
  KW_ASSIGN_OR_RETURN(auto st, JsonBase64(j, "statement"));
  s.statement = std::move(st);
  KW_ASSIGN_OR_RETURN(auto sig, JsonBase64(j, "signature"));
  s.signature = std::move(sig);
  return s;
}

Result<std::vector<SignedStatement>> ParseStatements(const Json& j, std::string_view key) {
  auto it = j.is_object() ? j.find(ToSecretString(key)) : j.end();
  if (it == j.end() || !it->is_array()) return Fail(BadResponse(fmt::format("has no '{}'", key)));
  std::vector<SignedStatement> out;
  for (const Json& s : *it) {
    KW_ASSIGN_OR_RETURN(auto parsed, ParseStatement(s));
    out.push_back(std::move(parsed));
  }
  return out;
}

Result<Org> ParseOrg(const Json& j) {
  Org o;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "id"));
  o.id = id;
  o.name = Text(j, "name");
  o.role = Text(j, "role");
  o.permissions = Text(j, "permissions");
  o.status = Text(j, "status");
  o.created_at = Text(j, "created_at");
  KW_ASSIGN_OR_RETURN(auto kv, U64(j, "key_version"));
  o.key_version = kv;
  KW_ASSIGN_OR_RETURN(auto sv, U64(j, "statement_version"));
  o.statement_version = sv;
  KW_ASSIGN_OR_RETURN(auto pk, JsonBase64(j, "recovery_public_key"));
  o.recovery_public_key = std::move(pk);
  // Display only: the policy that counts is the one in the verified statement.
  if (auto it = j.find(ToSecretString("policy")); it != j.end() && it->is_object()) {
    const SecretString text = it->dump();
    if (auto p = protocol::ParsePolicy(std::string_view(text.data(), text.size()))) {
      o.policy = std::move(*p);
    }
  }
  if (auto it = j.find(ToSecretString("enrollment")); it != j.end() && it->is_object()) {
    if (auto e = ParseEnrollment(*it)) o.enrollment = std::move(*e);
  }
  return o;
}

Result<OrgMember> ParseMember(const Json& j) {
  OrgMember m;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "account_id"));
  m.account_id = id;
  m.email = Text(j, "email");
  m.role = Text(j, "role");
  m.permissions = Text(j, "permissions");
  m.status = Text(j, "status");
  m.joined_at = Text(j, "joined_at");
  if (auto pk = JsonBase64(j, "public_key")) m.public_key = std::move(*pk);
  if (auto it = j.find(ToSecretString("enrollment")); it != j.end() && it->is_object()) {
    if (auto e = ParseEnrollment(*it)) m.enrollment = std::move(*e);
  }
  if (auto v = JsonBool(j, "recovery_admin")) m.recovery_admin = *v;
  if (auto v = U64(j, "grant_key_version")) m.grant_key_version = *v;
  return m;
}

Result<OrgInvite> ParseInvite(const Json& j) {
  OrgInvite i;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "id"));
  i.id = id;
  i.email = Text(j, "email");
  i.role = Text(j, "role");
  i.permissions = Text(j, "permissions");
  i.expires_at = Text(j, "expires_at");
  return i;
}

Result<InviteInfo> ParseInviteInfo(const Json& j) {
  InviteInfo info;
  info.invite_id = Text(j, "invite_id");
  auto it = j.find(ToSecretString("org"));
  if (it == j.end() || !it->is_object()) return Fail(BadResponse("has no 'org'"));
  KW_ASSIGN_OR_RETURN(auto org_id, JsonString(*it, "id"));
  info.org_id = org_id;
  info.org_name = Text(*it, "name");
  info.role = Text(j, "role");
  info.permissions = Text(j, "permissions");
  info.email = Text(j, "email");
  info.expires_at = Text(j, "expires_at");
  KW_ASSIGN_OR_RETURN(auto statements, ParseStatements(j, "statements"));
  info.statements = std::move(statements);
  return info;
}

Result<protocol::audit::Record> ParseEvent(const Json& j, std::string_view org_id) {
  protocol::audit::Record r;
  KW_ASSIGN_OR_RETURN(auto seq, U64(j, "seq"));
  r.event.seq = seq;
  r.event.org_id = std::string(org_id);
  KW_ASSIGN_OR_RETURN(auto type, JsonString(j, "type"));
  r.event.type = type;
  r.event.actor_id = Text(j, "actor_id");
  r.event.target_id = Text(j, "target_id");
  r.event.device_id = Text(j, "device_id");
  KW_ASSIGN_OR_RETURN(auto time, JsonInt(j, "time"));
  r.event.time = time;
  if (auto it = j.find(ToSecretString("details")); it != j.end()) {
    if (!it->is_object()) return Fail(BadResponse("has event details that are not an object"));
    for (auto d = it->begin(); d != it->end(); ++d) {
      if (!d.value().is_string()) return Fail(BadResponse("has a non-string event detail"));
      const SecretString& k = d.key();
      const SecretString& v = d.value().get_ref<const SecretString&>();
      r.event.details.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
  }
  KW_ASSIGN_OR_RETURN(auto hash, JsonBase64(j, "hash"));
  if (hash.size() != r.hash.size()) return Fail(BadResponse("has an event hash of the wrong size"));
  std::copy(hash.begin(), hash.end(), r.hash.begin());
  return r;
}

Json DeviceJson(const DeviceIdentity& device) {
  Json out = Json::object();
  out["id"] = Str(device.id);
  out["name"] = Str(device.name);
  out["type"] = Str(device.type);
  return out;
}

Json EscrowJson(const protocol::Escrow& escrow, uint64_t key_version) {
  Json j = Json::object();
  j["epoch"] = escrow.epoch;
  j["key_version"] = key_version;
  j["wrapped_vault_key"] = B64(escrow.wrapped_vault_key);
  j["admin_share"] = B64(escrow.admin_share);
  j["server_share"] = B64(escrow.server_share);
  return j;
}

Json GrantJson(uint64_t key_version, std::span<const uint8_t> recovery_grant,
               std::span<const uint8_t> signing_grant) {
  Json j = Json::object();
  j["key_version"] = key_version;
  j["recovery_grant"] = B64(recovery_grant);
  if (!signing_grant.empty()) j["signing_grant"] = B64(signing_grant);
  return j;
}

Result<protocol::VerifiedOrgStatement> VerifyStatements(
    std::string_view org_id, std::span<const SignedStatement> statements,
    const protocol::OrgPin* pin, std::span<const uint8_t> offered_org_public_key) {
  std::vector<protocol::SignedOrgStatement> chain;
  protocol::OrgPin start;
  if (pin != nullptr) {
    if (pin->version > 0 && (statements.empty() || statements.back().version < pin->version)) {
      return Fail(Error::PermissionDenied(
          "org.statement_rollback",
          fmt::format("the server no longer serves statement version {} of organization {}, "
                      "which this device accepted earlier; refusing an older one",
                      pin->version, org_id)));
    }
    for (const SignedStatement& s : statements) {
      if (s.version >= pin->version) chain.push_back({s.statement, s.signature});
    }
    start = *pin;
  } else {
    if (statements.empty()) {
      return Fail(Error::PermissionDenied(
          "org.statement_unsigned", "the server sent no signed statement for the organization"));
    }
    // Only the signing key is read before verification: the first statement
    // must then verify under it (it is self-signed).
    KW_ASSIGN_OR_RETURN(auto first, protocol::DecodeOrgStatement(statements.front().statement));
    KW_ASSIGN_OR_RETURN(auto tofu, protocol::PinOnFirstUse(org_id, first.signing_public_key));
    start = std::move(tofu);
    for (const SignedStatement& s : statements) chain.push_back({s.statement, s.signature});
  }
  KW_ASSIGN_OR_RETURN(auto verified, protocol::VerifyOrgStatementChain(chain, start, Now()));
  KW_TRY(protocol::CheckOrgPublicKey(verified.statement, offered_org_public_key));
  return verified;
}

}  // namespace keyward::client::org_json
