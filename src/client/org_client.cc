// OrgClient (include/keyward/org.h): docs/api.md "Organizations" on top of
// Client::CallJson, with every key made, sealed and verified here.
#include <algorithm>

#include <fmt/format.h>

#include "client/org_json.h"
#include "common/try.h"
#include "keyward/client.h"
#include "keyward/org.h"
#include "protocol/binding.h"
#include "protocol/grant.h"

namespace keyward::client {
namespace {

using namespace org_json;

constexpr int kRotationPage = 500;
constexpr int kEventPage = 1000;

Result<std::string> OrgPath(std::string_view org_id, std::string_view rest = {}) {
  KW_TRY(protocol::CheckId(org_id));
  return fmt::format("/v1/orgs/{}{}", org_id, rest);
}

Result<std::string> MemberPath(std::string_view org_id, std::string_view member_id,
                               std::string_view rest = {}) {
  KW_TRY(protocol::CheckId(member_id));
  return OrgPath(org_id, fmt::format("/members/{}{}", member_id, rest));
}

protocol::SignedOrgStatement ToSigned(const SignedStatement& s) {
  return {s.statement, s.signature};
}

Json StatementFields(Json body, const protocol::SignedOrgStatement& s) {
  body["statement"] = B64(s.statement);
  body["signature"] = B64(s.signature);
  return body;
}

// Statements verified one by one from `pin`: the newest, and the recovery
// key each key version had (key versions count pk_org changes, 1 first).
struct VerifiedChain {
  protocol::VerifiedOrgStatement last;
  std::map<uint64_t, crypto::Bytes> keys;  // key_version -> pk_org
  uint64_t key_version = 0;
};

Result<VerifiedChain> VerifyEach(std::span<const SignedStatement> statements,
                                 const protocol::OrgPin& pin, int64_t now) {
  if (statements.empty()) {
    return Fail(Error::PermissionDenied(
        "org.statement_unsigned", "the server sent no signed statement for the organization"));
  }
  VerifiedChain chain;
  protocol::OrgPin current = pin;
  for (const SignedStatement& s : statements) {
    KW_ASSIGN_OR_RETURN(auto v, protocol::VerifyOrgStatement(ToSigned(s), current, now));
    if (chain.key_version == 0 || chain.keys[chain.key_version] != v.statement.org_public_key) {
      ++chain.key_version;
      chain.keys[chain.key_version] = v.statement.org_public_key;
    }
    current = v.next_pin;
    chain.last = std::move(v);
  }
  return chain;
}

Result<protocol::OrgPin> FirstUsePin(std::string_view org_id,
                                     std::span<const SignedStatement> statements) {
  if (statements.empty()) {
    return Fail(Error::PermissionDenied(
        "org.statement_unsigned", "the server sent no signed statement for the organization"));
  }
  // Only the signing key is read before verification: the first statement
  // must then verify under it (it is self-signed), and everything else
  // chains from it.
  KW_ASSIGN_OR_RETURN(auto first, protocol::DecodeOrgStatement(statements.front().statement));
  return protocol::PinOnFirstUse(org_id, first.signing_public_key);
}

VerifiedOrg MakeVerified(Org org, protocol::VerifiedOrgStatement v) {
  VerifiedOrg out;
  if (auto p = protocol::ParsePolicy(v.statement.policy_json)) org.policy = std::move(*p);
  out.org = std::move(org);
  out.signing_fingerprint = crypto::Fingerprint(v.next_pin.signing_public_key);
  out.recovery_fingerprint = crypto::Fingerprint(v.statement.org_public_key);
  out.statement = std::move(v.statement);
  out.next_pin = std::move(v.next_pin);
  return out;
}

Error NotPinned(std::string_view org_id) {
  return Error::PermissionDenied(
      "org.not_pinned",
      fmt::format("no pinned signing key for organization {}: run `keyward org trust {}`", org_id,
                  org_id));
}

struct RotationPage {
  uint64_t key_version = 0;
  uint64_t pending = 0;
  std::vector<PendingShare> escrows;
};

Result<RotationPage> ParseRotationPage(const Json& j) {
  RotationPage page;
  KW_ASSIGN_OR_RETURN(auto kv, U64(j, "key_version"));
  page.key_version = kv;
  KW_ASSIGN_OR_RETURN(auto pending, U64(j, "pending"));
  page.pending = pending;
  auto it = j.find(ToSecretString("escrows"));
  if (it == j.end() || !it->is_array()) return Fail(BadResponse("has no 'escrows'"));
  for (const Json& e : *it) {
    PendingShare s;
    KW_ASSIGN_OR_RETURN(auto id, JsonString(e, "account_id"));
    s.account_id = id;
    KW_ASSIGN_OR_RETURN(auto epoch, U64(e, "epoch"));
    s.epoch = epoch;
    KW_ASSIGN_OR_RETURN(auto from, U64(e, "key_version"));
    s.key_version = from;
    KW_ASSIGN_OR_RETURN(auto share, JsonBase64(e, "admin_share"));
    s.admin_share = std::move(share);
    page.escrows.push_back(std::move(s));
  }
  return page;
}

}  // namespace

bool IsRecoveryAdminRole(std::string_view role, std::string_view permissions) {
  return role == "owner" || role == "admin" ||
         (role == "custom" &&
          permissions.find("manage_account_recovery") != std::string_view::npos);
}

bool HoldsSigningKey(std::string_view role) { return role == "owner" || role == "admin"; }

bool RoleChangeNeedsGrant(const VerifiedOrg& org, const OrgMember& member, std::string_view role,
                          std::string_view permissions) {
  if (!IsRecoveryAdminRole(role, permissions)) return false;
  return member.grant_key_version < org.org.key_version ||
         (HoldsSigningKey(role) && !HoldsSigningKey(member.role));
}

// ---- helpers shared by several operations (file-local via the class) ----

namespace {

struct GrantBlobs {
  uint64_t key_version = 0;
  crypto::Bytes recovery_grant;
  crypto::Bytes signing_grant;  // empty when none
};

Result<GrantBlobs> FetchGrant(Client& client, std::string_view org_id, uint64_t key_version) {
  KW_ASSIGN_OR_RETURN(auto path,
                      OrgPath(org_id, fmt::format("/grant?key_version={}", key_version)));
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("GET", path));
  GrantBlobs g;
  KW_ASSIGN_OR_RETURN(auto kv, U64(r, "key_version"));
  if (kv != key_version) return Fail(BadResponse("names another key version"));
  g.key_version = kv;
  KW_ASSIGN_OR_RETURN(auto rg, JsonBase64(r, "recovery_grant"));
  g.recovery_grant = std::move(rg);
  if (auto it = r.find(ToSecretString("signing_grant")); it != r.end() && !it->is_null()) {
    KW_ASSIGN_OR_RETURN(auto sg, JsonBase64(r, "signing_grant"));
    g.signing_grant = std::move(sg);
  }
  return g;
}

Result<crypto::BoxKeyPair> OpenOrgKey(Client& client, const MemberKeys& me, std::string_view org_id,
                                      uint64_t key_version,
                                      std::span<const uint8_t> org_public_key) {
  KW_ASSIGN_OR_RETURN(auto grant, FetchGrant(client, org_id, key_version));
  return protocol::OpenGrant(me.key_pair, grant.recovery_grant, org_id, me.account_id, key_version,
                             org_public_key);
}

Result<crypto::SignKeyPair> OpenSigningKey(Client& client, const MemberKeys& me,
                                           const VerifiedOrg& org) {
  KW_ASSIGN_OR_RETURN(auto grant, FetchGrant(client, org.org.id, org.org.key_version));
  if (grant.signing_grant.empty()) {
    return Fail(Error::PermissionDenied(
        "org.no_signing_grant",
        "only owners and admins hold the organization signing key, and you hold none"));
  }
  return protocol::OpenSigningGrant(me.key_pair, grant.signing_grant, org.org.id, me.account_id,
                                    org.org.key_version, org.statement.signing_public_key);
}

// Every statement from version 1, verified from the first (self-signed) one
// and required to end at the statement the caller verified against its pin:
// then the older recovery keys it returns are authentic too.
Result<VerifiedChain> VerifiedHistory(Client& client, const VerifiedOrg& org) {
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org.org.id, "/statements?after=0"));
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("GET", path));
  KW_ASSIGN_OR_RETURN(auto statements, ParseStatements(r, "statements"));
  KW_ASSIGN_OR_RETURN(auto pin, FirstUsePin(org.org.id, statements));
  // The served history may run past what the caller verified: cut it there.
  std::vector<SignedStatement> upto;
  for (auto& s : statements) {
    if (s.version <= org.next_pin.version) upto.push_back(std::move(s));
  }
  KW_ASSIGN_OR_RETURN(auto chain, VerifyEach(upto, pin, Now()));
  if (chain.last.next_pin.version != org.next_pin.version ||
      !crypto::ConstantTimeEqual(chain.last.next_pin.statement_digest,
                                 org.next_pin.statement_digest)) {
    return Fail(Error::PermissionDenied(
        "org.statement_conflict",
        "the organization's statement history does not lead to the statement you verified"));
  }
  return chain;
}

Result<crypto::Bytes> ServerRecoveryKey(Client& client) {
  KW_ASSIGN_OR_RETURN(auto info, client.GetServerInfo());
  if (info.recovery_public_key.size() != 32) {
    return Fail(Error::Unavailable("server.recovery_key_missing",
                                   "the server has no recovery key; escrow is not possible"));
  }
  return std::move(info.recovery_public_key);
}

}  // namespace

// ---- create, read, verify ----

Result<VerifiedOrg> OrgClient::Create(std::string_view name) {
  const std::string org_id = crypto::RandomArgSafeId(16);
  const crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  const crypto::BoxKeyPair recovery = crypto::GenerateBoxKeyPair();
  KW_ASSIGN_OR_RETURN(auto policy, protocol::EncodePolicy(protocol::RecoveryPolicy{}));
  const protocol::OrgStatement st{org_id, 1, signer.public_key, recovery.public_key, policy, Now()};
  KW_ASSIGN_OR_RETURN(auto signed_st, protocol::SignOrgStatement(st, signer));
  KW_ASSIGN_OR_RETURN(auto grant, protocol::CreateGrant(me_.key_pair.public_key, recovery, org_id,
                                                        me_.account_id, 1));
  KW_ASSIGN_OR_RETURN(
      auto signing_grant,
      protocol::CreateSigningGrant(me_.key_pair.public_key, signer, org_id, me_.account_id, 1));

  Json body = Json::object();
  body["id"] = Str(org_id);
  body["name"] = Str(name);
  body = StatementFields(std::move(body), signed_st);
  body["grant"] = GrantJson(1, grant, signing_grant);
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", "/v1/orgs", body));
  KW_ASSIGN_OR_RETURN(auto org, ParseOrg(r));

  KW_ASSIGN_OR_RETURN(auto pin, protocol::PinOnFirstUse(org_id, signer.public_key));
  KW_ASSIGN_OR_RETURN(auto verified, protocol::VerifyOrgStatement(signed_st, pin, Now()));
  KW_TRY(protocol::CheckOrgPublicKey(verified.statement, org.recovery_public_key));
  return MakeVerified(std::move(org), std::move(verified));
}

Result<std::vector<Org>> OrgClient::List() {
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", "/v1/orgs"));
  auto it = r.find(ToSecretString("orgs"));
  if (it == r.end() || !it->is_array()) return Fail(BadResponse("has no 'orgs'"));
  std::vector<Org> out;
  for (const Json& j : *it) {
    KW_ASSIGN_OR_RETURN(auto o, ParseOrg(j));
    out.push_back(std::move(o));
  }
  return out;
}

Result<Org> OrgClient::Get(std::string_view org_id) {
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", path));
  KW_ASSIGN_OR_RETURN(auto org, ParseOrg(r));
  if (org.id != org_id) return Fail(BadResponse("names another organization"));
  return org;
}

Result<VerifiedOrg> OrgClient::Verify(std::string_view org_id, const protocol::OrgPin& pin) {
  if (pin.org_id != org_id) return Fail(NotPinned(org_id));
  KW_ASSIGN_OR_RETURN(auto org, Get(org_id));
  // From the pinned version itself (re-verified: same digest), so that there
  // is always a statement to read pk_org and the policy from.
  const uint64_t after = pin.version > 0 ? pin.version - 1 : 0;
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, fmt::format("/statements?after={}", after)));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", path));
  KW_ASSIGN_OR_RETURN(auto statements, ParseStatements(r, "statements"));
  KW_ASSIGN_OR_RETURN(auto verified,
                      VerifyStatements(org_id, statements, &pin, org.recovery_public_key));
  return MakeVerified(std::move(org), std::move(verified));
}

// ---- invites and joining ----

Result<OrgInvite> OrgClient::Invite(std::string_view org_id, std::string_view email,
                                    std::string_view role, std::string_view permissions) {
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, "/invites"));
  Json body = Json::object();
  body["email"] = Str(email);
  body["role"] = Str(role);
  body["permissions"] = Str(permissions);
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", path, body));
  return ParseInvite(r);
}

Result<InviteInfo> OrgClient::LookupInvite(const crypto::SecureBytes& token) {
  Json body = Json::object();
  body["token"] = Json(ToSecretString(token));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", "/v1/invites/lookup", body));
  return ParseInviteInfo(r);
}

Result<VerifiedOrg> OrgClient::Join(const crypto::SecureBytes& token, const InviteInfo& info,
                                    std::optional<std::string> expected_fingerprint, bool enroll) {
  KW_TRY(protocol::CheckId(info.org_id));
  KW_ASSIGN_OR_RETURN(auto pin, FirstUsePin(info.org_id, info.statements));
  if (expected_fingerprint &&
      crypto::Fingerprint(pin.signing_public_key) != *expected_fingerprint) {
    return Fail(Error::PermissionDenied(
        "org.fingerprint_mismatch",
        "the organization's signing key does not have the fingerprint you were given; do not "
        "join, and tell the organization's admin"));
  }
  KW_ASSIGN_OR_RETURN(auto chain, VerifyEach(info.statements, pin, Now()));
  KW_ASSIGN_OR_RETURN(auto policy, protocol::ParsePolicy(chain.last.statement.policy_json));
  const bool mandatory = policy.enrollment == protocol::Enrollment::kMandatory;
  if (enroll && !mandatory && policy.enrollment == protocol::Enrollment::kDisabled) {
    return Fail(Error::Conflict("org.enrollment_disabled",
                                "account recovery is turned off in this organization"));
  }
  Json body = Json::object();
  body["token"] = Json(ToSecretString(token));
  if (enroll || mandatory) {
    KW_ASSIGN_OR_RETURN(auto server_pk, ServerRecoveryKey(client_));
    // A new membership starts at epoch 1 (removal deletes the old one).
    KW_ASSIGN_OR_RETURN(auto escrow,
                        protocol::CreateEscrow(vault_key_, info.org_id, me_.account_id, 1,
                                               chain.last.statement.org_public_key, server_pk));
    body["escrow"] = EscrowJson(escrow, chain.key_version);
  }
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", "/v1/invites/accept", body));
  KW_ASSIGN_OR_RETURN(auto org, ParseOrg(r));
  if (org.id != info.org_id) return Fail(BadResponse("names another organization"));
  KW_TRY(protocol::CheckOrgPublicKey(chain.last.statement, org.recovery_public_key));
  return MakeVerified(std::move(org), std::move(chain.last));
}

// ---- members ----

Result<MemberList> OrgClient::Members(std::string_view org_id) {
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, "/members"));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", path));
  MemberList list;
  auto members = r.find(ToSecretString("members"));
  if (members == r.end() || !members->is_array()) return Fail(BadResponse("has no 'members'"));
  for (const Json& j : *members) {
    KW_ASSIGN_OR_RETURN(auto m, ParseMember(j));
    list.members.push_back(std::move(m));
  }
  if (auto invites = r.find(ToSecretString("invites")); invites != r.end() && invites->is_array()) {
    for (const Json& j : *invites) {
      KW_ASSIGN_OR_RETURN(auto i, ParseInvite(j));
      list.invites.push_back(std::move(i));
    }
  }
  return list;
}

Result<OrgMember> OrgClient::FindMember(std::string_view org_id, std::string_view id_or_email) {
  KW_ASSIGN_OR_RETURN(auto list, Members(org_id));
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  };
  const std::string wanted = lower(id_or_email);
  for (auto& m : list.members) {
    if (m.account_id == id_or_email || lower(m.email) == wanted) return std::move(m);
  }
  return Fail(Error::NotFound("org.member_not_found", "no such member in this organization"));
}

namespace {

// The member's key to seal to: the one the caller confirmed, which the
// server must still list for that member.
Result<crypto::Bytes> ConfirmedKey(const OrgMember& member,
                                   std::span<const uint8_t> confirmed_public_key) {
  if (confirmed_public_key.empty()) {
    return Fail(Error::PermissionDenied(
        "org.member_key_unconfirmed",
        "the member's public key was not confirmed by its fingerprint; nothing was granted"));
  }
  KW_TRY(protocol::CheckPublicKey(confirmed_public_key));
  if (!std::equal(member.public_key.begin(), member.public_key.end(), confirmed_public_key.begin(),
                  confirmed_public_key.end())) {
    return Fail(Error::PermissionDenied(
        "org.member_key_mismatch",
        "the server lists another public key for the member than the one confirmed; nothing was "
        "granted"));
  }
  return crypto::Bytes(confirmed_public_key.begin(), confirmed_public_key.end());
}

// The grant blob JSON for `member` at the org's current key version, sealed
// with the caller's own grants to the member key the caller confirmed.
Result<Json> GrantFor(Client& client, const MemberKeys& me, const VerifiedOrg& org,
                      const OrgMember& member, std::string_view role,
                      std::span<const uint8_t> confirmed_public_key) {
  KW_ASSIGN_OR_RETURN(auto member_key, ConfirmedKey(member, confirmed_public_key));
  const uint64_t kv = org.org.key_version;
  KW_ASSIGN_OR_RETURN(auto blobs, FetchGrant(client, org.org.id, kv));
  KW_ASSIGN_OR_RETURN(auto org_key,
                      protocol::OpenGrant(me.key_pair, blobs.recovery_grant, org.org.id,
                                          me.account_id, kv, org.statement.org_public_key));
  KW_ASSIGN_OR_RETURN(
      auto grant, protocol::CreateGrant(member_key, org_key, org.org.id, member.account_id, kv));
  crypto::Bytes signing_grant;
  if (HoldsSigningKey(role) && !blobs.signing_grant.empty()) {
    KW_ASSIGN_OR_RETURN(auto signer, protocol::OpenSigningGrant(me.key_pair, blobs.signing_grant,
                                                                org.org.id, me.account_id, kv,
                                                                org.statement.signing_public_key));
    KW_ASSIGN_OR_RETURN(auto sg, protocol::CreateSigningGrant(member_key, signer, org.org.id,
                                                              member.account_id, kv));
    signing_grant = std::move(sg);
  }
  return GrantJson(kv, grant, signing_grant);
}

}  // namespace

Status OrgClient::SetRole(const VerifiedOrg& org, std::string_view member_id, std::string_view role,
                          std::string_view permissions,
                          std::span<const uint8_t> confirmed_public_key) {
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org.org.id, member_id, "/role"));
  Json body = Json::object();
  body["role"] = Str(role);
  body["permissions"] = Str(permissions);
  if (IsRecoveryAdminRole(role, permissions)) {
    KW_ASSIGN_OR_RETURN(auto member, FindMember(org.org.id, member_id));
    if (RoleChangeNeedsGrant(org, member, role, permissions)) {
      KW_ASSIGN_OR_RETURN(auto grant,
                          GrantFor(client_, me_, org, member, role, confirmed_public_key));
      body["grant"] = std::move(grant);
    }
  }
  KW_TRY(client_.CallJson("PUT", path, body));
  return {};
}

Status OrgClient::GrantRecovery(const VerifiedOrg& org, std::string_view member_id,
                                std::span<const uint8_t> confirmed_public_key) {
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org.org.id, member_id, "/grant"));
  KW_ASSIGN_OR_RETURN(auto member, FindMember(org.org.id, member_id));
  KW_ASSIGN_OR_RETURN(auto grant,
                      GrantFor(client_, me_, org, member, member.role, confirmed_public_key));
  Json body = Json::object();
  body["grant"] = std::move(grant);
  KW_TRY(client_.CallJson("POST", path, body));
  return {};
}

Status OrgClient::Revoke(std::string_view org_id, std::string_view member_id) {
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org_id, member_id, "/revoke"));
  KW_TRY(client_.CallJson("POST", path, Json::object()));
  return {};
}

Status OrgClient::Restore(std::string_view org_id, std::string_view member_id) {
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org_id, member_id, "/restore"));
  KW_TRY(client_.CallJson("POST", path, Json::object()));
  return {};
}

Status OrgClient::Remove(std::string_view org_id, std::string_view member_id) {
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org_id, member_id));
  KW_TRY(client_.CallJson("DELETE", path));
  return {};
}

// ---- policy ----

Result<VerifiedOrg> OrgClient::SetPolicy(const VerifiedOrg& org,
                                         const protocol::RecoveryPolicy& policy) {
  KW_ASSIGN_OR_RETURN(auto policy_json, protocol::EncodePolicy(policy));
  KW_ASSIGN_OR_RETURN(auto signer, OpenSigningKey(client_, me_, org));
  protocol::OrgStatement st = org.statement;
  st.version += 1;
  st.policy_json = policy_json;
  st.not_before = Now();
  KW_ASSIGN_OR_RETURN(auto signed_st, protocol::SignOrgStatement(st, signer));
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org.org.id, "/policy"));
  KW_ASSIGN_OR_RETURN(auto r,
                      client_.CallJson("PUT", path, StatementFields(Json::object(), signed_st)));
  KW_ASSIGN_OR_RETURN(auto updated, ParseOrg(r));
  KW_ASSIGN_OR_RETURN(auto verified, protocol::VerifyOrgStatement(signed_st, org.next_pin, Now()));
  KW_TRY(protocol::CheckOrgPublicKey(verified.statement, updated.recovery_public_key));
  return MakeVerified(std::move(updated), std::move(verified));
}

// ---- enrollment ----

Result<protocol::Escrow> OrgClient::MakeEscrow(const VerifiedOrg& org, uint64_t epoch) {
  KW_TRY(protocol::CheckOrgPublicKey(org.statement, org.org.recovery_public_key));
  KW_ASSIGN_OR_RETURN(auto server_pk, ServerRecoveryKey(client_));
  return protocol::CreateEscrow(vault_key_, org.org.id, me_.account_id, epoch,
                                org.statement.org_public_key, server_pk);
}

Result<Enrollment> OrgClient::Enroll(const VerifiedOrg& org, const crypto::AuthKey& auth_key) {
  if (org.org.policy.enrollment == protocol::Enrollment::kDisabled) {
    return Fail(Error::Conflict("org.enrollment_disabled",
                                "account recovery is turned off in this organization"));
  }
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org.org.id, "/enrollment"));
  KW_ASSIGN_OR_RETURN(auto current, client_.CallJson("GET", path));
  KW_ASSIGN_OR_RETURN(auto state, ParseEnrollment(current));
  // The next epoch follows the last one ever used (kept by the server through
  // withdrawal); an older server reports only the current one.
  uint64_t last = state.epoch;
  if (auto v = U64(current, "last_epoch")) last = std::max(last, *v);
  KW_ASSIGN_OR_RETURN(auto escrow, MakeEscrow(org, last + 1));
  Json body = Json::object();
  body["auth_key"] = SecretB64(auth_key.span());
  body["escrow"] = EscrowJson(escrow, org.org.key_version);
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("PUT", path, body));
  return ParseEnrollment(r);
}

Status OrgClient::Withdraw(std::string_view org_id, const crypto::AuthKey& auth_key) {
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, "/enrollment"));
  Json body = Json::object();
  body["auth_key"] = SecretB64(auth_key.span());
  KW_TRY(client_.CallJson("DELETE", path, body));
  return {};
}

Result<Enrollment> OrgClient::GetEnrollment(std::string_view org_id) {
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, "/enrollment"));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", path));
  return ParseEnrollment(r);
}

// ---- key rotation ----

namespace {

Result<RotationPage> FetchRotationPage(Client& client, std::string_view org_id,
                                       std::string_view after, int limit) {
  std::string query = fmt::format("/rotation?limit={}", limit);
  if (!after.empty()) query += "&after=" + PercentEncode(after);
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, query));
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("GET", path));
  return ParseRotationPage(r);
}

Error NoGrantFor(uint64_t key_version) {
  return Error::Conflict(
      "org.rotation_in_progress",
      fmt::format("a key rotation is in progress and you hold no grant for key version {}; an "
                  "admin who holds both the old and the new key must finish it",
                  key_version));
}

// Opens the org key of `key_version`; a missing grant means the caller cannot
// finish the rotation in progress.
Result<crypto::BoxKeyPair> OpenRotationKey(Client& client, const MemberKeys& me,
                                           std::string_view org_id, uint64_t key_version,
                                           std::span<const uint8_t> public_key) {
  auto opened = OpenOrgKey(client, me, org_id, key_version, public_key);
  if (!opened) {
    if (opened.error().code() == "org.grant_not_found") return Fail(NoGrantFor(key_version));
    return Fail(opened.error());
  }
  return std::move(*opened);
}

// The keys a rotation re-wraps between: shares sealed to old_key (of
// old_version) move to new_public_key.
struct RotationKeys {
  crypto::BoxKeyPair old_key;
  crypto::Bytes new_public_key;
  uint64_t old_version = 0;
};

// Finish the interrupted rotation: shares still sealed to the old key move to
// the current one, which the verified statement names.
Result<RotationKeys> ResumeRotation(Client& client, const MemberKeys& me, const VerifiedOrg& org,
                                    const RotationPage& state) {
  const std::string& org_id = org.org.id;
  const uint64_t old_version =
      state.escrows.empty() ? state.key_version - 1 : state.escrows[0].key_version;
  if (old_version == 0 || old_version >= state.key_version) {
    return Fail(BadResponse("lists a pending escrow under the current key"));
  }
  KW_ASSIGN_OR_RETURN(auto history, VerifiedHistory(client, org));
  auto old_pk = history.keys.find(old_version);
  if (old_pk == history.keys.end()) {
    return Fail(BadResponse("names a key version the statements do not have"));
  }
  KW_ASSIGN_OR_RETURN(auto old_key,
                      OpenRotationKey(client, me, org_id, old_version, old_pk->second));
  KW_TRY(OpenRotationKey(client, me, org_id, state.key_version, org.statement.org_public_key));
  return RotationKeys{std::move(old_key), org.statement.org_public_key, old_version};
}

// A new rotation's keys: the current org key (opened), the signing key, the
// next org key and the statement naming it, signed.
struct NewRotation {
  crypto::BoxKeyPair old_key;
  crypto::SignKeyPair signer;
  crypto::BoxKeyPair next;
  protocol::SignedOrgStatement signed_statement;
};

Result<NewRotation> PrepareRotation(Client& client, const MemberKeys& me, const VerifiedOrg& org) {
  KW_ASSIGN_OR_RETURN(auto opened, OpenOrgKey(client, me, org.org.id, org.org.key_version,
                                              org.statement.org_public_key));
  KW_ASSIGN_OR_RETURN(auto signer, OpenSigningKey(client, me, org));
  crypto::BoxKeyPair next = crypto::GenerateBoxKeyPair();
  protocol::OrgStatement st = org.statement;
  st.version += 1;
  st.org_public_key = next.public_key;
  st.not_before = Now();
  KW_ASSIGN_OR_RETURN(auto signed_st, protocol::SignOrgStatement(st, signer));
  return NewRotation{std::move(opened), std::move(signer), std::move(next), std::move(signed_st)};
}

// One grants[] entry: the new org key (and, for signers, the signing key)
// sealed to `public_key`.
Result<Json> RotationGrant(const NewRotation& rot, std::string_view org_id, uint64_t new_version,
                           std::string_view account_id, std::span<const uint8_t> public_key,
                           bool signing) {
  KW_ASSIGN_OR_RETURN(auto grant,
                      protocol::CreateGrant(public_key, rot.next, org_id, account_id, new_version));
  crypto::Bytes signing_grant;
  if (signing) {
    KW_ASSIGN_OR_RETURN(auto sg, protocol::CreateSigningGrant(public_key, rot.signer, org_id,
                                                              account_id, new_version));
    signing_grant = std::move(sg);
  }
  Json entry = Json::object();
  entry["account_id"] = Str(account_id);
  entry["grant"] = GrantJson(new_version, grant, signing_grant);
  return entry;
}

// The grants of the new key: the caller, and every active recovery admin
// holding the old key whose public key `trusted` vouches for (the others go
// to result.not_granted).
Result<Json> RotationGrants(const NewRotation& rot, const MemberKeys& me, const VerifiedOrg& org,
                            const MemberList& members, const MemberKeyCheck& trusted,
                            RotationResult& result) {
  const std::string& org_id = org.org.id;
  const uint64_t old_version = org.org.key_version;
  const uint64_t new_version = old_version + 1;
  Json grants = Json::array();
  bool self_included = false;
  for (const OrgMember& m : members.members) {
    const bool self = m.account_id == me.account_id;
    if (!self && (m.status != "active" || !m.recovery_admin || m.grant_key_version < old_version ||
                  m.public_key.size() != 32)) {
      continue;
    }
    if (self) {
      self_included = true;
    } else {
      // The server chose this list: seal only to keys the caller vouches for.
      bool ok = false;
      if (trusted) {
        KW_ASSIGN_OR_RETURN(auto answer, trusted(m));
        ok = answer;
      }
      if (!ok) {
        result.not_granted.push_back(m);
        continue;
      }
    }
    const std::span<const uint8_t> pk =
        self ? std::span<const uint8_t>(me.key_pair.public_key) : m.public_key;
    KW_ASSIGN_OR_RETURN(auto entry, RotationGrant(rot, org_id, new_version, m.account_id, pk,
                                                  self || HoldsSigningKey(m.role)));
    grants.push_back(std::move(entry));
  }
  if (!self_included) {
    KW_ASSIGN_OR_RETURN(auto entry, RotationGrant(rot, org_id, new_version, me.account_id,
                                                  me.key_pair.public_key, true));
    grants.push_back(std::move(entry));
  }
  return grants;
}

// The body of POST /rotation/escrows for one page of re-wrapped shares.
Json RewrappedEscrowsBody(const std::vector<RewrappedShare>& rewrapped) {
  Json list = Json::array();
  for (const RewrappedShare& s : rewrapped) {
    Json e = Json::object();
    e["account_id"] = Str(s.account_id);
    e["epoch"] = s.epoch;
    e["from_key_version"] = s.from_key_version;
    e["admin_share"] = B64(s.admin_share);
    list.push_back(std::move(e));
  }
  Json body = Json::object();
  body["escrows"] = std::move(list);
  return body;
}

// Re-wrap, one page at a time, keyset-paged by account id.
Status RewrapPending(Client& client, std::string_view org_id, const RotationKeys& keys,
                     const ProgressFn& progress, RotationResult& result) {
  std::string after;
  uint64_t done = 0;
  uint64_t total = 0;
  bool first = true;
  for (;;) {
    KW_ASSIGN_OR_RETURN(auto page, FetchRotationPage(client, org_id, after, kRotationPage));
    if (first) {
      total = page.pending;
      first = false;
      if (progress) progress(0, total);
    }
    if (page.escrows.empty()) break;
    for (const PendingShare& s : page.escrows) {
      if (s.key_version != keys.old_version) {
        return Fail(BadResponse("lists escrows under more than one old key"));
      }
    }
    KW_ASSIGN_OR_RETURN(auto rewrapped,
                        RewrapShares(keys.old_key, keys.new_public_key, org_id, page.escrows));
    KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, "/rotation/escrows"));
    KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", path, RewrappedEscrowsBody(rewrapped)));
    if (auto v = U64(r, "updated")) result.rewrapped += *v;
    if (auto v = U64(r, "skipped")) result.skipped += *v;
    done += page.escrows.size();
    if (progress) progress(done, std::max(total, done));
    after = page.escrows.back().account_id;
    if (page.escrows.size() < static_cast<size_t>(kRotationPage)) break;
  }
  return {};
}

}  // namespace

Result<RotationResult> OrgClient::RotateKey(const VerifiedOrg& org, const ProgressFn& progress,
                                            const MemberKeyCheck& trusted) {
  const std::string& org_id = org.org.id;
  KW_ASSIGN_OR_RETURN(auto state, FetchRotationPage(client_, org_id, "", 1));
  if (state.key_version != org.org.key_version) {
    return Fail(Error::Conflict(
        "org.key_version_mismatch",
        "the organization's key changed since it was verified; run the command again"));
  }
  RotationResult result;
  std::optional<RotationKeys> keys;
  if (state.pending > 0) {
    KW_ASSIGN_OR_RETURN(keys, ResumeRotation(client_, me_, org, state));
    result.key_version = state.key_version;
    result.resumed = true;
  } else {
    KW_ASSIGN_OR_RETURN(auto rot, PrepareRotation(client_, me_, org));
    KW_ASSIGN_OR_RETURN(auto members, Members(org_id));
    KW_ASSIGN_OR_RETURN(auto grants, RotationGrants(rot, me_, org, members, trusted, result));
    Json body = StatementFields(Json::object(), rot.signed_statement);
    body["grants"] = std::move(grants);
    KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, "/rotation"));
    KW_TRY(client_.CallJson("POST", path, body));
    result.key_version = org.org.key_version + 1;
    keys = RotationKeys{std::move(rot.old_key), rot.next.public_key, org.org.key_version};
  }
  KW_TRY(RewrapPending(client_, org_id, *keys, progress, result));
  return result;
}

// ---- admin-reset mode ----

Result<AdminResetResult> OrgClient::ResetPassword(const VerifiedOrg& org,
                                                  std::string_view member_id) {
  const std::string& org_id = org.org.id;
  KW_ASSIGN_OR_RETURN(auto begin_path, MemberPath(org_id, member_id, "/reset/begin"));
  KW_ASSIGN_OR_RETURN(auto begin, client_.CallJson("POST", begin_path, Json::object()));
  KW_ASSIGN_OR_RETURN(auto epoch, U64(begin, "epoch"));
  KW_ASSIGN_OR_RETURN(auto key_version, U64(begin, "key_version"));
  KW_ASSIGN_OR_RETURN(auto wrapped, JsonBase64(begin, "wrapped_vault_key"));
  KW_ASSIGN_OR_RETURN(auto admin_share, JsonBase64(begin, "admin_share"));
  KW_ASSIGN_OR_RETURN(auto server_part_text, JsonSecret(begin, "server_part"));
  auto server_part = crypto::Base64UrlDecodeSecret(server_part_text.view());
  if (!server_part || server_part->size() != crypto::GenericKey::kSize) {
    return Fail(BadResponse("has an invalid 'server_part'"));
  }

  // The share may still be under the previous key during a rotation.
  crypto::Bytes org_pk = org.statement.org_public_key;
  if (key_version != org.org.key_version) {
    KW_ASSIGN_OR_RETURN(auto history, VerifiedHistory(client_, org));
    auto it = history.keys.find(key_version);
    if (it == history.keys.end()) {
      return Fail(BadResponse("names a key version the statements do not have"));
    }
    org_pk = it->second;
  }
  KW_ASSIGN_OR_RETURN(auto org_key, OpenOrgKey(client_, me_, org_id, key_version, org_pk));
  KW_ASSIGN_OR_RETURN(auto a,
                      protocol::OpenAdminShare(org_key, admin_share, org_id, member_id, epoch));
  KW_ASSIGN_OR_RETURN(
      auto uk, protocol::RecoverVaultKey(a, crypto::GenericKey(std::move(*server_part)), wrapped,
                                         org_id, member_id, epoch));

  KW_ASSIGN_OR_RETURN(auto info, client_.GetServerInfo());
  if (info.recovery_public_key.size() != 32) {
    return Fail(Error::Unavailable("server.recovery_key_missing",
                                   "the server has no recovery key; escrow is not possible"));
  }
  KW_ASSIGN_OR_RETURN(auto password, GeneratePassword());
  const crypto::KdfParams kdf = RegistrationKdf(info.kdf_minimum);
  const crypto::Bytes salt = crypto::RandomBytes(crypto::kSaltSize);
  KW_ASSIGN_OR_RETURN(auto keys, DeriveAccountKeys(password, salt, kdf));
  KW_ASSIGN_OR_RETURN(
      auto escrow, protocol::CreateEscrow(uk, org_id, member_id, epoch + 1,
                                          org.statement.org_public_key, info.recovery_public_key));

  Json body = Json::object();
  body["new_kdf"] = KdfToJson(kdf);
  body["new_salt"] = B64(salt);
  body["new_auth_key"] = SecretB64(keys.auth.span());
  body["new_wrapped_vault_key"] = B64(WrapVaultKey(keys.enc, member_id, uk));
  body["escrow"] = EscrowJson(escrow, org.org.key_version);
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org_id, member_id, "/reset"));
  KW_TRY(client_.CallJson("POST", path, body));
  return AdminResetResult{std::move(password)};
}

Status OrgClient::ResetTwoFactor(std::string_view org_id, std::string_view member_id) {
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org_id, member_id, "/2fa/reset"));
  KW_TRY(client_.CallJson("POST", path, Json::object()));
  return {};
}

Status OrgClient::UnlinkSso(std::string_view org_id, std::string_view member_id) {
  KW_ASSIGN_OR_RETURN(auto path, MemberPath(org_id, member_id, "/sso"));
  KW_TRY(client_.CallJson("DELETE", path));
  return {};
}

// ---- master password change ----

Result<std::vector<EscrowForOrg>> OrgClient::FreshEscrows(
    const std::map<std::string, protocol::OrgPin>& pins) {
  KW_ASSIGN_OR_RETURN(auto orgs, List());
  std::vector<EscrowForOrg> out;
  for (const Org& o : orgs) {
    if (!o.enrollment.enrolled()) continue;
    auto pin = pins.find(o.id);
    if (pin == pins.end()) return Fail(NotPinned(o.id));
    KW_ASSIGN_OR_RETURN(auto verified, Verify(o.id, pin->second));
    KW_ASSIGN_OR_RETURN(auto escrow, MakeEscrow(verified, o.enrollment.epoch + 1));
    out.push_back(EscrowForOrg{o.id, verified.org.key_version, std::move(escrow)});
  }
  return out;
}

// ---- events ----

Result<EventPage> OrgClient::Events(std::string_view org_id, const EventQuery& q) {
  std::string query = fmt::format("/events?after={}&limit={}", q.after, q.limit);
  auto add = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) query += fmt::format("&{}={}", key, PercentEncode(value));
  };
  add("type", q.type);
  add("actor", q.actor);
  add("target", q.target);
  add("since", q.since);
  add("until", q.until);
  KW_ASSIGN_OR_RETURN(auto path, OrgPath(org_id, query));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", path));
  auto events = r.find(ToSecretString("events"));
  if (events == r.end() || !events->is_array()) return Fail(BadResponse("has no 'events'"));
  EventPage page;
  for (const Json& j : *events) {
    KW_ASSIGN_OR_RETURN(auto rec, ParseEvent(j, org_id));
    page.records.push_back(std::move(rec));
  }
  if (auto next = r.find(ToSecretString("next_after")); next != r.end() && !next->is_null()) {
    KW_ASSIGN_OR_RETURN(auto v, U64(r, "next_after"));
    page.next_after = v;
  }
  return page;
}

Result<std::vector<protocol::audit::Record>> OrgClient::AllEvents(std::string_view org_id) {
  std::vector<protocol::audit::Record> out;
  EventQuery q;
  q.limit = kEventPage;
  for (;;) {
    KW_ASSIGN_OR_RETURN(auto page, Events(org_id, q));
    for (auto& rec : page.records) out.push_back(std::move(rec));
    if (!page.next_after || *page.next_after <= q.after) break;
    q.after = *page.next_after;
  }
  return out;
}

}  // namespace keyward::client
