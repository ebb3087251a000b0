#include "core/snapshots.h"

#include <algorithm>

#include "core/org_access.h"
#include "core/validation.h"
#include "protocol/policy.h"

namespace keyward::core {

namespace {

Error NotUploading() {
  return Error::Conflict("snapshot.not_uploading",
                         "This snapshot is already finished; start a new one.");
}

Error Incomplete() {
  return Error::Conflict("snapshot.incomplete",
                         "Parts of this snapshot are missing or their sizes do not add up; send "
                         "them again.");
}

Error InUse() {
  return Error::Conflict("snapshot.in_use",
                         "An open restore request names this snapshot; cancel it first.");
}

// The caller's snapshot `id` in `state`, else snapshot.not_found (or
// snapshot.not_uploading for a finished one while uploading is wanted).
Result<core::Snapshot> Own(store::Tx& tx, std::string_view account_id, std::string_view id,
                           core::SnapshotState state) {
  if (!IsValidClientId(id)) return Fail(SnapshotNotFound());
  KW_ASSIGN_OR_RETURN(auto s, tx.FindSnapshot(id));
  if (!s || s->account_id != account_id) return Fail(SnapshotNotFound());
  if (s->state != state) {
    if (state == core::SnapshotState::kUploading) return Fail(NotUploading());
    return Fail(SnapshotNotFound());
  }
  return std::move(*s);
}

// The snapshot an open restore request of the account names, if any.
Result<std::string> SnapshotInUse(store::Tx& tx, std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto open, tx.FindOpenRequest(account_id));
  if (!open || open->kind != core::RequestKind::kRestore) return std::string();
  return open->snapshot_id;
}

}  // namespace

Error SnapshotNotFound() { return Error::NotFound("snapshot.not_found", "No such cloud backup."); }

Result<uint32_t> SnapshotRetention(store::Tx& tx, std::string_view account_id) {
  uint32_t keep = protocol::kDefaultSnapshotKeep;
  bool any = false;
  KW_ASSIGN_OR_RETURN(auto orgs, ActiveMemberships(tx, account_id));
  for (const auto& o : orgs) {
    if (!o.policy) continue;
    keep = any ? std::min(keep, o.policy->snapshot_keep) : o.policy->snapshot_keep;
    any = true;
  }
  return keep;
}

Result<core::Snapshot> SnapshotService::Begin(const Caller& caller, std::string_view id,
                                              uint64_t size, uint32_t parts) {
  if (!IsValidClientId(id)) return Fail(InvalidField("id"));
  if (size == 0 || size > kSnapshotMaxBytes) return Fail(InvalidField("size"));
  if (parts == 0 || parts > kSnapshotMaxParts || size > uint64_t{parts} * kSnapshotPartMax ||
      parts > size) {
    return Fail(InvalidField("parts"));
  }
  core::Snapshot snapshot;
  snapshot.id = std::string(id);
  snapshot.account_id = caller.account_id;
  snapshot.size = size;
  snapshot.parts = parts;
  snapshot.created_at = ctx_.clock.NowUnix();
  auto s = ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto mine, tx.ListSnapshots(caller.account_id));
    for (const auto& other : mine) {
      if (other.state == core::SnapshotState::kUploading) KW_TRY(tx.DeleteSnapshot(other.id));
    }
    return tx.InsertSnapshot(snapshot);
  });
  if (!s && store::IsCode(s.error(), "store.conflict")) {
    return Fail(Error::Conflict("snapshot.exists", "A cloud backup with this id exists."));
  }
  KW_TRY(s);
  return snapshot;
}

Status SnapshotService::PutPart(const Caller& caller, std::string_view id, uint32_t n,
                                const store::Bytes& data) {
  if (data.empty() || data.size() > kSnapshotPartMax) return Fail(InvalidField("data"));
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto s, Own(tx, caller.account_id, id, core::SnapshotState::kUploading));
    if (n >= s.parts) return Fail(InvalidField("n"));
    return tx.PutSnapshotPart(id, n, data);
  });
}

Result<core::Snapshot> SnapshotService::Finish(const Caller& caller, std::string_view id) {
  core::Snapshot snapshot;
  KW_TRY(ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(snapshot, Own(tx, caller.account_id, id, core::SnapshotState::kUploading));
    KW_ASSIGN_OR_RETURN(auto total, tx.CountSnapshotParts(id));
    if (total.parts != static_cast<int64_t>(snapshot.parts) ||
        total.bytes != static_cast<int64_t>(snapshot.size)) {
      return Fail(Incomplete());
    }
    snapshot.state = core::SnapshotState::kReady;
    snapshot.ready_at = ctx_.clock.NowUnix();
    KW_TRY(tx.UpdateSnapshot(snapshot));

    KW_ASSIGN_OR_RETURN(uint32_t keep, SnapshotRetention(tx, caller.account_id));
    KW_ASSIGN_OR_RETURN(std::string in_use, SnapshotInUse(tx, caller.account_id));
    KW_ASSIGN_OR_RETURN(auto mine, tx.ListSnapshots(caller.account_id));
    uint32_t kept = 0;
    int64_t dropped = 0;
    for (const auto& s : mine) {  // newest first
      if (s.state != core::SnapshotState::kReady) continue;
      if (s.id == snapshot.id || s.id == in_use || kept < keep) {
        ++kept;
        continue;
      }
      KW_TRY(tx.DeleteSnapshot(s.id));
      ++dropped;
    }
    EventSpec event;
    event.type = "backup.pushed";
    event.actor_id = caller.account_id;
    event.target_id = caller.account_id;
    event.device_id = caller.device_id;
    event.details = {{"snapshot_id", snapshot.id},
                     {"size", std::to_string(snapshot.size)},
                     {"dropped", std::to_string(dropped)}};
    return AppendAccountEvent(tx, ctx_.clock, caller.account_id, std::move(event));
  }));
  return snapshot;
}

Result<std::vector<core::Snapshot>> SnapshotService::List(const Caller& caller) {
  std::vector<core::Snapshot> ready;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto mine, tx.ListSnapshots(caller.account_id));
    for (auto& s : mine) {
      if (s.state == core::SnapshotState::kReady) ready.push_back(std::move(s));
    }
    return {};
  }));
  return ready;
}

Result<core::Snapshot> SnapshotService::Get(const Caller& caller, std::string_view id) {
  core::Snapshot snapshot;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(snapshot, Own(tx, caller.account_id, id, core::SnapshotState::kReady));
    return {};
  }));
  return snapshot;
}

Result<store::Bytes> SnapshotService::GetPart(const Caller& caller, std::string_view id,
                                              uint32_t n) {
  return GetPartOf(caller.account_id, id, n);
}

Result<store::Bytes> SnapshotService::GetPartOf(std::string_view account_id, std::string_view id,
                                                uint32_t n) {
  store::Bytes data;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto s, Own(tx, account_id, id, core::SnapshotState::kReady));
    if (n >= s.parts) return Fail(InvalidField("n"));
    KW_ASSIGN_OR_RETURN(auto part, tx.FindSnapshotPart(id, n));
    if (!part) return Fail(Internal());
    data = std::move(*part);
    return {};
  }));
  return data;
}

Status SnapshotService::Delete(const Caller& caller, std::string_view id) {
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto s, Own(tx, caller.account_id, id, core::SnapshotState::kReady));
    KW_ASSIGN_OR_RETURN(std::string in_use, SnapshotInUse(tx, caller.account_id));
    if (s.id == in_use) return Fail(InUse());
    return tx.DeleteSnapshot(s.id);
  });
}

}  // namespace keyward::core
