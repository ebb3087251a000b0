// The recovery security suite, live (issue 15 item 6, docs/security.md):
// through the real `keyward` binary against a real keywardd, on SQLite and,
// as pg/..., on PostgreSQL. One test per rule:
//   - a recovery, an admin reset and starting over each end every session of
//     the member on every device, and two-step login still stands before the
//     next session (no recovery path skips it);
//   - a recovery link opens only the request it was made for: not another
//     member's, not a later one of the same member;
//   - another organization neither sees nor approves the request.
// The password change is in tests/live/recovery_security_test.cc; trusted
// devices dropped by each path in the core tests (docs/security.md).
#include <ctime>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "recovery_fixture.h"

namespace keyward::testing {
namespace {

class RecoverySecurityE2e : public RecoveryE2e {
 protected:
  // bob on two devices ("bob" and "bob-phone"), both signed in.
  void BobOnTwoDevices() {
    LoginOn("bob-phone", "bob@example.com", std::string(kPassword) + "\n");
    ASSERT_TRUE(SignedIn("bob"));
    ASSERT_TRUE(SignedIn("bob-phone"));
  }

  // Whether the session of `profile` still reads the vault.
  bool SignedIn(const std::string& profile) { return As(profile, {"item", "list"}).exit_code == 0; }

  // A login of bob with `password` and no second-step code (nothing more on
  // its standard input): it must not get a session.
  void ExpectTwoStepAsked(const std::string& password) {
    auto r = Cli("bob-check", {"login", "--email", "bob@example.com"}, password + "\n");
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_EQ(r.out.find("KEYWARD_SESSION"), std::string::npos) << r.Describe();
    // Refused for want of the code: the password itself was right.
    EXPECT_NE(r.err.find("Two-step login code"), std::string::npos) << r.Describe();
  }

  // The code of `secret` for the next time step (never the one just used).
  static std::string NextCode(const crypto::Bytes& secret) {
    return crypto::TotpCode(secret, std::time(nullptr) + 30);
  }
};

TEST_F(RecoverySecurityE2e, ARecoveryEndsEverySessionOfTheMemberAndKeepsTwoStepLogin) {
  Start(false);
  NewUser("alice");
  NewUser("bob");
  NewUser("carol");
  Organization({{"bob", "user"}, {"carol", "admin"}});
  BobOnTwoDevices();
  const auto totp = EnableTotp("bob");

  const std::string id = Request("bob-new");
  auto approve = As("carol", {"--yes", "recovery", "approve", id});
  ASSERT_EQ(approve.exit_code, 0) << approve.Describe();
  auto link = LinkIn(approve.out);
  ASSERT_TRUE(link) << approve.Describe();
  auto redeem = Redeem("bob-new", *link);
  ASSERT_EQ(redeem.exit_code, 0) << redeem.Describe();

  EXPECT_FALSE(SignedIn("bob"));
  EXPECT_FALSE(SignedIn("bob-phone"));
  ExpectTwoStepAsked(kNewPassword);
  LoginOn("bob-new", "bob@example.com", std::string(kNewPassword) + "\n" + NextCode(totp) + "\n");
  EXPECT_TRUE(SignedIn("bob-new"));
}

TEST_F(RecoverySecurityE2e, AnAdminResetEndsEverySessionOfTheMemberAndKeepsTwoStepLogin) {
  Start(false);
  NewUser("alice");
  NewUser("bob");
  NewUser("carol");
  Organization({{"bob", "user"}, {"carol", "admin"}});
  auto mode = As("alice", {"org", "policy", "set", "--mode", "admin-reset"});
  ASSERT_EQ(mode.exit_code, 0) << mode.Describe();
  ASSERT_EQ(As("bob", {"--yes", "recovery", "enroll"}, std::string(kPassword) + "\n").exit_code, 0);
  BobOnTwoDevices();
  const auto totp = EnableTotp("bob");

  auto reset = As("carol", {"--json", "--yes", "recovery", "reset", "bob@example.com"});
  ASSERT_EQ(reset.exit_code, 0) << reset.Describe();
  const std::string temporary = Json(reset).value("temporary_password", "");
  ASSERT_FALSE(temporary.empty()) << reset.out;

  EXPECT_FALSE(SignedIn("bob"));
  EXPECT_FALSE(SignedIn("bob-phone"));
  ExpectTwoStepAsked(temporary);
  // On his laptop (it holds the organization's pin, which the new escrow
  // made at the forced password change is checked against).
  LoginOn("bob", "bob@example.com",
          temporary + "\n" + NextCode(totp) + "\n" + kNewPassword + "\n" + kNewPassword + "\n");
  EXPECT_TRUE(SignedIn("bob"));
}

TEST_F(RecoverySecurityE2e, StartingOverEndsEverySessionOfTheMemberAndKeepsTwoStepLogin) {
  Start(false);
  NewUser("bob");
  BobOnTwoDevices();
  const auto totp = EnableTotp("bob");

  const size_t seen = mail_->Count("bob@example.com");
  CliProcess restart(kCli, Args("bob-new", {"account", "restart", "--email", "bob@example.com"}),
                     {});
  restart.Write("y\n");
  auto code = mail_->Code("bob@example.com", seen, 20s);
  ASSERT_TRUE(code) << "no restart code emailed";
  restart.Write(*code + "\n" + kNewPassword + "\n" + kNewPassword + "\n");
  auto done = restart.Finish(60s);
  ASSERT_EQ(done.exit_code, 0) << done.Describe();

  EXPECT_FALSE(SignedIn("bob"));
  EXPECT_FALSE(SignedIn("bob-phone"));
  ExpectTwoStepAsked(kNewPassword);
  LoginOn("bob-new", "bob@example.com", std::string(kNewPassword) + "\n" + NextCode(totp) + "\n");
  EXPECT_TRUE(SignedIn("bob-new"));
}

// A link names its request; its secret opens that request only. Put on
// another member's request, or on the same member's next one, it is refused
// and that request stays as it was.
TEST_F(RecoverySecurityE2e, ALinkOpensOnlyTheRequestItWasMadeFor) {
  Start(false);
  NewUser("alice");
  NewUser("bob");
  NewUser("carol");
  NewUser("dave");
  Organization({{"bob", "user"}, {"carol", "admin"}, {"dave", "user"}});

  const std::string bob_id = Request("bob-new");
  auto dave_ask = WithEmailedCode(
      "dave-new", {"recovery", "request", "--email", "dave@example.com"}, "dave@example.com");
  ASSERT_EQ(dave_ask.exit_code, 0) << dave_ask.Describe();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dave_ask.out, m, std::regex(R"(\(request ([A-Za-z0-9_-]+))")))
      << dave_ask.out;
  const std::string dave_id = m[1].str();

  auto approve = As("carol", {"--yes", "recovery", "approve", bob_id});
  ASSERT_EQ(approve.exit_code, 0) << approve.Describe();
  auto link = LinkIn(approve.out);
  ASSERT_TRUE(link) << approve.Describe();
  // bob's secret on dave's request (dave's own request is not approved yet).
  std::string swapped = *link;
  swapped.replace(swapped.find(bob_id), bob_id.size(), dave_id);
  const size_t dave_mails = mail_->Count("dave@example.com");
  auto on_dave = Cli("dave-new", {"recovery", "redeem", swapped}, "");
  EXPECT_EQ(on_dave.exit_code, 1) << on_dave.Describe();
  ExpectFailure(on_dave, "this recovery link is not valid");
  EXPECT_EQ(Show("carol", dave_id)["status"], "pending");
  EXPECT_EQ(mail_->Count("dave@example.com"), dave_mails) << "a redeem code went out";

  // Used by bob, then put on bob's next request once that is approved too.
  ASSERT_EQ(Redeem("bob-new", *link).exit_code, 0);
  const std::string next = Request("bob-next");
  auto approve_next = As("carol", {"--yes", "recovery", "approve", next});
  ASSERT_EQ(approve_next.exit_code, 0) << approve_next.Describe();
  std::string old_on_next = *link;
  old_on_next.replace(old_on_next.find(bob_id), bob_id.size(), next);
  auto replay = Cli("bob-next", {"recovery", "redeem", old_on_next}, "");
  EXPECT_EQ(replay.exit_code, 1) << replay.Describe();
  ExpectFailure(replay, "this recovery link is not valid");
  EXPECT_EQ(Show("carol", next)["status"], "approved");
}

// An approval is made in the request's organization only: the owner of
// another organization (its own recovery key) neither sees the request nor
// approves it, under its organization or under the request's.
TEST_F(RecoverySecurityE2e, AnotherOrganizationCannotSeeOrApproveTheRequest) {
  Start(false);
  NewUser("alice");
  NewUser("bob");
  NewUser("carol");
  NewUser("erin");
  const std::string acme = Organization({{"bob", "user"}, {"carol", "admin"}});
  auto beta = As("erin", {"--json", "org", "create", "Beta"});
  ASSERT_EQ(beta.exit_code, 0) << beta.Describe();
  const std::string beta_id = Json(beta).value("id", "");
  ASSERT_FALSE(beta_id.empty());

  const std::string id = Request("bob-new");
  for (const std::string& org : {beta_id, acme}) {
    SCOPED_TRACE(org == acme ? "under the request's organization" : "under erin's");
    auto approve = As("erin", {"--yes", "recovery", "approve", id, "--org", org});
    EXPECT_EQ(approve.exit_code, 1) << approve.Describe();
    EXPECT_FALSE(LinkIn(approve.out).has_value()) << approve.out;
    auto show = As("erin", {"recovery", "show", id, "--org", org});
    EXPECT_EQ(show.exit_code, 1) << show.Describe();
    EXPECT_EQ(show.out.find("bob@example.com"), std::string::npos) << show.out;
  }
  auto listed = As("erin", {"--json", "recovery", "list", "--org", beta_id});
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  EXPECT_TRUE(Json(listed)["requests"].empty()) << listed.out;
  EXPECT_EQ(Show("carol", id)["status"], "pending");
  EXPECT_TRUE(Show("carol", id)["approvals"].empty());
}

}  // namespace
}  // namespace keyward::testing
