// Cloud snapshots: records of protocol/backup.h under Sub(UK, 1,
// "KWsnapsh"), one binary record per item between an opening and a closing
// JSON record (docs/protocol.md "Cloud snapshot").
#include "keyward/snapshot.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "client/org_json.h"
#include "client/secret_json.h"
#include "common/byte_writer.h"
#include "common/try.h"
#include "keyward/backup.h"
#include "protocol/backup.h"
#include "protocol/binding.h"

namespace keyward::client {
namespace {

using namespace org_json;

constexpr std::string_view kFormat = "keyward-snapshot";
constexpr uint8_t kItemRecordVersion = 1;

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Error Malformed(std::string_view what) {
  return Error::InvalidArgument(
      "snapshot.malformed",
      fmt::format("the cloud backup opened but its contents are not a Keyward vault ({})", what));
}

Error BadItem(std::string_view id) {
  return Error::InvalidArgument(
      "snapshot.bad_item",
      fmt::format("item {} does not open with this vault's key (tampered or moved); refused", id));
}

// Item record: 0x01 ‖ u32 BE id size ‖ id ‖ u32 BE data size ‖ data.
crypto::Bytes ItemRecord(const EncryptedItem& item) {
  crypto::Bytes out;
  out.reserve(1 + 8 + item.id.size() + item.data.size());
  out.push_back(kItemRecordVersion);
  AppendLengthPrefixed(out, item.id);
  AppendLengthPrefixed(out, std::span<const uint8_t>(item.data));
  return out;
}

uint32_t ReadU32(std::span<const uint8_t> in, size_t at) {
  return (uint32_t{in[at]} << 24) | (uint32_t{in[at + 1]} << 16) | (uint32_t{in[at + 2]} << 8) |
         uint32_t{in[at + 3]};
}

Result<EncryptedItem> ParseItemRecord(std::span<const uint8_t> r) {
  if (r.size() < 9 || r[0] != kItemRecordVersion) return Fail(Malformed("item record"));
  const size_t id_size = ReadU32(r, 1);
  if (id_size == 0 || id_size > 64 || r.size() < 9 + id_size) return Fail(Malformed("item id"));
  EncryptedItem item;
  item.id.assign(r.begin() + 5, r.begin() + 5 + static_cast<std::ptrdiff_t>(id_size));
  const size_t data_size = ReadU32(r, 5 + id_size);
  if (data_size == 0 || r.size() != 9 + id_size + data_size) return Fail(Malformed("item data"));
  item.data.assign(r.begin() + static_cast<std::ptrdiff_t>(9 + id_size), r.end());
  return item;
}

Result<Json> ParseRecord(std::span<const uint8_t> record) {
  Json j = Json::parse(record.begin(), record.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Fail(Malformed("not JSON"));
  return j;
}

Status CheckItems(const crypto::VaultKey& uk, std::string_view account_id,
                  std::span<const EncryptedItem> items) {
  std::set<std::string_view> seen;
  for (const auto& item : items) {
    if (!seen.insert(item.id).second) return Fail(Malformed("an item twice"));
    if (!ItemOpens(uk, account_id, item.id, item.data)) return Fail(BadItem(item.id));
  }
  return {};
}

}  // namespace

Result<SnapshotInfo> ParseSnapshotInfo(const Json& j) {
  SnapshotInfo info;
  KW_ASSIGN_OR_RETURN(info.id, JsonString(j, "id"));
  KW_ASSIGN_OR_RETURN(info.state, JsonString(j, "state"));
  KW_ASSIGN_OR_RETURN(info.size, U64(j, "size"));
  KW_ASSIGN_OR_RETURN(uint64_t parts, U64(j, "parts"));
  KW_ASSIGN_OR_RETURN(info.created_at, JsonString(j, "created_at"));
  if (parts == 0 || parts > 1024 || info.size == 0) return Fail(BadResponse("has a bad snapshot"));
  info.parts = static_cast<uint32_t>(parts);
  return info;
}

namespace {

std::string SnapshotPath(std::string_view id) { return fmt::format("/v1/snapshots/{}", id); }

// A call whose answer is not needed.
Status Call(Client& client, std::string_view method, const std::string& path,
            const std::optional<Json>& body = std::nullopt) {
  auto r = client.CallJson(method, path, body);
  if (!r) return Fail(r.error());
  return {};
}

}  // namespace

Result<crypto::Bytes> EncodeSnapshot(const crypto::VaultKey& uk, std::string_view account_id,
                                     std::string_view snapshot_id, int64_t created_at,
                                     std::span<const EncryptedItem> items) {
  if (account_id.empty() || account_id.size() > 64 || snapshot_id.empty() ||
      snapshot_id.size() > 64) {
    return Fail(Error::InvalidArgument("snapshot.bad_id", "ids must be 1-64 bytes"));
  }
  KW_TRY(CheckItems(uk, account_id, items));
  protocol::BackupHeader header;
  header.cloud = true;
  header.created_at = created_at;
  header.account_id = std::string(account_id);
  header.snapshot_id = std::string(snapshot_id);
  protocol::BackupWriter writer(protocol::DeriveSnapshotKey(uk), std::move(header));
  Json meta = Json::object();
  meta["format"] = Str(kFormat);
  meta["items"] = static_cast<int64_t>(items.size());
  writer.Add(AsBytes(meta.dump()));
  for (const auto& item : items) writer.Add(ItemRecord(item));
  Json end = Json::object();
  end["end"] = static_cast<int64_t>(items.size());
  writer.Finish(AsBytes(end.dump()));
  return writer.Take();
}

Result<SnapshotContents> DecodeSnapshot(const crypto::VaultKey& uk, std::span<const uint8_t> file,
                                        std::string_view account_id, std::string_view snapshot_id) {
  size_t header_size = 0;
  KW_ASSIGN_OR_RETURN(auto header, protocol::ParseBackupHeader(file, &header_size));
  if (!header.cloud) return Fail(Malformed("a local backup, not a cloud one"));
  KW_ASSIGN_OR_RETURN(auto opened, protocol::OpenBackup(protocol::DeriveSnapshotKey(uk), file));
  // Checked once opened: only then is the header known to be this vault's.
  if (opened.header.account_id != account_id || opened.header.snapshot_id != snapshot_id) {
    return Fail(Error::PermissionDenied(
        "snapshot.other_snapshot",
        "the server sent another cloud backup than the one asked for; nothing was restored"));
  }
  if (opened.records.size() < 2) return Fail(Malformed("no records"));
  KW_ASSIGN_OR_RETURN(auto meta, ParseRecord(opened.record(0)));
  KW_ASSIGN_OR_RETURN(auto end, ParseRecord(opened.record(opened.records.size() - 1)));
  const uint64_t n = opened.records.size() - 2;
  if (Text(meta, "format") != kFormat) return Fail(Malformed("format"));
  auto items = U64(meta, "items");
  auto ended = U64(end, "end");
  if (!items || !ended || *items != n || *ended != n) return Fail(Malformed("item count"));
  SnapshotContents out;
  out.account_id = opened.header.account_id;
  out.snapshot_id = opened.header.snapshot_id;
  out.created_at = opened.header.created_at;
  out.items.reserve(n);
  for (uint64_t i = 1; i <= n; ++i) {
    KW_ASSIGN_OR_RETURN(auto item, ParseItemRecord(opened.record(i)));
    out.items.push_back(std::move(item));
  }
  KW_TRY(CheckItems(uk, account_id, out.items));
  return out;
}

Result<SnapshotInfo> PushSnapshot(Client& client, const crypto::VaultKey& uk,
                                  std::string_view account_id, const SnapshotProgress& progress) {
  KW_ASSIGN_OR_RETURN(auto items, client.ListEncryptedItems());
  const std::string id = crypto::RandomArgSafeId(16);
  KW_ASSIGN_OR_RETURN(auto file, EncodeSnapshot(uk, account_id, id, Now(), items));
  const uint32_t parts =
      static_cast<uint32_t>((file.size() + kSnapshotPartSize - 1) / kSnapshotPartSize);
  Json begin = Json::object();
  begin["id"] = Str(id);
  begin["size"] = static_cast<uint64_t>(file.size());
  begin["parts"] = parts;
  KW_TRY(client.CallJson("POST", "/v1/snapshots", begin));
  for (uint32_t n = 0; n < parts; ++n) {
    const size_t at = size_t{n} * kSnapshotPartSize;
    const size_t size = std::min(kSnapshotPartSize, file.size() - at);
    Json body = Json::object();
    body["data"] = B64(std::span<const uint8_t>(file).subspan(at, size));
    KW_TRY(client.CallJson("PUT", fmt::format("/v1/snapshots/{}/parts/{}", id, n), body));
    if (progress) progress(at + size, file.size());
  }
  KW_ASSIGN_OR_RETURN(auto done, client.CallJson("POST", SnapshotPath(id) + "/finish"));
  KW_ASSIGN_OR_RETURN(auto info, ParseSnapshotInfo(done));
  if (info.id != id || info.size != file.size()) {
    return Fail(BadResponse("finished another cloud backup than the one sent"));
  }
  return info;
}

Result<std::vector<SnapshotInfo>> ListSnapshots(Client& client) {
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("GET", "/v1/snapshots"));
  auto it = r.find(ToSecretString("snapshots"));
  if (it == r.end() || !it->is_array()) return Fail(BadResponse("has no 'snapshots'"));
  std::vector<SnapshotInfo> out;
  for (const Json& j : *it) {
    KW_ASSIGN_OR_RETURN(auto info, ParseSnapshotInfo(j));
    out.push_back(std::move(info));
  }
  return out;
}

Result<SnapshotInfo> GetSnapshot(Client& client, std::string_view id) {
  if (!protocol::CheckId(id)) {
    return Fail(Error::NotFound("snapshot.not_found", "No such cloud backup."));
  }
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("GET", SnapshotPath(id)));
  KW_ASSIGN_OR_RETURN(auto info, ParseSnapshotInfo(r));
  if (info.id != id) return Fail(BadResponse("answered another cloud backup"));
  return info;
}

Result<crypto::Bytes> DownloadSnapshot(const SnapshotInfo& info, const PartFetcher& fetch_part,
                                       const SnapshotProgress& progress) {
  crypto::Bytes file;
  file.reserve(info.size);
  for (uint32_t n = 0; n < info.parts; ++n) {
    KW_ASSIGN_OR_RETURN(auto part, fetch_part(n));
    if (file.size() + part.size() > info.size) {
      return Fail(BadResponse("sent more of the cloud backup than its size"));
    }
    file.insert(file.end(), part.begin(), part.end());
    if (progress) progress(file.size(), info.size);
  }
  if (file.size() != info.size) return Fail(BadResponse("sent less of the cloud backup"));
  return file;
}

Result<crypto::Bytes> DownloadSnapshot(Client& client, const SnapshotInfo& info,
                                       const SnapshotProgress& progress) {
  return DownloadSnapshot(
      info,
      [&](uint32_t n) -> Result<crypto::Bytes> {
        KW_ASSIGN_OR_RETURN(
            auto r, client.CallJson("GET", fmt::format("/v1/snapshots/{}/parts/{}", info.id, n)));
        return JsonBase64(r, "data");
      },
      progress);
}

Status DeleteSnapshot(Client& client, std::string_view id) {
  if (!protocol::CheckId(id)) {
    return Fail(Error::NotFound("snapshot.not_found", "No such cloud backup."));
  }
  return Call(client, "DELETE", SnapshotPath(id));
}

Status StageItems(std::span<const EncryptedItem> items, const StageSender& send,
                  const SnapshotProgress& progress) {
  const uint64_t total = items.size();
  uint64_t done = 0;
  Json list = Json::array();
  size_t bytes = 32;
  auto flush = [&]() -> Status {
    if (list.empty()) return {};
    const uint64_t n = list.size();
    Json body = Json::object();
    body["items"] = std::move(list);
    KW_TRY(send(std::move(body)));
    done += n;
    if (progress) progress(done, total);
    list = Json::array();
    bytes = 32;
    return {};
  };
  for (const auto& item : items) {
    const size_t size = item.id.size() + (item.data.size() * 4 + 2) / 3 + 32;
    if (!list.empty() && (bytes + size > kRestoreBatchBytes || list.size() >= kRestoreBatchChanges))
      KW_TRY(flush());
    Json j = Json::object();
    j["id"] = Str(item.id);
    j["data"] = B64(item.data);
    list.push_back(std::move(j));
    bytes += size;
  }
  return flush();
}

Result<CloudRestoreAsked> RequestCloudRestore(Client& client, const crypto::VaultKey& uk,
                                              std::string_view account_id,
                                              std::string_view snapshot_id,
                                              std::string_view device_name,
                                              const SnapshotProgress& progress) {
  KW_ASSIGN_OR_RETURN(auto info, GetSnapshot(client, snapshot_id));
  KW_ASSIGN_OR_RETURN(auto file, DownloadSnapshot(client, info));
  CloudRestoreAsked out;
  KW_ASSIGN_OR_RETURN(out.contents, DecodeSnapshot(uk, file, account_id, snapshot_id));
  // A pending request for this snapshot, asked in a session whose staging
  // was cut short, is staged again (insert or replace) rather than refused.
  KW_ASSIGN_OR_RETURN(auto open, CurrentRequest(client));
  if (open && open->kind == "restore" && open->snapshot_id == snapshot_id && !open->link &&
      open->status == "pending" && open->item_count == out.contents.items.size()) {
    out.request = std::move(*open);
  } else {
    Json ask = Json::object();
    ask["snapshot_id"] = Str(snapshot_id);
    ask["device_name"] = Str(device_name);
    ask["item_count"] = static_cast<uint64_t>(out.contents.items.size());
    ask["acknowledge"] = Str("unpair_other_devices");
    KW_ASSIGN_OR_RETURN(auto r, client.CallJson("POST", "/v1/restores", ask));
    KW_ASSIGN_OR_RETURN(out.request, ParseRequestInfo(r));
  }
  const std::string path = fmt::format("/v1/restores/{}/items", out.request.id);
  KW_TRY(StageItems(
      out.contents.items, [&](Json body) { return Call(client, "POST", path, body); }, progress));
  return out;
}

Result<std::optional<RecoveryRequestInfo>> CurrentRequest(Client& client) {
  KW_ASSIGN_OR_RETURN(auto r, client.CallJson("GET", "/v1/restores/current"));
  auto it = r.find(ToSecretString("request"));
  if (it == r.end() || it->is_null()) return std::optional<RecoveryRequestInfo>();
  KW_ASSIGN_OR_RETURN(auto info, ParseRequestInfo(*it));
  return std::optional<RecoveryRequestInfo>(std::move(info));
}

}  // namespace keyward::client
