#include "core/restores.h"

#include <map>
#include <set>

#include "core/notices.h"
#include "core/org_access.h"
#include "core/orgs.h"
#include "core/snapshots.h"
#include "core/validation.h"

namespace keyward::core {

namespace {

Error NotReady(int64_t staged, int64_t expected) {
  return Error::Conflict(
      "restore.not_ready",
      "The member's device has sent " + std::to_string(staged) + " of the " +
          std::to_string(expected) +
          " items of this restore; approve it once they are all there (the member sends the "
          "rest by running 'keyward backup restore --cloud ID' again).");
}

Error NoOrg() {
  return Error::Conflict("org.not_member",
                         "A cloud restore is approved by an organization's recovery admins; you "
                         "are not an active member of any organization.");
}

Error RequestNotFound() {
  return Error::NotFound("recovery.not_found", "No such recovery request.");
}

Error NotPendingRestore() {
  return Error::Conflict("recovery.not_pending",
                         "The restore request is no longer pending; nothing was staged.");
}

// The organization a member's restore request goes to: the latest
// enrollment, else the first active membership (by organization id).
Result<std::optional<core::OrgMember>> RestoreOrg(store::Tx& tx, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto escrows, tx.ListEscrowsOfAccount(account_id));
  KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(account_id));
  std::optional<core::OrgMember> best;
  int64_t best_at = -1;
  for (auto& m : memberships) {
    if (m.status != core::MemberStatus::kActive) continue;
    int64_t at = -1;
    for (const auto& e : escrows) {
      if (e.org_id == m.org_id) at = e.created_at;
    }
    if (!best || at > best_at || (at == best_at && at >= 0 && m.org_id > best->org_id)) {
      best = m;
      best_at = at;
    }
  }
  return best;
}

Status StageInTx(store::Tx& tx, const core::RecoveryRequest& r,
                 const std::vector<core::StagedItem>& items, int64_t limit) {
  KW_TRY(tx.PutStagedItems(r.id, items));
  KW_ASSIGN_OR_RETURN(int64_t staged, tx.CountStagedItems(r.id));
  if (limit >= 0 && staged > limit) return Fail(InvalidField("items"));
  return {};
}

}  // namespace

Status CheckStagedItems(const Context& ctx, const std::vector<core::StagedItem>& items) {
  if (items.size() > kStageBatchMax) return Fail(InvalidField("items"));
  std::set<std::string_view> seen;
  for (const auto& item : items) {
    if (!IsValidClientId(item.item_id) || !seen.insert(item.item_id).second) {
      return Fail(InvalidField("items"));
    }
    if (item.data.empty() || item.data.size() > ctx.config.item_max_bytes) {
      return Fail(InvalidField("items"));
    }
  }
  return {};
}

Result<int64_t> RollBackInTx(store::Tx& tx, const Context& ctx, const core::RecoveryRequest& r,
                             std::string_view keep_device_id, int64_t expected_items) {
  const int64_t now = ctx.clock.NowUnix();
  KW_ASSIGN_OR_RETURN(auto staged, tx.ListStagedItems(r.id));
  if (static_cast<int64_t>(staged.size()) != expected_items) {
    return Fail(NotReady(static_cast<int64_t>(staged.size()), expected_items));
  }
  KW_ASSIGN_OR_RETURN(auto current, tx.ListItems(r.account_id));
  std::map<std::string_view, const core::Item*> by_id;
  for (const auto& item : current) by_id.emplace(item.id, &item);
  int64_t added = 0, updated = 0;
  for (const auto& s : staged) {
    auto it = by_id.find(s.item_id);
    if (it == by_id.end()) {
      KW_TRY(tx.InsertItem(core::Item{r.account_id, s.item_id, 1, s.data, now, now}));
      ++added;
      continue;
    }
    const core::Item& have = *it->second;
    by_id.erase(it);
    if (have.data == s.data) continue;
    KW_TRY(Discard(tx.UpdateItem(r.account_id, have.id, have.revision, s.data, now)));
    ++updated;
  }
  for (const auto& [id, item] : by_id) KW_TRY(tx.DeleteItem(r.account_id, id));
  const int64_t removed = static_cast<int64_t>(by_id.size());

  int64_t unpaired = 0;
  KW_ASSIGN_OR_RETURN(auto devices, tx.ListDevices(r.account_id));
  for (auto& d : devices) {
    if (d.id == keep_device_id) continue;
    KW_TRY(Discard(tx.RevokeDeviceSessions(r.account_id, d.id)));
    if (!d.active) continue;
    d.active = false;
    KW_TRY(tx.UpsertDevice(d));
    ++unpaired;
  }
  KW_TRY(Discard(tx.CloseOpenPairings(r.account_id, now)));
  KW_TRY(Discard(tx.DeleteStagedItems(r.id)));

  EventSpec event;
  event.org_id = r.org_id;
  event.type = "restore.done";
  event.actor_id = r.account_id;
  event.target_id = r.account_id;
  event.device_id = std::string(keep_device_id);
  event.details = {{"request_id", r.id},
                   {"snapshot_id", r.snapshot_id},
                   {"items", std::to_string(staged.size())},
                   {"added", std::to_string(added)},
                   {"updated", std::to_string(updated)},
                   {"removed", std::to_string(removed)},
                   {"devices_unpaired", std::to_string(unpaired)}};
  KW_TRY(AppendOrgEvent(tx, ctx.clock, std::move(event)));
  return unpaired;
}

Result<RequestView> RestoreService::Request(const Caller& caller, const RestoreAsk& ask) {
  if (!IsValidClientId(ask.snapshot_id)) return Fail(SnapshotNotFound());
  if (!ask.device_name.empty() && !IsValidLabel(ask.device_name)) {
    return Fail(InvalidField("device_name"));
  }
  if (ask.item_count < 0 || ask.item_count > kRestoreMaxItems) {
    return Fail(InvalidField("item_count"));
  }
  const int64_t now = ctx_.clock.NowUnix();
  RequestView view;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto snapshot, tx.FindSnapshot(ask.snapshot_id));
    if (!snapshot || snapshot->account_id != caller.account_id ||
        snapshot->state != core::SnapshotState::kReady) {
      return Fail(SnapshotNotFound());
    }
    KW_ASSIGN_OR_RETURN(auto membership, RestoreOrg(tx, caller.account_id));
    if (!membership) return Fail(NoOrg());
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(membership->org_id));
    KW_ASSIGN_OR_RETURN(auto account, tx.FindAccountById(caller.account_id));
    if (!org || !account) return Fail(Internal());
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(*org));
    KW_ASSIGN_OR_RETURN(auto escrow, tx.FindEscrow(org->id, caller.account_id));

    core::RecoveryRequest r;
    r.id = crypto::RandomArgSafeId(16);
    r.org_id = org->id;
    r.account_id = caller.account_id;
    r.status = RequestStatus::kPending;
    r.epoch = escrow ? escrow->epoch : 0;
    r.device_name = ask.device_name;
    r.remote_address = caller.remote_address;
    r.created_at = now;
    r.expires_at = now + policy.pending_ttl;
    r.kind = core::RequestKind::kRestore;
    r.snapshot_id = snapshot->id;
    r.device_id = caller.device_id;
    r.item_count = ask.item_count;
    KW_TRY(InsertSubmittedRequest(tx, ctx_, r, *org, policy, account->email, snapshot->created_at));
    KW_ASSIGN_OR_RETURN(view, BuildRequestView(tx, r, policy.quorum));
    return {};
  }));
  return view;
}

Status RestoreService::Stage(const Caller& caller, std::string_view request_id,
                             const std::vector<core::StagedItem>& items) {
  KW_TRY(CheckStagedItems(ctx_, items));
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto r, tx.FindRequest(request_id));
    if (!r || r->account_id != caller.account_id || r->kind != core::RequestKind::kRestore ||
        r->device_id.empty()) {
      return Fail(RequestNotFound());
    }
    if (r->status != RequestStatus::kPending || r->expires_at <= ctx_.clock.NowUnix()) {
      return Fail(NotPendingRestore());
    }
    return StageInTx(tx, *r, items, r->item_count);
  });
}

Result<std::optional<RequestView>> RestoreService::Current(const Caller& caller) {
  std::optional<RequestView> view;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto r, tx.FindOpenRequest(caller.account_id));
    if (!r) return {};
    KW_ASSIGN_OR_RETURN(auto org, tx.FindOrg(r->org_id));
    if (!org) return {};
    KW_ASSIGN_OR_RETURN(auto policy, PolicyOf(*org));
    KW_ASSIGN_OR_RETURN(auto built, BuildRequestView(tx, *r, policy.quorum));
    view = std::move(built);
    return {};
  }));
  return view;
}

Result<store::Bytes> RestoreService::SnapshotPartWithTicket(const crypto::GenericKey& ticket,
                                                            uint32_t n,
                                                            std::string_view remote_address) {
  std::optional<core::RecoveryRequest> r;
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    KW_ASSIGN_OR_RETURN(r, RestoreOfTicketInTx(tx, ctx_, ticket, remote_address, late));
    return {};
  }));
  if (late) return Fail(std::move(*late));
  return SnapshotService(ctx_).GetPartOf(r->account_id, r->snapshot_id, n);
}

Status RestoreService::StageWithTicket(const crypto::GenericKey& ticket,
                                       const std::vector<core::StagedItem>& items,
                                       std::string_view remote_address) {
  KW_TRY(CheckStagedItems(ctx_, items));
  std::optional<Error> late;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    late.reset();
    KW_ASSIGN_OR_RETURN(auto r, RestoreOfTicketInTx(tx, ctx_, ticket, remote_address, late));
    if (!r) return {};
    return StageInTx(tx, *r, items, kRestoreMaxItems);
  }));
  if (late) return Fail(std::move(*late));
  return {};
}

}  // namespace keyward::core
