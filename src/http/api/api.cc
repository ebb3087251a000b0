// The /v1 routes of docs/api.md: decode strictly, call core, encode.
#include "http/api/api.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <spdlog/spdlog.h>

#include "core/server_identity.h"
#include "core/services.h"
#include "core/validation.h"
#include "http/api/json_fields.h"
#include "http/api/route_support.h"
#include "store/store.h"

namespace keyward::api {

namespace {

using http::PathParams;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr size_t kKeyBlobMax = 4096;
constexpr size_t kWrappedMin = 1;
constexpr size_t kMaxPasswordEscrows = 1000;  // organizations one account is enrolled in

// The new-password fields of POST /v1/account/password[/forgotten], into
// a core::PasswordChange or core::ForgottenPasswordChange.
template <class Change>
Status ReadNewPassword(const Fields& f, Change& change) {
  KW_ASSIGN_OR_RETURN(change.new_kdf, f.Kdf("new_kdf"));
  KW_ASSIGN_OR_RETURN(change.new_salt, f.Binary("new_salt", crypto::kSaltSize, crypto::kSaltSize));
  KW_ASSIGN_OR_RETURN(change.new_auth_key, f.AuthKey("new_auth_key"));
  KW_ASSIGN_OR_RETURN(change.new_wrapped_vault_key,
                      f.Binary("new_wrapped_vault_key", kWrappedMin, kKeyBlobMax));
  if (f.Has("escrows")) {
    KW_ASSIGN_OR_RETURN(change.escrows, OrgEscrowUploads(f, "escrows", kMaxPasswordEscrows));
  }
  return {};
}

json ItemJson(const core::Item& i) {
  return {{"id", i.id},
          {"revision", i.revision},
          {"data", crypto::Base64UrlEncode(i.data)},
          {"created_at", FormatRfc3339(i.created_at)},
          {"updated_at", FormatRfc3339(i.updated_at)}};
}

// The listing is a vault sync's hot path, so it is written directly rather
// than through a json tree: ids are 1-64 of [A-Za-z0-9_-] (core checks them
// on the way in), data is base64url and times are RFC 3339, so nothing needs
// escaping. api_test checks it parses to the same objects as ItemJson.
std::string ItemListBody(const std::vector<core::Item>& items) {
  size_t size = 16;
  for (const auto& i : items) size += i.id.size() + i.data.size() * 4 / 3 + 128;
  std::string out;
  out.reserve(size);
  out += R"({"items":[)";
  for (size_t k = 0; k < items.size(); ++k) {
    const core::Item& i = items[k];
    if (k > 0) out += ',';
    out += R"({"id":")";
    out += i.id;
    out += R"(","revision":)";
    out += std::to_string(i.revision);
    out += R"(,"data":")";
    crypto::AppendBase64UrlPublic(out, i.data);
    out += R"(","created_at":")";
    out += FormatRfc3339(i.created_at);
    out += R"(","updated_at":")";
    out += FormatRfc3339(i.updated_at);
    out += R"("})";
  }
  out += "]}";
  return out;
}

// The vault revision an If-None-Match header says the client holds: the
// revision of its tag that starts with `prefix` ("\"<account id>."), in a
// list, weak (W/) or not; core::ItemService::kAnyRevision for "*" (RFC 9110:
// any current representation matches); nullopt for none.
std::optional<int64_t> KnownVaultRevision(std::string_view tags, std::string_view prefix) {
  std::optional<int64_t> known;
  while (!tags.empty()) {
    const size_t comma = std::min(tags.find(','), tags.size());
    std::string_view tag = tags.substr(0, comma);
    tags.remove_prefix(std::min(comma + 1, tags.size()));
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*") return core::ItemService::kAnyRevision;
    if (!tag.starts_with(prefix) || tag.size() < prefix.size() + 2 || tag.back() != '"') continue;
    int64_t revision = 0;
    const char* first = tag.data() + prefix.size();
    const char* last = tag.data() + tag.size() - 1;
    auto [ptr, ec] = std::from_chars(first, last, revision);
    if (ec == std::errc() && ptr == last && revision >= 0) known = revision;
  }
  return known;
}

json DeviceJson(const core::Device& d, std::string_view current) {
  return {{"id", d.id},
          {"name", d.name},
          {"type", d.type},
          {"first_seen", FormatRfc3339(d.first_seen)},
          {"last_seen", FormatRfc3339(d.last_seen)},
          {"active", d.active},
          {"current", d.id == current}};
}

class ApiImpl final : public Api {
 public:
  ApiImpl(const ApiConfig& config, std::unique_ptr<store::Store> store, mail::Mailer& mailer,
          const Clock& clock, const crypto::ServerSecret& secret)
      : config_(config),
        store_(std::move(store)),
        core_(*store_, mailer, clock, secret, CoreConfigFrom(config)) {
    if (config_.recovery_key) {
      recovery_public_key_ = crypto::Base64UrlEncode(config_.recovery_key->public_key);
      recovery_fingerprint_ = crypto::Fingerprint(config_.recovery_key->public_key);
    }
    if (config_.mail_in_background) core_.mail().StartWorker();
  }

  void RegisterRoutes(http::Router& router) override {
    RouteAdder route(router, this);
    route("GET", "/v1/server", &ApiImpl::ServerInfo);
    route("POST", "/v1/accounts/prelogin", &ApiImpl::Prelogin);
    route("POST", "/v1/accounts", &ApiImpl::Register);
    route("POST", "/v1/accounts/verify", &ApiImpl::Verify);
    route("POST", "/v1/accounts/verify/resend", &ApiImpl::Resend);
    route("POST", "/v1/sessions", &ApiImpl::Login);
    route("DELETE", "/v1/sessions/current", &ApiImpl::Logout);
    route("POST", "/v1/sso/start", &ApiImpl::SsoStart);
    route("POST", "/v1/sso/finish", &ApiImpl::SsoFinish);
    route("GET", "/v1/account", &ApiImpl::GetAccount);
    route("POST", "/v1/account/password", &ApiImpl::ChangePassword);
    route("POST", "/v1/account/password/forgotten", &ApiImpl::ChangeForgottenPassword);
    route("DELETE", "/v1/account", &ApiImpl::DeleteAccount);
    route("POST", "/v1/account/restart/code", &ApiImpl::RestartCode);
    route("POST", "/v1/account/restart/verify", &ApiImpl::RestartVerify);
    route("POST", "/v1/account/restart", &ApiImpl::Restart);
    route("POST", "/v1/account/2fa/totp", &ApiImpl::TotpBegin);
    route("POST", "/v1/account/2fa/totp/confirm", &ApiImpl::TotpConfirm);
    route("DELETE", "/v1/account/2fa/totp", &ApiImpl::TotpDisable);
    route("GET", "/v1/items", &ApiImpl::ListItems);
    route("POST", "/v1/items", &ApiImpl::CreateItem);
    route("POST", "/v1/items/batch", &ApiImpl::ApplyItemBatch);
    route("GET", "/v1/items/{id}", &ApiImpl::GetItem);
    route("PUT", "/v1/items/{id}", &ApiImpl::UpdateItem);
    route("DELETE", "/v1/items/{id}", &ApiImpl::DeleteItem);
    route("GET", "/v1/devices", &ApiImpl::ListDevices);
    route("DELETE", "/v1/devices/{id}", &ApiImpl::DeactivateDevice);
    route("PUT", "/v1/devices/{id}/trust", &ApiImpl::TrustDevice);
    route("DELETE", "/v1/devices/{id}/trust", &ApiImpl::UntrustDevice);
    AddOrgRoutes(router, RouteContext{config_, core_});
    AddRecoveryRoutes(router, RouteContext{config_, core_});
    AddRequestRoutes(router, RouteContext{config_, core_});
    AddPairingRoutes(router, RouteContext{config_, core_});
    AddSnapshotRoutes(router, RouteContext{config_, core_});
    AddWebRoutes(router);
  }

  // Before any request: a node whose key files are not the database's would
  // reject every login and seal server shares to a foreign key.
  Status BindServerKeys() { return core::BindServerKeys(core_.context()); }

  void Sweep() override {
    if (auto s = core::Sweep(core_.context()); !s) {
      spdlog::warn("api: sweep failed ({})", s.error().code());
    }
  }

 private:
  static core::CoreConfig CoreConfigFrom(const ApiConfig& config) {
    core::CoreConfig c;
    c.public_url = config.public_url;
    c.kdf_minimum = config.kdf_minimum;
    c.kdf_default = config.kdf_default;
    c.session_ttl_seconds = config.session_ttl_seconds;
    c.pairing_ttl_seconds = config.pairing_ttl_seconds;
    c.recovery_key = config.recovery_key;
    c.org_creation_operator_only = config.org_creation_operator_only;
    c.org_creators = config.org_creators;
    c.sso = config.sso;
    c.mail_retry_after_seconds = config.mail_retry_after_seconds;
    return c;
  }

  Result<core::Caller> Authenticate(const Request& request, Access access = Access::kNormal) {
    return api::Authenticate(core_, request, access);
  }

  // ---- server ----
  // The mail queue's depth and the age of its oldest message (emails wait
  // there while SMTP is down or the outbox disk is full); "store":
  // "unavailable" when the database cannot be read.
  json HealthJson() {
    auto depth = core_.mail().Depth();
    if (!depth) return {{"store", "unavailable"}};
    const int64_t oldest =
        depth->messages == 0
            ? 0
            : std::max<int64_t>(0, core_.context().clock.NowUnix() - depth->oldest_created_at);
    return {{"store", "ok"},
            {"mail_queue", {{"messages", depth->messages}, {"oldest_seconds", oldest}}}};
  }

  Result<Response> ServerInfo(const Request&, const PathParams&) {
    json body = {{"version", config_.version},
                 {"kdf_minimum", KdfJson(config_.kdf_minimum.ops, config_.kdf_minimum.mem)},
                 {"public_url", config_.public_url},
                 {"web_lock_seconds", config_.web_lock_seconds}};
    if (config_.recovery_key) {
      body["recovery_public_key"] = recovery_public_key_;
      body["recovery_fingerprint"] = recovery_fingerprint_;
    }
    body["health"] = HealthJson();
    return http::JsonResponse(200, body);
  }

  // ---- accounts ----
  Result<Response> Prelogin(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email"}));
    KW_ASSIGN_OR_RETURN(auto email, f.String("email"));
    KW_ASSIGN_OR_RETURN(auto answer, core_.accounts.Prelogin(email));
    return http::JsonResponse(200, {{"kdf", KdfJson(answer.kdf.ops, answer.kdf.mem)},
                                    {"salt", crypto::Base64UrlEncode(answer.salt)}});
  }

  Result<Response> Register(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"id", "email", "kdf", "salt", "auth_key",
                                                           "wrapped_vault_key", "public_key",
                                                           "wrapped_private_key"}));
    core::Registration r;
    KW_ASSIGN_OR_RETURN(r.id, f.String("id"));
    KW_ASSIGN_OR_RETURN(r.email, f.String("email"));
    KW_ASSIGN_OR_RETURN(r.kdf, f.Kdf("kdf"));
    KW_ASSIGN_OR_RETURN(r.salt, f.Binary("salt", crypto::kSaltSize, crypto::kSaltSize));
    KW_ASSIGN_OR_RETURN(r.auth_key, f.AuthKey("auth_key"));
    KW_ASSIGN_OR_RETURN(r.wrapped_vault_key,
                        f.Binary("wrapped_vault_key", kWrappedMin, kKeyBlobMax));
    KW_ASSIGN_OR_RETURN(r.public_key, f.Binary("public_key", 32, 32));
    KW_ASSIGN_OR_RETURN(r.wrapped_private_key,
                        f.Binary("wrapped_private_key", kWrappedMin, kKeyBlobMax));
    r.remote_address = request.remote_address;
    KW_TRY(core_.accounts.Register(r));
    return http::JsonResponse(202, {{"status", "verification_sent"}});
  }

  Result<Response> Verify(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email", "code"}));
    KW_ASSIGN_OR_RETURN(auto email, f.String("email"));
    KW_ASSIGN_OR_RETURN(auto code, f.String("code"));
    KW_TRY(core_.accounts.Verify(email, code, request.remote_address));
    return http::JsonResponse(200, {{"status", "verified"}});
  }

  Result<Response> Resend(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email"}));
    KW_ASSIGN_OR_RETURN(auto email, f.String("email"));
    KW_TRY(core_.accounts.Resend(email, request.remote_address));
    return http::JsonResponse(202, {{"status", "verification_sent"}});
  }

  Result<Response> Login(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(
        auto f, Fields::FromBody(request, {"email", "auth_key", "device_signature", "device",
                                           "totp_code", "recovery_code", "sso_tickets"}));
    core::Login login;
    KW_ASSIGN_OR_RETURN(login.email, f.String("email"));
    // The master password's auth key, or a trusted device's signature.
    if (f.Has("device_signature")) {
      if (f.Has("auth_key")) return Fail(core::InvalidField("auth_key"));
      KW_ASSIGN_OR_RETURN(login.device_signature, f.Binary("device_signature", 64, 64));
    } else {
      KW_ASSIGN_OR_RETURN(login.auth_key, f.AuthKey("auth_key"));
    }
    KW_ASSIGN_OR_RETURN(login.device, DeviceFrom(f));
    KW_ASSIGN_OR_RETURN(login.totp_code, f.OptionalString("totp_code"));
    KW_ASSIGN_OR_RETURN(login.recovery_code, f.OptionalString("recovery_code"));
    if (f.Has("sso_tickets")) {
      KW_ASSIGN_OR_RETURN(login.sso_tickets,
                          f.BinaryArray("sso_tickets", 32, core::kMaxSsoTickets));
    }
    login.remote_address = request.remote_address;
    KW_ASSIGN_OR_RETURN(auto result, core_.sessions.Login(login));
    json body = {{"token", crypto::Base64UrlEncode(result.token.span())},
                 {"expires_at", FormatRfc3339(result.expires_at)},
                 {"device_id", result.device_id},
                 {"account", AccountJson(result.account)}};
    if (login.device_signature) {
      body["trusted_device"] = {
          {"wrapped_vault_key", crypto::Base64UrlEncode(result.trusted_wrapped_vault_key)}};
    }
    return http::JsonResponse(201, body);
  }

  // ---- single sign-on (core/sso_signin.h) ----
  Result<Response> SsoStart(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"org_id", "client", "redirect_uri"}));
    core::SsoStartRequest start;
    KW_ASSIGN_OR_RETURN(start.org_id, f.String("org_id"));
    KW_ASSIGN_OR_RETURN(auto client, f.String("client"));
    auto kind = core::ParseSsoClientKind(client);
    if (!kind) return Fail(core::InvalidField("client"));
    start.client_kind = *kind;
    KW_ASSIGN_OR_RETURN(start.redirect_uri, f.String("redirect_uri"));
    start.remote_address = request.remote_address;
    KW_ASSIGN_OR_RETURN(auto started, core_.sso.Start(start));
    return http::JsonResponse(201, {{"authorization_url", started.authorization_url},
                                    {"state", started.state},
                                    {"expires_at", FormatRfc3339(started.expires_at)}});
  }

  Result<Response> SsoFinish(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"state", "code"}));
    KW_ASSIGN_OR_RETURN(auto state, f.String("state"));
    KW_ASSIGN_OR_RETURN(auto code, f.String("code"));
    KW_ASSIGN_OR_RETURN(auto ticket, core_.sso.Finish(state, code));
    return http::JsonResponse(201, {{"ticket", crypto::Base64UrlEncode(ticket.ticket.span())},
                                    {"org_id", ticket.org_id},
                                    {"expires_at", FormatRfc3339(ticket.expires_at)}});
  }

  Result<Response> Logout(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request, Access::kWhilePasswordChangeRequired));
    KW_TRY(core_.sessions.Logout(caller));
    return http::NoContent();
  }

  Result<Response> GetAccount(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request, Access::kWhilePasswordChangeRequired));
    KW_ASSIGN_OR_RETURN(auto account, core_.accounts.Get(caller));
    return http::JsonResponse(200, AccountJson(account));
  }

  Result<Response> ChangePassword(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request, Access::kWhilePasswordChangeRequired));
    KW_ASSIGN_OR_RETURN(
        auto f, Fields::FromBody(request, {"auth_key", "new_kdf", "new_salt", "new_auth_key",
                                           "new_wrapped_vault_key", "escrows"}));
    core::PasswordChange change;
    KW_ASSIGN_OR_RETURN(change.auth_key, f.AuthKey("auth_key"));
    KW_TRY(ReadNewPassword(f, change));
    KW_TRY(core_.accounts.ChangePassword(caller, change));
    return http::NoContent();
  }

  // After a device pairing: no current auth key (core::ForgottenPasswordChange).
  Result<Response> ChangeForgottenPassword(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"new_kdf", "new_salt", "new_auth_key",
                                                           "new_wrapped_vault_key", "escrows"}));
    core::ForgottenPasswordChange change;
    KW_TRY(ReadNewPassword(f, change));
    KW_TRY(core_.accounts.ChangeForgottenPassword(caller, change));
    return http::NoContent();
  }

  // ---- starting over (core/account_restart.h) ----
  Result<Response> RestartCode(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email"}));
    KW_ASSIGN_OR_RETURN(auto email, f.String("email"));
    KW_TRY(core_.restart.Ask(email, request.remote_address));
    return http::JsonResponse(202, {{"status", "code_sent_if_registered"}});
  }

  Result<Response> RestartVerify(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"email", "code"}));
    KW_ASSIGN_OR_RETURN(auto email, f.String("email"));
    KW_ASSIGN_OR_RETURN(auto code, f.String("code"));
    KW_ASSIGN_OR_RETURN(auto t, core_.restart.Verify(email, code, request.remote_address));
    return http::JsonResponse(200, {{"ticket", crypto::Base64UrlEncode(t.ticket.span())},
                                    {"account_id", t.account_id},
                                    {"expires_at", FormatRfc3339(t.expires_at)}});
  }

  Result<Response> Restart(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"ticket", "acknowledge", "kdf", "salt",
                                                           "auth_key", "wrapped_vault_key",
                                                           "public_key", "wrapped_private_key"}));
    KW_ASSIGN_OR_RETURN(auto ack, f.String("acknowledge"));
    if (ack != "delete-my-vault") return Fail(core::InvalidField("acknowledge"));
    KW_ASSIGN_OR_RETURN(auto ticket, f.Binary("ticket", 32, 32));
    core::RestartMaterial m;
    KW_ASSIGN_OR_RETURN(m.kdf, f.Kdf("kdf"));
    KW_ASSIGN_OR_RETURN(m.salt, f.Binary("salt", crypto::kSaltSize, crypto::kSaltSize));
    KW_ASSIGN_OR_RETURN(m.auth_key, f.AuthKey("auth_key"));
    KW_ASSIGN_OR_RETURN(m.wrapped_vault_key,
                        f.Binary("wrapped_vault_key", kWrappedMin, kKeyBlobMax));
    KW_ASSIGN_OR_RETURN(m.public_key, f.Binary("public_key", 32, 32));
    KW_ASSIGN_OR_RETURN(m.wrapped_private_key,
                        f.Binary("wrapped_private_key", kWrappedMin, kKeyBlobMax));
    KW_TRY(core_.restart.Complete(ticket, m, request.remote_address));
    return http::JsonResponse(200, {{"status", "restarted"}});
  }

  Result<Response> DeleteAccount(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto key, AuthKeyBody(request));
    KW_TRY(core_.accounts.Delete(caller, key));
    return http::NoContent();
  }

  Result<Response> TotpBegin(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto key, AuthKeyBody(request));
    KW_ASSIGN_OR_RETURN(auto enrollment, core_.two_factor.Begin(caller, key));
    return http::JsonResponse(200, {{"secret", enrollment.secret_base32}, {"uri", enrollment.uri}});
  }

  Result<Response> TotpConfirm(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"code"}));
    KW_ASSIGN_OR_RETURN(auto code, f.String("code"));
    KW_ASSIGN_OR_RETURN(auto codes, core_.two_factor.Confirm(caller, code));
    return http::JsonResponse(200, {{"recovery_codes", codes}});
  }

  Result<Response> TotpDisable(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto key, AuthKeyBody(request));
    KW_TRY(core_.two_factor.Disable(caller, key));
    return http::NoContent();
  }

  // ---- items ----
  // ETag "<account id>.<vault revision>": a client that sends it back in
  // If-None-Match gets 304 and no body while the vault is unchanged (docs/
  // api.md "Items"). The account id keeps one account's tag from matching
  // another's.
  Result<Response> ListItems(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    const std::string prefix = "\"" + caller.account_id + ".";
    const std::optional<int64_t> known =
        KnownVaultRevision(request.Header("if-none-match"), prefix);
    KW_ASSIGN_OR_RETURN(auto listing, core_.items.ListUnlessAt(caller, known));
    Response response;
    response.headers.emplace_back("ETag", prefix + std::to_string(listing.revision) + "\"");
    if (!listing.items) {
      response.status = 304;
      return response;
    }
    response.body = ItemListBody(*listing.items);
    return response;
  }

  Result<Response> CreateItem(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"id", "data"}));
    KW_ASSIGN_OR_RETURN(auto id, f.String("id"));
    KW_ASSIGN_OR_RETURN(auto data, ItemData(f));
    KW_ASSIGN_OR_RETURN(auto item, core_.items.Create(caller, id, std::move(data)));
    return http::JsonResponse(201, ItemJson(item));
  }

  // All or nothing (core::ItemService::Apply).
  Result<Response> ApplyItemBatch(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"add", "update", "delete"}));
    core::ItemBatch batch;
    if (f.Has("add")) {
      KW_ASSIGN_OR_RETURN(auto adds, f.ObjectArray("add", {"id", "data"}, core::kItemBatchMax));
      for (const auto& a : adds) {
        core::ItemBatch::Add add;
        KW_ASSIGN_OR_RETURN(add.id, a.String("id"));
        KW_ASSIGN_OR_RETURN(add.data, ItemData(a));
        batch.add.push_back(std::move(add));
      }
    }
    if (f.Has("update")) {
      KW_ASSIGN_OR_RETURN(auto updates,
                          f.ObjectArray("update", {"id", "revision", "data"}, core::kItemBatchMax));
      for (const auto& u : updates) {
        core::ItemBatch::Update update;
        KW_ASSIGN_OR_RETURN(update.id, u.String("id"));
        KW_ASSIGN_OR_RETURN(update.revision, u.Count("revision"));
        KW_ASSIGN_OR_RETURN(update.data, ItemData(u));
        batch.update.push_back(std::move(update));
      }
    }
    if (f.Has("delete")) {
      KW_ASSIGN_OR_RETURN(auto removes, f.ObjectArray("delete", {"id"}, core::kItemBatchMax));
      for (const auto& r : removes) {
        KW_ASSIGN_OR_RETURN(auto id, r.String("id"));
        batch.remove.push_back(std::move(id));
      }
    }
    KW_TRY(core_.items.Apply(caller, batch));
    return http::JsonResponse(200, {{"added", batch.add.size()},
                                    {"updated", batch.update.size()},
                                    {"deleted", batch.remove.size()}});
  }

  Result<Response> GetItem(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto item, core_.items.Get(caller, params.at("id")));
    return http::JsonResponse(200, ItemJson(item));
  }

  Result<Response> UpdateItem(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto f, Fields::FromBody(request, {"revision", "data"}));
    KW_ASSIGN_OR_RETURN(auto revision, f.Count("revision"));
    KW_ASSIGN_OR_RETURN(auto data, ItemData(f));
    KW_ASSIGN_OR_RETURN(auto item,
                        core_.items.Update(caller, params.at("id"), revision, std::move(data)));
    return http::JsonResponse(200, ItemJson(item));
  }

  Result<Response> DeleteItem(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_TRY(core_.items.Delete(caller, params.at("id")));
    return http::NoContent();
  }

  // Decoded size is checked by core (item.too_large, 413); here only a
  // generous bound so an absurd string is not decoded at all.
  Result<crypto::Bytes> ItemData(const Fields& f) {
    return f.Binary("data", 0, core_.config().item_max_bytes * 2);
  }

  // ---- devices ----
  Result<Response> ListDevices(const Request& request, const PathParams&) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_ASSIGN_OR_RETURN(auto devices, core_.devices.List(caller));
    KW_ASSIGN_OR_RETURN(auto trusted, core_.devices.TrustedIds(caller));
    json list = json::array();
    for (const auto& d : devices) {
      json j = DeviceJson(d, caller.device_id);
      j["trusted"] = std::find(trusted.begin(), trusted.end(), d.id) != trusted.end();
      list.push_back(std::move(j));
    }
    return http::JsonResponse(200, {{"devices", std::move(list)}});
  }

  // A trusted device (protocol/trusted_device.h): only the calling device
  // registers itself.
  Result<Response> TrustDevice(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    if (params.at("id") != caller.device_id) {
      return Fail(Error::PermissionDenied("device.not_this_device",
                                          "A device makes only itself a trusted device."));
    }
    KW_ASSIGN_OR_RETURN(auto f,
                        Fields::FromBody(request, {"sign_public_key", "wrapped_vault_key"}));
    KW_ASSIGN_OR_RETURN(auto sign_public_key, f.Binary("sign_public_key", 32, 32));
    KW_ASSIGN_OR_RETURN(auto wrapped, f.Binary("wrapped_vault_key", kWrappedMin, kKeyBlobMax));
    KW_TRY(core_.devices.Trust(caller, sign_public_key, wrapped));
    return http::NoContent();
  }

  Result<Response> UntrustDevice(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_TRY(core_.devices.Untrust(caller, params.at("id")));
    return http::NoContent();
  }

  Result<Response> DeactivateDevice(const Request& request, const PathParams& params) {
    KW_ASSIGN_OR_RETURN(auto caller, Authenticate(request));
    KW_TRY(core_.devices.Deactivate(caller, params.at("id")));
    return http::NoContent();
  }

  ApiConfig config_;
  std::unique_ptr<store::Store> store_;
  core::Services core_;
  std::string recovery_public_key_;   // base64url, when config_.recovery_key
  std::string recovery_fingerprint_;  // crypto::Fingerprint of it
};

}  // namespace

Result<std::unique_ptr<Api>> MakeApi(const ApiConfig& config, std::unique_ptr<store::Store> store,
                                     mail::Mailer& mailer, const Clock& clock,
                                     const crypto::ServerSecret& secret) {
  if (auto s = crypto::Init(); !s) return Fail(s.error());
  if (config.recovery_key && (config.recovery_key->public_key.size() != 32 ||
                              config.recovery_key->secret_key.size() != 32)) {
    return Fail(Error::Internal("api.bad_recovery_key",
                                "the server recovery key pair must be 32 + 32 bytes"));
  }
  if (!store) return Fail(Error::Internal("api.no_store", "the API needs an open store"));
  auto api = std::make_unique<ApiImpl>(config, std::move(store), mailer, clock, secret);
  if (auto bound = api->BindServerKeys(); !bound) return Fail(bound.error());
  return std::unique_ptr<Api>(std::move(api));
}

}  // namespace keyward::api
