#include "keyward/client.h"

#include <cctype>

#include <fmt/format.h>

#include "client/http_transport.h"
#include "client/secret_json.h"
#include "keyward/org.h"

namespace keyward::client {
namespace {

Json B64(std::span<const uint8_t> bytes) { return Str(crypto::Base64UrlEncode(bytes)); }

// Secrets (auth keys, codes) go into the body without a std::string copy.
Json SecretB64(std::span<const uint8_t> bytes) {
  crypto::SecureBytes text = SecretBase64Url(bytes);
  return Json(ToSecretString(text));
}

Result<Account> ParseAccount(const Json& j) {
  Account a;
  auto id = JsonString(j, "id");
  if (!id) return Fail(id.error());
  a.id = *id;
  auto email = JsonString(j, "email");
  if (!email) return Fail(email.error());
  a.email = *email;
  auto kdf = JsonKdf(j, "kdf");
  if (!kdf) return Fail(kdf.error());
  a.kdf = *kdf;
  auto salt = JsonBase64(j, "salt");
  if (!salt) return Fail(salt.error());
  a.salt = std::move(*salt);
  auto wvk = JsonBase64(j, "wrapped_vault_key");
  if (!wvk) return Fail(wvk.error());
  a.wrapped_vault_key = std::move(*wvk);
  if (auto pk = JsonBase64(j, "public_key")) a.public_key = std::move(*pk);
  if (auto wsk = JsonBase64(j, "wrapped_private_key")) a.wrapped_private_key = std::move(*wsk);
  if (auto tfa = JsonBool(j, "two_factor_enabled")) a.two_factor_enabled = *tfa;
  if (auto m = JsonBool(j, "must_change_password")) a.must_change_password = *m;
  if (auto c = JsonString(j, "created_at")) a.created_at = *c;
  return a;
}

Result<EncryptedItem> ParseItem(const Json& j) {
  EncryptedItem it;
  auto id = JsonString(j, "id");
  if (!id) return Fail(id.error());
  it.id = *id;
  auto rev = JsonInt(j, "revision");
  if (!rev) return Fail(rev.error());
  it.revision = *rev;
  auto data = JsonBase64(j, "data");
  if (!data) return Fail(data.error());
  it.data = std::move(*data);
  if (auto c = JsonString(j, "created_at")) it.created_at = *c;
  if (auto u = JsonString(j, "updated_at")) it.updated_at = *u;
  return it;
}

Result<Item> DecryptParsed(const crypto::VaultKey& uk, std::string_view account_id,
                           const EncryptedItem& e) {
  auto fields = DecryptItem(uk, account_id, e.id, e.data);
  if (!fields) return Fail(fields.error());
  return Item{e.id, e.revision, e.created_at, e.updated_at, std::move(*fields)};
}

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
  auto r = http_->Call("GET", "/v1/server", std::nullopt, "");
  if (!r) return Fail(r.error());
  ServerInfo info;
  if (auto v = JsonString(r->body, "version")) info.version = *v;
  auto kdf = JsonKdf(r->body, "kdf_minimum");
  if (!kdf) return Fail(kdf.error());
  info.kdf_minimum = *kdf;
  if (auto u = JsonString(r->body, "public_url")) info.public_url = *u;
  // Optional: a server without a recovery key cannot take escrows.
  if (r->body.contains("recovery_public_key") && !r->body["recovery_public_key"].is_null()) {
    auto pk = JsonBase64(r->body, "recovery_public_key");
    if (!pk || pk->size() != 32) {
      return Fail(Error::Unavailable("server.bad_response",
                                     "the server's recovery public key is not 32 bytes"));
    }
    info.recovery_public_key = std::move(*pk);
    // Computed here, not taken from the server: it is what people compare.
    info.recovery_fingerprint = crypto::Fingerprint(info.recovery_public_key);
    if (auto f = JsonString(r->body, "recovery_fingerprint");
        f && *f != info.recovery_fingerprint) {
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
  auto r = http_->Call("POST", "/v1/accounts/prelogin", body, "");
  if (!r) return Fail(r.error());
  auto kdf = JsonKdf(r->body, "kdf");
  if (!kdf) return Fail(kdf.error());
  if (auto st = CheckKdfFloor(*kdf); !st) return Fail(st.error());
  auto salt = JsonBase64(r->body, "salt");
  if (!salt) return Fail(salt.error());
  return PreloginInfo{*kdf, std::move(*salt)};
}

Status Client::Register(std::string_view email, const crypto::SecureBytes& password) {
  auto info = GetServerInfo();
  if (!info) return Fail(info.error());
  auto m = MakeRegistration(password, RegistrationKdf(info->kdf_minimum));
  if (!m) return Fail(m.error());
  Json body = Json::object();
  body["id"] = Str(m->account_id);
  body["email"] = Str(email);
  body["kdf"] = KdfToJson(m->kdf);
  body["salt"] = B64(m->salt);
  body["auth_key"] = SecretB64(m->auth_key.span());
  body["wrapped_vault_key"] = B64(m->wrapped_vault_key);
  body["public_key"] = B64(m->public_key);
  body["wrapped_private_key"] = B64(m->wrapped_private_key);
  auto r = http_->Call("POST", "/v1/accounts", body, "");
  if (!r) return Fail(r.error());
  return {};
}

Status Client::Verify(std::string_view email, const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["code"] = Json(ToSecretString(code));
  auto r = http_->Call("POST", "/v1/accounts/verify", body, "");
  if (!r) return Fail(r.error());
  return {};
}

Status Client::ResendVerification(std::string_view email) {
  Json body = Json::object();
  body["email"] = Str(email);
  auto r = http_->Call("POST", "/v1/accounts/verify/resend", body, "");
  if (!r) return Fail(r.error());
  return {};
}

Result<crypto::AccountKeys> Client::DeriveLoginKeys(std::string_view email,
                                                    const crypto::SecureBytes& password) {
  auto pre = Prelogin(email);
  if (!pre) return Fail(pre.error());
  return DeriveAccountKeys(password, pre->salt, pre->kdf);
}

Result<LoginResult> Client::Login(std::string_view email, const crypto::AccountKeys& keys,
                                  const DeviceIdentity& device, const SecondFactor& second) {
  Json body = Json::object();
  body["email"] = Str(email);
  body["auth_key"] = SecretB64(keys.auth.span());
  Json dev = Json::object();
  dev["id"] = Str(device.id);
  dev["name"] = Str(device.name);
  dev["type"] = Str(device.type);
  body["device"] = std::move(dev);
  if (second.totp_code) body["totp_code"] = Json(ToSecretString(*second.totp_code));
  if (second.recovery_code) body["recovery_code"] = Json(ToSecretString(*second.recovery_code));
  auto r = http_->Call("POST", "/v1/sessions", body, "");
  if (!r) return Fail(r.error());
  LoginResult out;
  auto token = JsonString(r->body, "token");
  if (!token) return Fail(token.error());
  out.token = *token;
  if (auto e = JsonString(r->body, "expires_at")) out.expires_at = *e;
  if (auto d = JsonString(r->body, "device_id"))
    out.device_id = *d;
  else
    out.device_id = device.id;
  if (!r->body.contains("account")) {
    return Fail(Error::Unavailable("server.bad_response", "the login answer has no account"));
  }
  auto account = ParseAccount(r->body["account"]);
  if (!account) return Fail(account.error());
  out.account = std::move(*account);
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
  auto r = http_->Call("DELETE", "/v1/sessions/current", std::nullopt, token_);
  if (!r) return Fail(r.error());
  token_.clear();
  return {};
}

Result<Account> Client::GetAccount() {
  auto r = http_->Call("GET", "/v1/account", std::nullopt, token_);
  if (!r) return Fail(r.error());
  return ParseAccount(r->body);
}

Result<Client::Unlocked> Client::UnlockWithPassword(const crypto::SecureBytes& password) {
  auto account = GetAccount();
  if (!account) return Fail(account.error());
  auto keys = DeriveAccountKeys(password, account->salt, account->kdf);
  if (!keys) return Fail(keys.error());
  auto uk = UnwrapVaultKey(keys->enc, account->id, account->wrapped_vault_key);
  if (!uk) return Fail(uk.error());
  return Unlocked{std::move(*keys), std::move(*uk), std::move(*account)};
}

Status Client::ChangePassword(const crypto::SecureBytes& current_password,
                              const crypto::SecureBytes& new_password,
                              std::span<const EscrowForOrg> escrows) {
  auto unlocked = UnlockWithPassword(current_password);
  if (!unlocked) return Fail(unlocked.error());
  auto info = GetServerInfo();
  if (!info) return Fail(info.error());
  crypto::KdfParams kdf = RegistrationKdf(info->kdf_minimum);
  kdf.ops = std::max(kdf.ops, unlocked->account.kdf.ops);
  kdf.mem = std::max(kdf.mem, unlocked->account.kdf.mem);
  crypto::Bytes new_salt = crypto::RandomBytes(crypto::kSaltSize);
  auto new_keys = DeriveAccountKeys(new_password, new_salt, kdf);
  if (!new_keys) return Fail(new_keys.error());
  Json body = Json::object();
  body["auth_key"] = SecretB64(unlocked->keys.auth.span());
  body["new_kdf"] = KdfToJson(kdf);
  body["new_salt"] = B64(new_salt);
  body["new_auth_key"] = SecretB64(new_keys->auth.span());
  body["new_wrapped_vault_key"] =
      B64(WrapVaultKey(new_keys->enc, unlocked->account.id, unlocked->vault_key));
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
  auto r = http_->Call("POST", "/v1/account/password", body, token_);
  if (!r) return Fail(r.error());
  return {};
}

Status Client::DeleteAccount(const crypto::SecureBytes& password) {
  auto unlocked = UnlockWithPassword(password);
  if (!unlocked) return Fail(unlocked.error());
  Json body = Json::object();
  body["auth_key"] = SecretB64(unlocked->keys.auth.span());
  auto r = http_->Call("DELETE", "/v1/account", body, token_);
  if (!r) return Fail(r.error());
  token_.clear();
  return {};
}

Result<TotpEnrolment> Client::BeginTotp(const crypto::SecureBytes& password) {
  auto unlocked = UnlockWithPassword(password);
  if (!unlocked) return Fail(unlocked.error());
  Json body = Json::object();
  body["auth_key"] = SecretB64(unlocked->keys.auth.span());
  auto r = http_->Call("POST", "/v1/account/2fa/totp", body, token_);
  if (!r) return Fail(r.error());
  auto secret = JsonSecret(r->body, "secret");
  if (!secret) return Fail(secret.error());
  auto uri = JsonSecret(r->body, "uri");
  if (!uri) return Fail(uri.error());
  return TotpEnrolment{std::move(*secret), std::move(*uri)};
}

Result<std::vector<crypto::SecureBytes>> Client::ConfirmTotp(const crypto::SecureBytes& code) {
  Json body = Json::object();
  body["code"] = Json(ToSecretString(code));
  auto r = http_->Call("POST", "/v1/account/2fa/totp/confirm", body, token_);
  if (!r) return Fail(r.error());
  if (!r->body.contains("recovery_codes") || !r->body["recovery_codes"].is_array()) {
    return Fail(Error::Unavailable("server.bad_response", "no recovery codes in the answer"));
  }
  std::vector<crypto::SecureBytes> codes;
  for (const Json& c : r->body["recovery_codes"]) {
    if (c.is_string()) codes.push_back(ToSecureBytes(c.get_ref<const SecretString&>()));
  }
  return codes;
}

Status Client::DisableTotp(const crypto::SecureBytes& password) {
  auto unlocked = UnlockWithPassword(password);
  if (!unlocked) return Fail(unlocked.error());
  Json body = Json::object();
  body["auth_key"] = SecretB64(unlocked->keys.auth.span());
  auto r = http_->Call("DELETE", "/v1/account/2fa/totp", body, token_);
  if (!r) return Fail(r.error());
  return {};
}

Result<std::vector<EncryptedItem>> Client::ListEncryptedItems() {
  auto r = http_->Call("GET", "/v1/items", std::nullopt, token_);
  if (!r) return Fail(r.error());
  if (!r->body.contains("items") || !r->body["items"].is_array()) {
    return Fail(Error::Unavailable("server.bad_response", "no items in the answer"));
  }
  std::vector<EncryptedItem> out;
  for (const Json& j : r->body["items"]) {
    auto it = ParseItem(j);
    if (!it) return Fail(it.error());
    out.push_back(std::move(*it));
  }
  return out;
}

Result<std::vector<Item>> Client::ListItems(const crypto::VaultKey& uk,
                                            std::string_view account_id) {
  auto enc = ListEncryptedItems();
  if (!enc) return Fail(enc.error());
  std::vector<Item> out;
  for (const auto& e : *enc) {
    auto it = DecryptParsed(uk, account_id, e);
    if (!it) return Fail(it.error());
    out.push_back(std::move(*it));
  }
  return out;
}

Result<Item> Client::GetItem(const crypto::VaultKey& uk, std::string_view account_id,
                             std::string_view item_id) {
  if (auto st = CheckId("item", item_id); !st) return Fail(st.error());
  auto r = http_->Call("GET", fmt::format("/v1/items/{}", item_id), std::nullopt, token_);
  if (!r) return Fail(r.error());
  auto e = ParseItem(r->body);
  if (!e) return Fail(e.error());
  if (e->id != item_id) {
    return Fail(Error::Unavailable("server.bad_response", "the server answered another item"));
  }
  return DecryptParsed(uk, account_id, *e);
}

Result<Item> Client::AddItem(const crypto::VaultKey& uk, std::string_view account_id,
                             const ItemFields& fields, std::optional<std::string> item_id) {
  std::string id = item_id ? *item_id : NewItemId();
  Json body = Json::object();
  body["id"] = Str(id);
  body["data"] = B64(EncryptItem(uk, account_id, id, fields));
  auto r = http_->Call("POST", "/v1/items", body, token_);
  if (!r) return Fail(r.error());
  auto e = ParseItem(r->body);
  if (!e) return Fail(e.error());
  return Item{e->id, e->revision, e->created_at, e->updated_at, fields.Clone()};
}

Result<Item> Client::UpdateItem(const crypto::VaultKey& uk, std::string_view account_id,
                                std::string_view item_id, int64_t revision,
                                const ItemFields& fields) {
  if (auto st = CheckId("item", item_id); !st) return Fail(st.error());
  Json body = Json::object();
  body["revision"] = revision;
  body["data"] = B64(EncryptItem(uk, account_id, item_id, fields));
  auto r = http_->Call("PUT", fmt::format("/v1/items/{}", item_id), body, token_);
  if (!r) return Fail(Stale(r.error(), item_id));
  auto e = ParseItem(r->body);
  if (!e) return Fail(e.error());
  return Item{e->id, e->revision, e->created_at, e->updated_at, fields.Clone()};
}

Status Client::DeleteItem(std::string_view item_id) {
  if (auto st = CheckId("item", item_id); !st) return Fail(st.error());
  auto r = http_->Call("DELETE", fmt::format("/v1/items/{}", item_id), std::nullopt, token_);
  if (!r) return Fail(r.error());
  return {};
}

Result<std::vector<Device>> Client::ListDevices() {
  auto r = http_->Call("GET", "/v1/devices", std::nullopt, token_);
  if (!r) return Fail(r.error());
  if (!r->body.contains("devices") || !r->body["devices"].is_array()) {
    return Fail(Error::Unavailable("server.bad_response", "no devices in the answer"));
  }
  std::vector<Device> out;
  for (const Json& j : r->body["devices"]) {
    Device d;
    auto id = JsonString(j, "id");
    if (!id) return Fail(id.error());
    d.id = *id;
    if (auto v = JsonString(j, "name")) d.name = *v;
    if (auto v = JsonString(j, "type")) d.type = *v;
    if (auto v = JsonString(j, "first_seen")) d.first_seen = *v;
    if (auto v = JsonString(j, "last_seen")) d.last_seen = *v;
    if (auto v = JsonBool(j, "active")) d.active = *v;
    if (auto v = JsonBool(j, "current")) d.current = *v;
    out.push_back(std::move(d));
  }
  return out;
}

Status Client::RemoveDevice(std::string_view device_id) {
  if (auto st = CheckId("device", device_id); !st) return Fail(st.error());
  auto r = http_->Call("DELETE", fmt::format("/v1/devices/{}", device_id), std::nullopt, token_);
  if (!r) return Fail(r.error());
  return {};
}

Result<Json> Client::CallJson(std::string_view method, std::string_view path,
                              const std::optional<Json>& body) {
  auto r = http_->Call(method, path, body, token_);
  if (!r) return Fail(r.error());
  return std::move(r->body);
}

}  // namespace keyward::client
