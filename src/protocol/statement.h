// Signed organization statements and signing-key pinning (docs/protocol.md
// "Escrow, links, grants and signed statements"; why members need not trust
// the server: docs/recovery.md "What a malicious server can do").
//
// A statement names the org's recovery key pk_org, its recovery policy and
// the Ed25519 key that signs the org's next statement. Members pin the org's
// signing key on first use and accept a statement only when the pinned key
// signed it: a statement that rotates the signing key is signed by the key
// it replaces, and accepting it moves the pin to the new key. The signed
// message is the canonical byte encoding below; it travels as those bytes
// (base64url) with the signature, and is decoded only after verification.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol {

inline constexpr std::string_view kStatementLabel = "keyward/v1/org-statement";
inline constexpr size_t kMaxPolicySize = 16 * 1024;
// A statement dated up to this far in the future is accepted (clock skew).
inline constexpr int64_t kStatementClockSkewSeconds = 300;

struct OrgStatement {
  std::string org_id;
  uint64_t version = 0;              // 1..2^53-1, one per statement
  crypto::Bytes signing_public_key;  // Ed25519, signs the next statement
  crypto::Bytes org_public_key;      // pk_org, X25519
  std::string policy_json;           // a JSON object, as UTF-8 text
  int64_t not_before = 0;            // unix seconds
};

struct SignedOrgStatement {
  crypto::Bytes statement;  // EncodeOrgStatement(...)
  crypto::Bytes signature;  // Ed25519 detached, 64 bytes
};

// What a member's client remembers for each organization.
struct OrgPin {
  std::string org_id;
  crypto::Bytes signing_public_key;  // the key the next statement must be signed by
  uint64_t version = 0;              // last accepted version; 0 before any
  crypto::Bytes statement_digest;    // BLAKE2b-256 of the last accepted statement
};

struct VerifiedOrgStatement {
  OrgStatement statement;
  OrgPin next_pin;  // store this in place of the old pin
};

// Canonical bytes: label 0x00, then for each field in this order a 4-byte
// big-endian length and the bytes: org_id, version (8-byte big-endian),
// signing_public_key (32), org_public_key (32), policy_json, not_before
// (8-byte big-endian two's complement). Errors: protocol.invalid_id,
// protocol.invalid_counter, protocol.invalid_public_key, org.invalid_policy.
[[nodiscard]] Result<crypto::Bytes> EncodeOrgStatement(const OrgStatement& statement);
// The strict inverse; anything else is org.statement_malformed.
[[nodiscard]] Result<OrgStatement> DecodeOrgStatement(std::span<const uint8_t> bytes);

// Encodes and signs with the signing key in force, i.e. the one members have
// pinned (for a rotation: the key being replaced).
[[nodiscard]] Result<SignedOrgStatement> SignOrgStatement(const OrgStatement& statement,
                                                          const crypto::SignKeyPair& signer);

// The pin a member makes when joining, after being shown
// crypto::Fingerprint(signing_public_key) (trust on first use).
[[nodiscard]] Result<OrgPin> PinOnFirstUse(std::string_view org_id,
                                           std::span<const uint8_t> signing_public_key);

// Checks, in order: a signature is present (org.statement_unsigned); it is
// valid under the pinned key (org.signature_invalid); the bytes decode
// (org.statement_malformed); the org is the pinned one (org.wrong_org); the
// version is not below the pinned one (org.statement_rollback) and, when
// equal, the statement is the pinned one (org.statement_conflict); not_before
// is not more than kStatementClockSkewSeconds after now
// (org.statement_not_yet_valid).
[[nodiscard]] Result<VerifiedOrgStatement> VerifyOrgStatement(const SignedOrgStatement& signed_st,
                                                              const OrgPin& pin, int64_t now);

// Verifies statements in order, each against the pin the previous one left:
// how a client that missed a signing-key rotation catches up. An empty list
// is org.statement_unsigned.
[[nodiscard]] Result<VerifiedOrgStatement> VerifyOrgStatementChain(
    std::span<const SignedOrgStatement> chain, const OrgPin& pin, int64_t now);

// The key the server offers for sealing (pk_org) must be the verified one:
// else org.key_mismatch.
[[nodiscard]] Status CheckOrgPublicKey(const OrgStatement& verified,
                                       std::span<const uint8_t> offered_org_public_key);

}  // namespace keyward::protocol
