#include "protocol/statement.h"

#include <gtest/gtest.h>
#include <limits>

#include <vector>

#include "tests/support/status_assertions.h"

namespace keyward::protocol {
namespace {

using crypto::Bytes;

constexpr int64_t kNow = 1'760'000'000;

class StatementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(crypto::Init().has_value());
    auto pin = PinOnFirstUse("org-1", signer_.public_key);
    ASSERT_TRUE(pin.has_value());
    pin_ = std::move(*pin);
  }

  OrgStatement Make(uint64_t version, const crypto::SignKeyPair& next_signer) const {
    return OrgStatement{"org-1",
                        version,
                        next_signer.public_key,
                        org_.public_key,
                        R"({"mode":"dual-control","quorum":1,"link_ttl":86400})",
                        kNow - 60};
  }
  SignedOrgStatement Signed(const OrgStatement& st, const crypto::SignKeyPair& by) const {
    auto s = SignOrgStatement(st, by);
    EXPECT_TRUE(s.has_value());
    return s.value_or(SignedOrgStatement{});
  }
  void ExpectRefused(const SignedOrgStatement& s, const OrgPin& pin, std::string_view code) {
    auto r = VerifyOrgStatement(s, pin, kNow);
    ASSERT_FALSE(r.has_value()) << code;
    EXPECT_EQ(r.error().code(), code);
  }

  crypto::SignKeyPair signer_ = crypto::GenerateSignKeyPair();
  crypto::BoxKeyPair org_ = crypto::GenerateBoxKeyPair();
  OrgPin pin_;
};

TEST_F(StatementTest, EncodingIsCanonicalAndRoundTrips) {
  const OrgStatement st = Make(7, signer_);
  auto bytes = EncodeOrgStatement(st);
  ASSERT_TRUE(bytes.has_value());
  Bytes expected(kStatementLabel.begin(), kStatementLabel.end());
  expected.push_back(0);
  auto field = [&](std::span<const uint8_t> f) {
    for (int s = 24; s >= 0; s -= 8) expected.push_back(static_cast<uint8_t>(f.size() >> s));
    expected.insert(expected.end(), f.begin(), f.end());
  };
  auto text = [](std::string_view s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  auto u64 = [](uint64_t v) {
    Bytes b;
    for (int s = 56; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
    return b;
  };
  field(text("org-1"));
  field(u64(7));
  field(signer_.public_key);
  field(org_.public_key);
  field(text(st.policy_json));
  field(u64(static_cast<uint64_t>(kNow - 60)));
  EXPECT_EQ(*bytes, expected);
  auto back = DecodeOrgStatement(*bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->org_id, st.org_id);
  EXPECT_EQ(back->version, st.version);
  EXPECT_EQ(back->signing_public_key, st.signing_public_key);
  EXPECT_EQ(back->org_public_key, st.org_public_key);
  EXPECT_EQ(back->policy_json, st.policy_json);
  EXPECT_EQ(back->not_before, st.not_before);
  OrgStatement negative = st;
  negative.not_before = -5;
  auto neg = EncodeOrgStatement(negative);
  ASSERT_TRUE(neg.has_value());
  EXPECT_EQ(DecodeOrgStatement(*neg)->not_before, -5);
}

TEST_F(StatementTest, DecodeIsStrict) {
  auto bytes = EncodeOrgStatement(Make(1, signer_));
  ASSERT_TRUE(bytes.has_value());
  std::vector<Bytes> bad;
  bad.push_back(Bytes(bytes->begin(), bytes->end() - 1));  // truncated
  bad.push_back(*bytes);
  bad.back().push_back(0);  // trailing byte
  bad.push_back(*bytes);
  bad.back()[0] ^= 0x20;  // label
  bad.push_back(*bytes);
  bad.back()[kStatementLabel.size()] = '/';  // label terminator
  bad.push_back(*bytes);
  bad.back()[kStatementLabel.size() + 4] = 0xff;  // org length overruns
  bad.push_back({});
  for (const Bytes& b : bad) {
    auto r = DecodeOrgStatement(b);
    EXPECT_ERROR(r, "org.statement_malformed");
  }
}

TEST_F(StatementTest, EncodeChecksFields) {
  OrgStatement st = Make(1, signer_);
  st.policy_json = "[1,2]";
  EXPECT_EQ(EncodeOrgStatement(st).error().code(), "org.invalid_policy");
  st.policy_json = "{";
  EXPECT_EQ(EncodeOrgStatement(st).error().code(), "org.invalid_policy");
  st = Make(0, signer_);
  EXPECT_EQ(EncodeOrgStatement(st).error().code(), "protocol.invalid_counter");
  st = Make(1, signer_);
  st.org_public_key.pop_back();
  EXPECT_EQ(EncodeOrgStatement(st).error().code(), "protocol.invalid_public_key");
  st = Make(1, signer_);
  st.org_id = "org\x01";
  EXPECT_EQ(EncodeOrgStatement(st).error().code(), "protocol.invalid_id");
}

TEST_F(StatementTest, AcceptsStatementSignedByPinnedKeyAndAdvancesPin) {
  const SignedOrgStatement s1 = Signed(Make(1, signer_), signer_);
  auto v1 = VerifyOrgStatement(s1, pin_, kNow);
  ASSERT_OK(v1);
  EXPECT_EQ(v1->statement.org_public_key, org_.public_key);
  EXPECT_EQ(v1->next_pin.version, 1u);
  EXPECT_EQ(v1->next_pin.signing_public_key, signer_.public_key);
  EXPECT_TRUE(CheckOrgPublicKey(v1->statement, org_.public_key).has_value());
  // The same statement again is fine (idempotent refresh).
  EXPECT_TRUE(VerifyOrgStatement(s1, v1->next_pin, kNow).has_value());
  auto v2 = VerifyOrgStatement(Signed(Make(2, signer_), signer_), v1->next_pin, kNow);
  ASSERT_TRUE(v2.has_value());
  EXPECT_EQ(v2->next_pin.version, 2u);
}

TEST_F(StatementTest, SwappedOrgKeyFailsAgainstThePin) {
  // ETH Zürich worm attack: the server replaces pk_org with its own key.
  SignedOrgStatement s = Signed(Make(1, signer_), signer_);
  const crypto::BoxKeyPair server_key = crypto::GenerateBoxKeyPair();
  OrgStatement forged = Make(1, signer_);
  forged.org_public_key = server_key.public_key;
  s.statement = EncodeOrgStatement(forged).value();
  ExpectRefused(s, pin_, "org.signature_invalid");
  // Or it signs the forgery with a key of its own: not the pinned one.
  const crypto::SignKeyPair server_signer = crypto::GenerateSignKeyPair();
  ExpectRefused(Signed(forged, server_signer), pin_, "org.signature_invalid");
  // Or it serves the genuine statement but offers its own key for sealing.
  auto v = VerifyOrgStatement(Signed(Make(1, signer_), signer_), pin_, kNow);
  ASSERT_TRUE(v.has_value());
  auto mismatch = CheckOrgPublicKey(v->statement, server_key.public_key);
  EXPECT_ERROR(mismatch, "org.key_mismatch");
}

TEST_F(StatementTest, UnsignedAndTamperedStatementsAreRefused) {
  SignedOrgStatement s = Signed(Make(1, signer_), signer_);
  SignedOrgStatement unsigned_st{s.statement, {}};
  ExpectRefused(unsigned_st, pin_, "org.statement_unsigned");
  SignedOrgStatement bad_sig = s;
  bad_sig.signature[5] ^= 0x01;
  ExpectRefused(bad_sig, pin_, "org.signature_invalid");
  SignedOrgStatement short_sig = s;
  short_sig.signature.pop_back();
  ExpectRefused(short_sig, pin_, "org.signature_invalid");
  SignedOrgStatement tampered = s;
  tampered.statement.back() ^= 0x01;  // not_before
  ExpectRefused(tampered, pin_, "org.signature_invalid");
  // Signed garbage from the pinned key still has to decode.
  const Bytes junk = {'x'};
  ExpectRefused({junk, crypto::Sign(signer_.secret_key.span(), junk)}, pin_,
                "org.statement_malformed");
}

TEST_F(StatementTest, RolledBackConflictingOrForeignStatementsAreRefused) {
  const SignedOrgStatement s1 = Signed(Make(1, signer_), signer_);
  const SignedOrgStatement s2 = Signed(Make(2, signer_), signer_);
  auto v2 = VerifyOrgStatement(s2, pin_, kNow);
  ASSERT_TRUE(v2.has_value());
  ExpectRefused(s1, v2->next_pin, "org.statement_rollback");
  OrgStatement other_v2 = Make(2, signer_);
  other_v2.policy_json = R"({"mode":"admin-reset"})";
  ExpectRefused(Signed(other_v2, signer_), v2->next_pin, "org.statement_conflict");
  OrgStatement foreign = Make(3, signer_);
  foreign.org_id = "org-2";
  ExpectRefused(Signed(foreign, signer_), v2->next_pin, "org.wrong_org");
}

TEST_F(StatementTest, FutureStatementsWaitForTheirTime) {
  OrgStatement st = Make(1, signer_);
  st.not_before = kNow + kStatementClockSkewSeconds;
  EXPECT_TRUE(VerifyOrgStatement(Signed(st, signer_), pin_, kNow).has_value());
  st.not_before = kNow + kStatementClockSkewSeconds + 1;
  ExpectRefused(Signed(st, signer_), pin_, "org.statement_not_yet_valid");
}

// Found by protocol_fuzzer: a clock or statement at the ends of int64_t made not_before - now
// overflow (undefined behaviour). The distance is now exact at every pair of values.
TEST_F(StatementTest, NotBeforeAndClockAtTheEndsOfTheRangeDoNotOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  OrgStatement st = Make(1, signer_);
  st.not_before = kNow;
  auto far_past_clock = VerifyOrgStatement(Signed(st, signer_), pin_, kMin);
  ASSERT_FALSE(far_past_clock.has_value());
  EXPECT_EQ(far_past_clock.error().code(), "org.statement_not_yet_valid");
  st.not_before = kMax;
  auto far_future = VerifyOrgStatement(Signed(st, signer_), pin_, kMin);
  ASSERT_FALSE(far_future.has_value());
  EXPECT_EQ(far_future.error().code(), "org.statement_not_yet_valid");
  st.not_before = kMin;
  EXPECT_TRUE(VerifyOrgStatement(Signed(st, signer_), pin_, kMax).has_value());
  st.not_before = kMax;
  EXPECT_TRUE(VerifyOrgStatement(Signed(st, signer_), pin_, kMax).has_value());
}

TEST_F(StatementTest, SigningKeyRotationIsSignedByTheKeyItReplaces) {
  const crypto::SignKeyPair next = crypto::GenerateSignKeyPair();
  auto v1 = VerifyOrgStatement(Signed(Make(1, signer_), signer_), pin_, kNow);
  ASSERT_TRUE(v1.has_value());
  // v2 names the new key. Signed by the new key only: refused.
  const OrgStatement rotation = Make(2, next);
  ExpectRefused(Signed(rotation, next), v1->next_pin, "org.signature_invalid");
  // Signed by the old (pinned) key: accepted, and the pin moves to the new key.
  const SignedOrgStatement s2 = Signed(rotation, signer_);
  auto v2 = VerifyOrgStatement(s2, v1->next_pin, kNow);
  ASSERT_TRUE(v2.has_value());
  EXPECT_EQ(v2->next_pin.signing_public_key, next.public_key);
  EXPECT_NE(crypto::Fingerprint(v2->next_pin.signing_public_key),
            crypto::Fingerprint(v1->next_pin.signing_public_key));
  // From then on only the new key signs: the old one is refused.
  const SignedOrgStatement s3 = Signed(Make(3, next), next);
  EXPECT_TRUE(VerifyOrgStatement(s3, v2->next_pin, kNow).has_value());
  ExpectRefused(Signed(Make(3, next), signer_), v2->next_pin, "org.signature_invalid");
  // A client still pinned at v1 catches up through the chain, not by skipping.
  ExpectRefused(s3, v1->next_pin, "org.signature_invalid");
  const std::vector<SignedOrgStatement> chain = {s2, s3};
  auto caught_up = VerifyOrgStatementChain(chain, v1->next_pin, kNow);
  ASSERT_TRUE(caught_up.has_value());
  EXPECT_EQ(caught_up->next_pin.version, 3u);
  EXPECT_EQ(caught_up->next_pin.signing_public_key, next.public_key);
  const std::vector<SignedOrgStatement> reversed = {s3, s2};
  auto bad_chain = VerifyOrgStatementChain(reversed, v1->next_pin, kNow);
  EXPECT_ERROR(bad_chain, "org.signature_invalid");
  auto empty = VerifyOrgStatementChain({}, v1->next_pin, kNow);
  EXPECT_ERROR(empty, "org.statement_unsigned");
}

TEST_F(StatementTest, PinChecksItsInputs) {
  EXPECT_EQ(PinOnFirstUse("org 1", signer_.public_key).error().code(), "protocol.invalid_id");
  EXPECT_EQ(PinOnFirstUse("org-1", Bytes(64, 1)).error().code(), "protocol.invalid_public_key");
  EXPECT_EQ(pin_.version, 0u);
  EXPECT_EQ(pin_.signing_public_key, signer_.public_key);
}

}  // namespace
}  // namespace keyward::protocol
