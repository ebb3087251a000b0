#include "common/clock.h"

namespace keyward {

std::string FormatRfc3339(int64_t unix_seconds) {
  // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil
  // inverse), so formatting needs neither gmtime's time-zone lock nor strftime.
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  // Fixed-width digits by hand: snprintf showed up in item-listing profiles.
  std::string out = "0000-00-00T00:00:00Z";
  auto put = [&out](size_t pos, int64_t value, int width) {
    for (int k = width - 1; k >= 0; --k) {
      out[pos + k] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  if (year < 0 || year > 9999) return "0000-01-01T00:00:00Z";  // outside RFC 3339
  put(0, year, 4);
  put(5, month, 2);
  put(8, day, 2);
  put(11, secs / 3600, 2);
  put(14, secs / 60 % 60, 2);
  put(17, secs % 60, 2);
  return out;
}

}  // namespace keyward
