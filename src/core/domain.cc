#include "core/domain.h"

#include <array>
#include <utility>

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

namespace {
constexpr std::array<std::pair<PairingState, std::string_view>, 5> kPairingStates = {{
    {PairingState::kWaiting, "waiting"},
    {PairingState::kAnswered, "answered"},
    {PairingState::kReleased, "released"},
    {PairingState::kDone, "done"},
    {PairingState::kClosed, "closed"},
}};
}  // namespace

std::string_view PairingStateName(PairingState state) {
  for (const auto& [s, name] : kPairingStates) {
    if (s == state) return name;
  }
  return "unknown";
}

std::optional<PairingState> ParsePairingState(std::string_view name) {
  for (const auto& [s, n] : kPairingStates) {
    if (n == name) return s;
  }
  return std::nullopt;
}

}  // namespace keyward::core
