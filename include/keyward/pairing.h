// Keyward client library, device pairing (docs/recovery.md "Pair with a
// device", docs/protocol.md "Device pairing", docs/api.md "Device pairing").
// The signed-in device (PairingShower) shows a 6-digit code; the new device
// (PairingJoiner) types it. CPace runs between the two through the server,
// which sees group elements only; the vault key leaves the signed-in device
// sealed under the key only the two devices share, and only after the new
// device proved it typed the code and the user said yes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"
#include "keyward/client.h"
#include "protocol/pairing.h"

namespace keyward::client {

// What the signed-in device shows its user before releasing the vault key.
struct PairingAnswerInfo {
  std::string device_name;  // bound into the confirmation: the server cannot change it
  std::string device_type;
  std::string remote_address;  // as the server saw it (not bound)
};

class PairingShower {
 public:
  // POST /v1/pairings: a fresh code, session id and id for the new device.
  [[nodiscard]] static Result<PairingShower> Start(Client& client, std::string account_id,
                                                   std::string device_id);
  // The code to show, six digits.
  const crypto::SecureBytes& code() const { return code_; }
  const std::string& id() const { return id_; }
  const std::string& expires_at() const { return expires_at_; }
  int64_t expires_in() const { return expires_in_; }  // seconds, by the server's clock

  // GET /v1/pairings/{id}: nullopt while no answer came; the answer once it
  // did and its confirmation checked out. A wrong code (or an answer the
  // relay changed) closes the pairing on the server and is
  // "pair.wrong_code"; "pair.expired" after the code's lifetime.
  [[nodiscard]] Result<std::optional<PairingAnswerInfo>> Poll();
  // The user said yes: POST .../release with Ta and the sealed vault key.
  [[nodiscard]] Status Release(const crypto::VaultKey& vault_key);
  // The user said no (or gave up): POST .../close.
  [[nodiscard]] Status Close();

 private:
  PairingShower(Client& client, protocol::pairing::ShowingSide side, crypto::SecureBytes code,
                std::string id)
      : client_(&client), side_(std::move(side)), code_(std::move(code)), id_(std::move(id)) {}

  Client* client_;
  protocol::pairing::ShowingSide side_;
  crypto::SecureBytes code_;
  std::string id_;
  std::string expires_at_;
  int64_t expires_in_ = 0;
  bool checked_ = false;
};

// The new device's session once the pairing is done.
struct PairedSession {
  std::string token;
  std::string expires_at;
  std::string device_id;
  Account account;
  crypto::VaultKey vault_key;
};

class PairingJoiner {
 public:
  // POST /v1/pairings/lookup with the email, then .../answer with Yb, Tb
  // and a fresh claim secret. A code that is not six digits is refused here,
  // before it costs the one try ("pair.bad_code").
  [[nodiscard]] static Result<PairingJoiner> Answer(Client& client, std::string_view email,
                                                    std::string_view typed_code,
                                                    protocol::pairing::JoiningDevice device);
  const std::string& id() const { return id_; }
  const std::string& device_id() const { return ids_.joining_device_id; }
  int64_t expires_in() const { return expires_in_; }

  // POST .../pickup: nullopt while the signed-in device has not decided;
  // the session once it released and Ta checked out ("pair.wrong_code"
  // otherwise). "pair.closed" when it said no or the code was wrong,
  // "pair.expired" after the code's lifetime.
  [[nodiscard]] Result<std::optional<PairedSession>> Poll();
  // Tickets of a single sign-on made on this device first (Client::
  // SsoFinish), sent with each pickup: a member of an organization that
  // requires SSO needs them.
  void set_sso_tickets(std::vector<std::string> tickets) { sso_tickets_ = std::move(tickets); }

 private:
  PairingJoiner(Client& client, protocol::pairing::JoiningSide side,
                protocol::pairing::PairingIds ids, std::string id, crypto::Bytes claim)
      : client_(&client),
        side_(std::move(side)),
        ids_(std::move(ids)),
        id_(std::move(id)),
        claim_(std::move(claim)) {}

  Client* client_;
  protocol::pairing::JoiningSide side_;
  protocol::pairing::PairingIds ids_;
  std::string id_;
  crypto::Bytes claim_;
  int64_t expires_in_ = 0;
  std::vector<std::string> sso_tickets_;
};

}  // namespace keyward::client
