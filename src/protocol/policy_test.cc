#include "protocol/policy.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/status_assertions.h"

namespace keyward::protocol {
namespace {

constexpr std::string_view kDefaultJson =
    R"({"enrollment":"disabled","link_ttl":86400,"mode":"dual-control","notify":[],)"
    R"("pending_ttl":604800,"quorum":1})";

void ExpectInvalid(const Result<RecoveryPolicy>& r, std::string_view what) {
  ASSERT_FALSE(r.has_value()) << what;
  EXPECT_EQ(r.error().code(), "org.invalid_policy") << what;
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument) << what;
}

TEST(PolicyTest, DefaultEncodesCanonically) {
  auto text = EncodePolicy(RecoveryPolicy{});
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, kDefaultJson);
}

TEST(PolicyTest, RoundTripsEveryValue) {
  RecoveryPolicy p;
  p.enrollment = Enrollment::kMandatory;
  p.mode = RecoveryMode::kAdminReset;
  p.quorum = kMaxQuorum;
  p.link_ttl = kMinLinkTtl;
  p.pending_ttl = kMaxPendingTtl;
  p.notify = {"a@example.com", "b.c+d@mail.example.org"};
  auto text = EncodePolicy(p);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, R"({"enrollment":"mandatory","link_ttl":300,"mode":"admin-reset",)"
                   R"("notify":["a@example.com","b.c+d@mail.example.org"],"pending_ttl":7776000,)"
                   R"("quorum":10})");
  auto back = ParsePolicy(*text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
  for (Enrollment e :
       {Enrollment::kDisabled, Enrollment::kOptIn, Enrollment::kOptOut, Enrollment::kMandatory}) {
    auto parsed = ParseEnrollment(EnrollmentName(e));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, e);
  }
  for (RecoveryMode m : {RecoveryMode::kDualControl, RecoveryMode::kAdminReset}) {
    auto parsed = ParseRecoveryMode(RecoveryModeName(m));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, m);
  }
}

TEST(PolicyTest, PairingResetDenyRoundTrips) {
  RecoveryPolicy p;
  p.enrollment = Enrollment::kOptIn;
  p.notify = {"a@example.com"};
  p.pairing_reset = false;
  auto text = EncodePolicy(p);
  ASSERT_TRUE(text.has_value());
  // Sorted: between "notify" and "pending_ttl".
  EXPECT_EQ(*text, R"({"enrollment":"opt-in","link_ttl":86400,"mode":"dual-control",)"
                   R"("notify":["a@example.com"],"pairing_reset":"deny","pending_ttl":604800,)"
                   R"("quorum":1})");
  auto back = ParsePolicy(*text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
  EXPECT_FALSE(back->pairing_reset);
  RecoveryPolicy allowed = p;
  allowed.pairing_reset = true;
  EXPECT_NE(allowed, p);
}

TEST(PolicyTest, PairingResetAllowedIsOmitted) {
  RecoveryPolicy p;
  ASSERT_TRUE(p.pairing_reset);  // the default
  auto text = EncodePolicy(p);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, kDefaultJson);
  EXPECT_EQ(text->find("pairing_reset"), std::string::npos);
  auto parsed = nlohmann::json::parse(*text);
  EXPECT_EQ(parsed.size(), 6u);
  // Six keys (every policy signed before the field) means allowed.
  auto back = ParsePolicy(kDefaultJson);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->pairing_reset);
  EXPECT_EQ(*back, p);
}

TEST(PolicyTest, ParsesPairingResetValues) {
  const std::string base(kDefaultJson);
  auto with_pairing = [&](std::string_view value) {
    std::string s = base;
    const std::string_view at = R"("pending_ttl")";
    s.insert(s.find(at), R"("pairing_reset":)" + std::string(value) + ",");
    return s;
  };
  auto allow = ParsePolicy(with_pairing(R"("allow")"));
  ASSERT_TRUE(allow.has_value());
  EXPECT_TRUE(allow->pairing_reset);
  EXPECT_EQ(*allow, RecoveryPolicy{});
  // An explicit "allow" is accepted but not canonical: it re-encodes to six keys.
  auto reencoded = EncodePolicy(*allow);
  ASSERT_TRUE(reencoded.has_value());
  EXPECT_EQ(*reencoded, kDefaultJson);

  auto deny = ParsePolicy(with_pairing(R"("deny")"));
  ASSERT_TRUE(deny.has_value());
  EXPECT_FALSE(deny->pairing_reset);

  // Anywhere in the object, with spaces.
  auto spaced =
      ParsePolicy(R"({ "pairing_reset" : "deny", "quorum": 1, "notify": [], "pending_ttl": 604800,)"
                  R"( "mode": "dual-control", "link_ttl": 86400, "enrollment": "disabled" })");
  ASSERT_TRUE(spaced.has_value());
  EXPECT_FALSE(spaced->pairing_reset);

  for (std::string_view bad : {R"("Deny")", R"("ALLOW")", R"("")", R"("yes")", R"("no")", "true",
                               "false", "0", "1", "null", R"(["deny"])", R"({})", R"(" deny")"}) {
    ExpectInvalid(ParsePolicy(with_pairing(bad)), bad);
  }
  ExpectInvalid(ParsePolicy(with_pairing(R"("deny","pairing_reset":"deny")")),
                "repeated pairing_reset");
  ExpectInvalid(ParsePolicy(with_pairing(R"("deny","pairing_reset":"allow")")),
                "conflicting pairing_reset");
  ExpectInvalid(ParsePolicy(with_pairing(R"("deny","extra":1)")), "pairing_reset and another key");
  // pairing_reset does not stand in for a required key.
  const std::string_view quorum = R"(,"quorum":1)";
  std::string missing_quorum = with_pairing(R"("deny")");
  missing_quorum.erase(missing_quorum.find(quorum), quorum.size());
  ExpectInvalid(ParsePolicy(missing_quorum), "pairing_reset instead of quorum");
  // Only at the top level.
  std::string nested = base;
  nested.replace(nested.find("[]"), 2, R"([{"pairing_reset":"deny"}])");
  ExpectInvalid(ParsePolicy(nested), "pairing_reset inside notify");
}

TEST(PolicyTest, SnapshotKeepRoundTrips) {
  for (uint32_t keep : {kMinSnapshotKeep, uint32_t{3}, uint32_t{25}, kMaxSnapshotKeep}) {
    RecoveryPolicy p;
    p.snapshot_keep = keep;
    auto text = EncodePolicy(p);
    ASSERT_TRUE(text.has_value()) << keep;
    // Sorted: after "quorum", the last key.
    EXPECT_EQ(*text, std::string(kDefaultJson.substr(0, kDefaultJson.size() - 1)) +
                         R"(,"snapshot_keep":)" + std::to_string(keep) + "}");
    auto back = ParsePolicy(*text);
    ASSERT_TRUE(back.has_value()) << *text;
    EXPECT_EQ(back->snapshot_keep, keep);
    EXPECT_EQ(*back, p);
    EXPECT_NE(*back, RecoveryPolicy{});
  }
}

TEST(PolicyTest, RequireSsoRoundTripsAndIsOmittedWhenOptional) {
  RecoveryPolicy p;
  ASSERT_FALSE(p.require_sso);  // the default: the master password alone is enough
  auto plain = EncodePolicy(p);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->find("sso"), std::string::npos);
  p.require_sso = true;
  auto text = EncodePolicy(p);
  ASSERT_TRUE(text.has_value());
  // Sorted: after "quorum" (and "snapshot_keep"), the last key.
  EXPECT_EQ(*text,
            std::string(kDefaultJson.substr(0, kDefaultJson.size() - 1)) + R"(,"sso":"required"})");
  auto back = ParsePolicy(*text);
  ASSERT_TRUE(back.has_value()) << *text;
  EXPECT_TRUE(back->require_sso);
  EXPECT_EQ(*back, p);
  // "optional" spelled out parses to the default.
  auto optional = ParsePolicy(std::string(kDefaultJson.substr(0, kDefaultJson.size() - 1)) +
                              R"(,"sso":"optional"})");
  ASSERT_TRUE(optional.has_value());
  EXPECT_EQ(*optional, RecoveryPolicy{});
  for (const char* bad : {R"("yes")", "true", "1", R"("REQUIRED")", "null"}) {
    ExpectInvalid(ParsePolicy(std::string(kDefaultJson.substr(0, kDefaultJson.size() - 1)) +
                              R"(,"sso":)" + bad + "}"),
                  bad);
  }
}

TEST(PolicyTest, SnapshotKeepDefaultIsOmitted) {
  RecoveryPolicy p;
  ASSERT_EQ(p.snapshot_keep, kDefaultSnapshotKeep);  // the default
  ASSERT_EQ(kDefaultSnapshotKeep, 10u);
  auto text = EncodePolicy(p);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, kDefaultJson);
  EXPECT_EQ(text->find("snapshot_keep"), std::string::npos);
  // Text written before the field existed means the default.
  auto back = ParsePolicy(kDefaultJson);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->snapshot_keep, kDefaultSnapshotKeep);
  EXPECT_EQ(*back, p);
  // So does the text of an older policy with "pairing_reset":"deny".
  const std::string deny_only =
      R"({"enrollment":"opt-in","link_ttl":86400,"mode":"dual-control",)"
      R"("notify":["a@example.com"],"pairing_reset":"deny","pending_ttl":604800,"quorum":1})";
  auto old_deny = ParsePolicy(deny_only);
  ASSERT_TRUE(old_deny.has_value());
  EXPECT_EQ(old_deny->snapshot_keep, kDefaultSnapshotKeep);
  auto reencoded_deny = EncodePolicy(*old_deny);
  ASSERT_TRUE(reencoded_deny.has_value());
  EXPECT_EQ(*reencoded_deny, deny_only);
  // An explicit default is accepted but not canonical: it re-encodes to six keys.
  std::string explicit_default(kDefaultJson);
  explicit_default.insert(explicit_default.size() - 1, R"(,"snapshot_keep":10)");
  auto parsed = ParsePolicy(explicit_default);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, p);
  auto reencoded = EncodePolicy(*parsed);
  ASSERT_TRUE(reencoded.has_value());
  EXPECT_EQ(*reencoded, kDefaultJson);
}

TEST(PolicyTest, SnapshotKeepOutOfRangeIsRefused) {
  const std::string base(kDefaultJson);
  auto with_keep = [&](std::string_view value) {
    std::string s = base;
    s.insert(s.size() - 1, R"(,"snapshot_keep":)" + std::string(value));
    return s;
  };
  for (std::string_view bad :
       {"0", "101", "-1", "-10", "1000", "4294967306", "18446744073709551615", "2.5", "10.0", "1e1",
        R"("10")", R"("")", "true", "null", "[10]", "{}"}) {
    ExpectInvalid(ParsePolicy(with_keep(bad)), bad);
  }
  for (std::string_view good : {"1", "100", "42"}) {
    auto p = ParsePolicy(with_keep(good));
    ASSERT_TRUE(p.has_value()) << good;
    EXPECT_EQ(std::to_string(p->snapshot_keep), good);
  }
  ExpectInvalid(ParsePolicy(with_keep(R"(5,"snapshot_keep":5)")), "repeated snapshot_keep");
  ExpectInvalid(ParsePolicy(with_keep(R"(5,"snapshot_keep":6)")), "conflicting snapshot_keep");
  ExpectInvalid(ParsePolicy(with_keep(R"(5,"extra":1)")), "snapshot_keep and another key");
  // snapshot_keep does not stand in for a required key.
  std::string missing_quorum = with_keep("5");
  const std::string_view quorum = R"(,"quorum":1)";
  missing_quorum.erase(missing_quorum.find(quorum), quorum.size());
  ExpectInvalid(ParsePolicy(missing_quorum), "snapshot_keep instead of quorum");
  // Only at the top level.
  std::string nested = base;
  nested.replace(nested.find("[]"), 2, R"([{"snapshot_keep":5}])");
  ExpectInvalid(ParsePolicy(nested), "snapshot_keep inside notify");
  // The message names the field and the range.
  auto zero = ParsePolicy(with_keep("0"));
  ASSERT_FALSE(zero.has_value());
  EXPECT_NE(zero.error().message().find("snapshot_keep"), std::string::npos);
  EXPECT_NE(zero.error().message().find("1..100"), std::string::npos);
  // Nor is an out-of-range value encoded.
  for (uint32_t keep : {uint32_t{0}, kMaxSnapshotKeep + 1}) {
    RecoveryPolicy p;
    p.snapshot_keep = keep;
    EXPECT_ERROR(ValidatePolicy(p), "org.invalid_policy");
    auto text = EncodePolicy(p);
    ASSERT_FALSE(text.has_value()) << keep;
    EXPECT_NE(text.error().message().find("snapshot_keep"), std::string::npos);
  }
}

TEST(PolicyTest, BothOptionalKeysTogether) {
  RecoveryPolicy p;
  p.enrollment = Enrollment::kOptOut;
  p.notify = {"a@example.com"};
  p.pairing_reset = false;
  p.snapshot_keep = 3;
  auto text = EncodePolicy(p);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, R"({"enrollment":"opt-out","link_ttl":86400,"mode":"dual-control",)"
                   R"("notify":["a@example.com"],"pairing_reset":"deny","pending_ttl":604800,)"
                   R"("quorum":1,"snapshot_keep":3})");
  EXPECT_EQ(nlohmann::json::parse(*text).size(), 8u);
  auto back = ParsePolicy(*text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, p);
  // Anywhere in the object, with spaces.
  auto spaced = ParsePolicy(
      R"({ "snapshot_keep" : 3, "quorum": 1, "notify": ["a@example.com"], "pending_ttl": 604800,)"
      R"( "pairing_reset": "deny", "mode": "dual-control", "link_ttl": 86400,)"
      R"( "enrollment": "opt-out" })");
  ASSERT_TRUE(spaced.has_value());
  EXPECT_EQ(*spaced, p);
  // Both optional keys and an unknown one: refused (eight is not the count).
  std::string extra = *text;
  extra.insert(extra.size() - 1, R"(,"x":1)");
  ExpectInvalid(ParsePolicy(extra), "both optional keys and an unknown one");
  // Both optional keys in place of two required ones: refused.
  std::string swapped = *text;
  for (std::string_view required : {R"(,"quorum":1)", R"(,"pending_ttl":604800)"}) {
    swapped.erase(swapped.find(required), required.size());
  }
  ExpectInvalid(ParsePolicy(swapped), "optional keys instead of required ones");
  auto count = ParsePolicy(swapped);
  ASSERT_FALSE(count.has_value());
  EXPECT_NE(count.error().message().find("six required fields"), std::string::npos)
      << count.error().message();
}

TEST(PolicyTest, AcceptsNonCanonicalButValidText) {
  auto p = ParsePolicy(
      R"( { "quorum" : 2, "notify" : [ "x@example.com" ], "mode" : "dual-control",
            "enrollment" : "opt-out", "pending_ttl" : 3600, "link_ttl" : 2592000 } )");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->quorum, 2);
  EXPECT_EQ(p->enrollment, Enrollment::kOptOut);
  EXPECT_EQ(p->link_ttl, kMaxLinkTtl);
}

TEST(PolicyTest, ParseIsStrict) {
  const std::string base(kDefaultJson);
  auto with = [&](std::string_view from, std::string_view to) {
    std::string s = base;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"[]", "array"},
      {"{}", "empty object"},
      {"not json", "garbage"},
      {base + "x", "trailing garbage"},
      {with(R"("quorum":1})", R"("quorum":1,"extra":true})"), "unknown key"},
      {with(R"("quorum":1})", R"("quorum":1,"quorum":2})"), "repeated key"},
      {with(R"("enrollment":"disabled",)", ""), "missing enrollment"},
      {with(R"(,"quorum":1)", ""), "missing quorum"},
      {with(R"("quorum":1)", R"("quorum":1.0)"), "float quorum"},
      {with(R"("quorum":1)", R"("quorum":"1")"), "string quorum"},
      {with(R"("quorum":1)", R"("quorum":0)"), "quorum 0"},
      {with(R"("quorum":1)", R"("quorum":11)"), "quorum 11"},
      {with(R"("quorum":1)", R"("quorum":-1)"), "negative quorum"},
      {with(R"("quorum":1)", R"("quorum":18446744073709551615)"), "huge quorum"},
      {with("86400", "299"), "link_ttl too short"},
      {with("86400", "2592001"), "link_ttl too long"},
      {with("604800", "3599"), "pending_ttl too short"},
      {with("604800", "7776001"), "pending_ttl too long"},
      {with("disabled", "Disabled"), "enrollment case"},
      {with("disabled", "auto"), "enrollment unknown"},
      {with(R"("disabled")", "null"), "enrollment null"},
      {with("dual-control", "dual_control"), "mode unknown"},
      {with("[]", "{}"), "notify object"},
      {with("[]", R"(["a@example.com","a@example.com"])"), "duplicate notify"},
      {with("[]", R"(["A@example.com"])"), "upper-case notify"},
      {with("[]", R"(["not-an-email"])"), "notify without @"},
      {with("[]", R"(["a@b@example.com"])"), "notify with two @"},
      {with("[]", R"(["a b@example.com"])"), "notify with space"},
      {with("[]", R"(["a@localhost"])"), "notify without dot"},
      {with("[]", "[1]"), "notify number"},
  };
  for (const auto& [text, what] : cases) ExpectInvalid(ParsePolicy(text), what);
  std::string many = "[";
  for (size_t i = 0; i <= kMaxNotify; ++i) {
    many += (i ? ",\"" : "\"") + std::to_string(i) + "@example.com\"";
  }
  many += "]";
  ExpectInvalid(ParsePolicy(with("[]", many)), "too many notify");
  ExpectInvalid(ParsePolicy(std::string(17 * 1024, ' ') + base), "too large");
}

TEST(PolicyTest, ValidateNamesTheFieldNeverTheAddress) {
  RecoveryPolicy p;
  p.notify = {"Secret.Person@Example.com"};
  auto s = ValidatePolicy(p);
  EXPECT_ERROR(s, "org.invalid_policy");
  EXPECT_EQ(s.error().message().find("Secret"), std::string::npos);
  EXPECT_NE(s.error().message().find("notify"), std::string::npos);
  p.notify.clear();
  p.link_ttl = 10;
  auto t = EncodePolicy(p);
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().message().find("link_ttl"), std::string::npos);
}

TEST(PolicyTest, Durations) {
  const std::vector<std::pair<std::string_view, int64_t>> good = {
      {"90s", 90}, {"90", 90}, {"30m", 1800}, {"24h", 86400}, {"7d", 604800}, {"1d", 86400}};
  for (auto [text, seconds] : good) {
    auto d = ParseDuration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(*d, seconds) << text;
  }
  for (std::string_view bad : {"", "s", "0", "0d", "-5m", "1.5h", "1w", "1 h", "h1", "+1d", "1hh",
                               "99999999999999999999d", "1D"}) {
    auto d = ParseDuration(bad);
    ASSERT_FALSE(d.has_value()) << bad;
    EXPECT_EQ(d.error().code(), "org.invalid_policy") << bad;
  }
  EXPECT_EQ(FormatDuration(604800), "7d");
  EXPECT_EQ(FormatDuration(86400), "1d");
  EXPECT_EQ(FormatDuration(7200), "2h");
  EXPECT_EQ(FormatDuration(90000), "25h");
  EXPECT_EQ(FormatDuration(1800), "30m");
  EXPECT_EQ(FormatDuration(90), "90s");
  EXPECT_EQ(FormatDuration(0), "0s");
  for (int64_t s : {int64_t{300}, int64_t{3600}, int64_t{86401}, kMaxPendingTtl}) {
    auto back = ParseDuration(FormatDuration(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
}

}  // namespace
}  // namespace keyward::protocol
