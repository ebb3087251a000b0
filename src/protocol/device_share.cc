#include "protocol/device_share.h"

#include <cstring>

#include "common/try.h"
#include "protocol/binding.h"

namespace keyward::protocol::device_share {
namespace {

// header || payload in a secure buffer.
crypto::SecureBytes Joined(std::span<const uint8_t> header, std::span<const uint8_t> payload) {
  crypto::SecureBytes plain(header.size() + payload.size());
  std::memcpy(plain.data(), header.data(), header.size());
  std::memcpy(plain.data() + header.size(), payload.data(), payload.size());
  return plain;
}

// The payload of `plain` when it is exactly `header` and a 32-byte share.
Result<crypto::GenericKey> Share(const crypto::SecureBytes& plain,
                                 std::span<const uint8_t> header) {
  const std::span<const uint8_t> bytes = plain.span();
  if (bytes.size() != header.size() + crypto::GenericKey::kSize ||
      !crypto::ConstantTimeEqual(bytes.first(header.size()), header)) {
    return Fail(DecryptFailed());
  }
  return crypto::GenericKey(crypto::SecureBytes::Copy(bytes.subspan(header.size())));
}

Result<crypto::Bytes> BoxAdmin(const crypto::BoxKeyPair& org_key,
                               std::span<const uint8_t> device_public_key,
                               const crypto::GenericKey& admin_part, std::string_view org_id,
                               std::string_view user_id, uint64_t epoch,
                               std::string_view request_id, std::span<const uint8_t> nonce) {
  KW_TRY(CheckPublicKey(device_public_key));
  KW_ASSIGN_OR_RETURN(auto header, Header(kAdminLabel, org_id, user_id, epoch, request_id));
  const crypto::SecureBytes plain = Joined(header, admin_part.span());
  if (nonce.empty()) return crypto::Box(device_public_key, org_key.secret_key.span(), plain.span());
  return crypto::BoxWithNonce(device_public_key, org_key.secret_key.span(), nonce, plain.span());
}

}  // namespace

Result<crypto::Bytes> Header(std::string_view label, std::string_view org_id,
                             std::string_view user_id, uint64_t epoch,
                             std::string_view request_id) {
  KW_TRY(CheckId(org_id));
  KW_TRY(CheckId(user_id));
  KW_TRY(CheckCounter(epoch));
  KW_TRY(CheckId(request_id));
  crypto::Bytes header = SealedHeader(label, org_id, user_id, epoch);
  header.insert(header.end(), request_id.begin(), request_id.end());
  header.push_back(0);
  return header;
}

Result<crypto::Bytes> BoxAdminShare(const crypto::BoxKeyPair& org_key,
                                    std::span<const uint8_t> device_public_key,
                                    const crypto::GenericKey& admin_part, std::string_view org_id,
                                    std::string_view user_id, uint64_t epoch,
                                    std::string_view request_id) {
  return BoxAdmin(org_key, device_public_key, admin_part, org_id, user_id, epoch, request_id, {});
}

Result<crypto::Bytes> BoxAdminShareWithNonce(const crypto::BoxKeyPair& org_key,
                                             std::span<const uint8_t> device_public_key,
                                             const crypto::GenericKey& admin_part,
                                             std::string_view org_id, std::string_view user_id,
                                             uint64_t epoch, std::string_view request_id,
                                             std::span<const uint8_t> nonce) {
  if (nonce.size() != 24) return Fail(Error::InvalidArgument("protocol.invalid_nonce", "24 bytes"));
  return BoxAdmin(org_key, device_public_key, admin_part, org_id, user_id, epoch, request_id,
                  nonce);
}

Result<crypto::Bytes> SealServerShare(std::span<const uint8_t> device_public_key,
                                      const crypto::GenericKey& server_part,
                                      std::string_view org_id, std::string_view user_id,
                                      uint64_t epoch, std::string_view request_id) {
  KW_TRY(CheckPublicKey(device_public_key));
  KW_ASSIGN_OR_RETURN(auto header, Header(kServerLabel, org_id, user_id, epoch, request_id));
  return SealWithHeader(device_public_key, header, server_part.span());
}

Result<crypto::GenericKey> OpenAdminShare(const crypto::BoxKeyPair& device_key,
                                          std::span<const uint8_t> org_public_key,
                                          std::span<const uint8_t> device_admin_share,
                                          std::string_view org_id, std::string_view user_id,
                                          uint64_t epoch, std::string_view request_id) {
  KW_TRY(CheckPublicKey(org_public_key));
  KW_ASSIGN_OR_RETURN(auto header, Header(kAdminLabel, org_id, user_id, epoch, request_id));
  auto plain = crypto::BoxOpen(org_public_key, device_key.secret_key.span(), device_admin_share);
  if (!plain) return Fail(DecryptFailed());
  return Share(*plain, header);
}

Result<crypto::GenericKey> OpenServerShare(const crypto::BoxKeyPair& device_key,
                                           std::span<const uint8_t> device_server_share,
                                           std::string_view org_id, std::string_view user_id,
                                           uint64_t epoch, std::string_view request_id) {
  KW_ASSIGN_OR_RETURN(auto header, Header(kServerLabel, org_id, user_id, epoch, request_id));
  auto plain =
      crypto::Open(device_key.public_key, device_key.secret_key.span(), device_server_share);
  if (!plain) return Fail(DecryptFailed());
  return Share(*plain, header);
}

}  // namespace keyward::protocol::device_share
