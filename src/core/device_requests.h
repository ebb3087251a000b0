// Device requests (docs/sso.md "A new device, approved by the admins";
// docs/protocol.md "Device requests"; docs/api.md "Device requests"): a
// member of a single sign-on organization who lost every trusted device
// signs in at the provider on a new device and asks the organization's
// recovery admins to let that device open the same vault — no new master
// password, and nobody but the device ever holds the vault key.
//
//   new device, no session:  Submit (SSO ticket, pk_dev, claim C) -> Pending
//   recovery admins:         the request pipeline of core/recovery_requests.h
//                            (List / Show, Approve with DA = A boxed to
//                            pk_dev, Decline with a reason; quorum,
//                            hierarchy, expiry, events and mail)
//   new device:              Open (C) -> status; once approved W, DA, the
//                            organization's statements and DU = U sealed to
//                            pk_dev; Complete (C, the trusted-device key and
//                            wrapped vault key) -> Link Used
//
// Then the device logs in as a trusted device (core/sessions.h): through the
// provider again, and through two-step login when the account has it. The
// claim is 32 random bytes the device keeps; the server stores only its
// keyed hash (the request's token_hash), and a claim opens a device request
// only, never a recovery link, nor a link token a device request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/context.h"
#include "core/recovery_requests.h"
#include "core/sessions.h"
#include "crypto/crypto.h"
#include "store/store.h"

namespace keyward::core {

struct DeviceRequestSubmission {
  store::Bytes sso_ticket;         // from POST /v1/sso/finish, for an organization with escrow
  DeviceInfo device;               // the id, name and type the device will log in with
  store::Bytes device_public_key;  // X25519, 32 bytes
  crypto::GenericKey claim;        // C
  std::string remote_address;
};

// What the device reads about its request; the grant once approved.
struct DeviceRequestState {
  struct Grant {
    std::string email;
    uint64_t epoch = 0;
    store::Bytes wrapped_vault_key;  // W
    store::Bytes admin_share;        // DA, from the last approving admin
    store::Bytes server_share;       // DU, sealed by the server at this read
    RedeemMaterial::Org org;         // pk_org, statements: what DA is checked against
  };
  core::RecoveryRequest request;
  int quorum = 1;
  int approvals = 0;
  std::optional<Grant> grant;  // only while approved
};

struct DeviceCompletion {
  std::string request_id;
  crypto::GenericKey claim;
  store::Bytes sign_public_key;    // Ed25519, 32 bytes (protocol/trusted_device.h)
  store::Bytes wrapped_vault_key;  // UK under the device's wrap key
  std::string remote_address;
};

class DeviceRequestService {
 public:
  explicit DeviceRequestService(const Context& ctx) : ctx_(ctx) {}

  // Takes the ticket (core/sso_signin.h TakeBoundSsoTicket: the account is
  // the one bound to the provider's subject, never found by email) and
  // files a pending device request in the ticket's organization, with its
  // event and the admins' emails (the device key's fingerprint in them).
  // Errors: request.invalid_field (device.*, device_public_key), the
  // ticket's sso.* errors, org.not_enrolled (no escrow there),
  // recovery.request_open (409).
  [[nodiscard]] Result<SubmittedRequest> Submit(const DeviceRequestSubmission& submission);

  // The request of (request_id, claim), expired first when overdue; with
  // the grant while approved (logged once per read as
  // device_request.opened). recovery.link_invalid (404) for an unknown
  // request or a wrong claim (one answer, capped like link tokens:
  // request.rate_limited).
  [[nodiscard]] Result<DeviceRequestState> Open(std::string_view request_id,
                                                const crypto::GenericKey& claim,
                                                std::string_view remote_address);

  // In one transaction: the device (the request's id, name and `device_type`)
  // is made an active device of the account and a trusted device with the
  // given key and wrapped vault key, and the request becomes Link Used;
  // event device_request.completed, email to the member. Errors as Open,
  // then the state machine's (recovery.not_approved, recovery.link_used,
  // recovery.link_expired), org.not_enrolled when the escrow changed since
  // the approval, request.invalid_field.
  [[nodiscard]] Status Complete(const DeviceCompletion& completion, std::string_view device_type);

 private:
  const Context& ctx_;
};

}  // namespace keyward::core
