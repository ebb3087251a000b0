// Recovery requests end to end through core, with the real protocol crypto
// on the clients' side (escrows, the admin's link, the member's redemption)
// and a real SQLite store (a file for the races).
#include "core/recovery_requests.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "core/recovery_test_fixture.h"
#include "protocol/link.h"
#include "tests/support/status_assertions.h"

namespace keyward::core::testing {
namespace {

using core::RequestStatus;
using protocol::Enrollment;

constexpr char kAddress[] = "198.51.100.7";

class RequestTest : public RecoveryTest {
 protected:
  RequestTest()
      : owner_(MakePerson("owner@example.com", 1)),
        admin_(MakePerson("admin@example.com", 2)),
        admin2_(MakePerson("admin2@example.com", 3)),
        bob_(MakePerson("bob@example.com", 4)),
        org_(CreateOrg(owner_, MakePolicy(Enrollment::kOptIn))) {
    AddMember(org_, admin_, "admin");
    AddMember(org_, admin2_, "admin");
    AddMember(org_, bob_, "user");
    EXPECT_TRUE(Enroll(org_, bob_, 1).has_value());
  }

  RecoveryAsk AskOf(const std::string& email, RecoveryIntent intent = RecoveryIntent::kSubmit) {
    return RecoveryAsk{email, "bob-laptop", intent, kAddress, RequestKind::kRecovery, ""};
  }

  // The member asks and confirms; returns the request id.
  std::string Submit(const Person& p) {
    EXPECT_TRUE(core().requests.Ask(AskOf(p.email)).has_value());
    auto code = mailer_.LastCodeFor(p.email);
    EXPECT_TRUE(code.has_value());
    auto confirmed = core().requests.Confirm(p.email, code.value_or(""), kAddress);
    EXPECT_OK(confirmed);
    return confirmed ? confirmed->submitted.request_id : "";
  }

  core::RecoveryRequest Stored(const std::string& id) {
    std::optional<core::RecoveryRequest> r;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(r, tx.FindRequest(id));
      return {};
    }));
    EXPECT_TRUE(r.has_value());
    return r.value_or(core::RecoveryRequest{});
  }

  // The approving admin's client (docs/protocol.md "Escrow, links, grants
  // and signed statements", recovery links):
  // A from SA with sk_org, then L, T and LA.
  protocol::ApprovedLink MakeLink(const std::string& request_id, const Person& member) {
    auto escrow = StoredEscrow(org_, member);
    EXPECT_TRUE(escrow.has_value());
    auto a =
        protocol::OpenAdminShare(org_.key, escrow->admin_share, org_.id, member.id, escrow->epoch);
    EXPECT_TRUE(a.has_value());
    auto link = protocol::CreateLink(*a, request_id, member.id, escrow->epoch);
    EXPECT_TRUE(link.has_value());
    return std::move(*link);
  }

  Result<RequestView> Approve(const Person& admin, const std::string& id,
                              const protocol::ApprovedLink& link) {
    return core().requests.Approve(admin.caller(), org_.id, id, link.token,
                                   link.linked_admin_share);
  }

  Result<RequestView> Approve(const Person& admin, const std::string& id) {
    return Approve(admin, id, MakeLink(id, bob_));
  }

  size_t MailsTo(const std::string& to) {
    size_t n = 0;
    for (const auto& m : mailer_.Sent()) n += m.to == to ? 1 : 0;
    return n;
  }

  std::vector<core::OrgEvent> EventsOf(const std::string& request_id, std::string type = "") {
    std::vector<core::OrgEvent> out;
    for (auto& e : Events(org_, std::move(type))) {
      auto it = e.details.find("request_id");
      if (it != e.details.end() && it->second == request_id) out.push_back(std::move(e));
    }
    return out;
  }

  // The member's client redeeming: start (code emailed), verify.
  Result<RedeemMaterial> Redeem(const std::string& id, const protocol::ApprovedLink& link) {
    KW_TRY(core().requests.RedeemStart(id, link.token, kAddress));
    auto code = mailer_.LastCodeFor(bob_.email);
    if (!code) return Fail(Error::Internal("test", "no code mailed"));
    return core().requests.RedeemVerify(id, link.token, *code, kAddress);
  }

  // What the member's client sends to complete, from the redeemed material:
  // A = Dec(KL, LA), UK = Dec(A xor U, W); new password (auth key tag);
  // fresh escrows at last_epoch + 1 for each organization in `m.orgs`.
  RecoveryCompletion Completion(const RedeemMaterial& m, const protocol::ApprovedLink& link,
                                const std::string& request_id, uint8_t new_tag) {
    auto a = protocol::OpenLink(link.link_secret, m.link_share, request_id, m.account_id, m.epoch);
    EXPECT_TRUE(a.has_value());
    auto uk = protocol::RecoverVaultKey(*a, m.server_part, m.wrapped_vault_key, org_.id,
                                        m.account_id, m.epoch);
    EXPECT_TRUE(uk.has_value());
    EXPECT_TRUE(crypto::ConstantTimeEqual(uk->span(), bob_.vault_key.span()));
    RecoveryCompletion c;
    c.ticket = m.ticket.Clone();
    c.new_kdf = crypto::kTestKdf;
    c.new_salt = crypto::RandomBytes(16);
    c.new_auth_key = KeyFrom(new_tag);
    c.new_wrapped_vault_key = crypto::RandomBytes(72);
    for (const auto& o : m.orgs) {
      c.escrows.push_back({o.org_id, EscrowFor(o.org_id, m.account_id, o.last_epoch + 1,
                                               o.key_version, o.recovery_public_key, *uk)});
    }
    c.remote_address = kAddress;
    return c;
  }

  Person owner_;
  Person admin_;
  Person admin2_;
  Person bob_;
  TestOrg org_;
};

// ---- asking ----

TEST_F(RequestTest, UniformAnswersForUnknownNotEnrolledAndEnrolledEmails) {
  Person carol = MakePerson("carol@example.com", 5);  // verified, enrolled nowhere
  AddMember(org_, carol, "user");
  const size_t before = mailer_.Sent().size();
  for (const std::string email : {"nobody@example.com", "carol@example.com", "bob@example.com"}) {
    ASSERT_OK(core().requests.Ask(AskOf(email)));
  }
  // The same work for each: a code row for every address.
  for (const std::string email : {"nobody@example.com", "carol@example.com", "bob@example.com"}) {
    ASSERT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(
          auto row, tx.FindEmailCode(kRecoveryCodePurpose, RecoveryCodeSubject(email, kAddress)));
      EXPECT_TRUE(row.has_value()) << email;
      return {};
    }));
  }
  // Only the mail differs.
  auto sent = mailer_.Sent();
  ASSERT_EQ(sent.size(), before + 2);
  EXPECT_EQ(sent[before].to, "carol@example.com");
  EXPECT_NE(sent[before].body.find("not enrolled"), std::string::npos);
  EXPECT_FALSE(mailer_.LastCodeFor("carol@example.com").has_value());
  EXPECT_EQ(sent[before + 1].to, "bob@example.com");
  EXPECT_TRUE(mailer_.LastCodeFor("bob@example.com").has_value());
  // A code for an unknown email is never sent, so any guess is the same error.
  EXPECT_ERROR(core().requests.Confirm("nobody@example.com", "123456", kAddress),
               "recovery.invalid_code");
}

// Starting over drops the escrow a request would open: the open request is
// cancelled in the same transaction, as if the member had cancelled it.
TEST_F(RequestTest, StartingOverCancelsTheOpenRequest) {
  const std::string id = Submit(bob_);
  ASSERT_OK(core().restart.Ask(bob_.email, kAddress));
  core().WaitForBackgroundWork();
  auto ticket = core().restart.Verify(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress);
  ASSERT_OK(ticket);
  RestartMaterial m{crypto::kTestKdf,
                    crypto::RandomBytes(crypto::kSaltSize),
                    KeyFrom(9),
                    crypto::RandomBytes(72),
                    crypto::RandomBytes(32),
                    crypto::RandomBytes(72)};
  ASSERT_OK(core().restart.Complete(ticket->ticket.span(), m, kAddress));
  EXPECT_EQ(Stored(id).status, RequestStatus::kDeclined);
  EXPECT_FALSE(StoredEscrow(org_, bob_).has_value());
}

TEST_F(RequestTest, SubmitMakesOnePendingRequestAndNotifiesEligibleAdmins) {
  const std::string id = Submit(bob_);
  auto r = Stored(id);
  EXPECT_EQ(r.status, RequestStatus::kPending);
  EXPECT_EQ(r.org_id, org_.id);
  EXPECT_EQ(r.account_id, bob_.id);
  EXPECT_EQ(r.epoch, 1u);
  EXPECT_EQ(r.device_name, "bob-laptop");
  EXPECT_EQ(r.remote_address, kAddress);
  EXPECT_EQ(r.expires_at, Now() + org_.policy.pending_ttl);
  EXPECT_TRUE(r.initiated_by.empty());
  // Every recovery admin allowed to act on bob, with who / when / from where.
  for (const auto* p : {&owner_, &admin_, &admin2_}) {
    auto m = LastMailTo(p->email);
    ASSERT_TRUE(m.has_value()) << p->email;
    EXPECT_NE(m->body.find("bob@example.com"), std::string::npos);
    EXPECT_NE(m->body.find("bob-laptop"), std::string::npos);
    EXPECT_NE(m->body.find(kAddress), std::string::npos);
  }
  ASSERT_EQ(EventsOf(id, "recovery.requested").size(), 1u);
  // One open request per member.
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  EXPECT_ERROR(core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress),
               "recovery.request_open");
}

TEST_F(RequestTest, NotifyListOfThePolicyIsUsedWhenSet) {
  auto policy = org_.policy;
  policy.notify = {"security@example.com"};
  SetPolicy(org_, policy);
  const size_t owner_mails = MailsTo(owner_.email);
  Submit(bob_);
  EXPECT_EQ(MailsTo("security@example.com"), 1u);
  EXPECT_EQ(MailsTo(owner_.email), owner_mails);
}

TEST_F(RequestTest, AdminsWhoMayNotActOnTheMemberAreNotNotified) {
  Person helper = MakePerson("helper@example.com", 6);
  AddMember(org_, helper, "custom", "manage_account_recovery");
  // The request of an admin: the custom recovery helper cannot act on it.
  ASSERT_OK(core().enrollment.Enroll(admin_.caller(), org_.id, KeyFrom(admin_.key_tag),
                                     Escrow(org_, admin_, 1)));
  const size_t helper_mails = MailsTo(helper.email);
  const size_t owner_mails = MailsTo(owner_.email);
  const size_t admin2_mails = MailsTo(admin2_.email);
  Submit(admin_);
  EXPECT_EQ(MailsTo(helper.email), helper_mails);
  EXPECT_EQ(MailsTo(owner_.email), owner_mails + 1);
  EXPECT_EQ(MailsTo(admin2_.email), admin2_mails + 1);
}

TEST_F(RequestTest, CodeGuessingIsCapped) {
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  const std::string code = *mailer_.LastCodeFor(bob_.email);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < config_.code_max_attempts; ++i) {
    EXPECT_ERROR(core().requests.Confirm(bob_.email, wrong, kAddress), "recovery.invalid_code");
  }
  EXPECT_ERROR(core().requests.Confirm(bob_.email, code, kAddress), "recovery.invalid_code");
}

TEST_F(RequestTest, CodesExpireAndWorkOnce) {
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  std::string code = *mailer_.LastCodeFor(bob_.email);
  clock_.Advance(config_.code_ttl_seconds);
  EXPECT_ERROR(core().requests.Confirm(bob_.email, code, kAddress), "recovery.invalid_code");
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  code = *mailer_.LastCodeFor(bob_.email);
  ASSERT_OK(core().requests.Confirm(bob_.email, code, kAddress));
  EXPECT_ERROR(core().requests.Confirm(bob_.email, code, kAddress), "recovery.invalid_code");
}

TEST_F(RequestTest, AsksPerAddressAreRateLimited) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(core().requests.Ask(AskOf("x" + std::to_string(i) + "@example.com")));
  }
  EXPECT_ERROR(core().requests.Ask(AskOf("y@example.com")), "request.rate_limited");
}

// Issue 10, item 2: five asks and five wrong codes from a stranger's address
// used to spend the email's allowance and kill the last code.
TEST_F(RequestTest, AStrangerCannotKeepTheMemberOutOfRecovery) {
  constexpr char kStranger[] = "203.0.113.66";
  for (int round = 0; round < 5; ++round) {
    (void)core().requests.Ask(RecoveryAsk{bob_.email, "x", RecoveryIntent::kSubmit, kStranger,
                                          RequestKind::kRecovery, ""});
    for (int i = 0; i < config_.code_max_attempts; ++i) {
      (void)core().requests.Confirm(bob_.email, "000000", kStranger);
    }
  }
  const size_t mails = MailsTo(bob_.email);
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  ASSERT_EQ(MailsTo(bob_.email), mails + 1);  // a fresh code for the member
  auto confirmed = core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress);
  ASSERT_OK(confirmed);
  EXPECT_EQ(Stored(confirmed->submitted.request_id).status, RequestStatus::kPending);
}

TEST_F(RequestTest, WrongCodesFromAnotherAddressDoNotKillTheMembersCode) {
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  const std::string code = *mailer_.LastCodeFor(bob_.email);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < 2 * config_.code_max_attempts; ++i) {
    EXPECT_ERROR(core().requests.Confirm(bob_.email, wrong, "203.0.113.66"),
                 "recovery.invalid_code");
  }
  ASSERT_OK(core().requests.Confirm(bob_.email, code, kAddress));
}

// When no code can be sent, the answer says so and for how long; the same
// answer, after the same count, for an unknown email.
TEST_F(RequestTest, NoNewCodeIsSaidPlainlyAndTheSameForUnknownEmails) {
  clock_.Set((Now() / 3600 + 1) * 3600 + 2400);  // 20 minutes before the next hour
  std::vector<std::string> messages;
  for (const std::string& email : {bob_.email, std::string("nobody@example.com")}) {
    for (int i = 0; i < 5; ++i) ASSERT_OK(core().requests.Ask(AskOf(email)));
    auto spent = core().requests.Ask(AskOf(email));
    EXPECT_ERROR(spent, "recovery.code_limit");
    if (!spent) messages.push_back(spent.error().message());
  }
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], messages[1]);
  EXPECT_NE(messages[0].find("20 minutes"), std::string::npos) << messages[0];
  // The last code sent stays valid.
  ASSERT_OK(core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress));
  // The next window sends again.
  clock_.Advance(20 * 60);
  ASSERT_OK(core().requests.Ask(AskOf("nobody@example.com")));
}

// Over all addresses, an email gets at most 10 codes an hour; the limit of
// the pair (address, email) comes first, so a single address spends 5.
TEST_F(RequestTest, CodeEmailsPerEmailAreCappedAfterThePerAddressShare) {
  clock_.Set((Now() / 3600 + 1) * 3600);  // the start of a window
  const size_t mails = MailsTo(bob_.email);
  for (int a = 0; a < 2; ++a) {
    const std::string address = "203.0.113." + std::to_string(a);
    for (int i = 0; i < 5; ++i) {
      ASSERT_OK(core().requests.Ask(RecoveryAsk{bob_.email, "", RecoveryIntent::kSubmit, address,
                                                RequestKind::kRecovery, ""}));
    }
  }
  EXPECT_EQ(MailsTo(bob_.email), mails + 10);
  EXPECT_ERROR(core().requests.Ask(AskOf(bob_.email)), "recovery.code_limit");
  ASSERT_OK(core().requests.Ask(AskOf("nobody@example.com")));  // its own allowance
}

TEST_F(RequestTest, WrongConfirmationsPerAddressAreCapped) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_ERROR(
        core().requests.Confirm("n" + std::to_string(i) + "@example.com", "000000", "203.0.113.66"),
        "recovery.invalid_code");
  }
  ASSERT_OK(core().requests.Ask(RecoveryAsk{bob_.email, "", RecoveryIntent::kSubmit, "203.0.113.66",
                                            RequestKind::kRecovery, ""}));
  EXPECT_ERROR(
      core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), "203.0.113.66"),
      "request.rate_limited");
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));  // other addresses are not affected
  ASSERT_OK(core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress));
}

TEST_F(RequestTest, MemberCancelsTheOpenRequest) {
  const std::string id = Submit(bob_);
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email, RecoveryIntent::kCancel)));
  auto outcome = core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress);
  ASSERT_OK(outcome);
  EXPECT_EQ(outcome->intent, RecoveryIntent::kCancel);
  auto r = Stored(id);
  EXPECT_EQ(r.status, RequestStatus::kDeclined);
  EXPECT_EQ(r.decline_reason, "Cancelled by the member");
  EXPECT_EQ(EventsOf(id, "recovery.cancelled").size(), 1u);
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email, RecoveryIntent::kCancel)));
  EXPECT_ERROR(core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress),
               "recovery.no_open_request");
}

TEST_F(RequestTest, ConfirmAfterWithdrawalIsNotEnrolled) {
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  ASSERT_OK(core().enrollment.Withdraw(bob_.caller(), org_.id, KeyFrom(bob_.key_tag)));
  EXPECT_ERROR(core().requests.Confirm(bob_.email, *mailer_.LastCodeFor(bob_.email), kAddress),
               "org.not_enrolled");
}

// ---- approving and declining ----

TEST_F(RequestTest, ApproveStoresTheLinkAndEmailsTheMemberWithoutIt) {
  const std::string id = Submit(bob_);
  auto shown = core().requests.Show(admin_.caller(), org_.id, id);
  ASSERT_OK(shown);
  ASSERT_TRUE(shown->escrow.has_value());
  EXPECT_EQ(shown->escrow->epoch, 1u);
  auto link = MakeLink(id, bob_);
  auto view = Approve(admin_, id, link);
  ASSERT_OK(view);
  EXPECT_EQ(view->request.status, RequestStatus::kApproved);
  EXPECT_EQ(view->request.expires_at, Now() + org_.policy.link_ttl);
  EXPECT_EQ(view->request.decided_by, admin_.id);
  ASSERT_EQ(view->approvals.size(), 1u);
  EXPECT_EQ(view->approvals[0].email, admin_.email);
  auto r = Stored(id);
  EXPECT_EQ(r.link_share, link.linked_admin_share);
  EXPECT_FALSE(r.token_hash.empty());
  EXPECT_NE(r.token_hash, store::Bytes(link.token.span().begin(), link.token.span().end()));
  EXPECT_EQ(EventsOf(id, "recovery.approved").size(), 1u);
  auto mail = LastMailTo(bob_.email);
  ASSERT_TRUE(mail.has_value());
  EXPECT_NE(mail->subject.find("approved"), std::string::npos);
  EXPECT_NE(mail->body.find("tell your administrator"), std::string::npos);
  EXPECT_EQ(mail->body.find("/recover/"), std::string::npos);
  EXPECT_EQ(mail->body.find(crypto::Base64UrlEncode(link.token.span())), std::string::npos);
  // Decided: no more approvals or declines.
  EXPECT_ERROR(Approve(admin2_, id), "recovery.not_pending");
  EXPECT_ERROR(core().requests.Decline(admin2_.caller(), org_.id, id, "no"),
               "recovery.not_pending");
}

TEST_F(RequestTest, QuorumOfTwoDistinctEligibleAdmins) {
  auto policy = org_.policy;
  policy.quorum = 2;
  SetPolicy(org_, policy);
  const std::string id = Submit(bob_);
  auto first = Approve(admin_, id);
  ASSERT_OK(first);
  EXPECT_EQ(first->request.status, RequestStatus::kPending);
  EXPECT_EQ(first->quorum, 2);
  EXPECT_EQ(first->approvals.size(), 1u);  // "1 of 2"
  EXPECT_TRUE(Stored(id).token_hash.empty());
  EXPECT_EQ(EventsOf(id, "recovery.approval_recorded").size(), 1u);
  // The same admin twice, the member themself, and a member bob cannot be
  // approved by: refused, nothing recorded.
  EXPECT_ERROR(Approve(admin_, id), "recovery.already_approved");
  EXPECT_ERROR(Approve(bob_, id), "org.self_action");
  auto shown = core().requests.Show(admin_.caller(), org_.id, id);
  ASSERT_OK(shown);
  EXPECT_FALSE(shown->escrow.has_value());  // admin_ already approved
  auto second = Approve(admin2_, id);
  ASSERT_OK(second);
  EXPECT_EQ(second->request.status, RequestStatus::kApproved);
  EXPECT_EQ(second->approvals.size(), 2u);
  EXPECT_EQ(EventsOf(id, "recovery.approved").size(), 1u);
  EXPECT_EQ(EventsOf(id, "recovery.approval_recorded").size(), 1u);
}

TEST_F(RequestTest, AnAdminCannotApproveForAnOwnerAndAUserCannotApproveAtAll) {
  Person owner2 = MakePerson("owner2@example.com", 7);
  AddMember(org_, owner2, "owner");
  ASSERT_OK(core().enrollment.Enroll(owner2.caller(), org_.id, KeyFrom(owner2.key_tag),
                                     Escrow(org_, owner2, 1)));
  const std::string id = Submit(owner2);
  auto link = MakeLink(id, owner2);
  EXPECT_ERROR(Approve(admin_, id, link), "org.forbidden");
  EXPECT_ERROR(core().requests.Decline(admin_.caller(), org_.id, id, "no"), "org.forbidden");
  Person carol = MakePerson("carol@example.com", 5);
  AddMember(org_, carol, "user");
  EXPECT_ERROR(Approve(carol, id, link), "org.forbidden");
  EXPECT_ERROR(core().requests.List(carol.caller(), org_.id, std::nullopt, std::nullopt, 50),
               "org.forbidden");
  ASSERT_OK(Approve(owner_, id, link));
}

// Issue 10, item 6: a token already stored for another request (a client
// that reuses T) surfaced as store.conflict.
TEST_F(RequestTest, ATokenOfAnotherRequestIsAnInvalidField) {
  Person carol = MakePerson("carol@example.com", 5);
  AddMember(org_, carol, "user");
  ASSERT_TRUE(Enroll(org_, carol, 1).has_value());
  const std::string bob_id = Submit(bob_);
  const std::string carol_id = Submit(carol);
  auto link = MakeLink(bob_id, bob_);
  ASSERT_OK(Approve(admin_, bob_id, link));
  auto carol_link = MakeLink(carol_id, carol);
  auto reused = core().requests.Approve(admin_.caller(), org_.id, carol_id, link.token,
                                        carol_link.linked_admin_share);
  EXPECT_ERROR(reused, "request.invalid_field");
  EXPECT_EQ(Stored(carol_id).status, RequestStatus::kPending);
  ASSERT_OK(Approve(admin_, carol_id, carol_link));
}

// Issue 10, item 6: one's own request is refused with a code and a message
// that say so.
TEST_F(RequestTest, ApprovingOnesOwnRequestSaysSo) {
  ASSERT_OK(core().enrollment.Enroll(admin_.caller(), org_.id, KeyFrom(admin_.key_tag),
                                     Escrow(org_, admin_, 1)));
  const std::string id = Submit(admin_);
  auto own = core().requests.Approve(admin_.caller(), org_.id, id, crypto::GenericKey::Random(),
                                     crypto::RandomBytes(72));
  EXPECT_ERROR(own, "org.self_action");
  if (!own) {
    EXPECT_EQ(own.error().message(),
              "You cannot approve your own recovery request; another recovery admin must.");
  }
  auto declined = core().requests.Decline(admin_.caller(), org_.id, id, "no");
  EXPECT_ERROR(declined, "org.self_action");
}

TEST_F(RequestTest, ADemotedApproverNoLongerCountsTowardsTheQuorum) {
  auto policy = org_.policy;
  policy.quorum = 2;
  SetPolicy(org_, policy);
  const std::string id = Submit(bob_);
  ASSERT_OK(Approve(admin_, id));
  ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
    return tx.UpdateMemberRole(org_.id, admin_.id, "user", "");
  }));
  auto second = Approve(admin2_, id);
  ASSERT_OK(second);
  EXPECT_EQ(second->request.status, RequestStatus::kPending);
  ASSERT_OK(Approve(owner_, id));
  EXPECT_EQ(Stored(id).status, RequestStatus::kApproved);
}

TEST_F(RequestTest, DeclineEmailsTheReasonAndTheMemberMayAskAgain) {
  const std::string id = Submit(bob_);
  EXPECT_ERROR(core().requests.Decline(admin_.caller(), org_.id, id, ""), "request.invalid_field");
  EXPECT_ERROR(core().requests.Decline(admin_.caller(), org_.id, id, std::string(501, 'x')),
               "request.invalid_field");
  EXPECT_ERROR(core().requests.Decline(admin_.caller(), org_.id, id, "two\nlines"),
               "request.invalid_field");
  // 500 characters, most of them two bytes long.
  std::string reason = "Call the helpdesk first: ";
  for (int i = 0; i < 475; ++i) reason += "\xc3\xa9";  // é
  ASSERT_OK(core().requests.Decline(admin_.caller(), org_.id, id, reason));
  auto r = Stored(id);
  EXPECT_EQ(r.status, RequestStatus::kDeclined);
  EXPECT_EQ(r.decline_reason, reason);
  auto mail = LastMailTo(bob_.email);
  ASSERT_TRUE(mail.has_value());
  EXPECT_NE(mail->body.find(reason), std::string::npos);
  auto events = EventsOf(id, "recovery.declined");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].details.at("reason_length"), "500");
  for (const auto& e : Events(org_)) {
    for (const auto& [k, v] : e.details) EXPECT_EQ(v.find("helpdesk"), std::string::npos);
  }
  const std::string again = Submit(bob_);
  EXPECT_NE(again, id);
  EXPECT_EQ(Stored(again).status, RequestStatus::kPending);
}

TEST_F(RequestTest, AdminStartsARecoveryThatOthersApprove) {
  auto started = core().requests.Start(admin_.caller(), org_.id, bob_.id);
  ASSERT_OK(started);
  EXPECT_EQ(started->request.status, RequestStatus::kPending);
  EXPECT_EQ(started->request.initiated_by, admin_.id);
  EXPECT_EQ(started->request.epoch, 1u);
  EXPECT_TRUE(LastMailTo(owner_.email).has_value());
  EXPECT_ERROR(core().requests.Start(admin2_.caller(), org_.id, bob_.id), "recovery.request_open");
  EXPECT_ERROR(core().requests.Start(admin_.caller(), org_.id, admin_.id), "org.self_action");
  Person carol = MakePerson("carol@example.com", 5);
  AddMember(org_, carol, "user");
  EXPECT_ERROR(core().requests.Start(admin_.caller(), org_.id, carol.id), "org.not_enrolled");
  EXPECT_ERROR(core().requests.Start(admin_.caller(), org_.id, NewAccountId()),
               "org.member_not_found");
  ASSERT_OK(Approve(admin2_, started->request.id));
}

TEST_F(RequestTest, ListIsNewestFirstWithPagesAndAStatusFilter) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(Submit(bob_));
    ASSERT_OK(core().requests.Decline(admin_.caller(), org_.id, ids.back(), "no"));
    clock_.Advance(10);
  }
  ids.push_back(Submit(bob_));
  auto page = core().requests.List(admin_.caller(), org_.id, std::nullopt, std::nullopt, 3);
  ASSERT_OK(page);
  ASSERT_EQ(page->requests.size(), 3u);
  EXPECT_EQ(page->requests[0].request.id, ids[3]);
  EXPECT_EQ(page->requests[2].request.id, ids[1]);
  ASSERT_TRUE(page->next_after.has_value());
  auto rest = core().requests.List(admin_.caller(), org_.id, std::nullopt, page->next_after, 3);
  ASSERT_OK(rest);
  ASSERT_EQ(rest->requests.size(), 1u);
  EXPECT_EQ(rest->requests[0].request.id, ids[0]);
  EXPECT_FALSE(rest->next_after.has_value());
  auto pending =
      core().requests.List(admin_.caller(), org_.id, RequestStatus::kPending, std::nullopt, 50);
  ASSERT_OK(pending);
  ASSERT_EQ(pending->requests.size(), 1u);
  EXPECT_EQ(pending->requests[0].request.id, ids[3]);
}

// Issue 16: a page costs the same store calls whatever its size (the
// approvals and emails of a page in one query each, not per request).
TEST_F(RequestTest, AListPageCostsTheSameStoreCallsWhateverItsSize) {
  const auto calls_to_list = [&] {
    core().WaitForBackgroundWork();
    counting_->Start();
    auto page = core().requests.List(admin_.caller(), org_.id, std::nullopt, std::nullopt, 50);
    EXPECT_TRUE(page.has_value());
    return std::make_pair(counting_->Trace(), page ? page->requests.size() : 0);
  };
  // An approved request, its link left to expire so the member may ask again.
  const auto approved_then_expired = [&] {
    const std::string id = Submit(bob_);
    EXPECT_OK(Approve(admin_, id));
    clock_.Advance(org_.policy.link_ttl + 1);
    EXPECT_OK(SweepRecoveryRequests(core().context()));
  };
  approved_then_expired();
  const auto [one, one_size] = calls_to_list();
  ASSERT_EQ(one_size, 1u);
  for (int i = 0; i < 6; ++i) {
    if (i % 2 == 0) {
      approved_then_expired();
    } else {
      const std::string id = Submit(bob_);
      ASSERT_OK(core().requests.Decline(admin2_.caller(), org_.id, id, "no"));
    }
  }
  const auto [seven, seven_size] = calls_to_list();
  ASSERT_EQ(seven_size, 7u);
  EXPECT_EQ(seven, one) << ::testing::PrintToString(seven);
  // And the page is whole: every request with its email and its approval.
  auto page = core().requests.List(admin_.caller(), org_.id, std::nullopt, std::nullopt, 50);
  ASSERT_OK(page);
  size_t approvals = 0;
  for (const auto& view : page->requests) {
    EXPECT_EQ(view.email, bob_.email);
    for (const auto& a : view.approvals) {
      EXPECT_EQ(a.admin_id, admin_.id);
      EXPECT_EQ(a.email, admin_.email);
      ++approvals;
    }
  }
  EXPECT_EQ(approvals, 4u);
}

TEST_F(RequestTest, RequestsOfAnotherOrganizationAreNotFound) {
  const std::string id = Submit(bob_);
  TestOrg other = CreateOrg(admin_, MakePolicy(Enrollment::kOptIn), "other");
  EXPECT_ERROR(core().requests.Show(admin_.caller(), other.id, id), "recovery.not_found");
  EXPECT_ERROR(core().requests.Approve(admin_.caller(), other.id, id, crypto::GenericKey::Random(),
                                       crypto::RandomBytes(80)),
               "recovery.not_found");
  EXPECT_ERROR(core().requests.Show(bob_.caller(), other.id, id), "org.not_found");
}

// ---- expiry ----

TEST_F(RequestTest, APendingRequestReadAfterItsDeadlineIsStoredExpired) {
  const std::string id = Submit(bob_);
  clock_.Advance(org_.policy.pending_ttl);
  auto shown = core().requests.Show(admin_.caller(), org_.id, id);
  ASSERT_OK(shown);
  EXPECT_EQ(shown->request.status, RequestStatus::kExpired);
  EXPECT_EQ(Stored(id).status, RequestStatus::kExpired);
  EXPECT_EQ(EventsOf(id, "recovery.expired").size(), 1u);
  EXPECT_ERROR(Approve(admin_, id), "recovery.expired");
  // Emailed once, whoever expired it; the sweeper finds nothing left.
  const size_t mails = MailsTo(bob_.email);
  auto swept = SweepRecoveryRequests(core().context());
  ASSERT_OK(swept);
  EXPECT_EQ(*swept, 0);
  EXPECT_EQ(MailsTo(bob_.email), mails);
  EXPECT_EQ(EventsOf(id, "recovery.expired").size(), 1u);
  Submit(bob_);  // a new request may be made
}

// Issue 11: what only reads runs in a read transaction (on SQLite a write
// transaction queues behind every writer).
TEST_F(RequestTest, ListingAndShowingTakeOnlyReadTransactions) {
  const std::string id = Submit(bob_);
  core().WaitForBackgroundWork();
  counting_->Start();
  ASSERT_OK(core().requests.List(admin_.caller(), org_.id, std::nullopt, std::nullopt, 10));
  ASSERT_OK(core().requests.Show(admin_.caller(), org_.id, id));
  ASSERT_OK(core().orgs.List(admin_.caller()));
  ASSERT_OK(core().orgs.Get(admin_.caller(), org_.id));
  ASSERT_OK(core().members.List(admin_.caller(), org_.id));
  ASSERT_OK(core().events.List(admin_.caller(), org_.id, EventQuery{}));
  const auto work = counting_->Trace();
  EXPECT_EQ(std::count(work.begin(), work.end(), "Read"), 6);
  EXPECT_EQ(std::count(work.begin(), work.end(), "Transact"), 0) << ::testing::PrintToString(work);
}

TEST_F(RequestTest, AListingPastTheDeadlineShowsExpiredThenStoresItOnce) {
  const std::string id = Submit(bob_);
  clock_.Advance(org_.policy.pending_ttl);
  const size_t mails = MailsTo(bob_.email);
  core().WaitForBackgroundWork();
  counting_->Start();
  auto pending =
      core().requests.List(admin_.caller(), org_.id, RequestStatus::kPending, std::nullopt, 10);
  ASSERT_OK(pending);
  EXPECT_TRUE(pending->requests.empty());  // expired while listed
  auto work = counting_->Trace();
  ASSERT_FALSE(work.empty());
  EXPECT_EQ(work.front(), "Read");  // the answer is read first, then written down
  EXPECT_EQ(std::count(work.begin(), work.end(), "Transact"), 1);
  EXPECT_EQ(Stored(id).status, RequestStatus::kExpired);
  EXPECT_EQ(EventsOf(id, "recovery.expired").size(), 1u);
  EXPECT_EQ(MailsTo(bob_.email), mails + 1);
  // Once stored, listing it again only reads.
  counting_->Start();
  auto all = core().requests.List(admin_.caller(), org_.id, std::nullopt, std::nullopt, 10);
  ASSERT_OK(all);
  ASSERT_EQ(all->requests.size(), 1u);
  EXPECT_EQ(all->requests[0].request.status, RequestStatus::kExpired);
  work = counting_->Trace();
  EXPECT_EQ(std::count(work.begin(), work.end(), "Transact"), 0);
  EXPECT_EQ(EventsOf(id, "recovery.expired").size(), 1u);
  EXPECT_EQ(MailsTo(bob_.email), mails + 1);
}

TEST_F(RequestTest, ApprovingAfterTheDeadlineIsExpiredAndTheExpiryStands) {
  const std::string id = Submit(bob_);
  clock_.Advance(org_.policy.pending_ttl);
  EXPECT_ERROR(Approve(admin_, id), "recovery.expired");
  EXPECT_EQ(Stored(id).status, RequestStatus::kExpired);
  EXPECT_EQ(EventsOf(id, "recovery.expired").size(), 1u);
  EXPECT_TRUE(EventsOf(id, "recovery.approved").empty());
}

TEST_F(RequestTest, SweeperExpiresAndEmailsOnce) {
  const std::string pending = Submit(bob_);
  clock_.Advance(org_.policy.pending_ttl - 1);
  auto none = SweepRecoveryRequests(core().context());
  ASSERT_OK(none);
  EXPECT_EQ(*none, 0);
  clock_.Advance(1);
  const size_t mails = MailsTo(bob_.email);
  ASSERT_OK(Sweep(core().context()));  // the server's periodic housekeeping
  EXPECT_EQ(Stored(pending).status, RequestStatus::kExpired);
  EXPECT_EQ(MailsTo(bob_.email), mails + 1);
  auto mail = LastMailTo(bob_.email);
  EXPECT_NE(mail->subject.find("expired"), std::string::npos);
  ASSERT_OK(Sweep(core().context()));
  EXPECT_EQ(MailsTo(bob_.email), mails + 1);
  EXPECT_EQ(EventsOf(pending, "recovery.expired").size(), 1u);
}

// ---- redeeming ----

TEST_F(RequestTest, RedeemCompletesWithFreshEscrowsRevokesSessionsKeepsTwoStepLogin) {
  SignedIn phone = SignIn(bob_.email, bob_.key_tag, "phone");
  ASSERT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto a, tx.FindAccountById(bob_.id));
    a->totp_enabled = true;
    a->totp_secret_sealed = crypto::RandomBytes(40);
    return tx.UpdateAccount(*a);
  }));
  RememberDevice(bob_.id, "laptop");
  RememberDevice(bob_.id, "phone");
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  auto m = Redeem(id, link);
  ASSERT_OK(m);
  EXPECT_EQ(m->account_id, bob_.id);
  EXPECT_EQ(m->email, bob_.email);
  EXPECT_EQ(m->epoch, 1u);
  EXPECT_EQ(m->ticket_expires_at, Now() + kTicketTtlSeconds);
  ASSERT_EQ(m->orgs.size(), 1u);
  EXPECT_EQ(m->orgs[0].last_epoch, 1u);
  EXPECT_EQ(m->orgs[0].statements.size(), 1u);
  EXPECT_EQ(EventsOf(id, "recovery.redeem_started").size(), 1u);
  auto completion = Completion(*m, link, id, 9);
  ASSERT_OK(core().requests.Complete(completion));

  auto r = Stored(id);
  EXPECT_EQ(r.status, RequestStatus::kLinkUsed);
  EXPECT_EQ(r.completed_at, Now());
  auto account = StoredAccount(bob_);
  EXPECT_TRUE(account->totp_enabled);
  EXPECT_FALSE(account->must_change_password);
  EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 2u);
  EXPECT_EQ(LastEpoch(org_, bob_), 2u);
  EXPECT_FALSE(IsSignedIn(bob_.session));
  EXPECT_FALSE(IsSignedIn(phone));
  EXPECT_EQ(RememberedDevices(bob_.id), 0u);  // every trusted device forgotten
  auto login = core().sessions.Login(MakeLogin(bob_.email, 9));
  EXPECT_FALSE(login.has_value());  // the new password, then the second step
  EXPECT_NE(login.error().code(), "auth.invalid_credentials");
  EXPECT_ERROR(core().sessions.Login(MakeLogin(bob_.email, bob_.key_tag)),
               "auth.invalid_credentials");
  EXPECT_EQ(EventsOf(id, "recovery.link_used").size(), 1u);
  EXPECT_EQ(EventsOf(id, "recovery.password_reset").size(), 1u);
  EXPECT_NE(LastMailTo(bob_.email)->subject.find("reset"), std::string::npos);
  // The ticket and the link work once.
  EXPECT_ERROR(core().requests.Complete(Completion(*m, link, id, 10)), "recovery.invalid_ticket");
  EXPECT_ERROR(core().requests.RedeemStart(id, link.token, kAddress), "recovery.link_used");
  // Nothing secret in the log.
  const std::string t = crypto::Base64UrlEncode(link.token.span());
  for (const auto& e : Events(org_)) {
    for (const auto& [k, v] : e.details) EXPECT_NE(v, t) << k;
  }
}

// The completion ticket ends with the link's deadline at the latest
// (docs/model.md "Findings"): a link opened a minute before its deadline
// leaves a minute to finish, and past the deadline the ticket is dead
// whether or not the sweeper has expired the request yet, so finishing never
// depends on when the sweeper runs. Well before it, the ticket has its 15
// minutes (RedeemCompletesWithFreshEscrows... above).
TEST_F(RequestTest, ATicketEndsWithTheLinksDeadline) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  const int64_t deadline = Stored(id).expires_at;
  ASSERT_GT(deadline - Now(), kTicketTtlSeconds);
  clock_.Advance(deadline - Now() - 60);
  auto m = Redeem(id, link);
  ASSERT_OK(m);
  EXPECT_EQ(m->ticket_expires_at, deadline);
  // At the deadline, before any sweep: the ticket is dead, and the request
  // still Approved until the sweeper (or a read) expires it.
  clock_.Advance(60);
  EXPECT_ERROR(core().requests.Complete(Completion(*m, link, id, 9)), "recovery.invalid_ticket");
  EXPECT_EQ(Stored(id).status, RequestStatus::kApproved);
  ASSERT_OK(Sweep(core().context()));
  EXPECT_EQ(Stored(id).status, RequestStatus::kExpired);
  EXPECT_ERROR(core().requests.Complete(Completion(*m, link, id, 9)), "recovery.invalid_ticket");
  // The old password still opens the vault: nothing was half done.
  EXPECT_OK(core().sessions.Login(MakeLogin(bob_.email, bob_.key_tag, "desk")));
}

// A redeeming client escrows only to organizations it can vouch for (its
// pins, the link's anchor, or a fingerprint the member confirmed): one it
// leaves out keeps its escrow, which still opens the unchanged vault key.
TEST_F(RequestTest, CompleteKeepsTheEscrowOfAnOrganizationLeftOut) {
  clock_.Advance(1);  // enrolled in `other` after org_
  TestOrg other = CreateOrg(owner_, MakePolicy(Enrollment::kOptIn), "other");
  AddMember(other, bob_, "user");
  ASSERT_OK(Enroll(other, bob_, 1));
  const std::string id = Submit(bob_);
  auto r = Stored(id);
  ASSERT_EQ(r.org_id, other.id);  // the most recent enrollment
  // The admin of `other` approves with its key.
  auto escrow = StoredEscrow(other, bob_);
  auto a = protocol::OpenAdminShare(other.key, escrow->admin_share, other.id, bob_.id, 1);
  ASSERT_OK(a);
  auto link = protocol::CreateLink(*a, id, bob_.id, 1);
  ASSERT_OK(link);
  ASSERT_OK(core().requests.Approve(owner_.caller(), other.id, id, link->token,
                                    link->linked_admin_share));
  ASSERT_OK(core().requests.RedeemStart(id, link->token, kAddress));
  auto m =
      core().requests.RedeemVerify(id, link->token, *mailer_.LastCodeFor(bob_.email), kAddress);
  ASSERT_OK(m);
  ASSERT_EQ(m->orgs.size(), 2u);
  auto uk_a = protocol::OpenLink(link->link_secret, m->link_share, id, bob_.id, 1);
  ASSERT_OK(uk_a);
  auto uk =
      protocol::RecoverVaultKey(*uk_a, m->server_part, m->wrapped_vault_key, other.id, bob_.id, 1);
  ASSERT_OK(uk);
  RecoveryCompletion c;
  c.ticket = m->ticket.Clone();
  c.new_kdf = crypto::kTestKdf;
  c.new_salt = crypto::RandomBytes(16);
  c.new_auth_key = KeyFrom(9);
  c.new_wrapped_vault_key = crypto::RandomBytes(72);
  c.remote_address = kAddress;
  c.escrows.push_back({other.id, EscrowFor(other.id, bob_.id, 2, 1, other.key.public_key, *uk)});
  const auto before = StoredEscrow(org_, bob_);
  ASSERT_TRUE(before);
  ASSERT_OK(core().requests.Complete(c));
  EXPECT_EQ(Stored(id).status, RequestStatus::kLinkUsed);
  EXPECT_EQ(StoredEscrow(other, bob_)->epoch, 2u);
  const auto kept = StoredEscrow(org_, bob_);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->epoch, before->epoch);
  EXPECT_EQ(kept->admin_share, before->admin_share);
  EXPECT_EQ(kept->wrapped_vault_key, before->wrapped_vault_key);
}

TEST_F(RequestTest, CompleteRefusesAnEscrowForAnOrganizationNotEnrolledIn) {
  TestOrg other = CreateOrg(owner_, MakePolicy(Enrollment::kOptIn), "other");
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  auto m = Redeem(id, link);
  ASSERT_OK(m);
  RecoveryCompletion c = Completion(*m, link, id, 9);
  c.escrows.push_back(
      {other.id, EscrowFor(other.id, bob_.id, 2, 1, other.key.public_key, bob_.vault_key)});
  EXPECT_ERROR(core().requests.Complete(c), "org.not_enrolled");
  EXPECT_EQ(Stored(id).status, RequestStatus::kApproved);
  EXPECT_TRUE(IsSignedIn(bob_.session));
}

TEST_F(RequestTest, TokenGuessingIsCappedPerRequestAndPerAddress) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  for (int i = 0; i < 10; ++i) {
    EXPECT_ERROR(core().requests.RedeemStart(id, crypto::GenericKey::Random(), "203.0.113.1"),
                 "recovery.link_invalid");
  }
  // Capped for this request, but never for the right token: anyone who
  // knows the request id could otherwise lock the member out of the link.
  EXPECT_ERROR(core().requests.RedeemStart(id, crypto::GenericKey::Random(), "203.0.113.3"),
               "request.rate_limited");
  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  // Per address: another request id (unknown) from one address.
  for (int i = 0; i < 20; ++i) {
    auto s =
        core().requests.RedeemStart(NewAccountId(), crypto::GenericKey::Random(), "203.0.113.2");
    EXPECT_ERROR(s, "recovery.link_invalid");
  }
  EXPECT_ERROR(
      core().requests.RedeemStart(NewAccountId(), crypto::GenericKey::Random(), "203.0.113.2"),
      "request.rate_limited");
  clock_.Advance(3600);
  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
}

TEST_F(RequestTest, RedeemCodeGuessingIsCapped) {
  auto policy = org_.policy;
  policy.link_ttl = 30 * 86400;
  SetPolicy(org_, policy);
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  const std::string code = *mailer_.LastCodeFor(bob_.email);
  const std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < config_.code_max_attempts; ++i) {
    EXPECT_ERROR(core().requests.RedeemVerify(id, link.token, wrong, kAddress),
                 "recovery.invalid_code");
  }
  EXPECT_ERROR(core().requests.RedeemVerify(id, link.token, code, kAddress),
               "recovery.invalid_code");  // that code is dead
  // A new code; wrong guesses per request are capped across codes too.
  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  for (int i = 0; i < 4; ++i) {
    EXPECT_ERROR(core().requests.RedeemVerify(id, link.token, wrong, "203.0.113.9"),
                 "recovery.invalid_code");
  }
  const std::string fresh = *mailer_.LastCodeFor(bob_.email);
  EXPECT_ERROR(core().requests.RedeemVerify(id, link.token, fresh, kAddress),
               "request.rate_limited");
  // Emailed codes per request are capped as well.
  clock_.Advance(3600);
  for (int i = 0; i < 5; ++i) ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  EXPECT_ERROR(core().requests.RedeemStart(id, link.token, kAddress), "request.rate_limited");
}

TEST_F(RequestTest, AnExpiredLinkHasItsOwnErrorAndIsNeverReused) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  clock_.Advance(org_.policy.link_ttl);
  EXPECT_ERROR(
      core().requests.RedeemVerify(id, link.token, *mailer_.LastCodeFor(bob_.email), kAddress),
      "recovery.link_expired");
  EXPECT_EQ(Stored(id).status, RequestStatus::kExpired);
  EXPECT_EQ(EventsOf(id, "recovery.expired").size(), 1u);
  EXPECT_NE(LastMailTo(bob_.email)->subject.find("expired"), std::string::npos);
  EXPECT_ERROR(core().requests.RedeemStart(id, link.token, kAddress), "recovery.link_expired");
  // A new request gets a new link; the old token stays dead.
  const std::string again = Submit(bob_);
  auto link2 = MakeLink(again, bob_);
  ASSERT_OK(Approve(admin_, again, link2));
  EXPECT_ERROR(core().requests.RedeemStart(again, link.token, kAddress), "recovery.link_invalid");
  EXPECT_ERROR(core().requests.RedeemStart(id, link.token, kAddress), "recovery.link_expired");
  ASSERT_OK(core().requests.RedeemStart(again, link2.token, kAddress));
}

TEST_F(RequestTest, PendingOrDeclinedRequestsHaveNoWorkingLink) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  EXPECT_ERROR(core().requests.RedeemStart(id, link.token, kAddress), "recovery.link_invalid");
  ASSERT_OK(core().requests.Decline(admin_.caller(), org_.id, id, "no"));
  EXPECT_ERROR(core().requests.RedeemStart(id, link.token, kAddress), "recovery.link_invalid");
}

TEST_F(RequestTest, ADeletedAccountTakesItsRequestsAlong) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  ASSERT_OK(core().accounts.Delete(bob_.caller(), KeyFrom(bob_.key_tag)));
  EXPECT_ERROR(core().requests.Show(admin_.caller(), org_.id, id), "recovery.not_found");
  EXPECT_ERROR(core().requests.RedeemStart(id, link.token, kAddress), "recovery.link_invalid");
  auto page = core().requests.List(admin_.caller(), org_.id, std::nullopt, std::nullopt, 50);
  ASSERT_OK(page);
  EXPECT_TRUE(page->requests.empty());
  EXPECT_FALSE(EventsOf(id, "recovery.approved").empty());  // the history stays
}

// ---- atomicity: a store failing at any operation leaves nothing behind ----

TEST_F(RequestTest, ApproveIsAtomicUnderStoreFailures) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  const size_t events = Events(org_).size();
  const size_t mails = mailer_.Sent().size();
  bool done = false;
  for (int64_t n = 1; n < 500 && !done; ++n) {
    failing_->FailAt(n);
    auto result = Approve(admin_, id, link);
    failing_->FailAt(0);
    if (result) {
      done = true;
      break;
    }
    EXPECT_EQ(result.error().code(), "store.error") << n;
    auto r = Stored(id);
    ASSERT_EQ(r.status, RequestStatus::kPending) << n;
    EXPECT_TRUE(r.token_hash.empty()) << n;
    EXPECT_EQ(Events(org_).size(), events) << n;
    EXPECT_EQ(mailer_.Sent().size(), mails) << n;
    ASSERT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto approvals, tx.ListApprovals(id));
      EXPECT_TRUE(approvals.empty()) << n;
      return {};
    }));
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(Stored(id).status, RequestStatus::kApproved);
  EXPECT_EQ(Events(org_).size(), events + 1);
}

// Faults at every step (issue 15, item 4): the store failing at any
// operation of the member's confirmation leaves no request, no event and no
// email, and the same code then still works: the retry submits.
TEST_F(RequestTest, ConfirmIsAtomicUnderStoreFailuresAndARetryFinishes) {
  ASSERT_OK(core().requests.Ask(AskOf(bob_.email)));
  auto code = mailer_.LastCodeFor(bob_.email);
  ASSERT_TRUE(code.has_value());
  const size_t events = Events(org_).size();
  const size_t mails = mailer_.Sent().size();
  std::string id;
  int64_t n = 1;
  for (; n < 500; ++n) {
    failing_->FailAt(n);
    auto confirmed = core().requests.Confirm(bob_.email, *code, kAddress);
    failing_->FailAt(0);
    if (confirmed) {
      id = confirmed->submitted.request_id;
      break;
    }
    EXPECT_EQ(confirmed.error().code(), "store.error") << n;
    EXPECT_EQ(Events(org_).size(), events) << n;
    EXPECT_EQ(mailer_.Sent().size(), mails) << n;
  }
  ASSERT_FALSE(id.empty()) << "the confirmation never got through";
  EXPECT_GT(n, 3);
  EXPECT_EQ(Stored(id).status, RequestStatus::kPending);
  EXPECT_EQ(EventsOf(id, "recovery.requested").size(), 1u);
  EXPECT_GT(mailer_.Sent().size(), mails);  // the admins told, once
}

// The same for both steps of redeeming: a failed start mails no code; a
// failed verify opens no escrow (no event, no ticket) and leaves the code
// and the link usable; the retries finish and the recovery completes.
TEST_F(RequestTest, RedeemIsAtomicUnderStoreFailuresAndARetryFinishes) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  size_t mails = MailsTo(bob_.email);
  size_t events = Events(org_).size();
  int64_t n = 1;
  for (; n < 500; ++n) {
    failing_->FailAt(n);
    auto started = core().requests.RedeemStart(id, link.token, kAddress);
    failing_->FailAt(0);
    if (started) break;
    EXPECT_EQ(started.error().code(), "store.error") << n;
    EXPECT_EQ(MailsTo(bob_.email), mails) << n;
    EXPECT_EQ(Events(org_).size(), events) << n;
  }
  ASSERT_LT(n, 500) << "the start never got through";
  EXPECT_EQ(MailsTo(bob_.email), mails + 1);
  auto code = mailer_.LastCodeFor(bob_.email);
  ASSERT_TRUE(code.has_value());
  events = Events(org_).size();
  std::optional<RedeemMaterial> m;
  for (n = 1; n < 500; ++n) {
    failing_->FailAt(n);
    auto verified = core().requests.RedeemVerify(id, link.token, *code, kAddress);
    failing_->FailAt(0);
    if (verified) {
      m = std::move(*verified);
      break;
    }
    EXPECT_EQ(verified.error().code(), "store.error") << n;
    EXPECT_EQ(Events(org_).size(), events) << n;
    EXPECT_EQ(Stored(id).status, RequestStatus::kApproved) << n;
  }
  ASSERT_TRUE(m.has_value()) << "the verify never got through";
  EXPECT_GT(n, 3);
  EXPECT_EQ(EventsOf(id, "recovery.escrow_opened").size(), 1u);
  ASSERT_OK(core().requests.Complete(Completion(*m, link, id, 9)));
  EXPECT_EQ(Stored(id).status, RequestStatus::kLinkUsed);
}

TEST_F(RequestTest, CompleteIsAtomicUnderStoreFailures) {
  const std::string id = Submit(bob_);
  auto link = MakeLink(id, bob_);
  ASSERT_OK(Approve(admin_, id, link));
  auto m = Redeem(id, link);
  ASSERT_OK(m);
  auto before = StoredAccount(bob_);
  const size_t events = Events(org_).size();
  bool done = false;
  for (int64_t n = 1; n < 500 && !done; ++n) {
    auto c = Completion(*m, link, id, 9);
    failing_->FailAt(n);
    auto result = core().requests.Complete(c);
    failing_->FailAt(0);
    if (result) {
      done = true;
      break;
    }
    EXPECT_EQ(result.error().code(), "store.error") << n;
    EXPECT_EQ(Stored(id).status, RequestStatus::kApproved) << n;
    EXPECT_EQ(StoredAccount(bob_)->verifier, before->verifier) << n;
    EXPECT_EQ(StoredEscrow(org_, bob_)->epoch, 1u) << n;
    EXPECT_EQ(LastEpoch(org_, bob_), 1u) << n;
    EXPECT_TRUE(IsSignedIn(bob_.session)) << n;
    EXPECT_EQ(Events(org_).size(), events) << n;
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(Stored(id).status, RequestStatus::kLinkUsed);
  EXPECT_FALSE(IsSignedIn(bob_.session));
  EXPECT_EQ(Events(org_).size(), events + 2);
}

// ---- races on a real SQLite file ----

class RequestRaceTest : public RequestTest {
 protected:
  RequestRaceTest() {
    path_ = std::filesystem::temp_directory_path() /
            ("keyward-requests-" + crypto::HexEncode(crypto::RandomBytes(8)) + ".db");
  }
  ~RequestRaceTest() override {
    services_.reset();
    failing_.reset();
    store_.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix, ec);
    }
  }

  // The same people and organization, but on a file so that two threads use
  // the store as two server nodes would.
  void SetUp() override {
    auto opened = store::Open("sqlite:" + path_.string());
    ASSERT_OK(opened);
    services_.reset();
    failing_ = std::make_unique<keyward::testing::FailingStore>(**opened);
    store_ = std::move(*opened);
    Rebuild();
    owner_ = MakePerson("owner@example.com", 1);
    admin_ = MakePerson("admin@example.com", 2);
    admin2_ = MakePerson("admin2@example.com", 3);
    bob_ = MakePerson("bob@example.com", 4);
    org_ = CreateOrg(owner_, MakePolicy(Enrollment::kOptIn));
    AddMember(org_, admin_, "admin");
    AddMember(org_, admin2_, "admin");
    AddMember(org_, bob_, "user");
    ASSERT_OK(Enroll(org_, bob_, 1));
  }

  // A fresh pending request for bob (the previous one closed by hand).
  std::string FreshRequest(const std::string& previous) {
    if (!previous.empty()) {
      EXPECT_TRUE(store_->Transact([&](store::Tx& tx) -> Status {
        KW_ASSIGN_OR_RETURN(auto r, tx.FindRequest(previous));
        auto was = r->status;
        if (!IsOpen(was)) return {};
        r->status = RequestStatus::kDeclined;
        r->decline_reason = "test";
        return tx.UpdateRequest(*r, was);
      }));
    }
    auto started = core().requests.Start(owner_.caller(), org_.id, bob_.id);
    EXPECT_OK(started);
    return started ? started->request.id : "";
  }

  std::filesystem::path path_;
};

TEST_F(RequestRaceTest, TwoApprovalsRaceOneWinsOneEvent) {
  std::string id;
  for (int trial = 0; trial < 100; ++trial) {
    id = FreshRequest(id);
    auto link1 = MakeLink(id, bob_);
    auto link2 = MakeLink(id, bob_);
    std::atomic<int> ready{0};
    Result<RequestView> r1 = Fail(Internal());
    Result<RequestView> r2 = Fail(Internal());
    auto run = [&](const Person& admin, const protocol::ApprovedLink& link,
                   Result<RequestView>& out) {
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();
      out = Approve(admin, id, link);
    };
    std::thread t1(run, std::cref(admin_), std::cref(link1), std::ref(r1));
    std::thread t2(run, std::cref(admin2_), std::cref(link2), std::ref(r2));
    t1.join();
    t2.join();
    ASSERT_NE(r1.has_value(), r2.has_value()) << "trial " << trial;
    const auto& loser = r1 ? r2 : r1;
    EXPECT_EQ(loser.error().code(), "recovery.not_pending") << "trial " << trial;
    ASSERT_EQ(EventsOf(id, "recovery.approved").size(), 1u) << "trial " << trial;
    auto stored = Stored(id);
    const auto& winning_link = r1 ? link1 : link2;
    EXPECT_EQ(stored.link_share, winning_link.linked_admin_share) << "trial " << trial;
  }
}

TEST_F(RequestRaceTest, ApproveAndDeclineRaceOneOutcomeOneEvent) {
  std::string id;
  int approvals = 0;
  for (int trial = 0; trial < 100; ++trial) {
    id = FreshRequest(id);
    auto link = MakeLink(id, bob_);
    std::atomic<int> ready{0};
    Result<RequestView> approved = Fail(Internal());
    Result<RequestView> declined = Fail(Internal());
    auto wait = [&] {
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();
    };
    std::thread t1([&] {
      wait();
      approved = Approve(admin_, id, link);
    });
    std::thread t2([&] {
      wait();
      declined = core().requests.Decline(admin2_.caller(), org_.id, id, "not verified");
    });
    t1.join();
    t2.join();
    ASSERT_NE(approved.has_value(), declined.has_value()) << "trial " << trial;
    const auto& loser = approved ? declined : approved;
    EXPECT_EQ(loser.error().code(), "recovery.not_pending") << "trial " << trial;
    const size_t a = EventsOf(id, "recovery.approved").size();
    const size_t d = EventsOf(id, "recovery.declined").size();
    ASSERT_EQ(a + d, 1u) << "trial " << trial;
    EXPECT_EQ(a == 1, approved.has_value());
    EXPECT_EQ(Stored(id).status, approved ? RequestStatus::kApproved : RequestStatus::kDeclined);
    approvals += approved ? 1 : 0;
  }
  RecordProperty("approvals_won", approvals);
}

}  // namespace
}  // namespace keyward::core::testing
