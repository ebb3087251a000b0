#include "store/store_contract_test.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace keyward::store::testing {
namespace {

constexpr int64_t kNow = 1'790'000'000;

Account MakeAccount(std::string id, std::string email) {
  Account a;
  a.id = std::move(id);
  a.email = std::move(email);
  a.kdf_ops = 3;
  a.kdf_mem = 64ull << 20;
  a.salt = Bytes(16, 1);
  a.verifier = Bytes(32, 2);
  a.wrapped_vault_key = Bytes(72, 3);
  a.public_key = Bytes(32, 4);
  a.wrapped_private_key = Bytes(72, 5);
  a.created_at = kNow;
  return a;
}

Device MakeDevice(std::string account_id, std::string id) {
  return Device{std::move(account_id), std::move(id), "laptop", "cli", kNow, kNow, true};
}

Session MakeSession(uint8_t tag, std::string account_id, std::string device_id) {
  return Session{Bytes(32, tag), std::move(account_id), std::move(device_id),
                 kNow,           kNow + 3600,           false};
}

// Runs fn in a write transaction and expects it to succeed.
void Write(Store& store, const std::function<Status(Tx&)>& fn) {
  auto s = store.Transact(fn);
  ASSERT_TRUE(s.has_value()) << s.error().code() << ": " << s.error().message();
}

TEST_P(StoreContractTest, SchemaVersionIsPositive) {
  auto v = store().SchemaVersion();
  ASSERT_OK(v);
  EXPECT_GE(*v, 1);
}

TEST_P(StoreContractTest, AccountRoundTrip) {
  Account a = MakeAccount("acct1", "ann@example.com");
  a.totp_secret_sealed = Bytes{9, 9, 9};
  a.totp_last_step = 42;
  a.must_change_password = true;
  Write(store(), [&](Tx& tx) { return tx.InsertAccount(a); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto found = tx.FindAccountById("acct1");
    if (!found) return Fail(found.error());
    EXPECT_TRUE(found->has_value());
    if (!*found) return {};
    const Account& b = **found;
    EXPECT_EQ(b.email, a.email);
    EXPECT_EQ(b.kdf_ops, a.kdf_ops);
    EXPECT_EQ(b.kdf_mem, a.kdf_mem);
    EXPECT_EQ(b.salt, a.salt);
    EXPECT_EQ(b.verifier, a.verifier);
    EXPECT_EQ(b.wrapped_vault_key, a.wrapped_vault_key);
    EXPECT_EQ(b.public_key, a.public_key);
    EXPECT_EQ(b.wrapped_private_key, a.wrapped_private_key);
    EXPECT_FALSE(b.verified);
    EXPECT_EQ(b.created_at, kNow);
    EXPECT_EQ(b.totp_secret_sealed, a.totp_secret_sealed);
    EXPECT_FALSE(b.totp_enabled);
    EXPECT_EQ(b.totp_last_step, 42);
    EXPECT_TRUE(b.must_change_password);
    auto by_email = tx.FindAccountByEmail("ann@example.com");
    if (!by_email) return Fail(by_email.error());
    EXPECT_TRUE(by_email->has_value() && (*by_email)->must_change_password);
    return {};
  }));
}

TEST_P(StoreContractTest, EmailIsUniqueCaseInsensitively) {
  Write(store(), [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a1", "ann@example.com")); });
  auto s = store().Transact(
      [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a2", "ANN@Example.com")); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), "store.conflict");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto found = tx.FindAccountByEmail("Ann@EXAMPLE.com");
    if (!found) return Fail(found.error());
    EXPECT_TRUE(found->has_value());
    if (*found) {
      EXPECT_EQ((*found)->id, "a1");
    }
    auto none = tx.FindAccountByEmail("bob@example.com");
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    return {};
  }));
}

TEST_P(StoreContractTest, AccountIdIsUnique) {
  Write(store(), [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a1", "ann@example.com")); });
  auto s = store().Transact(
      [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a1", "bob@example.com")); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), "store.conflict");
}

TEST_P(StoreContractTest, UpdateAccount) {
  Write(store(), [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a1", "ann@example.com")); });
  Write(store(), [&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    Account b = **a;
    b.verified = true;
    b.verifier = Bytes(32, 7);
    b.totp_enabled = true;
    b.totp_secret_sealed = Bytes{1, 2};
    b.must_change_password = true;
    return tx.UpdateAccount(b);
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    EXPECT_TRUE((*a)->verified);
    EXPECT_EQ((*a)->verifier, Bytes(32, 7));
    EXPECT_TRUE((*a)->totp_enabled);
    EXPECT_TRUE((*a)->must_change_password);
    return {};
  }));
  // And back: the flag is written, not only ever set.
  Write(store(), [&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    Account b = **a;
    b.must_change_password = false;
    return tx.UpdateAccount(b);
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    EXPECT_FALSE((*a)->must_change_password);
    return {};
  }));
  auto missing = store().Transact(
      [&](Tx& tx) { return tx.UpdateAccount(MakeAccount("nope", "x@example.com")); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), "store.not_found");
}

TEST_P(StoreContractTest, EmailCodes) {
  EmailCode c{"register", "ann@example.com", "", Bytes(16, 1), Bytes(32, 2), kNow + 600, 0, false,
              kNow};
  Write(store(), [&](Tx& tx) { return tx.PutEmailCode(c); });
  Write(store(), [&](Tx& tx) -> Status {
    auto found = tx.FindEmailCode("register", "ann@example.com");
    if (!found) return Fail(found.error());
    EXPECT_TRUE(found->has_value());
    EmailCode d = **found;
    EXPECT_EQ(d.challenge, c.challenge);
    EXPECT_EQ(d.code_hash, c.code_hash);
    EXPECT_EQ(d.expires_at, c.expires_at);
    EXPECT_EQ(d.account_id, "");
    d.attempts = 3;
    d.used = true;
    return tx.UpdateEmailCode(d);
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto found = tx.FindEmailCode("register", "ann@example.com");
    if (!found) return Fail(found.error());
    EXPECT_EQ((*found)->attempts, 3);
    EXPECT_TRUE((*found)->used);
    auto other = tx.FindEmailCode("recovery", "ann@example.com");
    if (!other) return Fail(other.error());
    EXPECT_FALSE(other->has_value());
    return {};
  }));
  // A new code for the same purpose and subject replaces the old one.
  EmailCode fresh = c;
  fresh.code_hash = Bytes(32, 9);
  Write(store(), [&](Tx& tx) { return tx.PutEmailCode(fresh); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto found = tx.FindEmailCode("register", "ann@example.com");
    if (!found) return Fail(found.error());
    EXPECT_EQ((*found)->code_hash, Bytes(32, 9));
    EXPECT_EQ((*found)->attempts, 0);
    EXPECT_FALSE((*found)->used);
    return {};
  }));
  EmailCode later = c;
  later.subject = "bob@example.com";
  later.expires_at = kNow + 6000;
  Write(store(), [&](Tx& tx) { return tx.PutEmailCode(later); });
  Write(store(), [&](Tx& tx) -> Status {
    auto n = tx.DeleteExpiredEmailCodes(kNow + 601);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 1);
    return tx.DeleteEmailCode("register", "bob@example.com");
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a = tx.FindEmailCode("register", "ann@example.com");
    auto b = tx.FindEmailCode("register", "bob@example.com");
    if (!a || !b) return Fail(StoreError("test"));
    EXPECT_FALSE(a->has_value());
    EXPECT_FALSE(b->has_value());
    return {};
  }));
}

TEST_P(StoreContractTest, DevicesAndSessions) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.UpsertDevice(MakeDevice("a1", "dev-b")));
    KW_TRY(tx.UpsertDevice(MakeDevice("a1", "dev-a")));
    KW_TRY(tx.InsertSession(MakeSession(1, "a1", "dev-a")));
    KW_TRY(tx.InsertSession(MakeSession(2, "a1", "dev-a")));
    return tx.InsertSession(MakeSession(3, "a1", "dev-b"));
  });
  // A session needs an existing device.
  auto orphan =
      store().Transact([&](Tx& tx) { return tx.InsertSession(MakeSession(4, "a1", "nope")); });
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code(), "store.not_found");
  auto dup =
      store().Transact([&](Tx& tx) { return tx.InsertSession(MakeSession(1, "a1", "dev-b")); });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), "store.conflict");

  Write(store(), [&](Tx& tx) -> Status {
    auto devices = tx.ListDevices("a1");
    if (!devices) return Fail(devices.error());
    EXPECT_EQ(devices->size(), 2u);
    if (devices->size() == 2) {
      EXPECT_EQ((*devices)[0].id, "dev-a");
      EXPECT_EQ((*devices)[1].id, "dev-b");
    }
    Device d = MakeDevice("a1", "dev-b");
    d.active = false;
    d.name = "old phone";
    d.last_seen = kNow + 5;
    KW_TRY(tx.UpsertDevice(d));
    auto n = tx.RevokeDeviceSessions("a1", "dev-b");
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 1);
    return {};
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto d = tx.FindDevice("a1", "dev-b");
    if (!d) return Fail(d.error());
    EXPECT_FALSE((*d)->active);
    EXPECT_EQ((*d)->name, "old phone");
    EXPECT_EQ((*d)->last_seen, kNow + 5);
    auto s3 = tx.FindSession(Bytes(32, 3));
    if (!s3) return Fail(s3.error());
    EXPECT_TRUE((*s3)->revoked);
    auto s1 = tx.FindSession(Bytes(32, 1));
    if (!s1) return Fail(s1.error());
    EXPECT_FALSE((*s1)->revoked);
    EXPECT_EQ((*s1)->device_id, "dev-a");
    EXPECT_EQ((*s1)->expires_at, kNow + 3600);
    auto none = tx.FindSession(Bytes(32, 99));
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    // The session with its device and account, in one query.
    auto c1 = tx.FindSessionCaller(Bytes(32, 1));
    if (!c1) return Fail(c1.error());
    EXPECT_TRUE(c1->has_value());
    if (c1->has_value()) {
      EXPECT_EQ((*c1)->session.account_id, "a1");
      EXPECT_EQ((*c1)->session.device_id, "dev-a");
      EXPECT_EQ((*c1)->session.expires_at, kNow + 3600);
      EXPECT_FALSE((*c1)->session.revoked);
      EXPECT_TRUE((*c1)->device_active);
      EXPECT_FALSE((*c1)->must_change_password);
    }
    auto c3 = tx.FindSessionCaller(Bytes(32, 3));
    if (!c3) return Fail(c3.error());
    EXPECT_TRUE(c3->has_value() && (*c3)->session.revoked && !(*c3)->device_active);
    auto no_caller = tx.FindSessionCaller(Bytes(32, 99));
    if (!no_caller) return Fail(no_caller.error());
    EXPECT_FALSE(no_caller->has_value());
    return {};
  }));
  // Revoke all but session 1, then session 1 itself.
  Write(store(), [&](Tx& tx) -> Status {
    auto n = tx.RevokeAccountSessions("a1", Bytes(32, 1));
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 1);  // session 2 (3 was already revoked)
    return tx.RevokeSession(Bytes(32, 1));
  });
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSession(MakeSession(5, "a1", "dev-a")));
    auto n = tx.DeleteDeadSessions(kNow);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 3);
    auto s5 = tx.FindSession(Bytes(32, 5));
    if (!s5) return Fail(s5.error());
    EXPECT_TRUE(s5->has_value());
    auto expired = tx.DeleteDeadSessions(kNow + 3600);
    if (!expired) return Fail(expired.error());
    EXPECT_EQ(*expired, 1);
    return {};
  });
}

TEST_P(StoreContractTest, ItemsAndRevisions) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertItem(Item{"a1", "zeta", 1, Bytes{1}, kNow, kNow}));
    return tx.InsertItem(Item{"a1", "alpha", 1, Bytes{2}, kNow, kNow});
  });
  auto dup = store().Transact([&](Tx& tx) {
    return tx.InsertItem(Item{"a1", "zeta", 1, Bytes{3}, kNow, kNow});
  });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), "store.conflict");
  auto no_account = store().Transact([&](Tx& tx) {
    return tx.InsertItem(Item{"ghost", "x", 1, Bytes{3}, kNow, kNow});
  });
  ASSERT_FALSE(no_account);
  EXPECT_EQ(no_account.error().code(), "store.not_found");

  Write(store(), [&](Tx& tx) -> Status {
    auto updated = tx.UpdateItem("a1", "zeta", 1, Bytes{7, 7}, kNow + 10);
    if (!updated) return Fail(updated.error());
    EXPECT_EQ(updated->revision, 2);
    EXPECT_EQ(updated->data, (Bytes{7, 7}));
    EXPECT_EQ(updated->created_at, kNow);
    EXPECT_EQ(updated->updated_at, kNow + 10);
    return {};
  });
  auto stale = store().Transact(
      [&](Tx& tx) -> Status { return Discard(tx.UpdateItem("a1", "zeta", 1, Bytes{8}, kNow)); });
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), "store.stale");
  auto missing = store().Transact(
      [&](Tx& tx) -> Status { return Discard(tx.UpdateItem("a1", "nope", 1, Bytes{8}, kNow)); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), "store.not_found");

  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto items = tx.ListItems("a1");
    if (!items) return Fail(items.error());
    EXPECT_EQ(items->size(), 2u);
    if (items->size() == 2) {
      EXPECT_EQ((*items)[0].id, "alpha");
      EXPECT_EQ((*items)[1].id, "zeta");
      EXPECT_EQ((*items)[1].revision, 2);
    }
    auto other = tx.ListItems("someone-else");
    if (!other) return Fail(other.error());
    EXPECT_TRUE(other->empty());
    return {};
  }));
  Write(store(), [&](Tx& tx) { return tx.DeleteItem("a1", "alpha"); });
  auto again = store().Transact([&](Tx& tx) { return tx.DeleteItem("a1", "alpha"); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), "store.not_found");
}

TEST_P(StoreContractTest, RecoveryCodesWorkOnce) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    return tx.ReplaceRecoveryCodes("a1", {Bytes(32, 1), Bytes(32, 2)});
  });
  int64_t first_id = 0;
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto codes = tx.ListRecoveryCodes("a1");
    if (!codes) return Fail(codes.error());
    EXPECT_EQ(codes->size(), 2u);
    if (!codes->empty()) first_id = (*codes)[0].id;
    return {};
  }));
  Write(store(), [&](Tx& tx) { return tx.MarkRecoveryCodeUsed("a1", first_id); });
  auto twice = store().Transact([&](Tx& tx) { return tx.MarkRecoveryCodeUsed("a1", first_id); });
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), "store.conflict");
  auto absent = store().Transact([&](Tx& tx) { return tx.MarkRecoveryCodeUsed("a1", 987654); });
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code(), "store.not_found");
  Write(store(), [&](Tx& tx) { return tx.ReplaceRecoveryCodes("a1", {Bytes(32, 3)}); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto codes = tx.ListRecoveryCodes("a1");
    if (!codes) return Fail(codes.error());
    EXPECT_EQ(codes->size(), 1u);
    if (!codes->empty()) {
      EXPECT_EQ((*codes)[0].code_hash, Bytes(32, 3));
      EXPECT_FALSE((*codes)[0].used);
    }
    return {};
  }));
}

TEST_P(StoreContractTest, RateLimitWindows) {
  Write(store(), [&](Tx& tx) -> Status {
    for (int i = 1; i <= 3; ++i) {
      auto n = tx.HitRateLimit("k", kNow + i, 60);
      if (!n) return Fail(n.error());
      EXPECT_EQ(*n, i);
    }
    auto peek = tx.PeekRateLimit("k", kNow + 59, 60);
    if (!peek) return Fail(peek.error());
    EXPECT_EQ(*peek, 3);
    auto elapsed = tx.PeekRateLimit("k", kNow + 61, 60);
    if (!elapsed) return Fail(elapsed.error());
    EXPECT_EQ(*elapsed, 0);
    // The window started at kNow + 1 and restarts once it has elapsed.
    auto restarted = tx.HitRateLimit("k", kNow + 61, 60);
    if (!restarted) return Fail(restarted.error());
    EXPECT_EQ(*restarted, 1);
    auto other = tx.PeekRateLimit("other", kNow, 60);
    if (!other) return Fail(other.error());
    EXPECT_EQ(*other, 0);
    return {};
  });
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.ClearRateLimit("k"));
    auto peek = tx.PeekRateLimit("k", kNow + 62, 60);
    if (!peek) return Fail(peek.error());
    EXPECT_EQ(*peek, 0);
    KW_TRY(tx.HitRateLimit("old", kNow, 60));
    KW_TRY(tx.HitRateLimit("new", kNow + 100, 60));
    auto n = tx.DeleteRateLimitsBefore(kNow + 50);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 1);
    return {};
  });
}

TEST_P(StoreContractTest, FailedTransactionWritesNothing) {
  auto s = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.UpsertDevice(MakeDevice("a1", "d1")));
    KW_TRY(tx.HitRateLimit("k", kNow, 60));
    return Fail(Error::Internal("test.abort", "abort"));
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), "test.abort");
  // A failing operation inside also rolls back what came before it.
  auto s2 = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    return tx.InsertAccount(MakeAccount("a3", "BOB@example.com"));
  });
  ASSERT_FALSE(s2);
  EXPECT_EQ(s2.error().code(), "store.conflict");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    for (const char* id : {"a1", "a2", "a3"}) {
      auto a = tx.FindAccountById(id);
      if (!a) return Fail(a.error());
      EXPECT_FALSE(a->has_value()) << id;
    }
    auto n = tx.PeekRateLimit("k", kNow, 60);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 0);
    return {};
  }));
}

TEST_P(StoreContractTest, ReadTransactionRefusesWrites) {
  auto s = store().Read([&](Tx& tx) { return tx.InsertAccount(MakeAccount("a1", "a@b.c")); });
  ASSERT_FALSE(s);
  Write(store(), [&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    EXPECT_FALSE(a->has_value());
    return {};
  });
}

TEST_P(StoreContractTest, DeleteAccountCascades) {
  Write(store(), [&](Tx& tx) -> Status {
    for (const char* id : {"a1", "a2"}) {
      std::string email = std::string(id) + "@example.com";
      KW_TRY(tx.InsertAccount(MakeAccount(id, email)));
      KW_TRY(tx.UpsertDevice(MakeDevice(id, "d")));
      KW_TRY(tx.InsertSession(MakeSession(id == std::string("a1") ? 1 : 2, id, "d")));
      KW_TRY(tx.InsertItem(Item{id, "i", 1, Bytes{1}, kNow, kNow}));
      KW_TRY(tx.ReplaceRecoveryCodes(id, {Bytes(32, 1)}));
      KW_TRY(tx.PutEmailCode(
          EmailCode{"register", email, id, Bytes(16, 1), Bytes(32, 1), kNow + 60, 0, false, kNow}));
    }
    return {};
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a1"); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    auto d = tx.ListDevices("a1");
    auto s = tx.FindSession(Bytes(32, 1));
    auto i = tx.ListItems("a1");
    auto r = tx.ListRecoveryCodes("a1");
    auto c = tx.FindEmailCode("register", "a1@example.com");
    if (!a || !d || !s || !i || !r || !c) return Fail(StoreError("test"));
    EXPECT_FALSE(a->has_value());
    EXPECT_TRUE(d->empty());
    EXPECT_FALSE(s->has_value());
    EXPECT_TRUE(i->empty());
    EXPECT_TRUE(r->empty());
    EXPECT_FALSE(c->has_value());
    // The other account is untouched.
    auto a2 = tx.FindAccountById("a2");
    auto i2 = tx.ListItems("a2");
    auto s2 = tx.FindSession(Bytes(32, 2));
    if (!a2 || !i2 || !s2) return Fail(StoreError("test"));
    EXPECT_TRUE(a2->has_value());
    EXPECT_EQ(i2->size(), 1u);
    EXPECT_TRUE(s2->has_value());
    return {};
  }));
  // The email is free again.
  Write(store(), [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a3", "a1@example.com")); });
  auto gone = store().Transact([&](Tx& tx) { return tx.DeleteAccount("a1"); });
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), "store.not_found");
}

TEST_P(StoreContractTest, ConcurrentRateLimitHitsAreExact) {
  constexpr int kThreads = 4;
  constexpr int kHits = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kHits; ++i) {
        auto s = store().Transact([&](Tx& tx) -> Status {
          auto n = tx.HitRateLimit("shared", kNow, 3600);
          if (!n) return Fail(n.error());
          return {};
        });
        if (!s) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto n = tx.PeekRateLimit("shared", kNow, 3600);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, kThreads * kHits);
    return {};
  }));
}

TEST_P(StoreContractTest, ConcurrentItemUpdatesHaveOneWinnerPerRevision) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    return tx.InsertItem(Item{"a1", "i", 1, Bytes{0}, kNow, kNow});
  });
  constexpr int kThreads = 4;
  std::atomic<int> winners{0};
  std::atomic<int> stale{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto s = store().Transact([&](Tx& tx) -> Status {
        return Discard(tx.UpdateItem("a1", "i", 1, Bytes{static_cast<uint8_t>(t)}, kNow));
      });
      if (s) {
        ++winners;
      } else if (s.error().code() == "store.stale") {
        ++stale;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(stale.load(), kThreads - 1);
}

// ---- organizations ----

Org MakeOrg(std::string id, std::string created_by) {
  Org o;
  o.id = std::move(id);
  o.name = "Acme";
  o.created_at = kNow;
  o.created_by = std::move(created_by);
  return o;
}

OrgMember MakeMember(std::string org_id, std::string account_id, std::string role,
                     int64_t joined_at) {
  OrgMember m;
  m.org_id = std::move(org_id);
  m.account_id = std::move(account_id);
  m.role = std::move(role);
  m.status = MemberStatus::kActive;
  m.joined_at = joined_at;
  return m;
}

OrgInvite MakeInvite(std::string id, std::string org_id, uint8_t tag, int64_t expires_at) {
  OrgInvite i;
  i.id = std::move(id);
  i.org_id = std::move(org_id);
  i.email = "new@example.com";
  i.role = "custom";
  i.permissions = "manage_account_recovery";
  i.token_hash = Bytes(32, tag);
  i.created_by = "a1";
  i.created_at = kNow;
  i.expires_at = expires_at;
  return i;
}

OrgEvent MakeEvent(std::string org_id, uint64_t seq, std::string actor_id = "a1") {
  OrgEvent e;
  e.seq = seq;
  e.org_id = std::move(org_id);
  e.type = "org.role_changed";
  e.actor_id = std::move(actor_id);
  e.target_id = "a2";
  e.device_id = "d1";
  e.time = kNow + static_cast<int64_t>(seq);
  e.details = {{"role", "admin"}, {"seq", std::to_string(seq)}};
  e.hash = Bytes(32, static_cast<uint8_t>(seq));
  return e;
}

// Accounts a1..a3 and the organization "o1" created by a1.
void SeedOrg(Store& store) {
  Write(store, [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a3", "cat@example.com")));
    return tx.CreateOrg(MakeOrg("o1", "a1"));
  });
}

TEST_P(StoreContractTest, OrgIdIsUnique) {
  SeedOrg(store());
  auto dup = store().Transact([&](Tx& tx) { return tx.CreateOrg(MakeOrg("o1", "a2")); });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), "store.conflict");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto found = tx.FindOrg("o1");
    if (!found) return Fail(found.error());
    EXPECT_TRUE(found->has_value());
    if (*found) {
      EXPECT_EQ((*found)->name, "Acme");
      EXPECT_EQ((*found)->created_at, kNow);
      EXPECT_EQ((*found)->created_by, "a1");
    }
    auto none = tx.FindOrg("o2");
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    return {};
  }));
}

TEST_P(StoreContractTest, Members) {
  SeedOrg(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a2")));
    // Same joined_at for a3 and a2: the account id breaks the tie.
    KW_TRY(tx.InsertMember(MakeMember("o1", "a3", "user", kNow + 5)));
    KW_TRY(tx.InsertMember(MakeMember("o1", "a1", "owner", kNow)));
    KW_TRY(tx.InsertMember(MakeMember("o1", "a2", "admin", kNow + 5)));
    return tx.InsertMember(MakeMember("o2", "a2", "owner", kNow));
  });
  for (auto [org, account, code] :
       {std::tuple{"o1", "a1", "store.conflict"}, std::tuple{"o1", "zz", "store.not_found"},
        std::tuple{"zz", "a1", "store.not_found"}}) {
    auto s = store().Transact(
        [&](Tx& tx) { return tx.InsertMember(MakeMember(org, account, "user", kNow)); });
    ASSERT_FALSE(s) << org << "/" << account;
    EXPECT_EQ(s.error().code(), code) << org << "/" << account;
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto members = tx.ListMembers("o1");
    if (!members) return Fail(members.error());
    EXPECT_EQ(members->size(), 3u);
    if (members->size() == 3) {
      EXPECT_EQ((*members)[0].account_id, "a1");
      EXPECT_EQ((*members)[1].account_id, "a2");
      EXPECT_EQ((*members)[2].account_id, "a3");
    }
    auto accounts = tx.ListMemberAccounts("o1");
    if (!accounts) return Fail(accounts.error());
    std::map<std::string, std::string> email_of;
    for (const auto& m : *accounts) {
      email_of[m.account_id] = m.email;
      EXPECT_EQ(m.public_key, Bytes(32, 4)) << m.account_id;
    }
    EXPECT_EQ(email_of, (std::map<std::string, std::string>{{"a1", "ann@example.com"},
                                                            {"a2", "bob@example.com"},
                                                            {"a3", "cat@example.com"}}));
    auto none = tx.ListMemberAccounts("zz");
    if (!none) return Fail(none.error());
    EXPECT_TRUE(none->empty());
    auto owners = tx.CountOwners("o1");
    if (!owners) return Fail(owners.error());
    EXPECT_EQ(*owners, 1);
    auto orgs = tx.ListOrgsOfAccount("a2");
    if (!orgs) return Fail(orgs.error());
    EXPECT_EQ(orgs->size(), 2u);
    if (orgs->size() == 2) {
      EXPECT_EQ((*orgs)[0].org_id, "o1");
      EXPECT_EQ((*orgs)[0].role, "admin");
      EXPECT_EQ((*orgs)[1].org_id, "o2");
      EXPECT_EQ((*orgs)[1].role, "owner");
    }
    return {};
  }));

  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.UpdateMemberRole("o1", "a3", "custom", "manage_account_recovery"));
    KW_TRY(tx.UpdateMemberRole("o1", "a2", "owner", ""));
    return tx.SetMemberStatus("o1", "a1", MemberStatus::kRevoked);
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto m = tx.FindMember("o1", "a3");
    if (!m) return Fail(m.error());
    EXPECT_TRUE(m->has_value());
    if (*m) {
      EXPECT_EQ((*m)->role, "custom");
      EXPECT_EQ((*m)->permissions, "manage_account_recovery");
      EXPECT_EQ((*m)->status, MemberStatus::kActive);
      EXPECT_EQ((*m)->joined_at, kNow + 5);
    }
    auto a1 = tx.FindMember("o1", "a1");
    if (!a1) return Fail(a1.error());
    EXPECT_TRUE(a1->has_value() && (*a1)->status == MemberStatus::kRevoked);
    // a1 is a revoked owner, a2 an active one.
    auto owners = tx.CountOwners("o1");
    if (!owners) return Fail(owners.error());
    EXPECT_EQ(*owners, 1);
    auto none = tx.FindMember("o2", "a1");
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    return {};
  }));

  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.SetMemberStatus("o1", "a1", MemberStatus::kActive));
    return tx.DeleteMember("o1", "a3");
  });
  for (int op = 0; op < 3; ++op) {
    auto s = store().Transact([&](Tx& tx) -> Status {
      if (op == 0) return tx.UpdateMemberRole("o1", "a3", "user", "");
      if (op == 1) return tx.SetMemberStatus("o1", "a3", MemberStatus::kRevoked);
      return tx.DeleteMember("o1", "a3");
    });
    ASSERT_FALSE(s) << op;
    EXPECT_EQ(s.error().code(), "store.not_found") << op;
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto owners = tx.CountOwners("o1");
    if (!owners) return Fail(owners.error());
    EXPECT_EQ(*owners, 2);
    auto members = tx.ListMembers("o1");
    if (!members) return Fail(members.error());
    EXPECT_EQ(members->size(), 2u);
    auto empty = tx.CountOwners("zz");
    if (!empty) return Fail(empty.error());
    EXPECT_EQ(*empty, 0);
    return {};
  }));
}

TEST_P(StoreContractTest, InvitesWorkOnce) {
  SeedOrg(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertInvite(MakeInvite("i1", "o1", 1, kNow + 100)));
    return tx.InsertInvite(MakeInvite("i2", "o1", 2, kNow + 200));
  });
  for (auto invite : {MakeInvite("i1", "o1", 9, kNow), MakeInvite("i9", "o1", 1, kNow)}) {
    auto s = store().Transact([&](Tx& tx) { return tx.InsertInvite(invite); });
    ASSERT_FALSE(s) << invite.id;
    EXPECT_EQ(s.error().code(), "store.conflict") << invite.id;
  }
  auto no_org = store().Transact(
      [&](Tx& tx) { return tx.InsertInvite(MakeInvite("i9", "zz", 9, kNow + 100)); });
  ASSERT_FALSE(no_org);
  EXPECT_EQ(no_org.error().code(), "store.not_found");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto found = tx.FindInviteByTokenHash(Bytes(32, 1));
    if (!found) return Fail(found.error());
    EXPECT_TRUE(found->has_value());
    if (*found) {
      OrgInvite want = MakeInvite("i1", "o1", 1, kNow + 100);
      const OrgInvite& got = **found;
      EXPECT_EQ(got.id, want.id);
      EXPECT_EQ(got.org_id, want.org_id);
      EXPECT_EQ(got.email, want.email);
      EXPECT_EQ(got.role, want.role);
      EXPECT_EQ(got.permissions, want.permissions);
      EXPECT_EQ(got.token_hash, want.token_hash);
      EXPECT_EQ(got.created_by, want.created_by);
      EXPECT_EQ(got.created_at, want.created_at);
      EXPECT_EQ(got.expires_at, want.expires_at);
      EXPECT_FALSE(got.accepted_at.has_value());
    }
    auto none = tx.FindInviteByTokenHash(Bytes(32, 7));
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    return {};
  }));

  // Four joins race for one invite: exactly one wins.
  constexpr int kThreads = 4;
  std::atomic<int> winners{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto s = store().Transact([&](Tx& tx) { return tx.MarkInviteAccepted("i1", kNow + t); });
      if (s) {
        ++winners;
      } else if (s.error().code() == "store.conflict") {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  auto unknown = store().Transact([&](Tx& tx) { return tx.MarkInviteAccepted("zz", kNow); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), "store.not_found");

  ASSERT_OK(store().Transact([&](Tx& tx) -> Status {
    auto found = tx.FindInviteByTokenHash(Bytes(32, 1));
    if (!found) return Fail(found.error());
    EXPECT_TRUE(found->has_value() && (*found)->accepted_at.has_value());
    // Expired before kNow + 150: i1 (accepted) only.
    auto n = tx.DeleteExpiredInvites(kNow + 150);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 1);
    auto gone = tx.FindInviteByTokenHash(Bytes(32, 1));
    if (!gone) return Fail(gone.error());
    EXPECT_FALSE(gone->has_value());
    auto kept = tx.FindInviteByTokenHash(Bytes(32, 2));
    if (!kept) return Fail(kept.error());
    EXPECT_TRUE(kept->has_value());
    return {};
  }));
}

TEST_P(StoreContractTest, EventsRefuseGapsAndDuplicates) {
  SeedOrg(store());
  OrgEvent first = MakeEvent("o1", 1);
  // Details survive the trip byte for byte, whatever their characters.
  first.details = {{"a.b_c", "quote \" backslash \\ slash / tab \t nul-free"},
                   {"empty", ""},
                   {"unicode", "caf\xc3\xa9 \xe2\x9c\x93"}};
  first.actor_id = "";  // the server itself
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    KW_TRY(tx.AppendEvent(first));
    KW_TRY(tx.AppendEvent(MakeEvent("o1", 2)));
    // Every organization has its own sequence.
    return tx.AppendEvent(MakeEvent("o2", 1));
  });
  for (uint64_t seq : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{4}, uint64_t{100}}) {
    auto s = store().Transact([&](Tx& tx) { return tx.AppendEvent(MakeEvent("o1", seq)); });
    ASSERT_FALSE(s) << seq;
    EXPECT_EQ(s.error().code(), "store.conflict") << seq;
  }
  auto no_org = store().Transact([&](Tx& tx) { return tx.AppendEvent(MakeEvent("zz", 1)); });
  ASSERT_FALSE(no_org);
  EXPECT_EQ(no_org.error().code(), "store.not_found");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto events = tx.ListEvents("o1", 0, 100);
    if (!events) return Fail(events.error());
    EXPECT_EQ(events->size(), 2u);
    if (events->size() == 2) {
      EXPECT_EQ((*events)[0], first);
      EXPECT_EQ((*events)[1], MakeEvent("o1", 2));
    }
    auto last = tx.LastEvent("o1");
    if (!last) return Fail(last.error());
    EXPECT_TRUE(last->has_value());
    if (*last) {
      EXPECT_EQ(**last, MakeEvent("o1", 2));
    }
    auto none = tx.LastEvent("o3");
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    auto empty = tx.ListEvents("o1", 0, 0);
    if (!empty) return Fail(empty.error());
    EXPECT_TRUE(empty->empty());
    return {};
  }));
  // A rolled-back append leaves no trace: 3 is still the next number.
  auto rolled_back = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.AppendEvent(MakeEvent("o1", 3)));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(rolled_back);
  Write(store(), [&](Tx& tx) { return tx.AppendEvent(MakeEvent("o1", 3)); });
}

TEST_P(StoreContractTest, DeleteAccountKeepsOrgHistory) {
  SeedOrg(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertMember(MakeMember("o1", "a1", "owner", kNow)));
    KW_TRY(tx.InsertMember(MakeMember("o1", "a2", "admin", kNow)));
    KW_TRY(tx.InsertInvite(MakeInvite("i1", "o1", 1, kNow + 100)));
    KW_TRY(tx.AppendEvent(MakeEvent("o1", 1, "a1")));
    return tx.AppendEvent(MakeEvent("o1", 2, "a2"));
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a1"); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto membership = tx.FindMember("o1", "a1");
    if (!membership) return Fail(membership.error());
    EXPECT_FALSE(membership->has_value());
    auto orgs = tx.ListOrgsOfAccount("a1");
    if (!orgs) return Fail(orgs.error());
    EXPECT_TRUE(orgs->empty());
    auto members = tx.ListMembers("o1");
    if (!members) return Fail(members.error());
    EXPECT_EQ(members->size(), 1u);
    // The organization, its invites and its whole history stay.
    auto org = tx.FindOrg("o1");
    if (!org) return Fail(org.error());
    EXPECT_TRUE(org->has_value());
    auto invite = tx.FindInviteByTokenHash(Bytes(32, 1));
    if (!invite) return Fail(invite.error());
    EXPECT_TRUE(invite->has_value());
    auto events = tx.ListEvents("o1", 0, 10);
    if (!events) return Fail(events.error());
    EXPECT_EQ(events->size(), 2u);
    if (!events->empty()) {
      EXPECT_EQ(events->front(), MakeEvent("o1", 1, "a1"));
    }
    return {};
  }));
}

TEST_P(StoreContractTest, ConcurrentAppendEventsAreGapFree) {
  SeedOrg(store());
  constexpr int kThreads = 4;
  constexpr int kEvents = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEvents; ++i) {
        Status s;
        for (int attempt = 0; attempt < 100; ++attempt) {
          s = store().Transact([&](Tx& tx) -> Status {
            auto last = tx.LastEvent("o1");
            if (!last) return Fail(last.error());
            uint64_t next = *last ? (*last)->seq + 1 : 1;
            OrgEvent e = MakeEvent("o1", next, "t" + std::to_string(t));
            return tx.AppendEvent(e);
          });
          if (s || (s.error().code() != "store.conflict" && s.error().code() != "store.busy")) {
            break;
          }
        }
        if (!s) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto events = tx.ListEvents("o1", 0, 1000);
    if (!events) return Fail(events.error());
    EXPECT_EQ(events->size(), static_cast<size_t>(kThreads * kEvents));
    std::map<std::string, int> per_thread;
    for (size_t i = 0; i < events->size(); ++i) {
      EXPECT_EQ((*events)[i].seq, i + 1);
      ++per_thread[(*events)[i].actor_id];
    }
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(per_thread["t" + std::to_string(t)], kEvents) << t;
    }
    return {};
  }));
}

TEST_P(StoreContractTest, EventsKeysetPagination) {
  SeedOrg(store());
  constexpr uint64_t kTotal = 23;
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    KW_TRY(tx.AppendEvent(MakeEvent("o2", 1)));
    for (uint64_t seq = 1; seq <= kTotal; ++seq) {
      KW_TRY(tx.AppendEvent(MakeEvent("o1", seq)));
    }
    return {};
  });
  std::vector<uint64_t> seen;
  uint64_t after = 0;
  int pages = 0;
  for (;;) {
    std::vector<OrgEvent> page;
    ASSERT_OK(store().Read([&](Tx& tx) -> Status {
      auto r = tx.ListEvents("o1", after, 5);
      if (!r) return Fail(r.error());
      page = std::move(*r);
      return {};
    }));
    if (page.empty()) break;
    ASSERT_LE(page.size(), 5u);
    ASSERT_LT(++pages, 10);
    for (const auto& e : page) {
      EXPECT_EQ(e.org_id, "o1");
      EXPECT_EQ(e, MakeEvent("o1", e.seq));
      seen.push_back(e.seq);
    }
    after = page.back().seq;
  }
  EXPECT_EQ(pages, 5);
  ASSERT_EQ(seen.size(), kTotal);
  for (uint64_t i = 0; i < kTotal; ++i) EXPECT_EQ(seen[i], i + 1);
}

// ---- organization recovery: statements, grants, escrows ----

OrgStatementRow MakeStatement(std::string org_id, uint64_t version) {
  OrgStatementRow r;
  r.org_id = std::move(org_id);
  r.version = version;
  r.statement = Bytes(40, static_cast<uint8_t>(version));
  r.signature = Bytes(64, static_cast<uint8_t>(0x80 + version));
  r.created_at = kNow + static_cast<int64_t>(version);
  return r;
}

OrgGrant MakeGrant(std::string org_id, std::string account_id, uint64_t key_version,
                   uint8_t tag = 1) {
  OrgGrant g;
  g.org_id = std::move(org_id);
  g.account_id = std::move(account_id);
  g.key_version = key_version;
  g.recovery_grant = Bytes(80, tag);
  g.signing_grant = Bytes(80, static_cast<uint8_t>(tag + 1));
  g.created_by = "a1";
  g.created_at = kNow;
  return g;
}

Escrow MakeEscrow(std::string org_id, std::string account_id, uint64_t epoch, uint64_t key_version,
                  uint8_t tag = 1) {
  Escrow e;
  e.org_id = std::move(org_id);
  e.account_id = std::move(account_id);
  e.epoch = epoch;
  e.key_version = key_version;
  e.wrapped_vault_key = Bytes(72, tag);
  e.admin_share = Bytes(96, static_cast<uint8_t>(tag + 1));
  e.server_share = Bytes(48, static_cast<uint8_t>(tag + 2));
  e.created_at = kNow;
  e.updated_at = kNow;
  return e;
}

// SeedOrg plus a1 (owner), a2 (admin) and a3 (user) as members of o1.
void SeedMembers(Store& store) {
  SeedOrg(store);
  Write(store, [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertMember(MakeMember("o1", "a1", "owner", kNow)));
    KW_TRY(tx.InsertMember(MakeMember("o1", "a2", "admin", kNow)));
    return tx.InsertMember(MakeMember("o1", "a3", "user", kNow));
  });
}

TEST_P(StoreContractTest, OrgRecoveryFieldsRoundTripAndUpdate) {
  SeedOrg(store());
  Org fresh = MakeOrg("o2", "a1");
  fresh.statement_version = 1;
  fresh.key_version = 1;
  fresh.recovery_public_key = Bytes(32, 7);
  fresh.policy_json = R"({"mode":"dual-control"})";
  Write(store(), [&](Tx& tx) { return tx.CreateOrg(fresh); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto o = tx.FindOrg("o2");
    if (!o) return Fail(o.error());
    EXPECT_TRUE(o->has_value());
    if (*o) {
      EXPECT_EQ((*o)->statement_version, 1u);
      EXPECT_EQ((*o)->key_version, 1u);
      EXPECT_EQ((*o)->recovery_public_key, Bytes(32, 7));
      EXPECT_EQ((*o)->policy_json, fresh.policy_json);
    }
    // An organization created without them reads back the defaults.
    auto bare = tx.FindOrg("o1");
    if (!bare) return Fail(bare.error());
    EXPECT_TRUE(bare->has_value());
    if (*bare) {
      EXPECT_EQ((*bare)->statement_version, 0u);
      EXPECT_EQ((*bare)->key_version, 0u);
      EXPECT_TRUE((*bare)->recovery_public_key.empty());
      EXPECT_EQ((*bare)->policy_json, "");
    }
    return {};
  }));

  Org changed = fresh;
  changed.name = "Acme Corp";
  changed.statement_version = 4;
  changed.key_version = 2;
  changed.recovery_public_key = Bytes(32, 9);
  changed.policy_json = R"({"mode":"admin-reset"})";
  // Not replaced by UpdateOrg: the creation facts.
  changed.created_at = kNow + 999;
  changed.created_by = "a2";
  Write(store(), [&](Tx& tx) { return tx.UpdateOrg(changed); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto o = tx.FindOrg("o2");
    if (!o) return Fail(o.error());
    EXPECT_TRUE(o->has_value());
    if (*o) {
      EXPECT_EQ((*o)->name, "Acme Corp");
      EXPECT_EQ((*o)->statement_version, 4u);
      EXPECT_EQ((*o)->key_version, 2u);
      EXPECT_EQ((*o)->recovery_public_key, Bytes(32, 9));
      EXPECT_EQ((*o)->policy_json, changed.policy_json);
      EXPECT_EQ((*o)->created_at, kNow);
      EXPECT_EQ((*o)->created_by, "a1");
    }
    // The other organization is untouched.
    auto other = tx.FindOrg("o1");
    if (!other) return Fail(other.error());
    EXPECT_TRUE(other->has_value() && (*other)->key_version == 0 && (*other)->name == "Acme");
    return {};
  }));
  auto missing = store().Transact([&](Tx& tx) { return tx.UpdateOrg(MakeOrg("zz", "a1")); });
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), "store.not_found");
}

TEST_P(StoreContractTest, StatementsAreKeptInOrder) {
  SeedOrg(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    // Inserted out of order: the list is by version all the same.
    KW_TRY(tx.InsertStatement(MakeStatement("o1", 2)));
    KW_TRY(tx.InsertStatement(MakeStatement("o1", 1)));
    KW_TRY(tx.InsertStatement(MakeStatement("o1", 3)));
    return tx.InsertStatement(MakeStatement("o2", 1));
  });
  auto dup = store().Transact([&](Tx& tx) {
    OrgStatementRow other = MakeStatement("o1", 2);
    other.statement = Bytes{1};
    return tx.InsertStatement(other);
  });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), "store.conflict");
  auto no_org =
      store().Transact([&](Tx& tx) { return tx.InsertStatement(MakeStatement("zz", 1)); });
  ASSERT_FALSE(no_org);
  EXPECT_EQ(no_org.error().code(), "store.not_found");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto all = tx.ListStatements("o1", 0);
    if (!all) return Fail(all.error());
    EXPECT_EQ(*all, (std::vector<OrgStatementRow>{MakeStatement("o1", 1), MakeStatement("o1", 2),
                                                  MakeStatement("o1", 3)}));
    auto after1 = tx.ListStatements("o1", 1);
    if (!after1) return Fail(after1.error());
    EXPECT_EQ(*after1,
              (std::vector<OrgStatementRow>{MakeStatement("o1", 2), MakeStatement("o1", 3)}));
    auto none = tx.ListStatements("o1", 3);
    if (!none) return Fail(none.error());
    EXPECT_TRUE(none->empty());
    auto huge = tx.ListStatements("o1", UINT64_MAX);
    if (!huge) return Fail(huge.error());
    EXPECT_TRUE(huge->empty());
    auto o2 = tx.ListStatements("o2", 0);
    if (!o2) return Fail(o2.error());
    EXPECT_EQ(*o2, (std::vector<OrgStatementRow>{MakeStatement("o2", 1)}));
    auto unknown = tx.ListStatements("zz", 0);
    if (!unknown) return Fail(unknown.error());
    EXPECT_TRUE(unknown->empty());
    return {};
  }));
}

TEST_P(StoreContractTest, MemberLastEpoch) {
  SeedOrg(store());
  Write(store(), [&](Tx& tx) -> Status {
    OrgMember m = MakeMember("o1", "a1", "owner", kNow);
    m.last_epoch = 3;
    KW_TRY(tx.InsertMember(m));
    return tx.InsertMember(MakeMember("o1", "a2", "user", kNow));
  });
  Write(store(), [&](Tx& tx) { return tx.SetMemberLastEpoch("o1", "a2", 7); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a1 = tx.FindMember("o1", "a1");
    auto a2 = tx.FindMember("o1", "a2");
    auto list = tx.ListMembers("o1");
    auto orgs = tx.ListOrgsOfAccount("a2");
    if (!a1 || !a2 || !list || !orgs) return Fail(StoreError("test"));
    EXPECT_TRUE(a1->has_value() && (*a1)->last_epoch == 3);
    EXPECT_TRUE(a2->has_value() && (*a2)->last_epoch == 7);
    EXPECT_EQ(list->size(), 2u);
    if (list->size() == 2) {
      EXPECT_EQ((*list)[0].last_epoch, 3u);
      EXPECT_EQ((*list)[1].last_epoch, 7u);
    }
    EXPECT_TRUE(orgs->size() == 1 && orgs->front().last_epoch == 7);
    return {};
  }));
  for (auto [org, account] : {std::pair{"o1", "a3"}, std::pair{"zz", "a1"}}) {
    auto s = store().Transact([&](Tx& tx) { return tx.SetMemberLastEpoch(org, account, 1); });
    ASSERT_FALSE(s) << org << "/" << account;
    EXPECT_EQ(s.error().code(), "store.not_found") << org << "/" << account;
  }
  // A role change keeps the epoch.
  Write(store(), [&](Tx& tx) { return tx.UpdateMemberRole("o1", "a2", "admin", ""); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a2 = tx.FindMember("o1", "a2");
    if (!a2) return Fail(a2.error());
    EXPECT_TRUE(a2->has_value() && (*a2)->last_epoch == 7);
    return {};
  }));
}

TEST_P(StoreContractTest, Grants) {
  SeedMembers(store());
  OrgGrant no_signing = MakeGrant("o1", "a3", 1, 5);
  no_signing.signing_grant.clear();
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.PutGrant(MakeGrant("o1", "a2", 2)));
    KW_TRY(tx.PutGrant(MakeGrant("o1", "a2", 1)));
    KW_TRY(tx.PutGrant(MakeGrant("o1", "a1", 1)));
    KW_TRY(tx.PutGrant(MakeGrant("o1", "a1", 2)));
    return tx.PutGrant(no_signing);
  });
  // Only members can hold a grant.
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    return tx.InsertMember(MakeMember("o2", "a1", "owner", kNow));
  });
  for (auto [org, account] :
       {std::pair{"o2", "a2"}, std::pair{"zz", "a1"}, std::pair{"o1", "zz"}}) {
    auto s = store().Transact([&](Tx& tx) { return tx.PutGrant(MakeGrant(org, account, 1)); });
    ASSERT_FALSE(s) << org << "/" << account;
    EXPECT_EQ(s.error().code(), "store.not_found") << org << "/" << account;
  }
  Write(store(), [&](Tx& tx) { return tx.PutGrant(MakeGrant("o2", "a1", 1)); });
  // Put again replaces.
  OrgGrant replaced = MakeGrant("o1", "a2", 2, 9);
  replaced.created_by = "a2";
  replaced.created_at = kNow + 50;
  Write(store(), [&](Tx& tx) { return tx.PutGrant(replaced); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto g = tx.FindGrant("o1", "a2", 2);
    if (!g) return Fail(g.error());
    EXPECT_TRUE(g->has_value());
    if (*g) {
      EXPECT_EQ(**g, replaced);
    }
    auto empty_signing = tx.FindGrant("o1", "a3", 1);
    if (!empty_signing) return Fail(empty_signing.error());
    EXPECT_TRUE(empty_signing->has_value());
    if (*empty_signing) {
      EXPECT_EQ(**empty_signing, no_signing);
    }
    auto none = tx.FindGrant("o1", "a3", 2);
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    auto list = tx.ListGrants("o1");
    if (!list) return Fail(list.error());
    EXPECT_EQ(*list, (std::vector<OrgGrant>{MakeGrant("o1", "a1", 1), MakeGrant("o1", "a1", 2),
                                            MakeGrant("o1", "a2", 1), replaced, no_signing}));
    auto other = tx.ListGrants("o2");
    if (!other) return Fail(other.error());
    EXPECT_EQ(*other, (std::vector<OrgGrant>{MakeGrant("o2", "a1", 1)}));
    return {};
  }));

  // A retired key: the grants of versions below 2 go, in o1 only.
  ASSERT_OK(store().Transact([&](Tx& tx) -> Status {
    auto n = tx.DeleteGrantsBelow("o1", 2);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 3);
    auto again = tx.DeleteGrantsBelow("o1", 2);
    if (!again) return Fail(again.error());
    EXPECT_EQ(*again, 0);
    return {};
  }));
  // A member losing the permission loses every grant.
  ASSERT_OK(store().Transact([&](Tx& tx) -> Status {
    auto n = tx.DeleteMemberGrants("o1", "a1");
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 1);
    auto none = tx.DeleteMemberGrants("o1", "a3");
    if (!none) return Fail(none.error());
    EXPECT_EQ(*none, 0);
    return {};
  }));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto list = tx.ListGrants("o1");
    if (!list) return Fail(list.error());
    EXPECT_EQ(*list, (std::vector<OrgGrant>{replaced}));
    auto other = tx.ListGrants("o2");
    if (!other) return Fail(other.error());
    EXPECT_EQ(other->size(), 1u);
    // The membership itself stays.
    auto member = tx.FindMember("o1", "a1");
    if (!member) return Fail(member.error());
    EXPECT_TRUE(member->has_value());
    return {};
  }));
}

TEST_P(StoreContractTest, Escrows) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o0", "a1")));
    KW_TRY(tx.InsertMember(MakeMember("o0", "a2", "user", kNow)));
    KW_TRY(tx.PutEscrow(MakeEscrow("o1", "a3", 1, 1, 30)));
    KW_TRY(tx.PutEscrow(MakeEscrow("o1", "a2", 1, 1, 20)));
    return tx.PutEscrow(MakeEscrow("o0", "a2", 4, 1, 40));
  });
  for (auto [org, account] :
       {std::pair{"o0", "a1"}, std::pair{"zz", "a1"}, std::pair{"o1", "zz"}}) {
    auto s = store().Transact([&](Tx& tx) { return tx.PutEscrow(MakeEscrow(org, account, 1, 1)); });
    ASSERT_FALSE(s) << org << "/" << account;
    EXPECT_EQ(s.error().code(), "store.not_found") << org << "/" << account;
  }
  // Re-enrollment replaces the whole row.
  Escrow second = MakeEscrow("o1", "a2", 2, 1, 60);
  second.created_at = second.updated_at = kNow + 10;
  Write(store(), [&](Tx& tx) { return tx.PutEscrow(second); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    if (!e) return Fail(e.error());
    EXPECT_TRUE(e->has_value());
    if (*e) {
      EXPECT_EQ(**e, second);
    }
    auto none = tx.FindEscrow("o1", "a1");
    if (!none) return Fail(none.error());
    EXPECT_FALSE(none->has_value());
    auto list = tx.ListEscrows("o1");
    if (!list) return Fail(list.error());
    EXPECT_EQ(*list, (std::vector<Escrow>{second, MakeEscrow("o1", "a3", 1, 1, 30)}));
    auto mine = tx.ListEscrowsOfAccount("a2");
    if (!mine) return Fail(mine.error());
    EXPECT_EQ(*mine, (std::vector<Escrow>{MakeEscrow("o0", "a2", 4, 1, 40), second}));
    auto nobody = tx.ListEscrowsOfAccount("a1");
    if (!nobody) return Fail(nobody.error());
    EXPECT_TRUE(nobody->empty());
    return {};
  }));
  Write(store(), [&](Tx& tx) { return tx.DeleteEscrow("o1", "a2"); });
  for (auto [org, account] : {std::pair{"o1", "a2"}, std::pair{"o1", "a1"}}) {
    auto s = store().Transact([&](Tx& tx) { return tx.DeleteEscrow(org, account); });
    ASSERT_FALSE(s) << org << "/" << account;
    EXPECT_EQ(s.error().code(), "store.not_found") << org << "/" << account;
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto list = tx.ListEscrows("o1");
    if (!list) return Fail(list.error());
    EXPECT_EQ(*list, (std::vector<Escrow>{MakeEscrow("o1", "a3", 1, 1, 30)}));
    // Withdrawal removes the escrow, not the membership.
    auto member = tx.FindMember("o1", "a2");
    if (!member) return Fail(member.error());
    EXPECT_TRUE(member->has_value());
    auto other_org = tx.FindEscrow("o0", "a2");
    if (!other_org) return Fail(other_org.error());
    EXPECT_TRUE(other_org->has_value());
    return {};
  }));
}

// An escrow keeps the recovery mode it was made under (issue 10 item 5):
// stored and read back by every listing, replaced with the row, kept by a
// key rotation's re-wrap, and limited to the two modes.
TEST_P(StoreContractTest, EscrowsKeepTheirMode) {
  SeedMembers(store());
  Escrow admin_reset = MakeEscrow("o1", "a2", 1, 1, 20);
  admin_reset.mode = "admin-reset";
  Escrow dual = MakeEscrow("o1", "a3", 1, 1, 30);
  EXPECT_EQ(dual.mode, "dual-control");  // the default
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.PutEscrow(admin_reset));
    return tx.PutEscrow(dual);
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    if (!e) return Fail(e.error());
    EXPECT_EQ(*e, std::optional<Escrow>(admin_reset));
    auto list = tx.ListEscrows("o1");
    if (!list) return Fail(list.error());
    EXPECT_EQ(*list, (std::vector<Escrow>{admin_reset, dual}));
    auto mine = tx.ListEscrowsOfAccount("a2");
    if (!mine) return Fail(mine.error());
    EXPECT_EQ(*mine, (std::vector<Escrow>{admin_reset}));
    auto below = tx.ListEscrowsBelowKeyVersion("o1", 2, "", 10);
    if (!below) return Fail(below.error());
    EXPECT_EQ(*below, (std::vector<Escrow>{admin_reset, dual}));
    return {};
  }));
  // A re-wrap keeps the mode.
  const Bytes rewrapped(96, 77);
  Write(store(), [&](Tx& tx) { return tx.RewrapEscrow("o1", "a2", 1, 1, 2, rewrapped, kNow + 5); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    if (!e) return Fail(e.error());
    EXPECT_TRUE(e->has_value() && (*e)->mode == "admin-reset");
    return {};
  }));
  // Re-enrolling replaces the mode with the row.
  Escrow again = MakeEscrow("o1", "a2", 2, 1, 60);
  Write(store(), [&](Tx& tx) { return tx.PutEscrow(again); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    if (!e) return Fail(e.error());
    EXPECT_EQ(*e, std::optional<Escrow>(again));
    return {};
  }));
  // Nothing else is a mode.
  Escrow bad = MakeEscrow("o1", "a3", 2, 1, 31);
  for (const char* mode : {"", "admin_reset", "none"}) {
    bad.mode = mode;
    auto s = store().Transact([&](Tx& tx) { return tx.PutEscrow(bad); });
    EXPECT_FALSE(s) << mode;
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a3");
    if (!e) return Fail(e.error());
    EXPECT_EQ(*e, std::optional<Escrow>(dual));
    return {};
  }));
}

TEST_P(StoreContractTest, EscrowsBelowKeyVersionKeysetPages) {
  SeedOrg(store());
  // 11 members of o1 with escrows at key versions 1, 2, 3 in turn; o2 has one
  // old escrow that must never show up.
  std::vector<std::string> old_ids;
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    KW_TRY(tx.InsertMember(MakeMember("o2", "a1", "owner", kNow)));
    KW_TRY(tx.PutEscrow(MakeEscrow("o2", "a1", 1, 1)));
    for (int i = 10; i > 0; --i) {
      std::string id = "m" + std::to_string(i / 10) + std::to_string(i % 10);
      KW_TRY(tx.InsertAccount(MakeAccount(id, id + "@example.com")));
      KW_TRY(tx.InsertMember(MakeMember("o1", id, "user", kNow)));
      uint64_t key_version = static_cast<uint64_t>(i % 3) + 1;
      KW_TRY(tx.PutEscrow(MakeEscrow("o1", id, 1, key_version)));
      if (key_version < 3) old_ids.push_back(id);
    }
    return {};
  });
  std::sort(old_ids.begin(), old_ids.end());
  ASSERT_EQ(old_ids.size(), 7u);
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto n3 = tx.CountEscrowsBelowKeyVersion("o1", 3);
    auto n2 = tx.CountEscrowsBelowKeyVersion("o1", 2);
    auto n1 = tx.CountEscrowsBelowKeyVersion("o1", 1);
    auto none = tx.CountEscrowsBelowKeyVersion("zz", 3);
    if (!n3 || !n2 || !n1 || !none) return Fail(StoreError("test"));
    EXPECT_EQ(*n3, 7);
    EXPECT_EQ(*n2, 3);  // i = 3, 6, 9
    EXPECT_EQ(*n1, 0);
    EXPECT_EQ(*none, 0);
    auto zero = tx.ListEscrowsBelowKeyVersion("o1", 3, "", 0);
    if (!zero) return Fail(zero.error());
    EXPECT_TRUE(zero->empty());
    return {};
  }));
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  for (;;) {
    std::vector<Escrow> page;
    ASSERT_OK(store().Read([&](Tx& tx) -> Status {
      auto r = tx.ListEscrowsBelowKeyVersion("o1", 3, after, 3);
      if (!r) return Fail(r.error());
      page = std::move(*r);
      return {};
    }));
    if (page.empty()) break;
    ASSERT_LE(page.size(), 3u);
    ASSERT_LT(++pages, 10);
    for (const auto& e : page) {
      EXPECT_EQ(e.org_id, "o1");
      EXPECT_LT(e.key_version, 3u);
      seen.push_back(e.account_id);
    }
    after = page.back().account_id;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, old_ids);
}

TEST_P(StoreContractTest, RewrapEscrowIsConditional) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.PutEscrow(MakeEscrow("o1", "a2", 3, 1)));
    return tx.PutEscrow(MakeEscrow("o1", "a3", 1, 1));
  });
  const Bytes share(96, 0xee);
  // Wrong epoch (re-enrolled meanwhile) or wrong key version: stale.
  for (auto [epoch, from] : {std::pair{2, 1}, std::pair{4, 1}, std::pair{3, 2}, std::pair{3, 0}}) {
    auto s = store().Transact([&](Tx& tx) {
      return tx.RewrapEscrow("o1", "a2", static_cast<uint64_t>(epoch), static_cast<uint64_t>(from),
                             2, share, kNow + 5);
    });
    ASSERT_FALSE(s) << epoch << "/" << from;
    EXPECT_EQ(s.error().code(), "store.stale") << epoch << "/" << from;
  }
  for (auto [org, account] : {std::pair{"o1", "a1"}, std::pair{"zz", "a2"}}) {
    auto s = store().Transact(
        [&](Tx& tx) { return tx.RewrapEscrow(org, account, 3, 1, 2, share, kNow + 5); });
    ASSERT_FALSE(s) << org << "/" << account;
    EXPECT_EQ(s.error().code(), "store.not_found") << org << "/" << account;
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    if (!e) return Fail(e.error());
    EXPECT_TRUE(e->has_value() && **e == MakeEscrow("o1", "a2", 3, 1));
    return {};
  }));

  Write(store(), [&](Tx& tx) { return tx.RewrapEscrow("o1", "a2", 3, 1, 2, share, kNow + 5); });
  Escrow want = MakeEscrow("o1", "a2", 3, 2);
  want.admin_share = share;
  want.updated_at = kNow + 5;
  // The same re-wrap again (a retried rotation page) is stale and changes
  // nothing.
  auto again = store().Transact(
      [&](Tx& tx) { return tx.RewrapEscrow("o1", "a2", 3, 1, 2, Bytes(96, 0x11), kNow + 9); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), "store.stale");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    if (!e) return Fail(e.error());
    EXPECT_TRUE(e->has_value());
    if (*e) {
      EXPECT_EQ(**e, want);
    }
    // The other member's escrow is untouched.
    auto other = tx.FindEscrow("o1", "a3");
    if (!other) return Fail(other.error());
    EXPECT_TRUE(other->has_value() && **other == MakeEscrow("o1", "a3", 1, 1));
    auto left = tx.CountEscrowsBelowKeyVersion("o1", 2);
    if (!left) return Fail(left.error());
    EXPECT_EQ(*left, 1);
    return {};
  }));
}

TEST_P(StoreContractTest, RemovingMemberOrAccountRemovesEscrowAndGrants) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    KW_TRY(tx.InsertMember(MakeMember("o2", "a2", "admin", kNow)));
    for (const char* org : {"o1", "o2"}) {
      KW_TRY(tx.PutEscrow(MakeEscrow(org, "a2", 1, 1)));
      KW_TRY(tx.PutGrant(MakeGrant(org, "a2", 1)));
      KW_TRY(tx.InsertStatement(MakeStatement(org, 1)));
      KW_TRY(tx.AppendEvent(MakeEvent(org, 1, "a2")));
    }
    KW_TRY(tx.PutEscrow(MakeEscrow("o1", "a3", 1, 1)));
    KW_TRY(tx.PutGrant(MakeGrant("o1", "a3", 1)));
    KW_TRY(tx.PutEscrow(MakeEscrow("o1", "a1", 1, 1)));
    return tx.PutGrant(MakeGrant("o1", "a1", 1));
  });

  // Removing a3 from o1 removes its escrow and grants, nobody else's.
  Write(store(), [&](Tx& tx) { return tx.DeleteMember("o1", "a3"); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a3");
    auto g = tx.FindGrant("o1", "a3", 1);
    auto escrows = tx.ListEscrows("o1");
    auto grants = tx.ListGrants("o1");
    if (!e || !g || !escrows || !grants) return Fail(StoreError("test"));
    EXPECT_FALSE(e->has_value());
    EXPECT_FALSE(g->has_value());
    EXPECT_EQ(escrows->size(), 2u);
    EXPECT_EQ(grants->size(), 2u);
    return {};
  }));
  // Joining again does not bring them back.
  Write(store(), [&](Tx& tx) { return tx.InsertMember(MakeMember("o1", "a3", "user", kNow)); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a3");
    auto g = tx.FindGrant("o1", "a3", 1);
    if (!e || !g) return Fail(StoreError("test"));
    EXPECT_FALSE(e->has_value());
    EXPECT_FALSE(g->has_value());
    return {};
  }));

  // Deleting a2 removes its escrows and grants in every organization; the
  // organizations, their statements and their events stay.
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a2"); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto mine = tx.ListEscrowsOfAccount("a2");
    if (!mine) return Fail(mine.error());
    EXPECT_TRUE(mine->empty());
    for (const char* org : {"o1", "o2"}) {
      auto g = tx.FindGrant(org, "a2", 1);
      auto statements = tx.ListStatements(org, 0);
      auto events = tx.ListEvents(org, 0, 10);
      if (!g || !statements || !events) return Fail(StoreError("test"));
      EXPECT_FALSE(g->has_value()) << org;
      EXPECT_EQ(statements->size(), 1u) << org;
      EXPECT_EQ(*events, (std::vector<OrgEvent>{MakeEvent(org, 1, "a2")})) << org;
    }
    auto escrows = tx.ListEscrows("o1");
    auto grants = tx.ListGrants("o1");
    auto o2_escrows = tx.ListEscrows("o2");
    auto o2_grants = tx.ListGrants("o2");
    if (!escrows || !grants || !o2_escrows || !o2_grants) return Fail(StoreError("test"));
    EXPECT_EQ(*escrows, (std::vector<Escrow>{MakeEscrow("o1", "a1", 1, 1)}));
    EXPECT_EQ(*grants, (std::vector<OrgGrant>{MakeGrant("o1", "a1", 1)}));
    EXPECT_TRUE(o2_escrows->empty());
    EXPECT_TRUE(o2_grants->empty());
    return {};
  }));
}

TEST_P(StoreContractTest, RecoveryWritesRollBackAndNeedAWriteTransaction) {
  SeedMembers(store());
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.PutEscrow(MakeEscrow("o1", "a2", 1, 1)));
    KW_TRY(tx.PutGrant(MakeGrant("o1", "a2", 1)));
    KW_TRY(tx.InsertStatement(MakeStatement("o1", 1)));
    KW_TRY(tx.SetMemberLastEpoch("o1", "a2", 1));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  for (int op = 0; op < 6; ++op) {
    auto s = store().Read([&](Tx& tx) -> Status {
      switch (op) {
        case 0:
          return tx.PutEscrow(MakeEscrow("o1", "a2", 1, 1));
        case 1:
          return tx.PutGrant(MakeGrant("o1", "a2", 1));
        case 2:
          return tx.InsertStatement(MakeStatement("o1", 1));
        case 3:
          return tx.SetMemberLastEpoch("o1", "a2", 1);
        case 4:
          return tx.UpdateOrg(MakeOrg("o1", "a1"));
        default:
          return Discard(tx.DeleteGrantsBelow("o1", 5));
      }
    });
    ASSERT_FALSE(s) << op;
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto e = tx.FindEscrow("o1", "a2");
    auto g = tx.FindGrant("o1", "a2", 1);
    auto st = tx.ListStatements("o1", 0);
    auto m = tx.FindMember("o1", "a2");
    if (!e || !g || !st || !m) return Fail(StoreError("test"));
    EXPECT_FALSE(e->has_value());
    EXPECT_FALSE(g->has_value());
    EXPECT_TRUE(st->empty());
    EXPECT_TRUE(m->has_value() && (*m)->last_epoch == 0);
    return {};
  }));
}

TEST_P(StoreContractTest, OpenInvites) {
  SeedOrg(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    OrgInvite later = MakeInvite("i1", "o1", 1, kNow + 100);
    later.created_at = kNow + 2;
    KW_TRY(tx.InsertInvite(later));
    // Same created_at as i3: the id breaks the tie.
    KW_TRY(tx.InsertInvite(MakeInvite("i4", "o1", 4, kNow + 100)));
    KW_TRY(tx.InsertInvite(MakeInvite("i3", "o1", 3, kNow + 100)));
    KW_TRY(tx.InsertInvite(MakeInvite("accepted", "o1", 5, kNow + 100)));
    KW_TRY(tx.InsertInvite(MakeInvite("expired", "o1", 6, kNow - 1)));
    KW_TRY(tx.InsertInvite(MakeInvite("edge", "o1", 7, kNow)));
    KW_TRY(tx.InsertInvite(MakeInvite("other", "o2", 8, kNow + 100)));
    return tx.MarkInviteAccepted("accepted", kNow);
  });
  auto ids = [](const std::vector<OrgInvite>& invites) {
    std::vector<std::string> out;
    for (const auto& i : invites) out.push_back(i.id);
    return out;
  };
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto open = tx.ListOpenInvites("o1", kNow);
    if (!open) return Fail(open.error());
    // "edge" expires at kNow exactly: no longer open at kNow.
    EXPECT_EQ(ids(*open), (std::vector<std::string>{"i3", "i4", "i1"}));
    if (open->size() == 3) {
      EXPECT_EQ((*open)[2].created_at, kNow + 2);
      EXPECT_EQ((*open)[2].token_hash, Bytes(32, 1));
      EXPECT_FALSE((*open)[2].accepted_at.has_value());
    }
    auto before = tx.ListOpenInvites("o1", kNow - 1);
    if (!before) return Fail(before.error());
    EXPECT_EQ(ids(*before), (std::vector<std::string>{"edge", "i3", "i4", "i1"}));
    auto late = tx.ListOpenInvites("o1", kNow + 100);
    if (!late) return Fail(late.error());
    EXPECT_TRUE(late->empty());
    auto other = tx.ListOpenInvites("o2", kNow);
    if (!other) return Fail(other.error());
    EXPECT_EQ(ids(*other), (std::vector<std::string>{"other"}));
    auto unknown = tx.ListOpenInvites("zz", kNow);
    if (!unknown) return Fail(unknown.error());
    EXPECT_TRUE(unknown->empty());
    return {};
  }));
}

TEST_P(StoreContractTest, EventFilters) {
  SeedOrg(store());
  // seq  type        actor target time
  //  1   a.enrolled  a1    a2     kNow+1
  //  2   b.approved  a2    a3     kNow+2
  //  3   a.enrolled  a2    a2     kNow+3
  //  4   b.approved  a1    a2     kNow+4
  //  5   a.enrolled  a1    a3     kNow+5
  //  6   b.approved  a1    a2     kNow+6
  struct Row {
    const char* type;
    const char* actor;
    const char* target;
  };
  const Row rows[] = {{"a.enrolled", "a1", "a2"}, {"b.approved", "a2", "a3"},
                      {"a.enrolled", "a2", "a2"}, {"b.approved", "a1", "a2"},
                      {"a.enrolled", "a1", "a3"}, {"b.approved", "a1", "a2"}};
  auto event = [&](uint64_t seq) {
    OrgEvent e = MakeEvent("o1", seq, rows[seq - 1].actor);
    e.type = rows[seq - 1].type;
    e.target_id = rows[seq - 1].target;
    return e;
  };
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    // Another organization's event matching every filter must never leak in.
    OrgEvent foreign = MakeEvent("o2", 1, "a1");
    foreign.type = "a.enrolled";
    KW_TRY(tx.AppendEvent(foreign));
    for (uint64_t seq = 1; seq <= 6; ++seq) KW_TRY(tx.AppendEvent(event(seq)));
    return {};
  });
  auto seqs = [&](const EventFilter& filter, uint64_t after = 0, int64_t limit = 100) {
    std::vector<uint64_t> out;
    auto s = store().Read([&](Tx& tx) -> Status {
      auto r = tx.ListEvents("o1", after, limit, filter);
      if (!r) return Fail(r.error());
      for (const auto& e : *r) {
        EXPECT_EQ(e, event(e.seq));
        out.push_back(e.seq);
      }
      return {};
    });
    EXPECT_TRUE(s.has_value());
    return out;
  };
  using V = std::vector<uint64_t>;
  // Every field spelled out: g++ -Wextra warns about omitted designated ones.
  auto filter = [](std::string type, std::string actor, std::string target,
                   std::optional<int64_t> since, std::optional<int64_t> until) {
    return EventFilter{std::move(type), std::move(actor), std::move(target), since, until};
  };
  constexpr std::nullopt_t kAny = std::nullopt;
  EXPECT_EQ(seqs({}), (V{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(seqs(filter("a.enrolled", "", "", kAny, kAny)), (V{1, 3, 5}));
  EXPECT_EQ(seqs(filter("a", "", "", kAny, kAny)), V{});  // exact, not a prefix
  EXPECT_EQ(seqs(filter("", "a2", "", kAny, kAny)), (V{2, 3}));
  EXPECT_EQ(seqs(filter("", "", "a3", kAny, kAny)), (V{2, 5}));
  EXPECT_EQ(seqs(filter("", "", "", kNow + 3, kAny)), (V{3, 4, 5, 6}));
  EXPECT_EQ(seqs(filter("", "", "", kAny, kNow + 3)), (V{1, 2}));
  EXPECT_EQ(seqs(filter("", "", "", kNow + 2, kNow + 5)), (V{2, 3, 4}));
  EXPECT_EQ(seqs(filter("", "", "", kNow + 4, kNow + 4)), V{});
  EXPECT_EQ(seqs(filter("b.approved", "a1", "", kAny, kAny)), (V{4, 6}));
  EXPECT_EQ(seqs(filter("b.approved", "a1", "a2", kAny, kAny)), (V{4, 6}));
  EXPECT_EQ(seqs(filter("b.approved", "a1", "", kNow + 5, kAny)), (V{6}));
  EXPECT_EQ(seqs(filter("a.enrolled", "a1", "a3", kNow + 1, kNow + 6)), (V{5}));
  EXPECT_EQ(seqs(filter("a.enrolled", "a1", "a3", kNow + 1, kNow + 5)), V{});
  EXPECT_EQ(seqs(filter("", "a2", "a3", kAny, kAny)), (V{2}));
  EXPECT_EQ(seqs(filter("", "zz", "", kAny, kAny)), V{});
  // Still keyset pages by seq: after_seq and limit apply to the filtered rows.
  EXPECT_EQ(seqs(filter("", "a1", "", kAny, kAny), 0, 2), (V{1, 4}));
  EXPECT_EQ(seqs(filter("", "a1", "", kAny, kAny), 4, 2), (V{5, 6}));
  EXPECT_EQ(seqs(filter("", "a1", "", kAny, kAny), 6, 2), V{});
  EXPECT_EQ(seqs(filter("a.enrolled", "", "", kAny, kAny), 0, 0), V{});
}

// ---- recovery requests ----

RecoveryRequest MakeRequest(std::string id, std::string org_id, std::string account_id,
                            int64_t created_at = kNow,
                            RequestStatus status = RequestStatus::kPending) {
  RecoveryRequest r;
  r.id = std::move(id);
  r.org_id = std::move(org_id);
  r.account_id = std::move(account_id);
  r.status = status;
  r.epoch = 1;
  r.device_name = "laptop";
  r.remote_address = "192.0.2.1";
  r.created_at = created_at;
  r.expires_at = created_at + 3600;
  return r;
}

// r approved by `admin` at `now`: a token hash tagged `tag`, the link share,
// the link's deadline.
RecoveryRequest Approved(RecoveryRequest r, std::string admin, int64_t now, uint8_t tag) {
  r.status = RequestStatus::kApproved;
  r.decided_at = now;
  r.decided_by = std::move(admin);
  r.token_hash = Bytes(32, tag);
  r.link_share = Bytes(88, static_cast<uint8_t>(tag + 1));
  r.expires_at = now + 86400;
  return r;
}

RecoveryRequest Declined(RecoveryRequest r, std::string admin, int64_t now) {
  r.status = RequestStatus::kDeclined;
  r.decided_at = now;
  r.decided_by = std::move(admin);
  r.decline_reason = "Call the help desk first.";
  return r;
}

Result<std::optional<RecoveryRequest>> FindRequestIn(Store& store, std::string_view id) {
  std::optional<RecoveryRequest> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    auto r = tx.FindRequest(id);
    if (!r) return Fail(r.error());
    found = std::move(*r);
    return {};
  });
  if (!s) return Fail(s.error());
  return found;
}

// The store's error code of a write, "" when it succeeded.
std::string WriteCode(Store& store, const std::function<Status(Tx&)>& fn) {
  auto s = store.Transact(fn);
  return s ? "" : s.error().code();
}

// Issue 16: the vault revision (the ETag of GET /v1/items) moves on once per
// transaction that changes the account's items, and only then.
TEST_P(StoreContractTest, VaultRevisionMovesOncePerChangingTransaction) {
  const auto revision = [&](const char* account) {
    int64_t out = -1;
    EXPECT_OK(store().Read([&](Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(out, tx.VaultRevision(account));
      return {};
    }));
    return out;
  };
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    return tx.InsertAccount(MakeAccount("a2", "bob@example.com"));
  });
  EXPECT_EQ(revision("a1"), 0);
  EXPECT_EQ(revision("ghost"), 0);
  // Three items in one transaction: one step.
  Write(store(), [&](Tx& tx) -> Status {
    for (const char* id : {"x", "y", "z"})
      KW_TRY(tx.InsertItem(Item{"a1", id, 1, Bytes{1}, kNow, kNow}));
    return {};
  });
  EXPECT_EQ(revision("a1"), 1);
  EXPECT_EQ(revision("a2"), 0);
  Write(store(),
        [&](Tx& tx) -> Status { return Discard(tx.UpdateItem("a1", "x", 1, Bytes{2}, kNow)); });
  EXPECT_EQ(revision("a1"), 2);
  Write(store(), [&](Tx& tx) { return tx.DeleteItem("a1", "y"); });
  EXPECT_EQ(revision("a1"), 3);
  // What fails or rolls back leaves it.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) -> Status {
                        return Discard(tx.UpdateItem("a1", "x", 1, Bytes{3}, kNow));
                      }),
            "store.stale");
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.DeleteItem("a1", "nope"); }),
            "store.not_found");
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) -> Status {
                        KW_TRY(tx.InsertItem(Item{"a1", "w", 1, Bytes{1}, kNow, kNow}));
                        return Fail(StoreError("rolled back by the test"));
                      }),
            "store.error");
  EXPECT_EQ(revision("a1"), 3);
  // A change to two vaults in one transaction moves each once.
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertItem(Item{"a2", "q", 1, Bytes{1}, kNow, kNow}));
    KW_TRY(tx.DeleteItem("a1", "z"));
    return tx.InsertItem(Item{"a2", "r", 1, Bytes{1}, kNow, kNow});
  });
  EXPECT_EQ(revision("a1"), 4);
  EXPECT_EQ(revision("a2"), 1);
}

TEST_P(StoreContractTest, RecoveryRequestRoundTripAndTokenHashLookup) {
  SeedMembers(store());
  // Every field set, an admin-initiated request.
  RecoveryRequest full = MakeRequest("r1", "o1", "a3", kNow + 5);
  full.initiated_by = "a2";
  full.epoch = 7;
  full.device_name = "Ann's phone";
  full.remote_address = "2001:db8::1";
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(full); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto found = tx.FindRequest("r1");
    auto none = tx.FindRequest("r2");
    // Not approved yet: no token hash, and the empty hash finds nothing.
    auto by_empty = tx.FindRequestByTokenHash({});
    if (!found || !none || !by_empty) return Fail(StoreError("test"));
    EXPECT_EQ(*found, std::optional<RecoveryRequest>(full));
    EXPECT_FALSE(none->has_value());
    EXPECT_FALSE(by_empty->has_value());
    return {};
  }));

  RecoveryRequest approved = Approved(full, "a1", kNow + 10, 1);
  Write(store(), [&](Tx& tx) { return tx.UpdateRequest(approved, RequestStatus::kPending); });
  RecoveryRequest used = approved;
  used.status = RequestStatus::kLinkUsed;
  used.completed_at = kNow + 20;
  Write(store(), [&](Tx& tx) { return tx.UpdateRequest(used, RequestStatus::kApproved); });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto by_hash = tx.FindRequestByTokenHash(Bytes(32, 1));
    auto other = tx.FindRequestByTokenHash(Bytes(32, 2));
    if (!by_hash || !other) return Fail(StoreError("test"));
    EXPECT_EQ(*by_hash, std::optional<RecoveryRequest>(used));
    EXPECT_FALSE(other->has_value());
    return {};
  }));

  // A token hash is unique across requests, even closed ones.
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(MakeRequest("r2", "o1", "a2")); });
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.UpdateRequest(
                            Approved(MakeRequest("r2", "o1", "a2"), "a1", kNow + 30, 1),
                            RequestStatus::kPending);
                      }),
            "store.conflict");
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertRequest(
                            Approved(MakeRequest("r4", "o1", "a1"), "a2", kNow + 30, 1));
                      }),
            "store.conflict");
  // Several requests without a hash coexist (NULL, not an empty blob).
  Write(store(), [&](Tx& tx) {
    return tx.InsertRequest(Declined(MakeRequest("r3", "o1", "a1"), "a2", kNow));
  });

  // The id is unique; the account must be a member of the organization.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertRequest(Declined(MakeRequest("r1", "o1", "a1"), "a2", 0));
                      }),
            "store.conflict");
  EXPECT_EQ(
      WriteCode(store(), [&](Tx& tx) { return tx.InsertRequest(MakeRequest("r9", "o2", "a1")); }),
      "store.not_found");
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) { return tx.InsertRequest(MakeRequest("r9", "o1", "nobody")); }),
            "store.not_found");
}

TEST_P(StoreContractTest, OneOpenRequestPerAccount) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    return tx.InsertMember(MakeMember("o2", "a3", "user", kNow));
  });
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(MakeRequest("r1", "o1", "a3")); });
  auto insert = [&](RecoveryRequest r) {
    return WriteCode(store(), [&](Tx& tx) { return tx.InsertRequest(r); });
  };
  // A second open request, pending or approved, in this or another organization.
  EXPECT_EQ(insert(MakeRequest("r2", "o1", "a3")), "store.conflict");
  EXPECT_EQ(insert(MakeRequest("r2", "o2", "a3")), "store.conflict");
  EXPECT_EQ(insert(Approved(MakeRequest("r2", "o2", "a3"), "a1", kNow, 2)), "store.conflict");
  // Closed requests do not count, and other members are not affected.
  EXPECT_EQ(insert(Declined(MakeRequest("r2", "o2", "a3"), "a1", kNow)), "");
  EXPECT_EQ(insert(MakeRequest("r3", "o1", "a2")), "");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto open = tx.FindOpenRequest("a3");
    auto none = tx.FindOpenRequest("a1");
    if (!open || !none) return Fail(StoreError("test"));
    EXPECT_TRUE(open->has_value() && (*open)->id == "r1");
    EXPECT_FALSE(none->has_value());
    return {};
  }));

  // Once the open request is closed (declined, expired, link used), a new one
  // may be submitted, in any of the member's organizations.
  struct Step {
    RequestStatus close_to;
    std::string next_id;
    std::string next_org;
  };
  std::string open_id = "r1";
  std::string open_org = "o1";
  int64_t t = kNow;
  uint8_t tag = 10;
  for (const Step& step :
       {Step{RequestStatus::kDeclined, "r4", "o2"}, Step{RequestStatus::kExpired, "r5", "o1"},
        Step{RequestStatus::kLinkUsed, "r6", "o2"}}) {
    SCOPED_TRACE(step.next_id);
    t += 100;
    RecoveryRequest current = MakeRequest(open_id, open_org, "a3", t - 100);
    RequestStatus from = RequestStatus::kPending;
    if (step.close_to == RequestStatus::kLinkUsed) {
      // Link Used comes from Approved.
      current = Approved(current, "a1", t, tag++);
      Write(store(), [&](Tx& tx) { return tx.UpdateRequest(current, RequestStatus::kPending); });
      from = RequestStatus::kApproved;
    }
    current.status = step.close_to;
    EXPECT_EQ(insert(MakeRequest(step.next_id, step.next_org, "a3", t)), "store.conflict");
    Write(store(), [&](Tx& tx) { return tx.UpdateRequest(current, from); });
    EXPECT_EQ(insert(MakeRequest(step.next_id, step.next_org, "a3", t)), "");
    open_id = step.next_id;
    open_org = step.next_org;
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto open = tx.FindOpenRequest("a3");
    if (!open) return Fail(open.error());
    EXPECT_TRUE(open->has_value() && (*open)->id == "r6" && (*open)->org_id == "o2");
    return {};
  }));
  // Reopening a closed request while another is open breaks the rule too.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.UpdateRequest(MakeRequest("r4", "o2", "a3"),
                                                RequestStatus::kExpired);
                      }),
            "store.conflict");
}

TEST_P(StoreContractTest, ConcurrentRequestSubmissionsOpenOne) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    return tx.InsertMember(MakeMember("o2", "a3", "user", kNow));
  });
  constexpr int kThreads = 4;
  std::atomic<int> winners{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string code = WriteCode(store(), [&](Tx& tx) -> Status {
        // Check-then-insert, as a submission does; only the index decides.
        auto open = tx.FindOpenRequest("a3");
        if (!open) return Fail(open.error());
        return tx.InsertRequest(
            MakeRequest("r" + std::to_string(t), t % 2 == 0 ? "o1" : "o2", "a3"));
      });
      if (code.empty()) {
        ++winners;
      } else if (code == "store.conflict") {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
}

TEST_P(StoreContractTest, UpdateRequestIsCompareAndSet) {
  SeedMembers(store());
  RecoveryRequest pending = MakeRequest("r1", "o1", "a3");
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(pending); });
  auto update = [&](const RecoveryRequest& r, RequestStatus expected) {
    return WriteCode(store(), [&](Tx& tx) { return tx.UpdateRequest(r, expected); });
  };
  RecoveryRequest approved = Approved(pending, "a1", kNow + 10, 1);
  RecoveryRequest declined = Declined(pending, "a2", kNow + 11);

  EXPECT_EQ(update(approved, RequestStatus::kApproved), "store.stale");
  EXPECT_EQ(update(approved, RequestStatus::kDeclined), "store.stale");
  EXPECT_EQ(update(MakeRequest("r9", "o1", "a3"), RequestStatus::kPending), "store.not_found");
  ASSERT_OK(FindRequestIn(store(), "r1"));
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(pending));

  // Two admins act on the same pending request: the first wins, the second
  // finds it changed.
  EXPECT_EQ(update(approved, RequestStatus::kPending), "");
  EXPECT_EQ(update(declined, RequestStatus::kPending), "store.stale");
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(approved));

  // id, org_id, account_id and created_at are never rewritten.
  RecoveryRequest moved = approved;
  moved.org_id = "o2";
  moved.account_id = "a2";
  moved.created_at = kNow + 99;
  moved.status = RequestStatus::kExpired;
  EXPECT_EQ(update(moved, RequestStatus::kApproved), "");
  RecoveryRequest expired = approved;
  expired.status = RequestStatus::kExpired;
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(expired));
  // A closed request's token hash can be cleared (stored as NULL again).
  RecoveryRequest cleared = expired;
  cleared.token_hash.clear();
  cleared.link_share.clear();
  EXPECT_EQ(update(cleared, RequestStatus::kExpired), "");
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(cleared));
}

TEST_P(StoreContractTest, ConcurrentRequestDecisionsHaveOneWinner) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(MakeRequest("r1", "o1", "a3")); });
  constexpr int kThreads = 4;
  std::atomic<int> winners{0};
  std::atomic<int> stale{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RecoveryRequest r = MakeRequest("r1", "o1", "a3");
      r = t % 2 == 0 ? Approved(r, "a" + std::to_string(t), kNow + t, static_cast<uint8_t>(t))
                     : Declined(r, "a" + std::to_string(t), kNow + t);
      std::string code = WriteCode(store(), [&](Tx& tx) -> Status {
        auto current = tx.FindRequest("r1");
        if (!current) return Fail(current.error());
        return tx.UpdateRequest(r, RequestStatus::kPending);
      });
      if (code.empty()) {
        ++winners;
      } else if (code == "store.stale") {
        ++stale;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(stale.load(), kThreads - 1);
}

TEST_P(StoreContractTest, ListRequestsKeysetPagesNewestFirst) {
  SeedMembers(store());
  // Members m00..m11 of o1, each with one request; several share a
  // created_at, so the id breaks ties. Every third one is declined, the rest
  // stay pending. a3 also has closed requests in o1, and o2 has one of its own.
  std::vector<RecoveryRequest> all;
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    KW_TRY(tx.InsertMember(MakeMember("o2", "a2", "admin", kNow)));
    KW_TRY(tx.InsertRequest(MakeRequest("zz", "o2", "a2", kNow + 50)));
    for (int i = 0; i < 12; ++i) {
      char id[4];
      std::snprintf(id, sizeof id, "%02d", i);
      std::string account = std::string("m") + id;
      KW_TRY(tx.InsertAccount(MakeAccount(account, account + "@example.com")));
      KW_TRY(tx.InsertMember(MakeMember("o1", account, "user", kNow)));
      // created_at is kNow + 0..3, not in id order.
      RecoveryRequest r = MakeRequest(std::string("r") + id, "o1", account, kNow + (i * 7) % 4);
      if (i % 3 == 0) r = Declined(r, "a1", kNow + 10);
      KW_TRY(tx.InsertRequest(r));
      all.push_back(r);
    }
    for (const char* id : {"x1", "x2"}) {
      RecoveryRequest r = Declined(MakeRequest(id, "o1", "a3", kNow + 2), "a2", kNow + 10);
      KW_TRY(tx.InsertRequest(r));
      all.push_back(r);
    }
    return {};
  });
  auto newest_first = [](const RecoveryRequest& a, const RecoveryRequest& b) {
    return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id);
  };
  std::sort(all.begin(), all.end(), newest_first);
  std::vector<RecoveryRequest> pending;
  for (const auto& r : all) {
    if (r.status == RequestStatus::kPending) pending.push_back(r);
  }
  ASSERT_EQ(pending.size(), 8u);

  auto page_through = [&](std::optional<RequestStatus> status, int64_t limit) {
    std::vector<RecoveryRequest> seen;
    std::optional<RequestCursor> after;
    for (int pages = 0;; ++pages) {
      EXPECT_LT(pages, 20);
      if (pages >= 20) break;
      std::vector<RecoveryRequest> page;
      EXPECT_TRUE(store().Read([&](Tx& tx) -> Status {
        auto r = tx.ListRequests("o1", status, after, limit);
        if (!r) return Fail(r.error());
        page = std::move(*r);
        return {};
      }));
      EXPECT_LE(static_cast<int64_t>(page.size()), limit);
      if (page.empty()) break;
      seen.insert(seen.end(), page.begin(), page.end());
      after = RequestCursor{page.back().created_at, page.back().id};
    }
    return seen;
  };
  for (int64_t limit : {1, 3, 5, 100}) {
    SCOPED_TRACE(limit);
    EXPECT_EQ(page_through(std::nullopt, limit), all);
    EXPECT_EQ(page_through(RequestStatus::kPending, limit), pending);
  }
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto approved = tx.ListRequests("o1", RequestStatus::kApproved, std::nullopt, 10);
    auto none = tx.ListRequests("o3", std::nullopt, std::nullopt, 10);
    auto zero = tx.ListRequests("o1", std::nullopt, std::nullopt, 0);
    auto o2 = tx.ListRequests("o2", RequestStatus::kPending, std::nullopt, 10);
    // A cursor between two rows of the same created_at.
    auto mid = tx.ListRequests("o1", std::nullopt, RequestCursor{kNow + 2, "x2"}, 2);
    if (!approved || !none || !zero || !o2 || !mid) return Fail(StoreError("test"));
    EXPECT_TRUE(approved->empty());
    EXPECT_TRUE(none->empty());
    EXPECT_TRUE(zero->empty());
    EXPECT_EQ(o2->size(), 1u);
    std::vector<std::string> ids;
    for (const auto& r : *mid) ids.push_back(r.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"x1", "r10"}));
    return {};
  }));
  // One member's requests (the console's search by email), and the counts.
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a3 = tx.ListAccountRequests("o1", "a3", std::nullopt, std::nullopt, 10);
    auto a3_next =
        tx.ListAccountRequests("o1", "a3", std::nullopt, RequestCursor{kNow + 2, "x2"}, 10);
    auto a3_pending = tx.ListAccountRequests("o1", "a3", RequestStatus::kPending, std::nullopt, 10);
    auto a3_declined =
        tx.ListAccountRequests("o1", "a3", RequestStatus::kDeclined, std::nullopt, 1);
    auto a2_elsewhere = tx.ListAccountRequests("o1", "a2", std::nullopt, std::nullopt, 10);
    auto counts = tx.CountRequestsByStatus("o1");
    auto no_counts = tx.CountRequestsByStatus("o3");
    if (!a3 || !a3_next || !a3_pending || !a3_declined || !a2_elsewhere || !counts || !no_counts) {
      return Fail(StoreError("test"));
    }
    auto ids_of = [](const std::vector<RecoveryRequest>& rows) {
      std::vector<std::string> ids;
      for (const auto& r : rows) ids.push_back(r.id);
      return ids;
    };
    EXPECT_EQ(ids_of(*a3), (std::vector<std::string>{"x2", "x1"}));
    EXPECT_EQ(ids_of(*a3_next), (std::vector<std::string>{"x1"}));
    EXPECT_TRUE(a3_pending->empty());
    EXPECT_EQ(ids_of(*a3_declined), (std::vector<std::string>{"x2"}));
    EXPECT_TRUE(a2_elsewhere->empty());
    EXPECT_EQ(*counts, (std::vector<std::pair<RequestStatus, int64_t>>{
                           {RequestStatus::kDeclined, 6}, {RequestStatus::kPending, 8}}));
    EXPECT_TRUE(no_counts->empty());
    return {};
  }));
}

TEST_P(StoreContractTest, ListExpiredOpenRequests) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    for (const char* account : {"a4", "a5", "a6"}) {
      KW_TRY(tx.InsertAccount(MakeAccount(account, std::string(account) + "@example.com")));
      KW_TRY(tx.InsertMember(MakeMember("o2", account, "user", kNow)));
    }
    auto with_deadline = [](RecoveryRequest r, int64_t expires_at) {
      r.expires_at = expires_at;
      return r;
    };
    // Open and past (or at) the deadline, in both organizations.
    KW_TRY(tx.InsertRequest(with_deadline(MakeRequest("p1", "o1", "a1"), kNow - 5)));
    KW_TRY(tx.InsertRequest(
        with_deadline(Approved(MakeRequest("p2", "o2", "a4"), "a1", kNow, 1), kNow - 9)));
    KW_TRY(tx.InsertRequest(with_deadline(MakeRequest("p3", "o1", "a2"), kNow)));
    // Open and still running.
    KW_TRY(tx.InsertRequest(with_deadline(MakeRequest("p4", "o1", "a3"), kNow + 1)));
    KW_TRY(tx.InsertRequest(
        with_deadline(Approved(MakeRequest("p5", "o2", "a5"), "a1", kNow, 2), kNow + 1)));
    // Closed, whatever their deadline.
    for (auto status :
         {RequestStatus::kDeclined, RequestStatus::kExpired, RequestStatus::kLinkUsed}) {
      RecoveryRequest r = MakeRequest("c" + std::to_string(static_cast<int>(status)), "o2", "a6");
      r.status = status;
      KW_TRY(tx.InsertRequest(with_deadline(r, kNow - 100)));
    }
    return {};
  });
  auto ids = [&](int64_t now, int64_t limit) {
    std::vector<std::string> out;
    EXPECT_TRUE(store().Read([&](Tx& tx) -> Status {
      auto r = tx.ListExpiredOpenRequests(now, limit);
      if (!r) return Fail(r.error());
      for (const auto& x : *r) out.push_back(x.id);
      return {};
    }));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(kNow, 10), (V{"p2", "p1", "p3"}));
  EXPECT_EQ(ids(kNow, 2), (V{"p2", "p1"}));
  EXPECT_EQ(ids(kNow - 6, 10), (V{"p2"}));
  EXPECT_EQ(ids(kNow + 1, 10), (V{"p2", "p1", "p3", "p4", "p5"}));
  EXPECT_EQ(ids(kNow, 0), V{});
}

TEST_P(StoreContractTest, RecoveryApprovals) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertRequest(MakeRequest("r1", "o1", "a3")));
    KW_TRY(tx.InsertRequest(MakeRequest("r2", "o1", "a2")));
    KW_TRY(tx.InsertApproval({"r1", "a2", kNow + 5}));
    KW_TRY(tx.InsertApproval({"r1", "a1", kNow + 7}));
    // Same time as a1's: the admin id breaks the tie.
    KW_TRY(tx.InsertApproval({"r1", "a0", kNow + 7}));
    return tx.InsertApproval({"r2", "a1", kNow + 1});
  });
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertApproval({"r1", "a2", kNow + 9});
                      }),
            "store.conflict");
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertApproval({"r9", "a2", kNow});
                      }),
            "store.not_found");
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto r1 = tx.ListApprovals("r1");
    auto r2 = tx.ListApprovals("r2");
    auto r9 = tx.ListApprovals("r9");
    if (!r1 || !r2 || !r9) return Fail(StoreError("test"));
    EXPECT_EQ(*r1, (std::vector<RecoveryApproval>{
                       {"r1", "a2", kNow + 5}, {"r1", "a0", kNow + 7}, {"r1", "a1", kNow + 7}}));
    EXPECT_EQ(*r2, (std::vector<RecoveryApproval>{{"r2", "a1", kNow + 1}}));
    EXPECT_TRUE(r9->empty());
    return {};
  }));
}

// A page's approvals and emails in one query each, whatever the page's size.
TEST_P(StoreContractTest, ApprovalsAndEmailsOfASetInOneQueryEach) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertRequest(MakeRequest("r1", "o1", "a3")));
    KW_TRY(tx.InsertRequest(MakeRequest("r2", "o1", "a2")));
    KW_TRY(tx.InsertRequest(MakeRequest("r3", "o1", "a1")));
    KW_TRY(tx.InsertApproval({"r2", "a1", kNow + 1}));
    KW_TRY(tx.InsertApproval({"r1", "a2", kNow + 5}));
    KW_TRY(tx.InsertApproval({"r1", "a1", kNow + 7}));
    return tx.InsertApproval({"r1", "a0", kNow + 7});
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    const std::vector<std::string> ids = {"r2", "r9", "r1", "r3", "it's \"quoted\""};
    auto approvals = tx.ListApprovalsOf(ids);
    if (!approvals) return Fail(approvals.error());
    EXPECT_EQ(*approvals, (std::vector<RecoveryApproval>{{"r1", "a2", kNow + 5},
                                                         {"r1", "a0", kNow + 7},
                                                         {"r1", "a1", kNow + 7},
                                                         {"r2", "a1", kNow + 1}}));
    auto none = tx.ListApprovalsOf({});
    if (!none) return Fail(none.error());
    EXPECT_TRUE(none->empty());
    const std::vector<std::string> accounts = {"a3", "a1", "a9", "a1"};
    auto emails = tx.AccountEmails(accounts);
    if (!emails) return Fail(emails.error());
    std::sort(emails->begin(), emails->end());
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(*emails, (Pairs{{"a1", "ann@example.com"}, {"a3", "cat@example.com"}}));
    auto no_emails = tx.AccountEmails({});
    if (!no_emails) return Fail(no_emails.error());
    EXPECT_TRUE(no_emails->empty());
    return {};
  }));
}

TEST_P(StoreContractTest, RemovingMemberOrAccountRemovesRequestsAndApprovals) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    KW_TRY(tx.InsertMember(MakeMember("o2", "a3", "user", kNow)));
    KW_TRY(tx.InsertMember(MakeMember("o2", "a2", "user", kNow)));
    // a3: an open request in o1, closed ones in o1 and o2; a2: one in each.
    KW_TRY(tx.InsertRequest(Approved(MakeRequest("a3-o1", "o1", "a3"), "a1", kNow, 1)));
    KW_TRY(tx.InsertRequest(Declined(MakeRequest("a3-o1-old", "o1", "a3"), "a1", kNow)));
    KW_TRY(tx.InsertRequest(Declined(MakeRequest("a3-o2", "o2", "a3"), "a1", kNow)));
    KW_TRY(tx.InsertRequest(MakeRequest("a2-o1", "o1", "a2")));
    KW_TRY(tx.InsertRequest(Declined(MakeRequest("a2-o2", "o2", "a2"), "a1", kNow)));
    for (const char* id : {"a3-o1", "a3-o2", "a2-o1", "a2-o2"}) {
      KW_TRY(tx.InsertApproval({id, "a1", kNow}));
    }
    return tx.AppendEvent(MakeEvent("o1", 1, "a3"));
  });
  auto exists = [&](const char* id) {
    auto r = FindRequestIn(store(), id);
    EXPECT_TRUE(r.has_value());
    return r && r->has_value();
  };
  auto approvals = [&](const char* id) {
    size_t n = 0;
    EXPECT_TRUE(store().Read([&](Tx& tx) -> Status {
      auto r = tx.ListApprovals(id);
      if (!r) return Fail(r.error());
      n = r->size();
      return {};
    }));
    return n;
  };

  // Removing a3 from o1 removes its requests there and their approvals.
  Write(store(), [&](Tx& tx) { return tx.DeleteMember("o1", "a3"); });
  EXPECT_FALSE(exists("a3-o1"));
  EXPECT_FALSE(exists("a3-o1-old"));
  EXPECT_EQ(approvals("a3-o1"), 0u);
  EXPECT_TRUE(exists("a3-o2"));
  EXPECT_EQ(approvals("a3-o2"), 1u);
  EXPECT_TRUE(exists("a2-o1"));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto open = tx.FindOpenRequest("a3");
    auto by_hash = tx.FindRequestByTokenHash(Bytes(32, 1));
    if (!open || !by_hash) return Fail(StoreError("test"));
    EXPECT_FALSE(open->has_value());
    EXPECT_FALSE(by_hash->has_value());
    return {};
  }));
  // Having no open request left, a3 may ask again in o2.
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(MakeRequest("a3-o2-new", "o2", "a3")); });

  // Deleting a2 removes its requests and approvals in every organization;
  // the organization's events stay.
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a2"); });
  EXPECT_FALSE(exists("a2-o1"));
  EXPECT_FALSE(exists("a2-o2"));
  EXPECT_EQ(approvals("a2-o1"), 0u);
  EXPECT_EQ(approvals("a2-o2"), 0u);
  EXPECT_TRUE(exists("a3-o2"));
  EXPECT_TRUE(exists("a3-o2-new"));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto o1 = tx.ListRequests("o1", std::nullopt, std::nullopt, 10);
    auto o2 = tx.ListRequests("o2", std::nullopt, std::nullopt, 10);
    auto events = tx.ListEvents("o1", 0, 10);
    if (!o1 || !o2 || !events) return Fail(StoreError("test"));
    EXPECT_TRUE(o1->empty());
    EXPECT_EQ(o2->size(), 2u);
    EXPECT_EQ(events->size(), 1u);
    return {};
  }));
}

TEST_P(StoreContractTest, RequestWritesRollBackAndNeedAWriteTransaction) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(MakeRequest("r1", "o1", "a3")); });
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertRequest(MakeRequest("r2", "o1", "a2")));
    KW_TRY(tx.UpdateRequest(Approved(MakeRequest("r1", "o1", "a3"), "a1", kNow, 1),
                            RequestStatus::kPending));
    KW_TRY(tx.InsertApproval({"r1", "a1", kNow}));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  for (int op = 0; op < 3; ++op) {
    auto s = store().Read([&](Tx& tx) -> Status {
      switch (op) {
        case 0:
          return tx.InsertRequest(MakeRequest("r2", "o1", "a2"));
        case 1:
          return tx.UpdateRequest(Declined(MakeRequest("r1", "o1", "a3"), "a1", kNow),
                                  RequestStatus::kPending);
        default:
          return tx.InsertApproval({"r1", "a1", kNow});
      }
    });
    ASSERT_FALSE(s) << op;
  }
  EXPECT_EQ(*FindRequestIn(store(), "r1"),
            std::optional<RecoveryRequest>(MakeRequest("r1", "o1", "a3")));
  EXPECT_FALSE(FindRequestIn(store(), "r2")->has_value());
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto approvals = tx.ListApprovals("r1");
    if (!approvals) return Fail(approvals.error());
    EXPECT_TRUE(approvals->empty());
    return {};
  }));
}

TEST_P(StoreContractTest, RunExclusiveRunsOneHolderOfATaskAtATime) {
  int ran = 0;
  auto outer = store().RunExclusive("sweep", [&]() -> Status {
    ++ran;
    // While "sweep" is held, a second holder is refused; another task runs.
    auto inner = store().RunExclusive("sweep", [&]() -> Status {
      ++ran;
      return {};
    });
    EXPECT_TRUE(inner.has_value());
    if (inner) {
      EXPECT_FALSE(*inner);
    }
    auto other = store().RunExclusive("other", [&]() -> Status {
      ran += 10;
      return {};
    });
    EXPECT_TRUE(other.has_value());
    if (other) {
      EXPECT_TRUE(*other);
    }
    // fn's own transactions work while the task is held.
    return store().Transact([&](Tx& tx) { return tx.CreateOrg(MakeOrg("o1", "a1")); });
  });
  ASSERT_OK(outer);
  EXPECT_TRUE(*outer);
  EXPECT_EQ(ran, 11);
  // Released afterwards, also after fn failed (its error is returned).
  auto failed = store().RunExclusive("sweep", [&]() -> Status { return Fail(StoreError("fn")); });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code(), "store.error");
  auto again = store().RunExclusive("sweep", [&]() -> Status { return {}; });
  ASSERT_OK(again);
  EXPECT_TRUE(*again);
}

// ---- server meta (core/server_identity.h) ----

// The value stored under name; nullopt (and a failure) when reading fails.
std::optional<Bytes> FindMetaIn(Store& store, std::string_view name) {
  std::optional<Bytes> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    auto r = tx.FindServerMeta(name);
    if (!r) return Fail(r.error());
    found = std::move(*r);
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return found;
}

TEST_P(StoreContractTest, ServerMetaIsWrittenOnce) {
  EXPECT_EQ(FindMetaIn(store(), "server_key_check"), std::nullopt);
  const Bytes check(32, 0xa5);
  const Bytes public_key(32, 0x07);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertServerMeta("server_key_check", check, kNow));
    // Visible in the transaction that wrote it.
    auto r = tx.FindServerMeta("server_key_check");
    if (!r) return Fail(r.error());
    EXPECT_EQ(*r, std::optional<Bytes>(check));
    return tx.InsertServerMeta("recovery_public_key", public_key, kNow);
  });
  EXPECT_EQ(FindMetaIn(store(), "server_key_check"), std::optional<Bytes>(check));
  EXPECT_EQ(FindMetaIn(store(), "recovery_public_key"), std::optional<Bytes>(public_key));
  // Names are exact (byte order), not folded.
  EXPECT_EQ(FindMetaIn(store(), "Server_Key_Check"), std::nullopt);
  // A second write of a name is refused and changes nothing.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertServerMeta("server_key_check", Bytes(32, 0x5a), kNow + 1);
                      }),
            "store.conflict");
  EXPECT_EQ(FindMetaIn(store(), "server_key_check"), std::optional<Bytes>(check));
}

TEST_P(StoreContractTest, ServerMetaWritesRollBackAndNeedAWriteTransaction) {
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertServerMeta("server_key_check", Bytes(32, 1), kNow));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(FindMetaIn(store(), "server_key_check"), std::nullopt);
  auto read_only = store().Read(
      [&](Tx& tx) { return tx.InsertServerMeta("server_key_check", Bytes(32, 1), kNow); });
  ASSERT_FALSE(read_only);
  EXPECT_EQ(FindMetaIn(store(), "server_key_check"), std::nullopt);
}

// Two nodes starting at once on a fresh database: each checks, then inserts;
// one insert wins, the others see store.conflict.
TEST_P(StoreContractTest, ConcurrentServerMetaInsertsHaveOneWinner) {
  constexpr int kThreads = 4;
  std::atomic<int> winners{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string code = WriteCode(store(), [&](Tx& tx) -> Status {
        auto found = tx.FindServerMeta("server_key_check");
        if (!found) return Fail(found.error());
        return tx.InsertServerMeta("server_key_check", Bytes(32, static_cast<uint8_t>(t)), kNow);
      });
      if (code.empty()) {
        ++winners;
      } else if (code == "store.conflict") {
        ++conflicts;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
}

// ---- device pairings ----

// A 22-character base64url id (a 16-byte sid), distinct per tag.
std::string PairingId(char tag) { return std::string(21, 'P') + tag; }

// A pairing as A posts it: waiting, nothing from B yet.
Pairing MakePairing(std::string id, std::string account_id, PairingState state,
                    int64_t created_at) {
  Pairing p;
  p.id = std::move(id);
  p.account_id = std::move(account_id);
  p.shown_device_id = "dev-shown";
  p.joining_device_id = "dev-joining";
  p.ya = Bytes(32, 0xa1);
  p.state = state;
  p.created_at = created_at;
  p.expires_at = created_at + 600;
  p.updated_at = created_at;
  return p;
}

// Every optional field set, with bytes of every value (NUL, 0xff, ...).
Pairing Released(Pairing p) {
  Bytes all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<uint8_t>(i));
  p.state = PairingState::kReleased;
  p.yb = Bytes(32, 0xb2);
  p.joining_name = "Ann's phone \xc3\xa9";
  p.joining_type = "mobile";
  p.tb = Bytes(32, 0x00);
  p.joining_address = "2001:db8::7";
  p.claim_hash = Bytes(32, 0xff);
  p.ta = Bytes(32, 0x7a);
  p.payload = all;
  p.updated_at = p.created_at + 30;
  return p;
}

void ExpectSamePairing(const Pairing& got, const Pairing& want) {
  SCOPED_TRACE("pairing " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.account_id, want.account_id);
  EXPECT_EQ(got.shown_device_id, want.shown_device_id);
  EXPECT_EQ(got.joining_device_id, want.joining_device_id);
  EXPECT_EQ(got.ya, want.ya);
  EXPECT_EQ(PairingStateName(got.state), PairingStateName(want.state));
  EXPECT_EQ(got.yb, want.yb);
  EXPECT_EQ(got.joining_name, want.joining_name);
  EXPECT_EQ(got.joining_type, want.joining_type);
  EXPECT_EQ(got.tb, want.tb);
  EXPECT_EQ(got.joining_address, want.joining_address);
  EXPECT_EQ(got.claim_hash, want.claim_hash);
  EXPECT_EQ(got.ta, want.ta);
  EXPECT_EQ(got.payload, want.payload);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.expires_at, want.expires_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
}

// The pairing stored under id; nullopt (and a failure) when reading fails.
std::optional<Pairing> FindPairingIn(Store& store, std::string_view id) {
  std::optional<Pairing> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    auto r = tx.FindPairing(id);
    if (!r) return Fail(r.error());
    found = std::move(*r);
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return found;
}

// The id of the account's newest waiting pairing, "" when none.
std::string WaitingPairingId(Store& store, std::string_view account_id) {
  std::string id;
  auto s = store.Read([&](Tx& tx) -> Status {
    auto r = tx.FindWaitingPairing(account_id);
    if (!r) return Fail(r.error());
    if (*r) id = (*r)->id;
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return id;
}

TEST_P(StoreContractTest, PairingRoundTripsEveryField) {
  Write(store(), [&](Tx& tx) { return tx.InsertAccount(MakeAccount("a1", "ann@example.com")); });
  // As posted (every optional field empty), a decoy (no account) and one
  // with every field set.
  const Pairing posted = MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow);
  const Pairing decoy = MakePairing(PairingId('b'), "", PairingState::kWaiting, kNow + 1);
  const Pairing full = Released(MakePairing(PairingId('c'), "a1", PairingState::kWaiting, kNow));
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertPairing(posted));
    KW_TRY(tx.InsertPairing(decoy));
    KW_TRY(tx.InsertPairing(full));
    // Visible in the transaction that wrote it.
    auto r = tx.FindPairing(full.id);
    if (!r) return Fail(r.error());
    EXPECT_TRUE(r->has_value());
    return {};
  });
  for (const Pairing& want : {posted, decoy, full}) {
    auto got = FindPairingIn(store(), want.id);
    ASSERT_TRUE(got.has_value()) << want.id;
    ExpectSamePairing(*got, want);
  }
  // Ids are exact (byte order), not folded; an unknown id is no pairing.
  EXPECT_EQ(FindPairingIn(store(), std::string(21, 'p') + 'a'), std::nullopt);
  EXPECT_EQ(FindPairingIn(store(), PairingId('z')), std::nullopt);
}

TEST_P(StoreContractTest, PairingIdIsUniqueAndNeedsAnExistingAccount) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    return tx.InsertPairing(MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow));
  });
  // The same id again, for another account or as a decoy, is refused.
  for (std::string account : {"a1", "a2", ""}) {
    EXPECT_EQ(WriteCode(store(),
                        [&](Tx& tx) {
                          return tx.InsertPairing(MakePairing(PairingId('a'), account,
                                                              PairingState::kAnswered, kNow + 5));
                        }),
              "store.conflict")
        << account;
  }
  auto kept = FindPairingIn(store(), PairingId('a'));
  ASSERT_TRUE(kept.has_value());
  ExpectSamePairing(*kept, MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow));
  // A pairing names an existing account or none.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertPairing(
                            MakePairing(PairingId('b'), "nobody", PairingState::kWaiting, kNow));
                      }),
            "store.not_found");
  EXPECT_EQ(FindPairingIn(store(), PairingId('b')), std::nullopt);
}

TEST_P(StoreContractTest, FindPairingOfDevicePicksTheNewestThatMadeIt) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    Pairing old = MakePairing(PairingId('a'), "a1", PairingState::kClosed, kNow);
    old.joining_device_id = "dev-new";
    Pairing done = MakePairing(PairingId('b'), "a1", PairingState::kDone, kNow + 5);
    done.joining_device_id = "dev-new";
    Pairing other_device = MakePairing(PairingId('c'), "a1", PairingState::kDone, kNow + 9);
    other_device.joining_device_id = "dev-other";
    Pairing other_account = MakePairing(PairingId('d'), "a2", PairingState::kDone, kNow + 9);
    other_account.joining_device_id = "dev-new";
    KW_TRY(tx.InsertPairing(old));
    KW_TRY(tx.InsertPairing(done));
    KW_TRY(tx.InsertPairing(other_device));
    return tx.InsertPairing(other_account);
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto found, tx.FindPairingOfDevice("a1", "dev-new"));
    EXPECT_TRUE(found.has_value() && found->id == PairingId('b'));
    KW_ASSIGN_OR_RETURN(auto none, tx.FindPairingOfDevice("a1", "dev-unknown"));
    EXPECT_FALSE(none.has_value());
    KW_ASSIGN_OR_RETURN(auto decoyless, tx.FindPairingOfDevice("", "dev-new"));
    EXPECT_FALSE(decoyless.has_value());
    return {};
  }));
}

TEST_P(StoreContractTest, FindWaitingPairingPicksTheAccountsNewestWaitingOne) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a3", "cy@example.com")));
    return {};
  });
  EXPECT_EQ(WaitingPairingId(store(), "a1"), "");
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('m'), "a1", PairingState::kWaiting, kNow)));
    // The newest waiting one, even though it has expired; of two created in
    // the same second, the greater id.
    Pairing newest = MakePairing(PairingId('k'), "a1", PairingState::kWaiting, kNow + 10);
    newest.expires_at = kNow - 1;
    KW_TRY(tx.InsertPairing(newest));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('j'), "a1", PairingState::kWaiting, kNow + 10)));
    // Newer, but not waiting.
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('n'), "a1", PairingState::kAnswered, kNow + 20)));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('o'), "a1", PairingState::kClosed, kNow + 30)));
    KW_TRY(tx.InsertPairing(
        Released(MakePairing(PairingId('p'), "a1", PairingState::kWaiting, kNow + 40))));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('q'), "a1", PairingState::kDone, kNow + 50)));
    // Newer and waiting, but another account's or a decoy.
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('r'), "a2", PairingState::kWaiting, kNow + 60)));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('s'), "", PairingState::kWaiting, kNow + 70)));
    // In the transaction that wrote them.
    auto r = tx.FindWaitingPairing("a1");
    if (!r) return Fail(r.error());
    EXPECT_TRUE(r->has_value() && (*r)->id == PairingId('k'));
    return {};
  });
  EXPECT_EQ(WaitingPairingId(store(), "a1"), PairingId('k'));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto r = tx.FindWaitingPairing("a1");
    if (!r) return Fail(r.error());
    EXPECT_TRUE(r->has_value());
    if (*r) {
      Pairing want = MakePairing(PairingId('k'), "a1", PairingState::kWaiting, kNow + 10);
      want.expires_at = kNow - 1;
      ExpectSamePairing(**r, want);
    }
    return {};
  }));
  EXPECT_EQ(WaitingPairingId(store(), "a2"), PairingId('r'));
  EXPECT_EQ(WaitingPairingId(store(), "a3"), "");
  EXPECT_EQ(WaitingPairingId(store(), "nobody"), "");
  // A decoy belongs to no account, not to the empty one.
  EXPECT_EQ(WaitingPairingId(store(), ""), "");
  // Once the newest is answered, the next newest waiting one.
  Write(store(), [&](Tx& tx) -> Status {
    auto p = tx.FindPairing(PairingId('k'));
    if (!p) return Fail(p.error());
    Pairing answered = **p;
    answered.state = PairingState::kAnswered;
    return tx.UpdatePairing(answered);
  });
  EXPECT_EQ(WaitingPairingId(store(), "a1"), PairingId('j'));
}

TEST_P(StoreContractTest, UpdatePairingReplacesTheMutableFields) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow)));
    return tx.InsertPairing(MakePairing(PairingId('b'), "a1", PairingState::kWaiting, kNow));
  });
  const Pairing original = MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow);
  // Every field changes but id, account_id and created_at, which are kept
  // whatever the update says.
  Pairing changed = Released(original);
  changed.shown_device_id = "dev-shown-2";
  changed.joining_device_id = "dev-joining-2";
  changed.ya = Bytes(32, 0xa2);
  changed.expires_at = kNow + 900;
  changed.updated_at = kNow + 31;
  Pairing request = changed;
  request.account_id = "a2";
  request.created_at = kNow + 99;
  Write(store(), [&](Tx& tx) { return tx.UpdatePairing(request); });
  auto got = FindPairingIn(store(), original.id);
  ASSERT_TRUE(got.has_value());
  ExpectSamePairing(*got, changed);
  // The other pairing is untouched.
  auto other = FindPairingIn(store(), PairingId('b'));
  ASSERT_TRUE(other.has_value());
  ExpectSamePairing(*other, MakePairing(PairingId('b'), "a1", PairingState::kWaiting, kNow));

  // Empty fields are written too: back to an answer-less pairing, closed.
  Pairing cleared = original;
  cleared.state = PairingState::kClosed;
  cleared.updated_at = kNow + 40;
  Write(store(), [&](Tx& tx) { return tx.UpdatePairing(cleared); });
  got = FindPairingIn(store(), original.id);
  ASSERT_TRUE(got.has_value());
  ExpectSamePairing(*got, cleared);

  // Every state round-trips.
  for (PairingState state : {PairingState::kWaiting, PairingState::kAnswered,
                             PairingState::kReleased, PairingState::kDone, PairingState::kClosed}) {
    Pairing p = cleared;
    p.state = state;
    Write(store(), [&](Tx& tx) { return tx.UpdatePairing(p); });
    got = FindPairingIn(store(), original.id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->state, state) << PairingStateName(state);
  }

  // An unknown id is store.not_found and creates nothing.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.UpdatePairing(
                            MakePairing(PairingId('z'), "a1", PairingState::kAnswered, kNow));
                      }),
            "store.not_found");
  EXPECT_EQ(FindPairingIn(store(), PairingId('z')), std::nullopt);
}

TEST_P(StoreContractTest, CloseOpenPairingsClosesWaitingAndAnsweredOnly) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow)));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('b'), "a1", PairingState::kWaiting, kNow + 1)));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('c'), "a1", PairingState::kAnswered, kNow + 2)));
    KW_TRY(tx.InsertPairing(
        Released(MakePairing(PairingId('d'), "a1", PairingState::kWaiting, kNow + 3))));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('e'), "a1", PairingState::kDone, kNow + 4)));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('f'), "a1", PairingState::kClosed, kNow + 5)));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('g'), "a2", PairingState::kWaiting, kNow + 6)));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('h'), "a2", PairingState::kAnswered, kNow + 7)));
    return tx.InsertPairing(MakePairing(PairingId('i'), "", PairingState::kWaiting, kNow + 8));
  });
  auto close = [&](std::string_view account, int64_t now) {
    int64_t closed = -1;
    Write(store(), [&](Tx& tx) -> Status {
      auto n = tx.CloseOpenPairings(account, now);
      if (!n) return Fail(n.error());
      closed = *n;
      return {};
    });
    return closed;
  };
  EXPECT_EQ(close("a1", kNow + 100), 3);
  for (char tag : {'a', 'b', 'c'}) {
    auto p = FindPairingIn(store(), PairingId(tag));
    ASSERT_TRUE(p.has_value()) << tag;
    EXPECT_EQ(p->state, PairingState::kClosed) << tag;
    EXPECT_EQ(p->updated_at, kNow + 100) << tag;
    // Nothing else changes.
    EXPECT_EQ(p->created_at, kNow + (tag - 'a')) << tag;
    EXPECT_EQ(p->expires_at, kNow + (tag - 'a') + 600) << tag;
    EXPECT_EQ(p->ya, Bytes(32, 0xa1)) << tag;
  }
  // Released, done and already closed pairings, the other account's and
  // the decoy are left as they were.
  auto same = [&](const Pairing& want) {
    auto got = FindPairingIn(store(), want.id);
    ASSERT_TRUE(got.has_value()) << want.id;
    ExpectSamePairing(*got, want);
  };
  same(Released(MakePairing(PairingId('d'), "a1", PairingState::kWaiting, kNow + 3)));
  same(MakePairing(PairingId('e'), "a1", PairingState::kDone, kNow + 4));
  same(MakePairing(PairingId('f'), "a1", PairingState::kClosed, kNow + 5));
  same(MakePairing(PairingId('g'), "a2", PairingState::kWaiting, kNow + 6));
  same(MakePairing(PairingId('h'), "a2", PairingState::kAnswered, kNow + 7));
  same(MakePairing(PairingId('i'), "", PairingState::kWaiting, kNow + 8));
  EXPECT_EQ(WaitingPairingId(store(), "a1"), "");
  EXPECT_EQ(WaitingPairingId(store(), "a2"), PairingId('g'));
  // Nothing left open: none closed, and the closed ones keep their time.
  EXPECT_EQ(close("a1", kNow + 200), 0);
  auto first = FindPairingIn(store(), PairingId('a'));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->updated_at, kNow + 100);
  EXPECT_EQ(close("nobody", kNow + 200), 0);
  // Not the decoys either: they belong to no account.
  EXPECT_EQ(close("", kNow + 200), 0);
  same(MakePairing(PairingId('i'), "", PairingState::kWaiting, kNow + 8));
  EXPECT_EQ(close("a2", kNow + 300), 2);
  EXPECT_EQ(WaitingPairingId(store(), "a2"), "");
}

TEST_P(StoreContractTest, DeleteExpiredPairings) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    // Expiring at kNow + 600, kNow + 610 and (a decoy) kNow + 590.
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow)));
    KW_TRY(tx.InsertPairing(
        Released(MakePairing(PairingId('b'), "a1", PairingState::kWaiting, kNow + 10))));
    return tx.InsertPairing(MakePairing(PairingId('c'), "", PairingState::kWaiting, kNow - 10));
  });
  auto sweep = [&](int64_t now) {
    int64_t deleted = -1;
    Write(store(), [&](Tx& tx) -> Status {
      auto n = tx.DeleteExpiredPairings(now);
      if (!n) return Fail(n.error());
      deleted = *n;
      return {};
    });
    return deleted;
  };
  EXPECT_EQ(sweep(kNow + 590), 0);  // expired before now: strictly
  EXPECT_EQ(sweep(kNow + 600), 1);  // the decoy
  EXPECT_EQ(FindPairingIn(store(), PairingId('c')), std::nullopt);
  EXPECT_TRUE(FindPairingIn(store(), PairingId('a')).has_value());
  EXPECT_EQ(sweep(kNow + 601), 1);
  EXPECT_EQ(FindPairingIn(store(), PairingId('a')), std::nullopt);
  EXPECT_TRUE(FindPairingIn(store(), PairingId('b')).has_value());
  EXPECT_EQ(sweep(kNow + 601), 0);
  EXPECT_EQ(sweep(kNow + 611), 1);
  EXPECT_EQ(FindPairingIn(store(), PairingId('b')), std::nullopt);
}

TEST_P(StoreContractTest, DeletingTheAccountDeletesItsPairings) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow)));
    KW_TRY(tx.InsertPairing(
        Released(MakePairing(PairingId('b'), "a1", PairingState::kWaiting, kNow + 1))));
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('c'), "a2", PairingState::kWaiting, kNow)));
    return tx.InsertPairing(MakePairing(PairingId('d'), "", PairingState::kWaiting, kNow));
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a1"); });
  EXPECT_EQ(FindPairingIn(store(), PairingId('a')), std::nullopt);
  EXPECT_EQ(FindPairingIn(store(), PairingId('b')), std::nullopt);
  EXPECT_EQ(WaitingPairingId(store(), "a1"), "");
  EXPECT_TRUE(FindPairingIn(store(), PairingId('c')).has_value());
  EXPECT_TRUE(FindPairingIn(store(), PairingId('d')).has_value());
  // The id is free again.
  Write(store(), [&](Tx& tx) {
    return tx.InsertPairing(MakePairing(PairingId('a'), "a2", PairingState::kWaiting, kNow + 5));
  });
  EXPECT_EQ(WaitingPairingId(store(), "a2"), PairingId('a'));
}

TEST_P(StoreContractTest, PairingWritesRollBackAndNeedAWriteTransaction) {
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    return tx.InsertPairing(MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow));
  });
  const Pairing stored = MakePairing(PairingId('a'), "a1", PairingState::kWaiting, kNow);
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertPairing(MakePairing(PairingId('b'), "a1", PairingState::kWaiting, kNow)));
    KW_TRY(tx.UpdatePairing(Released(stored)));
    KW_TRY(Discard(tx.CloseOpenPairings("a1", kNow + 1)));
    KW_TRY(Discard(tx.DeleteExpiredPairings(kNow + 10'000)));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(FindPairingIn(store(), PairingId('b')), std::nullopt);
  auto kept = FindPairingIn(store(), PairingId('a'));
  ASSERT_TRUE(kept.has_value());
  ExpectSamePairing(*kept, stored);
  EXPECT_FALSE(store().Read([&](Tx& tx) {
    return tx.InsertPairing(MakePairing(PairingId('c'), "a1", PairingState::kWaiting, kNow));
  }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return tx.UpdatePairing(Released(stored)); }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return Discard(tx.CloseOpenPairings("a1", kNow)); }));
  EXPECT_FALSE(
      store().Read([&](Tx& tx) { return Discard(tx.DeleteExpiredPairings(kNow + 10'000)); }));
  EXPECT_EQ(FindPairingIn(store(), PairingId('c')), std::nullopt);
  kept = FindPairingIn(store(), PairingId('a'));
  ASSERT_TRUE(kept.has_value());
  ExpectSamePairing(*kept, stored);
}

// ---- cloud snapshots ----

// A 22-character base64url id, distinct per tag.
std::string SnapshotId(char tag) { return std::string(21, 'S') + tag; }

// A snapshot as its upload starts: uploading, not ready.
Snapshot MakeSnapshot(std::string id, std::string account_id, int64_t created_at,
                      SnapshotState state = SnapshotState::kUploading) {
  Snapshot x;
  x.id = std::move(id);
  x.account_id = std::move(account_id);
  x.state = state;
  x.size = 3 * 1024 * 1024 + 17;
  x.parts = 4;
  x.created_at = created_at;
  x.ready_at = state == SnapshotState::kReady ? created_at + 30 : 0;
  return x;
}

// Bytes 0..255, `n` of them, starting at `first`: every byte value crosses.
Bytes PartBytes(size_t n, uint8_t first) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(first + i);
  return b;
}

// The snapshot stored under id; nullopt (and a failure) when reading fails.
std::optional<Snapshot> FindSnapshotIn(Store& store, std::string_view id) {
  std::optional<Snapshot> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(found, tx.FindSnapshot(id));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return found;
}

// The ids of the account's snapshots in listing order.
std::vector<std::string> SnapshotIds(Store& store, std::string_view account_id) {
  std::vector<std::string> ids;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto list, tx.ListSnapshots(account_id));
    for (const auto& x : list) ids.push_back(x.id);
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return ids;
}

// Part n of the snapshot; nullopt when absent.
std::optional<Bytes> FindPartIn(Store& store, std::string_view snapshot_id, uint32_t n) {
  std::optional<Bytes> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(found, tx.FindSnapshotPart(snapshot_id, n));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return found;
}

// {parts, bytes} stored for the snapshot; {-1, -1} when reading fails.
std::pair<int64_t, int64_t> PartsTotalIn(Store& store, std::string_view snapshot_id) {
  std::pair<int64_t, int64_t> total{-1, -1};
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto t, tx.CountSnapshotParts(snapshot_id));
    total = {t.parts, t.bytes};
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return total;
}

// Accounts a1 and a2.
void SeedTwoAccounts(Store& store) {
  Write(store, [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    return tx.InsertAccount(MakeAccount("a2", "bob@example.com"));
  });
}

TEST_P(StoreContractTest, SnapshotsRoundTripAndListNewestFirst) {
  SeedTwoAccounts(store());
  const Snapshot oldest = MakeSnapshot(SnapshotId('a'), "a1", kNow);
  Snapshot ready = MakeSnapshot(SnapshotId('b'), "a1", kNow + 10, SnapshotState::kReady);
  ready.size = (uint64_t{1} << 40) + 5;  // past 32 bits
  ready.parts = 0xffffffffu;
  // Created in the same second as `ready`: the greater id comes first.
  const Snapshot tie = MakeSnapshot(SnapshotId('c'), "a1", kNow + 10);
  const Snapshot other = MakeSnapshot(SnapshotId('d'), "a2", kNow + 99, SnapshotState::kReady);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(oldest));
    KW_TRY(tx.InsertSnapshot(ready));
    KW_TRY(tx.InsertSnapshot(tie));
    KW_TRY(tx.InsertSnapshot(other));
    // Visible in the transaction that wrote it.
    KW_ASSIGN_OR_RETURN(auto found, tx.FindSnapshot(tie.id));
    EXPECT_EQ(found, std::optional<Snapshot>(tie));
    return {};
  });
  for (const Snapshot& want : {oldest, ready, tie, other}) {
    EXPECT_EQ(FindSnapshotIn(store(), want.id), std::optional<Snapshot>(want)) << want.id;
  }
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('z')), std::nullopt);
  // Ids are exact (byte order), not folded.
  EXPECT_EQ(FindSnapshotIn(store(), std::string(21, 's') + 'a'), std::nullopt);

  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto a1, tx.ListSnapshots("a1"));
    EXPECT_EQ(a1, (std::vector<Snapshot>{tie, ready, oldest}));
    KW_ASSIGN_OR_RETURN(auto a2, tx.ListSnapshots("a2"));
    EXPECT_EQ(a2, std::vector<Snapshot>{other});
    KW_ASSIGN_OR_RETURN(auto none, tx.ListSnapshots("nobody"));
    EXPECT_TRUE(none.empty());
    return {};
  }));
}

TEST_P(StoreContractTest, SnapshotIdIsUniqueAndNeedsAnExistingAccount) {
  SeedTwoAccounts(store());
  const Snapshot stored = MakeSnapshot(SnapshotId('a'), "a1", kNow);
  Write(store(), [&](Tx& tx) { return tx.InsertSnapshot(stored); });
  // The same id again, for this or another account, in any state.
  for (std::string account : {"a1", "a2"}) {
    EXPECT_EQ(WriteCode(store(),
                        [&](Tx& tx) {
                          return tx.InsertSnapshot(MakeSnapshot(SnapshotId('a'), account, kNow + 5,
                                                                SnapshotState::kReady));
                        }),
              "store.conflict")
        << account;
  }
  EXPECT_EQ(FindSnapshotIn(store(), stored.id), std::optional<Snapshot>(stored));
  EXPECT_EQ(SnapshotIds(store(), "a2"), std::vector<std::string>{});
  // A snapshot belongs to an existing account.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertSnapshot(MakeSnapshot(SnapshotId('b'), "nobody", kNow));
                      }),
            "store.not_found");
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('b')), std::nullopt);
}

TEST_P(StoreContractTest, UpdateSnapshotWritesStateAndReadyAtOnly) {
  SeedTwoAccounts(store());
  const Snapshot original = MakeSnapshot(SnapshotId('a'), "a1", kNow);
  const Snapshot untouched = MakeSnapshot(SnapshotId('b'), "a1", kNow + 1);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(original));
    return tx.InsertSnapshot(untouched);
  });
  // Everything else the update says is ignored.
  Snapshot update = original;
  update.state = SnapshotState::kReady;
  update.ready_at = kNow + 60;
  update.account_id = "a2";
  update.size = 1;
  update.parts = 1;
  update.created_at = kNow + 99;
  Write(store(), [&](Tx& tx) { return tx.UpdateSnapshot(update); });
  Snapshot want = original;
  want.state = SnapshotState::kReady;
  want.ready_at = kNow + 60;
  EXPECT_EQ(FindSnapshotIn(store(), original.id), std::optional<Snapshot>(want));
  EXPECT_EQ(FindSnapshotIn(store(), untouched.id), std::optional<Snapshot>(untouched));
  EXPECT_EQ(SnapshotIds(store(), "a2"), std::vector<std::string>{});
  // And back.
  Write(store(), [&](Tx& tx) { return tx.UpdateSnapshot(original); });
  EXPECT_EQ(FindSnapshotIn(store(), original.id), std::optional<Snapshot>(original));
  // An unknown id is store.not_found and creates nothing.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.UpdateSnapshot(MakeSnapshot(SnapshotId('z'), "a1", kNow));
                      }),
            "store.not_found");
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('z')), std::nullopt);
}

TEST_P(StoreContractTest, SnapshotPartsPutReplaceFindCount) {
  SeedTwoAccounts(store());
  const std::string a = SnapshotId('a');
  const std::string b = SnapshotId('b');
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(a, "a1", kNow)));
    return tx.InsertSnapshot(MakeSnapshot(b, "a1", kNow));
  });
  EXPECT_EQ(PartsTotalIn(store(), a), (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(FindPartIn(store(), a, 0), std::nullopt);
  const Bytes p0 = PartBytes(300, 0);  // every byte value, NUL and 0xff included
  const Bytes p1 = PartBytes(20, 7);
  const Bytes last = PartBytes(5, 250);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.PutSnapshotPart(a, 0, p0));
    KW_TRY(tx.PutSnapshotPart(a, 1, p1));
    KW_TRY(tx.PutSnapshotPart(a, 0xffffffffu, last));
    KW_TRY(tx.PutSnapshotPart(b, 1, Bytes(64, 9)));
    // Visible in the transaction that wrote them.
    KW_ASSIGN_OR_RETURN(auto total, tx.CountSnapshotParts(a));
    EXPECT_EQ(total.parts, 3);
    EXPECT_EQ(total.bytes, 325);
    return {};
  });
  EXPECT_EQ(FindPartIn(store(), a, 0), std::optional<Bytes>(p0));
  EXPECT_EQ(FindPartIn(store(), a, 1), std::optional<Bytes>(p1));
  EXPECT_EQ(FindPartIn(store(), a, 0xffffffffu), std::optional<Bytes>(last));
  EXPECT_EQ(FindPartIn(store(), a, 2), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), b, 1), std::optional<Bytes>(Bytes(64, 9)));
  EXPECT_EQ(FindPartIn(store(), b, 0), std::nullopt);
  EXPECT_EQ(PartsTotalIn(store(), a), (std::pair<int64_t, int64_t>{3, 325}));
  EXPECT_EQ(PartsTotalIn(store(), b), (std::pair<int64_t, int64_t>{1, 64}));
  EXPECT_EQ(PartsTotalIn(store(), SnapshotId('z')), (std::pair<int64_t, int64_t>{0, 0}));

  // Putting a part again replaces it: same count, the new size.
  const Bytes p1_again = PartBytes(7, 100);
  Write(store(), [&](Tx& tx) { return tx.PutSnapshotPart(a, 1, p1_again); });
  EXPECT_EQ(FindPartIn(store(), a, 1), std::optional<Bytes>(p1_again));
  EXPECT_EQ(FindPartIn(store(), a, 0), std::optional<Bytes>(p0));
  EXPECT_EQ(PartsTotalIn(store(), a), (std::pair<int64_t, int64_t>{3, 312}));
  EXPECT_EQ(FindPartIn(store(), b, 1), std::optional<Bytes>(Bytes(64, 9)));
  // An empty part stays a part (zero bytes, not NULL).
  Write(store(), [&](Tx& tx) { return tx.PutSnapshotPart(a, 2, Bytes{}); });
  EXPECT_EQ(FindPartIn(store(), a, 2), std::optional<Bytes>(Bytes{}));
  EXPECT_EQ(PartsTotalIn(store(), a), (std::pair<int64_t, int64_t>{4, 312}));

  // A part of a snapshot that does not exist is store.not_found.
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.PutSnapshotPart(SnapshotId('z'), 0, p0); }),
            "store.not_found");
  EXPECT_EQ(FindPartIn(store(), SnapshotId('z'), 0), std::nullopt);
}

TEST_P(StoreContractTest, DeleteSnapshotDeletesItsParts) {
  SeedTwoAccounts(store());
  const std::string a = SnapshotId('a');
  const std::string b = SnapshotId('b');
  const Snapshot kept = MakeSnapshot(b, "a1", kNow, SnapshotState::kReady);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(a, "a1", kNow)));
    KW_TRY(tx.InsertSnapshot(kept));
    KW_TRY(tx.PutSnapshotPart(a, 0, Bytes(10, 1)));
    KW_TRY(tx.PutSnapshotPart(a, 1, Bytes(10, 2)));
    return tx.PutSnapshotPart(b, 0, Bytes(10, 3));
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteSnapshot(a); });
  EXPECT_EQ(FindSnapshotIn(store(), a), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), a, 0), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), a, 1), std::nullopt);
  EXPECT_EQ(PartsTotalIn(store(), a), (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(FindSnapshotIn(store(), b), std::optional<Snapshot>(kept));
  EXPECT_EQ(FindPartIn(store(), b, 0), std::optional<Bytes>(Bytes(10, 3)));
  EXPECT_EQ(SnapshotIds(store(), "a1"), std::vector<std::string>{b});
  // Gone: store.not_found the second time.
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.DeleteSnapshot(a); }), "store.not_found");
  // The id is free again, without the old parts.
  Write(store(), [&](Tx& tx) { return tx.InsertSnapshot(MakeSnapshot(a, "a2", kNow + 5)); });
  EXPECT_EQ(PartsTotalIn(store(), a), (std::pair<int64_t, int64_t>{0, 0}));
  EXPECT_EQ(SnapshotIds(store(), "a2"), std::vector<std::string>{a});
}

TEST_P(StoreContractTest, DeleteAccountSnapshots) {
  SeedTwoAccounts(store());
  const Snapshot others = MakeSnapshot(SnapshotId('c'), "a2", kNow);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('a'), "a1", kNow)));
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('b'), "a1", kNow, SnapshotState::kReady)));
    KW_TRY(tx.InsertSnapshot(others));
    KW_TRY(tx.PutSnapshotPart(SnapshotId('a'), 0, Bytes(8, 1)));
    KW_TRY(tx.PutSnapshotPart(SnapshotId('b'), 0, Bytes(8, 2)));
    return tx.PutSnapshotPart(SnapshotId('c'), 0, Bytes(8, 3));
  });
  auto delete_all = [&](std::string_view account) {
    int64_t deleted = -1;
    Write(store(), [&](Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(deleted, tx.DeleteAccountSnapshots(account));
      return {};
    });
    return deleted;
  };
  EXPECT_EQ(delete_all("a1"), 2);
  EXPECT_EQ(SnapshotIds(store(), "a1"), std::vector<std::string>{});
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('a')), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), SnapshotId('a'), 0), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), SnapshotId('b'), 0), std::nullopt);
  // The other account's snapshot and parts stay.
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('c')), std::optional<Snapshot>(others));
  EXPECT_EQ(FindPartIn(store(), SnapshotId('c'), 0), std::optional<Bytes>(Bytes(8, 3)));
  EXPECT_EQ(delete_all("a1"), 0);
  EXPECT_EQ(delete_all("nobody"), 0);
  // The account itself stays.
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById("a1"));
    EXPECT_TRUE(account.has_value());
    return {};
  }));
}

TEST_P(StoreContractTest, DeleteStaleSnapshotsDeletesOldUploadsOnly) {
  SeedTwoAccounts(store());
  Write(store(), [&](Tx& tx) -> Status {
    // Uploading and created before the cutoff: stale.
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('a'), "a1", kNow - 100)));
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('b'), "a2", kNow - 1)));
    // Uploading, created at the cutoff: not before it.
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('c'), "a1", kNow)));
    // Ready, however old.
    KW_TRY(
        tx.InsertSnapshot(MakeSnapshot(SnapshotId('d'), "a1", kNow - 1000, SnapshotState::kReady)));
    KW_TRY(tx.PutSnapshotPart(SnapshotId('a'), 0, Bytes(4, 1)));
    KW_TRY(tx.PutSnapshotPart(SnapshotId('b'), 0, Bytes(4, 2)));
    KW_TRY(tx.PutSnapshotPart(SnapshotId('c'), 0, Bytes(4, 3)));
    return tx.PutSnapshotPart(SnapshotId('d'), 0, Bytes(4, 4));
  });
  auto sweep = [&](int64_t before) {
    int64_t deleted = -1;
    Write(store(), [&](Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(deleted, tx.DeleteStaleSnapshots(before));
      return {};
    });
    return deleted;
  };
  EXPECT_EQ(sweep(kNow - 100), 0);  // created before: strictly
  EXPECT_EQ(sweep(kNow), 2);
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('a')), std::nullopt);
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('b')), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), SnapshotId('a'), 0), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), SnapshotId('b'), 0), std::nullopt);
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('c')),
            std::optional<Snapshot>(MakeSnapshot(SnapshotId('c'), "a1", kNow)));
  EXPECT_EQ(FindPartIn(store(), SnapshotId('c'), 0), std::optional<Bytes>(Bytes(4, 3)));
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('d')),
            std::optional<Snapshot>(
                MakeSnapshot(SnapshotId('d'), "a1", kNow - 1000, SnapshotState::kReady)));
  EXPECT_EQ(FindPartIn(store(), SnapshotId('d'), 0), std::optional<Bytes>(Bytes(4, 4)));
  EXPECT_EQ(sweep(kNow), 0);
  // Once finished, an upload is never stale.
  Write(store(), [&](Tx& tx) {
    return tx.UpdateSnapshot(MakeSnapshot(SnapshotId('c'), "a1", kNow, SnapshotState::kReady));
  });
  EXPECT_EQ(sweep(kNow + 10'000), 0);
  EXPECT_EQ(SnapshotIds(store(), "a1"),
            (std::vector<std::string>{SnapshotId('c'), SnapshotId('d')}));
}

TEST_P(StoreContractTest, DeletingTheAccountDeletesItsSnapshots) {
  SeedTwoAccounts(store());
  const Snapshot others = MakeSnapshot(SnapshotId('c'), "a2", kNow);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('a'), "a1", kNow)));
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('b'), "a1", kNow, SnapshotState::kReady)));
    KW_TRY(tx.InsertSnapshot(others));
    KW_TRY(tx.PutSnapshotPart(SnapshotId('a'), 0, Bytes(8, 1)));
    KW_TRY(tx.PutSnapshotPart(SnapshotId('b'), 3, Bytes(8, 2)));
    return tx.PutSnapshotPart(SnapshotId('c'), 0, Bytes(8, 3));
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a1"); });
  EXPECT_EQ(SnapshotIds(store(), "a1"), std::vector<std::string>{});
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('a')), std::nullopt);
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('b')), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), SnapshotId('a'), 0), std::nullopt);
  EXPECT_EQ(FindPartIn(store(), SnapshotId('b'), 3), std::nullopt);
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('c')), std::optional<Snapshot>(others));
  EXPECT_EQ(PartsTotalIn(store(), SnapshotId('c')), (std::pair<int64_t, int64_t>{1, 8}));
}

TEST_P(StoreContractTest, SnapshotWritesRollBackAndNeedAWriteTransaction) {
  SeedTwoAccounts(store());
  const Snapshot stored = MakeSnapshot(SnapshotId('a'), "a1", kNow - 100);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(stored));
    return tx.PutSnapshotPart(stored.id, 0, Bytes(8, 1));
  });
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSnapshot(MakeSnapshot(SnapshotId('b'), "a1", kNow)));
    KW_TRY(tx.PutSnapshotPart(stored.id, 0, Bytes(8, 2)));
    KW_TRY(tx.PutSnapshotPart(stored.id, 1, Bytes(8, 3)));
    KW_TRY(tx.UpdateSnapshot(MakeSnapshot(stored.id, "a1", kNow, SnapshotState::kReady)));
    KW_TRY(Discard(tx.DeleteStaleSnapshots(kNow + 10'000)));
    KW_TRY(Discard(tx.DeleteAccountSnapshots("a1")));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('b')), std::nullopt);
  EXPECT_EQ(FindSnapshotIn(store(), stored.id), std::optional<Snapshot>(stored));
  EXPECT_EQ(FindPartIn(store(), stored.id, 0), std::optional<Bytes>(Bytes(8, 1)));
  EXPECT_EQ(PartsTotalIn(store(), stored.id), (std::pair<int64_t, int64_t>{1, 8}));
  EXPECT_FALSE(store().Read(
      [&](Tx& tx) { return tx.InsertSnapshot(MakeSnapshot(SnapshotId('c'), "a1", kNow)); }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return tx.PutSnapshotPart(stored.id, 1, Bytes{1}); }));
  EXPECT_FALSE(store().Read([&](Tx& tx) {
    return tx.UpdateSnapshot(MakeSnapshot(stored.id, "a1", kNow, SnapshotState::kReady));
  }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return tx.DeleteSnapshot(stored.id); }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return Discard(tx.DeleteAccountSnapshots("a1")); }));
  EXPECT_FALSE(
      store().Read([&](Tx& tx) { return Discard(tx.DeleteStaleSnapshots(kNow + 10'000)); }));
  EXPECT_EQ(FindSnapshotIn(store(), SnapshotId('c')), std::nullopt);
  EXPECT_EQ(FindSnapshotIn(store(), stored.id), std::optional<Snapshot>(stored));
  EXPECT_EQ(PartsTotalIn(store(), stored.id), (std::pair<int64_t, int64_t>{1, 8}));
}

// ---- restore requests and their staged items ----

// A restore of snapshot `snapshot_id` asked in a session of device_id.
RecoveryRequest MakeRestore(std::string id, std::string org_id, std::string account_id,
                            std::string snapshot_id, std::string device_id) {
  RecoveryRequest r = MakeRequest(std::move(id), std::move(org_id), std::move(account_id));
  r.kind = RequestKind::kRestore;
  r.snapshot_id = std::move(snapshot_id);
  r.device_id = std::move(device_id);
  return r;
}

// The request's staged items in listing order.
std::vector<StagedItem> StagedIn(Store& store, std::string_view request_id) {
  std::vector<StagedItem> items;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(items, tx.ListStagedItems(request_id));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return items;
}

// How many items the request has staged; -1 when reading fails.
int64_t StagedCountIn(Store& store, std::string_view request_id) {
  int64_t n = -1;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(n, tx.CountStagedItems(request_id));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return n;
}

TEST_P(StoreContractTest, RequestKindSnapshotAndDeviceRoundTrip) {
  SeedMembers(store());
  // A request made without them is a recovery, with neither.
  const RecoveryRequest recovery = MakeRequest("r1", "o1", "a2");
  EXPECT_EQ(recovery.kind, RequestKind::kRecovery);
  const RecoveryRequest restore = MakeRestore("r2", "o1", "a3", SnapshotId('a'), "dev-kept");
  // A restore asked by email names no device.
  RecoveryRequest by_email = MakeRestore("r3", "o1", "a1", SnapshotId('b'), "");
  by_email.status = RequestStatus::kDeclined;
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertRequest(recovery));
    KW_TRY(tx.InsertRequest(restore));
    return tx.InsertRequest(by_email);
  });
  for (const RecoveryRequest& want : {recovery, restore, by_email}) {
    auto got = FindRequestIn(store(), want.id);
    ASSERT_OK(got);
    ASSERT_TRUE(got->has_value()) << want.id;
    EXPECT_EQ((*got)->kind, want.kind) << want.id;
    EXPECT_EQ((*got)->snapshot_id, want.snapshot_id) << want.id;
    EXPECT_EQ((*got)->device_id, want.device_id) << want.id;
    EXPECT_EQ(**got, want) << want.id;
  }
  // Every reader returns them.
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest("a3"));
    EXPECT_EQ(open, std::optional<RecoveryRequest>(restore));
    KW_ASSIGN_OR_RETURN(auto listed, tx.ListRequests("o1", std::nullopt, std::nullopt, 10));
    EXPECT_EQ(listed.size(), 3u);
    for (const auto& r : listed) {
      if (r.id == "r2") {
        EXPECT_EQ(r, restore);
      }
    }
    KW_ASSIGN_OR_RETURN(auto expired, tx.ListExpiredOpenRequests(kNow + 3600, 10));
    EXPECT_EQ(expired, (std::vector<RecoveryRequest>{recovery, restore}));
    return {};
  }));
  // A restore is one open request like any other.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertRequest(MakeRestore("r4", "o1", "a3", SnapshotId('c'), ""));
                      }),
            "store.conflict");

  // UpdateRequest writes them too.
  RecoveryRequest approved = Approved(restore, "a1", kNow + 10, 3);
  approved.snapshot_id = SnapshotId('z');
  approved.device_id = "";
  Write(store(), [&](Tx& tx) { return tx.UpdateRequest(approved, RequestStatus::kPending); });
  EXPECT_EQ(*FindRequestIn(store(), "r2"), std::optional<RecoveryRequest>(approved));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto by_hash, tx.FindRequestByTokenHash(Bytes(32, 3)));
    EXPECT_EQ(by_hash, std::optional<RecoveryRequest>(approved));
    return {};
  }));
  RecoveryRequest turned = Approved(recovery, "a1", kNow + 10, 4);
  turned.kind = RequestKind::kRestore;
  turned.snapshot_id = SnapshotId('y');
  turned.device_id = "dev-2";
  Write(store(), [&](Tx& tx) { return tx.UpdateRequest(turned, RequestStatus::kPending); });
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(turned));
  RecoveryRequest back = turned;
  back.kind = RequestKind::kRecovery;
  back.snapshot_id.clear();
  back.device_id.clear();
  Write(store(), [&](Tx& tx) { return tx.UpdateRequest(back, RequestStatus::kApproved); });
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(back));
}

// A device request (migration 12) is stored with its device's key, and
// its claim's hash from the start; it reads back as kind device.
TEST_P(StoreContractTest, DeviceRequestKeepsItsDeviceKeyAndClaim) {
  SeedMembers(store());
  RecoveryRequest device = MakeRequest("r1", "o1", "a2");
  device.kind = RequestKind::kDevice;
  device.device_key = Bytes(32, 0x5a);
  device.device_id = "new-laptop";
  device.token_hash = Bytes(32, 7);
  Write(store(), [&](Tx& tx) { return tx.InsertRequest(device); });
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(device));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto by_claim, tx.FindRequestByTokenHash(Bytes(32, 7)));
    EXPECT_EQ(by_claim, std::optional<RecoveryRequest>(device));
    KW_ASSIGN_OR_RETURN(auto listed, tx.ListRequests("o1", std::nullopt, std::nullopt, 10));
    EXPECT_EQ(listed, std::vector<RecoveryRequest>{device});
    return {};
  }));
  RecoveryRequest approved = device;
  approved.status = RequestStatus::kApproved;
  approved.link_share = Bytes(72, 9);
  Write(store(), [&](Tx& tx) { return tx.UpdateRequest(approved, RequestStatus::kPending); });
  EXPECT_EQ(*FindRequestIn(store(), "r1"), std::optional<RecoveryRequest>(approved));
  // A key of another size is refused by the table itself.
  RecoveryRequest bad = MakeRequest("r2", "o1", "a3");
  bad.device_key = Bytes(31, 1);
  EXPECT_NE(WriteCode(store(), [&](Tx& tx) { return tx.InsertRequest(bad); }), "");
  EXPECT_EQ(*FindRequestIn(store(), "r2"), std::nullopt);
}

TEST_P(StoreContractTest, StagedItemsPutReplaceListCountDelete) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertRequest(MakeRestore("r1", "o1", "a3", SnapshotId('a'), "dev-1")));
    return tx.InsertRequest(MakeRestore("r2", "o1", "a2", SnapshotId('b'), "dev-2"));
  });
  EXPECT_EQ(StagedIn(store(), "r1"), std::vector<StagedItem>{});
  EXPECT_EQ(StagedCountIn(store(), "r1"), 0);
  // Listed by item id in byte order ("B" < "a"), whatever the order written.
  const StagedItem a{"a", PartBytes(256, 0)};
  const StagedItem b{"b", Bytes{1, 2, 3}};
  const StagedItem upper{"B", Bytes(40, 0xff)};
  const StagedItem empty{"c", Bytes{}};
  Write(store(), [&](Tx& tx) -> Status {
    const std::vector<StagedItem> first{b, a, upper, empty};
    KW_TRY(tx.PutStagedItems("r1", first));
    KW_TRY(tx.PutStagedItems("r2", std::vector<StagedItem>{{"a", Bytes{9}}}));
    // Visible in the transaction that wrote them.
    KW_ASSIGN_OR_RETURN(auto n, tx.CountStagedItems("r1"));
    EXPECT_EQ(n, 4);
    return {};
  });
  EXPECT_EQ(StagedIn(store(), "r1"), (std::vector<StagedItem>{upper, a, b, empty}));
  EXPECT_EQ(StagedCountIn(store(), "r1"), 4);
  EXPECT_EQ(StagedIn(store(), "r2"), (std::vector<StagedItem>{{"a", Bytes{9}}}));
  EXPECT_EQ(StagedCountIn(store(), "r2"), 1);

  // Putting an item id again replaces its data; new ids are added; nothing
  // else of the request changes; no items at all is no change.
  const StagedItem b2{"b", Bytes(3, 0x42)};
  const StagedItem d{"d", Bytes{4}};
  Write(store(), [&](Tx& tx) -> Status {
    const std::vector<StagedItem> second{d, b2};
    KW_TRY(tx.PutStagedItems("r1", second));
    return tx.PutStagedItems("r1", std::span<const StagedItem>());
  });
  EXPECT_EQ(StagedIn(store(), "r1"), (std::vector<StagedItem>{upper, a, b2, empty, d}));
  EXPECT_EQ(StagedCountIn(store(), "r1"), 5);
  EXPECT_EQ(StagedIn(store(), "r2"), (std::vector<StagedItem>{{"a", Bytes{9}}}));

  auto delete_all = [&](std::string_view request_id) {
    int64_t deleted = -1;
    Write(store(), [&](Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(deleted, tx.DeleteStagedItems(request_id));
      return {};
    });
    return deleted;
  };
  EXPECT_EQ(delete_all("r1"), 5);
  EXPECT_EQ(StagedIn(store(), "r1"), std::vector<StagedItem>{});
  EXPECT_EQ(StagedCountIn(store(), "r1"), 0);
  EXPECT_EQ(delete_all("r1"), 0);
  EXPECT_EQ(delete_all("nobody"), 0);
  // The request and the other request's items stay.
  EXPECT_TRUE(FindRequestIn(store(), "r1")->has_value());
  EXPECT_EQ(StagedIn(store(), "r2"), (std::vector<StagedItem>{{"a", Bytes{9}}}));
  // Staging again after a delete starts afresh.
  Write(store(), [&](Tx& tx) { return tx.PutStagedItems("r1", std::vector<StagedItem>{d}); });
  EXPECT_EQ(StagedIn(store(), "r1"), std::vector<StagedItem>{d});
}

TEST_P(StoreContractTest, StagedItemsNeedAnExistingRequest) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) {
    return tx.InsertRequest(MakeRestore("r1", "o1", "a3", SnapshotId('a'), "dev-1"));
  });
  const std::vector<StagedItem> items{{"a", Bytes{1}}};
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.PutStagedItems("nobody", items); }),
            "store.not_found");
  EXPECT_EQ(
      WriteCode(store(),
                [&](Tx& tx) { return tx.PutStagedItems("nobody", std::span<const StagedItem>()); }),
      "store.not_found");
  // Ids are exact: "R1" is not "r1".
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.PutStagedItems("R1", items); }),
            "store.not_found");
  EXPECT_EQ(StagedIn(store(), "nobody"), std::vector<StagedItem>{});
  EXPECT_EQ(StagedCountIn(store(), "nobody"), 0);
  EXPECT_EQ(StagedCountIn(store(), "r1"), 0);
  // An existing request with nothing to stage is fine.
  EXPECT_EQ(
      WriteCode(store(),
                [&](Tx& tx) { return tx.PutStagedItems("r1", std::span<const StagedItem>()); }),
      "");
}

TEST_P(StoreContractTest, StagedItemsGoWithTheirRequest) {
  SeedMembers(store());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.CreateOrg(MakeOrg("o2", "a1")));
    KW_TRY(tx.InsertMember(MakeMember("o2", "a3", "user", kNow)));
    KW_TRY(tx.InsertRequest(MakeRestore("a3-o1", "o1", "a3", SnapshotId('a'), "dev-1")));
    KW_TRY(tx.InsertRequest(
        Declined(MakeRestore("a3-o2", "o2", "a3", SnapshotId('a'), ""), "a1", kNow)));
    KW_TRY(tx.InsertRequest(MakeRestore("a2-o1", "o1", "a2", SnapshotId('b'), "dev-2")));
    for (const char* id : {"a3-o1", "a3-o2", "a2-o1"}) {
      const std::vector<StagedItem> items{{"x", Bytes{1}}, {"y", Bytes{2}}};
      KW_TRY(tx.PutStagedItems(id, items));
    }
    return {};
  });
  // Removing a3 from o1 removes its request there and the request's items.
  Write(store(), [&](Tx& tx) { return tx.DeleteMember("o1", "a3"); });
  EXPECT_FALSE(FindRequestIn(store(), "a3-o1")->has_value());
  EXPECT_EQ(StagedCountIn(store(), "a3-o1"), 0);
  EXPECT_EQ(StagedCountIn(store(), "a3-o2"), 2);
  EXPECT_EQ(StagedCountIn(store(), "a2-o1"), 2);
  // The request id is free again, without the old items.
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertMember(MakeMember("o1", "a3", "user", kNow)));
    return tx.InsertRequest(MakeRestore("a3-o1", "o1", "a3", SnapshotId('c'), "dev-1"));
  });
  EXPECT_EQ(StagedIn(store(), "a3-o1"), std::vector<StagedItem>{});
  // Deleting the account removes its requests, and their items, everywhere.
  Write(store(), [&](Tx& tx) {
    return tx.PutStagedItems("a3-o1", std::vector<StagedItem>{{"z", Bytes{3}}});
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a3"); });
  EXPECT_EQ(StagedCountIn(store(), "a3-o1"), 0);
  EXPECT_EQ(StagedCountIn(store(), "a3-o2"), 0);
  EXPECT_EQ(StagedIn(store(), "a2-o1"),
            (std::vector<StagedItem>{{"x", Bytes{1}}, {"y", Bytes{2}}}));
}

TEST_P(StoreContractTest, StagedItemWritesRollBackAndNeedAWriteTransaction) {
  SeedMembers(store());
  const std::vector<StagedItem> stored{{"a", Bytes{1}}};
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertRequest(MakeRestore("r1", "o1", "a3", SnapshotId('a'), "dev-1")));
    return tx.PutStagedItems("r1", stored);
  });
  const std::vector<StagedItem> more{{"a", Bytes{2}}, {"b", Bytes{3}}};
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.PutStagedItems("r1", more));
    KW_TRY(Discard(tx.DeleteStagedItems("r1")));
    KW_TRY(tx.PutStagedItems("r1", more));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(StagedIn(store(), "r1"), stored);
  EXPECT_FALSE(store().Read([&](Tx& tx) { return tx.PutStagedItems("r1", more); }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return Discard(tx.DeleteStagedItems("r1")); }));
  EXPECT_EQ(StagedIn(store(), "r1"), stored);
}

// ---- single sign-on ----

constexpr const char* kIssuer = "https://idp.example.com/realms/acme";

SsoIdentity MakeSsoIdentity(std::string org_id, std::string subject, std::string account_id,
                            int64_t created_at = kNow) {
  SsoIdentity i;
  i.org_id = std::move(org_id);
  i.issuer = kIssuer;
  i.subject = std::move(subject);
  i.account_id = std::move(account_id);
  i.created_at = created_at;
  i.last_login_at = created_at;
  return i;
}

// A pending sign-in whose state hash is 32 bytes of `tag`.
SsoLogin MakeSsoLogin(std::string id, uint8_t tag, int64_t expires_at,
                      SsoClientKind kind = SsoClientKind::kCli, std::string org_id = "o1") {
  SsoLogin l;
  l.id = std::move(id);
  l.state_hash = Bytes(32, tag);
  l.org_id = std::move(org_id);
  l.nonce = "nonce-" + std::to_string(tag);
  l.code_verifier = std::string(43, static_cast<char>('a' + tag % 26));
  l.redirect_uri = kind == SsoClientKind::kCli ? "http://127.0.0.1:53682/callback"
                                               : "https://vault.example.com/sso/callback";
  l.client_kind = kind;
  l.created_at = expires_at - 600;
  l.expires_at = expires_at;
  return l;
}

std::optional<SsoIdentity> FindSsoIdentityIn(Store& store, std::string_view org_id,
                                             std::string_view issuer, std::string_view subject) {
  std::optional<SsoIdentity> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(found, tx.FindSsoIdentity(org_id, issuer, subject));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return found;
}

std::optional<SsoIdentity> FindSsoIdentityOfAccountIn(Store& store, std::string_view org_id,
                                                      std::string_view account_id) {
  std::optional<SsoIdentity> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(found, tx.FindSsoIdentityOfAccount(org_id, account_id));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return found;
}

// Takes (deletes) the login with this state hash in a write transaction.
std::optional<SsoLogin> TakeSsoLoginIn(Store& store, const Bytes& state_hash) {
  std::optional<SsoLogin> taken;
  auto s = store.Transact([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(taken, tx.TakeSsoLogin(state_hash));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return taken;
}

// How many logins the sweep deleted; -1 when it failed.
int64_t SweepSsoLogins(Store& store, int64_t now, int64_t limit) {
  int64_t deleted = -1;
  Write(store, [&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(deleted, tx.DeleteExpiredSsoLogins(now, limit));
    return {};
  });
  return deleted;
}

// Accounts a1..a3 and the organizations o1 (by a1) and o2 (by a2).
void SeedTwoOrgs(Store& store) {
  SeedOrg(store);
  Write(store, [&](Tx& tx) { return tx.CreateOrg(MakeOrg("o2", "a2")); });
}

TEST_P(StoreContractTest, SsoIdentitiesInsertFindTouchDelete) {
  SeedTwoOrgs(store());
  const SsoIdentity ann = MakeSsoIdentity("o1", "sub-ann", "a1", kNow);
  const SsoIdentity bob = MakeSsoIdentity("o1", "sub-bob", "a2", kNow + 1);
  // The same subject and account in another organization: another identity.
  SsoIdentity ann_o2 = MakeSsoIdentity("o2", "sub-ann", "a1", kNow + 2);
  ann_o2.issuer = "https://login.example.org";
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoIdentity(ann));
    KW_TRY(tx.InsertSsoIdentity(bob));
    KW_TRY(tx.InsertSsoIdentity(ann_o2));
    // Visible in the transaction that wrote it.
    KW_ASSIGN_OR_RETURN(auto found, tx.FindSsoIdentity("o1", kIssuer, "sub-bob"));
    EXPECT_EQ(found, std::optional<SsoIdentity>(bob));
    return {};
  });
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"), std::optional<SsoIdentity>(ann));
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-bob"), std::optional<SsoIdentity>(bob));
  EXPECT_EQ(FindSsoIdentityIn(store(), "o2", ann_o2.issuer, "sub-ann"),
            std::optional<SsoIdentity>(ann_o2));
  // Issuer, subject and organization are exact: no folding, no other org's.
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "SUB-ANN"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", "https://IDP.example.com/realms/acme", "sub-ann"),
            std::nullopt);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", ann_o2.issuer, "sub-ann"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o2", kIssuer, "sub-bob"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o3", kIssuer, "sub-ann"), std::nullopt);
  // By account.
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a1"), std::optional<SsoIdentity>(ann));
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o2", "a1"), std::optional<SsoIdentity>(ann_o2));
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a2"), std::optional<SsoIdentity>(bob));
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o2", "a2"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a3"), std::nullopt);

  // Touch writes last_login_at of that identity only.
  Write(store(), [&](Tx& tx) { return tx.TouchSsoIdentity("o1", kIssuer, "sub-ann", kNow + 99); });
  SsoIdentity touched = ann;
  touched.last_login_at = kNow + 99;
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"),
            std::optional<SsoIdentity>(touched));
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-bob"), std::optional<SsoIdentity>(bob));
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o2", "a1"), std::optional<SsoIdentity>(ann_o2));
  for (const auto& [org, issuer, subject] :
       {std::tuple<std::string, std::string, std::string>{"o1", kIssuer, "sub-cat"},
        {"o2", kIssuer, "sub-ann"},
        {"o1", kIssuer, "SUB-ANN"}}) {
    EXPECT_EQ(
        WriteCode(store(), [&](Tx& tx) { return tx.TouchSsoIdentity(org, issuer, subject, kNow); }),
        "store.not_found")
        << org << " " << subject;
  }

  // Delete by (org, account): that identity only.
  Write(store(), [&](Tx& tx) { return tx.DeleteSsoIdentity("o1", "a1"); });
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a1"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o2", "a1"), std::optional<SsoIdentity>(ann_o2));
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-bob"), std::optional<SsoIdentity>(bob));
  // Gone: store.not_found the second time, and for an account without one.
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.DeleteSsoIdentity("o1", "a1"); }),
            "store.not_found");
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.DeleteSsoIdentity("o2", "a2"); }),
            "store.not_found");
  // The subject may be bound again, to another account; the account to
  // another subject.
  const SsoIdentity rebound = MakeSsoIdentity("o1", "sub-ann", "a3", kNow + 5);
  const SsoIdentity ann_again = MakeSsoIdentity("o1", "sub-ann-2", "a1", kNow + 6);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoIdentity(rebound));
    return tx.InsertSsoIdentity(ann_again);
  });
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"),
            std::optional<SsoIdentity>(rebound));
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a1"), std::optional<SsoIdentity>(ann_again));
}

TEST_P(StoreContractTest, SsoIdentityIsUniquePerSubjectAndPerAccount) {
  SeedTwoOrgs(store());
  const SsoIdentity stored = MakeSsoIdentity("o1", "sub-ann", "a1");
  Write(store(), [&](Tx& tx) { return tx.InsertSsoIdentity(stored); });
  // The same (org, issuer, subject) for another account.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertSsoIdentity(MakeSsoIdentity("o1", "sub-ann", "a2"));
                      }),
            "store.conflict");
  // The same (org, account) with another subject, or another issuer.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertSsoIdentity(MakeSsoIdentity("o1", "sub-other", "a1"));
                      }),
            "store.conflict");
  SsoIdentity other_issuer = MakeSsoIdentity("o1", "sub-ann", "a1");
  other_issuer.issuer = "https://login.example.org";
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.InsertSsoIdentity(other_issuer); }),
            "store.conflict");
  // The same row again.
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.InsertSsoIdentity(stored); }),
            "store.conflict");
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"),
            std::optional<SsoIdentity>(stored));
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-other"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", other_issuer.issuer, "sub-ann"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a2"), std::nullopt);
  // Subject and issuer differing only in case are other subjects.
  const SsoIdentity upper = MakeSsoIdentity("o1", "SUB-ANN", "a2");
  Write(store(), [&](Tx& tx) { return tx.InsertSsoIdentity(upper); });
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a2"), std::optional<SsoIdentity>(upper));
  // An identity belongs to an existing organization and account.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertSsoIdentity(MakeSsoIdentity("o1", "sub-x", "nobody"));
                      }),
            "store.not_found");
  EXPECT_EQ(
      WriteCode(store(),
                [&](Tx& tx) { return tx.InsertSsoIdentity(MakeSsoIdentity("o9", "sub-x", "a3")); }),
      "store.not_found");
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-x"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o9", "a3"), std::nullopt);
}

// Two first sign-ins racing: of several accounts binding one subject, or of
// several subjects binding one account, exactly one wins.
TEST_P(StoreContractTest, ConcurrentSsoIdentityInsertsHaveOneWinner) {
  SeedTwoOrgs(store());
  constexpr int kThreads = 3;  // accounts a1..a3
  auto race = [&](const std::function<SsoIdentity(int)>& make) {
    std::atomic<int> winners{0};
    std::atomic<int> conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const SsoIdentity identity = make(t);
        std::string code =
            WriteCode(store(), [&](Tx& tx) { return tx.InsertSsoIdentity(identity); });
        if (code.empty()) {
          ++winners;
        } else if (code == "store.conflict") {
          ++conflicts;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(conflicts.load(), kThreads - 1);
  };
  race([](int t) { return MakeSsoIdentity("o1", "sub-ann", "a" + std::to_string(t + 1)); });
  auto bound = FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann");
  ASSERT_TRUE(bound.has_value());
  race([](int t) { return MakeSsoIdentity("o2", "sub-" + std::to_string(t), "a1"); });
  auto of_account = FindSsoIdentityOfAccountIn(store(), "o2", "a1");
  ASSERT_TRUE(of_account.has_value());
}

TEST_P(StoreContractTest, DeletingTheAccountDeletesItsSsoIdentities) {
  SeedTwoOrgs(store());
  const SsoIdentity bob = MakeSsoIdentity("o1", "sub-bob", "a2");
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoIdentity(MakeSsoIdentity("o1", "sub-ann", "a1")));
    KW_TRY(tx.InsertSsoIdentity(MakeSsoIdentity("o2", "sub-ann", "a1")));
    return tx.InsertSsoIdentity(bob);
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a1"); });
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o2", kIssuer, "sub-ann"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a1"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o2", "a1"), std::nullopt);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-bob"), std::optional<SsoIdentity>(bob));
  // The subject is free for a new account with the deleted one's email.
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a4", "ann@example.com")));
    return tx.InsertSsoIdentity(MakeSsoIdentity("o1", "sub-ann", "a4"));
  });
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"),
            std::optional<SsoIdentity>(MakeSsoIdentity("o1", "sub-ann", "a4")));
}

TEST_P(StoreContractTest, SsoLoginRoundTripsAndIsTakenOnce) {
  SeedTwoOrgs(store());
  const SsoLogin cli = MakeSsoLogin("login-cli", 1, kNow + 600);
  const SsoLogin web = MakeSsoLogin("login-web", 2, kNow + 600, SsoClientKind::kWeb, "o2");
  SsoLogin odd = MakeSsoLogin("login-odd", 3, kNow + 1);
  odd.state_hash = PartBytes(32, 240);  // NUL and 0xff included
  odd.redirect_uri = "http://[::1]:1/cb?x=\xc3\xa9";
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoLogin(cli));
    KW_TRY(tx.InsertSsoLogin(web));
    return tx.InsertSsoLogin(odd);
  });
  // A hash no login has, or a prefix of one, takes nothing and deletes nothing.
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 9)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(31, 1)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes{}), std::nullopt);
  // Each is taken whole, once.
  EXPECT_EQ(TakeSsoLoginIn(store(), cli.state_hash), std::optional<SsoLogin>(cli));
  EXPECT_EQ(TakeSsoLoginIn(store(), cli.state_hash), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), odd.state_hash), std::optional<SsoLogin>(odd));
  // Taken inside a transaction: gone in it, and a second take there finds nothing.
  Write(store(), [&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto first, tx.TakeSsoLogin(web.state_hash));
    EXPECT_EQ(first, std::optional<SsoLogin>(web));
    KW_ASSIGN_OR_RETURN(auto second, tx.TakeSsoLogin(web.state_hash));
    EXPECT_EQ(second, std::nullopt);
    return {};
  });
  EXPECT_EQ(TakeSsoLoginIn(store(), web.state_hash), std::nullopt);
  EXPECT_EQ(SweepSsoLogins(store(), kNow + 10'000, 100), 0);
  // Once taken, the id and the hash are free again.
  Write(store(), [&](Tx& tx) { return tx.InsertSsoLogin(cli); });
  EXPECT_EQ(TakeSsoLoginIn(store(), cli.state_hash), std::optional<SsoLogin>(cli));
}

// A ticket (issuer and subject set, the request's fields empty) round-trips
// whole and is taken once; a pending sign-in comes back with neither.
TEST_P(StoreContractTest, SsoTicketRoundTripsWithIssuerAndSubject) {
  SeedTwoOrgs(store());
  SsoLogin ticket = MakeSsoLogin("ticket-1", 11, kNow + 60, SsoClientKind::kWeb, "o2");
  ticket.nonce.clear();
  ticket.code_verifier.clear();
  ticket.redirect_uri.clear();
  ticket.issuer = kIssuer;
  ticket.subject = "sub-ann \xc3\xa9";
  // Case and length kept as given.
  SsoLogin long_ticket = MakeSsoLogin("ticket-2", 12, kNow + 60);
  long_ticket.nonce.clear();
  long_ticket.code_verifier.clear();
  long_ticket.redirect_uri.clear();
  long_ticket.issuer = "https://Login.Example.org/tenant";
  long_ticket.subject = std::string(1024, 'S');
  const SsoLogin pending = MakeSsoLogin("login-pending", 13, kNow + 600);
  ASSERT_FALSE(pending.issuer.has_value());
  ASSERT_FALSE(pending.subject.has_value());
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoLogin(ticket));
    KW_TRY(tx.InsertSsoLogin(long_ticket));
    return tx.InsertSsoLogin(pending);
  });
  auto taken = TakeSsoLoginIn(store(), ticket.state_hash);
  EXPECT_EQ(taken, std::optional<SsoLogin>(ticket));
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->issuer, std::optional<std::string>(kIssuer));
  EXPECT_EQ(taken->subject, std::optional<std::string>("sub-ann \xc3\xa9"));
  EXPECT_EQ(taken->nonce, "");
  EXPECT_EQ(taken->code_verifier, "");
  EXPECT_EQ(taken->redirect_uri, "");
  EXPECT_EQ(TakeSsoLoginIn(store(), ticket.state_hash), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), long_ticket.state_hash), std::optional<SsoLogin>(long_ticket));
  auto pending_taken = TakeSsoLoginIn(store(), pending.state_hash);
  EXPECT_EQ(pending_taken, std::optional<SsoLogin>(pending));
  ASSERT_TRUE(pending_taken.has_value());
  EXPECT_EQ(pending_taken->issuer, std::nullopt);
  EXPECT_EQ(pending_taken->subject, std::nullopt);
  // Tickets expire and are swept like pending sign-ins.
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoLogin(ticket));
    return tx.InsertSsoLogin(pending);
  });
  EXPECT_EQ(SweepSsoLogins(store(), kNow + 60, 100), 1);
  EXPECT_EQ(TakeSsoLoginIn(store(), ticket.state_hash), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), pending.state_hash), std::optional<SsoLogin>(pending));
}

TEST_P(StoreContractTest, SsoLoginIdAndStateHashAreUnique) {
  SeedTwoOrgs(store());
  const SsoLogin stored = MakeSsoLogin("login-1", 1, kNow + 600);
  Write(store(), [&](Tx& tx) { return tx.InsertSsoLogin(stored); });
  // Another id with the same state hash, in any organization.
  for (std::string org : {"o1", "o2"}) {
    EXPECT_EQ(WriteCode(store(),
                        [&](Tx& tx) {
                          return tx.InsertSsoLogin(
                              MakeSsoLogin("login-2", 1, kNow + 900, SsoClientKind::kWeb, org));
                        }),
              "store.conflict")
        << org;
  }
  // The same id with another state hash.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) { return tx.InsertSsoLogin(MakeSsoLogin("login-1", 2, kNow)); }),
            "store.conflict");
  // A login belongs to an existing organization.
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.InsertSsoLogin(
                            MakeSsoLogin("login-3", 3, kNow, SsoClientKind::kCli, "o9"));
                      }),
            "store.not_found");
  // A state hash is 32 bytes.
  SsoLogin short_hash = MakeSsoLogin("login-4", 4, kNow);
  short_hash.state_hash.resize(16);
  EXPECT_NE(WriteCode(store(), [&](Tx& tx) { return tx.InsertSsoLogin(short_hash); }), "");
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 2)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 3)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), short_hash.state_hash), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), stored.state_hash), std::optional<SsoLogin>(stored));
}

TEST_P(StoreContractTest, DeleteExpiredSsoLoginsDeletesExpiredOnesUpToTheLimit) {
  SeedTwoOrgs(store());
  // Expired at kNow (expires_at <= kNow): tags 1..4; 5 and 6 are not.
  const std::vector<SsoLogin> logins = {
      MakeSsoLogin("login-c", 3, kNow - 10),
      MakeSsoLogin("login-a", 1, kNow - 100, SsoClientKind::kWeb, "o2"),
      MakeSsoLogin("login-d", 4, kNow),
      MakeSsoLogin("login-b", 2, kNow - 50),
      MakeSsoLogin("login-e", 5, kNow + 1),
      MakeSsoLogin("login-f", 6, kNow + 600, SsoClientKind::kWeb),
  };
  Write(store(), [&](Tx& tx) -> Status {
    for (const auto& l : logins) KW_TRY(tx.InsertSsoLogin(l));
    return {};
  });
  EXPECT_EQ(SweepSsoLogins(store(), kNow, 0), 0);
  EXPECT_EQ(SweepSsoLogins(store(), kNow, -1), 0);
  EXPECT_EQ(SweepSsoLogins(store(), kNow - 101, 10), 0);
  // The limit holds; the oldest deadlines go first.
  EXPECT_EQ(SweepSsoLogins(store(), kNow, 2), 2);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 1)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 2)), std::nullopt);
  EXPECT_EQ(SweepSsoLogins(store(), kNow, 100), 2);
  EXPECT_EQ(SweepSsoLogins(store(), kNow, 100), 0);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 3)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 4)), std::nullopt);
  // Those not expired stay, whole.
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 5)), std::optional<SsoLogin>(logins[4]));
  EXPECT_EQ(SweepSsoLogins(store(), kNow + 600, 100), 1);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 6)), std::nullopt);
}

TEST_P(StoreContractTest, ConcurrentTakesOfOneSsoLoginHaveOneWinner) {
  SeedTwoOrgs(store());
  const SsoLogin login = MakeSsoLogin("login-1", 1, kNow + 600);
  Write(store(), [&](Tx& tx) { return tx.InsertSsoLogin(login); });
  constexpr int kThreads = 4;
  std::atomic<int> taken{0};
  std::atomic<int> empty{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::optional<SsoLogin> got;
      std::string code = WriteCode(store(), [&](Tx& tx) -> Status {
        KW_ASSIGN_OR_RETURN(got, tx.TakeSsoLogin(login.state_hash));
        return {};
      });
      if (!code.empty()) return;
      if (got) {
        EXPECT_EQ(*got, login);
        ++taken;
      } else {
        ++empty;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), 1);
  EXPECT_EQ(empty.load(), kThreads - 1);
}

TEST_P(StoreContractTest, SsoWritesRollBackAndNeedAWriteTransaction) {
  SeedTwoOrgs(store());
  const SsoIdentity identity = MakeSsoIdentity("o1", "sub-ann", "a1");
  const SsoLogin login = MakeSsoLogin("login-1", 1, kNow - 1);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoIdentity(identity));
    return tx.InsertSsoLogin(login);
  });
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertSsoIdentity(MakeSsoIdentity("o1", "sub-bob", "a2")));
    KW_TRY(tx.TouchSsoIdentity("o1", kIssuer, "sub-ann", kNow + 99));
    KW_TRY(tx.DeleteSsoIdentity("o1", "a1"));
    KW_TRY(tx.InsertSsoLogin(MakeSsoLogin("login-2", 2, kNow + 600)));
    KW_TRY(Discard(tx.TakeSsoLogin(login.state_hash)));
    KW_TRY(Discard(tx.DeleteExpiredSsoLogins(kNow + 10'000, 100)));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"),
            std::optional<SsoIdentity>(identity));
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a2"), std::nullopt);
  EXPECT_FALSE(store().Read(
      [&](Tx& tx) { return tx.InsertSsoIdentity(MakeSsoIdentity("o1", "sub-bob", "a2")); }));
  EXPECT_FALSE(
      store().Read([&](Tx& tx) { return tx.TouchSsoIdentity("o1", kIssuer, "sub-ann", kNow); }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return tx.DeleteSsoIdentity("o1", "a1"); }));
  EXPECT_FALSE(
      store().Read([&](Tx& tx) { return tx.InsertSsoLogin(MakeSsoLogin("login-3", 3, kNow)); }));
  EXPECT_FALSE(store().Read([&](Tx& tx) { return Discard(tx.TakeSsoLogin(login.state_hash)); }));
  EXPECT_FALSE(
      store().Read([&](Tx& tx) { return Discard(tx.DeleteExpiredSsoLogins(kNow + 10'000, 100)); }));
  EXPECT_EQ(FindSsoIdentityIn(store(), "o1", kIssuer, "sub-ann"),
            std::optional<SsoIdentity>(identity));
  EXPECT_EQ(FindSsoIdentityOfAccountIn(store(), "o1", "a2"), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 2)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), Bytes(32, 3)), std::nullopt);
  EXPECT_EQ(TakeSsoLoginIn(store(), login.state_hash), std::optional<SsoLogin>(login));
}

// ---- trusted devices ----

// A trusted device whose public key is 32 bytes of `tag` and whose wrapped
// vault key is 72 bytes of tag + 1.
TrustedDevice MakeTrustedDevice(std::string account_id, std::string device_id, uint8_t tag,
                                int64_t created_at = kNow) {
  return TrustedDevice{std::move(account_id), std::move(device_id), Bytes(32, tag),
                       Bytes(72, static_cast<uint8_t>(tag + 1)), created_at};
}

std::optional<TrustedDevice> FindTrustedDeviceIn(Store& store, std::string_view account_id,
                                                 std::string_view device_id) {
  std::optional<TrustedDevice> found;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(found, tx.FindTrustedDevice(account_id, device_id));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return found;
}

std::vector<TrustedDevice> ListTrustedDevicesIn(Store& store, std::string_view account_id) {
  std::vector<TrustedDevice> list;
  auto s = store.Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(list, tx.ListTrustedDevices(account_id));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return list;
}

// Whether DeleteTrustedDevice deleted a row; nullopt when it failed.
std::optional<bool> DeleteTrustedDeviceIn(Store& store, std::string_view account_id,
                                          std::string_view device_id) {
  std::optional<bool> deleted;
  auto s = store.Transact([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(deleted, tx.DeleteTrustedDevice(account_id, device_id));
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return deleted;
}

// Accounts a1 (devices dev-a, dev-b, dev-c) and a2 (device dev-a).
void SeedDevices(Store& store) {
  Write(store, [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    KW_TRY(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
    KW_TRY(tx.UpsertDevice(MakeDevice("a1", "dev-c")));
    KW_TRY(tx.UpsertDevice(MakeDevice("a1", "dev-a")));
    KW_TRY(tx.UpsertDevice(MakeDevice("a1", "dev-b")));
    return tx.UpsertDevice(MakeDevice("a2", "dev-a"));
  });
}

TEST_P(StoreContractTest, TrustedDevicesUpsertFindListDelete) {
  SeedDevices(store());
  TrustedDevice b = MakeTrustedDevice("a1", "dev-b", 1, kNow);
  b.sign_public_key = PartBytes(32, 240);   // NUL and 0xff included
  b.wrapped_vault_key = PartBytes(256, 0);  // every byte value
  const TrustedDevice a = MakeTrustedDevice("a1", "dev-a", 3, kNow + 1);
  const TrustedDevice bob = MakeTrustedDevice("a2", "dev-a", 5, kNow + 2);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.UpsertTrustedDevice(b));
    KW_TRY(tx.UpsertTrustedDevice(a));
    KW_TRY(tx.UpsertTrustedDevice(bob));
    // Visible inside the transaction that wrote it.
    KW_ASSIGN_OR_RETURN(auto found, tx.FindTrustedDevice("a1", "dev-b"));
    EXPECT_EQ(found, std::optional<TrustedDevice>(b));
    return {};
  });
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-b"), std::optional<TrustedDevice>(b));
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-a"), std::optional<TrustedDevice>(a));
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a2", "dev-a"), std::optional<TrustedDevice>(bob));
  // A device not trusted, an unknown device or account, ids compared exactly.
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-c"), std::nullopt);
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a2", "dev-b"), std::nullopt);
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a3", "dev-a"), std::nullopt);
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "DEV-A"), std::nullopt);
  // Ordered by device id, the account's own only.
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a1"), (std::vector<TrustedDevice>{a, b}));
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a2"), (std::vector<TrustedDevice>{bob}));
  EXPECT_TRUE(ListTrustedDevicesIn(store(), "a3").empty());

  // Updating the device (last seen, name, active) keeps it trusted.
  Write(store(), [&](Tx& tx) -> Status {
    Device d = MakeDevice("a1", "dev-b");
    d.name = "renamed";
    d.last_seen = kNow + 50;
    d.active = false;
    return tx.UpsertDevice(d);
  });
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-b"), std::optional<TrustedDevice>(b));

  // Deleting reports whether a row went; the device itself stays.
  EXPECT_EQ(DeleteTrustedDeviceIn(store(), "a1", "dev-a"), std::optional<bool>(true));
  EXPECT_EQ(DeleteTrustedDeviceIn(store(), "a1", "dev-a"), std::optional<bool>(false));
  EXPECT_EQ(DeleteTrustedDeviceIn(store(), "a1", "dev-c"), std::optional<bool>(false));
  EXPECT_EQ(DeleteTrustedDeviceIn(store(), "a3", "dev-a"), std::optional<bool>(false));
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-a"), std::nullopt);
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a1"), (std::vector<TrustedDevice>{b}));
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a2", "dev-a"), std::optional<TrustedDevice>(bob));
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice("a1", "dev-a"));
    EXPECT_TRUE(device.has_value());
    return {};
  }));
  // Trusted again after its removal.
  const TrustedDevice again = MakeTrustedDevice("a1", "dev-a", 7, kNow + 9);
  Write(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(again); });
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a1"), (std::vector<TrustedDevice>{again, b}));
}

TEST_P(StoreContractTest, UpsertTrustedDeviceReplacesKeysAndCreatedAt) {
  SeedDevices(store());
  const TrustedDevice first = MakeTrustedDevice("a1", "dev-a", 1, kNow);
  Write(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(first); });
  TrustedDevice second = MakeTrustedDevice("a1", "dev-a", 9, kNow + 100);
  second.wrapped_vault_key = Bytes(4096, 0xee);
  Write(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(second); });
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-a"), std::optional<TrustedDevice>(second));
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a1"), (std::vector<TrustedDevice>{second}));
  // The smallest wrapped key admitted, and an older created_at: replaced as given.
  TrustedDevice third = MakeTrustedDevice("a1", "dev-a", 4, kNow - 5);
  third.wrapped_vault_key = Bytes{0};
  Write(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(third); });
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-a"), std::optional<TrustedDevice>(third));
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a1").size(), 1u);
}

TEST_P(StoreContractTest, TrustedDeviceNeedsAnExistingDeviceAndKeysOfTheirSizes) {
  SeedDevices(store());
  // No such device, a device of another account, no such account.
  for (const auto& [account, device] : std::vector<std::pair<std::string, std::string>>{
           {"a1", "nope"}, {"a2", "dev-b"}, {"a9", "dev-a"}}) {
    EXPECT_EQ(WriteCode(store(),
                        [&](Tx& tx) {
                          return tx.UpsertTrustedDevice(MakeTrustedDevice(account, device, 1));
                        }),
              "store.not_found")
        << account << "/" << device;
    EXPECT_EQ(FindTrustedDeviceIn(store(), account, device), std::nullopt);
  }
  // The public key is 32 bytes; the wrapped key 1 to 4096.
  auto sized = [](size_t key, size_t wrapped) {
    TrustedDevice t = MakeTrustedDevice("a1", "dev-a", 1);
    t.sign_public_key = Bytes(key, 1);
    t.wrapped_vault_key = Bytes(wrapped, 2);
    return t;
  };
  for (const auto& [key, wrapped] :
       std::vector<std::pair<size_t, size_t>>{{31, 72}, {33, 72}, {0, 72}, {32, 0}, {32, 4097}}) {
    EXPECT_NE(
        WriteCode(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(sized(key, wrapped)); }), "")
        << key << " " << wrapped;
  }
  EXPECT_TRUE(ListTrustedDevicesIn(store(), "a1").empty());
  // A refused replacement leaves the stored row as it was.
  const TrustedDevice stored = sized(32, 4096);
  Write(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(stored); });
  EXPECT_NE(WriteCode(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(sized(32, 4097)); }),
            "");
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-a"), std::optional<TrustedDevice>(stored));
}

TEST_P(StoreContractTest, DeletingTheAccountDeletesItsTrustedDevices) {
  SeedDevices(store());
  const TrustedDevice bob = MakeTrustedDevice("a2", "dev-a", 5);
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.UpsertTrustedDevice(MakeTrustedDevice("a1", "dev-a", 1)));
    KW_TRY(tx.UpsertTrustedDevice(MakeTrustedDevice("a1", "dev-b", 3)));
    return tx.UpsertTrustedDevice(bob);
  });
  Write(store(), [&](Tx& tx) { return tx.DeleteAccount("a1"); });
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-a"), std::nullopt);
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-b"), std::nullopt);
  EXPECT_TRUE(ListTrustedDevicesIn(store(), "a1").empty());
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a2"), (std::vector<TrustedDevice>{bob}));
  // A new account with the same id and device starts with no trusted device.
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    return tx.UpsertDevice(MakeDevice("a1", "dev-a"));
  });
  EXPECT_EQ(FindTrustedDeviceIn(store(), "a1", "dev-a"), std::nullopt);
  EXPECT_EQ(WriteCode(store(),
                      [&](Tx& tx) {
                        return tx.UpsertTrustedDevice(MakeTrustedDevice("a1", "dev-b", 1));
                      }),
            "store.not_found");
}

TEST_P(StoreContractTest, TrustedDeviceWritesRollBackAndNeedAWriteTransaction) {
  SeedDevices(store());
  const TrustedDevice stored = MakeTrustedDevice("a1", "dev-a", 1);
  Write(store(), [&](Tx& tx) { return tx.UpsertTrustedDevice(stored); });
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.UpsertTrustedDevice(MakeTrustedDevice("a1", "dev-a", 9, kNow + 5)));
    KW_TRY(tx.UpsertTrustedDevice(MakeTrustedDevice("a1", "dev-b", 3)));
    KW_TRY(Discard(tx.DeleteTrustedDevice("a1", "dev-a")));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a1"), (std::vector<TrustedDevice>{stored}));
  EXPECT_FALSE(store().Read(
      [&](Tx& tx) { return tx.UpsertTrustedDevice(MakeTrustedDevice("a1", "dev-b", 3)); }));
  EXPECT_FALSE(
      store().Read([&](Tx& tx) { return Discard(tx.DeleteTrustedDevice("a1", "dev-a")); }));
  EXPECT_EQ(ListTrustedDevicesIn(store(), "a1"), (std::vector<TrustedDevice>{stored}));
}

// ---- mail queue ----

QueuedMail MakeMail(std::string id, int64_t created_at, int64_t next_attempt_at) {
  QueuedMail m;
  m.id = std::move(id);
  m.sealed = Bytes(1024 + 41, static_cast<uint8_t>(m.id.back()));
  m.created_at = created_at;
  m.next_attempt_at = next_attempt_at;
  return m;
}

std::vector<QueuedMail> ClaimIn(Store& store, std::string_view claimant, int64_t now,
                                int64_t lease_until, int64_t limit) {
  std::vector<QueuedMail> claimed;
  Write(store, [&](Tx& tx) -> Status {
    auto r = tx.ClaimDueMail(claimant, now, lease_until, limit);
    if (!r) return Fail(r.error());
    claimed = std::move(*r);
    return {};
  });
  return claimed;
}

std::vector<std::string> IdsOf(const std::vector<QueuedMail>& mails) {
  std::vector<std::string> ids;
  for (const auto& m : mails) ids.push_back(m.id);
  return ids;
}

MailQueueDepth DepthIn(Store& store) {
  MailQueueDepth depth;
  auto s = store.Read([&](Tx& tx) -> Status {
    auto r = tx.CountMail();
    if (!r) return Fail(r.error());
    depth = *r;
    return {};
  });
  EXPECT_TRUE(s.has_value()) << s.error().code();
  return depth;
}

TEST_P(StoreContractTest, MailIsClaimedWhenDueOldestFirstAndLeasedToOneClaimant) {
  EXPECT_EQ(DepthIn(store()), (MailQueueDepth{0, 0}));
  Write(store(), [&](Tx& tx) -> Status {
    KW_TRY(tx.InsertMail(MakeMail("m-c", kNow - 5, kNow - 1)));
    KW_TRY(tx.InsertMail(MakeMail("m-a", kNow - 9, kNow - 3)));
    KW_TRY(tx.InsertMail(MakeMail("m-b", kNow - 7, kNow - 3)));
    return tx.InsertMail(MakeMail("m-later", kNow - 8, kNow + 60));  // not due yet
  });
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.InsertMail(MakeMail("m-a", kNow, kNow)); }),
            "store.conflict");
  EXPECT_EQ(DepthIn(store()), (MailQueueDepth{4, kNow - 9}));

  // Due first (then by id), at most `limit`, leased to the claimant.
  auto first = ClaimIn(store(), "node-1", kNow, kNow + 300, 2);
  EXPECT_EQ(IdsOf(first), (std::vector<std::string>{"m-a", "m-b"}));
  ASSERT_EQ(first.size(), 2u);
  QueuedMail expected = MakeMail("m-a", kNow - 9, kNow - 3);
  expected.claimed_by = "node-1";
  expected.claimed_until = kNow + 300;
  EXPECT_EQ(first[0], expected);
  // Leased rows are skipped by the next claim; the row not yet due too.
  EXPECT_EQ(IdsOf(ClaimIn(store(), "node-2", kNow, kNow + 300, 10)),
            (std::vector<std::string>{"m-c"}));
  EXPECT_TRUE(ClaimIn(store(), "node-2", kNow + 1, kNow + 301, 10).empty());
  // A lease that ran out (its node died) is taken again, with what fell due.
  EXPECT_EQ(IdsOf(ClaimIn(store(), "node-2", kNow + 300, kNow + 600, 10)),
            (std::vector<std::string>{"m-a", "m-b", "m-c", "m-later"}));

  // A failed delivery: attempts and the next attempt kept, the lease gone.
  Write(store(), [&](Tx& tx) { return tx.RescheduleMail("m-a", 1, kNow + 330); });
  EXPECT_TRUE(ClaimIn(store(), "node-3", kNow + 329, kNow + 700, 10).empty());
  auto again = ClaimIn(store(), "node-3", kNow + 330, kNow + 700, 10);
  ASSERT_EQ(IdsOf(again), (std::vector<std::string>{"m-a"}));
  EXPECT_EQ(again[0].attempts, 1);
  EXPECT_EQ(again[0].claimed_by, "node-3");
  EXPECT_EQ(WriteCode(store(), [&](Tx& tx) { return tx.RescheduleMail("m-x", 1, kNow); }),
            "store.not_found");

  // Delivered: gone.
  Write(store(), [&](Tx& tx) -> Status {
    auto deleted = tx.DeleteMail("m-a");
    if (!deleted) return Fail(deleted.error());
    EXPECT_TRUE(*deleted);
    deleted = tx.DeleteMail("m-a");
    if (!deleted) return Fail(deleted.error());
    EXPECT_FALSE(*deleted);
    return {};
  });
  EXPECT_EQ(DepthIn(store()), (MailQueueDepth{3, kNow - 8}));
  EXPECT_TRUE(ClaimIn(store(), "node-3", kNow + 330, kNow + 700, 0).empty());
}

TEST_P(StoreContractTest, MailWritesRollBackAndNeedAWriteTransaction) {
  auto failed = store().Transact([&](Tx& tx) -> Status {
    KW_TRY(tx.InsertMail(MakeMail("m-1", kNow, kNow)));
    return Fail(StoreError("test"));
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(DepthIn(store()).messages, 0);
  ASSERT_FALSE(store().Read([&](Tx& tx) { return tx.InsertMail(MakeMail("m-1", kNow, kNow)); }));
  EXPECT_EQ(DepthIn(store()).messages, 0);
}

// Nodes claiming at once: every row goes to exactly one of them.
TEST_P(StoreContractTest, ConcurrentMailClaimsGiveEachRowToOneClaimant) {
  constexpr int kRows = 60;
  Write(store(), [&](Tx& tx) -> Status {
    for (int i = 0; i < kRows; ++i) {
      KW_TRY(tx.InsertMail(MakeMail("m-" + std::to_string(100 + i), kNow, kNow)));
    }
    return {};
  });
  constexpr int kThreads = 4;
  std::mutex mu;
  std::map<std::string, int> claims;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        std::vector<QueuedMail> got;
        auto s = store().Transact([&](Tx& tx) -> Status {
          auto r = tx.ClaimDueMail("node-" + std::to_string(t), kNow, kNow + 300, 3);
          if (!r) return Fail(r.error());
          got = std::move(*r);
          return {};
        });
        ASSERT_TRUE(s.has_value()) << s.error().code();
        if (got.empty()) return;
        std::lock_guard lock(mu);
        for (const auto& m : got) ++claims[m.id];
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(claims.size(), static_cast<size_t>(kRows));
  for (const auto& [id, n] : claims) EXPECT_EQ(n, 1) << id;
}

}  // namespace
}  // namespace keyward::store::testing
