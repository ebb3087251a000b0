// keyward item add | list | get | edit | rm
#include <algorithm>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "common/try.h"

namespace keyward::cli {
namespace {

struct ItemArgs {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> username;
  std::optional<std::string> url;
  std::optional<std::string> notes;
  bool generate = false;
  bool prompt_password = false;  // edit: --new-password
  int length = client::kDefaultPasswordLength;
  std::optional<int64_t> revision;
  std::string field;
};

client::Json ItemJson(const client::Item& item, bool with_secrets) {
  client::Json j = client::Json::object();
  j["id"] = client::Str(item.id);
  j["revision"] = item.revision;
  j["name"] = client::Str(item.fields.name);
  j["username"] = client::Str(item.fields.username);
  j["url"] = client::Str(item.fields.url);
  if (with_secrets) {
    j["password"] = client::Json(client::ToSecretString(item.fields.password));
    j["notes"] = client::Json(client::ToSecretString(item.fields.notes));
  }
  j["created_at"] = client::Str(item.created_at);
  j["updated_at"] = client::Str(item.updated_at);
  return j;
}

// The password for add/edit: generated, or asked for (twice on a terminal is
// overkill for an item; once, hidden).
Result<crypto::SecureBytes> NewItemPassword(Context& ctx, const ItemArgs& a) {
  if (a.generate) return client::GeneratePassword(a.length);
  return ctx.prompt().Password("Item password: ");
}

struct Session {
  client::Profile profile;
  client::Client client;
  crypto::VaultKey uk;
};

Result<Session> Open(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_ASSIGN_OR_RETURN(auto uk, ctx.VaultKey(c, profile));
  return Session{std::move(profile), std::move(c), std::move(uk)};
}

Status Add(Context& ctx, const ItemArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, Open(ctx));
  client::ItemFields f;
  f.name = a.name.value_or("");
  f.username = a.username.value_or("");
  f.url = a.url.value_or("");
  f.notes = crypto::SecureBytes::Copy(a.notes.value_or(""));
  KW_ASSIGN_OR_RETURN(auto pw, NewItemPassword(ctx, a));
  f.password = std::move(pw);
  KW_ASSIGN_OR_RETURN(auto item, s.client.AddItem(s.uk, s.profile.account_id, f));
  if (ctx.json()) {
    ctx.OutJson(ItemJson(item, false));
  } else {
    ctx.Out(fmt::format("Added item {} ({}).", item.id, item.fields.name));
  }
  return {};
}

Status List(Context& ctx) {
  KW_ASSIGN_OR_RETURN(auto s, Open(ctx));
  KW_ASSIGN_OR_RETURN(auto items, s.client.ListItems(s.uk, s.profile.account_id));
  if (ctx.json()) {
    client::Json arr = client::Json::array();
    for (const auto& it : items) arr.push_back(ItemJson(it, false));
    client::Json j = client::Json::object();
    j["items"] = std::move(arr);
    ctx.OutJson(j);
    return {};
  }
  if (items.empty()) {
    ctx.Out("No items.");
    return {};
  }
  size_t w_id = 2, w_name = 4, w_user = 8;
  for (const auto& it : items) {
    w_id = std::max(w_id, it.id.size());
    w_name = std::max(w_name, it.fields.name.size());
    w_user = std::max(w_user, it.fields.username.size());
  }
  ctx.Out(fmt::format("{:<{}}  {:<{}}  {:<{}}  {}", "ID", w_id, "NAME", w_name, "USERNAME", w_user,
                      "URL"));
  for (const auto& it : items) {
    ctx.Out(fmt::format("{:<{}}  {:<{}}  {:<{}}  {}", it.id, w_id, it.fields.name, w_name,
                        it.fields.username, w_user, it.fields.url));
  }
  return {};
}

Status Get(Context& ctx, const ItemArgs& a) {
  static const std::vector<std::string> kFields = {"name",  "username", "password", "url",
                                                   "notes", "id",       "revision"};
  if (!a.field.empty() && std::find(kFields.begin(), kFields.end(), a.field) == kFields.end()) {
    return Fail(Error::InvalidArgument(
        "cli.usage", fmt::format("--field must be one of name, username, password, url, notes, "
                                 "id, revision (not '{}')",
                                 a.field)));
  }
  KW_ASSIGN_OR_RETURN(auto s, Open(ctx));
  KW_ASSIGN_OR_RETURN(auto item, s.client.GetItem(s.uk, s.profile.account_id, a.id));
  const auto& f = item.fields;
  if (!a.field.empty()) {
    if (ctx.json()) {
      client::Json full = ItemJson(item, true);
      client::Json j = client::Json::object();
      j[client::ToSecretString(a.field)] = full[client::ToSecretString(a.field)];
      ctx.OutJson(j);
    } else if (a.field == "password") {
      ctx.OutSecret(f.password);
    } else if (a.field == "notes") {
      ctx.OutSecret(f.notes);
    } else if (a.field == "revision") {
      ctx.Out(std::to_string(item.revision));
    } else {
      ctx.Out(a.field == "name"       ? f.name
              : a.field == "username" ? f.username
              : a.field == "url"      ? f.url
                                      : item.id);
    }
    return {};
  }
  if (ctx.json()) {
    ctx.OutJson(ItemJson(item, true));
    return {};
  }
  ctx.Out(fmt::format("id:       {}", item.id));
  ctx.Out(fmt::format("name:     {}", f.name));
  ctx.Out(fmt::format("username: {}", f.username));
  client::SecretString line = client::ToSecretString("password: ");
  line.append(f.password.view().data(), f.password.size());
  ctx.OutSecret(client::ToSecureBytes(line));
  ctx.Out(fmt::format("url:      {}", f.url));
  client::SecretString notes = client::ToSecretString("notes:    ");
  notes.append(f.notes.view().data(), f.notes.size());
  ctx.OutSecret(client::ToSecureBytes(notes));
  ctx.Out(fmt::format("revision: {}", item.revision));
  ctx.Out(fmt::format("updated:  {}", item.updated_at));
  return {};
}

Status Edit(Context& ctx, const ItemArgs& a) {
  KW_ASSIGN_OR_RETURN(auto s, Open(ctx));
  KW_ASSIGN_OR_RETURN(auto item, s.client.GetItem(s.uk, s.profile.account_id, a.id));
  client::ItemFields f = item.fields.Clone();
  if (a.name) f.name = *a.name;
  if (a.username) f.username = *a.username;
  if (a.url) f.url = *a.url;
  if (a.notes) f.notes = crypto::SecureBytes::Copy(*a.notes);
  if (a.generate || a.prompt_password) {
    KW_ASSIGN_OR_RETURN(auto pw, NewItemPassword(ctx, a));
    f.password = std::move(pw);
  }
  KW_ASSIGN_OR_RETURN(auto updated, s.client.UpdateItem(s.uk, s.profile.account_id, a.id,
                                                        a.revision.value_or(item.revision), f));
  if (ctx.json()) {
    ctx.OutJson(ItemJson(updated, false));
  } else {
    ctx.Out(fmt::format("Updated item {} (revision {}).", updated.id, updated.revision));
  }
  return {};
}

Status Remove(Context& ctx, const ItemArgs& a) {
  KW_ASSIGN_OR_RETURN(auto profile, ctx.RequireLogin());
  client::Client c = ctx.MakeClient(profile);
  KW_TRY(c.DeleteItem(a.id));
  if (ctx.json()) {
    client::Json j = client::Json::object();
    j["status"] = client::Str("deleted");
    j["id"] = client::Str(a.id);
    ctx.OutJson(j);
  } else {
    ctx.Out(fmt::format("Deleted item {}.", a.id));
  }
  return {};
}

void AddFieldOptions(CLI::App* cmd, ItemArgs& a) {
  cmd->add_option("--username", a.username, "User name");
  cmd->add_option("--url", a.url, "URL");
  cmd->add_option("--notes", a.notes, "Notes (visible in the process list: avoid secrets)");
  auto* gen = cmd->add_flag("--generate", a.generate, "Generate a random password");
  cmd->add_option("--length", a.length, "Length of the generated password (default 24)")
      ->check(CLI::Range(client::kMinPasswordLength, client::kMaxPasswordLength))
      ->needs(gen);
}

}  // namespace

void AddItemCommands(CLI::App& app, Action* action) {
  auto* item = app.add_subcommand("item", "Vault items");
  item->require_subcommand(1);

  auto add_args = std::make_shared<ItemArgs>();
  auto* add =
      item->add_subcommand("add", "Add an item (the password is asked for, unless --generate)");
  add->add_option("--name", add_args->name, "Item name")->required();
  AddFieldOptions(add, *add_args);
  add->callback([=] { *action = [=](Context& c) { return Add(c, *add_args); }; });

  item->add_subcommand("list", "List items (no passwords)")->callback([=] { *action = List; });

  auto get_args = std::make_shared<ItemArgs>();
  auto* get = item->add_subcommand("get", "Show one item, or one field of it");
  get->add_option("ID", get_args->id, "Item id")->required();
  get->add_option("--field", get_args->field,
                  "Print only this field: name, username, password, url, notes, id, revision");
  get->callback([=] { *action = [=](Context& c) { return Get(c, *get_args); }; });

  auto edit_args = std::make_shared<ItemArgs>();
  auto* edit = item->add_subcommand("edit", "Change fields of an item");
  edit->add_option("ID", edit_args->id, "Item id")->required();
  edit->add_option("--name", edit_args->name, "New name");
  AddFieldOptions(edit, *edit_args);
  edit->add_flag("--new-password", edit_args->prompt_password,
                 "Ask for a new password (at a prompt, never on argv)");
  edit->add_option("--revision", edit_args->revision,
                   "The revision you last saw (the edit fails if the item changed since)");
  edit->callback([=] { *action = [=](Context& c) { return Edit(c, *edit_args); }; });

  auto rm_args = std::make_shared<ItemArgs>();
  auto* rm = item->add_subcommand("rm", "Delete an item");
  rm->add_option("ID", rm_args->id, "Item id")->required();
  rm->callback([=] { *action = [=](Context& c) { return Remove(c, *rm_args); }; });
}

}  // namespace keyward::cli
