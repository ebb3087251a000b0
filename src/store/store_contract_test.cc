#include "store/store_contract_test.h"

#include <atomic>
#include <thread>
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

// Drops the value of a successful result (g++ 12 lacks expected::transform).
template <class T>
Status Discard(Result<T> r) {
  if (!r) return Fail(r.error());
  return {};
}

#define ASSERT_OK(expr)                                                                        \
  do {                                                                                         \
    auto kw_r_ = (expr);                                                                       \
    ASSERT_TRUE(kw_r_.has_value()) << kw_r_.error().code() << ": " << kw_r_.error().message(); \
  } while (0)

#define RETURN_IF_ERROR(expr)               \
  do {                                      \
    auto kw_r_ = (expr);                    \
    if (!kw_r_) return Fail(kw_r_.error()); \
  } while (0)

TEST_P(StoreContractTest, SchemaVersionIsPositive) {
  auto v = store().SchemaVersion();
  ASSERT_OK(v);
  EXPECT_GE(*v, 1);
}

TEST_P(StoreContractTest, AccountRoundTrip) {
  Account a = MakeAccount("acct1", "ann@example.com");
  a.totp_secret_sealed = Bytes{9, 9, 9};
  a.totp_last_step = 42;
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
    return tx.UpdateAccount(b);
  });
  ASSERT_OK(store().Read([&](Tx& tx) -> Status {
    auto a = tx.FindAccountById("a1");
    if (!a) return Fail(a.error());
    EXPECT_TRUE((*a)->verified);
    EXPECT_EQ((*a)->verifier, Bytes(32, 7));
    EXPECT_TRUE((*a)->totp_enabled);
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
    RETURN_IF_ERROR(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    RETURN_IF_ERROR(tx.UpsertDevice(MakeDevice("a1", "dev-b")));
    RETURN_IF_ERROR(tx.UpsertDevice(MakeDevice("a1", "dev-a")));
    RETURN_IF_ERROR(tx.InsertSession(MakeSession(1, "a1", "dev-a")));
    RETURN_IF_ERROR(tx.InsertSession(MakeSession(2, "a1", "dev-a")));
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
    RETURN_IF_ERROR(tx.UpsertDevice(d));
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
    RETURN_IF_ERROR(tx.InsertSession(MakeSession(5, "a1", "dev-a")));
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
    RETURN_IF_ERROR(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    RETURN_IF_ERROR(tx.InsertItem(Item{"a1", "zeta", 1, Bytes{1}, kNow, kNow}));
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
    RETURN_IF_ERROR(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
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
    RETURN_IF_ERROR(tx.ClearRateLimit("k"));
    auto peek = tx.PeekRateLimit("k", kNow + 62, 60);
    if (!peek) return Fail(peek.error());
    EXPECT_EQ(*peek, 0);
    RETURN_IF_ERROR(tx.HitRateLimit("old", kNow, 60));
    RETURN_IF_ERROR(tx.HitRateLimit("new", kNow + 100, 60));
    auto n = tx.DeleteRateLimitsBefore(kNow + 50);
    if (!n) return Fail(n.error());
    EXPECT_EQ(*n, 1);
    return {};
  });
}

TEST_P(StoreContractTest, FailedTransactionWritesNothing) {
  auto s = store().Transact([&](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
    RETURN_IF_ERROR(tx.UpsertDevice(MakeDevice("a1", "d1")));
    RETURN_IF_ERROR(tx.HitRateLimit("k", kNow, 60));
    return Fail(Error::Internal("test.abort", "abort"));
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), "test.abort");
  // A failing operation inside also rolls back what came before it.
  auto s2 = store().Transact([&](Tx& tx) -> Status {
    RETURN_IF_ERROR(tx.InsertAccount(MakeAccount("a2", "bob@example.com")));
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
      RETURN_IF_ERROR(tx.InsertAccount(MakeAccount(id, email)));
      RETURN_IF_ERROR(tx.UpsertDevice(MakeDevice(id, "d")));
      RETURN_IF_ERROR(tx.InsertSession(MakeSession(id == std::string("a1") ? 1 : 2, id, "d")));
      RETURN_IF_ERROR(tx.InsertItem(Item{id, "i", 1, Bytes{1}, kNow, kNow}));
      RETURN_IF_ERROR(tx.ReplaceRecoveryCodes(id, {Bytes(32, 1)}));
      RETURN_IF_ERROR(tx.PutEmailCode(
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
    RETURN_IF_ERROR(tx.InsertAccount(MakeAccount("a1", "ann@example.com")));
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

}  // namespace
}  // namespace keyward::store::testing
