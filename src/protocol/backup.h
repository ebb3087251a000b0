// The local backup file (docs/protocol.md "Backups"): a versioned header in
// the clear and a crypto_secretstream body of records under a key from the
// password at backup time. What a record holds is the client's business
// (src/client/backup.cc); this frames and protects them. Pure: no I/O.
//
//   file   = header ‖ record* (the last one tagged FINAL, nothing after it)
//   header = "KWBACKUP" ‖ version (1) ‖ ops (u64 BE) ‖ mem (u64 BE) ‖ salt (16)
//            ‖ created_at (i64 BE, unix seconds) ‖ len (1) ‖ account_id (len)
//            ‖ stream header (24)
//   record = len (u32 BE) ‖ secretstream message (len bytes)
//   key    = Sub(KDF(password, salt, ops, mem), 1, "KWbackup")
//
// A cloud snapshot (docs/protocol.md "Cloud snapshot") is framed the same
// way under a key from the vault key, with a header of its own:
//
//   header = "KWSNAPSH" ‖ version (1) ‖ created_at (i64 BE) ‖ len (1)
//            ‖ account_id (len) ‖ len (1) ‖ snapshot_id (len) ‖ stream header (24)
//   key    = Sub(UK, 1, "KWsnapsh")
//
// The first record's associated data is the whole header, so an edited
// header fails like an edited record; the stream itself refuses a record
// out of place, and its FINAL tag tells a cut file from a whole one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"

namespace keyward::protocol {

inline constexpr std::string_view kBackupMagic = "KWBACKUP";
inline constexpr uint8_t kBackupVersion = 1;
inline constexpr std::string_view kBackupContext = "KWbackup";
inline constexpr std::string_view kSnapshotMagic = "KWSNAPSH";
inline constexpr uint8_t kSnapshotVersion = 1;
inline constexpr std::string_view kSnapshotContext = "KWsnapsh";
// Refused when reading, so a planted file cannot make the reader allocate or
// hash without bound.
inline constexpr size_t kMaxBackupRecord = 16u << 20;
inline constexpr uint64_t kMaxBackupKdfOps = 64;
inline constexpr uint64_t kMaxBackupKdfMem = 4ull << 30;

struct BackupHeader {
  // A cloud snapshot's header has no KDF parameters and no salt, and names
  // its snapshot.
  bool cloud = false;
  crypto::KdfParams kdf;
  crypto::Bytes salt;  // crypto::kSaltSize
  int64_t created_at = 0;
  std::string account_id;       // 1..64 bytes
  std::string snapshot_id;      // cloud: 1..64 bytes
  crypto::Bytes stream_header;  // crypto::kStreamHeaderSize
};

crypto::Bytes EncodeBackupHeader(const BackupHeader& header);
// The header at the start of `file`, and its size in `*size`. Errors:
// backup.not_a_backup, backup.unsupported_version, backup.bad_header,
// backup.kdf_out_of_range.
[[nodiscard]] Result<BackupHeader> ParseBackupHeader(std::span<const uint8_t> file, size_t* size);

// Sub(UK, 1, "KWsnapsh"): a cloud snapshot's key.
[[nodiscard]] crypto::GenericKey DeriveSnapshotKey(const crypto::VaultKey& uk);

// Sub(KDF(password, salt, kdf), 1, "KWbackup").
[[nodiscard]] Result<crypto::GenericKey> DeriveBackupKey(std::string_view password,
                                                         const BackupHeader& header);

// Writes a backup: the header first, then one record per Add, Finish last.
class BackupWriter {
 public:
  // `header` without its stream header, which the writer draws.
  BackupWriter(const crypto::GenericKey& key, BackupHeader header);
  // The whole file so far.
  const crypto::Bytes& bytes() const { return out_; }
  crypto::Bytes Take() { return std::move(out_); }
  const BackupHeader& header() const { return header_; }

  void Add(std::span<const uint8_t> record) { Append(record, false); }
  // The last record (tagged FINAL); nothing may be added after it.
  void Finish(std::span<const uint8_t> record) { Append(record, true); }

 private:
  void Append(std::span<const uint8_t> record, bool final);

  BackupHeader header_;
  crypto::StreamPush stream_;
  crypto::Bytes out_;
  size_t header_size_ = 0;
  bool first_ = true;
  bool finished_ = false;
};

// Every record of a backup, opened; the plaintexts share one guarded buffer.
struct OpenedBackup {
  BackupHeader header;
  crypto::SecureBytes plaintext;
  std::vector<std::pair<size_t, size_t>> records;  // offset, size into plaintext

  std::span<const uint8_t> record(size_t i) const {
    return plaintext.span().subspan(records[i].first, records[i].second);
  }
};

// Opens a whole backup file with `key`. Errors: those of ParseBackupHeader;
// backup.cannot_open (the first record does not open: a wrong password, or
// the header or first record was changed); backup.damaged (a later record
// was changed, moved or dropped); backup.truncated (no FINAL record);
// backup.trailing_data (bytes after it).
[[nodiscard]] Result<OpenedBackup> OpenBackup(const crypto::GenericKey& key,
                                              std::span<const uint8_t> file);

}  // namespace keyward::protocol
