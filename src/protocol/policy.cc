#include "protocol/policy.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

#include "common/try.h"
#include "protocol/binding.h"
#include "protocol/statement.h"

namespace keyward::protocol {
namespace {

using nlohmann::json;

Error Invalid(std::string message) {
  return Error::InvalidArgument("org.invalid_policy", std::move(message));
}

// Always present. "pairing_reset" and "snapshot_keep" are the optional keys:
// present only when not the default ("deny", and a count other than
// kDefaultSnapshotKeep), so that every policy signed before they existed
// keeps its exact text.
constexpr std::array<std::string_view, 6> kKeys = {"enrollment", "link_ttl",    "mode",
                                                   "notify",     "pending_ttl", "quorum"};
constexpr std::string_view kPairingResetKey = "pairing_reset";
constexpr std::string_view kSnapshotKeepKey = "snapshot_keep";
constexpr std::string_view kSsoKey = "sso";

std::string SnapshotKeepRange() {
  return "snapshot_keep must be an integer " + std::to_string(kMinSnapshotKeep) + ".." +
         std::to_string(kMaxSnapshotKeep);
}

// A plausible address, already lower-cased: one '@', a non-empty local part,
// a dotted domain, printable ASCII without spaces. Deliverability is the
// mailer's business; this keeps junk and look-alikes out of signed policies.
bool PlausibleEmail(std::string_view e) {
  if (e.size() < 3 || e.size() > 254) return false;
  const size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view domain = e.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.') {
    return false;
  }
  return std::all_of(e.begin(), e.end(), [](char c) {
    return c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z') && c != '"' && c != '\\' && c != ',' &&
           c != '<' && c != '>';
  });
}

Result<int64_t> IntField(const json& j, const char* key) {
  const json& v = j.at(key);
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Fail(Invalid(std::string("the field '") + key + "' is out of range"));
    }
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return Fail(Invalid(std::string("the field '") + key + "' must be an integer"));
}

Result<std::string> StringField(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_string()) return Fail(Invalid(std::string("the field '") + key + "' must be a string"));
  return v.get<std::string>();
}

}  // namespace

Result<Enrollment> ParseEnrollment(std::string_view text) {
  if (text == "disabled") return Enrollment::kDisabled;
  if (text == "opt-in") return Enrollment::kOptIn;
  if (text == "opt-out") return Enrollment::kOptOut;
  if (text == "mandatory") return Enrollment::kMandatory;
  return Fail(Invalid("enrollment must be disabled, opt-in, opt-out or mandatory"));
}

std::string_view EnrollmentName(Enrollment e) {
  switch (e) {
    case Enrollment::kDisabled:
      return "disabled";
    case Enrollment::kOptIn:
      return "opt-in";
    case Enrollment::kOptOut:
      return "opt-out";
    case Enrollment::kMandatory:
      return "mandatory";
  }
  return "disabled";
}

Result<RecoveryMode> ParseRecoveryMode(std::string_view text) {
  if (text == "dual-control") return RecoveryMode::kDualControl;
  if (text == "admin-reset") return RecoveryMode::kAdminReset;
  return Fail(Invalid("mode must be dual-control or admin-reset"));
}

std::string_view RecoveryModeName(RecoveryMode m) {
  return m == RecoveryMode::kAdminReset ? "admin-reset" : "dual-control";
}

Status ValidatePolicy(const RecoveryPolicy& p) {
  if (static_cast<int>(p.enrollment) < 0 || static_cast<int>(p.enrollment) > 3) {
    return Fail(Invalid("enrollment must be disabled, opt-in, opt-out or mandatory"));
  }
  if (static_cast<int>(p.mode) < 0 || static_cast<int>(p.mode) > 1) {
    return Fail(Invalid("mode must be dual-control or admin-reset"));
  }
  if (p.quorum < 1 || p.quorum > kMaxQuorum) {
    return Fail(Invalid("quorum must be 1.." + std::to_string(kMaxQuorum)));
  }
  if (p.link_ttl < kMinLinkTtl || p.link_ttl > kMaxLinkTtl) {
    return Fail(Invalid("link_ttl must be " + FormatDuration(kMinLinkTtl) + ".." +
                        FormatDuration(kMaxLinkTtl)));
  }
  if (p.pending_ttl < kMinPendingTtl || p.pending_ttl > kMaxPendingTtl) {
    return Fail(Invalid("pending_ttl must be " + FormatDuration(kMinPendingTtl) + ".." +
                        FormatDuration(kMaxPendingTtl)));
  }
  if (p.snapshot_keep < kMinSnapshotKeep || p.snapshot_keep > kMaxSnapshotKeep) {
    return Fail(Invalid(SnapshotKeepRange()));
  }
  if (p.notify.size() > kMaxNotify) {
    return Fail(Invalid("notify holds at most " + std::to_string(kMaxNotify) + " addresses"));
  }
  for (size_t i = 0; i < p.notify.size(); ++i) {
    if (!PlausibleEmail(p.notify[i])) {
      return Fail(
          Invalid("notify entry " + std::to_string(i + 1) + " is not a lower-case email address"));
    }
    for (size_t k = 0; k < i; ++k) {
      if (p.notify[k] == p.notify[i]) {
        return Fail(Invalid("notify entry " + std::to_string(i + 1) + " is a duplicate"));
      }
    }
  }
  return {};
}

Result<std::string> EncodePolicy(const RecoveryPolicy& p) {
  KW_TRY(ValidatePolicy(p));
  json j = json::object();  // std::map: keys come out sorted
  j["enrollment"] = std::string(EnrollmentName(p.enrollment));
  j["link_ttl"] = p.link_ttl;
  j["mode"] = std::string(RecoveryModeName(p.mode));
  j["notify"] = p.notify;
  // Canonical form omits the default ("allow"): the six-key text is unchanged.
  if (!p.pairing_reset) j["pairing_reset"] = "deny";
  j["pending_ttl"] = p.pending_ttl;
  j["quorum"] = p.quorum;
  // Likewise the default count (10): sorted, it comes last.
  if (p.snapshot_keep != kDefaultSnapshotKeep) j["snapshot_keep"] = p.snapshot_keep;
  // And "optional" (sorted last).
  if (p.require_sso) j["sso"] = "required";
  return j.dump(-1, ' ', false, json::error_handler_t::strict);
}

Result<RecoveryPolicy> ParsePolicy(std::string_view text) {
  if (text.size() > kMaxPolicySize) return Fail(Invalid("the policy is larger than 16 KiB"));
  // nlohmann keeps the last of repeated keys; a signed policy must say one
  // thing, so repeats at the top level are refused.
  bool duplicate = false;
  std::vector<std::string> seen;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const std::string& k = parsed.get_ref<const std::string&>();
      if (std::find(seen.begin(), seen.end(), k) != seen.end()) duplicate = true;
      seen.push_back(k);
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Fail(Invalid("the policy is not a JSON object"));
  if (duplicate) return Fail(Invalid("the policy repeats a field"));
  const bool has_pairing_reset = j.contains(kPairingResetKey);
  const bool has_snapshot_keep = j.contains(kSnapshotKeepKey);
  const bool has_sso = j.contains(kSsoKey);
  if (j.size() != kKeys.size() + (has_pairing_reset ? 1 : 0) + (has_snapshot_keep ? 1 : 0) +
                      (has_sso ? 1 : 0)) {
    return Fail(
        Invalid("the policy must have the six required fields, plus the optional 'pairing_reset', "
                "'snapshot_keep' and 'sso'"));
  }
  for (std::string_view k : kKeys) {
    if (!j.contains(k)) return Fail(Invalid("the policy lacks the field '" + std::string(k) + "'"));
  }
  RecoveryPolicy p;
  if (has_pairing_reset) {
    KW_ASSIGN_OR_RETURN(auto pairing_reset, StringField(j, "pairing_reset"));
    if (pairing_reset != "allow" && pairing_reset != "deny") {
      return Fail(Invalid("pairing_reset must be allow or deny"));
    }
    p.pairing_reset = pairing_reset == "allow";
  }
  if (has_snapshot_keep) {
    // An integer only (2.5, 10.0, "10", true and null are refused), in range.
    KW_ASSIGN_OR_RETURN(auto keep, IntField(j, "snapshot_keep"));
    if (keep < kMinSnapshotKeep || keep > kMaxSnapshotKeep) {
      return Fail(Invalid(SnapshotKeepRange()));
    }
    p.snapshot_keep = static_cast<uint32_t>(keep);
  }
  if (has_sso) {
    KW_ASSIGN_OR_RETURN(auto sso, StringField(j, "sso"));
    if (sso != "required" && sso != "optional") {
      return Fail(Invalid("sso must be required or optional"));
    }
    p.require_sso = sso == "required";
  }
  KW_ASSIGN_OR_RETURN(auto enrollment, StringField(j, "enrollment"));
  KW_ASSIGN_OR_RETURN(auto e, ParseEnrollment(enrollment));
  p.enrollment = e;
  KW_ASSIGN_OR_RETURN(auto mode_text, StringField(j, "mode"));
  KW_ASSIGN_OR_RETURN(auto mode, ParseRecoveryMode(mode_text));
  p.mode = mode;
  KW_ASSIGN_OR_RETURN(auto quorum, IntField(j, "quorum"));
  if (quorum < 1 || quorum > kMaxQuorum) {
    return Fail(Invalid("quorum must be 1.." + std::to_string(kMaxQuorum)));
  }
  p.quorum = static_cast<int>(quorum);
  KW_ASSIGN_OR_RETURN(auto link_ttl, IntField(j, "link_ttl"));
  p.link_ttl = link_ttl;
  KW_ASSIGN_OR_RETURN(auto pending_ttl, IntField(j, "pending_ttl"));
  p.pending_ttl = pending_ttl;
  const json& notify = j.at("notify");
  if (!notify.is_array()) return Fail(Invalid("the field 'notify' must be an array"));
  if (notify.size() > kMaxNotify) {
    return Fail(Invalid("notify holds at most " + std::to_string(kMaxNotify) + " addresses"));
  }
  for (const json& a : notify) {
    if (!a.is_string()) return Fail(Invalid("notify entries must be strings"));
    p.notify.push_back(a.get<std::string>());
  }
  KW_TRY(ValidatePolicy(p));
  return p;
}

Result<int64_t> ParseDuration(std::string_view text) {
  const Error bad = Invalid("a duration is a positive number with an optional unit s, m, h or d");
  if (text.empty() || text.size() > 20) return Fail(bad);
  int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 's':
      digits.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      digits.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      digits.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      digits.remove_suffix(1);
      break;
    default:
      break;
  }
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Fail(bad);
  }
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || n <= 0 ||
      n > static_cast<int64_t>(kMaxCounter) / unit) {
    return Fail(bad);
  }
  return n * unit;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds != 0) {
    if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
    if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
    if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  }
  return std::to_string(seconds) + "s";
}

}  // namespace keyward::protocol
