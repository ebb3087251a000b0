// Work a request leaves for after its answer (issue 10, item 4). What is
// written only for a known account or an existing request (the events of a
// failed login, of a wrong emailed code, of a wrong link token) is posted
// here, so that the answer itself does the same store work, and takes the
// same time, whether or not the email or the request exists. One worker
// thread runs the tasks in order; each task opens its own transaction.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace keyward::core {

class Deferred {
 public:
  explicit Deferred(size_t capacity = 10'000);
  ~Deferred();  // runs what is queued, then stops
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;

  // Queues `task` (never run inline). Over capacity the task is dropped and
  // that is logged (without details).
  void Post(std::function<void()> task);
  // Returns once every task posted before the call has run.
  void WaitIdle();
  // Runs what is queued and stops the worker; Post afterwards drops.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  const size_t capacity_;
  bool running_task_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace keyward::core
