// Local backups of a vault (docs/protocol.md "Backups", docs/recovery.md
// "Restore a local backup"): the vault's items, decrypted on this device and
// re-encrypted into one file under a key from the master password at backup
// time, so an old backup opens with the password it was made with, whatever
// happened to the account since. Files only: the server is not involved
// until a restore puts the items back through the ordinary item API.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"
#include "keyward/client.h"

namespace keyward::client {

inline constexpr std::string_view kBackupExtension = ".kwbackup";

struct BackupContents {
  std::string account_id;
  std::string email;
  int64_t created_at = 0;  // unix seconds
  std::vector<Item> items;
};

// Called as items are written or read: (done, total).
using BackupProgress = std::function<void(uint64_t done, uint64_t total)>;

// The whole file: a fresh salt, the key from `password` with `kdf` (refused
// under the client floor), one record per item.
[[nodiscard]] Result<crypto::Bytes> EncodeBackup(const BackupContents& contents,
                                                 const crypto::SecureBytes& password,
                                                 const crypto::KdfParams& kdf,
                                                 const BackupProgress& progress = {});
// Opens a backup file's bytes with the password it was made with. When
// `expected_account` is given, a backup of another account is refused
// (backup.other_account) before any key is derived.
[[nodiscard]] Result<BackupContents> DecodeBackup(
    std::span<const uint8_t> file, const crypto::SecureBytes& password,
    const std::optional<std::string>& expected_account = std::nullopt,
    const BackupProgress& progress = {});

// The two without the key derivation, for benchmarks and tests: `key` is
// used as it is; `kdf` and `salt` are only written into the header.
[[nodiscard]] Result<crypto::Bytes> EncodeBackupWithKey(const BackupContents& contents,
                                                        const crypto::GenericKey& key,
                                                        const crypto::KdfParams& kdf,
                                                        std::span<const uint8_t> salt,
                                                        const BackupProgress& progress = {});
[[nodiscard]] Result<BackupContents> DecodeBackupWithKey(std::span<const uint8_t> file,
                                                         const crypto::GenericKey& key,
                                                         const BackupProgress& progress = {});

// Where backups go by default: Linux (and other Unix) $XDG_DATA_HOME/keyward/
// backup, else ~/.local/share/keyward/backup; macOS ~/Library/Application
// Support/Keyward/backup; Windows %APPDATA%\Keyward\backup.
[[nodiscard]] Result<std::filesystem::path> DefaultBackupDir();

// keyward-backup-YYYYMMDDTHHMMSSZ.kwbackup
std::string BackupFileName(int64_t created_at);

// Files are written with WriteFileAtomically (profile.h): a reader sees the
// old file or the whole new one, never a part; mode 0600.

struct BackupFileInfo {
  std::filesystem::path path;
  std::string account_id;
  int64_t created_at = 0;
  uint64_t size = 0;
  int64_t modified = 0;  // file mtime, ns: orders two backups of the same second
};
// Reads only the header (no password needed).
[[nodiscard]] Result<BackupFileInfo> InspectBackupFile(const std::filesystem::path& path);
// The backups in `dir` (files ending in .kwbackup whose header reads),
// newest first; a missing folder is an empty list.
[[nodiscard]] Result<std::vector<BackupFileInfo>> ListBackupFiles(const std::filesystem::path& dir);
// Deletes the oldest backups of `account_id` in `dir` beyond the newest
// `keep`; returns the files removed. Other accounts' files, and `protect`
// (the backup just written), are left alone.
[[nodiscard]] Result<std::vector<std::filesystem::path>> PruneBackups(
    const std::filesystem::path& dir, std::string_view account_id, size_t keep,
    const std::filesystem::path& protect = {});

// What a restore does to the vault, worked out before anything is sent.
// By default it only puts back what is missing: an item the vault still
// has is left as it is (it may be newer than the backup). With `replace`
// the vault is made exactly the backup: differing items are overwritten
// and items the backup does not have are deleted.
struct RestorePlan {
  std::vector<const Item*> add;                            // from the backup
  std::vector<std::pair<const Item*, int64_t>> overwrite;  // backup item, current revision
  std::vector<std::string> remove;                         // current item ids
  size_t unchanged = 0;                                    // same in both
  size_t kept = 0;                                         // differ, left as they are
};
RestorePlan PlanRestore(const std::vector<Item>& current, const BackupContents& backup,
                        bool replace);

// Applies `plan` through POST /v1/items/batch (all or nothing per request).
// The changes go in requests of at most kRestoreBatchBytes of JSON, so a
// vault that fits in one (about 1,500 typical items) is restored in one
// transaction; a larger one in as many as it takes, each whole. Returns how
// many requests it took; `progress` gets (changes done, total).
inline constexpr size_t kRestoreBatchBytes = 768 * 1024;
inline constexpr size_t kRestoreBatchChanges = 5000;  // the server's limit per batch
[[nodiscard]] Result<size_t> ApplyRestore(Client& client, const crypto::VaultKey& uk,
                                          std::string_view account_id, const RestorePlan& plan,
                                          const BackupProgress& progress = {});

// True when the two items' fields are the same.
bool SameFields(const ItemFields& a, const ItemFields& b);

}  // namespace keyward::client
