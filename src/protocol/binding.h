// Associated data and sealed-message headers of docs/protocol.md ("Escrow,
// links, grants and signed statements"): what binds every escrowed, linked or
// granted secret to its organization, user and epoch. Also the id and counter
// rules that keep those encodings unambiguous.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol {

inline constexpr std::string_view kEscrowLabel = "keyward/v1/escrow";
inline constexpr std::string_view kLinkLabel = "keyward/v1/link";
inline constexpr std::string_view kShareALabel = "share-a";
inline constexpr std::string_view kShareULabel = "share-u";
inline constexpr std::string_view kGrantLabel = "grant";

inline constexpr size_t kMaxIdSize = 64;
// Epochs and versions stay exact in a JavaScript number.
inline constexpr uint64_t kMaxCounter = (uint64_t{1} << 53) - 1;

// An id (organization, user, request) is 1..64 characters of [A-Za-z0-9_-]:
// no 0x00 (so the joined encodings are unambiguous) and safe in a URL path.
[[nodiscard]] Status CheckId(std::string_view id);  // protocol.invalid_id
// Epochs and versions are 1..2^53-1.
[[nodiscard]] Status CheckCounter(uint64_t n);  // protocol.invalid_counter
// 32 bytes, else protocol.invalid_public_key.
[[nodiscard]] Status CheckPublicKey(std::span<const uint8_t> public_key);

// Decimal ASCII, no leading zeros.
std::string DecimalText(uint64_t n);

// "keyward/v1/escrow" 0 org 0 user 0 epoch
crypto::Bytes EscrowAd(std::string_view org_id, std::string_view user_id, uint64_t epoch);
// "keyward/v1/link" 0 request 0 user 0 epoch
crypto::Bytes LinkAd(std::string_view request_id, std::string_view user_id, uint64_t epoch);
// hdr(label, a, b, n) = label 0 a 0 b 0 n 0: the header that starts a sealed
// plaintext, closed by its own 0x00 so it ends before the secret begins.
crypto::Bytes SealedHeader(std::string_view label, std::string_view a, std::string_view b,
                           uint64_t n);

// The one error for every failure to open or decrypt, or a header that does
// not match: the same as crypto::Decrypt's ("crypto.decrypt_failed").
Error DecryptFailed();

// Opens a sealed box and checks that its plaintext is exactly
// `header` followed by `payload_size` bytes; returns the payload.
[[nodiscard]] Result<crypto::SecureBytes> OpenWithHeader(const crypto::BoxKeyPair& recipient,
                                                         std::span<const uint8_t> sealed,
                                                         std::span<const uint8_t> header,
                                                         size_t payload_size);
// header ‖ payload, sealed to public_key; the plaintext is built in a secure buffer.
crypto::Bytes SealWithHeader(std::span<const uint8_t> public_key, std::span<const uint8_t> header,
                             std::span<const uint8_t> payload);

}  // namespace keyward::protocol
