#include "protocol/binding.h"

#include <algorithm>
#include <cstring>

namespace keyward::protocol {

Status CheckId(std::string_view id) {
  const bool ok =
      !id.empty() && id.size() <= kMaxIdSize && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
      });
  if (!ok) {
    return Fail(Error::InvalidArgument("protocol.invalid_id",
                                       "an id must be 1-64 characters of [A-Za-z0-9_-]"));
  }
  return {};
}

Status CheckCounter(uint64_t n) {
  if (n < 1 || n > kMaxCounter) {
    return Fail(Error::InvalidArgument("protocol.invalid_counter",
                                       "an epoch or version must be 1..2^53-1"));
  }
  return {};
}

Status CheckPublicKey(std::span<const uint8_t> public_key) {
  if (public_key.size() != 32) {
    return Fail(
        Error::InvalidArgument("protocol.invalid_public_key", "a public key must be 32 bytes"));
  }
  return {};
}

std::string DecimalText(uint64_t n) { return std::to_string(n); }

crypto::Bytes EscrowAd(std::string_view org_id, std::string_view user_id, uint64_t epoch) {
  const std::string e = DecimalText(epoch);
  return crypto::Ad({kEscrowLabel, org_id, user_id, e});
}

crypto::Bytes LinkAd(std::string_view request_id, std::string_view user_id, uint64_t epoch) {
  const std::string e = DecimalText(epoch);
  return crypto::Ad({kLinkLabel, request_id, user_id, e});
}

crypto::Bytes SealedHeader(std::string_view label, std::string_view a, std::string_view b,
                           uint64_t n) {
  const std::string text = DecimalText(n);
  return crypto::Ad({label, a, b, text, ""});
}

Error DecryptFailed() {
  return Error::InvalidArgument("crypto.decrypt_failed", "decryption failed");
}

Result<crypto::SecureBytes> OpenWithHeader(const crypto::BoxKeyPair& recipient,
                                           std::span<const uint8_t> sealed,
                                           std::span<const uint8_t> header, size_t payload_size) {
  auto opened = crypto::Open(recipient.public_key, recipient.secret_key.span(), sealed);
  if (!opened) return Fail(DecryptFailed());
  const std::span<const uint8_t> plain = opened->span();
  if (plain.size() != header.size() + payload_size ||
      !crypto::ConstantTimeEqual(plain.first(header.size()), header)) {
    return Fail(DecryptFailed());
  }
  return crypto::SecureBytes::Copy(plain.subspan(header.size()));
}

crypto::Bytes SealWithHeader(std::span<const uint8_t> public_key, std::span<const uint8_t> header,
                             std::span<const uint8_t> payload) {
  crypto::SecureBytes plain(header.size() + payload.size());
  if (!header.empty()) std::memcpy(plain.data(), header.data(), header.size());
  if (!payload.empty()) std::memcpy(plain.data() + header.size(), payload.data(), payload.size());
  return crypto::Seal(public_key, plain.span());
}

}  // namespace keyward::protocol
