// Cloud snapshots of a member's vault (docs/recovery.md "Cloud backups";
// docs/protocol.md "Cloud snapshot"; docs/api.md "Cloud backups"). The
// member's client encrypts the snapshot under a key from the vault key and
// uploads it in parts; the server keeps the parts and their size and never a
// key, and deletes the oldest beyond the retention the member's
// organizations set (protocol::RecoveryPolicy::snapshot_keep, the smallest
// of them).
//
//   Begin (id, size, parts) -> PutPart * parts -> Finish -> ready
//   List / GetPart (ready only) / Delete
//
// Restoring one goes through a request (core/restores.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"

namespace keyward::core {

inline constexpr size_t kSnapshotPartMax = 512 * 1024;      // bytes per part
inline constexpr uint64_t kSnapshotMaxBytes = 64ull << 20;  // per snapshot
inline constexpr uint32_t kSnapshotMaxParts =
    static_cast<uint32_t>((kSnapshotMaxBytes + kSnapshotPartMax - 1) / kSnapshotPartMax);
// An upload not finished within this long is deleted by the sweeper.
inline constexpr int64_t kSnapshotUploadTtl = 3600;

class SnapshotService {
 public:
  explicit SnapshotService(const Context& ctx) : ctx_(ctx) {}

  // Starts an upload of `size` bytes in `parts` parts. The account's other
  // unfinished uploads are dropped. request.invalid_field (id, size,
  // parts), snapshot.exists (409).
  [[nodiscard]] Result<core::Snapshot> Begin(const Caller& caller, std::string_view id,
                                             uint64_t size, uint32_t parts);
  // Part n (0-based) of an upload; sending one again replaces it.
  // snapshot.not_found (404; also another account's), snapshot.not_uploading
  // (409), request.invalid_field (n, data: 1..kSnapshotPartMax bytes).
  [[nodiscard]] Status PutPart(const Caller& caller, std::string_view id, uint32_t n,
                               const store::Bytes& data);
  // Every part there and their sizes adding up: the snapshot becomes ready,
  // the oldest beyond the retention are deleted (never one an open restore
  // request names), and backup.pushed is logged in each of the member's
  // organizations. snapshot.incomplete (409).
  [[nodiscard]] Result<core::Snapshot> Finish(const Caller& caller, std::string_view id);
  // The member's ready snapshots, newest first.
  [[nodiscard]] Result<std::vector<core::Snapshot>> List(const Caller& caller);
  // snapshot.not_found for anything but a ready snapshot of the caller's.
  [[nodiscard]] Result<core::Snapshot> Get(const Caller& caller, std::string_view id);
  [[nodiscard]] Result<store::Bytes> GetPart(const Caller& caller, std::string_view id, uint32_t n);
  // snapshot.in_use (409) while an open restore request names it.
  [[nodiscard]] Status Delete(const Caller& caller, std::string_view id);

  // The parts of the ready snapshot `id` of `account_id`, without a session
  // (a recovery link being redeemed, core/restores.h).
  [[nodiscard]] Result<store::Bytes> GetPartOf(std::string_view account_id, std::string_view id,
                                               uint32_t n);

 private:
  const Context& ctx_;
};

// How many snapshots the account keeps: the smallest snapshot_keep of the
// organizations it is an active member of, else the default.
[[nodiscard]] Result<uint32_t> SnapshotRetention(store::Tx& tx, std::string_view account_id);

Error SnapshotNotFound();

}  // namespace keyward::core
