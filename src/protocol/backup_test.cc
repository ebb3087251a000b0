// The backup file's framing (protocol/backup.h): every way a file can be
// cut, extended, reordered or edited is refused, and never opens.
#include "protocol/backup.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keyward::protocol {
namespace {

using crypto::Bytes;

std::span<const uint8_t> B(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    header_.kdf = crypto::kTestKdf;
    header_.salt = crypto::RandomBytes(crypto::kSaltSize);
    header_.created_at = 1'790'000'000;
    header_.account_id = "acct-1";
  }

  // A file of `n` records "record 0" .. "record n-1", the last one FINAL;
  // `starts` gets each record's offset.
  Bytes Make(size_t n, std::vector<size_t>* starts = nullptr) {
    BackupWriter w(key_, header_);
    for (size_t i = 0; i < n; ++i) {
      if (starts) starts->push_back(w.bytes().size());
      const std::string r = "record " + std::to_string(i);
      if (i + 1 < n) {
        w.Add(B(r));
      } else {
        w.Finish(B(r));
      }
    }
    return w.Take();
  }

  std::string CodeOf(const Bytes& file) {
    auto r = OpenBackup(key_, file);
    return r ? "" : r.error().code();
  }

  crypto::GenericKey key_ = crypto::GenericKey::Random();
  BackupHeader header_;
};

TEST_F(BackupTest, RoundTripsRecordsInOrder) {
  Bytes file = Make(4);
  auto opened = OpenBackup(key_, file);
  ASSERT_TRUE(opened.has_value()) << opened.error().code();
  ASSERT_EQ(opened->records.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    auto r = opened->record(i);
    EXPECT_EQ(std::string(r.begin(), r.end()), "record " + std::to_string(i));
  }
  EXPECT_EQ(opened->header.account_id, "acct-1");
  EXPECT_EQ(opened->header.created_at, 1'790'000'000);
}

TEST_F(BackupTest, EmptyRecordsAndOneRecordFilesOpen) {
  BackupWriter w(key_, header_);
  w.Finish({});
  auto opened = OpenBackup(key_, w.bytes());
  ASSERT_TRUE(opened.has_value());
  ASSERT_EQ(opened->records.size(), 1u);
  EXPECT_TRUE(opened->record(0).empty());
}

TEST_F(BackupTest, AnotherKeyCannotOpen) {
  Bytes file = Make(3);
  auto r = OpenBackup(crypto::GenericKey::Random(), file);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), "backup.cannot_open");
}

TEST_F(BackupTest, EveryCutIsRefused) {
  std::vector<size_t> starts;
  Bytes file = Make(3, &starts);
  for (size_t len = 0; len < file.size(); ++len) {
    Bytes cut(file.begin(), file.begin() + static_cast<ptrdiff_t>(len));
    EXPECT_NE(CodeOf(cut), "") << "a file cut to " << len << " bytes opened";
  }
  // Cut exactly before the FINAL record: the stream is whole so far, but
  // its end is missing.
  EXPECT_EQ(CodeOf(Bytes(file.begin(), file.begin() + static_cast<ptrdiff_t>(starts.back()))),
            "backup.truncated");
}

TEST_F(BackupTest, AnythingAppendedIsRefused) {
  Bytes file = Make(2);
  Bytes one = file;
  one.push_back(0);
  EXPECT_EQ(CodeOf(one), "backup.trailing_data");
  // Even a whole, valid record of another stream under the same key.
  Bytes other = Make(2);
  Bytes twice = file;
  twice.insert(twice.end(), other.begin(), other.end());
  EXPECT_EQ(CodeOf(twice), "backup.trailing_data");
}

TEST_F(BackupTest, ReorderedDroppedOrRepeatedRecordsAreRefused) {
  std::vector<size_t> s;
  Bytes file = Make(4, &s);
  auto part = [&](size_t from, size_t to) {
    return Bytes(file.begin() + static_cast<ptrdiff_t>(from),
                 file.begin() + static_cast<ptrdiff_t>(to));
  };
  auto join = [](std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  const Bytes head = part(0, s[0]), r0 = part(s[0], s[1]), r1 = part(s[1], s[2]),
              r2 = part(s[2], s[3]), r3 = part(s[3], file.size());
  EXPECT_EQ(CodeOf(join({head, r0, r2, r1, r3})), "backup.damaged");
  EXPECT_EQ(CodeOf(join({head, r0, r2, r3})), "backup.damaged");
  EXPECT_EQ(CodeOf(join({head, r0, r1, r1, r2, r3})), "backup.damaged");
  EXPECT_EQ(CodeOf(join({head, r1, r0, r2, r3})), "backup.cannot_open");
  // The records of another file with the same key and header fields.
  std::vector<size_t> s2;
  Bytes other = Make(4, &s2);
  Bytes mixed = join({head, r0, Bytes(other.begin() + static_cast<ptrdiff_t>(s2[1]), other.end())});
  EXPECT_EQ(CodeOf(mixed), "backup.damaged");
}

TEST_F(BackupTest, EveryEditedByteIsRefused) {
  Bytes file = Make(3);
  for (size_t i = 0; i < file.size(); ++i) {
    Bytes edited = file;
    edited[i] ^= 0x01;
    EXPECT_NE(CodeOf(edited), "") << "a file with byte " << i << " flipped opened";
  }
}

TEST_F(BackupTest, HeaderFieldsAreBoundToTheFirstRecord) {
  Bytes file = Make(2);
  size_t size = 0;
  ASSERT_TRUE(ParseBackupHeader(file, &size).has_value());
  // account id "acct-1" sits at the end of the header, before the stream
  // header: changing it to "acct-2" keeps the header well formed.
  const size_t id_end = size - crypto::kStreamHeaderSize;
  Bytes other_account = file;
  other_account[id_end - 1] = '2';
  auto parsed = ParseBackupHeader(other_account, &size);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->account_id, "acct-2");
  EXPECT_EQ(CodeOf(other_account), "backup.cannot_open");
}

TEST_F(BackupTest, MalformedHeadersHaveTheirOwnErrors) {
  Bytes file = Make(1);
  size_t size = 0;
  EXPECT_EQ(ParseBackupHeader(Bytes{}, &size).error().code(), "backup.not_a_backup");
  Bytes magic = file;
  magic[1] = 'x';
  EXPECT_EQ(CodeOf(magic), "backup.not_a_backup");
  Bytes version = file;
  version[8] = 9;
  EXPECT_EQ(CodeOf(version), "backup.unsupported_version");
  Bytes short_header(file.begin(), file.begin() + 30);
  EXPECT_EQ(CodeOf(short_header), "backup.bad_header");

  BackupHeader costly = header_;
  costly.kdf.mem = kMaxBackupKdfMem + 1;
  costly.stream_header = Bytes(crypto::kStreamHeaderSize);
  EXPECT_EQ(ParseBackupHeader(EncodeBackupHeader(costly), &size).error().code(),
            "backup.kdf_out_of_range");
  BackupHeader no_id = header_;
  no_id.account_id.clear();
  no_id.stream_header = Bytes(crypto::kStreamHeaderSize);
  EXPECT_EQ(ParseBackupHeader(EncodeBackupHeader(no_id), &size).error().code(),
            "backup.bad_header");
}

TEST_F(BackupTest, TheKeyDependsOnPasswordAndSalt) {
  auto a = DeriveBackupKey("pass one", header_);
  auto b = DeriveBackupKey("pass two", header_);
  BackupHeader salted = header_;
  salted.salt[0] ^= 1;
  auto c = DeriveBackupKey("pass one", salted);
  auto a2 = DeriveBackupKey("pass one", header_);
  ASSERT_TRUE(a && b && c && a2);
  EXPECT_TRUE(crypto::ConstantTimeEqual(a->span(), a2->span()));
  EXPECT_FALSE(crypto::ConstantTimeEqual(a->span(), b->span()));
  EXPECT_FALSE(crypto::ConstantTimeEqual(a->span(), c->span()));
}

}  // namespace
}  // namespace keyward::protocol
