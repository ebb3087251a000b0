// Device requests (include/keyward/device_request.h) on top of
// Client::CallJson, with the device's cryptography
// (protocol/device_share.h, protocol/trusted_device.h) done here: the
// server sees pk_dev and the claim's hash, never sk_dev, A or the vault key.
#include "keyward/device_request.h"

#include <fmt/format.h>

#include "client/org_json.h"
#include "common/try.h"
#include "protocol/binding.h"
#include "protocol/device_share.h"
#include "protocol/escrow.h"
#include "protocol/trusted_device.h"

namespace keyward::client {
namespace {

using namespace org_json;

Json OpenBody(const PendingDeviceRequest& pending) {
  Json body = Json::object();
  body["request_id"] = Str(pending.request_id);
  body["claim"] = SecretB64(pending.claim);
  return body;
}

Result<DeviceRequestStatus> ParseStatus(const Json& j) {
  DeviceRequestStatus s;
  KW_ASSIGN_OR_RETURN(s.status, JsonString(j, "status"));
  s.expires_at = Text(j, "expires_at");
  if (auto q = JsonInt(j, "quorum"); q && *q > 0) s.quorum = static_cast<int>(*q);
  if (auto a = JsonInt(j, "approvals"); a && *a >= 0) s.approvals = static_cast<int>(*a);
  s.decline_reason = Text(j, "decline_reason");
  return s;
}

Result<crypto::BoxKeyPair> DeviceKeyPair(const PendingDeviceRequest& pending) {
  if (pending.device_seed.size() != 32 || pending.claim.size() != 32 ||
      !protocol::CheckId(pending.request_id) || !protocol::CheckId(pending.org_id)) {
    return Fail(Error::InvalidArgument("device.request_corrupt",
                                       "the device request kept in the profile is damaged; make "
                                       "a new one"));
  }
  return crypto::BoxKeyPairFromSeed(pending.device_seed);
}

}  // namespace

Result<DeviceRequestMade> MakeDeviceRequest(Client& client, std::string_view sso_ticket,
                                            std::string_view org_id, const DeviceIdentity& device) {
  KW_TRY(protocol::CheckId(org_id));
  crypto::Bytes seed = crypto::RandomBytes(32);
  const crypto::BoxKeyPair kp = crypto::BoxKeyPairFromSeed(seed);
  const crypto::Bytes claim = crypto::RandomBytes(32);
  Json body = Json::object();
  body["sso_ticket"] = Str(sso_ticket);
  body["device"] = DeviceJson(device);
  body["device_public_key"] = B64(kp.public_key);
  body["claim"] = SecretB64(claim);
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", "/v1/device-requests", body));
  DeviceRequestMade made;
  KW_ASSIGN_OR_RETURN(made.pending.request_id, JsonString(r, "request_id"));
  if (!protocol::CheckId(made.pending.request_id)) {
    return Fail(BadResponse("has an invalid request id"));
  }
  made.pending.org_id = std::string(org_id);
  made.pending.device_seed = std::move(seed);
  made.pending.claim = claim;
  made.fingerprint = crypto::Fingerprint(kp.public_key);
  made.org_name = Text(r, "org_name");
  made.expires_at = Text(r, "expires_at");
  return made;
}

Result<DeviceRequestStatus> DeviceRequestState(Client& client,
                                               const PendingDeviceRequest& pending) {
  KW_TRY(DeviceKeyPair(pending));
  KW_ASSIGN_OR_RETURN(auto r,
                      client.CallJson("POST", "/v1/device-requests/open", OpenBody(pending)));
  return ParseStatus(r);
}

Result<DeviceRequestFinished> FinishDeviceRequest(
    Client& client, const PendingDeviceRequest& pending, std::string_view device_id,
    std::string_view device_type, const protocol::OrgPin* pin, const ConfirmOrgFn& confirm) {
  KW_ASSIGN_OR_RETURN(auto kp, DeviceKeyPair(pending));
  KW_ASSIGN_OR_RETURN(auto r,
                      client.CallJson("POST", "/v1/device-requests/open", OpenBody(pending)));
  KW_ASSIGN_OR_RETURN(auto status, ParseStatus(r));
  if (status.status != "approved") {
    return Fail(Error::Conflict(
        "recovery.not_approved",
        fmt::format("the device request is {}, not approved{}", RequestStatusText(status.status),
                    status.status == "pending"
                        ? fmt::format(" ({} of {} approvals)", status.approvals, status.quorum)
                        : std::string())));
  }
  auto g = r.find(ToSecretString("grant"));
  if (g == r.end() || !g->is_object()) return Fail(BadResponse("gives no grant"));
  const Json& grant = *g;
  KW_ASSIGN_OR_RETURN(std::string account_id, JsonString(grant, "account_id"));
  KW_TRY(protocol::CheckId(account_id));
  const std::string email = Text(grant, "email");
  KW_ASSIGN_OR_RETURN(uint64_t epoch, U64(grant, "epoch"));
  KW_ASSIGN_OR_RETURN(auto wrapped, JsonBase64(grant, "wrapped_vault_key"));
  KW_ASSIGN_OR_RETURN(auto admin_share, JsonBase64(grant, "device_admin_share"));
  KW_ASSIGN_OR_RETURN(auto server_share, JsonBase64(grant, "device_server_share"));
  auto o = grant.find(ToSecretString("org"));
  if (o == grant.end() || !o->is_object()) return Fail(BadResponse("gives no organization"));
  KW_ASSIGN_OR_RETURN(std::string org_id, JsonString(*o, "org_id"));
  // The organization this device signed in at, not one the server picked.
  if (org_id != pending.org_id) return Fail(BadResponse("answers for another organization"));
  KW_ASSIGN_OR_RETURN(auto org_public_key, JsonBase64(*o, "recovery_public_key"));
  KW_ASSIGN_OR_RETURN(auto statements, ParseStatements(*o, "statements"));

  // pk_org from a pin, or from a signing key whose fingerprint the member
  // confirmed: never from the server's word alone.
  const bool newly_pinned = pin == nullptr;
  if (!pin) {
    KW_ASSIGN_OR_RETURN(auto unvouched, UnvouchedOrgOf(org_id, Text(*o, "name"), statements));
    bool confirmed = false;
    if (confirm) {
      KW_ASSIGN_OR_RETURN(confirmed, confirm(unvouched));
    }
    if (!confirmed) {
      return Fail(Error::PermissionDenied(
          "org.unconfirmed",
          fmt::format("the organization's signing key ({}) was not confirmed: nothing was done",
                      unvouched.signing_fingerprint)));
    }
  }
  KW_ASSIGN_OR_RETURN(auto verified, VerifyStatements(org_id, statements, pin, org_public_key));

  // A only as boxed by that pk_org, U, then UK = Dec(A xor U, W).
  namespace ds = protocol::device_share;
  KW_ASSIGN_OR_RETURN(auto admin_part,
                      ds::OpenAdminShare(kp, verified.statement.org_public_key, admin_share, org_id,
                                         account_id, epoch, pending.request_id));
  KW_ASSIGN_OR_RETURN(auto server_part, ds::OpenServerShare(kp, server_share, org_id, account_id,
                                                            epoch, pending.request_id));
  KW_ASSIGN_OR_RETURN(auto vault_key, protocol::RecoverVaultKey(admin_part, server_part, wrapped,
                                                                org_id, account_id, epoch));

  // This device becomes a trusted device with a fresh secret D.
  crypto::Bytes secret = crypto::RandomBytes(protocol::trusted_device::kSecretSize);
  KW_ASSIGN_OR_RETURN(auto keys, protocol::trusted_device::DeriveKeys(secret));
  Json body = OpenBody(pending);
  body["device_type"] = Str(device_type);
  body["sign_public_key"] = B64(keys.sign.public_key);
  body["wrapped_vault_key"] =
      B64(protocol::trusted_device::WrapVaultKey(keys, vault_key, account_id, device_id));
  KW_TRY(client.CallJson("POST", "/v1/device-requests/complete", body));

  DeviceRequestFinished done;
  done.account_id = std::move(account_id);
  done.email = email;
  done.trusted_device_secret = std::move(secret);
  done.pin = std::move(verified.next_pin);
  done.newly_pinned = newly_pinned;
  return done;
}

}  // namespace keyward::client
