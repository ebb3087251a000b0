#include "core/vault.h"

#include <algorithm>
#include <functional>
#include <set>

#include "core/org_access.h"
#include "core/recovery_requests.h"
#include "core/snapshots.h"
#include "core/validation.h"

namespace keyward::core {

namespace {

Error ItemNotFound() { return Error::NotFound("item.not_found", "No such item."); }

// Rate-limit windows are at most an hour; a day leaves a wide margin.
constexpr int64_t kRateLimitRetention = 24 * 3600;

}  // namespace

Status ItemService::CheckData(const store::Bytes& data) const {
  if (data.empty()) return Fail(InvalidField("data"));
  if (data.size() > ctx_.config.item_max_bytes) {
    return Fail(Error(ErrorKind::kTooLarge, "item.too_large",
                      "The item is larger than the server accepts."));
  }
  return {};
}

Result<std::vector<core::Item>> ItemService::List(const Caller& caller) {
  std::vector<core::Item> items;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(items, tx.ListItems(caller.account_id));
    return {};
  }));
  return items;
}

Result<ItemService::Listing> ItemService::ListUnlessAt(const Caller& caller,
                                                       std::optional<int64_t> known) {
  Listing out;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    out = {};
    KW_ASSIGN_OR_RETURN(out.revision, tx.VaultRevision(caller.account_id));
    if (known && (*known == out.revision || *known == kAnyRevision)) return {};
    KW_ASSIGN_OR_RETURN(out.items, tx.ListItems(caller.account_id));
    return {};
  }));
  return out;
}

Result<core::Item> ItemService::Create(const Caller& caller, std::string_view id,
                                       store::Bytes data) {
  if (!IsValidClientId(id)) return Fail(InvalidField("id"));
  KW_TRY(CheckData(data));
  const int64_t now = ctx_.clock.NowUnix();
  core::Item item{caller.account_id, std::string(id), 1, std::move(data), now, now};
  auto s = ctx_.store.Transact([&](store::Tx& tx) { return tx.InsertItem(item); });
  if (!s) {
    if (s.error().code() == "store.conflict") {
      return Fail(Error::Conflict("item.exists", "An item with this id exists."));
    }
    return Fail(s.error());
  }
  return item;
}

Result<core::Item> ItemService::Get(const Caller& caller, std::string_view id) {
  if (!IsValidClientId(id)) return Fail(ItemNotFound());
  std::optional<core::Item> item;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(item, tx.FindItem(caller.account_id, id));
    return {};
  }));
  if (!item) return Fail(ItemNotFound());
  return std::move(*item);
}

Result<core::Item> ItemService::Update(const Caller& caller, std::string_view id,
                                       int64_t expected_revision, store::Bytes data) {
  if (!IsValidClientId(id)) return Fail(ItemNotFound());
  KW_TRY(CheckData(data));
  core::Item updated;
  auto s = ctx_.store.Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(updated, tx.UpdateItem(caller.account_id, id, expected_revision, data,
                                               ctx_.clock.NowUnix()));
    return {};
  });
  if (!s) {
    if (s.error().code() == "store.stale") {
      return Fail(
          Error::Conflict("item.stale_revision", "The item was changed elsewhere; reload it."));
    }
    if (s.error().code() == "store.not_found") return Fail(ItemNotFound());
    return Fail(s.error());
  }
  return updated;
}

Status ItemService::Delete(const Caller& caller, std::string_view id) {
  if (!IsValidClientId(id)) return Fail(ItemNotFound());
  auto s = ctx_.store.Transact([&](store::Tx& tx) { return tx.DeleteItem(caller.account_id, id); });
  if (!s && s.error().code() == "store.not_found") return Fail(ItemNotFound());
  return s;
}

Status ItemService::Apply(const Caller& caller, const ItemBatch& batch) {
  const size_t total = batch.add.size() + batch.update.size() + batch.remove.size();
  if (total > kItemBatchMax) return Fail(InvalidField("batch"));
  std::set<std::string_view> named;
  auto check_id = [&](std::string_view id) -> Status {
    if (!IsValidClientId(id) || !named.insert(id).second) return Fail(InvalidField("id"));
    return {};
  };
  for (const auto& a : batch.add) {
    KW_TRY(check_id(a.id));
    KW_TRY(CheckData(a.data));
  }
  for (const auto& u : batch.update) {
    KW_TRY(check_id(u.id));
    KW_TRY(CheckData(u.data));
  }
  for (const auto& id : batch.remove) KW_TRY(check_id(id));
  const int64_t now = ctx_.clock.NowUnix();
  std::optional<Error> refused;
  auto s = ctx_.store.Transact([&](store::Tx& tx) -> Status {
    refused.reset();
    // A refusal rolls the transaction back: nothing of the batch stays.
    auto refuse = [&](Error e) -> Status {
      refused = e;
      return Fail(std::move(e));
    };
    for (const auto& a : batch.add) {
      auto st = tx.InsertItem({caller.account_id, a.id, 1, a.data, now, now});
      if (!st && st.error().code() == "store.conflict") {
        return refuse(Error::Conflict("item.exists", "An item with this id exists."));
      }
      KW_TRY(std::move(st));
    }
    for (const auto& u : batch.update) {
      auto r = tx.UpdateItem(caller.account_id, u.id, u.revision, u.data, now);
      if (!r && r.error().code() == "store.stale") {
        return refuse(
            Error::Conflict("item.stale_revision", "An item was changed elsewhere; reload it."));
      }
      if (!r && r.error().code() == "store.not_found") return refuse(ItemNotFound());
      KW_TRY(std::move(r));
    }
    for (const auto& id : batch.remove) {
      auto st = tx.DeleteItem(caller.account_id, id);
      if (!st && st.error().code() == "store.not_found") return refuse(ItemNotFound());
      KW_TRY(std::move(st));
    }
    return {};
  });
  if (refused) return Fail(std::move(*refused));
  return s;
}

namespace {

// An account event about one of the caller's devices (device.removed,
// device.trusted, device.untrusted), in every organization of the account.
Status LogDeviceEvent(const Context& ctx, store::Tx& tx, const Caller& caller,
                      std::string_view type, std::string_view device_id) {
  return AppendAccountEvent(tx, ctx.clock, caller.account_id,
                            EventSpec{"",
                                      std::string(type),
                                      caller.account_id,
                                      caller.account_id,
                                      caller.device_id,
                                      {{"device_id", std::string(device_id)}}});
}

// `change` on the caller's device `device_id`, in one transaction;
// device.not_found (and nothing done) for a device the account never had.
Status OnOwnDevice(const Context& ctx, const Caller& caller, std::string_view device_id,
                   const std::function<Status(store::Tx&, core::Device&)>& change) {
  bool found = false;
  KW_TRY(ctx.store.Transact([&](store::Tx& tx) -> Status {
    found = false;
    if (!IsValidClientId(device_id)) return {};
    KW_ASSIGN_OR_RETURN(auto device, tx.FindDevice(caller.account_id, device_id));
    if (!device) return {};
    found = true;
    return change(tx, *device);
  }));
  if (!found) return Fail(Error::NotFound("device.not_found", "No such device."));
  return {};
}

}  // namespace

Result<std::vector<core::Device>> DeviceService::List(const Caller& caller) {
  std::vector<core::Device> devices;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(devices, tx.ListDevices(caller.account_id));
    return {};
  }));
  return devices;
}

Status DeviceService::Deactivate(const Caller& caller, std::string_view device_id) {
  return OnOwnDevice(ctx_, caller, device_id, [&](store::Tx& tx, core::Device& device) -> Status {
    device.active = false;
    KW_TRY(tx.UpsertDevice(device));
    KW_TRY(tx.RevokeDeviceSessions(caller.account_id, device_id));
    // A removed device is no longer trusted: its wrapped vault key goes.
    KW_TRY(Discard(tx.DeleteTrustedDevice(caller.account_id, device_id)));
    return LogDeviceEvent(ctx_, tx, caller, "device.removed", device_id);
  });
}

Status DeviceService::Trust(const Caller& caller, const store::Bytes& sign_public_key,
                            const store::Bytes& wrapped_vault_key) {
  const int64_t now = ctx_.clock.NowUnix();
  return ctx_.store.Transact([&](store::Tx& tx) -> Status {
    // Only where a provider can sign the member in: a trusted device logs
    // in with a single sign-on ticket and nothing else.
    KW_ASSIGN_OR_RETURN(auto memberships, tx.ListOrgsOfAccount(caller.account_id));
    const bool sso = std::any_of(memberships.begin(), memberships.end(), [&](const auto& m) {
      return m.status == MemberStatus::kActive && ctx_.config.sso.contains(m.org_id);
    });
    if (!sso) {
      return Fail(Error::PermissionDenied(
          "device.sso_not_available",
          "Trusted devices are for members of an organization with single sign-on on this "
          "server."));
    }
    KW_TRY(tx.UpsertTrustedDevice(
        {caller.account_id, caller.device_id, sign_public_key, wrapped_vault_key, now}));
    return LogDeviceEvent(ctx_, tx, caller, "device.trusted", caller.device_id);
  });
}

Status DeviceService::Untrust(const Caller& caller, std::string_view device_id) {
  return OnOwnDevice(ctx_, caller, device_id, [&](store::Tx& tx, core::Device&) -> Status {
    KW_ASSIGN_OR_RETURN(bool dropped, tx.DeleteTrustedDevice(caller.account_id, device_id));
    if (!dropped) return {};
    return LogDeviceEvent(ctx_, tx, caller, "device.untrusted", device_id);
  });
}

Result<std::vector<std::string>> DeviceService::TrustedIds(const Caller& caller) {
  std::vector<std::string> out;
  KW_TRY(ctx_.store.Read([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto trusted, tx.ListTrustedDevices(caller.account_id));
    out.clear();
    for (const auto& t : trusted) out.push_back(t.device_id);
    return {};
  }));
  return out;
}

Status DropTrustedDevices(store::Tx& tx, std::string_view account_id,
                          std::string_view keep_device_id) {
  KW_ASSIGN_OR_RETURN(auto trusted, tx.ListTrustedDevices(account_id));
  for (const auto& t : trusted) {
    if (!keep_device_id.empty() && t.device_id == keep_device_id) continue;
    KW_TRY(Discard(tx.DeleteTrustedDevice(account_id, t.device_id)));
  }
  return {};
}

Status Sweep(const Context& ctx) {
  // Every node runs the sweeper; one at a time does the work (PostgreSQL:
  // an advisory lock), so an overdue request is expired and its member
  // emailed once.
  return Discard(ctx.store.RunExclusive("sweep", [&]() -> Status {
    const int64_t now = ctx.clock.NowUnix();
    KW_TRY(ctx.store.Transact([&](store::Tx& tx) -> Status {
      KW_TRY(tx.DeleteDeadSessions(now));
      KW_TRY(tx.DeleteExpiredEmailCodes(now));
      // Kept a day past expiry, so a late poll reads "expired", not "no such pairing".
      KW_TRY(tx.DeleteExpiredPairings(now - 86400));
      KW_TRY(tx.DeleteStaleSnapshots(now - kSnapshotUploadTtl));
      // Single sign-on: sign-ins the provider never answered, unused tickets.
      KW_TRY(tx.DeleteExpiredSsoLogins(now, 1000));
      return Discard(tx.DeleteRateLimitsBefore(now - kRateLimitRetention));
    }));
    return Discard(SweepRecoveryRequests(ctx));
  }));
}

}  // namespace keyward::core
