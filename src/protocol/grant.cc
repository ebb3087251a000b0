#include "protocol/grant.h"

#include <algorithm>

#include "common/try.h"
#include "protocol/binding.h"

namespace keyward::protocol {
namespace {

Status CheckGrantBinding(std::string_view org_id, std::string_view admin_user_id,
                         uint64_t key_version) {
  KW_TRY(CheckId(org_id));
  KW_TRY(CheckId(admin_user_id));
  return CheckCounter(key_version);
}

// The crypto API cannot derive an X25519 public key from a secret key, so the
// pair is checked by use: a box sealed to pk opens with (pk, sk) only when sk
// is pk's secret key.
bool KeyPairMatches(const crypto::BoxKeyPair& pair) {
  static constexpr uint8_t kProbe[] = {'k', 'e', 'y', 'w', 'a', 'r', 'd'};
  const crypto::Bytes sealed = crypto::Seal(pair.public_key, kProbe);
  auto opened = crypto::Open(pair.public_key, pair.secret_key.span(), sealed);
  return opened.has_value() && crypto::ConstantTimeEqual(opened->span(), kProbe);
}

}  // namespace

Result<crypto::Bytes> CreateGrant(std::span<const uint8_t> admin_public_key,
                                  const crypto::BoxKeyPair& org_key, std::string_view org_id,
                                  std::string_view admin_user_id, uint64_t key_version) {
  KW_TRY(CheckGrantBinding(org_id, admin_user_id, key_version));
  KW_TRY(CheckPublicKey(admin_public_key));
  if (org_key.secret_key.size() != 32) {
    return Fail(Error::InvalidArgument("protocol.invalid_secret_key",
                                       "the organization secret key must be 32 bytes"));
  }
  return SealWithHeader(admin_public_key,
                        SealedHeader(kGrantLabel, org_id, admin_user_id, key_version),
                        org_key.secret_key.span());
}

Result<crypto::BoxKeyPair> OpenGrant(const crypto::BoxKeyPair& admin_key,
                                     std::span<const uint8_t> grant, std::string_view org_id,
                                     std::string_view admin_user_id, uint64_t key_version,
                                     std::span<const uint8_t> org_public_key) {
  KW_TRY(CheckGrantBinding(org_id, admin_user_id, key_version));
  KW_TRY(CheckPublicKey(org_public_key));
  KW_ASSIGN_OR_RETURN(
      auto secret,
      OpenWithHeader(admin_key, grant,
                     SealedHeader(kGrantLabel, org_id, admin_user_id, key_version), 32));
  crypto::BoxKeyPair pair{crypto::Bytes(org_public_key.begin(), org_public_key.end()),
                          std::move(secret)};
  if (!KeyPairMatches(pair)) {
    return Fail(Error::InvalidArgument("org.grant_key_mismatch",
                                       "the granted key does not match the organization key"));
  }
  return pair;
}

}  // namespace keyward::protocol

namespace keyward::protocol {

Result<crypto::Bytes> CreateSigningGrant(std::span<const uint8_t> admin_public_key,
                                         const crypto::SignKeyPair& signing_key,
                                         std::string_view org_id, std::string_view admin_user_id,
                                         uint64_t key_version) {
  KW_TRY(CheckGrantBinding(org_id, admin_user_id, key_version));
  KW_TRY(CheckPublicKey(admin_public_key));
  // libsodium's Ed25519 secret key is seed ‖ pk; only the seed is sealed.
  if (signing_key.secret_key.size() != 64) {
    return Fail(Error::InvalidArgument("protocol.invalid_secret_key",
                                       "the organization signing key must be 64 bytes"));
  }
  return SealWithHeader(admin_public_key,
                        SealedHeader(kSigningGrantLabel, org_id, admin_user_id, key_version),
                        signing_key.secret_key.span().first(32));
}

Result<crypto::SignKeyPair> OpenSigningGrant(const crypto::BoxKeyPair& admin_key,
                                             std::span<const uint8_t> grant,
                                             std::string_view org_id,
                                             std::string_view admin_user_id, uint64_t key_version,
                                             std::span<const uint8_t> expected_signing_public_key) {
  KW_TRY(CheckGrantBinding(org_id, admin_user_id, key_version));
  KW_TRY(CheckPublicKey(expected_signing_public_key));
  KW_ASSIGN_OR_RETURN(
      auto seed,
      OpenWithHeader(admin_key, grant,
                     SealedHeader(kSigningGrantLabel, org_id, admin_user_id, key_version), 32));
  crypto::SignKeyPair pair = crypto::SignKeyPairFromSeed(seed.span());
  if (pair.public_key.size() != expected_signing_public_key.size() ||
      !std::equal(pair.public_key.begin(), pair.public_key.end(),
                  expected_signing_public_key.begin())) {
    return Fail(Error::InvalidArgument(
        "org.grant_key_mismatch", "the granted signing key does not match the organization's"));
  }
  return pair;
}

}  // namespace keyward::protocol
