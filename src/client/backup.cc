// Local backup files: the records of protocol/backup.h hold one binary
// record per item between an opening JSON record (who and when) and a
// closing one (how many).
#include "keyward/backup.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/try.h"
#include "keyward/profile.h"
#include "protocol/backup.h"

namespace keyward::client {
namespace {

constexpr std::string_view kFormat = "keyward-backup";

std::span<const uint8_t> AsBytes(const SecretString& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Error Malformed(std::string_view what) {
  return Error::InvalidArgument(
      "backup.malformed",
      fmt::format("the backup opened but its contents are not a Keyward vault ({})", what));
}

Error FileError(std::string_view what, const std::filesystem::path& path, int err) {
  return Error::Internal("backup.io",
                         fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)));
}

// Item records (docs/protocol.md "Local backup file"): a version byte, then
// the fields in a fixed order, each string as its length (u32 LE) and bytes:
//   0x01 ‖ id ‖ revision (i64 LE) ‖ created_at ‖ updated_at ‖ name ‖ username
//   ‖ password ‖ url ‖ notes
constexpr uint8_t kItemRecordVersion = 1;
constexpr size_t kItemRecordFixedSize = 1 + 8 + 8 * 4;  // version, revision, 8 lengths

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// An unsigned integer from or to its little-endian bytes.
template <class T>
T LittleEndian(T v) {
  if constexpr (std::endian::native == std::endian::big) return std::byteswap(v);
  return v;
}

// RFC 3629 UTF-8, as the JSON records required of every string: no overlong
// forms, no surrogates, nothing above U+10FFFF; NUL is allowed (JSON's \u0000).
bool IsUtf8(std::span<const uint8_t> s) {
  const uint8_t* p = s.data();
  const uint8_t* const end = p + s.size();
  while (p != end) {
    if (end - p >= 8) {  // ASCII, eight bytes at a time
      uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080u) == 0) {
        p += 8;
        continue;
      }
    }
    const uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t len = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) < len || p[1] < lo || p[1] > hi) return false;
    for (size_t k = 2; k < len; ++k) {
      if (p[k] < 0x80 || p[k] > 0xBF) return false;
    }
    p += len;
  }
  return true;
}

// The size of `item`'s record, or why it cannot have one: every string must
// be UTF-8 (the reader refuses anything else) and the record must fit in a
// backup record (protocol::kMaxBackupRecord).
Result<size_t> ItemRecordSize(const Item& item) {
  const std::span<const uint8_t> strings[] = {
      AsBytes(item.id),          AsBytes(item.created_at),      AsBytes(item.updated_at),
      AsBytes(item.fields.name), AsBytes(item.fields.username), item.fields.password.span(),
      AsBytes(item.fields.url),  item.fields.notes.span()};
  size_t size = kItemRecordFixedSize;
  for (auto s : strings) {
    if (!IsUtf8(s)) {
      return Fail(Error::InvalidArgument(
          "backup.bad_item", fmt::format("item {} has a field that is not UTF-8 text", item.id)));
    }
    size += s.size();
  }
  if (size > protocol::kMaxBackupRecord) {
    return Fail(Error::InvalidArgument(
        "backup.item_too_large",
        fmt::format("item {} is too large for a backup ({} bytes, at most {})", item.id, size,
                    protocol::kMaxBackupRecord)));
  }
  return size;
}

// Writes into a buffer known to be large enough (ItemRecordSize).
struct RecordWriter {
  std::span<uint8_t> out;
  size_t at = 0;

  template <class T>
  void Le(T v) {
    v = LittleEndian(v);
    std::memcpy(out.data() + at, &v, sizeof v);
    at += sizeof v;
  }
  void Field(std::span<const uint8_t> s) {
    Le(static_cast<uint32_t>(s.size()));
    if (!s.empty()) std::memcpy(out.data() + at, s.data(), s.size());
    at += s.size();
  }
};

// Writes `item`'s record at the start of `out` (at least ItemRecordSize
// bytes); returns its size.
size_t WriteItemRecord(const Item& item, std::span<uint8_t> out) {
  RecordWriter w{out};
  w.Le(kItemRecordVersion);
  w.Field(AsBytes(item.id));
  w.Le(static_cast<uint64_t>(item.revision));
  w.Field(AsBytes(item.created_at));
  w.Field(AsBytes(item.updated_at));
  w.Field(AsBytes(item.fields.name));
  w.Field(AsBytes(item.fields.username));
  w.Field(item.fields.password.span());
  w.Field(AsBytes(item.fields.url));
  w.Field(item.fields.notes.span());
  return w.at;
}

// Reads one record, never past its end. The first problem is kept in
// `error`; every read after it gives zero or nothing.
struct RecordReader {
  std::span<const uint8_t> in;
  size_t at = 0;
  const char* error = nullptr;

  std::span<const uint8_t> Take(size_t n) {
    if (error != nullptr) return {};
    if (in.size() - at < n) {
      error = "an item record is cut short or a length runs past its end";
      return {};
    }
    auto s = in.subspan(at, n);
    at += n;
    return s;
  }
  template <class T>
  T Le() {
    T v = 0;
    if (auto b = Take(sizeof v); !b.empty()) std::memcpy(&v, b.data(), sizeof v);
    return LittleEndian(v);
  }
  std::span<const uint8_t> Field() {
    auto s = Take(Le<uint32_t>());
    if (error == nullptr && !IsUtf8(s)) error = "an item field is not UTF-8 text";
    return s;
  }
  std::string Text() {
    auto s = Field();
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
  }
  crypto::SecureBytes Secret() { return crypto::SecureBytes::Copy(Field()); }
};

// Reads an item record into `item`, a fresh one (read in place: the item is
// never copied or moved).
Status ReadItemRecord(std::span<const uint8_t> record, Item& item) {
  RecordReader r{record};
  if (r.Le<uint8_t>() != kItemRecordVersion && r.error == nullptr) {
    return Fail(Malformed("an item record of an unknown version"));
  }
  item.id = r.Text();
  item.revision = static_cast<int64_t>(r.Le<uint64_t>());
  item.created_at = r.Text();
  item.updated_at = r.Text();
  item.fields.name = r.Text();
  item.fields.username = r.Text();
  item.fields.password = r.Secret();
  item.fields.url = r.Text();
  item.fields.notes = r.Secret();
  if (r.error == nullptr && r.at != record.size()) r.error = "an item record has trailing bytes";
  if (r.error != nullptr) return Fail(Malformed(r.error));
  return {};
}

Result<Json> ParseRecord(std::span<const uint8_t> record) {
  Json j = Json::parse(record.begin(), record.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Fail(Malformed("a record is not a JSON object"));
  return j;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

Result<crypto::Bytes> EncodeBackup(const BackupContents& contents,
                                   const crypto::SecureBytes& password,
                                   const crypto::KdfParams& kdf, const BackupProgress& progress) {
  KW_TRY(CheckKdfFloor(kdf));
  protocol::BackupHeader header;
  header.kdf = kdf;
  header.salt = crypto::RandomBytes(crypto::kSaltSize);
  KW_ASSIGN_OR_RETURN(auto key, protocol::DeriveBackupKey(password.view(), header));
  return EncodeBackupWithKey(contents, key, kdf, header.salt, progress);
}

Result<crypto::Bytes> EncodeBackupWithKey(const BackupContents& contents,
                                          const crypto::GenericKey& key,
                                          const crypto::KdfParams& kdf,
                                          std::span<const uint8_t> salt,
                                          const BackupProgress& progress) {
  if (contents.account_id.empty() || contents.account_id.size() > 64) {
    return Fail(Error::InvalidArgument("backup.bad_account", "the account id must be 1-64 bytes"));
  }
  protocol::BackupHeader header;
  header.kdf = kdf;
  header.salt.assign(salt.begin(), salt.end());
  header.created_at = contents.created_at;
  header.account_id = contents.account_id;
  protocol::BackupWriter writer(key, std::move(header));

  Json meta = Json::object();
  meta["format"] = Str(kFormat);
  meta["account_id"] = Str(contents.account_id);
  meta["email"] = Str(contents.email);
  meta["created_at"] = contents.created_at;
  meta["items"] = static_cast<int64_t>(contents.items.size());
  // Every item is checked before anything is written; then each record is
  // built in one guarded buffer the size of the largest, wiped when freed.
  size_t largest = 0;
  for (const auto& item : contents.items) {
    KW_ASSIGN_OR_RETURN(size_t size, ItemRecordSize(item));
    largest = std::max(largest, size);
  }
  crypto::SecureBytes record(largest);
  writer.Add(AsBytes(meta.dump()));
  const uint64_t total = contents.items.size();
  for (uint64_t i = 0; i < total; ++i) {
    const size_t size = WriteItemRecord(contents.items[i], record.mutable_span());
    writer.Add(record.span().first(size));
    if (progress && ((i + 1) % 256 == 0 || i + 1 == total)) progress(i + 1, total);
  }
  Json end = Json::object();
  end["end"] = static_cast<int64_t>(total);
  writer.Finish(AsBytes(end.dump()));
  return writer.Take();
}

Result<BackupContents> DecodeBackup(std::span<const uint8_t> file,
                                    const crypto::SecureBytes& password,
                                    const std::optional<std::string>& expected_account,
                                    const BackupProgress& progress) {
  size_t header_size = 0;
  KW_ASSIGN_OR_RETURN(auto header, protocol::ParseBackupHeader(file, &header_size));
  if (expected_account && header.account_id != *expected_account) {
    return Fail(Error::PermissionDenied(
        "backup.other_account",
        "this backup belongs to another account; it can only be restored into the account it "
        "was made from"));
  }
  KW_TRY(CheckKdfFloor(header.kdf));
  KW_ASSIGN_OR_RETURN(auto key, protocol::DeriveBackupKey(password.view(), header));
  return DecodeBackupWithKey(file, key, progress);
}

Result<BackupContents> DecodeBackupWithKey(std::span<const uint8_t> file,
                                           const crypto::GenericKey& key,
                                           const BackupProgress& progress) {
  KW_ASSIGN_OR_RETURN(auto opened, protocol::OpenBackup(key, file));
  const size_t n = opened.records.size();
  if (n < 2) return Fail(Malformed("no opening or closing record"));

  KW_ASSIGN_OR_RETURN(auto meta, ParseRecord(opened.record(0)));
  BackupContents out;
  KW_ASSIGN_OR_RETURN(auto format, JsonString(meta, "format"));
  KW_ASSIGN_OR_RETURN(out.account_id, JsonString(meta, "account_id"));
  KW_ASSIGN_OR_RETURN(out.email, JsonString(meta, "email"));
  KW_ASSIGN_OR_RETURN(out.created_at, JsonInt(meta, "created_at"));
  KW_ASSIGN_OR_RETURN(auto count, JsonInt(meta, "items"));
  if (format != kFormat) return Fail(Malformed("unknown format"));
  if (out.account_id != opened.header.account_id || out.created_at != opened.header.created_at) {
    return Fail(Malformed("the header and the contents disagree"));
  }
  KW_ASSIGN_OR_RETURN(auto end, ParseRecord(opened.record(n - 1)));
  KW_ASSIGN_OR_RETURN(auto end_count, JsonInt(end, "end"));
  if (count < 0 || static_cast<size_t>(count) != n - 2 || end_count != count) {
    return Fail(Malformed("the item count does not match"));
  }
  out.items.reserve(n - 2);
  for (size_t i = 1; i + 1 < n; ++i) {
    KW_TRY(ReadItemRecord(opened.record(i), out.items.emplace_back()));
    if (progress && (i % 256 == 0 || i + 2 == n)) progress(i, n - 2);
  }
  return out;
}

Result<std::filesystem::path> DefaultBackupDir() {
#if defined(_WIN32)
  if (auto v = Env("APPDATA"); !v.empty()) return std::filesystem::path(v) / "Keyward" / "backup";
#elif defined(__APPLE__)
  if (auto v = Env("HOME"); !v.empty()) {
    return std::filesystem::path(v) / "Library" / "Application Support" / "Keyward" / "backup";
  }
#else
  if (auto v = Env("XDG_DATA_HOME"); !v.empty()) {
    return std::filesystem::path(v) / "keyward" / "backup";
  }
  if (auto v = Env("HOME"); !v.empty()) {
    return std::filesystem::path(v) / ".local" / "share" / "keyward" / "backup";
  }
#endif
  return Fail(Error::InvalidArgument("backup.no_home",
                                     "cannot find a folder for backups: set HOME or use --path"));
}

std::string BackupFileName(int64_t created_at) {
  // 2026-12-06T17:15:00Z -> 20261206T171500Z
  std::string stamp;
  for (char c : FormatRfc3339(created_at)) {
    if (c != '-' && c != ':') stamp += c;
  }
  return "keyward-backup-" + stamp + std::string(kBackupExtension);
}

Result<BackupFileInfo> InspectBackupFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(FileError("read", path, errno));
  // The header is at most 8 + 1 + 8 + 8 + 16 + 8 + 1 + 64 + 24 bytes.
  crypto::Bytes head(256);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  size_t size = 0;
  KW_ASSIGN_OR_RETURN(auto header, protocol::ParseBackupHeader(head, &size));
  BackupFileInfo info;
  info.path = path;
  info.account_id = header.account_id;
  info.created_at = header.created_at;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    info.size = static_cast<uint64_t>(st.st_size);
    info.modified = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  }
  return info;
}

Result<std::vector<BackupFileInfo>> ListBackupFiles(const std::filesystem::path& dir) {
  std::vector<BackupFileInfo> out;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != kBackupExtension) continue;
    auto info = InspectBackupFile(entry.path());
    if (info) out.push_back(std::move(*info));
  }
  if (ec) return Fail(FileError("list", dir, ec.value()));
  // Two backups of the same second: the one written last is the newer.
  std::sort(out.begin(), out.end(), [](const BackupFileInfo& a, const BackupFileInfo& b) {
    if (a.created_at != b.created_at) return a.created_at > b.created_at;
    if (a.modified != b.modified) return a.modified > b.modified;
    return a.path.filename() > b.path.filename();
  });
  return out;
}

Result<std::vector<std::filesystem::path>> PruneBackups(const std::filesystem::path& dir,
                                                        std::string_view account_id, size_t keep,
                                                        const std::filesystem::path& protect) {
  KW_ASSIGN_OR_RETURN(auto files, ListBackupFiles(dir));
  std::vector<std::filesystem::path> removed;
  size_t seen = 0;
  std::error_code ec;
  for (const auto& f : files) {
    if (f.account_id != account_id) continue;
    if (++seen <= keep) continue;
    if (!protect.empty() && std::filesystem::equivalent(f.path, protect, ec)) continue;
    if (::unlink(f.path.c_str()) != 0) return Fail(FileError("remove", f.path, errno));
    removed.push_back(f.path);
  }
  return removed;
}

bool SameFields(const ItemFields& a, const ItemFields& b) {
  return a.name == b.name && a.username == b.username && a.url == b.url &&
         crypto::ConstantTimeEqual(a.password.span(), b.password.span()) &&
         crypto::ConstantTimeEqual(a.notes.span(), b.notes.span());
}

RestorePlan PlanRestore(const std::vector<Item>& current, const BackupContents& backup,
                        bool replace) {
  std::map<std::string_view, const Item*> now;
  for (const auto& item : current) now.emplace(item.id, &item);
  RestorePlan plan;
  for (const auto& item : backup.items) {
    auto it = now.find(item.id);
    if (it == now.end()) {
      plan.add.push_back(&item);
    } else if (SameFields(it->second->fields, item.fields)) {
      ++plan.unchanged;
    } else if (replace) {
      plan.overwrite.emplace_back(&item, it->second->revision);
    } else {
      ++plan.kept;
    }
    if (it != now.end()) now.erase(it);
  }
  if (replace) {
    for (const auto& [id, item] : now) plan.remove.emplace_back(id);
  }
  return plan;
}

Result<size_t> ApplyRestore(Client& client, const crypto::VaultKey& uk, std::string_view account_id,
                            const RestorePlan& plan, const BackupProgress& progress) {
  const uint64_t total = plan.add.size() + plan.overwrite.size() + plan.remove.size();
  uint64_t done = 0;
  size_t requests = 0;
  Json body;
  size_t bytes = 0;
  uint64_t in_body = 0;
  auto reset = [&] {
    body = Json::object();
    body["add"] = Json::array();
    body["update"] = Json::array();
    body["delete"] = Json::array();
    bytes = 64;
    in_body = 0;
  };
  auto flush = [&]() -> Status {
    if (in_body == 0) return {};
    KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", "/v1/items/batch", body));
    (void)r;
    ++requests;
    done += in_body;
    if (progress) progress(done, total);
    reset();
    return {};
  };
  auto add = [&](const char* list, Json change, size_t size) -> Status {
    if (in_body > 0 && (bytes + size > kRestoreBatchBytes || in_body >= kRestoreBatchChanges))
      KW_TRY(flush());
    body[list].push_back(std::move(change));
    bytes += size;
    ++in_body;
    return {};
  };
  reset();
  for (const Item* item : plan.add) {
    Json j = Json::object();
    j["id"] = Str(item->id);
    const std::string data =
        crypto::Base64UrlEncode(EncryptItem(uk, account_id, item->id, item->fields));
    j["data"] = Str(data);
    KW_TRY(add("add", std::move(j), data.size() + item->id.size() + 32));
  }
  for (const auto& [item, revision] : plan.overwrite) {
    Json j = Json::object();
    j["id"] = Str(item->id);
    j["revision"] = revision;
    const std::string data =
        crypto::Base64UrlEncode(EncryptItem(uk, account_id, item->id, item->fields));
    j["data"] = Str(data);
    KW_TRY(add("update", std::move(j), data.size() + item->id.size() + 48));
  }
  for (const auto& id : plan.remove) {
    Json j = Json::object();
    j["id"] = Str(id);
    KW_TRY(add("delete", std::move(j), id.size() + 16));
  }
  KW_TRY(flush());
  return requests;
}

}  // namespace keyward::client
