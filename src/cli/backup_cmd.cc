// keyward backup create | list | restore (local backup files; docs/recovery.md
// "Restore a local backup").
#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "common/clock.h"
#include "common/try.h"
#include "keyward/backup.h"
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

}  // namespace

void AddBackupCommands(CLI::App& app, Action* action) {
  auto* backup = app.add_subcommand("backup", "Encrypted backups of your vault");
  backup->require_subcommand(1);
  auto a = std::make_shared<BackupArgs>();

  auto* create = backup->add_subcommand(
      "create", "Write the vault to an encrypted file (key from your master password)");
  create->add_option("--path", a->path, "Folder, or file, to write (default: the backup folder)");
  create->add_option("--keep", a->keep, "Keep only the newest N backups of this account there");
  create->callback([=] { *action = [=](Context& c) { return Create(c, *a); }; });

  auto* list = backup->add_subcommand("list", "List backup files, newest first");
  list->add_option("--path", a->path, "Folder (default: the backup folder)");
  list->callback([=] { *action = [=](Context& c) { return List(c, *a); }; });

  auto* restore = backup->add_subcommand(
      "restore", "Put the items of a backup back into the vault (the newest by default)");
  restore->add_option("FILE", a->file, "Backup file (default: the newest of this account)");
  restore->add_option("--path", a->path, "Folder to look in (default: the backup folder)");
  restore->add_flag("--replace", a->replace,
                    "Make the vault exactly the backup (overwrite and delete newer items)");
  restore->callback([=] { *action = [=](Context& c) { return Restore(c, *a); }; });
}

}  // namespace keyward::cli
