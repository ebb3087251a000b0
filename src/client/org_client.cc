// OrgClient (include/keyward/org.h): docs/api.md "Organizations" on top of
// Client::CallJson, with every key made, sealed and verified here.
#include <algorithm>

#include <fmt/format.h>

#include "client/org_json.h"
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
  if (auto s = protocol::CheckId(org_id); !s) return Fail(s.error());
  return fmt::format("/v1/orgs/{}{}", org_id, rest);
}

Result<std::string> MemberPath(std::string_view org_id, std::string_view member_id,
                               std::string_view rest = {}) {
  if (auto s = protocol::CheckId(member_id); !s) return Fail(s.error());
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
    auto v = protocol::VerifyOrgStatement(ToSigned(s), current, now);
    if (!v) return Fail(v.error());
    if (chain.key_version == 0 || chain.keys[chain.key_version] != v->statement.org_public_key) {
      ++chain.key_version;
      chain.keys[chain.key_version] = v->statement.org_public_key;
    }
    current = v->next_pin;
    chain.last = std::move(*v);
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
  auto first = protocol::DecodeOrgStatement(statements.front().statement);
  if (!first) return Fail(first.error());
  return protocol::PinOnFirstUse(org_id, first->signing_public_key);
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
  auto kv = U64(j, "key_version");
  if (!kv) return Fail(kv.error());
  page.key_version = *kv;
  auto pending = U64(j, "pending");
  if (!pending) return Fail(pending.error());
  page.pending = *pending;
  auto it = j.find(ToSecretString("escrows"));
  if (it == j.end() || !it->is_array()) return Fail(BadResponse("has no 'escrows'"));
  for (const Json& e : *it) {
    PendingShare s;
    auto id = JsonString(e, "account_id");
    if (!id) return Fail(id.error());
    s.account_id = *id;
    auto epoch = U64(e, "epoch");
    if (!epoch) return Fail(epoch.error());
    s.epoch = *epoch;
    auto from = U64(e, "key_version");
    if (!from) return Fail(from.error());
    s.key_version = *from;
    auto share = JsonBase64(e, "admin_share");
    if (!share) return Fail(share.error());
    s.admin_share = std::move(*share);
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
  auto path = OrgPath(org_id, fmt::format("/grant?key_version={}", key_version));
  if (!path) return Fail(path.error());
  auto r = client.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  GrantBlobs g;
  auto kv = U64(*r, "key_version");
  if (!kv) return Fail(kv.error());
  if (*kv != key_version) return Fail(BadResponse("names another key version"));
  g.key_version = *kv;
  auto rg = JsonBase64(*r, "recovery_grant");
  if (!rg) return Fail(rg.error());
  g.recovery_grant = std::move(*rg);
  if (auto it = r->find(ToSecretString("signing_grant")); it != r->end() && !it->is_null()) {
    auto sg = JsonBase64(*r, "signing_grant");
    if (!sg) return Fail(sg.error());
    g.signing_grant = std::move(*sg);
  }
  return g;
}

Result<crypto::BoxKeyPair> OpenOrgKey(Client& client, const MemberKeys& me, std::string_view org_id,
                                      uint64_t key_version,
                                      std::span<const uint8_t> org_public_key) {
  auto grant = FetchGrant(client, org_id, key_version);
  if (!grant) return Fail(grant.error());
  return protocol::OpenGrant(me.key_pair, grant->recovery_grant, org_id, me.account_id, key_version,
                             org_public_key);
}

Result<crypto::SignKeyPair> OpenSigningKey(Client& client, const MemberKeys& me,
                                           const VerifiedOrg& org) {
  auto grant = FetchGrant(client, org.org.id, org.org.key_version);
  if (!grant) return Fail(grant.error());
  if (grant->signing_grant.empty()) {
    return Fail(Error::PermissionDenied(
        "org.no_signing_grant",
        "only owners and admins hold the organization signing key, and you hold none"));
  }
  return protocol::OpenSigningGrant(me.key_pair, grant->signing_grant, org.org.id, me.account_id,
                                    org.org.key_version, org.statement.signing_public_key);
}

// Every statement from version 1, verified from the first (self-signed) one
// and required to end at the statement the caller verified against its pin:
// then the older recovery keys it returns are authentic too.
Result<VerifiedChain> VerifiedHistory(Client& client, const VerifiedOrg& org) {
  auto path = OrgPath(org.org.id, "/statements?after=0");
  if (!path) return Fail(path.error());
  auto r = client.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  auto statements = ParseStatements(*r, "statements");
  if (!statements) return Fail(statements.error());
  auto pin = FirstUsePin(org.org.id, *statements);
  if (!pin) return Fail(pin.error());
  // The served history may run past what the caller verified: cut it there.
  std::vector<SignedStatement> upto;
  for (auto& s : *statements) {
    if (s.version <= org.next_pin.version) upto.push_back(std::move(s));
  }
  auto chain = VerifyEach(upto, *pin, Now());
  if (!chain) return Fail(chain.error());
  if (chain->last.next_pin.version != org.next_pin.version ||
      !crypto::ConstantTimeEqual(chain->last.next_pin.statement_digest,
                                 org.next_pin.statement_digest)) {
    return Fail(Error::PermissionDenied(
        "org.statement_conflict",
        "the organization's statement history does not lead to the statement you verified"));
  }
  return chain;
}

Result<crypto::Bytes> ServerRecoveryKey(Client& client) {
  auto info = client.GetServerInfo();
  if (!info) return Fail(info.error());
  if (info->recovery_public_key.size() != 32) {
    return Fail(Error::Unavailable("server.recovery_key_missing",
                                   "the server has no recovery key; escrow is not possible"));
  }
  return std::move(info->recovery_public_key);
}

}  // namespace

// ---- create, read, verify ----

Result<VerifiedOrg> OrgClient::Create(std::string_view name) {
  const std::string org_id = crypto::RandomArgSafeId(16);
  const crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
  const crypto::BoxKeyPair recovery = crypto::GenerateBoxKeyPair();
  auto policy = protocol::EncodePolicy(protocol::RecoveryPolicy{});
  if (!policy) return Fail(policy.error());
  const protocol::OrgStatement st{org_id,  1,    signer.public_key, recovery.public_key,
                                  *policy, Now()};
  auto signed_st = protocol::SignOrgStatement(st, signer);
  if (!signed_st) return Fail(signed_st.error());
  auto grant = protocol::CreateGrant(me_.key_pair.public_key, recovery, org_id, me_.account_id, 1);
  if (!grant) return Fail(grant.error());
  auto signing_grant =
      protocol::CreateSigningGrant(me_.key_pair.public_key, signer, org_id, me_.account_id, 1);
  if (!signing_grant) return Fail(signing_grant.error());

  Json body = Json::object();
  body["id"] = Str(org_id);
  body["name"] = Str(name);
  body = StatementFields(std::move(body), *signed_st);
  body["grant"] = GrantJson(1, *grant, *signing_grant);
  auto r = client_.CallJson("POST", "/v1/orgs", body);
  if (!r) return Fail(r.error());
  auto org = ParseOrg(*r);
  if (!org) return Fail(org.error());

  auto pin = protocol::PinOnFirstUse(org_id, signer.public_key);
  if (!pin) return Fail(pin.error());
  auto verified = protocol::VerifyOrgStatement(*signed_st, *pin, Now());
  if (!verified) return Fail(verified.error());
  if (auto s = protocol::CheckOrgPublicKey(verified->statement, org->recovery_public_key); !s) {
    return Fail(s.error());
  }
  return MakeVerified(std::move(*org), std::move(*verified));
}

Result<std::vector<Org>> OrgClient::List() {
  auto r = client_.CallJson("GET", "/v1/orgs");
  if (!r) return Fail(r.error());
  auto it = r->find(ToSecretString("orgs"));
  if (it == r->end() || !it->is_array()) return Fail(BadResponse("has no 'orgs'"));
  std::vector<Org> out;
  for (const Json& j : *it) {
    auto o = ParseOrg(j);
    if (!o) return Fail(o.error());
    out.push_back(std::move(*o));
  }
  return out;
}

Result<Org> OrgClient::Get(std::string_view org_id) {
  auto path = OrgPath(org_id);
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  auto org = ParseOrg(*r);
  if (!org) return Fail(org.error());
  if (org->id != org_id) return Fail(BadResponse("names another organization"));
  return org;
}

Result<VerifiedOrg> OrgClient::Verify(std::string_view org_id, const protocol::OrgPin& pin) {
  if (pin.org_id != org_id) return Fail(NotPinned(org_id));
  auto org = Get(org_id);
  if (!org) return Fail(org.error());
  // From the pinned version itself (re-verified: same digest), so that there
  // is always a statement to read pk_org and the policy from.
  const uint64_t after = pin.version > 0 ? pin.version - 1 : 0;
  auto path = OrgPath(org_id, fmt::format("/statements?after={}", after));
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  auto statements = ParseStatements(*r, "statements");
  if (!statements) return Fail(statements.error());
  auto verified = VerifyStatements(org_id, *statements, &pin, org->recovery_public_key);
  if (!verified) return Fail(verified.error());
  return MakeVerified(std::move(*org), std::move(*verified));
}

// ---- invites and joining ----

Result<OrgInvite> OrgClient::Invite(std::string_view org_id, std::string_view email,
                                    std::string_view role, std::string_view permissions) {
  auto path = OrgPath(org_id, "/invites");
  if (!path) return Fail(path.error());
  Json body = Json::object();
  body["email"] = Str(email);
  body["role"] = Str(role);
  body["permissions"] = Str(permissions);
  auto r = client_.CallJson("POST", *path, body);
  if (!r) return Fail(r.error());
  return ParseInvite(*r);
}

Result<InviteInfo> OrgClient::LookupInvite(const crypto::SecureBytes& token) {
  Json body = Json::object();
  body["token"] = Json(ToSecretString(token));
  auto r = client_.CallJson("POST", "/v1/invites/lookup", body);
  if (!r) return Fail(r.error());
  return ParseInviteInfo(*r);
}

Result<VerifiedOrg> OrgClient::Join(const crypto::SecureBytes& token, const InviteInfo& info,
                                    std::optional<std::string> expected_fingerprint, bool enroll) {
  if (auto s = protocol::CheckId(info.org_id); !s) return Fail(s.error());
  auto pin = FirstUsePin(info.org_id, info.statements);
  if (!pin) return Fail(pin.error());
  if (expected_fingerprint &&
      crypto::Fingerprint(pin->signing_public_key) != *expected_fingerprint) {
    return Fail(Error::PermissionDenied(
        "org.fingerprint_mismatch",
        "the organization's signing key does not have the fingerprint you were given; do not "
        "join, and tell the organization's admin"));
  }
  auto chain = VerifyEach(info.statements, *pin, Now());
  if (!chain) return Fail(chain.error());
  auto policy = protocol::ParsePolicy(chain->last.statement.policy_json);
  if (!policy) return Fail(policy.error());
  const bool mandatory = policy->enrollment == protocol::Enrollment::kMandatory;
  if (enroll && !mandatory && policy->enrollment == protocol::Enrollment::kDisabled) {
    return Fail(Error::Conflict("org.enrollment_disabled",
                                "account recovery is turned off in this organization"));
  }
  Json body = Json::object();
  body["token"] = Json(ToSecretString(token));
  if (enroll || mandatory) {
    auto server_pk = ServerRecoveryKey(client_);
    if (!server_pk) return Fail(server_pk.error());
    // A new membership starts at epoch 1 (removal deletes the old one).
    auto escrow = protocol::CreateEscrow(vault_key_, info.org_id, me_.account_id, 1,
                                         chain->last.statement.org_public_key, *server_pk);
    if (!escrow) return Fail(escrow.error());
    body["escrow"] = EscrowJson(*escrow, chain->key_version);
  }
  auto r = client_.CallJson("POST", "/v1/invites/accept", body);
  if (!r) return Fail(r.error());
  auto org = ParseOrg(*r);
  if (!org) return Fail(org.error());
  if (org->id != info.org_id) return Fail(BadResponse("names another organization"));
  if (auto s = protocol::CheckOrgPublicKey(chain->last.statement, org->recovery_public_key); !s) {
    return Fail(s.error());
  }
  return MakeVerified(std::move(*org), std::move(chain->last));
}

// ---- members ----

Result<MemberList> OrgClient::Members(std::string_view org_id) {
  auto path = OrgPath(org_id, "/members");
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  MemberList list;
  auto members = r->find(ToSecretString("members"));
  if (members == r->end() || !members->is_array()) return Fail(BadResponse("has no 'members'"));
  for (const Json& j : *members) {
    auto m = ParseMember(j);
    if (!m) return Fail(m.error());
    list.members.push_back(std::move(*m));
  }
  if (auto invites = r->find(ToSecretString("invites"));
      invites != r->end() && invites->is_array()) {
    for (const Json& j : *invites) {
      auto i = ParseInvite(j);
      if (!i) return Fail(i.error());
      list.invites.push_back(std::move(*i));
    }
  }
  return list;
}

Result<OrgMember> OrgClient::FindMember(std::string_view org_id, std::string_view id_or_email) {
  auto list = Members(org_id);
  if (!list) return Fail(list.error());
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  };
  const std::string wanted = lower(id_or_email);
  for (auto& m : list->members) {
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
  if (auto s = protocol::CheckPublicKey(confirmed_public_key); !s) return Fail(s.error());
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
  auto member_key = ConfirmedKey(member, confirmed_public_key);
  if (!member_key) return Fail(member_key.error());
  const uint64_t kv = org.org.key_version;
  auto blobs = FetchGrant(client, org.org.id, kv);
  if (!blobs) return Fail(blobs.error());
  auto org_key = protocol::OpenGrant(me.key_pair, blobs->recovery_grant, org.org.id, me.account_id,
                                     kv, org.statement.org_public_key);
  if (!org_key) return Fail(org_key.error());
  auto grant = protocol::CreateGrant(*member_key, *org_key, org.org.id, member.account_id, kv);
  if (!grant) return Fail(grant.error());
  crypto::Bytes signing_grant;
  if (HoldsSigningKey(role) && !blobs->signing_grant.empty()) {
    auto signer = protocol::OpenSigningGrant(me.key_pair, blobs->signing_grant, org.org.id,
                                             me.account_id, kv, org.statement.signing_public_key);
    if (!signer) return Fail(signer.error());
    auto sg = protocol::CreateSigningGrant(*member_key, *signer, org.org.id, member.account_id, kv);
    if (!sg) return Fail(sg.error());
    signing_grant = std::move(*sg);
  }
  return GrantJson(kv, *grant, signing_grant);
}

}  // namespace

Status OrgClient::SetRole(const VerifiedOrg& org, std::string_view member_id, std::string_view role,
                          std::string_view permissions,
                          std::span<const uint8_t> confirmed_public_key) {
  auto path = MemberPath(org.org.id, member_id, "/role");
  if (!path) return Fail(path.error());
  Json body = Json::object();
  body["role"] = Str(role);
  body["permissions"] = Str(permissions);
  if (IsRecoveryAdminRole(role, permissions)) {
    auto member = FindMember(org.org.id, member_id);
    if (!member) return Fail(member.error());
    if (RoleChangeNeedsGrant(org, *member, role, permissions)) {
      auto grant = GrantFor(client_, me_, org, *member, role, confirmed_public_key);
      if (!grant) return Fail(grant.error());
      body["grant"] = std::move(*grant);
    }
  }
  auto r = client_.CallJson("PUT", *path, body);
  if (!r) return Fail(r.error());
  return {};
}

Status OrgClient::GrantRecovery(const VerifiedOrg& org, std::string_view member_id,
                                std::span<const uint8_t> confirmed_public_key) {
  auto path = MemberPath(org.org.id, member_id, "/grant");
  if (!path) return Fail(path.error());
  auto member = FindMember(org.org.id, member_id);
  if (!member) return Fail(member.error());
  auto grant = GrantFor(client_, me_, org, *member, member->role, confirmed_public_key);
  if (!grant) return Fail(grant.error());
  Json body = Json::object();
  body["grant"] = std::move(*grant);
  auto r = client_.CallJson("POST", *path, body);
  if (!r) return Fail(r.error());
  return {};
}

Status OrgClient::Revoke(std::string_view org_id, std::string_view member_id) {
  auto path = MemberPath(org_id, member_id, "/revoke");
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("POST", *path, Json::object());
  if (!r) return Fail(r.error());
  return {};
}

Status OrgClient::Restore(std::string_view org_id, std::string_view member_id) {
  auto path = MemberPath(org_id, member_id, "/restore");
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("POST", *path, Json::object());
  if (!r) return Fail(r.error());
  return {};
}

Status OrgClient::Remove(std::string_view org_id, std::string_view member_id) {
  auto path = MemberPath(org_id, member_id);
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("DELETE", *path);
  if (!r) return Fail(r.error());
  return {};
}

// ---- policy ----

Result<VerifiedOrg> OrgClient::SetPolicy(const VerifiedOrg& org,
                                         const protocol::RecoveryPolicy& policy) {
  auto policy_json = protocol::EncodePolicy(policy);
  if (!policy_json) return Fail(policy_json.error());
  auto signer = OpenSigningKey(client_, me_, org);
  if (!signer) return Fail(signer.error());
  protocol::OrgStatement st = org.statement;
  st.version += 1;
  st.policy_json = *policy_json;
  st.not_before = Now();
  auto signed_st = protocol::SignOrgStatement(st, *signer);
  if (!signed_st) return Fail(signed_st.error());
  auto path = OrgPath(org.org.id, "/policy");
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("PUT", *path, StatementFields(Json::object(), *signed_st));
  if (!r) return Fail(r.error());
  auto updated = ParseOrg(*r);
  if (!updated) return Fail(updated.error());
  auto verified = protocol::VerifyOrgStatement(*signed_st, org.next_pin, Now());
  if (!verified) return Fail(verified.error());
  if (auto s = protocol::CheckOrgPublicKey(verified->statement, updated->recovery_public_key); !s) {
    return Fail(s.error());
  }
  return MakeVerified(std::move(*updated), std::move(*verified));
}

// ---- enrollment ----

Result<protocol::Escrow> OrgClient::MakeEscrow(const VerifiedOrg& org, uint64_t epoch) {
  if (auto s = protocol::CheckOrgPublicKey(org.statement, org.org.recovery_public_key); !s) {
    return Fail(s.error());
  }
  auto server_pk = ServerRecoveryKey(client_);
  if (!server_pk) return Fail(server_pk.error());
  return protocol::CreateEscrow(vault_key_, org.org.id, me_.account_id, epoch,
                                org.statement.org_public_key, *server_pk);
}

Result<Enrollment> OrgClient::Enroll(const VerifiedOrg& org, const crypto::AuthKey& auth_key) {
  if (org.org.policy.enrollment == protocol::Enrollment::kDisabled) {
    return Fail(Error::Conflict("org.enrollment_disabled",
                                "account recovery is turned off in this organization"));
  }
  auto path = OrgPath(org.org.id, "/enrollment");
  if (!path) return Fail(path.error());
  auto current = client_.CallJson("GET", *path);
  if (!current) return Fail(current.error());
  auto state = ParseEnrollment(*current);
  if (!state) return Fail(state.error());
  // The next epoch follows the last one ever used (kept by the server through
  // withdrawal); an older server reports only the current one.
  uint64_t last = state->epoch;
  if (auto v = U64(*current, "last_epoch")) last = std::max(last, *v);
  auto escrow = MakeEscrow(org, last + 1);
  if (!escrow) return Fail(escrow.error());
  Json body = Json::object();
  body["auth_key"] = SecretB64(auth_key.span());
  body["escrow"] = EscrowJson(*escrow, org.org.key_version);
  auto r = client_.CallJson("PUT", *path, body);
  if (!r) return Fail(r.error());
  return ParseEnrollment(*r);
}

Status OrgClient::Withdraw(std::string_view org_id, const crypto::AuthKey& auth_key) {
  auto path = OrgPath(org_id, "/enrollment");
  if (!path) return Fail(path.error());
  Json body = Json::object();
  body["auth_key"] = SecretB64(auth_key.span());
  auto r = client_.CallJson("DELETE", *path, body);
  if (!r) return Fail(r.error());
  return {};
}

Result<Enrollment> OrgClient::GetEnrollment(std::string_view org_id) {
  auto path = OrgPath(org_id, "/enrollment");
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  return ParseEnrollment(*r);
}

// ---- key rotation ----

namespace {

Result<RotationPage> FetchRotationPage(Client& client, std::string_view org_id,
                                       std::string_view after, int limit) {
  std::string query = fmt::format("/rotation?limit={}", limit);
  if (!after.empty()) query += "&after=" + PercentEncode(after);
  auto path = OrgPath(org_id, query);
  if (!path) return Fail(path.error());
  auto r = client.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  return ParseRotationPage(*r);
}

Error NoGrantFor(uint64_t key_version) {
  return Error::Conflict(
      "org.rotation_in_progress",
      fmt::format("a key rotation is in progress and you hold no grant for key version {}; an "
                  "admin who holds both the old and the new key must finish it",
                  key_version));
}

}  // namespace

Result<RotationResult> OrgClient::RotateKey(const VerifiedOrg& org, const ProgressFn& progress,
                                            const MemberKeyCheck& trusted) {
  const std::string& org_id = org.org.id;
  auto state = FetchRotationPage(client_, org_id, "", 1);
  if (!state) return Fail(state.error());
  if (state->key_version != org.org.key_version) {
    return Fail(Error::Conflict(
        "org.key_version_mismatch",
        "the organization's key changed since it was verified; run the command again"));
  }
  RotationResult result;
  std::optional<crypto::BoxKeyPair> old_key;
  crypto::Bytes new_public_key;
  uint64_t old_version = 0;

  if (state->pending > 0) {
    // Finish the interrupted rotation: shares still sealed to the old key
    // move to the current one, which the verified statement names.
    old_version = state->escrows.empty() ? state->key_version - 1 : state->escrows[0].key_version;
    if (old_version == 0 || old_version >= state->key_version) {
      return Fail(BadResponse("lists a pending escrow under the current key"));
    }
    auto history = VerifiedHistory(client_, org);
    if (!history) return Fail(history.error());
    auto old_pk = history->keys.find(old_version);
    if (old_pk == history->keys.end()) {
      return Fail(BadResponse("names a key version the statements do not have"));
    }
    auto opened = OpenOrgKey(client_, me_, org_id, old_version, old_pk->second);
    if (!opened) {
      if (opened.error().code() == "org.grant_not_found") return Fail(NoGrantFor(old_version));
      return Fail(opened.error());
    }
    auto current =
        OpenOrgKey(client_, me_, org_id, state->key_version, org.statement.org_public_key);
    if (!current) {
      if (current.error().code() == "org.grant_not_found") {
        return Fail(NoGrantFor(state->key_version));
      }
      return Fail(current.error());
    }
    old_key = std::move(*opened);
    new_public_key = org.statement.org_public_key;
    result.key_version = state->key_version;
    result.resumed = true;
  } else {
    old_version = org.org.key_version;
    const uint64_t new_version = old_version + 1;
    auto opened = OpenOrgKey(client_, me_, org_id, old_version, org.statement.org_public_key);
    if (!opened) return Fail(opened.error());
    auto signer = OpenSigningKey(client_, me_, org);
    if (!signer) return Fail(signer.error());
    const crypto::BoxKeyPair next = crypto::GenerateBoxKeyPair();
    protocol::OrgStatement st = org.statement;
    st.version += 1;
    st.org_public_key = next.public_key;
    st.not_before = Now();
    auto signed_st = protocol::SignOrgStatement(st, *signer);
    if (!signed_st) return Fail(signed_st.error());

    auto members = Members(org_id);
    if (!members) return Fail(members.error());
    Json grants = Json::array();
    bool self_included = false;
    auto add_grant = [&](std::string_view account_id, std::span<const uint8_t> public_key,
                         bool signing) -> Status {
      auto grant = protocol::CreateGrant(public_key, next, org_id, account_id, new_version);
      if (!grant) return Fail(grant.error());
      crypto::Bytes signing_grant;
      if (signing) {
        auto sg =
            protocol::CreateSigningGrant(public_key, *signer, org_id, account_id, new_version);
        if (!sg) return Fail(sg.error());
        signing_grant = std::move(*sg);
      }
      Json entry = Json::object();
      entry["account_id"] = Str(account_id);
      entry["grant"] = GrantJson(new_version, *grant, signing_grant);
      grants.push_back(std::move(entry));
      return {};
    };
    for (const OrgMember& m : members->members) {
      const bool self = m.account_id == me_.account_id;
      if (!self && (m.status != "active" || !m.recovery_admin ||
                    m.grant_key_version < old_version || m.public_key.size() != 32)) {
        continue;
      }
      if (self) {
        self_included = true;
      } else {
        // The server chose this list: seal only to keys the caller vouches for.
        bool ok = false;
        if (trusted) {
          auto answer = trusted(m);
          if (!answer) return Fail(answer.error());
          ok = *answer;
        }
        if (!ok) {
          result.not_granted.push_back(m);
          continue;
        }
      }
      const std::span<const uint8_t> pk =
          self ? std::span<const uint8_t>(me_.key_pair.public_key) : m.public_key;
      if (auto s = add_grant(m.account_id, pk, self || HoldsSigningKey(m.role)); !s) {
        return Fail(s.error());
      }
    }
    if (!self_included) {
      if (auto s = add_grant(me_.account_id, me_.key_pair.public_key, true); !s) {
        return Fail(s.error());
      }
    }
    Json body = StatementFields(Json::object(), *signed_st);
    body["grants"] = std::move(grants);
    auto path = OrgPath(org_id, "/rotation");
    if (!path) return Fail(path.error());
    auto r = client_.CallJson("POST", *path, body);
    if (!r) return Fail(r.error());
    old_key = std::move(*opened);
    new_public_key = next.public_key;
    result.key_version = new_version;
  }

  // Re-wrap, one page at a time, keyset-paged by account id.
  std::string after;
  uint64_t done = 0;
  uint64_t total = 0;
  bool first = true;
  for (;;) {
    auto page = FetchRotationPage(client_, org_id, after, kRotationPage);
    if (!page) return Fail(page.error());
    if (first) {
      total = page->pending;
      first = false;
      if (progress) progress(0, total);
    }
    if (page->escrows.empty()) break;
    for (const PendingShare& s : page->escrows) {
      if (s.key_version != old_version) {
        return Fail(BadResponse("lists escrows under more than one old key"));
      }
    }
    auto rewrapped = RewrapShares(*old_key, new_public_key, org_id, page->escrows);
    if (!rewrapped) return Fail(rewrapped.error());
    Json list = Json::array();
    for (const RewrappedShare& s : *rewrapped) {
      Json e = Json::object();
      e["account_id"] = Str(s.account_id);
      e["epoch"] = s.epoch;
      e["from_key_version"] = s.from_key_version;
      e["admin_share"] = B64(s.admin_share);
      list.push_back(std::move(e));
    }
    Json body = Json::object();
    body["escrows"] = std::move(list);
    auto path = OrgPath(org_id, "/rotation/escrows");
    if (!path) return Fail(path.error());
    auto r = client_.CallJson("POST", *path, body);
    if (!r) return Fail(r.error());
    if (auto v = U64(*r, "updated")) result.rewrapped += *v;
    if (auto v = U64(*r, "skipped")) result.skipped += *v;
    done += page->escrows.size();
    if (progress) progress(done, std::max(total, done));
    after = page->escrows.back().account_id;
    if (page->escrows.size() < static_cast<size_t>(kRotationPage)) break;
  }
  return result;
}

// ---- admin-reset mode ----

Result<AdminResetResult> OrgClient::ResetPassword(const VerifiedOrg& org,
                                                  std::string_view member_id) {
  const std::string& org_id = org.org.id;
  auto begin_path = MemberPath(org_id, member_id, "/reset/begin");
  if (!begin_path) return Fail(begin_path.error());
  auto begin = client_.CallJson("POST", *begin_path, Json::object());
  if (!begin) return Fail(begin.error());
  auto epoch = U64(*begin, "epoch");
  if (!epoch) return Fail(epoch.error());
  auto key_version = U64(*begin, "key_version");
  if (!key_version) return Fail(key_version.error());
  auto wrapped = JsonBase64(*begin, "wrapped_vault_key");
  if (!wrapped) return Fail(wrapped.error());
  auto admin_share = JsonBase64(*begin, "admin_share");
  if (!admin_share) return Fail(admin_share.error());
  auto server_part_text = JsonSecret(*begin, "server_part");
  if (!server_part_text) return Fail(server_part_text.error());
  auto server_part = crypto::Base64UrlDecodeSecret(server_part_text->view());
  if (!server_part || server_part->size() != crypto::GenericKey::kSize) {
    return Fail(BadResponse("has an invalid 'server_part'"));
  }

  // The share may still be under the previous key during a rotation.
  crypto::Bytes org_pk = org.statement.org_public_key;
  if (*key_version != org.org.key_version) {
    auto history = VerifiedHistory(client_, org);
    if (!history) return Fail(history.error());
    auto it = history->keys.find(*key_version);
    if (it == history->keys.end()) {
      return Fail(BadResponse("names a key version the statements do not have"));
    }
    org_pk = it->second;
  }
  auto org_key = OpenOrgKey(client_, me_, org_id, *key_version, org_pk);
  if (!org_key) return Fail(org_key.error());
  auto a = protocol::OpenAdminShare(*org_key, *admin_share, org_id, member_id, *epoch);
  if (!a) return Fail(a.error());
  auto uk = protocol::RecoverVaultKey(*a, crypto::GenericKey(std::move(*server_part)), *wrapped,
                                      org_id, member_id, *epoch);
  if (!uk) return Fail(uk.error());

  auto info = client_.GetServerInfo();
  if (!info) return Fail(info.error());
  if (info->recovery_public_key.size() != 32) {
    return Fail(Error::Unavailable("server.recovery_key_missing",
                                   "the server has no recovery key; escrow is not possible"));
  }
  auto password = GeneratePassword();
  if (!password) return Fail(password.error());
  const crypto::KdfParams kdf = RegistrationKdf(info->kdf_minimum);
  const crypto::Bytes salt = crypto::RandomBytes(crypto::kSaltSize);
  auto keys = DeriveAccountKeys(*password, salt, kdf);
  if (!keys) return Fail(keys.error());
  auto escrow = protocol::CreateEscrow(*uk, org_id, member_id, *epoch + 1,
                                       org.statement.org_public_key, info->recovery_public_key);
  if (!escrow) return Fail(escrow.error());

  Json body = Json::object();
  body["new_kdf"] = KdfToJson(kdf);
  body["new_salt"] = B64(salt);
  body["new_auth_key"] = SecretB64(keys->auth.span());
  body["new_wrapped_vault_key"] = B64(WrapVaultKey(keys->enc, member_id, *uk));
  body["escrow"] = EscrowJson(*escrow, org.org.key_version);
  auto path = MemberPath(org_id, member_id, "/reset");
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("POST", *path, body);
  if (!r) return Fail(r.error());
  return AdminResetResult{std::move(*password)};
}

Status OrgClient::ResetTwoFactor(std::string_view org_id, std::string_view member_id) {
  auto path = MemberPath(org_id, member_id, "/2fa/reset");
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("POST", *path, Json::object());
  if (!r) return Fail(r.error());
  return {};
}

// ---- master password change ----

Result<std::vector<EscrowForOrg>> OrgClient::FreshEscrows(
    const std::map<std::string, protocol::OrgPin>& pins) {
  auto orgs = List();
  if (!orgs) return Fail(orgs.error());
  std::vector<EscrowForOrg> out;
  for (const Org& o : *orgs) {
    if (!o.enrollment.enrolled()) continue;
    auto pin = pins.find(o.id);
    if (pin == pins.end()) return Fail(NotPinned(o.id));
    auto verified = Verify(o.id, pin->second);
    if (!verified) return Fail(verified.error());
    auto escrow = MakeEscrow(*verified, o.enrollment.epoch + 1);
    if (!escrow) return Fail(escrow.error());
    out.push_back(EscrowForOrg{o.id, verified->org.key_version, std::move(*escrow)});
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
  auto path = OrgPath(org_id, query);
  if (!path) return Fail(path.error());
  auto r = client_.CallJson("GET", *path);
  if (!r) return Fail(r.error());
  auto events = r->find(ToSecretString("events"));
  if (events == r->end() || !events->is_array()) return Fail(BadResponse("has no 'events'"));
  EventPage page;
  for (const Json& j : *events) {
    auto rec = ParseEvent(j, org_id);
    if (!rec) return Fail(rec.error());
    page.records.push_back(std::move(*rec));
  }
  if (auto next = r->find(ToSecretString("next_after")); next != r->end() && !next->is_null()) {
    auto v = U64(*r, "next_after");
    if (!v) return Fail(v.error());
    page.next_after = *v;
  }
  return page;
}

Result<std::vector<protocol::audit::Record>> OrgClient::AllEvents(std::string_view org_id) {
  std::vector<protocol::audit::Record> out;
  EventQuery q;
  q.limit = kEventPage;
  for (;;) {
    auto page = Events(org_id, q);
    if (!page) return Fail(page.error());
    for (auto& rec : page->records) out.push_back(std::move(rec));
    if (!page->next_after || *page->next_after <= q.after) break;
    q.after = *page->next_after;
  }
  return out;
}

}  // namespace keyward::client
