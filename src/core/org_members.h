// Members of an organization (docs/api.md "Organizations"): invites and
// joining, the member list, role changes, recovery key grants, revoking,
// restoring and removing. Who may act on whom is core/roles.h; the last
// owner is checked here, inside the transaction that makes the change; every
// change appends its events in that same transaction.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"
#include "core/enrollment.h"
#include "core/orgs.h"

namespace keyward::core {

// What a recovery admin sees of one member.
struct MemberView {
  core::OrgMember member;
  std::string email;
  store::Bytes public_key;
  EnrollmentState enrollment;
  bool recovery_admin = false;
  uint64_t grant_key_version = 0;  // newest key version with a grant; 0: none
};

struct MemberList {
  std::vector<MemberView> members;
  std::vector<core::OrgInvite> invites;  // open: not accepted, not expired
};

struct NewInvite {
  std::string email;
  std::string role;
  std::string permissions;
};

// What an invite is for, shown before accepting it.
struct InviteInfo {
  core::OrgInvite invite;
  std::string org_name;
  std::vector<core::OrgStatementRow> statements;  // every one, from version 1
};

class MemberService {
 public:
  explicit MemberService(const Context& ctx) : ctx_(ctx) {}

  // Recovery admins; org.forbidden otherwise.
  [[nodiscard]] Result<MemberList> List(const Caller& caller, std::string_view org_id);

  // Recovery admins; the invited role may not rank above the inviter's.
  // Emails the token (32 random bytes; only its hash is stored) to the
  // invitee, queued in the transaction that stores the invite. org.invalid_role,
  // org.invalid_permission, org.already_member, account.invalid_email; org.invite_rate_limited
  // (429) past CoreConfig::invite_max_per_org / invite_max_per_inviter in the last
  // invite_window_seconds (sliding window, counted in the store).
  [[nodiscard]] Result<core::OrgInvite> Invite(const Caller& caller, std::string_view org_id,
                                               const NewInvite& invite);
  // invite.not_found for an unknown, used, expired token or one for another
  // email than the caller's.
  [[nodiscard]] Result<InviteInfo> LookupInvite(const Caller& caller, std::string_view token);
  // Joins, enrolling at once when `escrow` is given (required under a
  // mandatory policy: org.enrollment_required; refused under a disabled one:
  // org.enrollment_disabled; checked by StoreEscrowInTx): one transaction.
  // invite.not_found, org.already_member.
  [[nodiscard]] Result<OrgView> AcceptInvite(const Caller& caller, std::string_view token,
                                             const std::optional<EscrowUpload>& escrow);

  // Hierarchy of core/roles.h; org.last_owner. Losing recovery admin rights
  // removes the member's grants (and an owner or admin becoming custom loses
  // the signing grant); `grant` is stored when given (the member must be a
  // recovery admin after the change: org.not_recovery_admin).
  [[nodiscard]] Status ChangeRole(const Caller& caller, std::string_view org_id,
                                  std::string_view member_id, std::string_view role,
                                  std::string_view permissions,
                                  const std::optional<GrantUpload>& grant);
  // org.not_recovery_admin, org.key_version_mismatch.
  [[nodiscard]] Status Grant(const Caller& caller, std::string_view org_id,
                             std::string_view member_id, const GrantUpload& grant);
  // The caller's own grant of `key_version` (default: current);
  // org.grant_not_found.
  [[nodiscard]] Result<core::OrgGrant> GetGrant(const Caller& caller, std::string_view org_id,
                                                std::optional<uint64_t> key_version);
  // Keeps the membership (and escrow), drops access and grants.
  [[nodiscard]] Status Revoke(const Caller& caller, std::string_view org_id,
                              std::string_view member_id);
  [[nodiscard]] Status Restore(const Caller& caller, std::string_view org_id,
                               std::string_view member_id);
  // Removes membership, grants and escrow.
  [[nodiscard]] Status Remove(const Caller& caller, std::string_view org_id,
                              std::string_view member_id);

 private:
  const Context& ctx_;
};

// H(token key, "keyward/v1/invite" 0 token): what the store keeps of a token.
store::Bytes HashInviteToken(const Context& ctx, std::span<const uint8_t> token);

}  // namespace keyward::core
