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
constexpr std::array<std::pair<RequestKind, std::string_view>, 3> kRequestKinds = {{
    {RequestKind::kRecovery, "recovery"},
    {RequestKind::kRestore, "restore"},
    {RequestKind::kDevice, "device"},
}};
constexpr std::array<std::pair<SnapshotState, std::string_view>, 2> kSnapshotStates = {{
    {SnapshotState::kUploading, "uploading"},
    {SnapshotState::kReady, "ready"},
}};
constexpr std::array<std::pair<SsoClientKind, std::string_view>, 2> kSsoClientKinds = {{
    {SsoClientKind::kCli, "cli"},
    {SsoClientKind::kWeb, "web"},
}};

template <class E, size_t N>
std::string_view NameOf(const std::array<std::pair<E, std::string_view>, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "unknown";
}

template <class E, size_t N>
std::optional<E> ParseName(const std::array<std::pair<E, std::string_view>, N>& names,
                           std::string_view name) {
  for (const auto& [v, n] : names) {
    if (n == name) return v;
  }
  return std::nullopt;
}
}  // namespace

std::string_view RequestKindName(RequestKind kind) { return NameOf(kRequestKinds, kind); }
std::optional<RequestKind> ParseRequestKind(std::string_view name) {
  return ParseName(kRequestKinds, name);
}
std::string_view SnapshotStateName(SnapshotState state) { return NameOf(kSnapshotStates, state); }
std::optional<SnapshotState> ParseSnapshotState(std::string_view name) {
  return ParseName(kSnapshotStates, name);
}

std::string_view SsoClientKindName(SsoClientKind kind) { return NameOf(kSsoClientKinds, kind); }
std::optional<SsoClientKind> ParseSsoClientKind(std::string_view name) {
  return ParseName(kSsoClientKinds, name);
}

std::string_view PairingStateName(PairingState state) { return NameOf(kPairingStates, state); }

std::optional<PairingState> ParsePairingState(std::string_view name) {
  return ParseName(kPairingStates, name);
}

}  // namespace keyward::core
