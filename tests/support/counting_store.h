#pragma once

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/support/store_tx_methods.h"

namespace keyward::testing {

// A Store decorator that records the store work done on one thread: every
// transaction ("Transact" or "Read") and every Tx method, by name, in order
// (issue 10, item 4: the answer to a public route must do the same store
// work whether or not the email or identifier it names exists). Calls from
// other threads (the background worker of core/deferred.h) are not
// recorded. Start() begins a recording on the calling thread.
class CountingStore final : public store::Store {
 public:
  explicit CountingStore(store::Store& inner) : inner_(inner) {}

  void Start() {
    std::lock_guard lock(mu_);
    trace_.clear();
    thread_ = std::this_thread::get_id();
  }
  // What was recorded since Start().
  std::vector<std::string> Trace() const {
    std::lock_guard lock(mu_);
    return trace_;
  }

  // Whether to record is decided on the calling thread: the SQLite store's
  // group commit may run fn on another writer's thread.
  Status Transact(const std::function<Status(store::Tx&)>& fn) override {
    const bool mine = Record("Transact");
    return inner_.Transact([&](store::Tx& tx) {
      Tx wrapped(*this, tx, mine);
      return fn(wrapped);
    });
  }
  Status Read(const std::function<Status(store::Tx&)>& fn) override {
    const bool mine = Record("Read");
    return inner_.Read([&](store::Tx& tx) {
      Tx wrapped(*this, tx, mine);
      return fn(wrapped);
    });
  }
  Result<int> SchemaVersion() override { return inner_.SchemaVersion(); }
  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    return inner_.RunExclusive(task, fn);
  }

 private:
  // Records `name` when called on the recording thread; true when it did.
  bool Record(const char* name) {
    std::lock_guard lock(mu_);
    if (std::this_thread::get_id() != thread_) return false;
    trace_.emplace_back(name);
    return true;
  }
  void RecordAlways(const char* name) {
    std::lock_guard lock(mu_);
    trace_.emplace_back(name);
  }

  class Tx final : public store::Tx {
   public:
    Tx(CountingStore& owner, store::Tx& inner, bool record)
        : owner_(owner), inner_(inner), record_(record) {}

#define KW_COUNTING_FORWARD(Ret, Name, Params, Args) \
  Ret Name Params override {                         \
    if (record_) owner_.RecordAlways(#Name);         \
    return inner_.Name Args;                         \
  }
    KW_STORE_TX_METHODS(KW_COUNTING_FORWARD)
#undef KW_COUNTING_FORWARD

   private:
    CountingStore& owner_;
    store::Tx& inner_;
    const bool record_;
  };

  store::Store& inner_;
  mutable std::mutex mu_;
  std::thread::id thread_;
  std::vector<std::string> trace_;
};

}  // namespace keyward::testing
