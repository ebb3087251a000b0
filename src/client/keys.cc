// Client-side key handling of docs/protocol.md ("Account keys").
#include <algorithm>
#include <array>
#include <optional>

#include <fmt/format.h>

#include "client/item_list.h"
#include "client/secret_json.h"
#include "common/try.h"
#include "crypto/registration_kdf.h"
#include "keyward/client.h"

namespace keyward::client {
namespace {

constexpr std::string_view kUkLabel = "keyward/v1/uk";
constexpr std::string_view kSkLabel = "keyward/v1/sk";
constexpr std::string_view kItemLabel = "keyward/v1/item";
constexpr std::string_view kSessionLabel = "keyward/v1/session";

}  // namespace

Status CheckKdfFloor(const crypto::KdfParams& params) {
  if (params.ops < crypto::kClientFloorKdf.ops || params.mem < crypto::kClientFloorKdf.mem) {
    return Fail(Error::PermissionDenied(
        "kdf.too_weak_from_server",
        fmt::format("the server asked for key derivation parameters below this client's floor "
                    "(ops {} < {} or memory {} < {} bytes); refusing, the server may be "
                    "malicious",
                    params.ops, crypto::kClientFloorKdf.ops, params.mem,
                    crypto::kClientFloorKdf.mem)));
  }
  return {};
}

crypto::KdfParams RegistrationKdf(const crypto::KdfParams& server_minimum) {
  return crypto::RegistrationKdf(server_minimum);
}

Result<crypto::AccountKeys> DeriveAccountKeys(const crypto::SecureBytes& password,
                                              std::span<const uint8_t> salt,
                                              const crypto::KdfParams& kdf) {
  KW_TRY(CheckKdfFloor(kdf));
  if (salt.size() != crypto::kSaltSize) {
    return Fail(Error::Unavailable("server.bad_response", "the account salt has the wrong size"));
  }
  KW_ASSIGN_OR_RETURN(auto mk, crypto::DeriveMasterKey(password.view(), salt, kdf));
  return crypto::SplitMasterKey(mk);
}

crypto::Bytes WrapVaultKey(const crypto::EncryptionKey& ek, std::string_view account_id,
                           const crypto::VaultKey& uk) {
  return crypto::Encrypt(ek.span(), uk.span(), crypto::Ad({kUkLabel, account_id}));
}

Result<crypto::VaultKey> UnwrapVaultKey(const crypto::EncryptionKey& ek,
                                        std::string_view account_id,
                                        std::span<const uint8_t> wrapped) {
  auto uk = crypto::Decrypt(ek.span(), wrapped, crypto::Ad({kUkLabel, account_id}));
  if (!uk || uk->size() != crypto::VaultKey::kSize) {
    return Fail(Error::Unauthenticated("client.wrong_password",
                                       "the master password does not unlock this vault"));
  }
  return crypto::VaultKey(std::move(*uk));
}

crypto::Bytes ProtectVaultKey(const crypto::SessionKey& session_key, std::string_view account_id,
                              const crypto::VaultKey& uk) {
  return crypto::Encrypt(session_key.span(), uk.span(), crypto::Ad({kSessionLabel, account_id}));
}

Result<crypto::VaultKey> UnprotectVaultKey(const crypto::SessionKey& session_key,
                                           std::string_view account_id,
                                           std::span<const uint8_t> protected_key) {
  auto uk =
      crypto::Decrypt(session_key.span(), protected_key, crypto::Ad({kSessionLabel, account_id}));
  if (!uk || uk->size() != crypto::VaultKey::kSize) {
    return Fail(Error::Unauthenticated("client.bad_session_key",
                                       "KEYWARD_SESSION does not unlock this profile"));
  }
  return crypto::VaultKey(std::move(*uk));
}

Result<RegistrationMaterial> MakeRegistration(const crypto::SecureBytes& password,
                                              const crypto::KdfParams& kdf) {
  return MakeRegistrationFor(password, kdf, crypto::RandomArgSafeId(16));
}

Result<RegistrationMaterial> MakeRegistrationFor(const crypto::SecureBytes& password,
                                                 const crypto::KdfParams& kdf,
                                                 std::string account_id) {
  RegistrationMaterial m;
  m.account_id = std::move(account_id);
  m.kdf = kdf;
  m.salt = crypto::RandomBytes(crypto::kSaltSize);
  KW_ASSIGN_OR_RETURN(auto keys, DeriveAccountKeys(password, m.salt, kdf));
  m.auth_key = std::move(keys.auth);
  m.vault_key = crypto::VaultKey::Random();
  m.wrapped_vault_key = WrapVaultKey(keys.enc, m.account_id, m.vault_key);
  crypto::BoxKeyPair pair = crypto::GenerateBoxKeyPair();
  m.public_key = std::move(pair.public_key);
  m.wrapped_private_key = crypto::Encrypt(m.vault_key.span(), pair.secret_key.span(),
                                          crypto::Ad({kSkLabel, m.account_id}));
  return m;
}

ItemFields ItemFields::Clone() const {
  return {name, username, password.Clone(), url, notes.Clone()};
}

std::string NewItemId() { return crypto::RandomArgSafeId(16); }

crypto::Bytes EncryptItem(const crypto::VaultKey& uk, std::string_view account_id,
                          std::string_view item_id, const ItemFields& fields) {
  Json j = Json::object();
  j["name"] = Str(fields.name);
  j["username"] = Str(fields.username);
  j["password"] = Json(ToSecretString(fields.password));
  j["url"] = Str(fields.url);
  j["notes"] = Json(ToSecretString(fields.notes));
  SecretString text = j.dump();
  return crypto::Encrypt(uk.span(), {reinterpret_cast<const uint8_t*>(text.data()), text.size()},
                         crypto::Ad({kItemLabel, account_id, item_id}));
}

bool ItemOpens(const crypto::VaultKey& uk, std::string_view account_id, std::string_view item_id,
               std::span<const uint8_t> blob) {
  return crypto::Decrypt(uk.span(), blob, crypto::Ad({kItemLabel, account_id, item_id}))
      .has_value();
}

namespace {

// Reads an item's plaintext, a JSON object, into ItemFields without
// building a tree (a listing opens thousands): the top-level members named
// below count, the last of a name wins (as in a parsed object), a member of
// another type than string leaves its field empty, anything else is
// skipped. The lexer's buffers are the wiping SecretString.
class ItemFieldsReader {
 public:
  explicit ItemFieldsReader(ItemFields& fields) : fields_(fields) {}

  bool null() { return Scalar(); }
  bool boolean(bool) { return Scalar(); }
  bool number_integer(Json::number_integer_t) { return Scalar(); }
  bool number_unsigned(Json::number_unsigned_t) { return Scalar(); }
  // (The lexer gives the number's text as SecretString, the binary formats'
  // reader, instantiated beside it, as std::string.)
  template <class Text>
  bool number_float(Json::number_float_t, const Text&) {
    return Scalar();
  }
  bool binary(Json::binary_t&) { return Scalar(); }
  bool string(Json::string_t& s) {
    if (depth_ == 0) return false;
    if (depth_ == 1) Set(std::string_view(s.data(), s.size()));
    return true;
  }
  bool start_object(std::size_t) {
    if (depth_ == 1) Set(std::nullopt);
    ++depth_;
    return true;
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 0) return false;
    if (depth_ == 1) Set(std::nullopt);
    ++depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(Json::string_t& k) {
    if (depth_ != 1) return true;
    const std::string_view name(k.data(), k.size());
    field_ = name == "name"       ? Field::kName
             : name == "username" ? Field::kUsername
             : name == "password" ? Field::kPassword
             : name == "url"      ? Field::kUrl
             : name == "notes"    ? Field::kNotes
                                  : Field::kNone;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  enum class Field { kNone, kName, kUsername, kPassword, kUrl, kNotes };

  // A number, boolean or null: at the top, not an item.
  bool Scalar() {
    if (depth_ == 0) return false;
    if (depth_ == 1) Set(std::nullopt);
    return true;
  }
  // The current member's value: a string, or (nullopt) anything else.
  void Set(std::optional<std::string_view> value) {
    const std::string_view v = value.value_or(std::string_view());
    switch (field_) {
      case Field::kName:
        fields_.name.assign(v);
        break;
      case Field::kUsername:
        fields_.username.assign(v);
        break;
      case Field::kUrl:
        fields_.url.assign(v);
        break;
      case Field::kPassword:
        fields_.password = crypto::SecureBytes::Copy(v);
        break;
      case Field::kNotes:
        fields_.notes = crypto::SecureBytes::Copy(v);
        break;
      case Field::kNone:
        break;
    }
    field_ = Field::kNone;
  }

  ItemFields& fields_;
  int depth_ = 0;
  Field field_ = Field::kNone;
};

}  // namespace

Result<ItemFields> DecryptItem(const crypto::VaultKey& uk, std::string_view account_id,
                               std::string_view item_id, std::span<const uint8_t> blob) {
  // The additional data on the stack when it fits: a listing opens
  // thousands of items.
  std::array<uint8_t, 256> ad_buffer;
  crypto::Bytes ad_heap;
  auto ad = crypto::AdInto(ad_buffer, {kItemLabel, account_id, item_id});
  if (!ad) {
    ad_heap = crypto::Ad({kItemLabel, account_id, item_id});
    ad = ad_heap;
  }
  auto plain = crypto::Decrypt(uk.span(), blob, *ad);
  if (!plain) {
    return Fail(Error::PermissionDenied(
        "item.decrypt_failed",
        fmt::format("item {} does not decrypt with this vault key (tampered or moved)", item_id)));
  }
  ItemFields f;
  const std::string_view text = plain->view();
  if (ReadPlainItemFields(text, f)) return f;
  ItemFieldsReader reader(f);
  if (!Json::sax_parse(text.data(), text.data() + text.size(), &reader)) {
    return Fail(
        Error::Internal("item.bad_plaintext",
                        fmt::format("item {} decrypts to something that is not an item", item_id)));
  }
  return f;
}

Result<crypto::SecureBytes> GeneratePassword(int length) {
  if (length < kMinPasswordLength || length > kMaxPasswordLength) {
    return Fail(Error::InvalidArgument("client.bad_length",
                                       fmt::format("password length must be between {} and {}",
                                                   kMinPasswordLength, kMaxPasswordLength)));
  }
  crypto::SecureBytes out(static_cast<size_t>(length));
  for (int i = 0; i < length; ++i) {
    out.data()[i] = static_cast<uint8_t>(
        kPasswordAlphabet[crypto::RandomUniform(static_cast<uint32_t>(kPasswordAlphabet.size()))]);
  }
  return out;
}

crypto::SecureBytes SecretBase64Url(std::span<const uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  crypto::SecureBytes out((bytes.size() * 4 + 2) / 3);
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out.data()[o++] = kAlphabet[(v >> 18) & 63];
    out.data()[o++] = kAlphabet[(v >> 12) & 63];
    out.data()[o++] = kAlphabet[(v >> 6) & 63];
    out.data()[o++] = kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = bytes[i] << 16;
    if (rest == 2) v |= bytes[i + 1] << 8;
    out.data()[o++] = kAlphabet[(v >> 18) & 63];
    out.data()[o++] = kAlphabet[(v >> 12) & 63];
    if (rest == 2) out.data()[o++] = kAlphabet[(v >> 6) & 63];
  }
  return out;
}

}  // namespace keyward::client
