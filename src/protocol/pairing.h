// Device pairing (docs/protocol.md "Device pairing"): a signed-in device A
// shows a 6-digit code, the new device B types it, and the two run CPace
// (crypto/cpace.h) through the server, which relays group elements only.
//
//   CI   = lv_cat("keyward/v1/pair", account_id, shown_device_id,
//                 joining_device_id)
//   sid  = 16 random bytes drawn by A (also the pairing's id on the server)
//   ADa  = "keyward/v1/pair/a"; ADb = lv_cat("keyward/v1/pair/b", name, type)
//   ISK  = CPace ISK (initiator A, responder B)
//   Kb   = HMAC-SHA-512(ISK, "keyward/v1/pair/confirm-b"), Tb = HMAC-SHA-512(Kb, transcript)
//   Ka   = HMAC-SHA-512(ISK, "keyward/v1/pair/confirm-a"), Ta = HMAC-SHA-512(Ka, transcript)
//   Kp   = HMAC-SHA-512(ISK, "keyward/v1/pair/payload")[0..32)
//   P    = Enc(Kp, 0x01 ‖ UK, Ad("keyward/v1/pair/payload", account_id, joining_device_id, sid))
//
// A sends Ya; B answers Yb and Tb (B knows the code, or Tb is wrong); A
// checks Tb, asks its user, then sends Ta and P; B checks Ta before it
// opens P. Both device ids are in CI (A draws B's id when it starts), so a
// server that swaps either one makes the confirmation fail. Each side is
// one-shot: after any failure the object refuses every further call, and
// the server keeps one answer per pairing, so one code allows one guess.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol::pairing {

inline constexpr size_t kSidSize = 16;
inline constexpr size_t kCodeDigits = 6;
inline constexpr size_t kConfirmationSize = 64;
inline constexpr size_t kMaxDeviceNameSize = 64;

// What both sides must agree on; CI is built from it.
struct PairingIds {
  std::string account_id;
  crypto::Bytes sid;
  std::string shown_device_id;    // A, the signed-in device
  std::string joining_device_id;  // B, drawn by A when it starts
};

// The new device's own description, bound into ADb.
struct JoiningDevice {
  std::string name;
  std::string type = "cli";
};

// The code as typed ("123 456", "123-456" or "123456") → its six digits;
// anything else is "pair.bad_code" (refused before it costs the one guess).
[[nodiscard]] Result<crypto::SecureBytes> NormalizeCode(std::string_view typed);

crypto::Bytes ChannelIdentifier(const PairingIds& ids);
crypto::Bytes JoiningAd(const JoiningDevice& device);

// A's step 3: what travels to B once its user said yes.
struct Release {
  crypto::Bytes confirmation;  // Ta
  crypto::Bytes payload;       // P
};

// Side A: the signed-in device that shows the code.
class ShowingSide {
 public:
  // Draws ya; the code is RandomDigits(6) from the caller (shown to the user).
  [[nodiscard]] static Result<ShowingSide> Start(PairingIds ids, const crypto::SecureBytes& code);
  const crypto::Bytes& message() const { return ya_; }  // Ya
  const PairingIds& ids() const { return ids_; }

  // B's answer. "pair.bad_point" for an invalid, identity or reflected
  // point; "pair.wrong_code" when Tb does not verify (a wrong code, or a
  // relay that changed something). Either way this side is spent.
  [[nodiscard]] Status Check(std::span<const uint8_t> yb, const JoiningDevice& device,
                             std::span<const uint8_t> tb);
  // After a successful Check only: Ta and the vault key for B.
  [[nodiscard]] Result<Release> Seal(const crypto::VaultKey& vault_key);

 private:
  PairingIds ids_;
  crypto::Bytes generator_;
  crypto::SecureBytes scalar_;
  crypto::Bytes ya_;
  std::optional<crypto::SecureBytes> isk_;
  crypto::Bytes transcript_;
  bool spent_ = false;
};

// Side B: the new device that typed the code.
class JoiningSide {
 public:
  // Computes Yb, ISK and Tb from A's Ya. "pair.bad_point" for an invalid
  // or identity Ya.
  [[nodiscard]] static Result<JoiningSide> Answer(PairingIds ids, const crypto::SecureBytes& code,
                                                  JoiningDevice device,
                                                  std::span<const uint8_t> ya);
  const crypto::Bytes& message() const { return yb_; }       // Yb
  const crypto::Bytes& confirmation() const { return tb_; }  // Tb
  const JoiningDevice& device() const { return device_; }

  // A's release: checks Ta ("pair.wrong_code" when it does not verify),
  // then opens P. Spent afterwards, whatever the outcome.
  [[nodiscard]] Result<crypto::VaultKey> Receive(const Release& release);

 private:
  PairingIds ids_;
  JoiningDevice device_;
  crypto::Bytes yb_;
  crypto::Bytes tb_;
  crypto::SecureBytes isk_;
  crypto::Bytes transcript_;
  bool spent_ = false;
};

}  // namespace keyward::protocol::pairing
