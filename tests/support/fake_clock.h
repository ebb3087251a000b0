#pragma once

#include <atomic>

#include "common/clock.h"

namespace keyward::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now = 1'790'000'000) : now_(now) {}
  int64_t NowUnix() const override { return now_.load(); }
  void Advance(int64_t seconds) { now_ += seconds; }
  void Set(int64_t now) { now_ = now; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace keyward::testing
