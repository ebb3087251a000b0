// Local backup files at the client level (keyward/backup.h): contents round
// trip, the password at backup time is the only one that opens a file,
// another account's file is refused, the folder, listing and retention, and
// what a restore plans to do, and the item records' byte layout and strict
// reading.
#include "keyward/backup.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "keyward/profile.h"
#include "protocol/backup.h"
#include "tests/vectors/vector_file.h"

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

// ---- item records (docs/protocol.md "Local backup file") ----

void PutLe(crypto::Bytes& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutField(crypto::Bytes& out, std::string_view s) {
  PutLe(out, s.size(), 4);
  out.insert(out.end(), s.begin(), s.end());
}

// An item record laid out by hand, as docs/protocol.md describes it.
crypto::Bytes HandRecord(const Item& item) {
  crypto::Bytes out = {1};
  PutField(out, item.id);
  PutLe(out, static_cast<uint64_t>(item.revision), 8);
  PutField(out, item.created_at);
  PutField(out, item.updated_at);
  PutField(out, item.fields.name);
  PutField(out, item.fields.username);
  PutField(out, item.fields.password.view());
  PutField(out, item.fields.url);
  PutField(out, item.fields.notes.view());
  return out;
}

// Sets one of the record's eight strings.
using FieldSetter = std::function<void(Item&, std::string_view)>;
const std::vector<std::pair<const char*, FieldSetter>>& TextFields() {
  static const std::vector<std::pair<const char*, FieldSetter>> fields = {
      {"id", [](Item& i, std::string_view v) { i.id = v; }},
      {"created_at", [](Item& i, std::string_view v) { i.created_at = v; }},
      {"updated_at", [](Item& i, std::string_view v) { i.updated_at = v; }},
      {"name", [](Item& i, std::string_view v) { i.fields.name = v; }},
      {"username", [](Item& i, std::string_view v) { i.fields.username = v; }},
      {"password",
       [](Item& i, std::string_view v) { i.fields.password = crypto::SecureBytes::Copy(v); }},
      {"url", [](Item& i, std::string_view v) { i.fields.url = v; }},
      {"notes", [](Item& i, std::string_view v) { i.fields.notes = crypto::SecureBytes::Copy(v); }},
  };
  return fields;
}

void ExpectSameItem(const Item& a, const Item& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.revision, b.revision);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.fields.name, b.fields.name);
  EXPECT_EQ(a.fields.username, b.fields.username);
  EXPECT_EQ(a.fields.url, b.fields.url);
  EXPECT_EQ(a.fields.password.view(), b.fields.password.view());
  EXPECT_EQ(a.fields.notes.view(), b.fields.notes.view());
}

class ItemRecordTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init()); }

  Result<crypto::Bytes> Encode(const BackupContents& c) {
    return EncodeBackupWithKey(c, key_, crypto::kClientFloorKdf, crypto::Bytes(16, 7));
  }

  // A file whose one item record is `record`, the rest well formed.
  crypto::Bytes FileWith(std::span<const uint8_t> record) {
    protocol::BackupHeader header;
    header.kdf = crypto::kClientFloorKdf;
    header.salt = crypto::Bytes(16, 7);
    header.created_at = 1'790'000'000;
    header.account_id = "acct-1";
    protocol::BackupWriter w(key_, std::move(header));
    const std::string meta =
        R"({"format":"keyward-backup","account_id":"acct-1","email":"ann@example.com",)"
        R"("created_at":1790000000,"items":1})";
    const std::string end = R"({"end":1})";
    w.Add({reinterpret_cast<const uint8_t*>(meta.data()), meta.size()});
    w.Add(record);
    w.Finish({reinterpret_cast<const uint8_t*>(end.data()), end.size()});
    return w.Take();
  }

  void ExpectMalformed(const crypto::Bytes& record, const std::string& why) {
    auto r = DecodeBackupWithKey(FileWith(record), key_);
    ASSERT_FALSE(r.has_value()) << why;
    EXPECT_EQ(r.error().code(), "backup.malformed") << why;
  }

  crypto::GenericKey key_ = crypto::GenericKey::Random();
};

TEST_F(ItemRecordTest, TheRecordIsTheDocumentedLayout) {
  BackupContents c = Contents();
  c.items.resize(1);
  c.items[0].revision = 0x0102030405060708;
  auto file = Encode(c);
  ASSERT_TRUE(file.has_value());
  auto opened = protocol::OpenBackup(key_, *file);
  ASSERT_TRUE(opened.has_value());
  ASSERT_EQ(opened->records.size(), 3u);
  auto record = opened->record(1);
  EXPECT_EQ(crypto::Bytes(record.begin(), record.end()), HandRecord(c.items[0]));
  // The revision, little-endian, right after the version and the id "i1".
  EXPECT_EQ(record[1 + 4 + 2], 0x08);
  EXPECT_EQ(record[1 + 4 + 2 + 7], 0x01);
  // The opening and closing records stay JSON.
  EXPECT_EQ(opened->record(0)[0], '{');
  EXPECT_EQ(opened->record(2)[0], '{');
  // An item of empty strings and revision 0: the version byte, then zeros.
  BackupContents empty = Contents();
  empty.items.clear();
  empty.items.emplace_back();
  auto empty_file = Encode(empty);
  ASSERT_TRUE(empty_file.has_value());
  auto empty_opened = protocol::OpenBackup(key_, *empty_file);
  ASSERT_TRUE(empty_opened.has_value());
  auto empty_record = empty_opened->record(1);
  crypto::Bytes expected(41, 0);
  expected[0] = 1;
  EXPECT_EQ(crypto::Bytes(empty_record.begin(), empty_record.end()), expected);
  // And a record built by hand reads back.
  auto back = DecodeBackupWithKey(FileWith(HandRecord(c.items[0])), key_);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  ASSERT_EQ(back->items.size(), 1u);
  ExpectSameItem(back->items[0], c.items[0]);
}

TEST_F(ItemRecordTest, EmptyFieldsLargeNotesAndAnyTextRoundTrip) {
  BackupContents c = Contents();
  c.items.clear();
  c.items.emplace_back();  // every string empty, revision 0
  Item large = MakeItem("large", "Large", "pw", std::numeric_limits<int64_t>::max());
  std::string notes;
  while (notes.size() < 100 * 1024)
    notes += "line ü € 😀 \xf4\x8f\xbf\xbf " + std::to_string(notes.size()) + "\n";
  large.fields.notes = crypto::SecureBytes::Copy(notes);
  c.items.push_back(std::move(large));
  Item odd = MakeItem("odd", std::string("nul \0 inside", 12), "pässwörd", -1);
  odd.fields.url = std::string(300, 'u');  // a length over one byte
  c.items.push_back(std::move(odd));

  auto file = Encode(c);
  ASSERT_TRUE(file.has_value()) << file.error().message();
  auto back = DecodeBackupWithKey(*file, key_);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  ASSERT_EQ(back->items.size(), 3u);
  for (size_t i = 0; i < 3; ++i) ExpectSameItem(back->items[i], c.items[i]);
  EXPECT_EQ(back->items[1].fields.notes.size(), notes.size());
}

TEST_F(ItemRecordTest, ACutRecordIsMalformedWhereverItIsCut) {
  const crypto::Bytes whole = HandRecord(MakeItem("i1", "Bank", "hunter2"));
  for (size_t n = 0; n < whole.size(); ++n) {
    ExpectMalformed(crypto::Bytes(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(n)),
                    "cut to " + std::to_string(n) + " bytes");
  }
}

TEST_F(ItemRecordTest, ALengthBeyondTheRecordIsMalformed) {
  const Item item = MakeItem("i1", "Bank", "hunter2");
  const crypto::Bytes whole = HandRecord(item);
  crypto::Bytes huge = whole;  // the id's length
  huge[1] = huge[2] = huge[3] = huge[4] = 0xff;
  ExpectMalformed(huge, "id length 2^32-1");
  // The notes, the last field: one byte longer than what is left.
  crypto::Bytes longer = whole;
  const size_t notes_len_at = whole.size() - item.fields.notes.size() - 4;
  ASSERT_EQ(longer[notes_len_at], item.fields.notes.size());
  ++longer[notes_len_at];
  ExpectMalformed(longer, "notes one byte over");
  // A middle field (the name) claims the rest of the record and one more.
  crypto::Bytes middle = whole;
  const size_t name_at =
      1 + 4 + item.id.size() + 8 + 4 + item.created_at.size() + 4 + item.updated_at.size();
  ASSERT_EQ(middle[name_at], item.fields.name.size());
  const uint64_t rest = whole.size() - (name_at + 4) + 1;
  for (size_t i = 0; i < 4; ++i) middle[name_at + i] = static_cast<uint8_t>(rest >> (8 * i));
  ExpectMalformed(middle, "name longer than the rest");
}

TEST_F(ItemRecordTest, TrailingBytesAreMalformed) {
  crypto::Bytes record = HandRecord(MakeItem("i1", "Bank", "hunter2"));
  record.push_back(0);
  ExpectMalformed(record, "one zero byte after the notes");
  record.back() = 'x';
  ExpectMalformed(record, "one byte after the notes");
}

TEST_F(ItemRecordTest, AnUnknownVersionIsMalformed) {
  crypto::Bytes record = HandRecord(MakeItem("i1", "Bank", "hunter2"));
  for (uint8_t v : {0, 2, 0x7b, 0xff}) {
    record[0] = v;
    ExpectMalformed(record, "version " + std::to_string(v));
  }
  // An item record of the JSON format is not read either.
  const std::string json =
      R"({"created_at":"2026-09-21T10:00:00Z","id":"item-1","name":"Bank","notes":"",)"
      R"("password":"hunter2","revision":3,"updated_at":"2026-09-22T08:30:00Z","url":"",)"
      R"("username":"vector"})";
  ExpectMalformed(crypto::Bytes(json.begin(), json.end()), "a JSON item record");
}

TEST_F(ItemRecordTest, TextThatIsNotUtf8IsMalformedInEveryField) {
  // What nlohmann::json refused in the JSON records (RFC 3629).
  const std::vector<std::pair<const char*, std::string>> bad = {
      {"a lone continuation byte", "ok \x80 ok"},
      {"0xff", "ok \xff ok"},
      {"a lead byte 0xc1", "ok \xc1\xbf ok"},
      {"a lead byte 0xf5", "ok \xf5\x80\x80\x80 ok"},
      {"an overlong NUL", "ok \xc0\x80 ok"},
      {"an overlong three-byte form", "ok \xe0\x80\xaf ok"},
      {"an overlong four-byte form", "ok \xf0\x8f\xbf\xbf ok"},
      {"a surrogate", "ok \xed\xa0\x80 ok"},
      {"above U+10FFFF", "ok \xf4\x90\x80\x80 ok"},
      {"a bad continuation byte", "ok \xe2\x82\x41 ok"},
      {"a sequence cut short", "ok \xe2\x82 ok"},
      {"a sequence cut at the end", "ok \xf0\x9f\x98"},
  };
  for (const auto& [field, set] : TextFields()) {
    for (const auto& [what, bytes] : bad) {
      Item item = MakeItem("i1", "Bank", "hunter2");
      set(item, bytes);
      ExpectMalformed(HandRecord(item), std::string(field) + ": " + what);
    }
  }
}

TEST_F(ItemRecordTest, AnyEditedByteReadsOrIsMalformed) {
  const crypto::Bytes whole = HandRecord(MakeItem("i1", "Bänk", "hunter2"));
  for (size_t at = 0; at < whole.size(); ++at) {
    for (uint8_t v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      crypto::Bytes edited = whole;
      edited[at] = v;
      auto r = DecodeBackupWithKey(FileWith(edited), key_);
      if (!r) {
        EXPECT_EQ(r.error().code(), "backup.malformed") << at << " " << int{v};
      }
    }
  }
}

TEST_F(ItemRecordTest, AnItemThatCouldNotBeReadBackIsNotWritten) {
  BackupContents c = Contents();
  c.items[1].fields.password = crypto::SecureBytes::Copy(std::string_view("bad \xff"));
  auto bad = Encode(c);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), "backup.bad_item");

  c = Contents();
  c.items[0].fields.notes = crypto::SecureBytes(protocol::kMaxBackupRecord);
  auto large = Encode(c);
  ASSERT_FALSE(large.has_value());
  EXPECT_EQ(large.error().code(), "backup.item_too_large");
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

// The known-answer file shared with the TypeScript client: its item records
// are written from the documented layout by the generator, not by this
// encoder; the client decodes them into exactly the listed items.
TEST(BackupVectorTest, TheVectorFileDecodesIntoItsItems) {
  ASSERT_TRUE(crypto::Init().has_value());
  const auto doc = testing::vectors::Load("backup.json");
  const crypto::Bytes key_bytes = testing::vectors::Hex(doc["key"]);
  auto contents = DecodeBackupWithKey(testing::vectors::Hex(doc["file"]),
                                      crypto::GenericKey(crypto::SecureBytes::Copy(key_bytes)));
  ASSERT_TRUE(contents.has_value()) << contents.error().code();
  EXPECT_EQ(contents->account_id, doc["account_id"]);
  EXPECT_EQ(contents->email, doc["email"]);
  EXPECT_EQ(contents->created_at, doc["created_at"].get<int64_t>());
  const auto& items = testing::vectors::Rows(doc, "items", 2);
  ASSERT_EQ(contents->items.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& got = contents->items[i];
    const auto& want = items[i];
    EXPECT_EQ(got.id, want["id"]);
    EXPECT_EQ(got.revision, want["revision"].get<int64_t>());
    EXPECT_EQ(got.created_at, want["created_at"]);
    EXPECT_EQ(got.updated_at, want["updated_at"]);
    EXPECT_EQ(got.fields.name, want["name"]);
    EXPECT_EQ(got.fields.username, want["username"]);
    EXPECT_EQ(got.fields.password.view(), want["password"].get<std::string>());
    EXPECT_EQ(got.fields.url, want["url"]);
    EXPECT_EQ(got.fields.notes.view(), want["notes"].get<std::string>());
  }
  // And the client's encoder writes the same item records byte for byte.
  auto file =
      EncodeBackupWithKey(*contents, crypto::GenericKey(crypto::SecureBytes::Copy(key_bytes)),
                          crypto::kClientFloorKdf, crypto::Bytes(16, 1));
  ASSERT_TRUE(file.has_value());
  auto opened =
      protocol::OpenBackup(crypto::GenericKey(crypto::SecureBytes::Copy(key_bytes)), *file);
  ASSERT_TRUE(opened.has_value());
  const auto& records = testing::vectors::Rows(doc, "records", 4);
  for (size_t i = 1; i + 1 < records.size(); ++i) {
    EXPECT_EQ(testing::vectors::HexOf(opened->record(i)), records[i].get<std::string>()) << i;
  }
}

}  // namespace
}  // namespace keyward::client
