#include "core/org_members.h"

#include <algorithm>
#include <unordered_map>

#include "core/notices.h"
#include "core/validation.h"

namespace keyward::core {

namespace {

constexpr std::string_view kInviteTokenLabel = "keyward/v1/invite";
constexpr size_t kInviteTokenSize = 32;

Error Forbidden(std::string message) {
  return Error::PermissionDenied("org.forbidden", std::move(message));
}

Error InviteNotFound() {
  return Error::NotFound("invite.not_found",
                         "No such invitation: it is unknown, used, expired, or for another "
                         "email address than yours.");
}

Error AlreadyMember() {
  return Error::Conflict("org.already_member", "This account is already a member.");
}

Error NotRecoveryAdmin() {
  return Error::Conflict("org.not_recovery_admin",
                         "The member is not an active recovery admin, so holds no recovery key.");
}

// Only owners and admins change roles, revoke, restore, remove and grant
// (core/roles.h rule 4): refused before the target is even looked up, so
// that others cannot probe who is a member.
Status RequireManager(const OrgAccess& access) {
  if (access.role != Role::kOwner && access.role != Role::kAdmin) {
    return Fail(Forbidden("Only owners and admins manage members."));
  }
  return {};
}

struct RoleChoice {
  Role role = Role::kUser;
  Permissions permissions;
};

// Permissions count only for the custom role (core/roles.h rule 6): others
// are stored without any, so that what is shown is what counts.
Result<RoleChoice> ParseRoleChoice(std::string_view role_text, std::string_view permissions_text) {
  KW_ASSIGN_OR_RETURN(Role role, ParseRole(role_text));
  KW_ASSIGN_OR_RETURN(Permissions permissions, ParsePermissions(permissions_text));
  if (role != Role::kCustom) permissions = {};
  return RoleChoice{role, permissions};
}

int Rank(Role role) { return static_cast<int>(role); }

Result<store::Bytes> DecodeToken(std::string_view token) {
  if (token.size() != 43) return Fail(InviteNotFound());
  auto bytes = crypto::Base64UrlDecode(token);
  if (!bytes || bytes->size() != kInviteTokenSize) return Fail(InviteNotFound());
  return std::move(*bytes);
}

// Owners of the organization remaining after `member` stops being an active
// owner; org.last_owner when none would.
Status CheckOwnerLeaves(store::Tx& tx, const core::OrgMember& member) {
  if (member.role != RoleName(Role::kOwner) || member.status != core::MemberStatus::kActive) {
    return {};
  }
  KW_ASSIGN_OR_RETURN(int64_t owners, tx.CountOwners(member.org_id));
  return CheckNotLastOwner(static_cast<int>(owners - 1));
}

// Removes every grant of the member; appends key.grant_removed when there
// were any. Returns how many.
Result<int64_t> RemoveGrants(store::Tx& tx, const Clock& clock, const Caller& caller,
                             std::string_view org_id, std::string_view account_id,
                             std::string_view reason) {
  KW_ASSIGN_OR_RETURN(int64_t removed, tx.DeleteMemberGrants(org_id, account_id));
  if (removed > 0) {
    KW_TRY(AppendOrgEvent(
        tx, clock,
        EventSpec{std::string(org_id),
                  "key.grant_removed",
                  caller.account_id,
                  std::string(account_id),
                  caller.device_id,
                  {{"grants", std::to_string(removed)}, {"reason", std::string(reason)}}}));
  }
  return removed;
}

// An owner or admin who becomes custom keeps the recovery key but not the
// signing key.
Result<int64_t> RemoveSigningGrants(store::Tx& tx, const Clock& clock, const Caller& caller,
                                    std::string_view org_id, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto grants, tx.ListGrants(org_id));
  int64_t stripped = 0;
  for (auto& g : grants) {
    if (g.account_id != account_id || g.signing_grant.empty()) continue;
    g.signing_grant.clear();
    KW_TRY(tx.PutGrant(g));
    ++stripped;
  }
  if (stripped > 0) {
    KW_TRY(AppendOrgEvent(tx, clock,
                          EventSpec{std::string(org_id),
                                    "key.grant_removed",
                                    caller.account_id,
                                    std::string(account_id),
                                    caller.device_id,
                                    {{"grants", std::to_string(stripped)},
                                     {"reason", "role_changed"},
                                     {"signing_only", "true"}}}));
  }
  return stripped;
}

// A sliding window over the store's fixed-window counters: one row per
// window-sized bucket ("<key>:<bucket>"), and the previous bucket's count
// weighted by how much of it still lies within the last window_seconds
// (rounded up). Rows are swept with the other rate limits.
struct SlidingWindow {
  std::string key;
  int64_t now = 0;
  int64_t window_seconds = 0;

  std::string Bucket(int64_t offset) const {
    return key + ":" + std::to_string(now / window_seconds + offset);
  }
  // The count over the last window_seconds; writes nothing.
  Result<int64_t> Estimate(store::Tx& tx) const {
    KW_ASSIGN_OR_RETURN(int64_t current, tx.PeekRateLimit(Bucket(0), now, 2 * window_seconds));
    KW_ASSIGN_OR_RETURN(int64_t previous, tx.PeekRateLimit(Bucket(-1), now, 2 * window_seconds));
    const int64_t remaining = window_seconds - now % window_seconds;
    return current + (previous * remaining + window_seconds - 1) / window_seconds;
  }
  Status Hit(store::Tx& tx) const {
    return Discard(tx.HitRateLimit(Bucket(0), now, 2 * window_seconds));
  }
};

Error InviteRateLimited() {
  return Error::RateLimited("org.invite_rate_limited",
                            "Too many invitations sent from this organization or by you in the "
                            "last hour; try again later.");
}

// Whether the caller may invite `email` to `role` in `org_id`: a recovery
// admin, to a role not above their own, someone not already a member.
Result<OrgAccess> CheckCanInvite(store::Tx& tx, const Caller& caller, std::string_view org_id,
                                 const std::string& email, Role role) {
  KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
  if (!access.recovery_admin()) return Fail(Forbidden("Only recovery admins invite."));
  if (Rank(role) < Rank(access.role)) {
    return Fail(Forbidden("Nobody invites to a role above their own."));
  }
  KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountByEmail(email));
  if (account) {
    KW_ASSIGN_OR_RETURN(auto member, tx.FindMember(org_id, account->id));
    if (member) return Fail(AlreadyMember());
  }
  return access;
}

// The fingerprint members pin at join: that of the first statement's
// signing key (what `keyward org join --fingerprint` compares).
Result<std::string> JoinFingerprint(store::Tx& tx, const core::Org& org) {
  KW_ASSIGN_OR_RETURN(auto rows, tx.ListStatements(org.id, 0));
  if (rows.empty()) return Fail(Internal());
  auto first = protocol::DecodeOrgStatement(rows.front().statement);
  if (!first) return Fail(Internal());
  return crypto::Fingerprint(first->signing_public_key);
}

// Every invitation is an email someone else receives: counted per
// organization and per inviter, in the database so that the limits hold
// across server nodes. A refused one does not count, so that one inviter
// cannot use up the organization's share by trying. True when refused.
Result<bool> CountInvitation(store::Tx& tx, const Context& ctx, std::string_view org_id,
                             const std::string& inviter_id, int64_t now) {
  const int64_t window = std::max<int64_t>(1, ctx.config.invite_window_seconds);
  const SlidingWindow by_org{"invite:org:" + std::string(org_id), now, window};
  const SlidingWindow by_inviter{"invite:by:" + inviter_id, now, window};
  KW_ASSIGN_OR_RETURN(int64_t org_count, by_org.Estimate(tx));
  KW_ASSIGN_OR_RETURN(int64_t inviter_count, by_inviter.Estimate(tx));
  if (org_count >= ctx.config.invite_max_per_org ||
      inviter_count >= ctx.config.invite_max_per_inviter) {
    return true;
  }
  KW_TRY(by_org.Hit(tx));
  KW_TRY(by_inviter.Hit(tx));
  return false;
}

// Draws the invitation token and keeps its hash on `invite`; the token
// itself exists only in the email (InviteEmail), queued in the transaction
// that stores the invite.
store::Bytes DrawInviteToken(const Context& ctx, core::OrgInvite& invite) {
  store::Bytes token = crypto::RandomArgSafeBytes(kInviteTokenSize);
  invite.token_hash = HashInviteToken(ctx, token);
  return token;
}

struct Loaded {
  OrgAccess access;
  core::OrgMember target;
};

// The caller's access (owners and admins only) and the target member, for
// the member-management actions.
Result<Loaded> LoadForManagement(store::Tx& tx, const Caller& caller, std::string_view org_id,
                                 std::string_view member_id, MemberAction action) {
  KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
  KW_TRY(RequireManager(access));
  if (!IsValidAccountId(member_id)) return Fail(MemberNotFound());
  KW_ASSIGN_OR_RETURN(core::OrgMember target, LoadMember(tx, org_id, member_id));
  KW_ASSIGN_OR_RETURN(Target t, TargetOf(target));
  if (action != MemberAction::kChangeRole) {
    KW_TRY(CheckCanActOn(access.actor(), t, action));
  }
  return Loaded{std::move(access), std::move(target)};
}

// The invite whose token hashes to `token_hash`, not accepted, not expired
// and addressed to the caller's email, with its organization; anything else
// is invite.not_found (the same answer whatever was wrong).
struct OpenInvite {
  core::OrgInvite invite;
  core::Org org;
};

Result<OpenInvite> FindOpenInvite(store::Tx& tx, const Caller& caller,
                                  const store::Bytes& token_hash, int64_t now) {
  KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
  KW_ASSIGN_OR_RETURN(auto invite, tx.FindInviteByTokenHash(token_hash));
  if (!account || !invite || invite->accepted_at || invite->expires_at <= now ||
      invite->email != account->email) {
    return Fail(InviteNotFound());
  }
  KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(invite->org_id));
  if (!org) return Fail(InviteNotFound());
  return OpenInvite{std::move(*invite), std::move(*org)};
}

}  // namespace

store::Bytes HashInviteToken(const Context& ctx, std::span<const uint8_t> token) {
  store::Bytes message(kInviteTokenLabel.begin(), kInviteTokenLabel.end());
  message.push_back(0);
  message.insert(message.end(), token.begin(), token.end());
  return crypto::Hash(ctx.keys.token_key.span(), message);
}

Result<MemberList> MemberService::List(const Caller& caller, std::string_view org_id) {
  const int64_t now = ctx_.clock.NowUnix();
  MemberList out;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    out = {};
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    if (!access.recovery_admin()) return Fail(Forbidden("Only recovery admins list members."));
    // A constant number of queries whatever the organization's size, and
    // each member's account, escrow and grants found by hash, not by a scan.
    KW_ASSIGN_OR_RETURN(auto members, tx.ListMembers(org_id));
    KW_ASSIGN_OR_RETURN(auto accounts, tx.ListMemberAccounts(org_id));
    KW_ASSIGN_OR_RETURN(auto escrows, tx.ListEscrows(org_id));
    KW_ASSIGN_OR_RETURN(auto grants, tx.ListGrants(org_id));
    std::unordered_map<std::string_view, store::MemberAccount*> account_of;
    for (auto& a : accounts) account_of.emplace(a.account_id, &a);
    std::unordered_map<std::string_view, const core::Escrow*> escrow_of;
    for (const auto& e : escrows) escrow_of[e.account_id] = &e;  // the last, as before
    std::unordered_map<std::string_view, uint64_t> grant_version_of;
    for (const auto& g : grants) {
      uint64_t& v = grant_version_of[g.account_id];
      v = std::max(v, g.key_version);
    }
    for (auto& m : members) {
      auto account = account_of.find(m.account_id);
      if (account == account_of.end()) continue;  // deleted meanwhile
      KW_ASSIGN_OR_RETURN(Actor actor, ActorOf(m));
      MemberView view;
      view.email = std::move(account->second->email);
      view.public_key = std::move(account->second->public_key);
      view.recovery_admin =
          m.status == core::MemberStatus::kActive && IsRecoveryAdmin(actor.role, actor.permissions);
      view.enrollment.last_epoch = m.last_epoch;
      if (auto e = escrow_of.find(m.account_id); e != escrow_of.end()) {
        view.enrollment = {true, e->second->epoch, e->second->key_version, m.last_epoch};
      }
      if (auto g = grant_version_of.find(m.account_id); g != grant_version_of.end()) {
        view.grant_key_version = std::max(view.grant_key_version, g->second);
      }
      view.member = std::move(m);
      out.members.push_back(std::move(view));
    }
    KW_ASSIGN_OR_RETURN(out.invites, tx.ListOpenInvites(org_id, now));
    return {};
  }));
  return out;
}

Result<core::OrgInvite> MemberService::Invite(const Caller& caller, std::string_view org_id,
                                              const NewInvite& in) {
  KW_ASSIGN_OR_RETURN(std::string email, NormalizeEmail(in.email));
  KW_ASSIGN_OR_RETURN(RoleChoice choice, ParseRoleChoice(in.role, in.permissions));
  const int64_t now = ctx_.clock.NowUnix();

  // The same checks before the email and in the transaction that stores it.
  std::string org_name;
  std::string fingerprint;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, CheckCanInvite(tx, caller, org_id, email, choice.role));
    KW_ASSIGN_OR_RETURN(fingerprint, JoinFingerprint(tx, access.org));
    org_name = access.org.name;
    return {};
  }));

  bool limited = false;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(limited, CountInvitation(tx, ctx_, org_id, caller.account_id, now));
    return {};
  }));
  if (limited) return Fail(InviteRateLimited());

  core::OrgInvite invite;
  invite.id = crypto::RandomArgSafeId(16);
  invite.org_id = std::string(org_id);
  invite.email = email;
  invite.role = std::string(RoleName(choice.role));
  invite.permissions = PermissionsText(choice.permissions);
  invite.created_by = caller.account_id;
  invite.created_at = now;
  invite.expires_at = now + ctx_.config.invite_ttl_seconds;
  const store::Bytes token = DrawInviteToken(ctx_, invite);
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_TRY(CheckCanInvite(tx, caller, org_id, email, choice.role));
    KW_TRY(tx.InsertInvite(invite));
    KW_TRY(ctx_.mail.Enqueue(
        tx, notices::OrgInvite(invite.email, org_name, invite.role, crypto::Base64UrlEncode(token),
                               fingerprint, invite.expires_at)));
    return AppendOrgEvent(tx, ctx_.clock,
                          EventSpec{invite.org_id,
                                    "member.invited",
                                    caller.account_id,
                                    "",
                                    caller.device_id,
                                    {{"invite_id", invite.id},
                                     {"role", invite.role},
                                     {"permissions", invite.permissions},
                                     {"expires_at", std::to_string(invite.expires_at)}}});
  }));
  return invite;
}

Result<InviteInfo> MemberService::LookupInvite(const Caller& caller, std::string_view token) {
  KW_ASSIGN_OR_RETURN(store::Bytes token_bytes, DecodeToken(token));
  const store::Bytes hash = HashInviteToken(ctx_, token_bytes);
  const int64_t now = ctx_.clock.NowUnix();
  InviteInfo info;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OpenInvite open, FindOpenInvite(tx, caller, hash, now));
    KW_ASSIGN_OR_RETURN(info.statements, tx.ListStatements(open.org.id, 0));
    info.invite = std::move(open.invite);
    info.org_name = open.org.name;
    return {};
  }));
  return info;
}

Result<OrgView> MemberService::AcceptInvite(const Caller& caller, std::string_view token,
                                            const std::optional<EscrowUpload>& escrow) {
  KW_ASSIGN_OR_RETURN(store::Bytes token_bytes, DecodeToken(token));
  const store::Bytes hash = HashInviteToken(ctx_, token_bytes);
  const int64_t now = ctx_.clock.NowUnix();
  OrgView view;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OpenInvite open, FindOpenInvite(tx, caller, hash, now));
    const core::OrgInvite& invite = open.invite;
    core::Org& org = open.org;
    KW_ASSIGN_OR_RETURN(auto existing, tx.FindMember(org.id, caller.account_id));
    if (existing) return Fail(AlreadyMember());
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(org));
    if (policy.enrollment == protocol::Enrollment::kMandatory && !escrow) {
      return Fail(Error::Conflict("org.enrollment_required",
                                  "This organization requires account recovery enrollment at "
                                  "join: send an escrow with the invitation."));
    }
    core::OrgMember member;
    member.org_id = org.id;
    member.account_id = caller.account_id;
    member.role = invite.role;
    member.permissions = invite.permissions;
    member.joined_at = now;
    if (auto s = tx.InsertMember(member); !s) {
      if (store::IsCode(s.error(), "store.conflict")) return Fail(AlreadyMember());
      return s;
    }
    if (auto s = tx.MarkInviteAccepted(invite.id, now); !s) {
      // Another join with the same token won the race.
      if (store::IsCode(s.error(), "store.conflict")) return Fail(InviteNotFound());
      return s;
    }
    KW_TRY(AppendOrgEvent(tx, ctx_.clock,
                          EventSpec{org.id,
                                    "member.joined",
                                    caller.account_id,
                                    caller.account_id,
                                    caller.device_id,
                                    {{"invite_id", invite.id},
                                     {"role", member.role},
                                     {"permissions", member.permissions}}}));
    EnrollmentState enrollment;
    if (escrow) {
      // Checks the escrow, stores it and appends recovery.enrolled.
      KW_TRY(StoreEscrowInTx(tx, ctx_, org, caller.account_id, *escrow, caller.device_id));
      enrollment = EnrollmentState{true, escrow->epoch, escrow->key_version, escrow->epoch};
    }
    view = OrgView{std::move(org), std::move(member), enrollment};
    return {};
  }));
  return view;
}

Status MemberService::ChangeRole(const Caller& caller, std::string_view org_id,
                                 std::string_view member_id, std::string_view role_text,
                                 std::string_view permissions_text,
                                 const std::optional<GrantUpload>& grant) {
  KW_ASSIGN_OR_RETURN(RoleChoice choice, ParseRoleChoice(role_text, permissions_text));
  const int64_t now = ctx_.clock.NowUnix();
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(
        Loaded loaded, LoadForManagement(tx, caller, org_id, member_id, MemberAction::kChangeRole));
    const core::OrgMember& target = loaded.target;
    KW_ASSIGN_OR_RETURN(Target t, TargetOf(target));
    KW_ASSIGN_OR_RETURN(Actor before, ActorOf(target));
    KW_TRY(CheckCanAssignRole(loaded.access.actor(), t, choice.role));
    if (choice.role != Role::kOwner) KW_TRY(CheckOwnerLeaves(tx, target));
    const bool active = target.status == core::MemberStatus::kActive;
    const bool was_admin = IsRecoveryAdmin(before.role, before.permissions);
    const bool is_admin = IsRecoveryAdmin(choice.role, choice.permissions);
    if (grant) {
      if (!is_admin || !active) return Fail(NotRecoveryAdmin());
      KW_TRY(CheckGrantUpload(*grant, loaded.access.org.key_version, choice.role));
    }

    const std::string new_role(RoleName(choice.role));
    const std::string new_permissions = PermissionsText(choice.permissions);
    KW_TRY(tx.UpdateMemberRole(org_id, target.account_id, new_role, new_permissions));
    KW_TRY(AppendOrgEvent(tx, ctx_.clock,
                          EventSpec{std::string(org_id),
                                    "member.role_changed",
                                    caller.account_id,
                                    target.account_id,
                                    caller.device_id,
                                    {{"from_role", target.role},
                                     {"from_permissions", target.permissions},
                                     {"role", new_role},
                                     {"permissions", new_permissions}}}));
    if (was_admin && !is_admin) {
      KW_TRY(RemoveGrants(tx, ctx_.clock, caller, org_id, target.account_id, "role_changed"));
    } else if (is_admin && choice.role != Role::kOwner && choice.role != Role::kAdmin) {
      KW_TRY(RemoveSigningGrants(tx, ctx_.clock, caller, org_id, target.account_id));
    }
    if (grant) {
      KW_TRY(StoreGrant(tx, ctx_.clock, caller, org_id, target.account_id, *grant));
    }
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(target.account_id));
    if (account && (target.role != new_role || target.permissions != new_permissions)) {
      return ctx_.mail.Enqueue(tx, notices::OrgRoleChanged(account->email, loaded.access.org.name,
                                                           RoleName(choice.role), now));
    }
    return {};
  }));
  return {};
}

Status MemberService::Grant(const Caller& caller, std::string_view org_id,
                            std::string_view member_id, const GrantUpload& grant) {
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(Loaded loaded, LoadForManagement(tx, caller, org_id, member_id,
                                                         MemberAction::kGrantRecoveryKey));
    KW_ASSIGN_OR_RETURN(Actor target, ActorOf(loaded.target));
    if (loaded.target.status != core::MemberStatus::kActive ||
        !IsRecoveryAdmin(target.role, target.permissions)) {
      return Fail(NotRecoveryAdmin());
    }
    KW_TRY(CheckGrantUpload(grant, loaded.access.org.key_version, target.role));
    return StoreGrant(tx, ctx_.clock, caller, org_id, loaded.target.account_id, grant);
  });
}

Result<core::OrgGrant> MemberService::GetGrant(const Caller& caller, std::string_view org_id,
                                               std::optional<uint64_t> key_version) {
  core::OrgGrant out;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(OrgAccess access, LoadOrgAccess(tx, org_id, caller.account_id));
    KW_ASSIGN_OR_RETURN(auto grant, tx.FindGrant(org_id, caller.account_id,
                                                 key_version.value_or(access.org.key_version)));
    if (!grant) {
      return Fail(Error::NotFound("org.grant_not_found",
                                  "You hold no recovery key grant for this key version; ask "
                                  "another recovery admin to grant it."));
    }
    out = std::move(*grant);
    return {};
  }));
  return out;
}

Status MemberService::Revoke(const Caller& caller, std::string_view org_id,
                             std::string_view member_id) {
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(Loaded loaded,
                        LoadForManagement(tx, caller, org_id, member_id, MemberAction::kRevoke));
    if (loaded.target.status == core::MemberStatus::kRevoked) return {};  // already: nothing to log
    KW_TRY(CheckOwnerLeaves(tx, loaded.target));
    KW_TRY(tx.SetMemberStatus(org_id, loaded.target.account_id, core::MemberStatus::kRevoked));
    KW_ASSIGN_OR_RETURN(int64_t grants, tx.DeleteMemberGrants(org_id, loaded.target.account_id));
    return AppendOrgEvent(
        tx, ctx_.clock,
        EventSpec{std::string(org_id),
                  "member.revoked",
                  caller.account_id,
                  loaded.target.account_id,
                  caller.device_id,
                  {{"role", loaded.target.role}, {"grants_removed", std::to_string(grants)}}});
  });
}

Status MemberService::Restore(const Caller& caller, std::string_view org_id,
                              std::string_view member_id) {
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(Loaded loaded,
                        LoadForManagement(tx, caller, org_id, member_id, MemberAction::kRestore));
    if (loaded.target.status == core::MemberStatus::kActive) return {};
    KW_TRY(tx.SetMemberStatus(org_id, loaded.target.account_id, core::MemberStatus::kActive));
    return AppendOrgEvent(tx, ctx_.clock,
                          EventSpec{std::string(org_id),
                                    "member.restored",
                                    caller.account_id,
                                    loaded.target.account_id,
                                    caller.device_id,
                                    {{"role", loaded.target.role}}});
  });
}

Status MemberService::Remove(const Caller& caller, std::string_view org_id,
                             std::string_view member_id) {
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(Loaded loaded,
                        LoadForManagement(tx, caller, org_id, member_id, MemberAction::kRemove));
    KW_TRY(CheckOwnerLeaves(tx, loaded.target));
    KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(org_id, loaded.target.account_id));
    // The store removes the member's grants and escrow with the membership.
    KW_TRY(tx.DeleteMember(org_id, loaded.target.account_id));
    KW_TRY(AppendOrgEvent(
        tx, ctx_.clock,
        EventSpec{std::string(org_id),
                  "member.removed",
                  caller.account_id,
                  loaded.target.account_id,
                  caller.device_id,
                  {{"role", loaded.target.role}, {"escrow_removed", escrow ? "true" : "false"}}}));
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(loaded.target.account_id));
    if (!account) return {};
    return ctx_.mail.Enqueue(
        tx, notices::RemovedFromOrg(account->email, loaded.access.org.name, ctx_.clock.NowUnix()));
  }));
  return {};
}

}  // namespace keyward::core
