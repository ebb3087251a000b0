#include "protocol/backup.h"

#include <cstring>

#include "common/byte_writer.h"
#include "common/try.h"

namespace keyward::protocol {
namespace {

constexpr size_t kMaxAccountIdSize = 64;

Error BadHeader(std::string_view what) {
  return Error::InvalidArgument("backup.bad_header",
                                "the backup file's header is damaged (" + std::string(what) + ")");
}

// Reads big-endian integers and fixed fields from a span, refusing to run
// past its end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool Has(size_t n) const { return in_.size() - at_ >= n; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | in_[at_++];
    return v;
  }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | in_[at_++];
    return v;
  }
  uint8_t U8() { return in_[at_++]; }
  std::span<const uint8_t> Take(size_t n) {
    auto s = in_.subspan(at_, n);
    at_ += n;
    return s;
  }
  size_t offset() const { return at_; }
  size_t left() const { return in_.size() - at_; }

 private:
  std::span<const uint8_t> in_;
  size_t at_ = 0;
};

}  // namespace

crypto::Bytes EncodeBackupHeader(const BackupHeader& header) {
  const std::string_view magic = header.cloud ? kSnapshotMagic : kBackupMagic;
  crypto::Bytes out(magic.begin(), magic.end());
  out.push_back(header.cloud ? kSnapshotVersion : kBackupVersion);
  if (!header.cloud) {
    AppendU64Be(out, header.kdf.ops);
    AppendU64Be(out, header.kdf.mem);
    out.insert(out.end(), header.salt.begin(), header.salt.end());
  }
  AppendU64Be(out, static_cast<uint64_t>(header.created_at));
  out.push_back(static_cast<uint8_t>(header.account_id.size()));
  out.insert(out.end(), header.account_id.begin(), header.account_id.end());
  if (header.cloud) {
    out.push_back(static_cast<uint8_t>(header.snapshot_id.size()));
    out.insert(out.end(), header.snapshot_id.begin(), header.snapshot_id.end());
  }
  out.insert(out.end(), header.stream_header.begin(), header.stream_header.end());
  return out;
}

namespace {

// A length-prefixed id of 1..64 bytes, or false.
bool ReadId(Reader& r, std::string* id) {
  if (!r.Has(1)) return false;
  const size_t size = r.U8();
  if (size == 0 || size > kMaxAccountIdSize || !r.Has(size)) return false;
  auto bytes = r.Take(size);
  id->assign(bytes.begin(), bytes.end());
  return true;
}

bool StartsWith(std::span<const uint8_t> file, std::string_view magic) {
  return file.size() > magic.size() && std::memcmp(file.data(), magic.data(), magic.size()) == 0;
}

}  // namespace

Result<BackupHeader> ParseBackupHeader(std::span<const uint8_t> file, size_t* size) {
  BackupHeader h;
  h.cloud = StartsWith(file, kSnapshotMagic);
  if (!h.cloud && !StartsWith(file, kBackupMagic)) {
    return Fail(Error::InvalidArgument("backup.not_a_backup", "this is not a Keyward backup file"));
  }
  Reader r(file);
  r.Take(kBackupMagic.size());
  const uint8_t supported = h.cloud ? kSnapshotVersion : kBackupVersion;
  if (uint8_t version = r.U8(); version != supported) {
    return Fail(Error::InvalidArgument("backup.unsupported_version",
                                       "backup format version " + std::to_string(version) +
                                           " is not supported by this keyward (it reads version " +
                                           std::to_string(supported) + ")"));
  }
  if (!h.cloud) {
    if (!r.Has(8 + 8 + crypto::kSaltSize)) return Fail(BadHeader("too short"));
    h.kdf.ops = r.U64();
    h.kdf.mem = r.U64();
    auto salt = r.Take(crypto::kSaltSize);
    h.salt.assign(salt.begin(), salt.end());
  }
  if (!r.Has(8)) return Fail(BadHeader("too short"));
  h.created_at = static_cast<int64_t>(r.U64());
  if (!ReadId(r, &h.account_id)) return Fail(BadHeader("account id"));
  if (h.cloud && !ReadId(r, &h.snapshot_id)) return Fail(BadHeader("snapshot id"));
  if (!r.Has(crypto::kStreamHeaderSize)) return Fail(BadHeader("too short"));
  auto sh = r.Take(crypto::kStreamHeaderSize);
  h.stream_header.assign(sh.begin(), sh.end());
  if (!h.cloud && (h.kdf.ops == 0 || h.kdf.ops > kMaxBackupKdfOps || h.kdf.mem == 0 ||
                   h.kdf.mem > kMaxBackupKdfMem)) {
    return Fail(Error::InvalidArgument(
        "backup.kdf_out_of_range",
        "the backup asks for key derivation parameters out of range (ops " +
            std::to_string(h.kdf.ops) + ", " + std::to_string(h.kdf.mem) + " bytes); refused"));
  }
  *size = r.offset();
  return h;
}

crypto::GenericKey DeriveSnapshotKey(const crypto::VaultKey& uk) {
  return crypto::GenericKey(crypto::Sub(uk.span(), 1, kSnapshotContext));
}

Result<crypto::GenericKey> DeriveBackupKey(std::string_view password, const BackupHeader& header) {
  KW_ASSIGN_OR_RETURN(auto mk, crypto::DeriveMasterKey(password, header.salt, header.kdf));
  return crypto::GenericKey(crypto::Sub(mk.span(), 1, kBackupContext));
}

BackupWriter::BackupWriter(const crypto::GenericKey& key, BackupHeader header)
    : header_(std::move(header)), stream_(key.span()) {
  header_.stream_header = stream_.header();
  out_ = EncodeBackupHeader(header_);
  header_size_ = out_.size();
}

void BackupWriter::Append(std::span<const uint8_t> record, bool final) {
  if (finished_) std::abort();  // a programming error: the stream is closed
  std::span<const uint8_t> ad;
  if (first_) ad = std::span<const uint8_t>(out_.data(), header_size_);
  crypto::Bytes ct = stream_.Push(record, ad, final);  // before out_ grows
  AppendU32Be(out_, static_cast<uint32_t>(ct.size()));
  out_.insert(out_.end(), ct.begin(), ct.end());
  first_ = false;
  finished_ = final;
}

Result<OpenedBackup> OpenBackup(const crypto::GenericKey& key, std::span<const uint8_t> file) {
  size_t header_size = 0;
  KW_ASSIGN_OR_RETURN(auto header, ParseBackupHeader(file, &header_size));
  KW_ASSIGN_OR_RETURN(auto stream, crypto::StreamPull::Start(key.span(), header.stream_header));
  OpenedBackup opened;
  opened.header = std::move(header);
  // Every plaintext fits in the file's size: one guarded buffer for all.
  opened.plaintext = crypto::SecureBytes(file.size() - header_size);
  Reader r(file.subspan(header_size));
  size_t used = 0;
  bool final = false;
  const auto damaged = [] {
    return Error::InvalidArgument("backup.damaged",
                                  "the backup file was changed after it was written (a record "
                                  "does not open in its place); nothing was restored from it");
  };
  const auto truncated = [] {
    return Error::InvalidArgument("backup.truncated",
                                  "the backup file is cut short (its end is missing); nothing "
                                  "was restored from it");
  };
  while (!final) {
    if (!r.Has(4)) return Fail(truncated());
    const uint32_t size = r.U32();
    if (size < crypto::kStreamOverhead || size > kMaxBackupRecord + crypto::kStreamOverhead) {
      return Fail(damaged());
    }
    if (!r.Has(size)) return Fail(truncated());
    auto ct = r.Take(size);
    auto out = opened.plaintext.mutable_span().subspan(used, size - crypto::kStreamOverhead);
    std::span<const uint8_t> ad;
    if (opened.records.empty()) ad = file.subspan(0, header_size);
    if (!stream.PullInto(ct, ad, out, &final)) {
      if (opened.records.empty()) {
        return Fail(Error::PermissionDenied(
            "backup.cannot_open",
            "the backup does not open with this password (a wrong password, or the file was "
            "changed)"));
      }
      return Fail(damaged());
    }
    opened.records.emplace_back(used, out.size());
    used += out.size();
  }
  if (r.left() != 0) {
    return Fail(Error::InvalidArgument(
        "backup.trailing_data",
        "the backup file has data after its last record (it was appended to); refused"));
  }
  return opened;
}

}  // namespace keyward::protocol
