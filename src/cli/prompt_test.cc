#include "cli/prompt.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "crypto/crypto.h"
#include "tests/support/status_assertions.h"

namespace keyward::cli {
namespace {

// A pipe whose read end stands in for standard input.
class Pipe {
 public:
  explicit Pipe(std::string_view contents) {
    EXPECT_EQ(::pipe(fds_), 0);
    EXPECT_EQ(::write(fds_[1], contents.data(), contents.size()),
              static_cast<ssize_t>(contents.size()));
    ::close(fds_[1]);
  }
  ~Pipe() { ::close(fds_[0]); }
  int fd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
};

class PromptTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(crypto::Init()); }
};

TEST_F(PromptTest, EachPromptReadsOneLineInOrder) {
  Pipe in("hunter2\n123456\r\ny\nsecond pw");
  Prompter p({in.fd(), false, false, false});
  auto pw = p.Password("Master password: ");
  ASSERT_TRUE(pw);
  EXPECT_EQ(pw->view(), "hunter2");
  auto code = p.Line("Code: ");
  ASSERT_TRUE(code);
  EXPECT_EQ(code->view(), "123456");  // CR stripped
  auto yes = p.Confirm("Sure?");
  ASSERT_TRUE(yes);
  EXPECT_TRUE(*yes);
  auto last = p.Password("Again: ");  // last line without newline
  ASSERT_TRUE(last);
  EXPECT_EQ(last->view(), "second pw");
  auto eof = p.Line("More: ");
  EXPECT_ERROR(eof, "cli.no_input");
}

TEST_F(PromptTest, YesDoesNotConfirmAFingerprint) {
  Pipe in("y\n");
  Prompter yes({in.fd(), false, false, /*assume_yes=*/true});
  EXPECT_TRUE(*yes.Confirm("Remove?"));
  auto fp = yes.ConfirmFingerprint("Does it match?", "--fingerprint");
  EXPECT_ERROR(fp, "cli.fingerprint_unconfirmed");
  EXPECT_NE(fp.error().message().find("--fingerprint"), std::string::npos);
  // Answered by the person (here: a line of standard input).
  Prompter person({in.fd(), false, false, false});
  auto answered = person.ConfirmFingerprint("Does it match?", "--fingerprint");
  ASSERT_TRUE(answered);
  EXPECT_TRUE(*answered);
}

TEST_F(PromptTest, PasswordsKeepSpacesCodesAreTrimmed) {
  Pipe in("  pass word  \n  654321 \n");
  Prompter p({in.fd(), false, false, false});
  EXPECT_EQ(p.Password("pw")->view(), "  pass word  ");
  EXPECT_EQ(p.Line("code")->view(), "654321");
}

TEST_F(PromptTest, NewPasswordMustMatch) {
  Pipe ok("abc\nabc\n");
  Prompter p1({ok.fd(), false, false, false});
  EXPECT_EQ(p1.NewPassword("a", "b")->view(), "abc");
  Pipe bad("abc\nabd\n");
  Prompter p2({bad.fd(), false, false, false});
  auto r = p2.NewPassword("a", "b");
  EXPECT_ERROR(r, "cli.password_mismatch");
}

TEST_F(PromptTest, EmptyPasswordRefused) {
  Pipe in("\n");
  Prompter p({in.fd(), false, false, false});
  EXPECT_FALSE(p.Password("pw"));
}

TEST_F(PromptTest, ConfirmDefaultsToNoAndYesFlagSkipsReading) {
  Pipe in("\nnope\n");
  Prompter p({in.fd(), false, false, false});
  EXPECT_FALSE(*p.Confirm("a"));
  EXPECT_FALSE(*p.Confirm("b"));
  Pipe empty("");
  Prompter y({empty.fd(), false, false, true});
  EXPECT_TRUE(*y.Confirm("c"));
}

TEST_F(PromptTest, PasswordStdinReadsPipeEvenWhenInteractive) {
  Pipe in("from-stdin\n");
  Prompter p({in.fd(), /*interactive=*/true, /*password_stdin=*/true, false});
  EXPECT_EQ(p.Password("pw")->view(), "from-stdin");
}

}  // namespace
}  // namespace keyward::cli
