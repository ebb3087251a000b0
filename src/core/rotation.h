// Rotating an organization's recovery key (docs/protocol.md "Escrow, links,
// grants and signed statements", key rotation; docs/api.md POST/GET
// /v1/orgs/{org}/rotation, POST .../rotation/escrows).
//
// 1. Start: an owner's or admin's client makes a new (pk_org, sk_org), signs
//    statement current + 1 with the current signing key (same policy, new
//    pk_org) and seals the new key to the recovery admins. The organization
//    moves to the new key version at once: new escrows are sealed to it.
// 2. The client pages through the escrows still sealed to an older key,
//    opens each admin share with the old sk_org and seals the same share to
//    the new pk_org (protocol::ResealAdminShare); the server replaces each
//    one only if the escrow did not change meanwhile.
// 3. When no escrow under an older key remains, the old key is retired: its
//    grants are deleted and key.rotation_completed is logged, once.
// A new rotation is refused while step 2 is unfinished.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/orgs.h"
#include "protocol/statement.h"

namespace keyward::core {

inline constexpr int64_t kRotationPageDefault = 500;
inline constexpr int64_t kRotationPageMax = 1000;

struct RotationGrant {
  std::string account_id;
  GrantUpload grant;  // key_version current + 1
};

struct RotationStart {
  protocol::SignedOrgStatement statement;
  std::vector<RotationGrant> grants;  // must include the caller
};

struct RotationPage {
  uint64_t key_version = 0;  // the current one
  int64_t pending = 0;       // escrows under an older key, all pages
  std::vector<core::Escrow> escrows;
};

struct RewrappedShare {
  std::string account_id;
  uint64_t epoch = 0;
  uint64_t from_key_version = 0;
  store::Bytes admin_share;  // SA sealed to the current pk_org
};

struct RewrapResult {
  int64_t updated = 0;
  int64_t skipped = 0;
  int64_t pending = 0;
};

class RotationService {
 public:
  explicit RotationService(const Context& ctx) : ctx_(ctx) {}

  // Owners and admins (org.forbidden). org.rotation_in_progress (409) while
  // escrows under an older key remain; then VerifyNextStatement's errors;
  // org.key_mismatch (400) when pk_org does not change; org.invalid_policy
  // (400) when the policy does; for the grants: org.member_not_found,
  // org.not_recovery_admin (409), CheckGrantUpload's errors, and
  // request.invalid_field when the caller's own grant is missing or a member
  // appears twice. Logged as key.rotated (and key.granted per grant).
  [[nodiscard]] Result<OrgView> Start(const Caller& caller, std::string_view org_id,
                                      const RotationStart& start);
  // Owners and admins. Escrows under an older key with account id > after,
  // ascending, at most `limit` (1..kRotationPageMax).
  [[nodiscard]] Result<RotationPage> Pending(const Caller& caller, std::string_view org_id,
                                             std::string_view after, int64_t limit);
  // Owners and admins. At most kRotationPageMax shares. A share is skipped
  // when its escrow is gone or changed (another epoch, already re-wrapped) or
  // when from_key_version is not below the current key version.
  [[nodiscard]] Result<RewrapResult> Rewrap(const Caller& caller, std::string_view org_id,
                                            const std::vector<RewrappedShare>& shares);

 private:
  const Context& ctx_;
};

}  // namespace keyward::core
