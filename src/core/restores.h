// Restoring a cloud backup (docs/recovery.md "Restore a cloud backup"): a
// request of kind "restore" in the recovery request pipeline
// (core/recovery_requests.h: same statuses, quorum, hierarchy, expiry,
// decline with a reason, events and mail).
//
//   member in a session:  Request (snapshot, item count) -> Stage (the
//                         snapshot's items, as the client decrypted and
//                         checked them) -> admins approve; the last approval
//                         rolls the vault back (RollBackInTx)
//   member without the password: RecoveryRequestService::Ask with kind
//                         restore -> approval brings a recovery link ->
//                         RedeemVerify -> StageWithTicket (the snapshot read
//                         with SnapshotPartWithTicket) -> Complete rolls back
//
// The server never sees a plaintext item: staged items are the vault's own
// ciphertexts, which the member's client took out of the snapshot.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/recovery_requests.h"

namespace keyward::core {

inline constexpr size_t kStageBatchMax = 5000;       // items per Stage call
inline constexpr int64_t kRestoreMaxItems = 100000;  // items per restore

struct RestoreAsk {
  std::string snapshot_id;
  std::string device_name;
  int64_t item_count = 0;  // how many items the client will stage
};

class RestoreService {
 public:
  explicit RestoreService(const Context& ctx) : ctx_(ctx) {}

  // A pending restore request in the organization of the member's latest
  // enrollment (else the first organization they are an active member of),
  // naming the caller's device. snapshot.not_found, org.not_member (409:
  // no organization to approve it), recovery.request_open (409),
  // request.invalid_field.
  [[nodiscard]] Result<RequestView> Request(const Caller& caller, const RestoreAsk& ask);
  // Items for the caller's own pending restore request (insert or replace
  // by item id; at most item_count in all). recovery.not_found,
  // recovery.not_pending, request.invalid_field.
  [[nodiscard]] Status Stage(const Caller& caller, std::string_view request_id,
                             const std::vector<core::StagedItem>& items);
  // The caller's open request (any kind), if any.
  [[nodiscard]] Result<std::optional<RequestView>> Current(const Caller& caller);

  // The link path, with the ticket RedeemVerify gave: part n of the
  // request's snapshot, and staging its items. recovery.invalid_ticket,
  // counted against the address like Complete's (request.rate_limited).
  [[nodiscard]] Result<store::Bytes> SnapshotPartWithTicket(const crypto::GenericKey& ticket,
                                                            uint32_t n,
                                                            std::string_view remote_address);
  [[nodiscard]] Status StageWithTicket(const crypto::GenericKey& ticket,
                                       const std::vector<core::StagedItem>& items,
                                       std::string_view remote_address);

 private:
  const Context& ctx_;
};

// Rolls the account of restore request `r` back to its staged items, in
// `tx`: items the snapshot lacks are deleted, others updated (revision + 1)
// or added; every device but `keep_device_id` (empty: every device) is
// unpaired and its sessions ended; open pairings closed; the staged rows
// dropped; restore.done logged. restore.not_ready (409) unless exactly
// `expected_items` are staged. Returns how many devices were unpaired.
[[nodiscard]] Result<int64_t> RollBackInTx(store::Tx& tx, const Context& ctx,
                                           const core::RecoveryRequest& r,
                                           std::string_view keep_device_id, int64_t expected_items);

// Item ids and sizes of a staged batch: request.invalid_field otherwise.
[[nodiscard]] Status CheckStagedItems(const Context& ctx,
                                      const std::vector<core::StagedItem>& items);

}  // namespace keyward::core
