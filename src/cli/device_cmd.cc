// keyward device list | remove
#include <algorithm>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

Status List(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto devices, c.ListDevices());
  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& d : devices) {
      client::Json j = client::Json::object();
      j["id"] = client::Str(d.id);
      j["name"] = client::Str(d.name);
      j["type"] = client::Str(d.type);
      j["first_seen"] = client::Str(d.first_seen);
      j["last_seen"] = client::Str(d.last_seen);
      j["active"] = d.active;
      j["current"] = d.current;
      arr.push_back(std::move(j));
    }
    client::Json j = client::Json::object();
    j["devices"] = std::move(arr);
    ctx.OutJson(j);
    return {};
  }
  size_t w_id = 2, w_name = 4;
  for (const auto& d : devices) {
    w_id = std::max(w_id, d.id.size());
    w_name = std::max(w_name, d.name.size());
  }
  ctx.Out(fmt::format("  {:<{}}  {:<{}}  {:<7}  {:<8}  {}", "ID", w_id, "NAME", w_name, "TYPE",
                      "STATE", "LAST SEEN"));
  for (const auto& d : devices) {
    ctx.Out(fmt::format("{} {:<{}}  {:<{}}  {:<7}  {:<8}  {}", d.current ? '*' : ' ', d.id, w_id,
                        d.name, w_name, d.type, d.active ? "active" : "removed", d.last_seen));
  }
  return {};
}

Status Remove(Context& ctx, const std::string& id) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_TRY(c.RemoveDevice(id));
  if (id == profile.device_id) {
    // This device's own session has just ended.
    profile.token.clear();
    profile.protected_vault_key.clear();
    KW_TRY(ctx.SaveProfile(profile));
  }
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("removed");
    j["id"] = client::Str(id);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Removed device {}; its sessions have ended.", id));
  }
  return {};
}

}  // namespace

void AddDeviceCommands(CLI::App& app, Action* action) {
  auto* device = app.add_subcommand("device", "Devices signed in to the account");
  device->require_subcommand(1);
  device->add_subcommand("list", "List devices (* marks this one)")->callback([=] {
    *action = List;
  });
  auto id = std::make_shared<std::string>();
  auto* remove = device->add_subcommand("remove", "Remove a device and end its sessions");
  remove->add_option("ID", *id, "Device id")->required();
  remove->callback([=] { *action = [=](Context& c) { return Remove(c, *id); }; });
}

}  // namespace keyward::cli
