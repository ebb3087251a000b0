#pragma once

#include <atomic>
#include <memory>

#include "store/store.h"
#include "tests/support/store_tx_methods.h"

namespace keyward::testing {

// A Store decorator that makes the Nth Tx operation (counted from 1 across
// every transaction) fail with store.error, like a disk that fails mid-way.
// With fail_at = 0 it never fails; Operations() tells how many ran, so a test
// can first count a flow's operations and then fail each one in turn.
class FailingStore final : public store::Store {
 public:
  explicit FailingStore(store::Store& inner, int64_t fail_at = 0)
      : inner_(inner), fail_at_(fail_at) {}

  void FailAt(int64_t n) {
    fail_at_ = n;
    count_ = 0;
  }
  int64_t Operations() const { return count_; }

  Status Transact(const std::function<Status(store::Tx&)>& fn) override {
    return inner_.Transact([&](store::Tx& tx) {
      Tx wrapped(*this, tx);
      return fn(wrapped);
    });
  }
  Status Read(const std::function<Status(store::Tx&)>& fn) override {
    return inner_.Read([&](store::Tx& tx) {
      Tx wrapped(*this, tx);
      return fn(wrapped);
    });
  }
  Result<int> SchemaVersion() override { return inner_.SchemaVersion(); }
  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    return inner_.RunExclusive(task, fn);
  }

 private:
  bool ShouldFail() { return ++count_ == fail_at_; }

  class Tx final : public store::Tx {
   public:
    Tx(FailingStore& owner, store::Tx& inner) : owner_(owner), inner_(inner) {}

#define KW_FAILING_FORWARD(Ret, Name, Params, Args)                      \
  Ret Name Params override {                                             \
    if (owner_.ShouldFail()) return Fail(store::StoreError("injected")); \
    return inner_.Name Args;                                             \
  }
    KW_STORE_TX_METHODS(KW_FAILING_FORWARD)
#undef KW_FAILING_FORWARD

   private:
    FailingStore& owner_;
    store::Tx& inner_;
  };

  store::Store& inner_;
  std::atomic<int64_t> fail_at_;
  std::atomic<int64_t> count_{0};
};

}  // namespace keyward::testing
