// Writes tests/vectors/audit_chain.json, the known answers of the audit-log
// chain (src/protocol/audit_chain.h, docs/protocol.md "Audit log chain") that the
// C++ (src/protocol/audit_chain_test.cc) and TypeScript implementations both
// check. Run by hand, once: `keyward_generate_audit_vectors [out_dir]`.
// Deterministic: a re-run rewrites the same bytes. The canonical bytes and
// hashes were also recomputed independently (Python hashlib.blake2b with a
// 32-zero-byte key) when the file was first written.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/audit_chain.h"

namespace {

namespace audit = keyward::protocol::audit;
namespace kc = keyward::crypto;
using audit::Event;
using audit::Record;
using Json = nlohmann::ordered_json;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "generate_audit_chain: %s\n", what.c_str());
  std::exit(1);
}

// base64url of 16 fixed bytes, the shape of Keyward account ids.
constexpr const char* kOrg = "b3JnYW5pemF0aW9uLTAwMQ";     // "organization-001"
constexpr const char* kAdmin = "YWRtaW4tYWNjb3VudC0wMQ";   // "admin-account-01"
constexpr const char* kMember = "bWVtYmVyLWFjY291bnQtMQ";  // "member-account-1"

Event Ev(uint64_t seq, std::string type, std::string actor, std::string target, std::string device,
         int64_t time, std::map<std::string, std::string> details, std::string org = kOrg) {
  return {seq,
          std::move(org),
          std::move(type),
          std::move(actor),
          std::move(target),
          std::move(device),
          time,
          std::move(details)};
}

// Each record as the JSON object of its export line.
Json Lines(const std::vector<Record>& records) {
  auto text = audit::ExportJsonLines(records);
  if (!text) Die("export failed: " + text.error().message());
  auto parsed = audit::ParseJsonLines(*text);
  if (!parsed || *parsed != records) Die("export does not round-trip");
  Json out = Json::array();
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    out.push_back(Json::parse(text->substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

std::vector<Record> Chain(const std::vector<Event>& events) {
  auto records = audit::BuildChain(events);
  if (!records) Die("chain failed: " + records.error().message());
  return *records;
}

Json Outcome(const keyward::Error& e) { return {{"error", e.code()}, {"message", e.message()}}; }

}  // namespace

int main(int argc, char** argv) {
  if (!kc::Init()) Die("libsodium init failed");
  const std::string out_dir =
      argc > 1 ? argv[1] : std::string(KEYWARD_SOURCE_DIR) + "/tests/vectors";

  // A small log: a time going backwards (event 3: several server clocks),
  // the server as actor (empty actor_id), empty ids and details, non-ASCII.
  const std::vector<Event> events = {
      Ev(1, "recovery.enrolled", kMember, kMember, "cli-7f3a", 1700000000,
         {{"mode", "dual_control"}}),
      Ev(2, "org.role_changed", kAdmin, kMember, "web-01", 1700000100,
         {{"to", "admin"}, {"from", "member"}}),
      Ev(3, "auth.login_failed", "", kMember, "", 1700000050, {}),
      Ev(4, "org.policy_changed", kAdmin, "", "web-01", 1700000200,
         {{"require_2fa", "true"},
          {"policy.name",
           "\xc3\x89quipe s\xc3\xa9"
           "curit\xc3\xa9"}}),
      Ev(5, "account.password_reset_by_recovery", kAdmin, kMember, "web-01", 1700000300,
         {{"approvals", "2"}, {"emoji", "\xf0\x9f\x94\x91"}}),
  };
  const std::vector<Record> chain = Chain(events);
  Json chain_rows = Json::array();
  {
    Json lines = Lines(chain);
    for (size_t i = 0; i < chain.size(); ++i) {
      chain_rows.push_back(
          {{"line", lines[i]}, {"canonical", kc::HexEncode(audit::Canonical(chain[i].event))}});
    }
  }

  // Standalone encodings at the edges of the rules.
  Json canonical_rows = Json::array();
  for (const Event& e : {
           Ev(1, "auth.login", "", "", "", 0, {}),
           Ev(audit::kMaxSafeInteger, "device.removed", kMember, kMember, "phone-2",
              static_cast<int64_t>(audit::kMaxSafeInteger), {{"empty", ""}}),
           Ev(42, "org.key_rotated", kAdmin, "", "cli-1", 1700000000,
              {{"z", "last"}, {"a", "first"}, {"a.b", "dot"}, {"a_b", "underscore"}, {"m", "x"}}),
       }) {
    Json line = Lines({Record{e, {}}})[0];
    line.erase("hash");
    // Written in descending key order, so that a reader must sort to match.
    Json reversed = Json::object();
    for (auto it = line["details"].rbegin(); it != line["details"].rend(); ++it) {
      reversed[it.key()] = it.value();
    }
    line["details"] = reversed;
    canonical_rows.push_back({{"event", line}, {"canonical", kc::HexEncode(audit::Canonical(e))}});
  }

  // Logs that Verify must refuse, naming the first broken link.
  Json broken_rows = Json::array();
  auto add_broken = [&](const char* description, const std::vector<Record>& records) {
    auto head = audit::Verify(kOrg, records);
    if (head) Die(std::string("a broken log verified: ") + description);
    Json row = {{"description", description}, {"org_id", kOrg}, {"lines", Lines(records)}};
    row.update(Outcome(head.error()));
    broken_rows.push_back(row);
  };
  {
    auto edited = chain;
    edited[2].event.time += 1;
    add_broken("event 3's time edited, stored hashes kept", edited);
    auto deleted = chain;
    deleted.erase(deleted.begin() + 1);
    add_broken("event 2 deleted", deleted);
    auto swapped = chain;
    std::swap(swapped[1], swapped[2]);
    add_broken("events 2 and 3 swapped", swapped);
    auto other = Chain(
        {events[0], events[1],
         Ev(3, "auth.login_failed", "", kMember, "", 1700000050, {}, "b3RoZXItb3JnYW5pemF0aW9u")});
    add_broken("event 3 of another organization, hashed consistently", other);
  }

  // CheckExtends against a head remembered after event 3.
  const audit::Head remembered{3, chain[2].hash};
  Json extends_rows = Json::array();
  auto add_extends = [&](const char* description, const std::vector<Record>& records) {
    std::vector<Event> evs;
    for (const Record& r : records) evs.push_back(r.event);
    auto status = audit::CheckExtends(remembered, evs);
    Json row = {{"description", description},
                {"remembered", {{"seq", remembered.seq}, {"hash", kc::HexEncode(remembered.hash)}}},
                {"lines", Lines(records)}};
    if (status) {
      row["error"] = nullptr;
    } else {
      row.update(Outcome(status.error()));
    }
    extends_rows.push_back(row);
  };
  add_extends("the log extends the remembered head", chain);
  add_extends("the log ends at the remembered head", {chain.begin(), chain.begin() + 3});
  {
    auto rewritten_events = events;
    rewritten_events[1].details["to"] = "owner";
    add_extends("event 2 changed and every hash recomputed", Chain(rewritten_events));
    add_extends("truncated below the remembered head", {chain.begin(), chain.begin() + 2});
  }

  // Lines that ParseJsonLine must refuse (events.invalid_export).
  Json good = chain_rows[0]["line"];
  auto with = [&](const char* key, Json value) {
    Json j = good;
    j[key] = std::move(value);
    return j.dump();
  };
  auto without = [&](const char* key) {
    Json j = good;
    j.erase(key);
    return j.dump();
  };
  const std::string good_text = good.dump();
  std::vector<std::pair<std::string, std::string>> invalid = {
      {"not an object", "[1]"},
      {"missing hash", without("hash")},
      {"missing target_id (empty ids are \"\", never omitted)", without("target_id")},
      {"unknown field", with("note", "x")},
      {"seq 0", with("seq", 0)},
      {"seq as a float", with("seq", 1.0)},
      {"seq as a string", with("seq", "1")},
      {"seq above 2^53-1", with("seq", audit::kMaxSafeInteger + 1)},
      {"negative time", with("time", -1)},
      {"uppercase type", with("type", "Auth.login")},
      {"type with one label", with("type", "login")},
      {"org_id empty", with("org_id", "")},
      {"actor_id with a space", with("actor_id", "a b")},
      {"details key uppercase", with("details", {{"Mode", "x"}})},
      {"details value not a string", with("details", {{"n", 1}})},
      {"details value with a control character", with("details", {{"n", "a\nb"}})},
      {"hash uppercase hex", with("hash", std::string(64, 'A'))},
      {"hash too short", with("hash", std::string(62, '0'))},
      {"duplicate key", "{\"seq\":2," + good_text.substr(1)},
  };
  Json invalid_rows = Json::array();
  for (const auto& [description, line] : invalid) {
    auto r = audit::ParseJsonLine(line);
    if (r) Die("an invalid line parsed: " + description);
    invalid_rows.push_back(
        {{"description", description}, {"line", line}, {"error", r.error().code()}});
  }

  Json doc = {
      {"source", "generated by tests/vectors/generate_audit_chain.cc from fixed events"},
      {"encoding",
       "binary fields are lowercase hex; 'line' objects are export lines (docs/protocol.md "
       "\"Audit log chain\")"},
      {"description",
       "canonical(event) v1 = 0x01 || u64be seq || str org_id || str type || str actor_id || "
       "str target_id || str device_id || u64be time || u32be n || n x (str key || str value), "
       "details sorted by key bytes, str = u32be length || UTF-8; h_0 = 32 zero bytes; h_i = "
       "BLAKE2b-256(key = hash_key, h_{i-1} || canonical(event_i))"},
      {"hash_key", kc::HexEncode(kc::Bytes(32, 0))},
      {"genesis", kc::HexEncode(audit::Genesis().hash)},
      {"chain", chain_rows},
      {"canonical", canonical_rows},
      {"broken", broken_rows},
      {"extends", extends_rows},
      {"invalid_lines", invalid_rows},
  };
  const std::string path = out_dir + "/audit_chain.json";
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) Die("cannot write " + path);
  std::printf("wrote %s\n", path.c_str());
  return 0;
}
