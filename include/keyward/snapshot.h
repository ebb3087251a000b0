// Cloud backups (docs/recovery.md "Cloud backups", docs/protocol.md "Cloud
// snapshot"): the vault's items, as the server stores them (each sealed
// under the vault key), put in one file framed like a local backup and
// encrypted under Sub(UK, 1, "KWsnapsh"), then uploaded in parts. The server
// holds ciphertext and its size; it cannot open, edit, cut or swap a
// snapshot without this client noticing.
//
// Restoring one needs the approval of the organization's recovery admins:
// RequestCloudRestore asks for it and stages the snapshot's items; the
// last approval rolls the vault back and unpairs every other device.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"
#include "keyward/client.h"
#include "keyward/recovery.h"

namespace keyward::client {

struct SnapshotInfo {
  std::string id;
  std::string state;  // "ready" for every listed one
  uint64_t size = 0;
  uint32_t parts = 0;
  std::string created_at;  // as the server says (RFC 3339)
};

struct SnapshotContents {
  std::string account_id;
  std::string snapshot_id;
  int64_t created_at = 0;  // this client's clock when pushed; authenticated
  std::vector<EncryptedItem> items;
};

using SnapshotProgress = std::function<void(uint64_t done, uint64_t total)>;

// The snapshot file. Every item must open under `uk` for `account_id`
// (snapshot.bad_item otherwise: nothing unreadable is kept).
[[nodiscard]] Result<crypto::Bytes> EncodeSnapshot(const crypto::VaultKey& uk,
                                                   std::string_view account_id,
                                                   std::string_view snapshot_id, int64_t created_at,
                                                   std::span<const EncryptedItem> items);
// Opens a snapshot and checks that it is `snapshot_id` of `account_id`
// (snapshot.other_snapshot otherwise, as for a swapped one) and that every
// item opens under `uk` (snapshot.bad_item). The errors of
// protocol::OpenBackup for a cut, edited or appended file.
[[nodiscard]] Result<SnapshotContents> DecodeSnapshot(const crypto::VaultKey& uk,
                                                      std::span<const uint8_t> file,
                                                      std::string_view account_id,
                                                      std::string_view snapshot_id);

// Part size of uploads (the server's largest).
inline constexpr size_t kSnapshotPartSize = 512 * 1024;

// Reads the vault, checks every item opens, and uploads a new snapshot.
[[nodiscard]] Result<SnapshotInfo> PushSnapshot(Client& client, const crypto::VaultKey& uk,
                                                std::string_view account_id,
                                                const SnapshotProgress& progress = {});
// A snapshot as the server's JSON gives it (docs/api.md "Snapshot").
[[nodiscard]] Result<SnapshotInfo> ParseSnapshotInfo(const Json& j);
// The member's snapshots, newest first.
[[nodiscard]] Result<std::vector<SnapshotInfo>> ListSnapshots(Client& client);
[[nodiscard]] Result<SnapshotInfo> GetSnapshot(Client& client, std::string_view id);
// The whole file, part by part (`fetch_part(n)` gives part n); its size
// must be `info.size`.
using PartFetcher = std::function<Result<crypto::Bytes>(uint32_t n)>;
[[nodiscard]] Result<crypto::Bytes> DownloadSnapshot(const SnapshotInfo& info,
                                                     const PartFetcher& fetch_part,
                                                     const SnapshotProgress& progress = {});
[[nodiscard]] Result<crypto::Bytes> DownloadSnapshot(Client& client, const SnapshotInfo& info,
                                                     const SnapshotProgress& progress = {});
[[nodiscard]] Status DeleteSnapshot(Client& client, std::string_view id);

// Sends `items` for staging in calls of at most kRestoreBatchBytes of JSON
// (`send(body)` makes one call); progress is (items sent, total).
using StageSender = std::function<Status(Json body)>;
[[nodiscard]] Status StageItems(std::span<const EncryptedItem> items, const StageSender& send,
                                const SnapshotProgress& progress = {});

struct CloudRestoreAsked {
  RecoveryRequestInfo request;
  SnapshotContents contents;  // what the approval will put back
};
// Downloads and opens snapshot `id` (checked as DecodeSnapshot does), asks
// for the restore (the member acknowledged that every other device will be
// unpaired) and stages its items. The vault changes only when the recovery
// admins approve. A pending request of this snapshot asked in a session
// (staging cut short) is staged again instead.
[[nodiscard]] Result<CloudRestoreAsked> RequestCloudRestore(Client& client,
                                                            const crypto::VaultKey& uk,
                                                            std::string_view account_id,
                                                            std::string_view snapshot_id,
                                                            std::string_view device_name,
                                                            const SnapshotProgress& progress = {});
// The member's open request (any kind), if any.
[[nodiscard]] Result<std::optional<RecoveryRequestInfo>> CurrentRequest(Client& client);

}  // namespace keyward::client
