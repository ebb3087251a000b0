// What the SQLite and the PostgreSQL store share around their connections:
// a pool that opens connections lazily up to a maximum, and the process-wide
// try-locks behind Store::RunExclusive.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/try.h"
#include "store/sql/sql_store.h"
#include "store/store.h"

namespace keyward::store::sql {

// Up to `max` connections of type Conn, opened by `open` when none is idle; a
// caller waits while all are leased. Conn tells whether an idle connection
// still works (Alive(), checked before it is handed out) and whether a
// returned one may be used again (Reusable()); others are closed.
template <class Conn>
class Pool {
 public:
  using Opener = std::function<Result<std::unique_ptr<Conn>>()>;

  // A leased connection, returned to the pool when the lease ends.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept
        : pool_(o.pool_), conn_(std::move(o.conn_)), discard_(std::exchange(o.discard_, false)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->Release(std::move(conn_), discard_);
    }
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }
    // Closes the connection instead of returning it.
    void Discard() { discard_ = true; }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
    bool discard_ = false;
  };

  Pool(int max, Opener open) : max_(max < 1 ? 1 : max), open_(std::move(open)) {}

  // Puts an already open connection in the pool (the one a store migrated
  // with, say).
  void Add(std::unique_ptr<Conn> conn) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
    ++count_;
  }

  [[nodiscard]] Result<Lease> Acquire() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !idle_.empty() || count_ < max_; });
      if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn->Alive()) return Lease(this, std::move(conn));
        --count_;  // dead while idle (a restart, a terminated backend): drop it
        continue;
      }
      ++count_;
      lock.unlock();
      auto conn = open_();
      if (!conn) {
        lock.lock();
        --count_;
        cv_.notify_one();
        return Fail(conn.error());
      }
      return Lease(this, std::move(*conn));
    }
  }

  // Closes every idle connection (after a lost one, the others are suspect
  // too: a database restart closes them all).
  void DropIdle() {
    std::lock_guard lock(mu_);
    count_ -= static_cast<int>(idle_.size());
    idle_.clear();
    cv_.notify_all();
  }

 private:
  void Release(std::unique_ptr<Conn> conn, bool discard) {
    std::lock_guard lock(mu_);
    if (discard || !conn->Reusable()) {
      --count_;
    } else {
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

  const int max_;
  const Opener open_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int count_ = 0;  // idle and leased
};

// One try-lock per task name, for the holders of this process.
class TaskLocks {
 public:
  // Owns the lock unless another holder of `task` in this process has it.
  std::unique_lock<std::mutex> TryLock(std::string_view task) {
    std::lock_guard lock(mu_);
    auto& task_mu = locks_[std::string(task)];
    if (!task_mu) task_mu = std::make_unique<std::mutex>();
    return std::unique_lock(*task_mu, std::try_to_lock);
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> locks_;
};

// What both stores do the same way around their pool: the first connection
// migrates the database and joins the pool; Transact and Read are one Run;
// the schema version is read on a pooled connection.
template <class Conn>
class PooledStore : public Store {
 public:
  PooledStore(int pool_size, typename Pool<Conn>::Opener open)
      : pool_(pool_size, open), open_(std::move(open)) {}

  [[nodiscard]] Status Init() {
    KW_ASSIGN_OR_RETURN(auto conn, open_());
    KW_TRY(Migrate(*conn));
    pool_.Add(std::move(conn));
    return {};
  }

  Status Transact(const std::function<Status(Tx&)>& fn) override { return Run(fn, false); }
  Status Read(const std::function<Status(Tx&)>& fn) override { return Run(fn, true); }

  Result<int> SchemaVersion() override {
    KW_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    return sql::SchemaVersion(*lease);
  }

 protected:
  // Brings the database to the newest schema (in a transaction of its own).
  [[nodiscard]] virtual Status Migrate(Conn& conn) = 0;
  // Runs fn in one transaction, retrying as the database needs.
  [[nodiscard]] virtual Status Run(const std::function<Status(Tx&)>& fn, bool read_only) = 0;

  Pool<Conn> pool_;
  TaskLocks tasks_;

 private:
  typename Pool<Conn>::Opener open_;
};

}  // namespace keyward::store::sql
