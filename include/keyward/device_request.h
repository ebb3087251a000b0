// Keyward client library, device requests (docs/sso.md "A new device,
// approved by the admins"; docs/api.md "Device requests"; docs/protocol.md
// "Device requests"): a new device with no trusted device left to pair with
// asks the organization's recovery admins for the vault key.
//
// The device makes an X25519 key pair and a claim, shows the key's
// fingerprint for the member to read to the approving admin, and once
// approved opens DA (boxed by the organization's recovery key, verified
// from a pin or from the signing key fingerprint the member confirmed) and
// DU, recovers the vault key and becomes a trusted device. A server that
// lies — another organization key, forged shares, another account's escrow
// — gets a refusal, never a vault key of its choosing on the device.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"
#include "keyward/client.h"
#include "keyward/profile.h"
#include "keyward/recovery.h"
#include "protocol/statement.h"

namespace keyward::client {

// POST /v1/device-requests with a fresh key pair and claim.
struct DeviceRequestMade {
  PendingDeviceRequest pending;
  std::string fingerprint;  // of pk_dev, for the member to read to the admins
  std::string org_name;     // as the server says: display only
  std::string expires_at;
};
[[nodiscard]] Result<DeviceRequestMade> MakeDeviceRequest(Client& client,
                                                          std::string_view sso_ticket,
                                                          std::string_view org_id,
                                                          const DeviceIdentity& device);

struct DeviceRequestStatus {
  std::string status;  // pending | approved | link_used | expired | declined
  std::string expires_at;
  int quorum = 1;
  int approvals = 0;
  std::string decline_reason;
};
// POST /v1/device-requests/open, for its status only.
[[nodiscard]] Result<DeviceRequestStatus> DeviceRequestState(Client& client,
                                                             const PendingDeviceRequest& pending);

struct DeviceRequestFinished {
  std::string account_id;
  std::string email;
  crypto::Bytes trusted_device_secret;  // D, for the profile
  protocol::OrgPin pin;                 // of the organization, verified here
  bool newly_pinned = false;
};
// POST /v1/device-requests/open (approved), then: the organization's
// statements verified from `pin` (this device's, if any) or from the first
// statement's signing key once `confirm` accepts its fingerprint
// (org.unconfirmed otherwise); DA opened as boxed by that verified key, DU
// opened, UK recovered (crypto.decrypt_failed for anything forged); a fresh
// trusted-device secret wraps UK; POST /v1/device-requests/complete.
// `device_id` is the id the request was made with.
[[nodiscard]] Result<DeviceRequestFinished> FinishDeviceRequest(
    Client& client, const PendingDeviceRequest& pending, std::string_view device_id,
    std::string_view device_type, const protocol::OrgPin* pin, const ConfirmOrgFn& confirm);

}  // namespace keyward::client
