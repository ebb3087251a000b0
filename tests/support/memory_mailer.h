#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/mail.h"

namespace keyward::testing {

// Keeps sent messages in memory; can be told to fail.
class MemoryMailer final : public core::mail::Mailer {
 public:
  Status Send(const core::mail::Message& message) override {
    std::lock_guard lock(mu_);
    ++attempts_;
    if (fail_) return Fail(Error::Unavailable("mail.unavailable", "mail is down (test)"));
    sent_.push_back(message);
    return {};
  }
  // Every Send call, failed ones too.
  size_t Attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  std::vector<core::mail::Message> Sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  void SetFailing(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  // LastCodeFor, waiting up to `timeout` for the last message to `to` to
  // carry one: for mail sent after an answer (a registration's code).
  std::optional<std::string> WaitForCodeFor(
      const std::string& to, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto code = LastCodeFor(to);
      if (code || std::chrono::steady_clock::now() > deadline) return code;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // The 6-digit code on a line of its own in the last message to `to`.
  std::optional<std::string> LastCodeFor(const std::string& to) const {
    std::lock_guard lock(mu_);
    static const std::regex kCode(R"((^|\n)\s*(\d{6})\s*(\r?\n|$))");
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (it->to != to) continue;
      std::smatch m;
      if (std::regex_search(it->body, m, kCode)) return m[2].str();
      return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  mutable std::mutex mu_;
  std::vector<core::mail::Message> sent_;
  bool fail_ = false;
  size_t attempts_ = 0;
};

}  // namespace keyward::testing
