// Recovery requests (include/keyward/recovery.h): docs/api.md "Recovery
// requests" on top of Client::CallJson, with the link's cryptography
// (docs/protocol.md "Approval and redemption") done here: the approving
// admin's client makes L, T and LA; the redeeming member's client opens LA
// with L, joins it with the server's U and unwraps the vault key. The server
// never sees L, and the admin never sees U.
#include "common/try.h"
#include "keyward/recovery.h"

#include <set>

#include <fmt/format.h>

#include "client/org_json.h"
#include "keyward/client.h"
#include "keyward/snapshot.h"
#include "protocol/binding.h"
#include "protocol/device_share.h"
#include "protocol/escrow.h"
#include "protocol/grant.h"
#include "protocol/link.h"

namespace keyward::client {
namespace {

using namespace org_json;

Result<std::string> RequestsPath(std::string_view org_id, std::string_view rest = {}) {
  KW_TRY(protocol::CheckId(org_id));
  return fmt::format("/v1/orgs/{}/recovery{}", org_id, rest);
}

Result<std::string> RequestPath(std::string_view org_id, std::string_view request_id,
                                std::string_view rest = {}) {
  KW_TRY(protocol::CheckId(request_id));
  return RequestsPath(org_id, fmt::format("/requests/{}{}", request_id, rest));
}

Result<crypto::GenericKey> DecodeKey32(const Json& j, std::string_view key) {
  KW_ASSIGN_OR_RETURN(auto text, JsonSecret(j, key));
  auto bytes = crypto::Base64UrlDecodeSecret(text.view());
  if (!bytes || bytes->size() != crypto::GenericKey::kSize) {
    return Fail(BadResponse(fmt::format("has an invalid '{}'", key)));
  }
  return crypto::GenericKey(std::move(*bytes));
}

}  // namespace

std::optional<std::string> NormalizeFingerprint(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == ' ' || c == ':' || c == '-' || c == '\t') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (hex.size() != 40) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 8) {
    if (!out.empty()) out.push_back(' ');
    out.append(hex, i, 8);
  }
  return out;
}

Status CheckDeviceFingerprint(const RecoveryRequestInfo& request, std::string_view confirmed) {
  if (confirmed.empty()) {
    return Fail(Error::InvalidArgument(
        "device.fingerprint_required",
        fmt::format("this is a new device's request: ask the member to read you the fingerprint "
                    "their device shows and approve with it (the server lists {})",
                    crypto::Fingerprint(request.device_public_key))));
  }
  const std::string listed = crypto::Fingerprint(request.device_public_key);
  const std::optional<std::string> given = NormalizeFingerprint(confirmed);
  if (!given || *given != listed) {
    return Fail(Error::PermissionDenied(
        "device.fingerprint_mismatch",
        "the device key the server lists is not the one the member's device shows: do not "
        "approve; someone may be trying to take over the account"));
  }
  return {};
}

Result<RecoveryRequestInfo> ParseRequestInfo(const Json& j) {
  RecoveryRequestInfo r;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "id"));
  if (!protocol::CheckId(id)) return Fail(BadResponse("has an invalid request id"));
  r.id = id;
  KW_ASSIGN_OR_RETURN(auto org, JsonString(j, "org_id"));
  r.org_id = org;
  KW_ASSIGN_OR_RETURN(auto account, JsonString(j, "account_id"));
  r.account_id = account;
  KW_ASSIGN_OR_RETURN(auto status, JsonString(j, "status"));
  r.status = status;
  r.email = Text(j, "email");
  r.initiated_by = Text(j, "initiated_by");
  if (auto e = U64(j, "epoch")) r.epoch = *e;
  r.device_name = Text(j, "device_name");
  r.remote_address = Text(j, "remote_address");
  r.created_at = Text(j, "created_at");
  r.expires_at = Text(j, "expires_at");
  if (auto q = JsonInt(j, "quorum"); q && *q > 0) r.quorum = static_cast<int>(*q);
  if (auto it = j.find(ToSecretString("approvals")); it != j.end() && it->is_array()) {
    for (const Json& a : *it) {
      r.approvals.push_back({Text(a, "admin_id"), Text(a, "email"), Text(a, "at")});
    }
  }
  r.decided_by = Text(j, "decided_by");
  r.decided_at = Text(j, "decided_at");
  r.decline_reason = Text(j, "decline_reason");
  r.completed_at = Text(j, "completed_at");
  r.kind = Text(j, "kind");
  if (r.kind.empty()) r.kind = "recovery";
  r.snapshot_id = Text(j, "snapshot_id");
  if (auto it = j.find(ToSecretString("link")); it != j.end() && it->is_boolean()) {
    r.link = it->get<bool>();
  }
  if (auto n = U64(j, "item_count")) r.item_count = *n;
  if (r.kind == "device") {
    KW_ASSIGN_OR_RETURN(r.device_public_key, JsonBase64(j, "device_public_key"));
    if (r.device_public_key.size() != 32) {
      return Fail(BadResponse("has an invalid device_public_key"));
    }
  }
  if (auto it = j.find(ToSecretString("escrow")); it != j.end() && it->is_object()) {
    PendingShare share;
    share.account_id = r.account_id;
    KW_ASSIGN_OR_RETURN(auto epoch, U64(*it, "epoch"));
    share.epoch = epoch;
    KW_ASSIGN_OR_RETURN(auto kv, U64(*it, "key_version"));
    share.key_version = kv;
    KW_ASSIGN_OR_RETURN(auto sa, JsonBase64(*it, "admin_share"));
    share.admin_share = std::move(sa);
    r.escrow = std::move(share);
  }
  return r;
}

std::string_view RequestStatusText(std::string_view status) {
  if (status == "pending") return "Pending";
  if (status == "approved") return "Approved";
  if (status == "link_used") return "Link Used";
  if (status == "expired") return "Expired";
  if (status == "declined") return "Declined";
  return status;
}

// ---- the member, not signed in ----

Status AskRecoveryCode(Client& client, std::string_view email, std::string_view device_name,
                       std::string_view intent) {
  if (intent != "submit" && intent != "cancel") {
    return Fail(Error::InvalidArgument("recovery.bad_intent",
                                       "a recovery code is asked to submit or to cancel"));
  }
  Json body = Json::object();
  body["email"] = Str(email);
  body["device_name"] = Str(device_name);
  body["intent"] = Str(intent);
  KW_TRY(client.CallJson("POST", "/v1/recovery/requests", body));
  return {};
}

Status AskRestoreCode(Client& client, std::string_view email, std::string_view device_name,
                      std::string_view snapshot_id) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["device_name"] = Str(device_name);
  body["intent"] = Str("submit");
  body["kind"] = Str("restore");
  if (!snapshot_id.empty()) body["snapshot_id"] = Str(snapshot_id);
  KW_TRY(client.CallJson("POST", "/v1/recovery/requests", body));
  return {};
}

Result<RequestSubmitted> ConfirmRecoveryRequest(Client& client, std::string_view email,
                                                const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["code"] = Json(ToSecretString(code));
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", "/v1/recovery/requests/confirm", body));
  RequestSubmitted out;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(r, "request_id"));
  out.request_id = id;
  out.status = Text(r, "status");
  out.org_name = Text(r, "org_name");
  out.expires_at = Text(r, "expires_at");
  return out;
}

Status ConfirmRecoveryCancel(Client& client, std::string_view email,
                             const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["code"] = Json(ToSecretString(code));
  KW_TRY(client.CallJson("POST", "/v1/recovery/requests/confirm", body));
  return {};
}

// ---- redeeming a link ----

namespace {

// One organization the member is enrolled in, as POST redeem/verify lists it.
struct RedeemOrg {
  std::string org_id;
  std::string name;
  uint64_t last_epoch = 0;
  uint64_t key_version = 0;
  crypto::Bytes recovery_public_key;
  std::vector<SignedStatement> statements;
};

Result<RedeemOrg> ParseRedeemOrg(const Json& j) {
  RedeemOrg o;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "org_id"));
  if (!protocol::CheckId(id)) return Fail(BadResponse("has an invalid organization id"));
  o.org_id = id;
  o.name = Text(j, "name");
  KW_ASSIGN_OR_RETURN(auto last, U64(j, "last_epoch"));
  o.last_epoch = last;
  KW_ASSIGN_OR_RETURN(auto kv, U64(j, "key_version"));
  o.key_version = kv;
  KW_ASSIGN_OR_RETURN(auto pk, JsonBase64(j, "recovery_public_key"));
  o.recovery_public_key = std::move(pk);
  KW_ASSIGN_OR_RETURN(auto statements, ParseStatements(j, "statements"));
  o.statements = std::move(statements);
  return o;
}

// The organization's statements verified against a pin (this device's or
// the link's anchor, from the pinned version on), or, with none, pinned on
// first use from the first one served.
Result<protocol::VerifiedOrgStatement> VerifyRedeemOrg(const RedeemOrg& org,
                                                       const protocol::OrgPin* pin) {
  return VerifyStatements(org.org_id, org.statements, pin, org.recovery_public_key);
}

}  // namespace

Result<UnvouchedOrg> UnvouchedOrgOf(std::string_view org_id, std::string_view name,
                                    std::span<const SignedStatement> statements) {
  if (statements.empty()) {
    return Fail(Error::PermissionDenied(
        "org.statement_unsigned", "the server sent no signed statement for the organization"));
  }
  KW_ASSIGN_OR_RETURN(auto first, protocol::DecodeOrgStatement(statements.front().statement));
  return UnvouchedOrg{std::string(org_id), std::string(name),
                      crypto::Fingerprint(first.signing_public_key)};
}

struct Redemption::State {
  crypto::GenericKey link_secret;  // L
  crypto::GenericKey token;        // T
  bool begun = false;
  // After Verify:
  std::string account_id;
  std::string org_id;                      // the organization whose escrow was opened
  std::optional<protocol::OrgPin> anchor;  // the approving admin's pin of org_id, from LA
  uint64_t epoch = 0;
  std::optional<crypto::VaultKey> vault_key;
  crypto::SecureBytes ticket;
  crypto::KdfParams kdf_minimum;
  std::vector<RedeemOrg> orgs;
  // A restore request: its snapshot, and how many items StageRestore staged.
  bool restore = false;
  std::optional<SnapshotInfo> snapshot;
  std::optional<uint64_t> staged;
  bool completed = false;
};

Redemption::Redemption() : state_(std::make_unique<State>()) {}
Redemption::Redemption(Redemption&&) noexcept = default;
Redemption& Redemption::operator=(Redemption&&) noexcept = default;
Redemption::~Redemption() = default;

Result<Redemption> Redemption::Parse(const crypto::SecureBytes& link_text,
                                     std::string_view server_public_url) {
  std::string_view text = link_text.view();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  KW_ASSIGN_OR_RETURN(auto link, protocol::ParseLinkText(text));
  std::string_view server = server_public_url;
  while (!server.empty() && server.back() == '/') server.remove_suffix(1);
  if (link.public_url != server) {
    return Fail(Error::InvalidArgument(
        "recovery.link_other_server",
        fmt::format("this recovery link is for the server {}, not {}; run the command with "
                    "--server {}",
                    link.public_url, server, link.public_url)));
  }
  Redemption r;
  r.request_id_ = std::move(link.request_id);
  r.state_->token = protocol::DeriveLinkToken(link.link_secret);
  r.state_->link_secret = std::move(link.link_secret);
  return r;
}

Status Redemption::Begin(Client& client) {
  Json body = Json::object();
  body["request_id"] = Str(request_id_);
  body["token"] = SecretB64(state_->token.span());
  KW_TRY(client.CallJson("POST", "/v1/recovery/redeem", body));
  state_->begun = true;
  return {};
}

Status Redemption::Verify(Client& client, const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["request_id"] = Str(request_id_);
  body["token"] = SecretB64(state_->token.span());
  body["code"] = Json(ToSecretString(code));
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", "/v1/recovery/redeem/verify", body));

  KW_ASSIGN_OR_RETURN(auto account, JsonString(r, "account_id"));
  if (!protocol::CheckId(account)) return Fail(BadResponse("has an invalid account id"));
  KW_ASSIGN_OR_RETURN(auto email, JsonString(r, "email"));
  KW_ASSIGN_OR_RETURN(auto epoch, U64(r, "epoch"));
  KW_ASSIGN_OR_RETURN(auto wrapped, JsonBase64(r, "wrapped_vault_key"));
  KW_ASSIGN_OR_RETURN(auto link_share, JsonBase64(r, "link_share"));
  KW_ASSIGN_OR_RETURN(auto server_part, DecodeKey32(r, "server_part"));
  KW_ASSIGN_OR_RETURN(auto ticket, JsonSecret(r, "ticket"));
  KW_ASSIGN_OR_RETURN(auto kdf, JsonKdf(r, "kdf_minimum"));
  std::vector<RedeemOrg> orgs;
  if (auto it = r.find(ToSecretString("orgs")); it != r.end() && it->is_array()) {
    for (const Json& o : *it) {
      KW_ASSIGN_OR_RETURN(auto parsed, ParseRedeemOrg(o));
      orgs.push_back(std::move(parsed));
    }
  } else {
    return Fail(BadResponse("has no 'orgs'"));
  }

  // A = Dec(KL, LA): only the holder of the link's fragment can do this.
  KW_ASSIGN_OR_RETURN(auto opened, protocol::OpenLinkWithAnchor(state_->link_secret, link_share,
                                                                request_id_, account, epoch));
  const crypto::GenericKey& admin_part = opened.admin_part;

  // The escrow is bound to its organization: the one the answer names, else
  // the one of the member's organizations whose binding opens it.
  std::vector<std::string> candidates;
  if (auto org = JsonString(r, "org_id")) {
    candidates.push_back(*org);
  } else {
    for (const RedeemOrg& o : orgs) candidates.push_back(o.org_id);
  }
  for (const std::string& org_id : candidates) {
    if (!protocol::CheckId(org_id)) continue;
    auto uk = protocol::RecoverVaultKey(admin_part, server_part, wrapped, org_id, account, epoch);
    if (!uk) continue;
    state_->vault_key = std::move(*uk);
    state_->org_id = org_id;
    break;
  }
  if (!state_->vault_key) return Fail(protocol::DecryptFailed());
  // The anchor the admin sealed under L names the organization whose escrow
  // this is; anything else was not made by an honest approving client.
  if (opened.anchor && opened.anchor->org_id != state_->org_id) {
    state_->vault_key.reset();
    return Fail(protocol::DecryptFailed());
  }
  state_->anchor = std::move(opened.anchor);

  state_->account_id = account;
  state_->epoch = epoch;
  state_->ticket = std::move(ticket);
  state_->kdf_minimum = kdf;
  state_->orgs = std::move(orgs);
  state_->restore = Text(r, "kind") == "restore";
  if (state_->restore) {
    auto it = r.find(ToSecretString("snapshot"));
    if (it == r.end() || !it->is_object()) return Fail(BadResponse("has no 'snapshot'"));
    KW_ASSIGN_OR_RETURN(auto info, ParseSnapshotInfo(*it));
    state_->snapshot = std::move(info);
  }
  email_ = email;
  return {};
}

bool Redemption::restores() const { return state_->restore; }

const std::string& Redemption::snapshot_id() const {
  static const std::string kNone;
  return state_->snapshot ? state_->snapshot->id : kNone;
}

Result<uint64_t> Redemption::StageRestore(Client& client, const SnapshotProgress& progress) {
  if (!state_->vault_key || !state_->snapshot) {
    return Fail(
        Error::Internal("recovery.not_verified", "the recovery link's code was not verified yet"));
  }
  auto with_ticket = [&] {
    Json body = Json::object();
    body["ticket"] = Json(ToSecretString(state_->ticket));  // as the server gave it
    return body;
  };
  KW_ASSIGN_OR_RETURN(
      auto file, DownloadSnapshot(*state_->snapshot, [&](uint32_t n) -> Result<crypto::Bytes> {
        Json body = with_ticket();
        body["n"] = n;
        KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", "/v1/recovery/redeem/snapshot", body));
        return JsonBase64(r, "data");
      }));
  KW_ASSIGN_OR_RETURN(auto contents, DecodeSnapshot(*state_->vault_key, file, state_->account_id,
                                                    state_->snapshot->id));
  KW_TRY(StageItems(
      contents.items,
      [&](Json items) -> Status {
        Json body = with_ticket();
        body["items"] = std::move(items["items"]);
        auto r = client.CallJson("POST", "/v1/recovery/redeem/stage", body);
        if (!r) return Fail(r.error());
        return {};
      },
      progress));
  state_->staged = contents.items.size();
  return contents.items.size();
}

Result<Redemption::Completed> Redemption::Complete(
    Client& client, const crypto::SecureBytes& new_password,
    const std::map<std::string, protocol::OrgPin>& pins, const ConfirmOrgFn& confirm) {
  if (!state_->vault_key) {
    return Fail(
        Error::Internal("recovery.not_verified", "the recovery link's code was not verified yet"));
  }
  if (state_->completed) {
    return Fail(Error::Conflict("recovery.link_used", "this redemption is already complete"));
  }
  const crypto::VaultKey& uk = *state_->vault_key;
  const std::string& account_id = state_->account_id;

  // Every escrow is sealed to a pk_org verified from a pin the member holds
  // (this device's, or the approving admin's inside LA) or from a signing
  // key whose fingerprint the member confirmed: a server that lists an
  // organization of its own while the member is locked out gets nothing.
  Completed done;
  Json escrows = Json::array();
  std::optional<crypto::Bytes> server_key;
  std::set<std::string> seen;
  for (const RedeemOrg& o : state_->orgs) {
    if (!seen.insert(o.org_id).second) return Fail(BadResponse("lists an organization twice"));
    const protocol::OrgPin* pin = nullptr;
    if (auto local = pins.find(o.org_id); local != pins.end()) {
      pin = &local->second;
    } else if (state_->anchor && state_->anchor->org_id == o.org_id) {
      pin = &*state_->anchor;
    } else {
      KW_ASSIGN_OR_RETURN(auto unvouched, UnvouchedOrgOf(o.org_id, o.name, o.statements));
      bool confirmed = false;
      if (confirm) {
        KW_ASSIGN_OR_RETURN(auto answer, confirm(unvouched));
        confirmed = answer;
      }
      if (!confirmed) {
        done.skipped.push_back(std::move(unvouched));
        continue;
      }
    }
    KW_ASSIGN_OR_RETURN(auto verified, VerifyRedeemOrg(o, pin));
    if (!server_key) {
      KW_ASSIGN_OR_RETURN(auto info, client.GetServerInfo());
      if (info.recovery_public_key.size() != 32) {
        return Fail(Error::Unavailable("server.recovery_key_missing",
                                       "the server has no recovery key; escrow is not possible"));
      }
      server_key = std::move(info.recovery_public_key);
    }
    KW_ASSIGN_OR_RETURN(auto escrow,
                        protocol::CreateEscrow(uk, o.org_id, account_id, o.last_epoch + 1,
                                               verified.statement.org_public_key, *server_key));
    Json e = EscrowJson(escrow, o.key_version);
    e["org_id"] = Str(o.org_id);
    escrows.push_back(std::move(e));
    if (!pins.contains(o.org_id)) done.newly_pinned.push_back(o.org_id);
    done.pins[o.org_id] = std::move(verified.next_pin);
  }

  const crypto::KdfParams kdf = RegistrationKdf(state_->kdf_minimum);
  const crypto::Bytes salt = crypto::RandomBytes(crypto::kSaltSize);
  KW_ASSIGN_OR_RETURN(auto keys, DeriveAccountKeys(new_password, salt, kdf));

  Json body = Json::object();
  body["ticket"] = Json(ToSecretString(state_->ticket));
  body["new_kdf"] = KdfToJson(kdf);
  body["new_salt"] = B64(salt);
  body["new_auth_key"] = SecretB64(keys.auth.span());
  body["new_wrapped_vault_key"] = B64(WrapVaultKey(keys.enc, account_id, uk));
  body["escrows"] = std::move(escrows);
  if (state_->restore) {
    if (!state_->staged) {
      return Fail(Error::Internal("restore.not_staged",
                                  "the cloud backup's items were not sent yet (StageRestore)"));
    }
    body["restore_items"] = *state_->staged;
  }
  KW_TRY(client.CallJson("POST", "/v1/recovery/redeem/complete", body));
  state_->completed = true;
  return done;
}

// ---- the recovery admin ----

Result<RequestPage> RecoveryAdmin::List(std::string_view org_id, std::string_view status,
                                        std::string_view after, int limit) {
  std::string query = fmt::format("/requests?limit={}", limit);
  if (!status.empty()) query += "&status=" + PercentEncode(status);
  if (!after.empty()) query += "&after=" + PercentEncode(after);
  KW_ASSIGN_OR_RETURN(auto path, RequestsPath(org_id, query));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", path));
  auto it = r.find(ToSecretString("requests"));
  if (it == r.end() || !it->is_array()) return Fail(BadResponse("has no 'requests'"));
  RequestPage page;
  for (const Json& j : *it) {
    KW_ASSIGN_OR_RETURN(auto req, ParseRequestInfo(j));
    page.requests.push_back(std::move(req));
  }
  if (auto next = JsonString(r, "next_after"); next && !next->empty()) page.next_after = *next;
  return page;
}

Result<RecoveryRequestInfo> RecoveryAdmin::Get(std::string_view org_id,
                                               std::string_view request_id) {
  KW_ASSIGN_OR_RETURN(auto path, RequestPath(org_id, request_id));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("GET", path));
  KW_ASSIGN_OR_RETURN(auto req, ParseRequestInfo(r));
  if (req.id != request_id || req.org_id != org_id) {
    return Fail(BadResponse("names another recovery request"));
  }
  return req;
}

Result<ApproveResult> RecoveryAdmin::Approve(const VerifiedOrg& org, std::string_view request_id,
                                             std::string_view public_url,
                                             std::string_view device_fingerprint) {
  const std::string& org_id = org.org.id;
  KW_ASSIGN_OR_RETURN(auto req, Get(org_id, request_id));
  if (req.status != "pending") {
    return Fail(Error::Conflict(
        "recovery.not_pending",
        fmt::format("the request is {}, not pending: only a pending request can be approved",
                    RequestStatusText(req.status))));
  }
  if (req.account_id == me_.account_id) {
    return Fail(Error::PermissionDenied(
        "org.self_action",
        "you cannot approve your own recovery request: another recovery admin must"));
  }
  const bool device = req.kind == "device";
  if (device) KW_TRY(CheckDeviceFingerprint(req, device_fingerprint));
  if (!req.link && !device) {
    // A cloud restore the member asked for in a session: the approval
    // releases no secret (the member's device staged the items and keeps
    // the vault key); the last one rolls the vault back.
    KW_ASSIGN_OR_RETURN(auto path, RequestPath(org_id, request_id, "/approve"));
    KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", path, Json::object()));
    KW_ASSIGN_OR_RETURN(auto after, ParseRequestInfo(r));
    return ApproveResult{std::move(after), std::nullopt};
  }
  if (!req.escrow) {
    for (const RecoveryApprovalInfo& a : req.approvals) {
      if (a.admin_id == me_.account_id) {
        return Fail(
            Error::Conflict("recovery.already_approved", "you already approved this request"));
      }
    }
    return Fail(
        Error::PermissionDenied("org.forbidden",
                                "the server did not give you this member's escrow share: your role "
                                "does not allow approving their recovery, or their escrow changed "
                                "since they asked (then they must ask again)"));
  }
  const PendingShare& share = *req.escrow;
  if (share.epoch != req.epoch) {
    return Fail(BadResponse("gives an escrow of another epoch than the request's"));
  }
  if (share.key_version != org.org.key_version) {
    return Fail(Error::Conflict(
        "org.rotation_in_progress",
        fmt::format("the member's escrow is still sealed to key version {} (a key rotation is "
                    "in progress); finish it with 'keyward org rotate-key', then approve again",
                    share.key_version)));
  }
  // sk_org from the caller's grant, checked against the verified pk_org.
  KW_ASSIGN_OR_RETURN(
      auto grant, client_.CallJson("GET", fmt::format("/v1/orgs/{}/grant?key_version={}", org_id,
                                                      share.key_version)));
  KW_ASSIGN_OR_RETURN(auto recovery_grant, JsonBase64(grant, "recovery_grant"));
  KW_ASSIGN_OR_RETURN(auto org_key,
                      protocol::OpenGrant(me_.key_pair, recovery_grant, org_id, me_.account_id,
                                          share.key_version, org.statement.org_public_key));

  // A, bound to this org, member and epoch; then L, T and LA.
  KW_ASSIGN_OR_RETURN(auto admin_part, protocol::OpenAdminShare(org_key, share.admin_share, org_id,
                                                                req.account_id, share.epoch));
  if (device) {
    // A boxed from sk_org to the device key the member confirmed: only that
    // device opens it, and it knows the organization's key made it.
    KW_ASSIGN_OR_RETURN(auto device_share, protocol::device_share::BoxAdminShare(
                                               org_key, req.device_public_key, admin_part, org_id,
                                               req.account_id, share.epoch, req.id));
    Json body = Json::object();
    body["device_share"] = B64(device_share);
    KW_ASSIGN_OR_RETURN(auto path, RequestPath(org_id, request_id, "/approve"));
    KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", path, body));
    KW_ASSIGN_OR_RETURN(auto after, ParseRequestInfo(r));
    return ApproveResult{std::move(after), std::nullopt};
  }
  // The link carries this admin's verified pin of the organization, so the
  // member's client checks its keys without trusting the server.
  KW_ASSIGN_OR_RETURN(auto link, protocol::CreateLink(admin_part, req.id, req.account_id,
                                                      share.epoch, &org.next_pin));
  // Built before the server records anything: a link that cannot be shown
  // must not be approved.
  KW_ASSIGN_OR_RETURN(auto text, protocol::BuildLinkText(public_url, req.id, link.link_secret));

  Json body = Json::object();
  body["token"] = SecretB64(link.token.span());
  body["link_share"] = B64(link.linked_admin_share);
  KW_ASSIGN_OR_RETURN(auto path, RequestPath(org_id, request_id, "/approve"));
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", path, body));
  KW_ASSIGN_OR_RETURN(auto after, ParseRequestInfo(r));
  ApproveResult result{std::move(after), std::nullopt};
  if (result.request.status == "approved") result.link = std::move(text);
  return result;
}

Result<RecoveryRequestInfo> RecoveryAdmin::Decline(std::string_view org_id,
                                                   std::string_view request_id,
                                                   std::string_view reason) {
  KW_ASSIGN_OR_RETURN(auto path, RequestPath(org_id, request_id, "/decline"));
  Json body = Json::object();
  body["reason"] = Str(reason);
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", path, body));
  return ParseRequestInfo(r);
}

Result<RecoveryRequestInfo> RecoveryAdmin::Start(std::string_view org_id,
                                                 std::string_view member_id) {
  KW_TRY(protocol::CheckId(member_id));
  KW_ASSIGN_OR_RETURN(auto path, RequestsPath(org_id, "/start"));
  Json body = Json::object();
  body["member"] = Str(member_id);
  KW_ASSIGN_OR_RETURN(auto r, client_.CallJson("POST", path, body));
  return ParseRequestInfo(r);
}

}  // namespace keyward::client
