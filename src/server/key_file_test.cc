#include "server/key_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "crypto/crypto.h"

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
  ASSERT_TRUE(first.has_value()) << first.error().message();
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
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), "server.key_io");
}

TEST_F(KeyFileTest, MissingDirectoryFails) {
  auto result = LoadOrCreateServerKey(dir_ / "nope" / "server.key");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), "server.key_io");
}

}  // namespace
}  // namespace keyward::server
