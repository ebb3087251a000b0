// The owner's encrypted items (opaque to the server) and devices.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/context.h"

namespace keyward::core {

// Several item changes applied together (a backup restore): all of them
// or none.
struct ItemBatch {
  struct Add {
    std::string id;
    store::Bytes data;
  };
  struct Update {
    std::string id;
    int64_t revision = 0;  // the one the client last saw
    store::Bytes data;
  };
  std::vector<Add> add;
  std::vector<Update> update;
  std::vector<std::string> remove;
};
inline constexpr size_t kItemBatchMax = 5000;  // changes per batch

class ItemService {
 public:
  explicit ItemService(const Context& ctx) : ctx_(ctx) {}

  [[nodiscard]] Result<std::vector<core::Item>> List(const Caller& caller);
  // The vault as of one revision (store::Tx::VaultRevision), read in one
  // transaction; `items` is left out (nullopt) when the revision is still
  // `known`, or `known` is kAnyRevision: the client's copy is current (GET
  // /v1/items answers 304), and the items are not read.
  static constexpr int64_t kAnyRevision = -1;  // revisions are >= 0
  struct Listing {
    int64_t revision = 0;
    std::optional<std::vector<core::Item>> items;
  };
  [[nodiscard]] Result<Listing> ListUnlessAt(const Caller& caller, std::optional<int64_t> known);
  // Revision 1. item.exists (409).
  [[nodiscard]] Result<core::Item> Create(const Caller& caller, std::string_view id,
                                          store::Bytes data);
  // item.not_found (404).
  [[nodiscard]] Result<core::Item> Get(const Caller& caller, std::string_view id);
  // expected_revision is the one the client last saw: item.stale_revision
  // (409) when it changed since, item.not_found when it is gone.
  [[nodiscard]] Result<core::Item> Update(const Caller& caller, std::string_view id,
                                          int64_t expected_revision, store::Bytes data);
  [[nodiscard]] Status Delete(const Caller& caller, std::string_view id);
  // Every change of `batch` in one transaction: the first that fails
  // (item.exists, item.stale_revision, item.not_found, a bad id or size)
  // fails the whole batch and nothing is changed. request.invalid_field
  // past kItemBatchMax changes or for an id named twice.
  [[nodiscard]] Status Apply(const Caller& caller, const ItemBatch& batch);

 private:
  [[nodiscard]] Status CheckData(const store::Bytes& data) const;
  const Context& ctx_;
};

class DeviceService {
 public:
  explicit DeviceService(const Context& ctx) : ctx_(ctx) {}

  [[nodiscard]] Result<std::vector<core::Device>> List(const Caller& caller);
  // Marks the device inactive and ends its sessions at once.
  // device.not_found (404).
  [[nodiscard]] Status Deactivate(const Caller& caller, std::string_view device_id);

  // Trusted devices (protocol/trusted_device.h, docs/sso.md): the calling
  // device registers its signing key and the vault key it wrapped, replacing
  // any earlier ones; logged as device.trusted. Only a member of an
  // organization with single sign-on (a trusted device logs in through it):
  // device.sso_not_available otherwise.
  [[nodiscard]] Status Trust(const Caller& caller, const store::Bytes& sign_public_key,
                             const store::Bytes& wrapped_vault_key);
  // Drops the device's wrapped key (any device of the caller's; nothing to
  // drop is not an error); logged as device.untrusted when there was one.
  // device.not_found for a device the account never had.
  [[nodiscard]] Status Untrust(const Caller& caller, std::string_view device_id);
  // The ids of the account's trusted devices.
  [[nodiscard]] Result<std::vector<std::string>> TrustedIds(const Caller& caller);

 private:
  const Context& ctx_;
};

// Drops every trusted device of the account (their wrapped vault keys), in
// the caller's transaction: a recovery, an admin reset or starting over
// means the member lost their way in — a lost device must not keep one. A
// password change keeps the device it is made on (`keep_device_id`), as it
// keeps that device's session, and drops the others.
[[nodiscard]] Status DropTrustedDevices(store::Tx& tx, std::string_view account_id,
                                        std::string_view keep_device_id = {});

// Housekeeping: deletes expired and revoked sessions, expired codes, and
// rate-limit windows older than a day; expires overdue recovery requests
// (SweepRecoveryRequests).
[[nodiscard]] Status Sweep(const Context& ctx);

}  // namespace keyward::core
