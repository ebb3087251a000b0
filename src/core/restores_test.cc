// Cloud snapshots and restore requests through core, over the real SQLite
// store (the FailingStore for the faults). Item and snapshot bytes are
// opaque to the server: random bytes stand for the client's ciphertexts.
#include "core/restores.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/recovery_test_fixture.h"
#include "core/snapshots.h"
#include "protocol/link.h"
#include "tests/support/status_assertions.h"

namespace keyward::core::testing {
namespace {

using core::RequestStatus;
using protocol::Enrollment;

constexpr char kAddress[] = "198.51.100.9";

class RestoreTest : public RecoveryTest {
 protected:
  RestoreTest()
      : owner_(MakePerson("owner@example.com", 1)),
        admin_(MakePerson("admin@example.com", 2)),
        bob_(MakePerson("bob@example.com", 4)),
        org_(CreateOrg(owner_, MakePolicy(Enrollment::kOptIn))) {
    AddMember(org_, admin_, "admin");
    AddMember(org_, bob_, "user");
    EXPECT_TRUE(Enroll(org_, bob_, 1).has_value());
  }

  // A snapshot of `size` bytes in parts of at most `part` bytes.
  std::string Push(const Person& p, size_t size = 100, size_t part = 64) {
    const std::string id = crypto::RandomArgSafeId(16);
    const uint32_t parts = static_cast<uint32_t>((size + part - 1) / part);
    EXPECT_OK(core().snapshots.Begin(p.caller(), id, size, parts));
    for (uint32_t n = 0; n < parts; ++n) {
      const size_t len = std::min(part, size - n * part);
      EXPECT_OK(core().snapshots.PutPart(p.caller(), id, n, store::Bytes(len, uint8_t(n + 1))));
    }
    EXPECT_OK(core().snapshots.Finish(p.caller(), id));
    return id;
  }

  std::vector<StagedItem> Staged() {
    return {{"item-a", store::Bytes(40, 0xa2)}, {"item-c", store::Bytes(40, 0xc1)}};
  }

  // Bob, on his laptop, asks to restore `snapshot` (items staged).
  std::string AskRestore(const std::string& snapshot, bool stage = true) {
    auto view = core().restores.Request(bob_.caller(), {snapshot, "bob-laptop", 2});
    EXPECT_OK(view);
    if (!view) return "";
    if (stage) EXPECT_OK(core().restores.Stage(bob_.caller(), view->request.id, Staged()));
    return view->request.id;
  }

  std::vector<core::Item> ItemsOf(const Person& p) {
    std::vector<core::Item> items;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(items, tx.ListItems(p.id));
      return {};
    }));
    return items;
  }

  core::RecoveryRequest Stored(const std::string& id) {
    std::optional<core::RecoveryRequest> r;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(r, tx.FindRequest(id));
      return {};
    }));
    return r.value_or(core::RecoveryRequest{});
  }

  int64_t StagedCount(const std::string& id) {
    int64_t n = -1;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(n, tx.CountStagedItems(id));
      return {};
    }));
    return n;
  }

  bool MailedWith(const std::string& to, const std::string& subject_part) {
    for (const auto& m : mailer_.Sent()) {
      if (m.to == to && m.subject.find(subject_part) != std::string::npos) return true;
    }
    return false;
  }

  // Bob lost the password too: a restore of his newest snapshot asked by
  // email; the request id.
  std::string AskByEmail() {
    RecoveryAsk ask{bob_.email, "new-laptop",          RecoveryIntent::kSubmit,
                    kAddress,   RequestKind::kRestore, ""};
    EXPECT_OK(core().requests.Ask(ask));
    core().WaitForBackgroundWork();
    auto confirmed =
        core().requests.Confirm(bob_.email, mailer_.LastCodeFor(bob_.email).value_or(""), kAddress);
    EXPECT_OK(confirmed);
    return confirmed ? confirmed->submitted.request_id : "";
  }

  // The admin's client approving with a link (A from SA, then L, T, LA).
  protocol::ApprovedLink ApproveWithLink(const std::string& id) {
    std::optional<core::Escrow> e;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(e, tx.FindEscrow(org_.id, bob_.id));
      return {};
    }));
    auto a = protocol::OpenAdminShare(org_.key, e->admin_share, org_.id, bob_.id, e->epoch);
    EXPECT_TRUE(a.has_value());
    auto link = protocol::CreateLink(*a, id, bob_.id, e->epoch);
    EXPECT_TRUE(link.has_value());
    EXPECT_OK(core().requests.Approve(admin_.caller(), org_.id, id, link->token,
                                      link->linked_admin_share));
    return std::move(*link);
  }

  // What bob's client sends to complete: UK rebuilt from the link, a new
  // password, fresh escrows.
  RecoveryCompletion Completion(const RedeemMaterial& m, const protocol::ApprovedLink& link,
                                const std::string& id) {
    auto a = protocol::OpenLink(link.link_secret, m.link_share, id, m.account_id, m.epoch);
    auto uk = protocol::RecoverVaultKey(a.value(), m.server_part, m.wrapped_vault_key, org_.id,
                                        m.account_id, m.epoch);
    EXPECT_TRUE(uk.has_value());
    RecoveryCompletion c;
    c.ticket = m.ticket.Clone();
    c.new_kdf = crypto::kTestKdf;
    c.new_salt = crypto::RandomBytes(16);
    c.new_auth_key = KeyFrom(7);
    c.new_wrapped_vault_key = crypto::RandomBytes(72);
    for (const auto& o : m.orgs) {
      c.escrows.push_back({o.org_id, EscrowFor(o.org_id, m.account_id, o.last_epoch + 1,
                                               o.key_version, o.recovery_public_key, *uk)});
    }
    c.remote_address = kAddress;
    return c;
  }

  // Bob's vault before: item-a (to be changed), item-b (to go).
  void FillVault() {
    ASSERT_OK(core().items.Create(bob_.caller(), "item-a", store::Bytes(40, 0xa1)));
    ASSERT_OK(core().items.Create(bob_.caller(), "item-b", store::Bytes(40, 0xb1)));
  }

  Person owner_;
  Person admin_;
  Person bob_;
  TestOrg org_;
};

TEST_F(RestoreTest, ASnapshotIsUploadedInPartsAndListedOnlyWhenWhole) {
  const std::string id = crypto::RandomArgSafeId(16);
  ASSERT_OK(core().snapshots.Begin(bob_.caller(), id, 100, 2));
  ASSERT_OK(core().snapshots.PutPart(bob_.caller(), id, 0, store::Bytes(64, 1)));
  EXPECT_ERROR(core().snapshots.Finish(bob_.caller(), id), "snapshot.incomplete");
  EXPECT_TRUE(core().snapshots.List(bob_.caller())->empty());
  // A part of the wrong size is caught at the end too.
  ASSERT_OK(core().snapshots.PutPart(bob_.caller(), id, 1, store::Bytes(35, 2)));
  EXPECT_ERROR(core().snapshots.Finish(bob_.caller(), id), "snapshot.incomplete");
  ASSERT_OK(core().snapshots.PutPart(bob_.caller(), id, 1, store::Bytes(36, 2)));
  EXPECT_ERROR(core().snapshots.PutPart(bob_.caller(), id, 2, store::Bytes(1, 2)),
               "request.invalid_field");
  auto done = core().snapshots.Finish(bob_.caller(), id);
  ASSERT_OK(done);
  EXPECT_EQ(done->state, SnapshotState::kReady);
  EXPECT_ERROR(core().snapshots.PutPart(bob_.caller(), id, 0, store::Bytes(64, 9)),
               "snapshot.not_uploading");
  auto list = core().snapshots.List(bob_.caller());
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].size, 100u);
  auto part = core().snapshots.GetPart(bob_.caller(), id, 1);
  ASSERT_OK(part);
  EXPECT_EQ(*part, store::Bytes(36, 2));
  // Another account sees nothing of it.
  EXPECT_ERROR(core().snapshots.GetPart(admin_.caller(), id, 0), "snapshot.not_found");
  EXPECT_ERROR(core().snapshots.Delete(admin_.caller(), id), "snapshot.not_found");
  EXPECT_EQ(Events(org_, "backup.pushed").size(), 1u);
  // Bad shapes are refused before anything is stored.
  EXPECT_ERROR(core().snapshots.Begin(bob_.caller(), "x y", 10, 1), "request.invalid_field");
  EXPECT_ERROR(core().snapshots.Begin(bob_.caller(), "s2", 0, 1), "request.invalid_field");
  EXPECT_ERROR(core().snapshots.Begin(bob_.caller(), "s2", kSnapshotPartMax + 1, 1),
               "request.invalid_field");
  EXPECT_ERROR(core().snapshots.Begin(bob_.caller(), id, 10, 1), "snapshot.exists");
}

TEST_F(RestoreTest, RetentionFollowsThePolicyAndKeepsTheSnapshotARequestNames) {
  auto policy = MakePolicy(Enrollment::kOptIn);
  policy.snapshot_keep = 2;
  SetPolicy(org_, policy);
  const std::string first = Push(bob_);
  clock_.Advance(1);
  const std::string named = Push(bob_);
  (void)AskRestore(named, false);
  clock_.Advance(1);
  const std::string third = Push(bob_);
  clock_.Advance(1);
  const std::string fourth = Push(bob_);
  auto list = core().snapshots.List(bob_.caller());
  ASSERT_OK(list);
  std::vector<std::string> ids;
  for (const auto& s : *list) ids.push_back(s.id);
  // The newest two, and the one the open request names.
  EXPECT_EQ(ids, (std::vector<std::string>{fourth, third, named}));
  EXPECT_ERROR(core().snapshots.Delete(bob_.caller(), named), "snapshot.in_use");
  ASSERT_OK(core().snapshots.Delete(bob_.caller(), third));
  (void)first;
}

TEST_F(RestoreTest, TheLastApprovalRollsBackAndUnpairsEveryOtherDevice) {
  FillVault();
  SignedIn phone = SignIn(bob_.email, bob_.key_tag, "phone");
  const std::string snapshot = Push(bob_);
  auto view = core().restores.Request(bob_.caller(), {snapshot, "bob-laptop", 2});
  ASSERT_OK(view);
  const std::string id = view->request.id;
  EXPECT_EQ(view->request.kind, RequestKind::kRestore);
  EXPECT_EQ(view->request.device_id, "laptop");
  EXPECT_TRUE(MailedWith(admin_.email, "Cloud backup restore request"));

  // Not before every item is there.
  ASSERT_OK(core().restores.Stage(bob_.caller(), id, {Staged()[0]}));
  EXPECT_ERROR(core().requests.Approve(admin_.caller(), org_.id, id, std::nullopt),
               "restore.not_ready");
  EXPECT_EQ(Stored(id).status, RequestStatus::kPending);
  ASSERT_OK(core().restores.Stage(bob_.caller(), id, Staged()));
  EXPECT_EQ(StagedCount(id), 2);
  // More than announced is refused.
  EXPECT_ERROR(core().restores.Stage(bob_.caller(), id, {{"item-z", store::Bytes(5, 1)}}),
               "request.invalid_field");
  // Nobody approves their own; a link is not what this approval takes.
  EXPECT_ERROR(core().requests.Approve(bob_.caller(), org_.id, id, std::nullopt),
               "org.self_action");
  EXPECT_ERROR(core().requests.Approve(admin_.caller(), org_.id, id, crypto::GenericKey::Random(),
                                       crypto::RandomBytes(72)),
               "request.invalid_field");

  auto approved = core().requests.Approve(admin_.caller(), org_.id, id, std::nullopt);
  ASSERT_OK(approved);
  EXPECT_EQ(approved->request.status, RequestStatus::kLinkUsed);
  EXPECT_TRUE(approved->request.token_hash.empty());

  auto items = ItemsOf(bob_);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].id, "item-a");
  EXPECT_EQ(items[0].data, store::Bytes(40, 0xa2));
  EXPECT_EQ(items[0].revision, 2);
  EXPECT_EQ(items[1].id, "item-c");
  EXPECT_EQ(items[1].revision, 1);
  EXPECT_TRUE(IsSignedIn(bob_.session));
  EXPECT_FALSE(IsSignedIn(phone));
  auto devices = core().devices.List(bob_.caller());
  ASSERT_OK(devices);
  for (const auto& d : *devices) EXPECT_EQ(d.active, d.id == "laptop") << d.id;
  EXPECT_EQ(StagedCount(id), 0);
  EXPECT_EQ(Events(org_, "restore.requested").size(), 1u);
  EXPECT_EQ(Events(org_, "restore.approved").size(), 1u);
  auto done = Events(org_, "restore.done");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].details.at("devices_unpaired"), "1");
  EXPECT_EQ(done[0].details.at("removed"), "1");
  EXPECT_TRUE(MailedWith(bob_.email, "restored from a cloud backup"));
}

TEST_F(RestoreTest, WithAQuorumOfTwoOneApprovalChangesNothing) {
  auto policy = MakePolicy(Enrollment::kOptIn);
  policy.quorum = 2;
  SetPolicy(org_, policy);
  Person admin2 = MakePerson("admin2@example.com", 3);
  AddMember(org_, admin2, "admin");
  FillVault();
  const std::string id = AskRestore(Push(bob_));
  auto first = core().requests.Approve(admin_.caller(), org_.id, id, std::nullopt);
  ASSERT_OK(first);
  EXPECT_EQ(first->request.status, RequestStatus::kPending);
  EXPECT_EQ(ItemsOf(bob_).size(), 2u);
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-b");
  ASSERT_OK(core().requests.Approve(admin2.caller(), org_.id, id, std::nullopt));
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-c");
}

TEST_F(RestoreTest, ADeclinedRestoreChangesNothing) {
  FillVault();
  SignedIn phone = SignIn(bob_.email, bob_.key_tag, "phone");
  const std::string id = AskRestore(Push(bob_));
  ASSERT_OK(core().requests.Decline(admin_.caller(), org_.id, id, "Call me first"));
  EXPECT_EQ(Stored(id).status, RequestStatus::kDeclined);
  auto items = ItemsOf(bob_);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].data, store::Bytes(40, 0xa1));
  EXPECT_EQ(items[0].revision, 1);
  EXPECT_TRUE(IsSignedIn(phone));
  EXPECT_EQ(StagedCount(id), 0);
  EXPECT_EQ(Events(org_, "restore.declined").size(), 1u);
  EXPECT_TRUE(MailedWith(bob_.email, "restore was declined"));
  EXPECT_ERROR(core().requests.Approve(admin_.caller(), org_.id, id, std::nullopt),
               "recovery.not_pending");
}

TEST_F(RestoreTest, AnExpiredRestoreDropsItsStagedItems) {
  FillVault();
  const std::string id = AskRestore(Push(bob_));
  clock_.Advance(org_.policy.pending_ttl + 1);
  ASSERT_OK(SweepRecoveryRequests(core().context()));
  EXPECT_EQ(Stored(id).status, RequestStatus::kExpired);
  EXPECT_EQ(StagedCount(id), 0);
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-b");
  EXPECT_ERROR(core().restores.Stage(bob_.caller(), id, Staged()), "recovery.not_pending");
}

TEST_F(RestoreTest, ARequestNeedsAReadySnapshotOfOnesOwnAndOneOpenRequest) {
  const std::string mine = Push(bob_);
  const std::string theirs = Push(admin_);
  EXPECT_ERROR(core().restores.Request(bob_.caller(), {theirs, "x", 0}), "snapshot.not_found");
  EXPECT_ERROR(core().restores.Request(bob_.caller(), {"nope", "x", 0}), "snapshot.not_found");
  ASSERT_OK(core().restores.Request(bob_.caller(), {mine, "x", 0}));
  EXPECT_ERROR(core().restores.Request(bob_.caller(), {mine, "x", 0}), "recovery.request_open");
  // Someone else's request is not theirs to stage into.
  auto open = core().restores.Current(bob_.caller());
  ASSERT_OK(open);
  ASSERT_TRUE(open->has_value());
  EXPECT_ERROR(core().restores.Stage(admin_.caller(), (*open)->request.id, Staged()),
               "recovery.not_found");
}

// Faults: the store failing at any step of the last approval leaves the
// vault, the devices and the request as they were.
TEST_F(RestoreTest, AFailureAtAnyStepOfTheApprovalLeavesEverythingAsItWas) {
  FillVault();
  SignedIn phone = SignIn(bob_.email, bob_.key_tag, "phone");
  const std::string id = AskRestore(Push(bob_));
  // Fail step 1, 2, ... of the approval until it gets through.
  for (int64_t n = 1;; ++n) {
    failing_->FailAt(n);
    auto r = core().requests.Approve(admin_.caller(), org_.id, id, std::nullopt);
    failing_->FailAt(0);
    if (r) break;
    ASSERT_LT(n, 500) << "the approval never succeeded";
    EXPECT_EQ(Stored(id).status, RequestStatus::kPending) << "step " << n;
    auto items = ItemsOf(bob_);
    ASSERT_EQ(items.size(), 2u) << "step " << n;
    EXPECT_EQ(items[1].id, "item-b") << "step " << n;
    EXPECT_EQ(items[0].revision, 1) << "step " << n;
    EXPECT_TRUE(IsSignedIn(phone)) << "step " << n;
    EXPECT_EQ(StagedCount(id), 2) << "step " << n;
  }
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-c");
  EXPECT_FALSE(IsSignedIn(phone));
}

// Faults at every step (issue 15, item 4): the store failing at any
// operation of a restore request leaves no request, no event and no email;
// the retry opens it, and the admins are told once.
TEST_F(RestoreTest, AFailureAtAnyStepOfTheRequestLeavesNoRequestAndARetryOpensIt) {
  FillVault();
  const std::string snapshot = Push(bob_);
  core().WaitForBackgroundWork();
  const size_t events = Events(org_).size();
  const size_t mails = mailer_.Sent().size();
  int64_t n = 1;
  for (;; ++n) {
    failing_->FailAt(n);
    auto r = core().restores.Request(bob_.caller(), {snapshot, "new-laptop", 0});
    failing_->FailAt(0);
    if (r) break;
    ASSERT_LT(n, 500) << "the request never got through";
    EXPECT_EQ(r.error().code(), "store.error") << n;
    auto open = core().restores.Current(bob_.caller());
    ASSERT_OK(open);
    EXPECT_FALSE(open->has_value()) << n;
    core().WaitForBackgroundWork();
    EXPECT_EQ(Events(org_).size(), events) << n;
    EXPECT_EQ(mailer_.Sent().size(), mails) << n;
  }
  EXPECT_GT(n, 3);
  core().WaitForBackgroundWork();
  auto open = core().restores.Current(bob_.caller());
  ASSERT_OK(open);
  ASSERT_TRUE(open->has_value());
  EXPECT_EQ((*open)->request.kind, RequestKind::kRestore);
  EXPECT_GT(Events(org_).size(), events);
  EXPECT_GT(mailer_.Sent().size(), mails);
}

// The member lost the master password too: the approval brings a link, and
// the rollback happens with the new password, in one transaction.
TEST_F(RestoreTest, WithoutThePasswordTheRestoreHappensAtRedeem) {
  FillVault();
  const std::string snapshot = Push(bob_);
  const std::string id = AskByEmail();
  auto stored = Stored(id);
  EXPECT_EQ(stored.kind, RequestKind::kRestore);
  EXPECT_EQ(stored.snapshot_id, snapshot);  // the newest: no id was given
  EXPECT_TRUE(stored.device_id.empty());
  // The approval needs the link here.
  EXPECT_ERROR(core().requests.Approve(admin_.caller(), org_.id, id, std::nullopt),
               "request.invalid_field");
  auto link = ApproveWithLink(id);
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-b");  // not yet

  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  auto m = core().requests.RedeemVerify(id, link.token, *mailer_.LastCodeFor(bob_.email), kAddress);
  ASSERT_OK(m);
  EXPECT_EQ(m->kind, RequestKind::kRestore);
  ASSERT_TRUE(m->snapshot.has_value());
  EXPECT_EQ(m->snapshot->id, snapshot);
  auto part = core().restores.SnapshotPartWithTicket(m->ticket, 0, kAddress);
  ASSERT_OK(part);
  EXPECT_EQ(*part, store::Bytes(64, 1));
  EXPECT_ERROR(core().restores.SnapshotPartWithTicket(crypto::GenericKey::Random(), 0, kAddress),
               "recovery.invalid_ticket");
  // Guessing tickets from one address is capped; the member elsewhere is not
  // locked out.
  for (int i = 0; i < 20; ++i) {
    EXPECT_ERROR(
        core().restores.StageWithTicket(crypto::GenericKey::Random(), Staged(), "203.0.113.99"),
        "recovery.invalid_ticket");
  }
  EXPECT_ERROR(
      core().restores.StageWithTicket(crypto::GenericKey::Random(), Staged(), "203.0.113.99"),
      "request.rate_limited");
  EXPECT_ERROR(core().restores.StageWithTicket(m->ticket, Staged(), "203.0.113.99"),
               "request.rate_limited");
  ASSERT_OK(core().restores.StageWithTicket(m->ticket, Staged(), kAddress));

  RecoveryCompletion c = Completion(*m, link, id);
  // The count the client staged must be there.
  c.restore_items = 3;
  EXPECT_ERROR(core().requests.Complete(c), "restore.not_ready");
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-b");
  c.restore_items.reset();
  EXPECT_ERROR(core().requests.Complete(c), "request.invalid_field");
  c.restore_items = 2;
  ASSERT_OK(core().requests.Complete(c));
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-c");
  EXPECT_FALSE(IsSignedIn(bob_.session));
  EXPECT_EQ(Stored(id).status, RequestStatus::kLinkUsed);
  EXPECT_EQ(Events(org_, "restore.done").size(), 1u);
  // The ticket is spent: nothing more is read or staged with it.
  EXPECT_ERROR(core().restores.SnapshotPartWithTicket(m->ticket, 0, kAddress),
               "recovery.invalid_ticket");
}

// The link path's last step sets the password and rolls back in one
// transaction: the store failing at any step of it changes neither.
TEST_F(RestoreTest, AFailureAtAnyStepOfTheRedeemLeavesPasswordAndVaultAsTheyWere) {
  FillVault();
  (void)Push(bob_);
  const std::string id = AskByEmail();
  auto link = ApproveWithLink(id);
  ASSERT_OK(core().requests.RedeemStart(id, link.token, kAddress));
  auto m = core().requests.RedeemVerify(id, link.token, *mailer_.LastCodeFor(bob_.email), kAddress);
  ASSERT_OK(m);
  ASSERT_OK(core().restores.StageWithTicket(m->ticket, Staged(), kAddress));
  for (int64_t n = 1;; ++n) {
    RecoveryCompletion c = Completion(*m, link, id);
    c.restore_items = 2;
    failing_->FailAt(n);
    auto r = core().requests.Complete(c);
    failing_->FailAt(0);
    if (r) break;
    ASSERT_LT(n, 500) << "the completion never succeeded";
    EXPECT_EQ(Stored(id).status, RequestStatus::kApproved) << "step " << n;
    EXPECT_EQ(ItemsOf(bob_)[1].id, "item-b") << "step " << n;
    EXPECT_EQ(StagedCount(id), 2) << "step " << n;
    EXPECT_TRUE(IsSignedIn(bob_.session)) << "step " << n;
  }
  EXPECT_EQ(ItemsOf(bob_)[1].id, "item-c");
  EXPECT_FALSE(IsSignedIn(bob_.session));
  EXPECT_EQ(Stored(id).status, RequestStatus::kLinkUsed);
}

TEST_F(RestoreTest, StartingOverDropsEveryCloudSnapshot) {
  (void)Push(bob_);
  (void)Push(bob_);
  ASSERT_OK(core().restart.Ask(bob_.email, kAddress));
  core().WaitForBackgroundWork();
  auto code = mailer_.LastCodeFor(bob_.email);
  ASSERT_TRUE(code);
  auto ticket = core().restart.Verify(bob_.email, *code, kAddress);
  ASSERT_OK(ticket);
  RestartMaterial m;
  m.kdf = crypto::kTestKdf;
  m.salt = crypto::RandomBytes(crypto::kSaltSize);
  m.auth_key = KeyFrom(9);
  m.wrapped_vault_key = crypto::RandomBytes(72);
  m.public_key = crypto::RandomBytes(32);
  m.wrapped_private_key = crypto::RandomBytes(72);
  ASSERT_OK(core().restart.Complete(ticket->ticket.span(), m, kAddress));
  SignedIn again = SignIn(bob_.email, 9, "new-laptop");
  auto list = core().snapshots.List(again.caller);
  ASSERT_OK(list);
  EXPECT_TRUE(list->empty());
}

}  // namespace
}  // namespace keyward::core::testing
