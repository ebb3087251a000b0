// Time is injected so every expiry and rate-limit rule can be unit tested
// with a fake clock (tests/support/fake_clock.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace keyward {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch, UTC.
  virtual int64_t NowUnix() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnix() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// "2026-11-21T21:14:00Z"
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace keyward
