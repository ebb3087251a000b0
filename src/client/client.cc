#include "keyward/client.h"

#include <cctype>

#include <fmt/format.h>

#include "client/http_transport.h"
#include "client/item_list.h"
#include "client/org_json.h"
#include "client/secret_json.h"
#include "common/try.h"
#include "keyward/org.h"
#include "protocol/trusted_device.h"

namespace keyward::client {
namespace {

// Secrets (auth keys, codes) go into the body without a std::string copy.
using org_json::B64;
using org_json::SecretB64;

Error Stale(const Error& e, std::string_view item_id) {
  if (e.code() == "item.stale_revision") {
    return Error::Conflict("item.stale_revision",
                           fmt::format("item {} was changed elsewhere since you read it; get it "
                                       "again and redo your edit",
                                       item_id));
  }
  return e;
}

Status CheckId(std::string_view what, std::string_view id) {
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) ok = false;
  }
  if (!ok) {
    return Fail(Error::InvalidArgument(
        "client.bad_id",
        fmt::format("'{}' is not a valid {} id (1-64 of A-Z a-z 0-9 - _)", id, what)));
  }
  return {};
}

}  // namespace

// Also used by pairing_client.cc (a pairing's pickup returns the account).
Result<Account> ParseAccount(const Json& j) {
  Account a;
  KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "id"));
  a.id = id;
  KW_ASSIGN_OR_RETURN(auto email, JsonString(j, "email"));
  a.email = email;
  KW_ASSIGN_OR_RETURN(auto kdf, JsonKdf(j, "kdf"));
  a.kdf = kdf;
  KW_ASSIGN_OR_RETURN(auto salt, JsonBase64(j, "salt"));
  a.salt = std::move(salt);
  KW_ASSIGN_OR_RETURN(auto wvk, JsonBase64(j, "wrapped_vault_key"));
  a.wrapped_vault_key = std::move(wvk);
  if (auto pk = JsonBase64(j, "public_key")) a.public_key = std::move(*pk);
  if (auto wsk = JsonBase64(j, "wrapped_private_key")) a.wrapped_private_key = std::move(*wsk);
  if (auto tfa = JsonBool(j, "two_factor_enabled")) a.two_factor_enabled = *tfa;
  if (auto m = JsonBool(j, "must_change_password")) a.must_change_password = *m;
  if (auto c = JsonString(j, "created_at")) a.created_at = *c;
  return a;
}

Client::Client(ClientOptions options)
    : http_(std::make_unique<HttpTransport>(std::move(options.server_url),
                                            options.connect_timeout_ms, options.timeout_ms)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const std::string& Client::server_url() const { return http_->base_url(); }
void Client::set_token(std::string token) { token_ = std::move(token); }
const std::string& Client::token() const { return token_; }

Result<ServerInfo> Client::GetServerInfo() {
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("GET", "/v1/server", std::nullopt, ""));
  ServerInfo info;
  if (auto v = JsonString(r.body, "version")) info.version = *v;
  KW_ASSIGN_OR_RETURN(auto kdf, JsonKdf(r.body, "kdf_minimum"));
  info.kdf_minimum = kdf;
  if (auto u = JsonString(r.body, "public_url")) info.public_url = *u;
  // Optional: a server without a recovery key cannot take escrows.
  if (r.body.contains("recovery_public_key") && !r.body["recovery_public_key"].is_null()) {
    auto pk = JsonBase64(r.body, "recovery_public_key");
    if (!pk || pk->size() != 32) {
      return Fail(Error::Unavailable("server.bad_response",
                                     "the server's recovery public key is not 32 bytes"));
    }
    info.recovery_public_key = std::move(*pk);
    // Computed here, not taken from the server: it is what people compare.
    info.recovery_fingerprint = crypto::Fingerprint(info.recovery_public_key);
    if (auto f = JsonString(r.body, "recovery_fingerprint"); f && *f != info.recovery_fingerprint) {
      return Fail(Error::Unavailable(
          "server.bad_response",
          "the server's recovery fingerprint does not match its recovery public key"));
    }
  }
  return info;
}

Result<PreloginInfo> Client::Prelogin(std::string_view email) {
  Json body = Json::object();
  body["email"] = Str(email);
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/accounts/prelogin", body, ""));
  KW_ASSIGN_OR_RETURN(auto kdf, JsonKdf(r.body, "kdf"));
  KW_TRY(CheckKdfFloor(kdf));
  KW_ASSIGN_OR_RETURN(auto salt, JsonBase64(r.body, "salt"));
  return PreloginInfo{kdf, std::move(salt)};
}

Status Client::Register(std::string_view email, const crypto::SecureBytes& password) {
  KW_ASSIGN_OR_RETURN(auto info, GetServerInfo());
  KW_ASSIGN_OR_RETURN(auto m, MakeRegistration(password, RegistrationKdf(info.kdf_minimum)));
  Json body = Json::object();
  body["id"] = Str(m.account_id);
  body["email"] = Str(email);
  body["kdf"] = KdfToJson(m.kdf);
  body["salt"] = B64(m.salt);
  body["auth_key"] = SecretB64(m.auth_key.span());
  body["wrapped_vault_key"] = B64(m.wrapped_vault_key);
  body["public_key"] = B64(m.public_key);
  body["wrapped_private_key"] = B64(m.wrapped_private_key);
  KW_TRY(http_->Call("POST", "/v1/accounts", body, ""));
  return {};
}

Status Client::Verify(std::string_view email, const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["code"] = Json(ToSecretString(code));
  KW_TRY(http_->Call("POST", "/v1/accounts/verify", body, ""));
  return {};
}

Status Client::ResendVerification(std::string_view email) {
  Json body = Json::object();
  body["email"] = Str(email);
  KW_TRY(http_->Call("POST", "/v1/accounts/verify/resend", body, ""));
  return {};
}

Result<crypto::AccountKeys> Client::DeriveLoginKeys(std::string_view email,
                                                    const crypto::SecureBytes& password) {
  KW_ASSIGN_OR_RETURN(auto pre, Prelogin(email));
  return DeriveAccountKeys(password, pre.salt, pre.kdf);
}

namespace {

// POST /v1/sessions's fields but the credential (an auth key, or a trusted
// device's signature), which the caller adds.
Json LoginBody(std::string_view email, const DeviceIdentity& device, const SecondFactor& second,
               const std::vector<std::string>& sso_tickets) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["device"] = org_json::DeviceJson(device);
  if (second.totp_code) body["totp_code"] = Json(ToSecretString(*second.totp_code));
  if (second.recovery_code) body["recovery_code"] = Json(ToSecretString(*second.recovery_code));
  if (!sso_tickets.empty()) {
    Json tickets = Json::array();
    for (const auto& t : sso_tickets) tickets.push_back(Str(t));
    body["sso_tickets"] = std::move(tickets);
  }
  return body;
}

}  // namespace

Result<SsoStarted> Client::SsoStart(std::string_view org_id, std::string_view redirect_uri) {
  Json body = Json::object();
  body["org_id"] = Str(org_id);
  body["client"] = Str("cli");
  body["redirect_uri"] = Str(redirect_uri);
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/sso/start", body, ""));
  SsoStarted out;
  KW_ASSIGN_OR_RETURN(out.authorization_url, JsonString(r.body, "authorization_url"));
  KW_ASSIGN_OR_RETURN(out.state, JsonString(r.body, "state"));
  // The browser goes where this says: only to the provider over https (or
  // a provider on this machine), never to a javascript: or file: address a
  // hostile server might hand out.
  const std::string_view url = out.authorization_url;
  if (!url.starts_with("https://") && !url.starts_with("http://127.0.0.1") &&
      !url.starts_with("http://[::1]") && !url.starts_with("http://localhost")) {
    return Fail(
        Error::Unavailable("server.bad_response", "the sign-in address is not an https address"));
  }
  if (url.find(std::string("state=") + out.state) == std::string_view::npos) {
    return Fail(Error::Unavailable("server.bad_response",
                                   "the sign-in address does not carry the sign-in's state"));
  }
  return out;
}

Result<SsoTicket> Client::SsoFinish(std::string_view state, std::string_view code) {
  Json body = Json::object();
  body["state"] = Str(state);
  body["code"] = Str(code);
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/sso/finish", body, ""));
  SsoTicket out;
  KW_ASSIGN_OR_RETURN(out.ticket, JsonString(r.body, "ticket"));
  KW_ASSIGN_OR_RETURN(out.org_id, JsonString(r.body, "org_id"));
  if (auto e = JsonString(r.body, "expires_at")) out.expires_at = *e;
  return out;
}

Result<LoginResult> Client::LoginWithTrustedDevice(std::string_view email,
                                                   std::string_view account_id,
                                                   const DeviceIdentity& device,
                                                   std::span<const uint8_t> device_secret,
                                                   const std::vector<std::string>& sso_tickets,
                                                   const SecondFactor& second) {
  if (sso_tickets.empty()) {
    return Fail(Error::InvalidArgument("device.sso_required",
                                       "a trusted device logs in through single sign-on"));
  }
  KW_ASSIGN_OR_RETURN(auto keys, protocol::trusted_device::DeriveKeys(device_secret));
  auto ticket = crypto::Base64UrlDecode(sso_tickets.front());
  if (!ticket)
    return Fail(Error::Unavailable("server.bad_response", "the ticket is not base64url"));
  Json body = LoginBody(email, device, second, sso_tickets);
  body["device_signature"] = Str(crypto::Base64UrlEncode(crypto::Sign(
      keys.sign.secret_key.span(), protocol::trusted_device::LoginMessage(device.id, *ticket))));
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/sessions", body, ""));
  LoginResult out;
  KW_ASSIGN_OR_RETURN(out.token, JsonString(r.body, "token"));
  if (auto e = JsonString(r.body, "expires_at")) out.expires_at = *e;
  out.device_id = device.id;
  if (!r.body.contains("account") || !r.body.contains("trusted_device")) {
    return Fail(Error::Unavailable("server.bad_response", "the login answer is incomplete"));
  }
  KW_ASSIGN_OR_RETURN(out.account, ParseAccount(r.body["account"]));
  KW_ASSIGN_OR_RETURN(auto wrapped, JsonBase64(r.body["trusted_device"], "wrapped_vault_key"));
  // Only the copy this device made for this account opens (its AD): a
  // server handing another account's session or another blob is refused.
  auto uk = out.account.id == account_id
                ? protocol::trusted_device::UnwrapVaultKey(keys, wrapped, account_id, device.id)
                : Result<crypto::VaultKey>(Fail(Error::PermissionDenied(
                      "device.key_mismatch",
                      "the server's answer does not open with this trusted device's key (it "
                      "names another account)")));
  if (!uk) {
    token_ = out.token;
    (void)Logout();
    return Fail(uk.error());
  }
  out.vault_key = std::move(*uk);
  token_ = out.token;
  return out;
}

Result<LoginResult> Client::Login(std::string_view email, const crypto::AccountKeys& keys,
                                  const DeviceIdentity& device, const SecondFactor& second,
                                  const std::vector<std::string>& sso_tickets) {
  Json body = LoginBody(email, device, second, sso_tickets);
  body["auth_key"] = SecretB64(keys.auth.span());
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/sessions", body, ""));
  LoginResult out;
  KW_ASSIGN_OR_RETURN(auto token, JsonString(r.body, "token"));
  out.token = token;
  if (auto e = JsonString(r.body, "expires_at")) out.expires_at = *e;
  if (auto d = JsonString(r.body, "device_id"))
    out.device_id = *d;
  else
    out.device_id = device.id;
  if (!r.body.contains("account")) {
    return Fail(Error::Unavailable("server.bad_response", "the login answer has no account"));
  }
  KW_ASSIGN_OR_RETURN(auto account, ParseAccount(r.body["account"]));
  out.account = std::move(account);
  auto uk = UnwrapVaultKey(keys.enc, out.account.id, out.account.wrapped_vault_key);
  if (!uk) {
    // The server accepted the auth key but the vault key does not open:
    // wrong or tampered data, never a usable session.
    token_ = out.token;
    (void)Logout();
    return Fail(Error::Internal("client.vault_key_mismatch",
                                "the server's wrapped vault key does not open with this "
                                "password; refusing the session"));
  }
  out.vault_key = std::move(*uk);
  token_ = out.token;
  return out;
}

Status Client::Logout() {
  KW_TRY(http_->Call("DELETE", "/v1/sessions/current", std::nullopt, token_));
  token_.clear();
  return {};
}

Result<Account> Client::GetAccount() {
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("GET", "/v1/account", std::nullopt, token_));
  return ParseAccount(r.body);
}

Result<Client::Unlocked> Client::UnlockWithPassword(const crypto::SecureBytes& password) {
  KW_ASSIGN_OR_RETURN(auto account, GetAccount());
  KW_ASSIGN_OR_RETURN(auto keys, DeriveAccountKeys(password, account.salt, account.kdf));
  KW_ASSIGN_OR_RETURN(auto uk, UnwrapVaultKey(keys.enc, account.id, account.wrapped_vault_key));
  return Unlocked{std::move(keys), std::move(uk), std::move(account)};
}

// The new-password fields of POST /v1/account/password[/forgotten]: fresh
// salt, keys at least as strong as before, UK wrapped anew, the escrows.
Result<Json> Client::NewPasswordBody(const crypto::VaultKey& vault_key, const Account& account,
                                     const crypto::SecureBytes& new_password,
                                     std::span<const EscrowForOrg> escrows) {
  KW_ASSIGN_OR_RETURN(auto info, GetServerInfo());
  crypto::KdfParams kdf = RegistrationKdf(info.kdf_minimum);
  kdf.ops = std::max(kdf.ops, account.kdf.ops);
  kdf.mem = std::max(kdf.mem, account.kdf.mem);
  crypto::Bytes new_salt = crypto::RandomBytes(crypto::kSaltSize);
  KW_ASSIGN_OR_RETURN(auto new_keys, DeriveAccountKeys(new_password, new_salt, kdf));
  Json body = Json::object();
  body["new_kdf"] = KdfToJson(kdf);
  body["new_salt"] = B64(new_salt);
  body["new_auth_key"] = SecretB64(new_keys.auth.span());
  body["new_wrapped_vault_key"] = B64(WrapVaultKey(new_keys.enc, account.id, vault_key));
  if (!escrows.empty()) {
    Json list = Json::array();
    for (const EscrowForOrg& e : escrows) {
      Json j = Json::object();
      j["org_id"] = Str(e.org_id);
      j["epoch"] = e.escrow.epoch;
      j["key_version"] = e.key_version;
      j["wrapped_vault_key"] = B64(e.escrow.wrapped_vault_key);
      j["admin_share"] = B64(e.escrow.admin_share);
      j["server_share"] = B64(e.escrow.server_share);
      list.push_back(std::move(j));
    }
    body["escrows"] = std::move(list);
  }
  return body;
}

Status Client::ChangePassword(const crypto::SecureBytes& current_password,
                              const crypto::SecureBytes& new_password,
                              std::span<const EscrowForOrg> escrows) {
  KW_ASSIGN_OR_RETURN(auto unlocked, UnlockWithPassword(current_password));
  KW_ASSIGN_OR_RETURN(auto body,
                      NewPasswordBody(unlocked.vault_key, unlocked.account, new_password, escrows));
  body["auth_key"] = SecretB64(unlocked.keys.auth.span());
  KW_TRY(http_->Call("POST", "/v1/account/password", body, token_));
  return {};
}

Status Client::AskRestartCode(std::string_view email) {
  Json body = Json::object();
  body["email"] = Str(email);
  KW_TRY(http_->Call("POST", "/v1/account/restart/code", body, ""));
  return {};
}

Result<Client::RestartTicket> Client::VerifyRestart(std::string_view email,
                                                    const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["code"] = Json(ToSecretString(code));
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/account/restart/verify", body, ""));
  RestartTicket t;
  KW_ASSIGN_OR_RETURN(t.ticket, JsonSecret(r.body, "ticket"));
  KW_ASSIGN_OR_RETURN(t.account_id, JsonString(r.body, "account_id"));
  return t;
}

Status Client::Restart(const RestartTicket& ticket, const crypto::SecureBytes& password) {
  KW_ASSIGN_OR_RETURN(auto info, GetServerInfo());
  KW_ASSIGN_OR_RETURN(
      auto m, MakeRegistrationFor(password, RegistrationKdf(info.kdf_minimum), ticket.account_id));
  Json body = Json::object();
  body["ticket"] = Json(ToSecretString(ticket.ticket));
  body["acknowledge"] = Str("delete-my-vault");
  body["kdf"] = KdfToJson(m.kdf);
  body["salt"] = B64(m.salt);
  body["auth_key"] = SecretB64(m.auth_key.span());
  body["wrapped_vault_key"] = B64(m.wrapped_vault_key);
  body["public_key"] = B64(m.public_key);
  body["wrapped_private_key"] = B64(m.wrapped_private_key);
  KW_TRY(http_->Call("POST", "/v1/account/restart", body, ""));
  return {};
}

Status Client::ChangeForgottenPassword(const crypto::VaultKey& vault_key, const Account& account,
                                       const crypto::SecureBytes& new_password,
                                       std::span<const EscrowForOrg> escrows) {
  KW_ASSIGN_OR_RETURN(auto body, NewPasswordBody(vault_key, account, new_password, escrows));
  KW_TRY(http_->Call("POST", "/v1/account/password/forgotten", body, token_));
  return {};
}

Status Client::DeleteAccount(const crypto::SecureBytes& password) {
  KW_ASSIGN_OR_RETURN(auto unlocked, UnlockWithPassword(password));
  Json body = Json::object();
  body["auth_key"] = SecretB64(unlocked.keys.auth.span());
  KW_TRY(http_->Call("DELETE", "/v1/account", body, token_));
  token_.clear();
  return {};
}

Result<TotpEnrolment> Client::BeginTotp(const crypto::SecureBytes& password) {
  KW_ASSIGN_OR_RETURN(auto unlocked, UnlockWithPassword(password));
  Json body = Json::object();
  body["auth_key"] = SecretB64(unlocked.keys.auth.span());
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/account/2fa/totp", body, token_));
  KW_ASSIGN_OR_RETURN(auto secret, JsonSecret(r.body, "secret"));
  KW_ASSIGN_OR_RETURN(auto uri, JsonSecret(r.body, "uri"));
  return TotpEnrolment{std::move(secret), std::move(uri)};
}

Result<std::vector<crypto::SecureBytes>> Client::ConfirmTotp(const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["code"] = Json(ToSecretString(code));
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/account/2fa/totp/confirm", body, token_));
  if (!r.body.contains("recovery_codes") || !r.body["recovery_codes"].is_array()) {
    return Fail(Error::Unavailable("server.bad_response", "no recovery codes in the answer"));
  }
  std::vector<crypto::SecureBytes> codes;
  for (const Json& c : r.body["recovery_codes"]) {
    if (c.is_string()) codes.push_back(ToSecureBytes(c.get_ref<const SecretString&>()));
  }
  return codes;
}

Status Client::DisableTotp(const crypto::SecureBytes& password) {
  KW_ASSIGN_OR_RETURN(auto unlocked, UnlockWithPassword(password));
  Json body = Json::object();
  body["auth_key"] = SecretB64(unlocked.keys.auth.span());
  KW_TRY(http_->Call("DELETE", "/v1/account/2fa/totp", body, token_));
  return {};
}

Result<std::vector<EncryptedItem>> Client::ListEncryptedItems() {
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("GET", "/v1/items", std::nullopt, token_, BodyAs::kText));
  return ParseItemListText(std::string_view(r.text.data(), r.text.size()));
}

Result<std::vector<Item>> Client::ListItems(const crypto::VaultKey& uk,
                                            std::string_view account_id) {
  KW_ASSIGN_OR_RETURN(auto enc, ListEncryptedItems());
  return OpenItems(uk, account_id, std::move(enc));
}

Result<Item> Client::GetItem(const crypto::VaultKey& uk, std::string_view account_id,
                             std::string_view item_id) {
  KW_TRY(CheckId("item", item_id));
  KW_ASSIGN_OR_RETURN(
      auto r, http_->Call("GET", fmt::format("/v1/items/{}", item_id), std::nullopt, token_));
  KW_ASSIGN_OR_RETURN(auto e, ParseItem(r.body));
  if (e.id != item_id) {
    return Fail(Error::Unavailable("server.bad_response", "the server answered another item"));
  }
  return OpenItem(uk, account_id, std::move(e));
}

Result<Item> Client::AddItem(const crypto::VaultKey& uk, std::string_view account_id,
                             const ItemFields& fields, std::optional<std::string> item_id) {
  std::string id = item_id ? *item_id : NewItemId();
  Json body = Json::object();
  body["id"] = Str(id);
  body["data"] = B64(EncryptItem(uk, account_id, id, fields));
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("POST", "/v1/items", body, token_));
  KW_ASSIGN_OR_RETURN(auto e, ParseItem(r.body));
  return Item{e.id, e.revision, e.created_at, e.updated_at, fields.Clone()};
}

Result<Item> Client::UpdateItem(const crypto::VaultKey& uk, std::string_view account_id,
                                std::string_view item_id, int64_t revision,
                                const ItemFields& fields) {
  KW_TRY(CheckId("item", item_id));
  Json body = Json::object();
  body["revision"] = revision;
  body["data"] = B64(EncryptItem(uk, account_id, item_id, fields));
  auto r = http_->Call("PUT", fmt::format("/v1/items/{}", item_id), body, token_);
  if (!r) return Fail(Stale(r.error(), item_id));
  KW_ASSIGN_OR_RETURN(auto e, ParseItem(r->body));
  return Item{e.id, e.revision, e.created_at, e.updated_at, fields.Clone()};
}

Status Client::DeleteItem(std::string_view item_id) {
  KW_TRY(CheckId("item", item_id));
  KW_TRY(http_->Call("DELETE", fmt::format("/v1/items/{}", item_id), std::nullopt, token_));
  return {};
}

Result<std::vector<Device>> Client::ListDevices() {
  KW_ASSIGN_OR_RETURN(auto r, http_->Call("GET", "/v1/devices", std::nullopt, token_));
  if (!r.body.contains("devices") || !r.body["devices"].is_array()) {
    return Fail(Error::Unavailable("server.bad_response", "no devices in the answer"));
  }
  std::vector<Device> out;
  for (const Json& j : r.body["devices"]) {
    Device d;
    KW_ASSIGN_OR_RETURN(auto id, JsonString(j, "id"));
    d.id = id;
    if (auto v = JsonString(j, "name")) d.name = *v;
    if (auto v = JsonString(j, "type")) d.type = *v;
    if (auto v = JsonString(j, "first_seen")) d.first_seen = *v;
    if (auto v = JsonString(j, "last_seen")) d.last_seen = *v;
    if (auto v = JsonBool(j, "active")) d.active = *v;
    if (auto v = JsonBool(j, "current")) d.current = *v;
    if (auto v = JsonBool(j, "trusted")) d.trusted = *v;
    out.push_back(std::move(d));
  }
  return out;
}

Result<crypto::Bytes> Client::TrustThisDevice(std::string_view account_id,
                                              std::string_view device_id,
                                              const crypto::VaultKey& vault_key) {
  KW_TRY(CheckId("device", device_id));
  crypto::Bytes secret = crypto::RandomBytes(protocol::trusted_device::kSecretSize);
  KW_ASSIGN_OR_RETURN(auto keys, protocol::trusted_device::DeriveKeys(secret));
  Json body = Json::object();
  body["sign_public_key"] = Str(crypto::Base64UrlEncode(keys.sign.public_key));
  body["wrapped_vault_key"] = Str(crypto::Base64UrlEncode(
      protocol::trusted_device::WrapVaultKey(keys, vault_key, account_id, device_id)));
  KW_TRY(http_->Call("PUT", fmt::format("/v1/devices/{}/trust", device_id), body, token_));
  return secret;
}

Status Client::UntrustDevice(std::string_view device_id) {
  KW_TRY(CheckId("device", device_id));
  KW_TRY(
      http_->Call("DELETE", fmt::format("/v1/devices/{}/trust", device_id), std::nullopt, token_));
  return {};
}

Status Client::RemoveDevice(std::string_view device_id) {
  KW_TRY(CheckId("device", device_id));
  KW_TRY(http_->Call("DELETE", fmt::format("/v1/devices/{}", device_id), std::nullopt, token_));
  return {};
}

Result<Json> Client::CallJson(std::string_view method, std::string_view path,
                              const std::optional<Json>& body) {
  KW_ASSIGN_OR_RETURN(auto r, http_->Call(method, path, body, token_));
  return std::move(r.body);
}

}  // namespace keyward::client
