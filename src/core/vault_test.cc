#include "core/vault.h"

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

}  // namespace
}  // namespace keyward::core::testing
