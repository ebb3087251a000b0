// The server's half of device pairing (docs/protocol.md "Device pairing",
// docs/recovery.md "Pair with a device"): it relays the CPace messages of
// the signed-in device A and the new device B, keeps one answer per
// pairing, and hands B a session once A released the sealed vault key. It
// never sees the code, ISK or the vault key.
//
// Uniform answers: Lookup answers every email alike. An email with no
// waiting pairing (or no account) gets a decoy — a stored pairing with no
// account, the same for the same email within one lifetime, whose Ya no
// one holds a scalar for — that accepts one answer and is never released.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/context.h"
#include "core/domain.h"
#include "crypto/crypto.h"

namespace keyward::core {

struct PairingStart {
  std::string id;  // base64url of A's 16-byte sid
  std::string joining_device_id;
  Bytes ya;
};

// What B learns from the email alone.
struct PairingOffer {
  std::string id;
  std::string account_id;
  std::string shown_device_id;
  std::string joining_device_id;
  Bytes ya;
  int64_t expires_at = 0;
};

struct PairingAnswer {
  std::string id;
  Bytes yb;
  Bytes tb;
  std::string device_name;
  std::string device_type;
  Bytes claim;  // 32 random bytes of B's: the right to pick up the result
  std::string remote_address;
};

// What B's pickup finds: the state, and once released, Ta, P and B's new
// session (the token shown once).
struct PairingPickup {
  PairingState state = PairingState::kAnswered;
  Bytes ta;
  Bytes payload;
  crypto::SecureBytes token;
  int64_t session_expires_at = 0;
  std::string device_id;
  Account account;
};

// Per remote address: enough for a person pairing a few devices, far too
// few to fill the store with decoys or to try codes across pairings.
inline constexpr int64_t kPairingRateWindow = 10 * 60;
inline constexpr int64_t kLookupsPerAddress = 30;
inline constexpr int64_t kAnswersPerAddress = 10;

class PairingService {
 public:
  explicit PairingService(const Context& ctx) : ctx_(ctx) {}

  // A opens a pairing (any earlier open one of the account closes).
  // Errors: pair.bad_request (400), pair.exists (409, the id is taken).
  [[nodiscard]] Result<Pairing> Start(const Caller& caller, const PairingStart& start);
  // B: the waiting pairing of this email, or a decoy (see above).
  // pair.rate_limited (429) past kLookupsPerAddress in kRateWindow.
  [[nodiscard]] Result<PairingOffer> Lookup(std::string_view email,
                                            std::string_view remote_address);
  // B's one answer. pair.not_found (404), pair.expired (410), pair.closed
  // (409: already answered, or closed), pair.rate_limited (429) past
  // kAnswersPerAddress in kRateWindow.
  [[nodiscard]] Status Answer(const PairingAnswer& answer);
  // A reads its pairing (only the device that started it).
  [[nodiscard]] Result<Pairing> Show(const Caller& caller, std::string_view id);
  // A closes it: the code did not verify, or its user said no.
  [[nodiscard]] Status Close(const Caller& caller, std::string_view id);
  // A releases Ta and P after its user said yes; only once answered.
  [[nodiscard]] Status Release(const Caller& caller, std::string_view id, const Bytes& ta,
                               const Bytes& payload);
  // B, with its claim: waiting for A (state answered), closed (pair.closed),
  // expired (pair.expired), or released → B's device and session are made,
  // the pairing is done, the event logged and the owner emailed. A member
  // of an organization that requires SSO brings the tickets of a sign-in at
  // its provider (ApplySsoTickets; auth.sso_required without them, and the
  // pairing stays released so B can pick up again with them).
  [[nodiscard]] Result<PairingPickup> Pickup(std::string_view id, std::span<const uint8_t> claim,
                                             const std::vector<Bytes>& sso_tickets = {});

 private:
  Result<Pairing> Decoy(store::Tx& tx, const std::string& email, int64_t now) const;
  Bytes ClaimHash(std::span<const uint8_t> claim) const;

  const Context& ctx_;
};

}  // namespace keyward::core
