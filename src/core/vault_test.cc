#include "core/vault.h"

#include <map>

#include "core/core_test_fixture.h"

namespace keyward::core::testing {
namespace {

constexpr char kAnn[] = "ann@example.com";

class VaultTest : public CoreTest {};

TEST_F(VaultTest, ItemLifecycleWithRevisions) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  auto created = core().items.Create(s.caller, "b-item", store::Bytes(60, 1));
  ASSERT_OK(created);
  EXPECT_EQ(created->revision, 1);
  ASSERT_OK(core().items.Create(s.caller, "a-item", store::Bytes(60, 2)));
  EXPECT_ERROR(core().items.Create(s.caller, "a-item", store::Bytes(60, 3)), "item.exists");
  auto list = core().items.List(s.caller);
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "a-item");

  clock_.Advance(5);
  auto updated = core().items.Update(s.caller, "b-item", 1, store::Bytes(60, 4));
  ASSERT_OK(updated);
  EXPECT_EQ(updated->revision, 2);
  EXPECT_EQ(updated->updated_at, clock_.NowUnix());
  EXPECT_ERROR(core().items.Update(s.caller, "b-item", 1, store::Bytes(60, 5)),
               "item.stale_revision");
  auto got = core().items.Get(s.caller, "b-item");
  ASSERT_OK(got);
  EXPECT_EQ(got->data, store::Bytes(60, 4));
  EXPECT_ERROR(core().items.Update(s.caller, "nope", 1, store::Bytes(60, 5)), "item.not_found");
  ASSERT_OK(core().items.Delete(s.caller, "b-item"));
  EXPECT_ERROR(core().items.Delete(s.caller, "b-item"), "item.not_found");
  EXPECT_ERROR(core().items.Get(s.caller, "b-item"), "item.not_found");
}

TEST_F(VaultTest, ItemsAreLimitedAndValidated) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  ASSERT_OK(core().items.Create(s.caller, "max", store::Bytes(64 * 1024, 1)));
  EXPECT_ERROR(core().items.Create(s.caller, "big", store::Bytes(64 * 1024 + 1, 1)),
               "item.too_large");
  EXPECT_ERROR(core().items.Create(s.caller, "empty", store::Bytes{}), "request.invalid_field");
  EXPECT_ERROR(core().items.Create(s.caller, "bad/id", store::Bytes(4, 1)),
               "request.invalid_field");
  EXPECT_ERROR(core().items.Create(s.caller, std::string(65, 'a'), store::Bytes(4, 1)),
               "request.invalid_field");
}

TEST_F(VaultTest, AccountsDoNotSeeEachOthersItems) {
  CreateAccount(kAnn);
  CreateAccount("bob@example.com", 2);
  auto ann = SignIn(kAnn);
  auto bob = SignIn("bob@example.com", 2);
  ASSERT_OK(core().items.Create(ann.caller, "x", store::Bytes(10, 1)));
  EXPECT_ERROR(core().items.Get(bob.caller, "x"), "item.not_found");
  EXPECT_ERROR(core().items.Delete(bob.caller, "x"), "item.not_found");
  ASSERT_OK(core().items.Create(bob.caller, "x", store::Bytes(10, 2)));
  EXPECT_EQ(core().items.Get(ann.caller, "x")->data, store::Bytes(10, 1));
}

TEST_F(VaultTest, DevicesAreListed) {
  CreateAccount(kAnn);
  auto laptop = SignIn(kAnn, 1, "laptop");
  clock_.Advance(10);
  SignIn(kAnn, 1, "phone");
  auto devices = core().devices.List(laptop.caller);
  ASSERT_OK(devices);
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].id, "laptop");
  EXPECT_EQ((*devices)[1].id, "phone");
  EXPECT_EQ((*devices)[1].first_seen, clock_.NowUnix());
  EXPECT_TRUE((*devices)[1].active);
  ASSERT_OK(core().devices.Deactivate(laptop.caller, "phone"));
  devices = core().devices.List(laptop.caller);
  ASSERT_OK(devices);
  EXPECT_FALSE((*devices)[1].active);
}

TEST_F(VaultTest, SweepRemovesDeadSessionsAndCodes) {
  CreateAccount(kAnn);
  auto a = SignIn(kAnn);
  auto b = SignIn(kAnn);
  ASSERT_OK(core().sessions.Logout(a.caller));
  ASSERT_OK(RegisterNow(MakeRegistration("bob@example.com")));
  ASSERT_OK(Sweep(core().context()));
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    auto sa = tx.FindSession(a.caller.token_hash);
    auto sb = tx.FindSession(b.caller.token_hash);
    auto code =
        tx.FindEmailCode(kRegisterPurpose, VerifyCodeSubject("bob@example.com", "192.0.2.1"));
    if (!sa || !sb || !code) return Fail(Internal());
    EXPECT_FALSE(sa->has_value());
    EXPECT_TRUE(sb->has_value());
    EXPECT_TRUE(code->has_value());
    return {};
  }));
  clock_.Advance(config_.session_ttl_seconds);
  ASSERT_OK(Sweep(core().context()));
  ASSERT_OK(store_->Read([&](store::Tx& tx) -> Status {
    auto sb = tx.FindSession(b.caller.token_hash);
    auto code =
        tx.FindEmailCode(kRegisterPurpose, VerifyCodeSubject("bob@example.com", "192.0.2.1"));
    if (!sb || !code) return Fail(Internal());
    EXPECT_FALSE(sb->has_value());
    EXPECT_FALSE(code->has_value());
    return {};
  }));
}

// A restore's changes land together or not at all.
TEST_F(VaultTest, ABatchAppliesWholeOrNotAtAll) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  ASSERT_OK(core().items.Create(s.caller, "keep", store::Bytes(60, 1)));
  ASSERT_OK(core().items.Create(s.caller, "edit", store::Bytes(60, 2)));
  ASSERT_OK(core().items.Create(s.caller, "drop", store::Bytes(60, 3)));
  auto listed = [&] {
    auto items = core().items.List(s.caller);
    EXPECT_OK(items);
    std::map<std::string, std::pair<int64_t, store::Bytes>> out;
    for (auto& i : items.value_or(std::vector<core::Item>{})) out[i.id] = {i.revision, i.data};
    return out;
  };
  const auto before = listed();
  // A stale revision at the end refuses the adds and deletes before it too.
  ItemBatch stale;
  stale.add = {{"new-1", store::Bytes(60, 4)}};
  stale.remove = {"drop"};
  stale.update = {{"edit", 7, store::Bytes(60, 5)}};
  EXPECT_ERROR(core().items.Apply(s.caller, stale), "item.stale_revision");
  EXPECT_EQ(listed(), before);
  ItemBatch exists;
  exists.add = {{"new-1", store::Bytes(60, 4)}, {"keep", store::Bytes(60, 4)}};
  EXPECT_ERROR(core().items.Apply(s.caller, exists), "item.exists");
  ItemBatch missing;
  missing.add = {{"new-1", store::Bytes(60, 4)}};
  missing.remove = {"never-was"};
  EXPECT_ERROR(core().items.Apply(s.caller, missing), "item.not_found");
  ItemBatch twice;
  twice.add = {{"new-1", store::Bytes(60, 4)}};
  twice.remove = {"new-1"};
  EXPECT_ERROR(core().items.Apply(s.caller, twice), "request.invalid_field");
  EXPECT_EQ(listed(), before);

  ItemBatch good;
  good.add = {{"new-1", store::Bytes(60, 4)}};
  good.update = {{"edit", 1, store::Bytes(60, 5)}};
  good.remove = {"drop"};
  ASSERT_OK(core().items.Apply(s.caller, good));
  auto after = listed();
  EXPECT_EQ(after.size(), 3u);
  EXPECT_EQ(after["new-1"].second, store::Bytes(60, 4));
  EXPECT_EQ(after["edit"].first, 2);
  EXPECT_FALSE(after.contains("drop"));
}

// The store failing at any step of a batch leaves the vault as it was.
TEST_F(VaultTest, ABatchInterruptedAtAnyStepChangesNothing) {
  CreateAccount(kAnn);
  auto s = SignIn(kAnn);
  ASSERT_OK(core().items.Create(s.caller, "edit", store::Bytes(60, 2)));
  ItemBatch batch;
  for (int i = 0; i < 5; ++i) batch.add.push_back({"n" + std::to_string(i), store::Bytes(60, 9)});
  batch.update = {{"edit", 1, store::Bytes(60, 5)}};
  for (int64_t n = 1;; ++n) {
    failing_->FailAt(n);
    auto r = core().items.Apply(s.caller, batch);
    failing_->FailAt(0);
    if (r) break;
    auto items = core().items.List(s.caller);
    ASSERT_OK(items);
    ASSERT_EQ(items->size(), 1u) << "failed at " << n;
    EXPECT_EQ((*items)[0].revision, 1) << "failed at " << n;
    ASSERT_LT(n, 50);
  }
  auto items = core().items.List(s.caller);
  ASSERT_OK(items);
  EXPECT_EQ(items->size(), 6u);
}

}  // namespace
}  // namespace keyward::core::testing
