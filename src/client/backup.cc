// Local backup files: the records of protocol/backup.h hold JSON, one per
// item between an opening record (who and when) and a closing one (how many).
#include "keyward/backup.h"

#include <sys/stat.h>

#include <algorithm>
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

Json ItemRecord(const Item& item) {
  Json j = Json::object();
  j["id"] = Str(item.id);
  j["revision"] = item.revision;
  j["created_at"] = Str(item.created_at);
  j["updated_at"] = Str(item.updated_at);
  j["name"] = Str(item.fields.name);
  j["username"] = Str(item.fields.username);
  j["password"] = Json(ToSecretString(item.fields.password));
  j["url"] = Str(item.fields.url);
  j["notes"] = Json(ToSecretString(item.fields.notes));
  return j;
}

Result<Json> ParseRecord(std::span<const uint8_t> record) {
  Json j = Json::parse(record.begin(), record.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Fail(Malformed("a record is not a JSON object"));
  return j;
}

Result<Item> ItemFromRecord(const Json& j) {
  Item item;
  KW_ASSIGN_OR_RETURN(item.id, JsonString(j, "id"));
  KW_ASSIGN_OR_RETURN(item.revision, JsonInt(j, "revision"));
  KW_ASSIGN_OR_RETURN(item.created_at, JsonString(j, "created_at"));
  KW_ASSIGN_OR_RETURN(item.updated_at, JsonString(j, "updated_at"));
  KW_ASSIGN_OR_RETURN(item.fields.name, JsonString(j, "name"));
  KW_ASSIGN_OR_RETURN(item.fields.username, JsonString(j, "username"));
  KW_ASSIGN_OR_RETURN(item.fields.password, JsonSecret(j, "password"));
  KW_ASSIGN_OR_RETURN(item.fields.url, JsonString(j, "url"));
  KW_ASSIGN_OR_RETURN(item.fields.notes, JsonSecret(j, "notes"));
  return item;
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
  writer.Add(AsBytes(meta.dump()));
  const uint64_t total = contents.items.size();
  for (uint64_t i = 0; i < total; ++i) {
    writer.Add(AsBytes(ItemRecord(contents.items[i]).dump()));
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
    KW_ASSIGN_OR_RETURN(auto record, ParseRecord(opened.record(i)));
    KW_ASSIGN_OR_RETURN(auto item, ItemFromRecord(record));
    out.items.push_back(std::move(item));
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

}  // namespace keyward::client
