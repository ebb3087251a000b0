// MakeBackgroundMailer (mailer.h): best-effort emails leave the request path.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "mail/mailer.h"

namespace keyward::mail {

namespace {

class BackgroundMailer final : public Mailer {
 public:
  BackgroundMailer(std::unique_ptr<Mailer> inner, size_t capacity)
      : inner_(std::move(inner)), capacity_(capacity), worker_([this] { Run(); }) {}

  ~BackgroundMailer() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_one();
    worker_.join();
  }

  Status Send(const Message& message) override { return inner_->Send(message); }

  Status Queue(const Message& message) override {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || queue_.size() >= capacity_) {
        return Fail(Error::Unavailable("mail.unavailable", "the mail queue is full"));
      }
      queue_.push_back(message);
    }
    wake_.notify_one();
    return {};
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything delivered
      Message message = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      if (auto s = inner_->Send(message); !s) {
        spdlog::warn("mail: a queued email could not be sent ({})", s.error().code());
      }
      lock.lock();
    }
  }

  std::unique_ptr<Mailer> inner_;
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Message> queue_;
  bool stopping_ = false;
  std::thread worker_;  // last: starts once everything above exists
};

}  // namespace

std::unique_ptr<Mailer> MakeBackgroundMailer(std::unique_ptr<Mailer> inner, size_t capacity) {
  return std::make_unique<BackgroundMailer>(std::move(inner), capacity);
}

}  // namespace keyward::mail
