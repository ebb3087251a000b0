// Reading an organization's event log (docs/protocol.md "Audit log chain";
// docs/api.md "GET /v1/orgs/{org}/events"): recovery admins page through it with
// filters; the chain itself is written by AppendOrgEvent (org_access.h) in
// the transaction of each change and verified by the admin's client
// (audit_chain.h).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "store/store.h"

namespace keyward::core {

inline constexpr int64_t kDefaultEventPage = 100;
inline constexpr int64_t kMaxEventPage = 1000;

struct EventQuery {
  uint64_t after = 0;  // seq
  int64_t limit = kDefaultEventPage;
  store::EventFilter filter;
};

struct EventPage {
  std::vector<core::OrgEvent> events;
  std::optional<uint64_t> next_after;  // nullopt: this is the last page
};

class EventService {
 public:
  explicit EventService(const Context& ctx) : ctx_(ctx) {}

  // Recovery admins (org.forbidden otherwise). request.invalid_query for a
  // limit outside 1..1000.
  [[nodiscard]] Result<EventPage> List(const Caller& caller, std::string_view org_id,
                                       const EventQuery& query);

 private:
  const Context& ctx_;
};

// "2026-11-21T21:14:00Z", also with fractional seconds (dropped) and a
// "+hh:mm" / "-hh:mm" offset; "T" and "Z" in either case. nullopt otherwise.
std::optional<int64_t> ParseRfc3339(std::string_view text);

Error InvalidQuery(std::string_view parameter);  // 400 request.invalid_query

}  // namespace keyward::core
