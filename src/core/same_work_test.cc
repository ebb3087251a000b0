// Issue 10, item 4: the answer of every route that takes an email or an
// identifier without a session does the SAME store work (the same
// transactions, the same Tx calls in the same order) whether or not that
// email has an account or that request exists; what only a known account
// or an existing request gets (its events) is written after the answer, by
// core/deferred.h. Recorded with tests/support/counting_store.h on the
// calling thread only.
//
// Register answers after its per-address check and leaves the registration
// itself to after the answer. Invite lookup needs a session: not public.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/recovery_requests.h"
#include "core/recovery_test_fixture.h"
#include "protocol/link.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;

constexpr char kAddress[] = "198.51.100.7";
constexpr char kKnown[] = "bob@example.com";
constexpr char kUnknown[] = "nobody@example.com";

class SameWorkTest : public RecoveryTest {
 protected:
  SameWorkTest()
      : owner_(MakePerson("owner@example.com", 1)),
        admin_(MakePerson("admin@example.com", 2)),
        bob_(MakePerson(kKnown, 4)),
        org_(CreateOrg(owner_, MakePolicy(Enrollment::kOptIn))) {
    AddMember(org_, admin_, "admin");
    AddMember(org_, bob_, "user");
    EXPECT_TRUE(Enroll(org_, bob_, 1).has_value());
  }

  // The store work of `call` on this thread.
  std::vector<std::string> WorkOf(const std::function<void()>& call) {
    core().WaitForBackgroundWork();
    counting_->Start();
    call();
    std::vector<std::string> work = counting_->Trace();
    core().WaitForBackgroundWork();
    return work;
  }

  // Runs `call` for the known and the unknown value; the work must match.
  void ExpectSameWork(const std::function<void(const std::string&)>& call, const std::string& known,
                      const std::string& unknown) {
    auto for_known = WorkOf([&] { call(known); });
    auto for_unknown = WorkOf([&] { call(unknown); });
    EXPECT_FALSE(for_known.empty());
    EXPECT_EQ(for_known, for_unknown) << "known: " << ::testing::PrintToString(for_known)
                                      << "\nunknown: " << ::testing::PrintToString(for_unknown);
  }

  // bob asks and confirms; the admin approves: the request id and its link.
  void ApprovedRequest(std::string& id, protocol::ApprovedLink& link) {
    ASSERT_OK(core().requests.Ask(RecoveryAsk{kKnown, "laptop", RecoveryIntent::kSubmit, kAddress,
                                              RequestKind::kRecovery, ""}));
    auto submitted = core().requests.Confirm(kKnown, *mailer_.LastCodeFor(kKnown), kAddress);
    ASSERT_OK(submitted);
    id = submitted->submitted.request_id;
    auto escrow = StoredEscrow(org_, bob_);
    ASSERT_TRUE(escrow.has_value());
    auto a =
        protocol::OpenAdminShare(org_.key, escrow->admin_share, org_.id, bob_.id, escrow->epoch);
    ASSERT_TRUE(a.has_value());
    auto made = protocol::CreateLink(*a, id, bob_.id, escrow->epoch);
    ASSERT_TRUE(made.has_value());
    link = std::move(*made);
    ASSERT_OK(
        core().requests.Approve(admin_.caller(), org_.id, id, link.token, link.linked_admin_share));
  }

  Person owner_;
  Person admin_;
  Person bob_;
  TestOrg org_;
};

TEST_F(SameWorkTest, Prelogin) {
  ExpectSameWork([&](const std::string& email) { (void)core().accounts.Prelogin(email); }, kKnown,
                 kUnknown);
}

TEST_F(SameWorkTest, LoginWithAWrongKey) {
  const size_t failed = Events(org_, "account.login_failed").size();
  ExpectSameWork(
      [&](const std::string& email) {
        EXPECT_ERROR(core().sessions.Login(MakeLogin(email, 9)), "auth.invalid_credentials");
      },
      kKnown, kUnknown);
  // The known account's event is still written, after the answer.
  auto events = Events(org_, "account.login_failed");
  ASSERT_EQ(events.size(), failed + 1);
  EXPECT_EQ(events.back().target_id, bob_.id);
}

TEST_F(SameWorkTest, VerifyAndResend) {
  ExpectSameWork(
      [&](const std::string& email) {
        EXPECT_ERROR(core().accounts.Verify(email, "000000", kAddress), "verify.invalid_code");
      },
      kKnown, kUnknown);
  auto resend = [&](const std::string& email) {
    ASSERT_OK(core().accounts.Resend(email, kAddress));
  };
  ExpectSameWork(resend, kKnown, kUnknown);
  // A registration waiting for its code is an account too.
  ASSERT_OK(RegisterNow(MakeRegistration("carol@example.com")));
  ExpectSameWork(resend, "carol@example.com", "nobody2@example.com");
}

TEST_F(SameWorkTest, Register) {
  ExpectSameWork(
      [&](const std::string& email) {
        ASSERT_OK(core().accounts.Register(MakeRegistration(email)));
      },
      kKnown, kUnknown);
  // A registration waiting for its code is replaced the same way.
  ASSERT_OK(RegisterNow(MakeRegistration("carol@example.com")));
  ExpectSameWork(
      [&](const std::string& email) {
        ASSERT_OK(core().accounts.Register(MakeRegistration(email)));
      },
      "carol@example.com", "nobody3@example.com");
}

TEST_F(SameWorkTest, RecoveryAskAndConfirm) {
  ExpectSameWork(
      [&](const std::string& email) {
        ASSERT_OK(core().requests.Ask(RecoveryAsk{email, "laptop", RecoveryIntent::kSubmit,
                                                  kAddress, RequestKind::kRecovery, ""}));
      },
      kKnown, kUnknown);
  const std::string code = *mailer_.LastCodeFor(kKnown);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  ExpectSameWork(
      [&](const std::string& email) {
        EXPECT_ERROR(core().requests.Confirm(email, wrong, kAddress), "recovery.invalid_code");
      },
      kKnown, kUnknown);
  // The wrong code is in the member's organization's log, without the code.
  auto events = Events(org_, "recovery.code_rejected");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].target_id, bob_.id);
  EXPECT_EQ(events[0].details.at("step"), "request");
  EXPECT_EQ(events[0].details.at("remote_address"), kAddress);
  for (const auto& [key, value] : events[0].details) EXPECT_NE(value, wrong) << key;
}

TEST_F(SameWorkTest, RedeemWithAWrongToken) {
  // Approved, so that the request has a token (a wrong one is still wrong).
  std::string id;
  protocol::ApprovedLink link;
  ASSERT_NO_FATAL_FAILURE(ApprovedRequest(id, link));
  const auto wrong = crypto::GenericKey::Random();
  ExpectSameWork(
      [&](const std::string& request_id) {
        EXPECT_ERROR(core().requests.RedeemStart(request_id, wrong, kAddress),
                     "recovery.link_invalid");
      },
      id, NewAccountId());
  ExpectSameWork(
      [&](const std::string& request_id) {
        EXPECT_ERROR(core().requests.RedeemVerify(request_id, wrong, "123456", kAddress),
                     "recovery.link_invalid");
      },
      id, NewAccountId());
  // Both wrong tokens for the existing request are logged, never the token.
  auto events = Events(org_, "recovery.link_rejected");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].details.at("request_id"), id);
  EXPECT_EQ(events[0].details.at("remote_address"), kAddress);
  for (const auto& [key, value] : events[0].details) {
    EXPECT_NE(value, crypto::Base64UrlEncode(wrong.span())) << key;
  }
}

TEST_F(SameWorkTest, AWrongRedeemCodeIsLogged) {
  std::string id;
  protocol::ApprovedLink link;
  ASSERT_NO_FATAL_FAILURE(ApprovedRequest(id, link));
  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  const std::string code = *mailer_.LastCodeFor(kKnown);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  EXPECT_ERROR(core().requests.RedeemVerify(id, link.token, wrong, kAddress),
               "recovery.invalid_code");
  auto events = Events(org_, "recovery.code_rejected");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].details.at("request_id"), id);
  EXPECT_EQ(events[0].details.at("step"), "redeem");
  for (const auto& [key, value] : events[0].details) EXPECT_NE(value, wrong) << key;
}

}  // namespace
}  // namespace keyward::core::testing
