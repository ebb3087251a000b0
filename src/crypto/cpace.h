// CPace (draft-irtf-cfrg-cpace), suite CPACE-RISTR255-SHA512, initiator-
// responder mode: the balanced PAKE under device pairing (docs/protocol.md
// "Device pairing"). Party A sends Ya = ya·g, party B sends Yb = yb·g, where
// the generator g is hashed from the password-related string (PRS, here the
// 6-digit code), the channel identifier CI and the session id sid; both get
// the intermediate session key ISK = SHA-512(lv_cat(DSI_ISK, sid, K) ‖
// lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb)) with K = ya·Yb = yb·Ya. Whoever relays
// the messages sees only group elements: testing a code needs a scalar.
// An invalid or identity point from the peer is an error ("pair.bad_point")
// and the session must abort. Checked against the draft's vectors
// (tests/vectors/cpace.json).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"

namespace keyward::crypto::cpace {

inline constexpr size_t kPointSize = 32;       // ristretto255 encoding
inline constexpr size_t kScalarSize = 32;      // little endian, reduced
inline constexpr size_t kIskSize = 64;         // SHA-512
inline constexpr size_t kHashBlockSize = 128;  // H.s_in_bytes of SHA-512

// prepend_len: the LEB128 length of `data`, then `data`.
Bytes PrependLen(std::span<const uint8_t> data);
// lv_cat: every part with its length prepended.
Bytes LvCat(std::initializer_list<std::span<const uint8_t>> parts);

// generator_string(DSI, PRS, CI, sid, 128): secret, as it holds the PRS.
SecureBytes GeneratorString(std::span<const uint8_t> prs, std::span<const uint8_t> ci,
                            std::span<const uint8_t> sid);
// g = ristretto255_from_hash(SHA-512(generator_string)), encoded.
Bytes CalculateGenerator(std::span<const uint8_t> prs, std::span<const uint8_t> ci,
                         std::span<const uint8_t> sid);

// One party's ephemeral scalar and public share Y = y·g.
struct Share {
  SecureBytes scalar;  // y
  Bytes point;         // Y, sent to the peer
};
// A fresh random scalar (crypto_core_ristretto255_scalar_random).
Share MakeShare(std::span<const uint8_t> prs, std::span<const uint8_t> ci,
                std::span<const uint8_t> sid);
// The share for a given scalar: known-answer tests only.
[[nodiscard]] Result<Share> ShareFromScalar(std::span<const uint8_t> generator,
                                            std::span<const uint8_t> scalar);

// scalar_mult_vfy: K = y·Y_peer; "pair.bad_point" when Y_peer is not a
// canonical ristretto255 encoding or the result is the identity.
[[nodiscard]] Result<SecureBytes> SharedPoint(std::span<const uint8_t> scalar,
                                              std::span<const uint8_t> peer_point);

// A group element from 64 uniform bytes (crypto_core_ristretto255_from_hash):
// a well-formed share that no scalar is known for (decoys).
Bytes PointFromHash(std::span<const uint8_t> bytes64);

// transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb).
Bytes TranscriptIr(std::span<const uint8_t> ya, std::span<const uint8_t> ad_a,
                   std::span<const uint8_t> yb, std::span<const uint8_t> ad_b);
// ISK = SHA-512(lv_cat(DSI ‖ "_ISK", sid, K) ‖ transcript).
SecureBytes Isk(std::span<const uint8_t> sid, std::span<const uint8_t> k,
                std::span<const uint8_t> transcript);

}  // namespace keyward::crypto::cpace
