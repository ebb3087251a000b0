// Registration with an emailed code, pre-login, the signed-in owner's view of
// the account, master password change and account deletion.
#pragma once

#include <string>
#include <string_view>

#include "core/context.h"
#include "core/credentials.h"
#include "crypto/crypto.h"

namespace keyward::core {

struct Registration {
  std::string id;  // base64url of 16 client-chosen random bytes
  std::string email;
  crypto::KdfParams kdf;
  store::Bytes salt;  // 16
  crypto::AuthKey auth_key;
  store::Bytes wrapped_vault_key;
  store::Bytes public_key;  // 32
  store::Bytes wrapped_private_key;
  std::string remote_address;
};

struct PreloginAnswer {
  crypto::KdfParams kdf;
  store::Bytes salt;
};

struct PasswordChange {
  crypto::AuthKey auth_key;  // current
  crypto::KdfParams new_kdf;
  store::Bytes new_salt;
  crypto::AuthKey new_auth_key;
  store::Bytes new_wrapped_vault_key;
};

class AccountService {
 public:
  AccountService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // Answers the same for a new and an existing email: a code goes to a new
  // address, a notice to the owner of an existing one. Fails with
  // mail.unavailable (503) when that email cannot be sent.
  [[nodiscard]] Status Register(const Registration& registration);
  // verify.invalid_code for every kind of failure.
  [[nodiscard]] Status Verify(std::string_view email, std::string_view code);
  // Sends a fresh code to an unverified account; does nothing otherwise.
  [[nodiscard]] Status Resend(std::string_view email, std::string_view remote_address);
  [[nodiscard]] Result<PreloginAnswer> Prelogin(std::string_view email);

  [[nodiscard]] Result<store::Account> Get(const Caller& caller);
  // Replaces salt, KDF, verifier and wrapped vault key at once and signs out
  // every other session.
  [[nodiscard]] Status ChangePassword(const Caller& caller, const PasswordChange& change);
  // Removes the account with everything it owns; the email is free again.
  [[nodiscard]] Status Delete(const Caller& caller, const crypto::AuthKey& auth_key);

 private:
  [[nodiscard]] Status CheckRegisterRate(std::string_view remote_address);
  // Counts one email to this address; false when over the hourly limit.
  [[nodiscard]] Result<bool> MayMail(store::Tx& tx, std::string_view email);

  const Context& ctx_;
  const Credentials& credentials_;
};

inline constexpr char kRegisterPurpose[] = "register";

// H(code key, challenge || code).
store::Bytes HashEmailCode(const Context& ctx, std::span<const uint8_t> challenge,
                           std::string_view code);

}  // namespace keyward::core
