#include "core/events.h"

#include "core/org_test_fixture.h"

namespace keyward::core::testing {
namespace {

using protocol::Enrollment;

class EventsTest : public OrgTest {
 protected:
  EventsTest() : owner_(MakePerson("owner@example.com", 1)), org_(NewOrgOf(owner_)) {}

  Result<EventPage> List(const Person& p, EventQuery q = {}) {
    return core().events.List(p.caller(), org_.id, q);
  }

  Person owner_;
  TestOrg org_;
};

TEST(Rfc3339Test, ParsesUtcOffsetsAndFractions) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-21T21:14:00Z"), 1795295640);
  EXPECT_EQ(ParseRfc3339("2026-11-21t21:14:00z"), 1795295640);
  EXPECT_EQ(ParseRfc3339("2026-11-21T21:14:00.123456Z"), 1795295640);
  EXPECT_EQ(ParseRfc3339("2026-11-21T22:14:00+01:00"), 1795295640);
  EXPECT_EQ(ParseRfc3339("2026-11-21T20:44:00-00:30"), 1795295640);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), 1709164800);
  EXPECT_EQ(FormatRfc3339(*ParseRfc3339("2031-07-04T05:06:07Z")), "2031-07-04T05:06:07Z");
  for (const char* bad :
       {"", "2026-11-21", "2026-11-21T21:14:00", "2026-11-21 21:14:00Z", "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T21:14:00.Z",
        "2026-11-21T21:14:00+0100", "2026-11-21T21:14:00Zjunk", "yesterday", "1795295640"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST_F(EventsTest, RecoveryAdminsPageThroughTheLogWithFilters) {
  Person admin = Join(org_, owner_, "admin@example.com", 2, "admin");
  Person custom = Join(org_, owner_, "custom@example.com", 3, "custom", "manage_account_recovery");
  Person user = Join(org_, owner_, "user@example.com", 4, "user");
  const int64_t t0 = Now();
  clock_.Advance(100);
  ASSERT_OK(core().members.Grant(owner_.caller(), org_.id, admin.id, SomeGrant()));
  clock_.Advance(100);
  ASSERT_OK(
      core().members.ChangeRole(admin.caller(), org_.id, user.id, "custom", "", std::nullopt));

  EXPECT_ERROR(List(user), "org.forbidden");
  auto all = List(custom);
  ASSERT_OK(all);
  // org.created, 3 x (invited, joined), key.granted, member.role_changed
  ASSERT_EQ(all->events.size(), 9u);
  EXPECT_FALSE(all->next_after.has_value());
  for (size_t i = 0; i < all->events.size(); ++i) EXPECT_EQ(all->events[i].seq, i + 1);

  // Keyset pages of 4: 1-4, 5-8, 9.
  std::vector<uint64_t> seen;
  EventQuery q;
  q.limit = 4;
  int pages = 0;
  while (true) {
    auto page = List(admin, q);
    ASSERT_OK(page);
    ++pages;
    for (const auto& e : page->events) seen.push_back(e.seq);
    if (!page->next_after) break;
    EXPECT_EQ(*page->next_after, page->events.back().seq);
    q.after = *page->next_after;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // A page that ends exactly at the last event says so.
  q = {};
  q.after = 5;
  q.limit = 4;
  auto exact = List(admin, q);
  ASSERT_OK(exact);
  EXPECT_EQ(exact->events.size(), 4u);
  EXPECT_FALSE(exact->next_after.has_value());

  q = {};
  q.filter.type = "member.joined";
  auto joined = List(admin, q);
  ASSERT_OK(joined);
  EXPECT_EQ(joined->events.size(), 3u);
  q = {};
  q.filter.actor_id = admin.id;
  auto by_admin = List(admin, q);
  ASSERT_OK(by_admin);
  ASSERT_EQ(by_admin->events.size(), 2u);  // joined, role change
  EXPECT_EQ(by_admin->events[1].type, "member.role_changed");
  q = {};
  q.filter.target_id = admin.id;
  auto on_admin = List(admin, q);
  ASSERT_OK(on_admin);
  ASSERT_EQ(on_admin->events.size(), 2u);  // joined, granted
  EXPECT_EQ(on_admin->events[1].type, "key.granted");
  q = {};
  q.filter.since = t0 + 100;
  q.filter.until = t0 + 200;
  auto window = List(admin, q);
  ASSERT_OK(window);
  ASSERT_EQ(window->events.size(), 1u);
  EXPECT_EQ(window->events[0].type, "key.granted");

  q = {};
  q.limit = 0;
  EXPECT_ERROR(List(admin, q), "request.invalid_query");
  q.limit = 1001;
  EXPECT_ERROR(List(admin, q), "request.invalid_query");
  ExpectChainVerifies(org_);
}

// Account events go to every organization the account is an active member
// of, in the transaction of the change.
TEST_F(EventsTest, AccountEventsReachEveryOrganization) {
  TestOrg second = NewOrgOf(owner_, MakePolicy(Enrollment::kOptIn), "second");
  TestOrg third = NewOrgOf(owner_, MakePolicy(Enrollment::kOptIn), "third");
  Person bob = Join(org_, owner_, "bob@example.com", 2, "user");
  ASSERT_OK(core().members.Invite(owner_.caller(), second.id, {"bob@example.com", "user", ""}));
  ASSERT_OK(
      core().members.AcceptInvite(bob.caller(), InviteToken("bob@example.com"), std::nullopt));
  ASSERT_OK(core().members.Invite(owner_.caller(), third.id, {"bob@example.com", "user", ""}));
  ASSERT_OK(
      core().members.AcceptInvite(bob.caller(), InviteToken("bob@example.com"), std::nullopt));
  ASSERT_OK(core().members.Revoke(owner_.caller(), third.id, bob.id));  // not active: no events
  SignIn("bob@example.com", 2, "phone");
  const uint64_t seq1 = LastSeq(org_), seq2 = LastSeq(second), seq3 = LastSeq(third);

  // Two-step login on and off.
  auto begin = core().two_factor.Begin(bob.caller(), KeyFrom(2));
  ASSERT_OK(begin);
  auto secret = crypto::Base32Decode(begin->secret_base32).value();
  ASSERT_OK(core().two_factor.Confirm(bob.caller(), crypto::TotpCode(secret, Now())));
  ASSERT_OK(core().two_factor.Disable(bob.caller(), KeyFrom(2)));
  ASSERT_OK(core().two_factor.Disable(bob.caller(), KeyFrom(2)));  // was off: nothing to log
  // A device removed.
  ASSERT_OK(core().devices.Deactivate(bob.caller(), "phone"));

  const std::vector<std::string> expected = {"account.two_factor_enabled",
                                             "account.two_factor_disabled", "device.removed"};
  EXPECT_EQ(EventTypes(org_, seq1), expected);
  EXPECT_EQ(EventTypes(second, seq2), expected);
  EXPECT_EQ(EventTypes(third, seq3), std::vector<std::string>{});
  auto removed = Events(org_, "device.removed");
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].actor_id, bob.id);
  EXPECT_EQ(removed[0].target_id, bob.id);
  EXPECT_EQ(removed[0].device_id, "laptop");
  EXPECT_EQ(removed[0].details.at("device_id"), "phone");

  // Deletion: logged before the memberships go; the events stay.
  ASSERT_OK(core().accounts.Delete(bob.caller(), KeyFrom(2)));
  EXPECT_EQ(EventTypes(org_, seq1 + 3), std::vector<std::string>{"account.deleted"});
  EXPECT_EQ(EventTypes(second, seq2 + 3), std::vector<std::string>{"account.deleted"});
  EXPECT_EQ(EventTypes(third, seq3), std::vector<std::string>{});
  EXPECT_EQ(Events(org_, "account.deleted")[0].target_id, bob.id);
  EXPECT_FALSE(StoredMember(org_, bob));
  EXPECT_EQ(Events(org_, "device.removed").size(), 1u);
  ExpectChainVerifies(org_);
  ExpectChainVerifies(second);
  ExpectChainVerifies(third);
}

TEST_F(EventsTest, AFailedAccountChangeLogsNothing) {
  Person bob = Join(org_, owner_, "bob@example.com", 2, "user");
  SignIn("bob@example.com", 2, "phone");
  failing_->FailAt(0);
  ASSERT_OK(core().devices.Deactivate(bob.caller(), "phone"));
  const int64_t operations = failing_->Operations();
  SignIn("bob@example.com", 2, "tablet");
  const uint64_t before = LastSeq(org_);
  for (int64_t n = 1; n <= operations; ++n) {
    failing_->FailAt(n);
    EXPECT_FALSE(core().devices.Deactivate(bob.caller(), "tablet").has_value()) << n;
    failing_->FailAt(0);
    EXPECT_EQ(LastSeq(org_), before) << n;
  }
}

}  // namespace
}  // namespace keyward::core::testing
