// The steps every kind of request shares (core/recovery_requests.h, and
// core/device_requests.h): status changes by compare-and-set, their
// events, expiry on sight, the escrow a request opens, and the lookup by
// the keyed hash of a link token or a device's claim with its guess caps.
// Internal to core: the services are the API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/domain.h"
#include "core/events.h"
#include "core/mail.h"
#include "core/recovery_requests.h"
#include "core/recovery_state.h"
#include "crypto/crypto.h"
#include "store/store.h"

namespace keyward::core {

std::string Decimal(uint64_t n);

// The refusal of the state machine for (status, action), for a
// compare-and-set that lost: the winner moved the request to a status where
// the action is refused.
Error StateError(std::optional<RequestStatus> status, RequestAction action);

// The event of a step of `r`, with its request id (and, for a restore or a
// device request, its kind) in the details.
EventSpec RequestEvent(const core::RecoveryRequest& r, std::string type, std::string actor_id,
                       std::string device_id = "");

// The compare-and-set of every status change (`on_stale` when another
// transaction moved the request first).
[[nodiscard]] Status UpdateFrom(store::Tx& tx, const core::RecoveryRequest& r,
                                RequestStatus expected, const Error& on_stale);

[[nodiscard]] Result<std::string> EmailOf(store::Tx& tx, std::string_view account_id);

// An open request past its deadline becomes Expired here, with its event and
// the member's email, in the caller's transaction. True when it did.
[[nodiscard]] Result<bool> ExpireIfOverdue(store::Tx& tx, const Context& ctx,
                                           core::RecoveryRequest& r);

// The escrow the request recovers: still the member's current one
// (org.not_enrolled otherwise).
[[nodiscard]] Result<core::Escrow> RequestEscrow(store::Tx& tx, const core::RecoveryRequest& r);

// An organization as a redeeming client checks it: pk_org, its key version,
// every statement, and the member's last epoch there.
[[nodiscard]] Result<RedeemMaterial::Org> RedeemOrgOf(store::Tx& tx, const core::Org& org,
                                                      uint64_t last_epoch);

// A new request id, typed as a command-line argument (never starting '-').
std::string NewRequestId();

// H(token key, T): how a link token or a device's claim is stored.
store::Bytes TokenHash(const Context& ctx, const crypto::GenericKey& token);

// A wrong token or claim for `request_id`: logged after the answer, when
// that request exists.
void LogRejectedToken(const Context& ctx, std::string request_id, std::string address);

// The request behind (request_id, token), counting wrong tokens per request
// and per address. A device request answers only to its claim
// (device_claim true), every other request only to its link token. Sets
// `late` (and returns nullopt) when the caller must answer an error after
// committing what was counted; `wrong_token` when it should log the guess.
[[nodiscard]] Result<std::optional<core::RecoveryRequest>> RequestByToken(
    store::Tx& tx, const Context& ctx, std::string_view request_id, const crypto::GenericKey& token,
    std::string_view address, std::optional<Error>& late, bool& wrong_token, bool device_claim);

}  // namespace keyward::core
