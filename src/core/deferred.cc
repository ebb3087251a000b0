#include "core/deferred.h"

#include <utility>

#include <spdlog/spdlog.h>

namespace keyward::core {

Deferred::Deferred(size_t capacity) : capacity_(capacity), worker_([this] { Run(); }) {}

Deferred::~Deferred() { Stop(); }

void Deferred::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= capacity_) {
      spdlog::warn("deferred: a background task was dropped (queue full or stopping)");
      return;
    }
    queue_.push_back(std::move(task));
  }
  work_.notify_one();
}

void Deferred::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return queue_.empty() && !running_task_; });
}

void Deferred::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  work_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void Deferred::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      idle_.notify_all();
      return;  // stopping, and everything ran
    }
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    running_task_ = true;
    lock.unlock();
    task();
    lock.lock();
    running_task_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace keyward::core
