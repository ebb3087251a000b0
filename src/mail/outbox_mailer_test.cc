#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mail/mailer.h"
#include "tests/support/status_assertions.h"

namespace keyward::mail {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class OutboxMailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "keyward-outbox-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  static std::vector<fs::path> Entries(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  fs::path root_;
};

TEST_F(OutboxMailerTest, CreatesPrivateDirectoryAndWritesOneCompleteFile) {
  fs::path dir = root_ / "data" / "outbox";
  auto mailer = MakeOutboxMailer(dir, "keyward@vault.example.com");
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  ASSERT_TRUE(mailer
                  ->Send({.to = "alice@example.org",
                          .subject = "Your Keyward code",
                          .body = "Your code is:\n\n314159\n\nIt expires in 10 minutes."})
                  .has_value());
  auto entries = Entries(dir);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].extension(), ".eml");
  EXPECT_TRUE(std::regex_match(entries[0].filename().string(),
                               std::regex(R"(\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{16}\.eml)")))
      << entries[0];
  ASSERT_EQ(::stat(entries[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::string data = Read(entries[0]);
  std::size_t split = data.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  std::string head = data.substr(0, split + 2);
  EXPECT_THAT(head, HasSubstr("\r\nTo: alice@example.org\r\n"));
  EXPECT_THAT(head, HasSubstr("\r\nFrom: keyward@vault.example.com\r\n"));
  EXPECT_THAT(head, HasSubstr("\r\nSubject: Your Keyward code\r\n"));
  EXPECT_THAT(head, HasSubstr("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_TRUE(
      std::regex_search(head, std::regex(R"(Message-ID: <[0-9a-f]{32}@vault\.example\.com>)")));
  EXPECT_TRUE(std::regex_search(
      head, std::regex(R"((^|\n)Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n)")));
  EXPECT_EQ(data.substr(split + 4),
            "Your code is:\r\n\r\n314159\r\n\r\nIt expires in 10 minutes.\r\n");
  // Every header line is "Name: value".
  std::size_t start = 0;
  while (start < head.size()) {
    std::size_t eol = head.find("\r\n", start);
    EXPECT_TRUE(std::regex_match(head.substr(start, eol - start), std::regex(R"([A-Za-z-]+: .*)")));
    start = eol + 2;
  }
}

TEST_F(OutboxMailerTest, FilesSortInSendOrderAndNoTempFilesRemain) {
  auto mailer = MakeOutboxMailer(root_, "keyward@localhost");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        mailer->Send({.to = "a@b.c", .subject = "s", .body = std::to_string(i)}).has_value());
  }
  auto entries = Entries(root_);
  ASSERT_EQ(entries.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(entries[i].filename().string()[0], '.');
    EXPECT_THAT(Read(entries[i]), testing::EndsWith("\r\n\r\n" + std::to_string(i) + "\r\n"));
  }
}

TEST_F(OutboxMailerTest, ConcurrentSendsAllLand) {
  auto mailer = MakeOutboxMailer(root_ / "outbox", "keyward@localhost");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string code = std::to_string(100000 + t * 1000 + i);
        if (!mailer->Send({.to = "a@b.c", .subject = "s", .body = "code:\n" + code + "\n"})) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> codes;
  for (const auto& p : Entries(root_ / "outbox")) {
    ASSERT_EQ(p.extension(), ".eml") << p;
    std::smatch m;
    std::string data = Read(p);
    ASSERT_TRUE(std::regex_search(data, m, std::regex("\r\n(\\d{6})\r\n$")));
    codes.insert(m[1]);
  }
  EXPECT_EQ(codes.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(OutboxMailerTest, UnwritableDirectoryIsAnError) {
  // A regular file where a directory should be: fails even for root.
  fs::path file = root_ / "not-a-dir";
  std::ofstream(file) << "x";
  for (fs::path dir : {file, file / "outbox"}) {
    auto mailer = MakeOutboxMailer(dir, "keyward@localhost");
    auto status = mailer->Send({.to = "alice@example.org", .subject = "s", .body = "123456"});
    ASSERT_FALSE(status.has_value()) << dir;
    EXPECT_EQ(status.error().code(), "mail.send_failed");
    EXPECT_EQ(status.error().kind(), ErrorKind::kUnavailable);
    EXPECT_THAT(status.error().message(), ::testing::Not(HasSubstr("alice")));
  }
}

TEST_F(OutboxMailerTest, ReadOnlyDirectoryIsAnError) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  fs::path dir = root_ / "ro";
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  auto status = MakeOutboxMailer(dir, "keyward@localhost")
                    ->Send({.to = "a@b.c", .subject = "s", .body = "x"});
  fs::permissions(dir, fs::perms::owner_all);
  EXPECT_ERROR(status, "mail.send_failed");
}

TEST_F(OutboxMailerTest, RecreatesADeletedDirectory) {
  fs::path dir = root_ / "outbox";
  auto mailer = MakeOutboxMailer(dir, "keyward@localhost");
  fs::remove_all(dir);
  ASSERT_TRUE(mailer->Send({.to = "a@b.c", .subject = "s", .body = "x"}).has_value());
  EXPECT_EQ(Entries(dir).size(), 1u);
}

TEST_F(OutboxMailerTest, InvalidMessageWritesNothing) {
  auto mailer = MakeOutboxMailer(root_, "keyward@localhost");
  auto status = mailer->Send({.to = "a@b.c\r\nBcc: evil@x.y", .subject = "s", .body = "x"});
  EXPECT_ERROR(status, "mail.invalid_header");
  EXPECT_TRUE(Entries(root_).empty());
}

}  // namespace
}  // namespace keyward::mail
