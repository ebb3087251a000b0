// Cloud snapshots at the client level (keyward/snapshot.h): what a hostile
// server could do to a snapshot it stores — cut, edit, append, swap it for
// another snapshot or another account's, or plant items that do not open —
// is refused before anything is staged.
#include "keyward/snapshot.h"

#include <gtest/gtest.h>

#include "keyward/backup.h"
#include "protocol/backup.h"
#include "tests/vectors/vector_file.h"

namespace keyward::client {
namespace {

constexpr char kAccount[] = "acct-1";
constexpr char kSnapshot[] = "snap-1";

EncryptedItem Sealed(const crypto::VaultKey& uk, std::string id, std::string password,
                     std::string_view account = kAccount) {
  ItemFields fields;
  fields.name = "item " + id;
  fields.password = crypto::SecureBytes::Copy(password);
  EncryptedItem item;
  item.data = EncryptItem(uk, account, id, fields);
  item.id = std::move(id);
  item.revision = 3;
  return item;
}

class SnapshotTest : public ::testing::Test {
 protected:
  SnapshotTest() {
    for (int i = 0; i < 5; ++i) {
      items_.push_back(Sealed(uk_, "item-" + std::to_string(i), "pw-" + std::to_string(i)));
    }
    file_ = EncodeSnapshot(uk_, kAccount, kSnapshot, 1'790'000'000, items_).value();
  }

  std::string Error(std::span<const uint8_t> file, std::string_view account = kAccount,
                    std::string_view snapshot = kSnapshot) {
    auto r = DecodeSnapshot(uk_, file, account, snapshot);
    return r ? "ok" : r.error().code();
  }

  crypto::VaultKey uk_ = crypto::VaultKey::Random();
  std::vector<EncryptedItem> items_;
  crypto::Bytes file_;
};

TEST_F(SnapshotTest, RoundTripsTheServersCiphertextsExactly) {
  auto back = DecodeSnapshot(uk_, file_, kAccount, kSnapshot);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->account_id, kAccount);
  EXPECT_EQ(back->snapshot_id, kSnapshot);
  EXPECT_EQ(back->created_at, 1'790'000'000);
  ASSERT_EQ(back->items.size(), items_.size());
  for (size_t i = 0; i < items_.size(); ++i) {
    EXPECT_EQ(back->items[i].id, items_[i].id);
    EXPECT_EQ(back->items[i].data, items_[i].data);
    auto fields = DecryptItem(uk_, kAccount, back->items[i].id, back->items[i].data);
    ASSERT_TRUE(fields);
    EXPECT_EQ(fields->password.view(), "pw-" + std::to_string(i));
  }
  // The header names the snapshot in the clear, but no item id or count.
  const std::string text(file_.begin(), file_.end());
  EXPECT_EQ(text.rfind("KWSNAPSH", 0), 0u);
  EXPECT_EQ(text.find("item-1"), std::string::npos);
  EXPECT_EQ(text.find("pw-1"), std::string::npos);
}

TEST_F(SnapshotTest, AnEmptyVaultMakesASnapshotToo) {
  auto file = EncodeSnapshot(uk_, kAccount, kSnapshot, 5, {});
  ASSERT_TRUE(file);
  auto back = DecodeSnapshot(uk_, *file, kAccount, kSnapshot);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->items.empty());
}

TEST_F(SnapshotTest, TheServerCannotSwapCutEditOrExtendIt) {
  // Another of the member's snapshots, served for this one.
  auto other = EncodeSnapshot(uk_, kAccount, "snap-2", 1'790'000'100, items_).value();
  EXPECT_EQ(Error(other), "snapshot.other_snapshot");
  // Another account's (another vault key): does not open.
  crypto::VaultKey their_key = crypto::VaultKey::Random();
  std::vector<EncryptedItem> theirs = {Sealed(their_key, "x", "y", "acct-2")};
  auto foreign = EncodeSnapshot(their_key, "acct-2", kSnapshot, 1, theirs).value();
  EXPECT_EQ(Error(foreign), "backup.cannot_open");
  // A header rewritten to name this snapshot does not open either.
  auto renamed = other;
  const std::string from = "snap-2", to = "snap-1";
  auto at = std::search(renamed.begin(), renamed.end(), from.begin(), from.end());
  ASSERT_NE(at, renamed.end());
  std::copy(to.begin(), to.end(), at);
  EXPECT_EQ(Error(renamed), "backup.cannot_open");
  // Cut at every length, one edited byte anywhere, bytes appended.
  for (size_t cut = 0; cut < file_.size(); cut += 7) {
    EXPECT_NE(Error(std::span<const uint8_t>(file_).first(cut)), "ok") << cut;
  }
  for (size_t i = 0; i < file_.size(); i += 5) {
    auto edited = file_;
    edited[i] ^= 0x01;
    EXPECT_NE(Error(edited), "ok") << i;
  }
  auto appended = file_;
  appended.push_back(0);
  EXPECT_EQ(Error(appended), "backup.trailing_data");
  // Asked for as another account's or another snapshot.
  EXPECT_EQ(Error(file_, "acct-2"), "snapshot.other_snapshot");
  EXPECT_EQ(Error(file_, kAccount, "snap-9"), "snapshot.other_snapshot");
}

TEST_F(SnapshotTest, ItemsThatDoNotOpenUnderTheVaultKeyAreRefused) {
  // The server lists an item sealed for another account id (a replayed
  // ciphertext): refused when pushing, before anything is uploaded.
  auto planted = items_;
  planted.push_back(Sealed(uk_, "item-9", "x", "acct-2"));
  auto pushed = EncodeSnapshot(uk_, kAccount, kSnapshot, 1, planted);
  ASSERT_FALSE(pushed);
  EXPECT_EQ(pushed.error().code(), "snapshot.bad_item");
  // The same item twice is refused too.
  auto twice = items_;
  twice.push_back(items_[0]);
  EXPECT_EQ(EncodeSnapshot(uk_, kAccount, kSnapshot, 1, twice).error().code(),
            "snapshot.malformed");
}

TEST_F(SnapshotTest, ALocalBackupIsNotACloudSnapshot) {
  BackupContents local;
  local.account_id = kAccount;
  local.created_at = 1;
  auto file = EncodeBackupWithKey(local, protocol::DeriveSnapshotKey(uk_), crypto::kTestKdf,
                                  crypto::RandomBytes(crypto::kSaltSize));
  ASSERT_TRUE(file);
  EXPECT_EQ(Error(*file), "snapshot.malformed");
}

TEST_F(SnapshotTest, StagingSplitsIntoBoundedCalls) {
  std::vector<EncryptedItem> many;
  for (int i = 0; i < 3000; ++i) {
    EncryptedItem e;
    e.id = "i" + std::to_string(i);
    e.data = crypto::Bytes(600, uint8_t(i));
    many.push_back(std::move(e));
  }
  std::vector<size_t> calls;
  uint64_t last_done = 0;
  auto s = StageItems(
      many,
      [&](Json body) -> Status {
        calls.push_back(body["items"].size());
        EXPECT_LE(body.dump().size(), kRestoreBatchBytes);
        return {};
      },
      [&](uint64_t done, uint64_t total) {
        EXPECT_EQ(total, 3000u);
        last_done = done;
      });
  ASSERT_TRUE(s);
  EXPECT_GT(calls.size(), 1u);
  size_t sum = 0;
  for (size_t n : calls) sum += n;
  EXPECT_EQ(sum, 3000u);
  EXPECT_EQ(last_done, 3000u);
}

// The known-answer file: its item records are written from the documented
// layout by the generator; the client reads them into the listed items and
// its encoder writes the same records byte for byte.
TEST(SnapshotVectorTest, TheVectorFileDecodesIntoItsItems) {
  ASSERT_TRUE(crypto::Init().has_value());
  const auto doc = testing::vectors::Load("snapshot.json");
  const crypto::VaultKey uk(crypto::SecureBytes::Copy(testing::vectors::Hex(doc["vault_key"])));
  const std::string account = doc["account_id"];
  const std::string snapshot = doc["snapshot_id"];
  auto contents = DecodeSnapshot(uk, testing::vectors::Hex(doc["file"]), account, snapshot);
  ASSERT_TRUE(contents.has_value()) << contents.error().code();
  EXPECT_EQ(contents->created_at, doc["created_at"].get<int64_t>());
  const auto& items = testing::vectors::Rows(doc, "items", 2);
  ASSERT_EQ(contents->items.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(contents->items[i].id, items[i]["id"]);
    EXPECT_EQ(testing::vectors::HexOf(contents->items[i].data), items[i]["data"]);
  }
  auto file = EncodeSnapshot(uk, account, snapshot, contents->created_at, contents->items);
  ASSERT_TRUE(file.has_value());
  auto opened = protocol::OpenBackup(protocol::DeriveSnapshotKey(uk), *file);
  ASSERT_TRUE(opened.has_value());
  const auto& records = testing::vectors::Rows(doc, "records", 4);
  ASSERT_EQ(opened->records.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(testing::vectors::HexOf(opened->record(i)), records[i].get<std::string>()) << i;
  }
}

}  // namespace
}  // namespace keyward::client
