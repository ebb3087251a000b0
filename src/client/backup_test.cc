// Local backup files at the client level (keyward/backup.h): contents round
// trip, the password at backup time is the only one that opens a file,
// another account's file is refused, the folder, listing and retention, and
// what a restore plans to do.
#include "keyward/backup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "keyward/profile.h"

namespace keyward::client {
namespace {

namespace fs = std::filesystem;

Item MakeItem(std::string id, std::string name, std::string password, int64_t revision = 1) {
  Item item;
  item.id = std::move(id);
  item.revision = revision;
  item.created_at = "2026-12-01T10:00:00Z";
  item.updated_at = "2026-12-02T10:00:00Z";
  item.fields.name = std::move(name);
  item.fields.username = "ann";
  item.fields.password = crypto::SecureBytes::Copy(password);
  item.fields.url = "https://example.com";
  item.fields.notes = crypto::SecureBytes::Copy("notes of " + item.id);
  return item;
}

BackupContents Contents(std::string account = "acct-1") {
  BackupContents c;
  c.account_id = std::move(account);
  c.email = "ann@example.com";
  c.created_at = 1'790'000'000;
  c.items.push_back(MakeItem("i1", "Bank", "hunter2"));
  c.items.push_back(MakeItem("i2", "Mail ü", "p\"ss w0rd"));
  return c;
}

crypto::SecureBytes Pw(std::string_view s) { return crypto::SecureBytes::Copy(s); }

class BackupFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    std::string tmpl = (fs::temp_directory_path() / "keyward-backup-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path Write(const std::string& name, const BackupContents& c, std::string_view password) {
    auto bytes = EncodeBackup(c, Pw(password), crypto::kClientFloorKdf);
    EXPECT_TRUE(bytes.has_value());
    fs::path p = root_ / name;
    EXPECT_TRUE(WriteFileAtomically(
        p, std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())));
    return p;
  }

  fs::path root_;
};

TEST_F(BackupFileTest, ContentsRoundTrip) {
  const BackupContents c = Contents();
  auto bytes = EncodeBackup(c, Pw("master one"), crypto::kClientFloorKdf);
  ASSERT_TRUE(bytes.has_value());
  auto back = DecodeBackup(*bytes, Pw("master one"), std::string("acct-1"));
  ASSERT_TRUE(back.has_value()) << back.error().code();
  EXPECT_EQ(back->account_id, "acct-1");
  EXPECT_EQ(back->email, "ann@example.com");
  EXPECT_EQ(back->created_at, c.created_at);
  ASSERT_EQ(back->items.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back->items[i].id, c.items[i].id);
    EXPECT_EQ(back->items[i].revision, c.items[i].revision);
    EXPECT_EQ(back->items[i].created_at, c.items[i].created_at);
    EXPECT_EQ(back->items[i].updated_at, c.items[i].updated_at);
    EXPECT_TRUE(SameFields(back->items[i].fields, c.items[i].fields));
  }
  // The plaintext is nowhere in the file.
  std::string text(bytes->begin(), bytes->end());
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text.find("ann@example.com"), std::string::npos);
}

TEST_F(BackupFileTest, AnEmptyVaultBacksUp) {
  BackupContents c = Contents();
  c.items.clear();
  auto bytes = EncodeBackup(c, Pw("pw"), crypto::kClientFloorKdf);
  ASSERT_TRUE(bytes.has_value());
  auto back = DecodeBackup(*bytes, Pw("pw"));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->items.empty());
}

TEST_F(BackupFileTest, OnlyThePasswordAtBackupTimeOpensIt) {
  auto bytes = EncodeBackup(Contents(), Pw("old master"), crypto::kClientFloorKdf);
  ASSERT_TRUE(bytes.has_value());
  auto wrong = DecodeBackup(*bytes, Pw("new master"));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), "backup.cannot_open");
  EXPECT_TRUE(DecodeBackup(*bytes, Pw("old master")).has_value());
}

TEST_F(BackupFileTest, AnotherAccountsBackupIsRefusedBeforeAnyKeyIsDerived) {
  auto bytes = EncodeBackup(Contents("acct-2"), Pw("pw"), crypto::kClientFloorKdf);
  ASSERT_TRUE(bytes.has_value());
  // The right password does not help: the file is for another account.
  auto r = DecodeBackup(*bytes, Pw("pw"), std::string("acct-1"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), "backup.other_account");
}

TEST_F(BackupFileTest, ParametersUnderTheClientFloorAreRefused) {
  auto r = EncodeBackup(Contents(), Pw("pw"), crypto::kTestKdf);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), "kdf.too_weak_from_server");
}

TEST_F(BackupFileTest, ProgressCountsEveryItem) {
  BackupContents c = Contents();
  for (int i = 0; i < 600; ++i) c.items.push_back(MakeItem("x" + std::to_string(i), "n", "p"));
  uint64_t last_done = 0, last_total = 0;
  auto bytes = EncodeBackup(c, Pw("pw"), crypto::kClientFloorKdf, [&](uint64_t d, uint64_t t) {
    EXPECT_GE(d, last_done);
    last_done = d;
    last_total = t;
  });
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(last_done, 602u);
  EXPECT_EQ(last_total, 602u);
}

TEST_F(BackupFileTest, FilesAre0600AndListNewestFirstWithoutAPassword) {
  BackupContents older = Contents();
  BackupContents newer = Contents();
  newer.created_at += 60;
  BackupContents theirs = Contents("acct-2");
  theirs.created_at += 30;
  Write(BackupFileName(older.created_at), older, "pw");
  Write(BackupFileName(newer.created_at), newer, "pw");
  Write("theirs.kwbackup", theirs, "pw");
  {
    std::ofstream(root_ / "notes.txt") << "not a backup";
    std::ofstream(root_ / "broken.kwbackup") << "KWBACKUP but not really";
  }
  struct stat st {};
  ASSERT_EQ(::stat((root_ / BackupFileName(newer.created_at)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto files = ListBackupFiles(root_);
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].created_at, newer.created_at);
  EXPECT_EQ((*files)[1].account_id, "acct-2");
  EXPECT_EQ((*files)[2].created_at, older.created_at);
  EXPECT_GT((*files)[0].size, 0u);
  EXPECT_EQ(BackupFileName(1'790'000'000), "keyward-backup-20260921T141320Z.kwbackup");

  auto none = ListBackupFiles(root_ / "missing");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST_F(BackupFileTest, RetentionKeepsTheNewestOfThisAccountOnly) {
  for (int i = 0; i < 4; ++i) {
    BackupContents c = Contents();
    c.created_at += i * 60;
    Write(BackupFileName(c.created_at), c, "pw");
  }
  Write("theirs.kwbackup", Contents("acct-2"), "pw");
  auto removed = PruneBackups(root_, "acct-1", 2);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->size(), 2u);
  auto files = ListBackupFiles(root_);
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ((*files)[0].created_at, 1'790'000'000 + 180);
  EXPECT_EQ((*files)[1].created_at, 1'790'000'000 + 120);
  EXPECT_EQ((*files)[2].account_id, "acct-2");
}

TEST_F(BackupFileTest, OfTwoBackupsInOneSecondTheOneWrittenLastIsKept) {
  const BackupContents c = Contents();
  fs::path first = Write("b.kwbackup", c, "pw");
  // A later mtime, whatever the file system's timestamp granularity.
  fs::last_write_time(first, fs::last_write_time(first) - std::chrono::seconds(2));
  fs::path second = Write("a.kwbackup", c, "pw");
  auto removed = PruneBackups(root_, "acct-1", 1);
  ASSERT_TRUE(removed.has_value());
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_EQ((*removed)[0], first);
  EXPECT_TRUE(fs::exists(second));
  // And the file just written is never pruned, even if its clock is behind.
  fs::path third = Write("c.kwbackup", c, "pw");
  fs::last_write_time(third, fs::last_write_time(second) - std::chrono::seconds(5));
  auto again = PruneBackups(root_, "acct-1", 1, third);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(fs::exists(third));
}

TEST_F(BackupFileTest, DefaultFolderFollowsXdgThenHome) {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  std::string saved_xdg = xdg ? xdg : "", saved_home = home ? home : "";
  ::setenv("XDG_DATA_HOME", "/x/data", 1);
  EXPECT_EQ(DefaultBackupDir().value_or(""), fs::path("/x/data/keyward/backup"));
  ::unsetenv("XDG_DATA_HOME");
  ::setenv("HOME", "/home/ann", 1);
  EXPECT_EQ(DefaultBackupDir().value_or(""), fs::path("/home/ann/.local/share/keyward/backup"));
  ::unsetenv("HOME");
  EXPECT_FALSE(DefaultBackupDir().has_value());
  if (xdg) ::setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
  if (home) ::setenv("HOME", saved_home.c_str(), 1);
}

TEST(RestorePlanTest, AddsWhatIsMissingAndKeepsWhatChangedUnlessReplacing) {
  BackupContents backup;
  backup.items.push_back(MakeItem("same", "Same", "a"));
  backup.items.push_back(MakeItem("gone", "Gone", "b"));
  backup.items.push_back(MakeItem("changed", "Changed", "old password"));
  std::vector<Item> current;
  current.push_back(MakeItem("same", "Same", "a", 4));
  current.push_back(MakeItem("changed", "Changed", "new password", 7));
  current.push_back(MakeItem("newer", "Newer", "c", 1));

  RestorePlan keep = PlanRestore(current, backup, false);
  ASSERT_EQ(keep.add.size(), 1u);
  EXPECT_EQ(keep.add[0]->id, "gone");
  EXPECT_TRUE(keep.overwrite.empty());
  EXPECT_TRUE(keep.remove.empty());
  EXPECT_EQ(keep.unchanged, 1u);
  EXPECT_EQ(keep.kept, 1u);

  RestorePlan replace = PlanRestore(current, backup, true);
  ASSERT_EQ(replace.add.size(), 1u);
  ASSERT_EQ(replace.overwrite.size(), 1u);
  EXPECT_EQ(replace.overwrite[0].first->id, "changed");
  EXPECT_EQ(replace.overwrite[0].second, 7);  // the revision the update must name
  ASSERT_EQ(replace.remove.size(), 1u);
  EXPECT_EQ(replace.remove[0], "newer");
  EXPECT_EQ(replace.unchanged, 1u);
  EXPECT_EQ(replace.kept, 0u);
}

}  // namespace
}  // namespace keyward::client
