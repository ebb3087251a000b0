#include "core/domain.h"

#include <array>

namespace keyward::core {

std::string_view RequestStatusName(RequestStatus status) {
  switch (status) {
    case RequestStatus::kPending:
      return "pending";
    case RequestStatus::kApproved:
      return "approved";
    case RequestStatus::kLinkUsed:
      return "link_used";
    case RequestStatus::kExpired:
      return "expired";
    case RequestStatus::kDeclined:
      return "declined";
  }
  return "unknown";
}

std::optional<RequestStatus> ParseRequestStatus(std::string_view name) {
  for (RequestStatus s :
       {RequestStatus::kPending, RequestStatus::kApproved, RequestStatus::kLinkUsed,
        RequestStatus::kExpired, RequestStatus::kDeclined}) {
    if (RequestStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view MemberStatusName(MemberStatus status) {
  return status == MemberStatus::kRevoked ? "revoked" : "active";
}

}  // namespace keyward::core
