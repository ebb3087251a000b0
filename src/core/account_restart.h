// "Create a new account" (docs/recovery.md "Start over with a new vault"):
// when no other path works, the member proves the mailbox with an emailed
// code and acknowledges that the old vault is gone; the account (its id,
// email and organization memberships) stays, with a fresh vault key, an
// empty vault and new keys. In one transaction: every item deleted, every
// device deactivated and session ended, every escrow and recovery-key grant
// of the member dropped (they open nothing any more), an open recovery
// request cancelled, open pairings closed;
// two-step login stays on. Re-enrollment follows each organization's policy.
#pragma once

#include <string>
#include <string_view>

#include "core/accounts.h"
#include "core/context.h"
#include "core/credentials.h"

namespace keyward::core {

inline constexpr char kRestartCodePurpose[] = "restart";           // subject: email key + address
inline constexpr char kRestartTicketPurpose[] = "restart-ticket";  // subject: H(ticket)
inline constexpr int64_t kRestartTicketTtl = 15 * 60;

struct RestartTicket {
  crypto::SecureBytes ticket;  // 32 random bytes, shown once
  std::string account_id;      // the client wraps the new keys for it
  int64_t expires_at = 0;
};

// The new keys, made by the client as at registration (for the same id).
struct RestartMaterial {
  crypto::KdfParams kdf;
  store::Bytes salt;
  crypto::AuthKey auth_key;
  store::Bytes wrapped_vault_key;
  store::Bytes public_key;
  store::Bytes wrapped_private_key;
};

class AccountRestartService {
 public:
  AccountRestartService(const Context& ctx, const Credentials& credentials)
      : ctx_(ctx), credentials_(credentials) {}

  // Emails a code to a verified account; the same answer and work for any
  // email. account.code_limit (429) when the allowance is spent
  // (Credentials::SpendCodeAllowance).
  [[nodiscard]] Status Ask(std::string_view email, std::string_view remote_address);
  // The code → a ticket for Complete. account.invalid_code (400) for a
  // wrong, expired or used code (5 tries), request.rate_limited.
  [[nodiscard]] Result<RestartTicket> Verify(std::string_view email, std::string_view code,
                                             std::string_view remote_address);
  // Starts over, as described above. account.invalid_ticket (400).
  [[nodiscard]] Status Complete(std::span<const uint8_t> ticket, const RestartMaterial& material,
                                std::string_view remote_address);

 private:
  const Context& ctx_;
  const Credentials& credentials_;
};

}  // namespace keyward::core
