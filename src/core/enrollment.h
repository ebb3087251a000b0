// Enrollment in an organization's account recovery: the member's escrow of
// the vault key (docs/protocol.md "Escrow, links, grants and signed
// statements";
// docs/api.md "Escrow upload", GET/PUT/DELETE /v1/orgs/{org}/enrollment).
//
// The server cannot check W or SA (sealed to the organization), but it can
// open SU with its recovery key: an escrow whose SU does not open, or whose
// header names another organization, member or epoch, is refused, so a
// client bug or a replayed upload never leaves a member with an escrow that
// cannot be redeemed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "core/context.h"
#include "core/credentials.h"
#include "core/orgs.h"  // EnrollmentState
#include "crypto/crypto.h"
#include "store/store.h"

namespace keyward::core {

// docs/api.md "Escrow upload".
struct EscrowUpload {
  uint64_t epoch = 0;
  uint64_t key_version = 0;
  store::Bytes wrapped_vault_key;  // W
  store::Bytes admin_share;        // SA, sealed to pk_org of key_version
  store::Bytes server_share;       // SU, sealed to the server recovery key
};

// One element of POST /v1/account/password's `escrows`.
struct OrgEscrowUpload {
  std::string org_id;
  EscrowUpload escrow;
};

// Shared by the recovery services.
Error RecoveryKeyMissing();  // 503 server.recovery_key_missing
Error EscrowInvalid();       // 400 escrow.invalid
Error NotEnrolled();         // 409 org.not_enrolled

// Bounds of the decoded blobs (the API layer refuses others with
// request.invalid_field before calling core).
inline constexpr size_t kEscrowBlobMin = 41;  // version, nonce, tag: 1 + 24 + 16
inline constexpr size_t kEscrowBlobMax = 4096;

// Checks `upload` for member `account_id` of `org` and returns the row to
// store; writes nothing. Errors, in this order: server.recovery_key_missing
// (503), org.member_not_found (404), escrow.stale_epoch (409) unless
// epoch == last_epoch + 1, org.key_version_mismatch (409) unless key_version
// == org.key_version, escrow.invalid (400) when SU does not open with the
// server recovery key for (org, account, epoch) or a blob has a bad size.
// The opened share is wiped at once.
[[nodiscard]] Result<core::Escrow> ValidateEscrowInTx(store::Tx& tx, const Context& ctx,
                                                      const core::Org& org,
                                                      std::string_view account_id,
                                                      const EscrowUpload& upload);

// Writes a validated escrow: PutEscrow (replacing any older one) and
// SetMemberLastEpoch. No event.
[[nodiscard]] Status PutEscrowInTx(store::Tx& tx, const core::Escrow& escrow);

// Enrollment by the member themself, inside the caller's transaction (used
// by PUT /v1/orgs/{org}/enrollment and by POST /v1/invites/accept after
// InsertMember): org.enrollment_disabled (409) when the organization's policy
// is `disabled`, then ValidateEscrowInTx and PutEscrowInTx, then appends
// recovery.enrolled (actor = target = account_id, details: epoch,
// key_version). The membership must already exist in `tx`.
[[nodiscard]] Status StoreEscrowInTx(store::Tx& tx, const Context& ctx, const core::Org& org,
                                     std::string_view account_id, const EscrowUpload& upload,
                                     std::string_view device_id);

// Which enrolled organizations a new password must bring fresh escrows for.
enum class EscrowCoverage {
  // Password change: every one (the member's device holds every pin).
  kEveryEnrolledOrg,
  // Redeeming a recovery link: those the member's client could vouch for;
  // the others keep their escrow (the vault key did not change, so it still
  // opens), since a client on a new device must not seal to an organization
  // only the server names (docs/recovery.md "What a malicious server can do").
  kListedOnly,
};

// A new master password (password change, recovery) moves the enrollments
// to a new epoch. `uploads` must hold one fresh escrow per organization
// where the account is enrolled (an active member with an escrow) — for
// every such organization with kEveryEnrolledOrg: request.invalid_field
// ("escrows") for an organization named twice, org.not_enrolled (409) for
// one where it is not enrolled, escrow.required (409) for one left out;
// then ValidateEscrowInTx and PutEscrowInTx for each. Escrows in
// organizations where the membership is revoked stay as they are.
[[nodiscard]] Status ReplaceEnrolledEscrowsInTx(
    store::Tx& tx, const Context& ctx, std::string_view account_id,
    const std::vector<OrgEscrowUpload>& uploads,
    EscrowCoverage coverage = EscrowCoverage::kEveryEnrolledOrg);
// The first check of ReplaceEnrolledEscrowsInTx, for callers that validate
// their input before opening a transaction.
[[nodiscard]] Status CheckOneEscrowPerOrg(const std::vector<OrgEscrowUpload>& uploads);

class EnrollmentService {
 public:
  EnrollmentService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // The caller's enrollment in `org_id`; org.not_found unless an active member.
  [[nodiscard]] Result<EnrollmentState> Get(const Caller& caller, std::string_view org_id);
  // Enroll or re-enroll. auth_key re-checks the master password
  // (auth.invalid_credentials / auth.rate_limited, counted like failed
  // logins); then StoreEscrowInTx's checks.
  [[nodiscard]] Result<EnrollmentState> Enroll(const Caller& caller, std::string_view org_id,
                                               const crypto::AuthKey& auth_key,
                                               const EscrowUpload& upload);
  // Withdraw: deletes the escrow (last_epoch stays). org.enrollment_mandatory
  // (409) under a mandatory policy, org.not_enrolled (409). Logged as
  // recovery.withdrew.
  [[nodiscard]] Status Withdraw(const Caller& caller, std::string_view org_id,
                                const crypto::AuthKey& auth_key);

 private:
  const Context& ctx_;
  const Credentials& credentials_;
};

}  // namespace keyward::core
