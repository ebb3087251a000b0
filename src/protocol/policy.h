// The recovery policy of an organization (docs/recovery.md "Changing the
// policy"), as carried inside its signed statements (statement.h:
// OrgStatement::policy_json). One strict codec shared by the server (which
// enforces the policy) and the member's client (which verified the statement
// that carries it).
//
// Canonical JSON: an object with these keys, in this order (sorted), no
// spaces:
//   {"enrollment":"opt-in","link_ttl":86400,"mode":"dual-control",
//    "notify":["a@example.com"],"pending_ttl":604800,"quorum":1}
// plus "pairing_reset":"deny" (between "notify" and "pending_ttl") only when
// pairing_reset is false. Allowed is the default and is omitted, so the text
// of every policy signed before the field existed is still canonical and
// means "allow". Likewise "snapshot_keep":N (last, after "quorum", by the
// same sorted order) only when snapshot_keep is not kDefaultSnapshotKeep;
// absent means the default. And "sso":"required" (last: "sso" sorts after
// "snapshot_keep") only when require_sso is set; absent (or "optional")
// means members may sign in with their master password alone. Any of the
// optional keys may be present or not.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace keyward::protocol {

enum class Enrollment { kDisabled, kOptIn, kOptOut, kMandatory };
enum class RecoveryMode { kDualControl, kAdminReset };

inline constexpr int kMaxQuorum = 10;
inline constexpr int64_t kMinLinkTtl = 5 * 60;
inline constexpr int64_t kMaxLinkTtl = 30 * 86400;
inline constexpr int64_t kMinPendingTtl = 3600;
inline constexpr int64_t kMaxPendingTtl = 90 * 86400;
inline constexpr size_t kMaxNotify = 50;
// Cloud snapshots (encrypted vault backups pushed with `keyward backup push`)
// the server keeps per member; the oldest beyond it are deleted when a new
// one is finished.
inline constexpr uint32_t kDefaultSnapshotKeep = 10;
inline constexpr uint32_t kMinSnapshotKeep = 1;
inline constexpr uint32_t kMaxSnapshotKeep = 100;

struct RecoveryPolicy {
  Enrollment enrollment = Enrollment::kDisabled;  // recovery is off until an owner turns it on
  RecoveryMode mode = RecoveryMode::kDualControl;
  int quorum = 1;                       // 1..kMaxQuorum distinct recovery admins
  int64_t link_ttl = 24 * 3600;         // seconds, kMinLinkTtl..kMaxLinkTtl
  int64_t pending_ttl = 7 * 24 * 3600;  // seconds, kMinPendingTtl..kMaxPendingTtl
  // Admins emailed about new requests; empty = every recovery admin. At most
  // kMaxNotify addresses, each a plausible email, lower-cased, no duplicates.
  std::vector<std::string> notify;
  // Whether a member who paired a new device may set a new master password
  // there without the old one (keyward account password --forgotten). JSON
  // "pairing_reset": "allow" (true, omitted when encoding) | "deny" (false).
  bool pairing_reset = true;
  // Cloud snapshots kept per member, kMinSnapshotKeep..kMaxSnapshotKeep. JSON
  // "snapshot_keep": an integer, omitted when encoding the default.
  uint32_t snapshot_keep = kDefaultSnapshotKeep;
  // require-sso (docs/sso.md): every new session of a member (owners
  // excepted, so that a provider outage cannot lock the organization out of
  // its own settings) goes through the organization's identity provider.
  // JSON "sso": "required" (true) | "optional" (false, omitted when
  // encoding).
  bool require_sso = false;

  friend bool operator==(const RecoveryPolicy&, const RecoveryPolicy&) = default;
};

// "disabled" | "opt-in" | "opt-out" | "mandatory"; else org.invalid_policy.
[[nodiscard]] Result<Enrollment> ParseEnrollment(std::string_view text);
std::string_view EnrollmentName(Enrollment e);
// "dual-control" | "admin-reset"; else org.invalid_policy.
[[nodiscard]] Result<RecoveryMode> ParseRecoveryMode(std::string_view text);
std::string_view RecoveryModeName(RecoveryMode m);

// The ranges above; org.invalid_policy (kInvalidArgument) with a message
// naming the field and the allowed range, never echoing an email.
[[nodiscard]] Status ValidatePolicy(const RecoveryPolicy& policy);

// Canonical JSON of a valid policy (ValidatePolicy first; an invalid one is
// org.invalid_policy).
[[nodiscard]] Result<std::string> EncodePolicy(const RecoveryPolicy& policy);

// Strict: a JSON object with exactly the six keys and the right types, plus
// optionally "pairing_reset" being exactly "allow" or "deny" (absent = allow)
// and optionally "snapshot_keep" being an integer 1..100 (absent =
// kDefaultSnapshotKeep) and "sso" being exactly "required" or "optional"
// (absent = optional), then ValidatePolicy. Anything else (another key, a
// repeated key, another pairing_reset value, a snapshot_keep out of range,
// a float or a string) is org.invalid_policy. (Not required to be canonical:
// a statement signed by another client is accepted when valid, including an
// explicit "pairing_reset":"allow" or "snapshot_keep":10, which EncodePolicy
// never writes.)
[[nodiscard]] Result<RecoveryPolicy> ParsePolicy(std::string_view json);

// "24h", "7d", "30m", "90s" or a bare number of seconds -> seconds;
// org.invalid_policy otherwise (for the CLI's --link-ttl / --pending-ttl).
[[nodiscard]] Result<int64_t> ParseDuration(std::string_view text);
// The inverse for display: the largest exact unit ("7d", "24h", "90s").
std::string FormatDuration(int64_t seconds);

}  // namespace keyward::protocol
