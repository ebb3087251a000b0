#include "core/events.h"

#include "core/org_access.h"

namespace keyward::core {

namespace {

bool Digits(std::string_view text, size_t pos, size_t n, int& out) {
  if (pos + n > text.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

Error InvalidQuery(std::string_view parameter) {
  return Error::InvalidArgument(
      "request.invalid_query",
      "The query parameter '" + std::string(parameter) + "' is not valid.");
}

std::optional<int64_t> ParseRfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS
  int year, month, day, hour, minute, second;
  if (t.size() < 20 || !Digits(t, 0, 4, year) || t[4] != '-' || !Digits(t, 5, 2, month) ||
      t[7] != '-' || !Digits(t, 8, 2, day) || (t[10] != 'T' && t[10] != 't') ||
      !Digits(t, 11, 2, hour) || t[13] != ':' || !Digits(t, 14, 2, minute) || t[16] != ':' ||
      !Digits(t, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  if (t[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!Digits(t, pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
        !Digits(t, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (t[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  if (second == 60) second = 59;  // a leap second: the last second of the minute
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
}

Result<EventPage> EventService::List(const Caller& caller, std::string_view org_id,
                                     const EventQuery& query) {
  if (query.limit < 1 || query.limit > kMaxEventPage) return Fail(InvalidQuery("limit"));
  EventPage page;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    if (!access.recovery_admin()) {
      return Fail(
          Error::PermissionDenied("org.forbidden", "Only recovery admins read the event log."));
    }
    // One more than asked tells whether another page follows.
    KW_ASSIGN_OR_RETURN(page.events,
                        tx.ListEvents(org_id, query.after, query.limit + 1, query.filter));
    return {};
  }));
  if (static_cast<int64_t>(page.events.size()) > query.limit) {
    page.events.resize(static_cast<size_t>(query.limit));
    page.next_after = page.events.back().seq;
  }
  return page;
}

}  // namespace keyward::core
