#include "protocol/escrow.h"

#include "common/try.h"
#include "protocol/binding.h"

namespace keyward::protocol {
namespace {

Status CheckBinding(std::string_view org_id, std::string_view user_id, uint64_t epoch) {
  KW_TRY(CheckId(org_id));
  KW_TRY(CheckId(user_id));
  return CheckCounter(epoch);
}

crypto::GenericKey Xor(const crypto::GenericKey& a, const crypto::GenericKey& b) {
  crypto::GenericKey out;
  for (size_t i = 0; i < crypto::GenericKey::kSize; ++i) {
    out.bytes().data()[i] = a.span()[i] ^ b.span()[i];
  }
  return out;
}

Result<crypto::GenericKey> OpenShare(const crypto::BoxKeyPair& key, std::span<const uint8_t> sealed,
                                     std::string_view label, std::string_view org_id,
                                     std::string_view user_id, uint64_t epoch) {
  KW_TRY(CheckBinding(org_id, user_id, epoch));
  KW_ASSIGN_OR_RETURN(auto share,
                      OpenWithHeader(key, sealed, SealedHeader(label, org_id, user_id, epoch),
                                     crypto::GenericKey::kSize));
  return crypto::GenericKey(std::move(share));
}

}  // namespace

Result<Escrow> CreateEscrow(const crypto::VaultKey& vault_key, std::string_view org_id,
                            std::string_view user_id, uint64_t epoch,
                            std::span<const uint8_t> org_public_key,
                            std::span<const uint8_t> server_public_key) {
  KW_TRY(CheckBinding(org_id, user_id, epoch));
  KW_TRY(CheckPublicKey(org_public_key));
  KW_TRY(CheckPublicKey(server_public_key));

  const crypto::GenericKey escrow_key = crypto::GenericKey::Random();  // E
  const crypto::GenericKey admin_part = crypto::GenericKey::Random();  // A
  const crypto::GenericKey server_part = Xor(escrow_key, admin_part);  // U = E xor A

  Escrow escrow;
  escrow.epoch = epoch;
  escrow.wrapped_vault_key =
      crypto::Encrypt(escrow_key.span(), vault_key.span(), EscrowAd(org_id, user_id, epoch));
  escrow.admin_share = SealWithHeader(
      org_public_key, SealedHeader(kShareALabel, org_id, user_id, epoch), admin_part.span());
  escrow.server_share = SealWithHeader(
      server_public_key, SealedHeader(kShareULabel, org_id, user_id, epoch), server_part.span());
  return escrow;
}

Result<crypto::GenericKey> OpenAdminShare(const crypto::BoxKeyPair& org_key,
                                          std::span<const uint8_t> admin_share,
                                          std::string_view org_id, std::string_view user_id,
                                          uint64_t epoch) {
  return OpenShare(org_key, admin_share, kShareALabel, org_id, user_id, epoch);
}

Result<crypto::GenericKey> OpenServerShare(const crypto::BoxKeyPair& server_key,
                                           std::span<const uint8_t> server_share,
                                           std::string_view org_id, std::string_view user_id,
                                           uint64_t epoch) {
  return OpenShare(server_key, server_share, kShareULabel, org_id, user_id, epoch);
}

Result<crypto::VaultKey> RecoverVaultKey(const crypto::GenericKey& admin_part,
                                         const crypto::GenericKey& server_part,
                                         std::span<const uint8_t> wrapped_vault_key,
                                         std::string_view org_id, std::string_view user_id,
                                         uint64_t epoch) {
  KW_TRY(CheckBinding(org_id, user_id, epoch));
  const crypto::GenericKey escrow_key = Xor(admin_part, server_part);
  auto vault_key =
      crypto::Decrypt(escrow_key.span(), wrapped_vault_key, EscrowAd(org_id, user_id, epoch));
  if (!vault_key || vault_key->size() != crypto::VaultKey::kSize) return Fail(DecryptFailed());
  return crypto::VaultKey(std::move(*vault_key));
}

}  // namespace keyward::protocol

namespace keyward::protocol {

Result<crypto::Bytes> ResealAdminShare(const crypto::BoxKeyPair& old_org_key,
                                       std::span<const uint8_t> new_org_public_key,
                                       std::span<const uint8_t> admin_share,
                                       std::string_view org_id, std::string_view user_id,
                                       uint64_t epoch) {
  KW_TRY(CheckPublicKey(new_org_public_key));
  KW_TRY(CheckBinding(org_id, user_id, epoch));
  // The re-sealed plaintext is the opened one, header and A unchanged: one
  // secure buffer per share instead of three (rotation re-seals every member).
  auto opened = crypto::Open(old_org_key.public_key, old_org_key.secret_key.span(), admin_share);
  if (!opened) return Fail(DecryptFailed());
  const crypto::Bytes header = SealedHeader(kShareALabel, org_id, user_id, epoch);
  const std::span<const uint8_t> plain = opened->span();
  if (plain.size() != header.size() + crypto::GenericKey::kSize ||
      !crypto::ConstantTimeEqual(plain.first(header.size()), header)) {
    return Fail(DecryptFailed());
  }
  return crypto::Seal(new_org_public_key, plain);
}

}  // namespace keyward::protocol
