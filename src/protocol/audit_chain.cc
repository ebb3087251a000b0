#include "protocol/audit_chain.h"

#include "common/byte_writer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace keyward::protocol::audit {

namespace {

constexpr uint8_t kCanonicalVersion = 0x01;
constexpr size_t kMaxLineLength = 64 * 1024;
// docs/protocol.md's H(0, ...): BLAKE2b-256 keyed with 32 zero bytes (which is not
// the same function as unkeyed BLAKE2b-256).
constexpr std::array<uint8_t, 32> kChainKey{};

// ---- field rules ----

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

bool IsValidId(std::string_view id, bool required) {
  if (id.empty()) return !required;
  return id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), IsIdChar);
}

bool IsValidType(std::string_view type) {
  if (type.size() < 3 || type.size() > kMaxTypeLength) return false;
  size_t labels = 0;
  size_t start = 0;
  while (start <= type.size()) {
    size_t end = type.find('.', start);
    if (end == std::string_view::npos) end = type.size();
    std::string_view label = type.substr(start, end - start);
    if (label.empty() || label.front() < 'a' || label.front() > 'z') return false;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    ++labels;
    start = end + 1;
  }
  return labels >= 2;
}

bool IsValidDetailKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxDetailKeyLength) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

// Well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF) without C0 controls or DEL.
bool IsValidDetailValue(std::string_view value) {
  if (value.size() > kMaxDetailValueLength) return false;
  size_t i = 0;
  while (i < value.size()) {
    auto b = static_cast<unsigned char>(value[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == 0x7f) return false;
      ++i;
      continue;
    }
    size_t extra;
    uint32_t cp;
    if (b >= 0xc2 && b <= 0xdf) {
      extra = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      extra = 2;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      extra = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (value.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto c = static_cast<unsigned char>(value[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// The first field that breaks a rule of Validate, if any.
std::optional<std::string_view> BadField(const Event& e) {
  if (e.seq < 1 || e.seq > kMaxSafeInteger) return "seq";
  if (!IsValidId(e.org_id, /*required=*/true)) return "org_id";
  if (!IsValidType(e.type)) return "type";
  if (!IsValidId(e.actor_id, false)) return "actor_id";
  if (!IsValidId(e.target_id, false)) return "target_id";
  if (!IsValidId(e.device_id, false)) return "device_id";
  if (e.time < 0 || static_cast<uint64_t>(e.time) > kMaxSafeInteger) return "time";
  if (e.details.size() > kMaxDetails) return "details";
  for (const auto& [key, value] : e.details) {
    if (!IsValidDetailKey(key) || !IsValidDetailValue(value)) return "details";
  }
  return std::nullopt;
}

std::string FieldMessage(std::string_view field) {
  return "the field '" + std::string(field) + "' is not valid";
}

Error InvalidEvent(std::string_view field) {
  return Error::InvalidArgument("events.invalid_event",
                                "The event is not valid: " + FieldMessage(field) + ".");
}

Error InvalidExport(std::string message) {
  return Error::InvalidArgument("events.invalid_export", std::move(message));
}

Error Broken(uint64_t seq, std::string_view why) {
  return Error::Conflict("events.chain_broken",
                         "event " + std::to_string(seq) + ": " + std::string(why));
}

Error Rewritten(std::string message) {
  return Error::Conflict("events.chain_rewritten", std::move(message));
}

// ---- canonical bytes ----

// ---- sequence checks shared by Verify and CheckExtends ----

// The event at `pos` should be numbered `expected`; names what is wrong
// otherwise. `seq_at(i)` is the number carried by the event at position i.
template <class SeqAt>
std::optional<Error> CheckSeq(uint64_t expected, size_t pos, size_t count, SeqAt seq_at) {
  const uint64_t found = seq_at(pos);
  if (found == expected) return std::nullopt;
  for (size_t i = pos + 1; i < count; ++i) {
    if (seq_at(i) == expected) {
      return Broken(expected,
                    "out of order (found event " + std::to_string(found) + " in its place)");
    }
  }
  if (found > expected) {
    if (expected == 1) {
      return Broken(expected, "missing (the log starts at event " + std::to_string(found) + ")");
    }
    return Broken(expected, "missing (the log skips from " + std::to_string(expected - 1) + " to " +
                                std::to_string(found) + ")");
  }
  return Broken(expected, "out of order (found event " + std::to_string(found) + " in its place)");
}

template <class EventAt, class HashAt>
Result<Head> VerifyImpl(Head head, std::string_view org_id, size_t count, EventAt event_at,
                        HashAt hash_at) {
  auto seq_at = [&](size_t i) { return event_at(i).seq; };
  for (size_t pos = 0; pos < count; ++pos) {
    const Event& e = event_at(pos);
    const uint64_t expected = head.seq + 1;
    if (auto err = CheckSeq(expected, pos, count, seq_at)) return Fail(std::move(*err));
    if (auto field = BadField(e)) return Fail(Broken(expected, FieldMessage(*field)));
    if (e.org_id != org_id) return Fail(Broken(expected, "belongs to another organization"));
    Digest next = ChainHash(head.hash, e);
    if (next != hash_at(pos)) return Fail(Broken(expected, "hash does not match"));
    head = {expected, next};
  }
  return head;
}

// ---- JSON ----

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// Parses one JSON text, refusing duplicate keys (nlohmann keeps the last).
std::optional<Json> ParseStrict(std::string_view text) {
  std::vector<std::set<std::string>> open;
  bool duplicate = false;
  Json::parser_callback_t cb = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second) {
          duplicate = true;
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json doc = Json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (doc.is_discarded() || duplicate) return std::nullopt;
  return doc;
}

std::optional<Digest> ParseHexDigest(const std::string& hex) {
  if (hex.size() != 2 * kDigestSize) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  Digest out{};
  for (size_t i = 0; i < kDigestSize; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

constexpr std::array<std::string_view, 9> kLineKeys = {
    "seq", "org_id", "type", "actor_id", "target_id", "device_id", "time", "details", "hash"};

}  // namespace

Status Validate(const Event& event) {
  if (auto field = BadField(event)) return Fail(InvalidEvent(*field));
  return {};
}

crypto::Bytes Canonical(const Event& e) {
  crypto::Bytes out;
  out.reserve(64 + e.org_id.size() + e.type.size() + e.actor_id.size() + e.target_id.size() +
              e.device_id.size());
  out.push_back(kCanonicalVersion);
  AppendU64Be(out, e.seq);
  AppendLengthPrefixed(out, e.org_id);
  AppendLengthPrefixed(out, e.type);
  AppendLengthPrefixed(out, e.actor_id);
  AppendLengthPrefixed(out, e.target_id);
  AppendLengthPrefixed(out, e.device_id);
  AppendU64Be(out, static_cast<uint64_t>(e.time));
  AppendU32Be(out, static_cast<uint32_t>(e.details.size()));
  for (const auto& [key, value] : e.details) {  // std::map: ascending byte order
    AppendLengthPrefixed(out, key);
    AppendLengthPrefixed(out, value);
  }
  return out;
}

Digest ChainHash(const Digest& prev, const Event& event) {
  crypto::Bytes message(prev.begin(), prev.end());
  crypto::Bytes canonical = Canonical(event);
  message.insert(message.end(), canonical.begin(), canonical.end());
  crypto::Bytes h = crypto::Hash(kChainKey, message);
  Digest out{};
  std::copy_n(h.begin(), kDigestSize, out.begin());
  return out;
}

Result<Head> Append(const Head& prev, const Event& event) {
  if (auto field = BadField(event)) return Fail(InvalidEvent(*field));
  if (event.seq != prev.seq + 1) return Fail(InvalidEvent("seq"));
  return Head{event.seq, ChainHash(prev.hash, event)};
}

Result<Head> VerifyFrom(const Head& start, std::string_view org_id, std::span<const Event> events,
                        std::span<const Digest> stored_hashes) {
  if (events.size() != stored_hashes.size()) {
    return Fail(InvalidExport("The log has " + std::to_string(events.size()) + " events but " +
                              std::to_string(stored_hashes.size()) + " hashes."));
  }
  return VerifyImpl(
      start, org_id, events.size(), [&](size_t i) -> const Event& { return events[i]; },
      [&](size_t i) -> const Digest& { return stored_hashes[i]; });
}

Result<Head> Verify(std::string_view org_id, std::span<const Event> events,
                    std::span<const Digest> stored_hashes) {
  return VerifyFrom(Genesis(), org_id, events, stored_hashes);
}

Result<Head> Verify(std::string_view org_id, std::span<const Record> records) {
  return VerifyImpl(
      Genesis(), org_id, records.size(), [&](size_t i) -> const Event& { return records[i].event; },
      [&](size_t i) -> const Digest& { return records[i].hash; });
}

Status CheckExtends(const Head& remembered, std::span<const Event> events) {
  if (remembered.seq == 0) {
    if (remembered.hash != Genesis().hash) {
      return Fail(
          Error::InvalidArgument("events.invalid_head", "The remembered head is not valid."));
    }
    return {};
  }
  Head head = Genesis();
  auto seq_at = [&](size_t i) { return events[i].seq; };
  for (size_t pos = 0; pos < events.size() && head.seq < remembered.seq; ++pos) {
    const uint64_t expected = head.seq + 1;
    if (auto err = CheckSeq(expected, pos, events.size(), seq_at)) return Fail(std::move(*err));
    head = {expected, ChainHash(head.hash, events[pos])};
  }
  const std::string want = std::to_string(remembered.seq);
  if (head.seq < remembered.seq) {
    if (head.seq == 0)
      return Fail(Rewritten("the log is empty, before the remembered event " + want));
    return Fail(Rewritten("the log ends at event " + std::to_string(head.seq) +
                          ", before the remembered event " + want));
  }
  if (head.hash != remembered.hash) {
    return Fail(Rewritten("event " + want + ": does not match the remembered head"));
  }
  return {};
}

Result<std::vector<Record>> BuildChain(std::span<const Event> events) {
  std::vector<Record> out;
  out.reserve(events.size());
  Head head = Genesis();
  for (const Event& e : events) {
    auto next = Append(head, e);
    if (!next) return Fail(std::move(next.error()));
    head = *next;
    out.push_back({e, head.hash});
  }
  return out;
}

Result<std::string> ExportJsonLines(std::span<const Record> records) {
  std::string out;
  for (const Record& r : records) {
    const Event& e = r.event;
    if (auto field = BadField(e)) return Fail(InvalidEvent(*field));
    OrderedJson details = OrderedJson::object();
    for (const auto& [key, value] : e.details) details[key] = value;
    OrderedJson line = {{"seq", e.seq},
                        {"org_id", e.org_id},
                        {"type", e.type},
                        {"actor_id", e.actor_id},
                        {"target_id", e.target_id},
                        {"device_id", e.device_id},
                        {"time", e.time},
                        {"details", std::move(details)},
                        {"hash", crypto::HexEncode(r.hash)}};
    out += line.dump();
    out += '\n';
  }
  return out;
}

Result<Record> ParseJsonLine(std::string_view line) {
  auto parsed = ParseStrict(line);
  if (!parsed || !parsed->is_object()) return Fail(InvalidExport("not a valid JSON object"));
  const Json& j = *parsed;
  for (const auto& [key, _] : j.items()) {
    if (std::find(kLineKeys.begin(), kLineKeys.end(), key) == kLineKeys.end()) {
      return Fail(InvalidExport("unexpected field"));
    }
  }
  for (std::string_view key : kLineKeys) {
    if (!j.contains(key))
      return Fail(InvalidExport("the field '" + std::string(key) + "' is missing"));
  }
  auto bad = [](std::string_view field) { return Fail(InvalidExport(FieldMessage(field))); };

  Record r;
  Event& e = r.event;
  const Json& seq = j["seq"];
  if (!seq.is_number_unsigned()) return bad("seq");
  e.seq = seq.get<uint64_t>();
  struct StringField {
    const char* key;
    std::string* into;
  };
  for (auto [key, into] :
       {StringField{"org_id", &e.org_id}, StringField{"type", &e.type},
        StringField{"actor_id", &e.actor_id}, StringField{"target_id", &e.target_id},
        StringField{"device_id", &e.device_id}}) {
    if (!j[key].is_string()) return bad(key);
    *into = j[key].get<std::string>();
  }
  const Json& time = j["time"];
  if (!time.is_number_integer()) return bad("time");
  if (time.is_number_unsigned() && time.get<uint64_t>() > kMaxSafeInteger) return bad("time");
  e.time = time.get<int64_t>();
  const Json& details = j["details"];
  if (!details.is_object()) return bad("details");
  for (const auto& [key, value] : details.items()) {
    if (!value.is_string()) return bad("details");
    e.details.emplace(key, value.get<std::string>());
  }
  if (auto field = BadField(e)) return bad(*field);
  const Json& hash = j["hash"];
  if (!hash.is_string()) return bad("hash");
  auto digest = ParseHexDigest(hash.get<std::string>());
  if (!digest) return bad("hash");
  r.hash = *digest;
  return r;
}

Result<std::vector<Record>> ParseJsonLines(std::string_view text) {
  std::vector<Record> out;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.empty()) return Fail(InvalidExport(where + "blank line"));
    if (line.size() > kMaxLineLength) return Fail(InvalidExport(where + "too long"));
    auto record = ParseJsonLine(line);
    if (!record) return Fail(InvalidExport(where + record.error().message()));
    out.push_back(std::move(*record));
  }
  return out;
}

}  // namespace keyward::protocol::audit
