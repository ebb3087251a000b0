// The verifiable per-organization audit log, a wire format shared by the
// server (src/core appends) and the client (which verifies): the event value
// type, its canonical bytes, the hash chain over them, the consistency check
// against a head remembered by an admin's client, and the JSON Lines export.
// Pure functions, no store, no I/O. docs/protocol.md "Audit log chain
// (src/protocol/audit_chain)" is the byte-exact description a second
// implementation (the TypeScript client) follows; tests/vectors/
// audit_chain.json holds its known answers.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol::audit {

// Event types named by docs/protocol.md. Any well-formed dotted type
// is accepted (see Validate), so a new event needs no change here to verify.
namespace event_type {
inline constexpr std::string_view kRecoveryEnrolled = "recovery.enrolled";
inline constexpr std::string_view kRecoveryWithdrew = "recovery.withdrew";
inline constexpr std::string_view kPasswordResetByRecovery = "account.password_reset_by_recovery";
inline constexpr std::string_view kTemporaryPasswordUpdated = "account.temporary_password_updated";
inline constexpr std::string_view kLogin = "auth.login";
inline constexpr std::string_view kLoginFailed = "auth.login_failed";
inline constexpr std::string_view kRoleChanged = "org.role_changed";
inline constexpr std::string_view kPolicyChanged = "org.policy_changed";
inline constexpr std::string_view kKeyGranted = "org.key_granted";
inline constexpr std::string_view kKeyRotated = "org.key_rotated";
inline constexpr std::string_view kMemberRemoved = "org.member_removed";
inline constexpr std::string_view kDeviceRemoved = "device.removed";
}  // namespace event_type

// Limits enforced by Validate. Sequence numbers and times stay below 2^53 so
// that a JSON number carries them exactly in JavaScript.
inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;
inline constexpr size_t kMaxIdLength = 128;
inline constexpr size_t kMaxTypeLength = 64;
inline constexpr size_t kMaxDetails = 32;
inline constexpr size_t kMaxDetailKeyLength = 64;
inline constexpr size_t kMaxDetailValueLength = 1024;

// One security event of one organization. The log is read by every admin of
// the organization and exported as plain text: no field may ever hold a
// secret (no key, password, code, token, recovery link or ciphertext) and the
// details should hold identifiers and settings, not personal data.
struct Event {
  uint64_t seq = 0;       // per organization, 1, 2, 3, ... without gaps
  std::string org_id;     // required
  std::string type;       // dotted, e.g. "recovery.enrolled"
  std::string actor_id;   // who acted; empty = the server itself
  std::string target_id;  // whom it concerns; may be empty
  std::string device_id;  // the actor's device; may be empty
  int64_t time = 0;       // unix seconds, informational (see Verify)
  // Sorted by key bytes by construction, which is also the canonical order.
  std::map<std::string, std::string> details;

  friend bool operator==(const Event&, const Event&) = default;
};

// Rules (all violations are "events.invalid_event", naming the field only):
// seq in 1..2^53-1; time in 0..2^53-1; org_id 1..128 bytes and actor_id,
// target_id, device_id 0..128 bytes, all of [A-Za-z0-9_.:-]; type 3..64
// bytes of dot-separated labels [a-z][a-z0-9_]*, at least two labels; at most
// 32 details, keys 1..64 bytes of [a-z0-9_.], values 0..1024 bytes of UTF-8
// without control characters (U+0000..U+001F, U+007F).
[[nodiscard]] Status Validate(const Event& event);

// Version 1 of the canonical encoding, the bytes the chain hashes:
//   0x01
//   u64be seq
//   str org_id, str type, str actor_id, str target_id, str device_id
//   u64be time
//   u32be number of details, then for each in ascending byte order of key:
//     str key, str value
// where str = u32be byte length || the UTF-8 bytes. Defined for any event;
// only a valid one may enter a chain.
crypto::Bytes Canonical(const Event& event);

inline constexpr size_t kDigestSize = 32;
using Digest = std::array<uint8_t, kDigestSize>;

// The chain state after the event numbered `seq`; {0, all zeros} before the
// first event (Genesis). An admin's client remembers the last head it
// verified, per organization.
struct Head {
  uint64_t seq = 0;
  Digest hash{};

  friend bool operator==(const Head&, const Head&) = default;
};

inline constexpr Head Genesis() { return {}; }

// One step of the chain: BLAKE2b-256 keyed with 32 zero bytes (docs/protocol.md's
// H(0, ...)) over prev || Canonical(event). No checks.
Digest ChainHash(const Digest& prev, const Event& event);

// The head after `event`, which must be valid and numbered prev.seq + 1
// ("events.invalid_event" otherwise). The server calls this to store each
// new event's hash.
[[nodiscard]] Result<Head> Append(const Head& prev, const Event& event);

// Recomputes the chain of `org_id` from Genesis over `events` (the whole log,
// from event 1) and compares every step with `stored_hashes` (one per event).
// Returns the final head. The first broken link is reported as
// "events.chain_broken" with a message naming the event, one of:
//   "event 17: hash does not match"
//   "event 17: missing (the log skips from 16 to 18)"
//   "event 17: out of order (found event 18 in its place)"
//   "event 17: belongs to another organization"
//   "event 17: the field 'type' is not valid"
// Times may go backwards: several server nodes stamp events with their own
// clocks, and the order that counts is the sequence number.
// Different counts of events and hashes: "events.invalid_export". Both chain
// errors are ErrorKind::kConflict: the stored log is not what it should be.
[[nodiscard]] Result<Head> Verify(std::string_view org_id, std::span<const Event> events,
                                  std::span<const Digest> stored_hashes);

// The same over the events that follow `start` (numbered start.seq + 1, ...),
// for a client that fetches only what is new since the head it remembers.
[[nodiscard]] Result<Head> VerifyFrom(const Head& start, std::string_view org_id,
                                      std::span<const Event> events,
                                      std::span<const Digest> stored_hashes);

// Certificate-Transparency-style consistency: does the log `events` (the whole
// log from event 1, typically just checked by Verify) still contain the
// remembered head, i.e. does recomputing the chain reach remembered.hash at
// event remembered.seq? Fine when the log extends the head (or equals it).
// "events.chain_rewritten" when it does not:
//   "event 17: does not match the remembered head"
//   "the log ends at event 12, before the remembered event 17"
// A gap or disorder before the remembered event is "events.chain_broken".
// Only numbers and hashes matter here; field rules are Verify's job.
[[nodiscard]] Status CheckExtends(const Head& remembered, std::span<const Event> events);

// ---- JSON Lines export ----

// One exported line: the event and its stored chain hash.
struct Record {
  Event event;
  Digest hash{};

  friend bool operator==(const Record&, const Record&) = default;
};

// Verify over records (e.g. from ParseJsonLines).
[[nodiscard]] Result<Head> Verify(std::string_view org_id, std::span<const Record> records);

// The records built by appending `events` to Genesis in order.
[[nodiscard]] Result<std::vector<Record>> BuildChain(std::span<const Event> events);

// One JSON object per record, in this key order, each line ending in '\n':
//   {"seq":1,"org_id":"..","type":"..","actor_id":"..","target_id":"..",
//    "device_id":"..","time":1700000000,"details":{"k":"v"},"hash":"<64 hex>"}
// Empty ids are "" (never omitted); details are sorted by key; hash is
// lowercase hex. "events.invalid_event" if any event is invalid.
[[nodiscard]] Result<std::string> ExportJsonLines(std::span<const Record> records);

// Strict inverse of one line of ExportJsonLines (without its '\n'): exactly
// those keys, each once, with those JSON types (integers, not 1.0), a valid
// event and a 64-digit lowercase hex hash. Key order and whitespace are free.
[[nodiscard]] Result<Record> ParseJsonLine(std::string_view line);

// Every line of `text`, each ended by '\n' (the last may omit it); no blank
// lines; at most 64 KiB a line. Errors are "events.invalid_export" with the
// line number, e.g. "line 3: the field 'hash' is not valid". Parsing does not
// verify the chain: call Verify on the result.
[[nodiscard]] Result<std::vector<Record>> ParseJsonLines(std::string_view text);

}  // namespace keyward::protocol::audit
