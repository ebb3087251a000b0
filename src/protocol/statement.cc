#include "protocol/statement.h"

#include <nlohmann/json.hpp>

#include "common/byte_writer.h"
#include "common/try.h"
#include "protocol/binding.h"

namespace keyward::protocol {
namespace {

Error Denied(std::string code, std::string message) {
  return Error::PermissionDenied(std::move(code), std::move(message));
}

Error Malformed() {
  return Error::InvalidArgument("org.statement_malformed",
                                "the organization statement is not in canonical form");
}

Status CheckPolicy(std::string_view policy_json) {
  if (policy_json.size() > kMaxPolicySize ||
      !nlohmann::json::accept(policy_json.begin(), policy_json.end()) ||
      !nlohmann::json::parse(policy_json.begin(), policy_json.end()).is_object()) {
    return Fail(Error::InvalidArgument("org.invalid_policy",
                                       "the policy must be a JSON object of at most 16 KiB"));
  }
  return {};
}

void PutU64Field(crypto::Bytes& out, uint64_t v) {
  AppendU32Be(out, 8);
  AppendU64Be(out, v);
}

// Reads the length-prefixed fields back; any overrun is a failure.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool Field(std::span<const uint8_t>& out) {
    if (in_.size() < 4) return false;
    const uint32_t n = (uint32_t{in_[0]} << 24) | (uint32_t{in_[1]} << 16) |
                       (uint32_t{in_[2]} << 8) | uint32_t{in_[3]};
    if (in_.size() - 4 < n) return false;
    out = in_.subspan(4, n);
    in_ = in_.subspan(4 + n);
    return true;
  }
  bool U64(uint64_t& out) {
    std::span<const uint8_t> f;
    if (!Field(f) || f.size() != 8) return false;
    out = 0;
    for (uint8_t b : f) out = (out << 8) | b;
    return true;
  }
  bool AtEnd() const { return in_.empty(); }

 private:
  std::span<const uint8_t> in_;
};

std::string_view Text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

crypto::Bytes Digest(std::span<const uint8_t> statement) { return crypto::Hash({}, statement); }

}  // namespace

Result<crypto::Bytes> EncodeOrgStatement(const OrgStatement& st) {
  KW_TRY(CheckId(st.org_id));
  KW_TRY(CheckCounter(st.version));
  KW_TRY(CheckPublicKey(st.signing_public_key));
  KW_TRY(CheckPublicKey(st.org_public_key));
  KW_TRY(CheckPolicy(st.policy_json));
  crypto::Bytes out(kStatementLabel.begin(), kStatementLabel.end());
  out.push_back(0);
  AppendLengthPrefixed(out, st.org_id);
  PutU64Field(out, st.version);
  AppendLengthPrefixed(out, st.signing_public_key);
  AppendLengthPrefixed(out, st.org_public_key);
  AppendLengthPrefixed(out, st.policy_json);
  PutU64Field(out, static_cast<uint64_t>(st.not_before));
  return out;
}

Result<OrgStatement> DecodeOrgStatement(std::span<const uint8_t> bytes) {
  const size_t label_size = kStatementLabel.size() + 1;
  if (bytes.size() < label_size || Text(bytes.first(kStatementLabel.size())) != kStatementLabel ||
      bytes[kStatementLabel.size()] != 0) {
    return Fail(Malformed());
  }
  Reader r(bytes.subspan(label_size));
  OrgStatement st;
  std::span<const uint8_t> org, signing, org_key, policy;
  uint64_t not_before = 0;
  if (!r.Field(org) || !r.U64(st.version) || !r.Field(signing) || !r.Field(org_key) ||
      !r.Field(policy) || !r.U64(not_before) || !r.AtEnd()) {
    return Fail(Malformed());
  }
  st.org_id = std::string(Text(org));
  st.signing_public_key.assign(signing.begin(), signing.end());
  st.org_public_key.assign(org_key.begin(), org_key.end());
  st.policy_json = std::string(Text(policy));
  st.not_before = static_cast<int64_t>(not_before);
  // Decoding accepts exactly what encoding produces.
  if (!EncodeOrgStatement(st).has_value()) return Fail(Malformed());
  return st;
}

Result<SignedOrgStatement> SignOrgStatement(const OrgStatement& statement,
                                            const crypto::SignKeyPair& signer) {
  KW_ASSIGN_OR_RETURN(auto bytes, EncodeOrgStatement(statement));
  crypto::Bytes signature = crypto::Sign(signer.secret_key.span(), bytes);
  return SignedOrgStatement{std::move(bytes), std::move(signature)};
}

Result<OrgPin> PinOnFirstUse(std::string_view org_id, std::span<const uint8_t> signing_public_key) {
  KW_TRY(CheckId(org_id));
  KW_TRY(CheckPublicKey(signing_public_key));
  return OrgPin{std::string(org_id),
                crypto::Bytes(signing_public_key.begin(), signing_public_key.end()),
                0,
                {}};
}

Result<VerifiedOrgStatement> VerifyOrgStatement(const SignedOrgStatement& signed_st,
                                                const OrgPin& pin, int64_t now) {
  KW_TRY(CheckPublicKey(pin.signing_public_key));
  if (signed_st.signature.empty()) {
    return Fail(Denied("org.statement_unsigned", "the organization statement is not signed"));
  }
  if (!crypto::Verify(pin.signing_public_key, signed_st.statement, signed_st.signature)) {
    return Fail(Denied("org.signature_invalid",
                       "the organization statement is not signed by the pinned signing key"));
  }
  KW_ASSIGN_OR_RETURN(auto st, DecodeOrgStatement(signed_st.statement));
  if (st.org_id != pin.org_id) {
    return Fail(Denied("org.wrong_org", "the statement is for another organization"));
  }
  const crypto::Bytes digest = Digest(signed_st.statement);
  if (st.version < pin.version) {
    return Fail(Denied("org.statement_rollback",
                       "the statement is older than the last one accepted (rollback)"));
  }
  if (st.version == pin.version && !crypto::ConstantTimeEqual(digest, pin.statement_digest)) {
    return Fail(Denied("org.statement_conflict",
                       "another statement with the same version was accepted before"));
  }
  // The difference is taken unsigned: both are any int64_t (a hostile statement or clock), and
  // not_before > now makes the unsigned difference exact where the signed one could overflow.
  if (st.not_before > now && static_cast<uint64_t>(st.not_before) - static_cast<uint64_t>(now) >
                                 static_cast<uint64_t>(kStatementClockSkewSeconds)) {
    return Fail(Denied("org.statement_not_yet_valid", "the statement is not valid yet"));
  }
  OrgPin next{pin.org_id, st.signing_public_key, st.version, digest};
  return VerifiedOrgStatement{std::move(st), std::move(next)};
}

Result<VerifiedOrgStatement> VerifyOrgStatementChain(std::span<const SignedOrgStatement> chain,
                                                     const OrgPin& pin, int64_t now) {
  if (chain.empty()) {
    return Fail(Denied("org.statement_unsigned", "no organization statement"));
  }
  auto verified = VerifyOrgStatement(chain.front(), pin, now);
  for (size_t i = 1; verified && i < chain.size(); ++i) {
    verified = VerifyOrgStatement(chain[i], verified->next_pin, now);
  }
  return verified;
}

Status CheckOrgPublicKey(const OrgStatement& verified,
                         std::span<const uint8_t> offered_org_public_key) {
  if (!crypto::ConstantTimeEqual(verified.org_public_key, offered_org_public_key)) {
    return Fail(
        Denied("org.key_mismatch", "the organization key offered differs from the signed one"));
  }
  return {};
}

}  // namespace keyward::protocol
