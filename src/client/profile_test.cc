#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "crypto/crypto.h"
#include "keyward/profile.h"

namespace keyward::client {
namespace {

namespace fs = std::filesystem;

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init());
    std::string tmpl = (fs::temp_directory_path() / "keyward-profile-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

mode_t Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 0777;
}

TEST_F(ProfileTest, SaveCreates0700DirAnd0600FileAndLoadsBack) {
  fs::path dir = root_ / "a" / "keyward";
  Profile p;
  p.server_url = "http://127.0.0.1:8080";
  p.email = "ann@example.com";
  p.account_id = "acct";
  p.device_id = "dev";
  p.device_name = "laptop";
  p.token = "tok";
  p.protected_vault_key = {1, 2, 3};
  p.member_keys["carol"] = crypto::Bytes(32, 7);
  p.device_request =
      PendingDeviceRequest{"req1", "acme", crypto::Bytes(32, 1), crypto::Bytes(32, 2)};
  ASSERT_TRUE(SaveProfile(dir, p));
  EXPECT_EQ(Mode(dir), 0700u);
  EXPECT_EQ(Mode(dir / kProfileFileName), 0600u);

  auto loaded = LoadProfile(dir);
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->email, p.email);
  EXPECT_EQ((*loaded)->token, "tok");
  EXPECT_EQ((*loaded)->protected_vault_key, p.protected_vault_key);
  EXPECT_EQ((*loaded)->member_keys, p.member_keys);
  ASSERT_TRUE((*loaded)->device_request.has_value());
  EXPECT_EQ((*loaded)->device_request->request_id, "req1");
  EXPECT_EQ((*loaded)->device_request->org_id, "acme");
  EXPECT_EQ((*loaded)->device_request->device_seed, crypto::Bytes(32, 1));
  EXPECT_EQ((*loaded)->device_request->claim, crypto::Bytes(32, 2));

  // No temporary file is left behind.
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(ProfileTest, MissingProfileIsNotAnError) {
  auto loaded = LoadProfile(root_ / "nothing");
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(ProfileTest, AtomicWriteReplacesWholeFileAndKeepsMode) {
  fs::path file = root_ / "f.json";
  { std::ofstream(file) << "old contents that are longer than the new ones"; }
  ::chmod(file.c_str(), 0644);
  ASSERT_TRUE(WriteFileAtomically(file, "new"));
  std::ifstream in(file);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(s, "new");
  EXPECT_EQ(Mode(file), 0600u);
}

TEST_F(ProfileTest, AtomicWriteFailureLeavesOldFile) {
  fs::path dir = root_ / "ro";
  fs::create_directory(dir);
  fs::path file = dir / "f.json";
  ASSERT_TRUE(WriteFileAtomically(file, "old"));
  ::chmod(dir.c_str(), 0500);
  if (::access(dir.c_str(), W_OK) == 0) GTEST_SKIP() << "running as root";
  EXPECT_FALSE(WriteFileAtomically(file, "new"));
  ::chmod(dir.c_str(), 0700);
  std::ifstream in(file);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(s, "old");
}

TEST_F(ProfileTest, ResolveOrder) {
  ::setenv("KEYWARD_PROFILE", "/env/profile", 1);
  ::setenv("XDG_CONFIG_HOME", "/xdg", 1);
  EXPECT_EQ(*ResolveProfileDir(std::string("/flag")), fs::path("/flag"));
  EXPECT_EQ(*ResolveProfileDir(std::nullopt), fs::path("/env/profile"));
  ::unsetenv("KEYWARD_PROFILE");
  EXPECT_EQ(*ResolveProfileDir(std::nullopt), fs::path("/xdg/keyward"));
  ::unsetenv("XDG_CONFIG_HOME");
  ::setenv("HOME", "/home/ann", 1);
  EXPECT_EQ(*ResolveProfileDir(std::nullopt), fs::path("/home/ann/.config/keyward"));
}

}  // namespace
}  // namespace keyward::client
