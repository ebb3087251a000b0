#include "common/clock.h"

#include <ctime>

#include <gtest/gtest.h>

namespace keyward {
namespace {

std::string ViaStrftime(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST(ClockTest, FormatsKnownInstants) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(951782400), "2000-02-29T00:00:00Z");  // leap day of a /400 year
  EXPECT_EQ(FormatRfc3339(1795295640), "2026-11-21T21:14:00Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59Z");
}

TEST(ClockTest, AgreesWithStrftimeOverCenturies) {
  // Steps of a prime number of seconds cross every month, leap years and
  // 2100 (not a leap year).
  for (int64_t t = -2'000'000'000; t < 5'000'000'000; t += 7'777'777) {
    ASSERT_EQ(FormatRfc3339(t), ViaStrftime(t)) << t;
  }
}

}  // namespace
}  // namespace keyward
