#include "server/key_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "tests/support/status_assertions.h"

namespace keyward::server {
namespace {

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    std::string pattern = (std::filesystem::temp_directory_path() / "kw-key-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    path_ = dir_ / "server.key";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void Write(const std::string& text, mode_t mode = 0600) {
    std::filesystem::remove(path_);
    std::ofstream(path_, std::ios::binary) << text;
    ::chmod(path_.c_str(), mode);
  }

  std::filesystem::path dir_;
  std::filesystem::path path_;
};

TEST_F(KeyFileTest, CreatesThenReloads) {
  auto first = LoadOrCreateServerKey(path_);
  ASSERT_OK(first);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  std::string text = Contents();
  ASSERT_TRUE(text.starts_with("keyward-server-key v1\n"));
  ASSERT_EQ(text.size(), 22u + 43u + 1u);
  EXPECT_EQ(text.back(), '\n');
  auto decoded = crypto::Base64UrlDecode(text.substr(22, 43));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(*decoded, first->span()));

  auto second = LoadOrCreateServerKey(path_);
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(first->span(), second->span()));
  // No temporary files left behind.
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(KeyFileTest, DifferentDirectoriesGetDifferentKeys) {
  auto a = LoadOrCreateServerKey(path_);
  auto b = LoadOrCreateServerKey(dir_ / "other.key");
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(crypto::ConstantTimeEqual(a->span(), b->span()));
}

TEST_F(KeyFileTest, RefusesGroupOrOtherReadable) {
  ASSERT_TRUE(LoadOrCreateServerKey(path_).has_value());
  for (mode_t mode : {0640, 0604, 0660, 0644}) {
    ::chmod(path_.c_str(), mode);
    auto result = LoadOrCreateServerKey(path_);
    ASSERT_FALSE(result.has_value()) << mode;
    EXPECT_EQ(result.error().code(), "server.key_insecure");
    EXPECT_NE(result.error().message().find("chmod 600"), std::string::npos);
  }
  ::chmod(path_.c_str(), 0400);
  EXPECT_TRUE(LoadOrCreateServerKey(path_).has_value());
}

TEST_F(KeyFileTest, RefusesMalformed) {
  auto good = crypto::Base64UrlEncode(crypto::RandomBytes(32));
  const std::string cases[] = {
      "",
      "keyward-server-key v1\n",
      "keyward-server-key v2\n" + good + "\n",
      "keyward-server-key v1\n" + good,                    // no final newline
      "keyward-server-key v1\n" + good + "\n\n",           // trailing data
      "keyward-server-key v1\n" + good.substr(1) + "=\n",  // padding
      "keyward-server-key v1\n" + std::string(43, '*') + "\n",
      "keyward-server-key v1\n" + crypto::Base64UrlEncode(crypto::RandomBytes(31)) + "\n",
      "keyward-server-key v1\r\n" + good + "\n",
  };
  for (const auto& text : cases) {
    Write(text);
    auto result = LoadOrCreateServerKey(path_);
    ASSERT_FALSE(result.has_value()) << text;
    EXPECT_EQ(result.error().code(), "server.key_malformed") << text;
  }
  Write("keyward-server-key v1\n" + good + "\n");
  EXPECT_TRUE(LoadOrCreateServerKey(path_).has_value());
}

TEST_F(KeyFileTest, RefusesSymlinkAndDirectory) {
  auto target = dir_ / "real.key";
  ASSERT_TRUE(LoadOrCreateServerKey(target).has_value());
  std::filesystem::create_symlink(target, path_);
  auto link = LoadOrCreateServerKey(path_);
  ASSERT_FALSE(link.has_value());
  std::filesystem::remove(path_);
  std::filesystem::create_directory(path_);
  ::chmod(path_.c_str(), 0700);
  EXPECT_FALSE(LoadOrCreateServerKey(path_).has_value());
}

TEST_F(KeyFileTest, UnwritableDirectoryFails) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  ::chmod(dir_.c_str(), 0500);
  auto result = LoadOrCreateServerKey(path_);
  ::chmod(dir_.c_str(), 0700);
  EXPECT_ERROR(result, "server.key_io");
}

TEST_F(KeyFileTest, MissingDirectoryFails) {
  auto result = LoadOrCreateServerKey(dir_ / "nope" / "server.key");
  EXPECT_ERROR(result, "server.key_io");
}

// <data>/recovery.key: the same machinery, its own header, a key pair.
class RecoveryKeyFileTest : public KeyFileTest {
 protected:
  void SetUp() override {
    KeyFileTest::SetUp();
    path_ = dir_ / "recovery.key";
  }
};

TEST_F(RecoveryKeyFileTest, CreatesMode0600ThenReloadsTheSamePair) {
  auto first = LoadOrCreateRecoveryKey(path_);
  ASSERT_OK(first);
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(first->public_key.size(), 32u);
  ASSERT_EQ(first->secret_key.size(), 32u);

  // The file holds the seed; the pair is BoxKeyPairFromSeed(seed).
  std::string text = Contents();
  ASSERT_TRUE(text.starts_with("keyward-recovery-key v1\n"));
  ASSERT_EQ(text.size(), 24u + 43u + 1u);
  EXPECT_EQ(text.back(), '\n');
  auto seed = crypto::Base64UrlDecode(text.substr(24, 43));
  ASSERT_TRUE(seed.has_value());
  auto derived = crypto::BoxKeyPairFromSeed(*seed);
  EXPECT_EQ(derived.public_key, first->public_key);
  EXPECT_TRUE(crypto::ConstantTimeEqual(derived.secret_key.span(), first->secret_key.span()));

  // Stable across restarts, and it opens what was sealed to it.
  auto second = LoadOrCreateRecoveryKey(path_);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->public_key, first->public_key);
  EXPECT_EQ(crypto::Fingerprint(second->public_key), crypto::Fingerprint(first->public_key));
  const crypto::Bytes message = crypto::RandomBytes(40);
  auto opened = crypto::Open(second->public_key, second->secret_key.span(),
                             crypto::Seal(first->public_key, message));
  ASSERT_TRUE(opened.has_value());
  EXPECT_TRUE(crypto::ConstantTimeEqual(opened->span(), message));
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(RecoveryKeyFileTest, IndependentOfTheServerKey) {
  auto server = LoadOrCreateServerKey(dir_ / "server.key");
  auto recovery = LoadOrCreateRecoveryKey(path_);
  ASSERT_TRUE(server && recovery);
  auto seed = crypto::Base64UrlDecode(Contents().substr(24, 43));
  ASSERT_TRUE(seed.has_value());
  EXPECT_FALSE(crypto::ConstantTimeEqual(server->span(), *seed));
  // Another data directory, another pair.
  auto other = LoadOrCreateRecoveryKey(dir_ / "other.key");
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(other->public_key, recovery->public_key);
}

TEST_F(RecoveryKeyFileTest, RefusesGroupOrOtherReadable) {
  ASSERT_TRUE(LoadOrCreateRecoveryKey(path_).has_value());
  for (mode_t mode : {0640, 0604, 0660, 0644}) {
    ::chmod(path_.c_str(), mode);
    auto result = LoadOrCreateRecoveryKey(path_);
    ASSERT_FALSE(result.has_value()) << mode;
    EXPECT_EQ(result.error().code(), "server.key_insecure");
    EXPECT_NE(result.error().message().find("recovery key"), std::string::npos);
    EXPECT_NE(result.error().message().find("chmod 600"), std::string::npos);
  }
  ::chmod(path_.c_str(), 0400);
  EXPECT_TRUE(LoadOrCreateRecoveryKey(path_).has_value());
}

TEST_F(RecoveryKeyFileTest, RefusesMalformed) {
  auto good = crypto::Base64UrlEncode(crypto::RandomBytes(32));
  const std::string cases[] = {
      "",
      "keyward-recovery-key v1\n",
      "keyward-server-key v1\n" + good + "\n",  // a server key in the wrong place
      "keyward-recovery-key v2\n" + good + "\n",
      "keyward-recovery-key v1\n" + good,           // no final newline
      "keyward-recovery-key v1\n" + good + "\n\n",  // trailing data
      "keyward-recovery-key v1\n" + good.substr(1) + "=\n",
      "keyward-recovery-key v1\n" + std::string(43, '*') + "\n",
      "keyward-recovery-key v1\n" + crypto::Base64UrlEncode(crypto::RandomBytes(31)) + "\n",
  };
  for (const auto& text : cases) {
    Write(text);
    auto result = LoadOrCreateRecoveryKey(path_);
    ASSERT_FALSE(result.has_value()) << text;
    EXPECT_EQ(result.error().code(), "server.key_malformed") << text;
    EXPECT_NE(result.error().message().find("keyward-recovery-key v1"), std::string::npos);
  }
  // And the other way round: a recovery key is no server key.
  Write("keyward-recovery-key v1\n" + good + "\n");
  EXPECT_FALSE(LoadOrCreateServerKey(path_).has_value());
  auto loaded = LoadOrCreateRecoveryKey(path_);
  ASSERT_TRUE(loaded.has_value());
  auto seed = crypto::Base64UrlDecode(good);
  ASSERT_TRUE(seed.has_value());
  EXPECT_EQ(loaded->public_key, crypto::BoxKeyPairFromSeed(*seed).public_key);
}

TEST_F(RecoveryKeyFileTest, RefusesSymlink) {
  auto target = dir_ / "real.key";
  ASSERT_TRUE(LoadOrCreateRecoveryKey(target).has_value());
  std::filesystem::create_symlink(target, path_);
  auto link = LoadOrCreateRecoveryKey(path_);
  EXPECT_ERROR(link, "server.key_malformed");
}

}  // namespace
}  // namespace keyward::server
