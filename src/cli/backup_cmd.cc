// keyward backup create | list | restore (local backup files; docs/recovery.md
// "Restore a local backup") and push | list --cloud | restore --cloud
// (cloud backups, "Cloud backups").
#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "cli/member_paths.h"
#include "common/clock.h"
#include "common/try.h"
#include "keyward/backup.h"
#include "keyward/recovery.h"
#include "keyward/snapshot.h"
#include "protocol/backup.h"

namespace keyward::cli {
namespace {

// Larger files are refused before they are read (a vault of 10,000 items
// makes a file of a few MiB).
constexpr uintmax_t kMaxBackupFileSize = 1ull << 30;

struct BackupArgs {
  std::string path;  // --path: a folder, or (create) a file
  std::string file;  // restore FILE
  int keep = 0;      // --keep N, 0: keep all
  bool replace = false;
  bool cloud = false;    // list --cloud
  std::string cloud_id;  // restore --cloud ID ("newest": the newest)
  std::string email;     // restore --cloud --email: without the master password
  bool code_stdin = false;
};

Result<std::filesystem::path> Folder(const BackupArgs& a) {
  if (!a.path.empty()) return std::filesystem::path(a.path);
  return client::DefaultBackupDir();
}

// --path names a folder when it is one or ends with a separator; otherwise
// (create) the file itself.
bool IsFolderArg(const std::string& path) {
  std::error_code ec;
  return path.empty() || path.back() == '/' || std::filesystem::is_directory(path, ec);
}

// A name that does not overwrite an earlier backup of the same second.
std::filesystem::path FreePath(const std::filesystem::path& dir, int64_t created_at) {
  std::string name = client::BackupFileName(created_at);
  std::filesystem::path path = dir / name;
  std::error_code ec;
  const std::string stem = name.substr(0, name.size() - client::kBackupExtension.size());
  for (int i = 1; std::filesystem::exists(path, ec); ++i) {
    path = dir / fmt::format("{}-{}{}", stem, i, client::kBackupExtension);
  }
  return path;
}

Result<crypto::Bytes> ReadFile(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return Fail(Error::NotFound("backup.not_found",
                                fmt::format("cannot read {}: {}", path.string(), ec.message())));
  }
  if (size > kMaxBackupFileSize) {
    return Fail(Error::InvalidArgument(
        "backup.too_large",
        fmt::format("{} is larger than any backup keyward writes; refused", path.string())));
  }
  std::ifstream in(path, std::ios::binary);
  crypto::Bytes bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in || static_cast<uintmax_t>(in.gcount()) != size) {
    return Fail(Error::Internal("backup.io", fmt::format("cannot read {}", path.string())));
  }
  return bytes;
}

std::string HumanSize(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < (1u << 20)) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1u << 20));
}

Status Create(Context& ctx, const BackupArgs& a) {
  if (a.keep < 0) return Fail(Error::InvalidArgument("cli.usage", "--keep must be 0 or more"));
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  // The backup's key comes from the master password as it is now: asked for
  // even with a session, and checked by unwrapping the vault key with it.
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password("Master password: "));
  KW_ASSIGN_OR_RETURN(auto unlocked, c.UnlockWithPassword(password));
  KW_ASSIGN_OR_RETURN(auto items, c.ListItems(unlocked.vault_key, unlocked.account.id));

  client::BackupContents contents;
  contents.account_id = unlocked.account.id;
  contents.email = unlocked.account.email;
  contents.created_at = SystemClock().NowUnix();
  contents.items = std::move(items);
  ProgressBar bar(ctx, "Encrypting", "items");
  KW_ASSIGN_OR_RETURN(auto bytes,
                      client::EncodeBackup(contents, password, unlocked.account.kdf, bar.Fn()));
  bar.Done();

  std::filesystem::path dir, path;
  if (IsFolderArg(a.path)) {
    KW_ASSIGN_OR_RETURN(dir, Folder(a));
    path = FreePath(dir, contents.created_at);
  } else {
    path = a.path;
    dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  }
  KW_TRY(client::EnsureProfileDir(dir));
  KW_TRY(client::WriteFileAtomically(
      path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  std::vector<std::filesystem::path> removed;
  if (a.keep > 0) {
    KW_ASSIGN_OR_RETURN(
        removed, client::PruneBackups(dir, contents.account_id, static_cast<size_t>(a.keep), path));
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["path"] = client::Str(path.string());
    j["items"] = static_cast<int64_t>(contents.items.size());
    j["size"] = static_cast<int64_t>(bytes.size());
    j["created_at"] = client::Str(FormatRfc3339(contents.created_at));
    client::Json gone = client::Json::array();
    for (const auto& r : removed) gone.push_back(client::Str(r.string()));
    j["removed"] = std::move(gone);
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format("Backed up {} items to {} ({}).", contents.items.size(), path.string(),
                      HumanSize(bytes.size())));
  ctx.Out(
      "It opens only with the master password you just typed, even after you change it: "
      "remember it.");
  for (const auto& r : removed) ctx.Out(fmt::format("Removed old backup {}.", r.string()));
  return {};
}

Status List(Context& ctx, const BackupArgs& a) {
  KW_ASSIGN_OR_RETURN(auto dir, Folder(a));
  KW_ASSIGN_OR_RETURN(auto files, client::ListBackupFiles(dir));
  auto profile = ctx.LoadProfile();
  const std::string me = profile ? profile->account_id : std::string();
  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& f : files) {
      client::Json j = client::Json::object();
      j["path"] = client::Str(f.path.string());
      j["created_at"] = client::Str(FormatRfc3339(f.created_at));
      j["size"] = static_cast<int64_t>(f.size);
      j["account_id"] = client::Str(f.account_id);
      j["this_account"] = !me.empty() && f.account_id == me;
      arr.push_back(std::move(j));
    }
    client::Json j = client::Json::object();
    j["folder"] = client::Str(dir.string());
    j["backups"] = std::move(arr);
    ctx.OutJson(j);
    return {};
  }
  if (files.empty()) {
    ctx.Out(fmt::format("No backups in {}.", dir.string()));
    return {};
  }
  ctx.Out(fmt::format("Backups in {} (newest first):", dir.string()));
  ctx.Out(fmt::format("  {:<20}  {:>10}  {:<13}  {}", "CREATED", "SIZE", "ACCOUNT", "FILE"));
  for (const auto& f : files) {
    ctx.Out(fmt::format("  {:<20}  {:>10}  {:<13}  {}", FormatRfc3339(f.created_at),
                        HumanSize(f.size), f.account_id == me ? "this account" : "another",
                        f.path.filename().string()));
  }
  return {};
}

// The file to restore: FILE, else the newest backup of this account in the
// folder.
Result<std::filesystem::path> ChooseFile(const BackupArgs& a, const std::string& account_id) {
  if (!a.file.empty()) return std::filesystem::path(a.file);
  KW_ASSIGN_OR_RETURN(auto dir, Folder(a));
  KW_ASSIGN_OR_RETURN(auto files, client::ListBackupFiles(dir));
  for (auto& f : files) {
    if (f.account_id == account_id) return std::move(f.path);
  }
  return Fail(Error::NotFound("backup.none",
                              fmt::format("no backup of this account in {} (name a file, or --path "
                                          "for another folder)",
                                          dir.string())));
}

Status Restore(Context& ctx, const BackupArgs& a) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  KW_ASSIGN_OR_RETURN(auto path, ChooseFile(a, profile.account_id));
  KW_ASSIGN_OR_RETURN(auto bytes, ReadFile(path));
  // Another account's file is refused before its password is asked for.
  size_t header_size = 0;
  KW_ASSIGN_OR_RETURN(auto header, protocol::ParseBackupHeader(bytes, &header_size));
  if (header.account_id != profile.account_id) {
    return Fail(Error::PermissionDenied(
        "backup.other_account",
        "this backup belongs to another account; it can only be restored into the account it "
        "was made from"));
  }
  KW_ASSIGN_OR_RETURN(auto password, ctx.prompt().Password(fmt::format(
                                         "Password of this backup (your master password on {}): ",
                                         FormatRfc3339(header.created_at))));
  ProgressBar reading(ctx, "Decrypting", "items");
  KW_ASSIGN_OR_RETURN(auto backup,
                      client::DecodeBackup(bytes, password, profile.account_id, reading.Fn()));
  reading.Done();

  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  KW_ASSIGN_OR_RETURN(auto current, c.ListItems(uk, profile.account_id));
  const client::RestorePlan plan = client::PlanRestore(current, backup, a.replace);

  if (!ctx.json()) {
    ctx.Out(fmt::format("Backup of {} made {} ({} items): {}", backup.email,
                        FormatRfc3339(backup.created_at), backup.items.size(), path.string()));
    ctx.Out(
        fmt::format("  {} to add back, {} to overwrite, {} to delete, {} already the same, "
                    "{} changed since the backup and kept{}",
                    plan.add.size(), plan.overwrite.size(), plan.remove.size(), plan.unchanged,
                    plan.kept, a.replace ? "" : " (--replace makes the vault exactly the backup)"));
  }
  const size_t total = plan.add.size() + plan.overwrite.size() + plan.remove.size();
  if (total > 0) {
    KW_ASSIGN_OR_RETURN(bool yes, ctx.prompt().Confirm("Restore these items? [y/N] "));
    if (!yes) return Fail(Error::InvalidArgument("cli.cancelled", "restore cancelled"));
  }
  ProgressBar bar(ctx, "Restoring", "items");
  // All or nothing per request: a vault that fits in one request (about
  // 1,500 typical items) is restored whole or not at all.
  KW_ASSIGN_OR_RETURN(size_t requests,
                      client::ApplyRestore(c, uk, profile.account_id, plan, bar.Fn()));
  bar.Done();
  if (requests > 1 && !ctx.json()) {
    ctx.Hint(fmt::format("Restored in {} steps, each complete on its own.", requests));
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["path"] = client::Str(path.string());
    j["created_at"] = client::Str(FormatRfc3339(backup.created_at));
    j["added"] = static_cast<int64_t>(plan.add.size());
    j["overwritten"] = static_cast<int64_t>(plan.overwrite.size());
    j["deleted"] = static_cast<int64_t>(plan.remove.size());
    j["unchanged"] = static_cast<int64_t>(plan.unchanged);
    j["kept"] = static_cast<int64_t>(plan.kept);
    ctx.OutJson(j);
  } else {
    ctx.Out(total == 0 ? "Nothing to restore: the vault already holds this backup's items."
                       : fmt::format("Restored {} items.", total));
  }
  return {};
}

// ---- cloud backups ----

client::Json SnapshotJson(const client::SnapshotInfo& s) {
  client::Json j = client::Json::object();
  j["id"] = client::Str(s.id);
  j["created_at"] = client::Str(s.created_at);
  j["size"] = s.size;
  return j;
}

Status Push(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  ProgressBar bar(ctx, "Uploading", "bytes");
  KW_ASSIGN_OR_RETURN(auto info, client::PushSnapshot(c, uk, profile.account_id, bar.Fn()));
  bar.Done();
  if (ctx.json()) {
    ctx.OutJson(SnapshotJson(info));
    return {};
  }
  ctx.Out(fmt::format("Pushed cloud backup {} ({}).", info.id, HumanSize(info.size)));
  ctx.Out(
      "It is encrypted under a key from your vault key: the server cannot read it. Restoring it "
      "needs your recovery admins' approval ('keyward backup restore --cloud ID').");
  return {};
}

Status ListCloud(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto list, client::ListSnapshots(c));
  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& s : list) arr.push_back(SnapshotJson(s));
    client::Json j = client::Json::object();
    j["snapshots"] = std::move(arr);
    ctx.OutJson(j);
    return {};
  }
  if (list.empty()) {
    ctx.Out("No cloud backups yet ('keyward backup push' makes one).");
    return {};
  }
  ctx.Out("Cloud backups (newest first):");
  ctx.Out(fmt::format("  {:<22}  {:<20}  {:>10}", "ID", "CREATED", "SIZE"));
  for (const auto& s : list) {
    ctx.Out(fmt::format("  {:<22}  {:<20}  {:>10}", s.id, s.created_at, HumanSize(s.size)));
  }
  return {};
}

constexpr std::string_view kUnpairWarning =
    "Restoring a cloud backup replaces every item of your vault with the backup's, and unpairs "
    "every other device of yours (they are signed out). Your recovery admins must approve it.";

// The member acknowledges that every other device will be unpaired (--yes
// answers for scripts).
Status Acknowledge(Context& ctx) {
  if (!ctx.json()) ctx.Out(std::string(kUnpairWarning));
  KW_ASSIGN_OR_RETURN(bool yes,
                      ctx.prompt().Confirm("I understand that my other devices will be unpaired. "
                                           "Continue? [y/N] "));
  if (!yes) return Fail(Error::InvalidArgument("cli.cancelled", "restore cancelled"));
  return {};
}

// Signed in: the request, with the snapshot's items checked and staged.
Status RestoreCloudSignedIn(Context& ctx, const BackupArgs& a, client::Profile profile) {
  client::Client c = ctx.MakeClient(profile);
  std::string id = a.cloud_id;
  if (id == "newest") {
    KW_ASSIGN_OR_RETURN(auto list, client::ListSnapshots(c));
    if (list.empty()) {
      return Fail(Error::NotFound("snapshot.not_found",
                                  "you have no cloud backup ('keyward backup push' makes one)"));
    }
    id = list.front().id;
  }
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  KW_TRY(Acknowledge(ctx));
  const std::string device = !profile.device_name.empty() ? profile.device_name : HostName();
  ProgressBar bar(ctx, "Staging", "items");
  KW_ASSIGN_OR_RETURN(auto asked,
                      client::RequestCloudRestore(c, uk, profile.account_id, id, device, bar.Fn()));
  bar.Done();
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["request_id"] = client::Str(asked.request.id);
    j["status"] = client::Str(asked.request.status);
    j["snapshot_id"] = client::Str(id);
    j["snapshot_created_at"] = client::Str(FormatRfc3339(asked.contents.created_at));
    j["items"] = static_cast<int64_t>(asked.contents.items.size());
    j["expires_at"] = client::Str(asked.request.expires_at);
    ctx.OutJson(j);
    return {};
  }
  ctx.Out(fmt::format("Restore requested (request {}): cloud backup made {}, {} items.",
                      asked.request.id, FormatRfc3339(asked.contents.created_at),
                      asked.contents.items.size()));
  ctx.Out(fmt::format(
      "Contact your administrator: once the recovery admins approve it{}, your vault is rolled "
      "back and your other devices are signed out. You will get an email.",
      asked.request.expires_at.empty() ? "" : " (before " + asked.request.expires_at + ")"));
  return {};
}

// Without the master password: an emailed code, then the request; the
// approval brings a recovery link, and redeeming it restores the backup.
Status RestoreCloudByEmail(Context& ctx, const BackupArgs& a) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.LoadProfile());
  client::Client c = ctx.MakeClient(profile);
  c.set_token("");
  KW_TRY(Acknowledge(ctx));
  const std::string device = !profile.device_name.empty() ? profile.device_name : HostName();
  const std::string id = a.cloud_id == "newest" ? std::string() : a.cloud_id;
  KW_TRY(client::AskRestoreCode(c, a.email, device, id));
  KW_ASSIGN_OR_RETURN(auto sub, ConfirmByEmail(ctx, c, a.email, a.code_stdin));
  if (ctx.json()) return {};
  ctx.Out(fmt::format("Restore requested (request {}{}).", sub.request_id,
                      sub.org_name.empty() ? "" : ", organization " + sub.org_name));
  ctx.Out(
      "Contact your administrator: once approved they send you a recovery link. 'keyward "
      "recovery redeem LINK' then sets a new master password and restores the backup.");
  return {};
}

Status RestoreCloud(Context& ctx, const BackupArgs& a) {
  if (!a.file.empty()) {
    return Fail(Error::InvalidArgument("cli.usage", "give either FILE or --cloud ID, not both"));
  }
  if (!a.email.empty()) return RestoreCloudByEmail(ctx, a);
  auto profile = ctx.LoadProfile();
  if (!profile || profile->token.empty()) {
    return Fail(Error::Unauthenticated(
        "cli.not_logged_in",
        "not signed in: log in first, or add --email EMAIL if you lost your master password too"));
  }
  return RestoreCloudSignedIn(ctx, a, std::move(*profile));
}

}  // namespace

Status RestoreCloudBackup(Context& ctx, const std::string& email, const std::string& snapshot_id) {
  BackupArgs a;
  a.email = email;
  a.cloud_id = snapshot_id.empty() ? "newest" : snapshot_id;
  return RestoreCloudByEmail(ctx, a);
}

void AddBackupCommands(CLI::App& app, Action* action) {
  auto* backup = app.add_subcommand("backup", "Encrypted backups of your vault");
  backup->require_subcommand(1);
  auto a = std::make_shared<BackupArgs>();

  auto* create = backup->add_subcommand(
      "create", "Write the vault to an encrypted file (key from your master password)");
  create->add_option("--path", a->path, "Folder, or file, to write (default: the backup folder)");
  create->add_option("--keep", a->keep, "Keep only the newest N backups of this account there");
  create->callback([=] { *action = [=](Context& c) { return Create(c, *a); }; });

  auto* push = backup->add_subcommand(
      "push", "Store an encrypted snapshot of the vault on the server (a cloud backup)");
  push->callback([=] { *action = [=](Context& c) { return Push(c); }; });

  auto* list =
      backup->add_subcommand("list", "List backup files (or --cloud backups), newest first");
  list->add_option("--path", a->path, "Folder (default: the backup folder)");
  list->add_flag("--cloud", a->cloud, "List your cloud backups instead");
  list->callback(
      [=] { *action = [=](Context& c) { return a->cloud ? ListCloud(c) : List(c, *a); }; });

  auto* restore = backup->add_subcommand(
      "restore", "Put the items of a backup back into the vault (the newest by default)");
  restore->add_option("FILE", a->file, "Backup file (default: the newest of this account)");
  restore->add_option("--path", a->path, "Folder to look in (default: the backup folder)");
  restore->add_flag("--replace", a->replace,
                    "Make the vault exactly the backup (overwrite and delete newer items)");
  restore->add_option("--cloud", a->cloud_id,
                      "Ask to restore cloud backup ID ('newest': the newest); needs approval");
  restore->add_option("--email", a->email,
                      "With --cloud: you lost your master password too (an emailed code)");
  restore->add_flag("--code-stdin", a->code_stdin,
                    "With --email: read the emailed code from stdin");
  restore->callback([=] {
    *action = [=](Context& c) -> Status {
      if (a->cloud_id.empty()) {
        if (!a->email.empty()) {
          return Fail(Error::InvalidArgument("cli.usage", "--email goes with --cloud ID"));
        }
        return Restore(c, *a);
      }
      return RestoreCloud(c, *a);
    };
  });
}

}  // namespace keyward::cli
