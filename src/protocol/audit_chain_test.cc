#include "protocol/audit_chain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/status_assertions.h"

namespace keyward::protocol::audit {
namespace {

using Json = nlohmann::json;

constexpr const char* kOrg = "b3JnYW5pemF0aW9uLTAwMQ";

std::vector<Event> MakeEvents(size_t n, const std::string& org = kOrg) {
  static const std::vector<std::string_view> kTypes = {event_type::kRecoveryEnrolled,
                                                       event_type::kRecoveryWithdrew,
                                                       event_type::kPasswordResetByRecovery,
                                                       event_type::kTemporaryPasswordUpdated,
                                                       event_type::kLogin,
                                                       event_type::kLoginFailed,
                                                       event_type::kRoleChanged,
                                                       event_type::kPolicyChanged,
                                                       event_type::kKeyGranted,
                                                       event_type::kKeyRotated,
                                                       event_type::kMemberRemoved,
                                                       event_type::kDeviceRemoved};
  std::vector<Event> out;
  for (size_t i = 1; i <= n; ++i) {
    Event e;
    e.seq = i;
    e.org_id = org;
    e.type = std::string(kTypes[i % kTypes.size()]);
    e.actor_id = i % 7 == 0 ? "" : "actor-" + std::to_string(i % 5);
    e.target_id = "member-" + std::to_string(i % 11);
    e.device_id = i % 3 == 0 ? "" : "device-" + std::to_string(i % 4);
    e.time = 1700000000 + static_cast<int64_t>(i) * 10;
    if (i % 2 == 0) e.details["ip_class"] = "v4";
    if (i % 5 == 0) e.details["role.to"] = "admin";
    out.push_back(e);
  }
  return out;
}

std::vector<Digest> Hashes(const std::vector<Record>& records) {
  std::vector<Digest> out;
  for (const Record& r : records) out.push_back(r.hash);
  return out;
}

std::vector<Event> Events(const std::vector<Record>& records) {
  std::vector<Event> out;
  for (const Record& r : records) out.push_back(r.event);
  return out;
}

std::string Hex(std::span<const uint8_t> b) { return crypto::HexEncode(b); }

class AuditChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    auto built = BuildChain(MakeEvents(1000));
    ASSERT_OK(built);
    chain_ = std::move(*built);
  }

  // Verify over events and hashes separately, as the store returns them.
  static Result<Head> VerifySplit(const std::vector<Record>& records) {
    return Verify(kOrg, Events(records), Hashes(records));
  }

  static void ExpectBroken(const Result<Head>& r, const std::string& message) {
    ASSERT_FALSE(r.has_value()) << "verified, expected: " << message;
    EXPECT_EQ(r.error().code(), "events.chain_broken");
    EXPECT_EQ(r.error().message(), message);
  }

  Head HeadAt(uint64_t seq) const { return {seq, chain_[seq - 1].hash}; }

  std::vector<Record> chain_;
};

// ---- the chain ----

TEST_F(AuditChainTest, ThousandEventsVerify) {
  auto head = Verify(kOrg, chain_);
  ASSERT_OK(head);
  EXPECT_EQ(*head, HeadAt(1000));
  auto split = VerifySplit(chain_);
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(*split, *head);
}

TEST_F(AuditChainTest, EmptyLogVerifiesToGenesis) {
  auto head = Verify(kOrg, std::span<const Record>{});
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(*head, Genesis());
  EXPECT_EQ(Hex(Genesis().hash), std::string(64, '0'));
}

TEST_F(AuditChainTest, ChainRuleIsKeyedBlake2bWithZeroKey) {
  const Event& e = chain_[0].event;
  crypto::Bytes message(32, 0);
  crypto::Bytes canonical = Canonical(e);
  message.insert(message.end(), canonical.begin(), canonical.end());
  EXPECT_EQ(Hex(chain_[0].hash), Hex(crypto::Hash(crypto::Bytes(32, 0), message)));
  EXPECT_NE(Hex(chain_[0].hash), Hex(crypto::Hash({}, message)));  // not unkeyed
  message.assign(chain_[0].hash.begin(), chain_[0].hash.end());
  canonical = Canonical(chain_[1].event);
  message.insert(message.end(), canonical.begin(), canonical.end());
  EXPECT_EQ(Hex(chain_[1].hash), Hex(crypto::Hash(crypto::Bytes(32, 0), message)));
}

TEST_F(AuditChainTest, EditedFieldNamesThatEvent) {
  const std::vector<std::function<void(Event&)>> edits = {
      [](Event& e) { e.type = "auth.login"; },
      [](Event& e) { e.actor_id = "someone-else"; },
      [](Event& e) { e.target_id = ""; },
      [](Event& e) { e.device_id = "device-9"; },
      [](Event& e) { e.time += 1; },
      [](Event& e) { e.details["role.to"] = "owner"; },
      [](Event& e) { e.details["added"] = "x"; },
  };
  for (size_t k = 0; k < edits.size(); ++k) {
    auto tampered = chain_;
    edits[k](tampered[16].event);
    ASSERT_NE(tampered[16].event, chain_[16].event) << k;
    ExpectBroken(Verify(kOrg, tampered), "event 17: hash does not match");
    ExpectBroken(VerifySplit(tampered), "event 17: hash does not match");
  }
}

TEST_F(AuditChainTest, EditedStoredHashNamesThatEvent) {
  auto tampered = chain_;
  tampered[499].hash[7] ^= 1;
  ExpectBroken(Verify(kOrg, tampered), "event 500: hash does not match");
}

TEST_F(AuditChainTest, DeletedEventNamesTheGap) {
  auto tampered = chain_;
  tampered.erase(tampered.begin() + 499);
  ExpectBroken(Verify(kOrg, tampered), "event 500: missing (the log skips from 499 to 501)");
  auto first = chain_;
  first.erase(first.begin());
  ExpectBroken(Verify(kOrg, first), "event 1: missing (the log starts at event 2)");
}

TEST_F(AuditChainTest, DeletedLastEventIsNotDetectableByVerifyAlone) {
  // Why CheckExtends exists: a truncated log is a valid, shorter chain.
  auto tampered = chain_;
  tampered.pop_back();
  auto head = Verify(kOrg, tampered);
  ASSERT_TRUE(head.has_value());
  auto status = CheckExtends(HeadAt(1000), Events(tampered));
  EXPECT_ERROR(status, "events.chain_rewritten");
}

TEST_F(AuditChainTest, ReorderedEventsAreNamed) {
  auto tampered = chain_;
  std::swap(tampered[9], tampered[10]);
  ExpectBroken(Verify(kOrg, tampered), "event 10: out of order (found event 11 in its place)");
  auto repeated = chain_;
  repeated.insert(repeated.begin() + 20, repeated[19]);
  ExpectBroken(Verify(kOrg, repeated), "event 21: out of order (found event 20 in its place)");
}

TEST_F(AuditChainTest, RenumberedEventIsNamed) {
  // Renumbering after a deletion, without recomputing hashes.
  auto tampered = chain_;
  tampered.erase(tampered.begin() + 99);
  for (size_t i = 99; i < tampered.size(); ++i) tampered[i].event.seq -= 1;
  ExpectBroken(Verify(kOrg, tampered), "event 100: hash does not match");
}

TEST_F(AuditChainTest, EventOfAnotherOrganizationIsNamed) {
  auto other = MakeEvents(5, "other-org");
  auto events = MakeEvents(5);
  events[3] = other[3];
  auto built = BuildChain(events);  // consistent hashes: only the org is wrong
  ASSERT_TRUE(built.has_value());
  ExpectBroken(Verify(kOrg, *built), "event 4: belongs to another organization");
  ExpectBroken(Verify("other-org", *built), "event 1: belongs to another organization");
}

TEST_F(AuditChainTest, InvalidEventIsNamedWithItsField) {
  auto tampered = chain_;
  tampered[41].event.type = "Not A Type";
  ExpectBroken(Verify(kOrg, tampered), "event 42: the field 'type' is not valid");
}

TEST_F(AuditChainTest, TimeMayGoBackwards) {
  auto events = MakeEvents(3);
  events[1].time = events[0].time - 3600;
  auto built = BuildChain(events);
  ASSERT_TRUE(built.has_value());
  EXPECT_TRUE(Verify(kOrg, *built).has_value());
}

TEST_F(AuditChainTest, CountsOfEventsAndHashesMustAgree) {
  auto hashes = Hashes(chain_);
  hashes.pop_back();
  auto r = Verify(kOrg, Events(chain_), hashes);
  EXPECT_ERROR(r, "events.invalid_export");
}

TEST_F(AuditChainTest, VerifyFromARememberedHead) {
  std::vector<Event> tail;
  std::vector<Digest> hashes;
  for (size_t i = 600; i < chain_.size(); ++i) {
    tail.push_back(chain_[i].event);
    hashes.push_back(chain_[i].hash);
  }
  auto head = VerifyFrom(HeadAt(600), kOrg, tail, hashes);
  ASSERT_OK(head);
  EXPECT_EQ(*head, HeadAt(1000));
  ExpectBroken(VerifyFrom(HeadAt(599), kOrg, tail, hashes),
               "event 600: missing (the log skips from 599 to 601)");
  Head wrong = HeadAt(600);
  wrong.hash[0] ^= 1;
  ExpectBroken(VerifyFrom(wrong, kOrg, tail, hashes), "event 601: hash does not match");
}

TEST_F(AuditChainTest, AppendChecksTheEventAndItsNumber) {
  Head head = Genesis();
  auto events = MakeEvents(3);
  for (const Event& e : events) {
    auto next = Append(head, e);
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->seq, e.seq);
    EXPECT_EQ(next->hash, ChainHash(head.hash, e));
    head = *next;
  }
  EXPECT_EQ(head, HeadAt(3));
  auto skip = Append(HeadAt(1), events[2]);
  EXPECT_ERROR(skip, "events.invalid_event");
  Event bad = events[0];
  bad.org_id = "";
  auto invalid = Append(Genesis(), bad);
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error().message(), "The event is not valid: the field 'org_id' is not valid.");
}

// ---- consistency with a remembered head ----

TEST_F(AuditChainTest, ExtendingTheRememberedHeadIsFine) {
  const auto events = Events(chain_);
  EXPECT_TRUE(CheckExtends(HeadAt(600), events).has_value());
  EXPECT_TRUE(CheckExtends(HeadAt(1000), events).has_value());
  EXPECT_TRUE(CheckExtends(HeadAt(1), events).has_value());
  EXPECT_TRUE(CheckExtends(Genesis(), events).has_value());
  EXPECT_TRUE(CheckExtends(Genesis(), {}).has_value());
  std::vector<Event> prefix(events.begin(), events.begin() + 600);
  EXPECT_TRUE(CheckExtends(HeadAt(600), prefix).has_value());
}

TEST_F(AuditChainTest, WholeChainRebuiltPassesVerifyButNotCheckExtends) {
  auto events = Events(chain_);
  events[299].details["role.to"] = "nobody";
  auto rebuilt = BuildChain(events);
  ASSERT_TRUE(rebuilt.has_value());
  auto head = Verify(kOrg, *rebuilt);
  ASSERT_TRUE(head.has_value()) << "a consistent rewrite is a valid chain";
  EXPECT_NE(*head, HeadAt(1000));
  auto status = CheckExtends(HeadAt(600), Events(*rebuilt));
  EXPECT_ERROR(status, "events.chain_rewritten");
  EXPECT_EQ(status.error().message(), "event 600: does not match the remembered head");
  // A head remembered before the rewritten event is still contained.
  EXPECT_TRUE(CheckExtends(HeadAt(299), Events(*rebuilt)).has_value());
  auto at = CheckExtends(HeadAt(300), Events(*rebuilt));
  ASSERT_FALSE(at.has_value());
  EXPECT_EQ(at.error().message(), "event 300: does not match the remembered head");
}

TEST_F(AuditChainTest, TruncationBelowTheRememberedHeadIsReported) {
  std::vector<Event> prefix;
  for (size_t i = 0; i < 599; ++i) prefix.push_back(chain_[i].event);
  auto status = CheckExtends(HeadAt(600), prefix);
  EXPECT_ERROR(status, "events.chain_rewritten");
  EXPECT_EQ(status.error().message(), "the log ends at event 599, before the remembered event 600");
  auto empty = CheckExtends(HeadAt(600), {});
  EXPECT_ERROR(empty, "events.chain_rewritten");
  EXPECT_EQ(empty.error().message(), "the log is empty, before the remembered event 600");
}

TEST_F(AuditChainTest, TruncatedAndRegrownLogIsRewritten) {
  // Cut at 599 and append different events up to 1000: long enough, wrong.
  auto events = Events(chain_);
  auto fresh = MakeEvents(1000);
  for (size_t i = 599; i < 1000; ++i) {
    fresh[i].type = "auth.login";
    events[i] = fresh[i];
  }
  auto status = CheckExtends(HeadAt(600), events);
  EXPECT_ERROR(status, "events.chain_rewritten");
}

TEST_F(AuditChainTest, CheckExtendsNamesDisorderBeforeTheHead) {
  auto events = Events(chain_);
  events.erase(events.begin() + 9);
  auto status = CheckExtends(HeadAt(600), events);
  EXPECT_ERROR(status, "events.chain_broken");
  EXPECT_EQ(status.error().message(), "event 10: missing (the log skips from 9 to 11)");
}

TEST_F(AuditChainTest, ANonZeroGenesisHeadIsRefused) {
  Head bogus;
  bogus.hash[0] = 1;
  auto status = CheckExtends(bogus, Events(chain_));
  EXPECT_ERROR(status, "events.invalid_head");
}

// ---- validation and canonical form ----

TEST(AuditEventTest, ValidationRules) {
  Event ok = MakeEvents(1)[0];
  ok.details = {{"a.b_c9", "Équipe 🔑"}, {"empty", ""}};
  ASSERT_TRUE(Validate(ok).has_value());
  struct Case {
    const char* field;
    std::function<void(Event&)> edit;
  };
  const std::vector<Case> cases = {
      {"seq", [](Event& e) { e.seq = 0; }},
      {"seq", [](Event& e) { e.seq = kMaxSafeInteger + 1; }},
      {"org_id", [](Event& e) { e.org_id = ""; }},
      {"org_id", [](Event& e) { e.org_id = std::string(129, 'a'); }},
      {"type", [](Event& e) { e.type = "login"; }},
      {"type", [](Event& e) { e.type = "auth..login"; }},
      {"type", [](Event& e) { e.type = "auth.login."; }},
      {"type", [](Event& e) { e.type = "auth.9login"; }},
      {"type", [](Event& e) { e.type = "Auth.login"; }},
      {"actor_id", [](Event& e) { e.actor_id = "a/b"; }},
      {"target_id", [](Event& e) { e.target_id = "é"; }},
      {"device_id", [](Event& e) { e.device_id = "a b"; }},
      {"time", [](Event& e) { e.time = -1; }},
      {"time", [](Event& e) { e.time = static_cast<int64_t>(kMaxSafeInteger) + 1; }},
      {"details", [](Event& e) { e.details["Upper"] = "x"; }},
      {"details", [](Event& e) { e.details[""] = "x"; }},
      {"details", [](Event& e) { e.details["k"] = "tab\there"; }},
      {"details", [](Event& e) { e.details["k"] = "del\x7f"; }},
      {"details", [](Event& e) { e.details["k"] = "\xc3"; }},          // truncated
      {"details", [](Event& e) { e.details["k"] = "\xc0\xaf"; }},      // overlong
      {"details", [](Event& e) { e.details["k"] = "\xed\xa0\x80"; }},  // surrogate
      {"details", [](Event& e) { e.details["k"] = std::string(1025, 'v'); }},
      {"details",
       [](Event& e) {
         for (int i = 0; i < 33; ++i) e.details["k" + std::to_string(i)] = "v";
       }},
  };
  for (const Case& c : cases) {
    Event e = ok;
    c.edit(e);
    auto status = Validate(e);
    ASSERT_FALSE(status.has_value()) << c.field;
    EXPECT_EQ(status.error().code(), "events.invalid_event");
    EXPECT_EQ(status.error().message(),
              std::string("The event is not valid: the field '") + c.field + "' is not valid.");
  }
  Event edge = ok;
  edge.seq = kMaxSafeInteger;
  edge.time = 0;
  edge.actor_id = edge.target_id = edge.device_id = "";
  edge.type = "a.b";
  EXPECT_TRUE(Validate(edge).has_value());
}

TEST(AuditEventTest, CanonicalBytesAreExactlyAsDocumented) {
  Event e;
  e.seq = 258;
  e.org_id = "o";
  e.type = "a.b";
  e.actor_id = "";
  e.target_id = "t";
  e.device_id = "";
  e.time = 0x0102030405;
  e.details = {{"k", "v"}};
  EXPECT_EQ(Hex(Canonical(e)),
            "01"                // version
            "0000000000000102"  // seq
            "000000016f"        // "o"
            "00000003612e62"    // "a.b"
            "00000000"          // ""
            "0000000174"        // "t"
            "00000000"          // ""
            "0000000102030405"  // time
            "00000001"          // one detail
            "000000016b"
            "0000000176");  // "k" "v"
}

TEST(AuditEventTest, CanonicalSeparatesFieldsUnambiguously) {
  Event a = MakeEvents(1)[0];
  Event b = a;
  a.actor_id = "ab";
  a.target_id = "";
  b.actor_id = "a";
  b.target_id = "b";
  EXPECT_NE(Canonical(a), Canonical(b));
  Event c = a, d = a;
  c.details = {{"k", "v.x"}};
  d.details = {{"k", "v"}, {"x", ""}};
  EXPECT_NE(Canonical(c), Canonical(d));
}

TEST(AuditEventTest, DetailsOrderDoesNotChangeTheCanonicalForm) {
  Event a = MakeEvents(1)[0];
  Event b = a;
  a.details.clear();
  b.details.clear();
  for (const char* k : {"zeta", "alpha", "a.b", "a_b", "m"}) a.details[k] = std::string(k) + "!";
  for (const char* k : {"m", "a_b", "alpha", "zeta", "a.b"}) b.details[k] = std::string(k) + "!";
  EXPECT_EQ(Canonical(a), Canonical(b));
  // Through JSON with the keys written in two orders.
  auto one = ParseJsonLine(
      R"({"seq":1,"org_id":"o","type":"a.b","actor_id":"","target_id":"","device_id":"",)"
      R"("time":5,"details":{"b":"2","a":"1"},"hash":")" +
      std::string(64, '0') + "\"}");
  auto two = ParseJsonLine(
      R"({"hash":")" + std::string(64, '0') +
      R"(","details":{"a":"1","b":"2"},"time":5,"device_id":"","target_id":"","actor_id":"",)"
      R"("type":"a.b","org_id":"o","seq":1})");
  ASSERT_OK(one);
  ASSERT_OK(two);
  EXPECT_EQ(Canonical(one->event), Canonical(two->event));
}

// ---- JSON Lines ----

TEST_F(AuditChainTest, JsonLinesRoundTrip) {
  auto text = ExportJsonLines(chain_);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), 1000);
  auto parsed = ParseJsonLines(*text);
  ASSERT_OK(parsed);
  EXPECT_EQ(*parsed, chain_);
  auto head = Verify(kOrg, *parsed);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(*head, HeadAt(1000));
  // The last line may omit its newline; an empty export is an empty log.
  text->pop_back();
  EXPECT_TRUE(ParseJsonLines(*text).has_value());
  auto empty = ParseJsonLines("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

TEST_F(AuditChainTest, JsonLineShape) {
  Record r = chain_[9];
  r.event.details = {{"z", "Équipe"}, {"a", "1"}};
  auto text = ExportJsonLines(std::span<const Record>(&r, 1));
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, R"({"seq":10,"org_id":"b3JnYW5pemF0aW9uLTAwMQ","type":"org.member_removed",)"
                   R"("actor_id":"actor-0","target_id":"member-10","device_id":"device-2",)"
                   R"("time":1700000100,"details":{"a":"1","z":"Équipe"},"hash":")" +
                       Hex(r.hash) + "\"}\n");
}

TEST_F(AuditChainTest, ExportRefusesAnInvalidEvent) {
  auto records = chain_;
  records[3].event.details["k"] = "\xff";  // would not even be JSON
  auto text = ExportJsonLines(records);
  EXPECT_ERROR(text, "events.invalid_event");
}

TEST_F(AuditChainTest, ParseNamesTheBadLine) {
  auto text = ExportJsonLines(std::span<const Record>(chain_.data(), 5));
  ASSERT_TRUE(text.has_value());
  std::string bad = *text;
  size_t third = bad.find('\n', bad.find('\n') + 1) + 1;
  size_t at = bad.find("\"hash\":\"", third) + 8;
  bad[at] = 'G';
  auto r = ParseJsonLines(bad);
  EXPECT_ERROR(r, "events.invalid_export");
  EXPECT_EQ(r.error().message(), "line 3: the field 'hash' is not valid");

  std::string blank = *text;
  blank.insert(third, "\n");
  auto b = ParseJsonLines(blank);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().message(), "line 3: blank line");

  std::string garbage = *text + "{\"seq\":\n";
  auto g = ParseJsonLines(garbage);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().message(), "line 6: not a valid JSON object");

  auto dup = ParseJsonLine(
      R"({"seq":1,"org_id":"o","type":"a.b","actor_id":"","target_id":"","device_id":"",)"
      R"("time":5,"details":{"a":"1","a":"2"},"hash":")" +
      std::string(64, '0') + "\"}");
  ASSERT_FALSE(dup.has_value()) << "a repeated details key must not pass";
  EXPECT_EQ(dup.error().message(), "not a valid JSON object");

  auto long_line = ParseJsonLines(std::string(64 * 1024 + 1, ' '));
  ASSERT_FALSE(long_line.has_value());
  EXPECT_EQ(long_line.error().message(), "line 1: too long");
}

// ---- known-answer vectors (tests/vectors/audit_chain.json) ----

class AuditVectorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    const std::string path = std::string(KEYWARD_SOURCE_DIR) + "/tests/vectors/audit_chain.json";
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot open " << path;
    doc_ = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(doc_.is_discarded()) << "invalid JSON in " << path;
  }

  const Json& Rows(const char* key, size_t at_least) {
    static const Json kEmpty = Json::array();
    if (!doc_.contains(key) || !doc_[key].is_array()) {
      ADD_FAILURE() << "missing array '" << key << "'";
      return kEmpty;
    }
    EXPECT_GE(doc_[key].size(), at_least) << key;
    return doc_[key];
  }

  static std::vector<Record> ParseLines(const Json& lines) {
    std::vector<Record> out;
    for (const Json& line : lines) {
      auto r = ParseJsonLine(line.dump());
      EXPECT_TRUE(r.has_value()) << line;
      if (r) out.push_back(*r);
    }
    return out;
  }

  Json doc_;
};

TEST_F(AuditVectorsTest, ChainAndCanonicalBytes) {
  EXPECT_EQ(doc_["hash_key"], std::string(64, '0'));
  EXPECT_EQ(doc_["genesis"], Hex(Genesis().hash));
  Head head = Genesis();
  std::vector<Record> records;
  for (const Json& row : Rows("chain", 5)) {
    auto r = ParseJsonLine(row["line"].dump());
    ASSERT_TRUE(r.has_value()) << row;
    EXPECT_EQ(Hex(Canonical(r->event)), row["canonical"]) << row;
    auto next = Append(head, r->event);
    ASSERT_TRUE(next.has_value()) << row;
    EXPECT_EQ(Hex(next->hash), row["line"]["hash"]) << row;
    head = *next;
    records.push_back(*r);
  }
  auto verified = Verify(records.at(0).event.org_id, records);
  ASSERT_TRUE(verified.has_value());
  EXPECT_EQ(*verified, head);
}

TEST_F(AuditVectorsTest, StandaloneCanonicalBytes) {
  for (const Json& row : Rows("canonical", 3)) {
    Json line = row["event"];
    line["hash"] = std::string(64, '0');
    auto r = ParseJsonLine(line.dump());
    ASSERT_TRUE(r.has_value()) << row;
    EXPECT_EQ(Hex(Canonical(r->event)), row["canonical"]) << row;
  }
}

TEST_F(AuditVectorsTest, BrokenLogsNameTheirFirstBrokenLink) {
  for (const Json& row : Rows("broken", 4)) {
    auto head = Verify(row["org_id"].get<std::string>(), ParseLines(row["lines"]));
    ASSERT_FALSE(head.has_value()) << row["description"];
    EXPECT_EQ(head.error().code(), row["error"]) << row["description"];
    EXPECT_EQ(head.error().message(), row["message"]) << row["description"];
  }
}

TEST_F(AuditVectorsTest, ConsistencyWithARememberedHead) {
  for (const Json& row : Rows("extends", 4)) {
    auto hash = crypto::HexDecode(row["remembered"]["hash"].get<std::string>());
    ASSERT_TRUE(hash.has_value() && hash->size() == kDigestSize);
    Head remembered{row["remembered"]["seq"].get<uint64_t>(), {}};
    std::copy(hash->begin(), hash->end(), remembered.hash.begin());
    auto status = CheckExtends(remembered, Events(ParseLines(row["lines"])));
    if (row["error"].is_null()) {
      EXPECT_TRUE(status.has_value()) << row["description"];
    } else {
      ASSERT_FALSE(status.has_value()) << row["description"];
      EXPECT_EQ(status.error().code(), row["error"]) << row["description"];
      EXPECT_EQ(status.error().message(), row["message"]) << row["description"];
    }
  }
}

TEST_F(AuditVectorsTest, InvalidLinesAreRefused) {
  for (const Json& row : Rows("invalid_lines", 10)) {
    auto r = ParseJsonLine(row["line"].get<std::string>());
    ASSERT_FALSE(r.has_value()) << row["description"];
    EXPECT_EQ(r.error().code(), row["error"]) << row["description"];
  }
}

}  // namespace
}  // namespace keyward::protocol::audit
