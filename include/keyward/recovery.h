// Keyward client library, recovery requests (docs/api.md "Recovery
// requests"; docs/protocol.md "Approval and redemption"): the member's side
// (ask, confirm, cancel, redeem a link) and the recovery admin's side (list,
// show, approve with the link's cryptography, decline, start).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"
#include "keyward/client.h"
#include "keyward/org.h"
#include "protocol/statement.h"

namespace keyward::client {

class Client;

struct RecoveryApprovalInfo {
  std::string admin_id;
  std::string email;
  std::string at;
};

struct RecoveryRequestInfo {
  std::string id;
  std::string org_id;
  std::string account_id;
  std::string email;
  std::string status;        // pending | approved | link_used | expired | declined
  std::string initiated_by;  // empty: the member
  uint64_t epoch = 0;
  std::string device_name;
  std::string remote_address;
  std::string created_at;
  std::string expires_at;
  int quorum = 1;
  std::vector<RecoveryApprovalInfo> approvals;
  std::string decided_by;
  std::string decided_at;
  std::string decline_reason;
  std::string completed_at;
  // "recovery", "restore" (a cloud backup, docs/recovery.md) or "device"
  // (a new device asks for the vault key, docs/sso.md).
  std::string kind = "recovery";
  std::string snapshot_id;  // a restore's snapshot
  // The approval makes a recovery link (false only for a restore asked for
  // in a session: approving it rolls the vault back at once).
  bool link = true;
  uint64_t item_count = 0;  // a restore asked for in a session: items it stages
  // A device request: the new device's X25519 public key, as the server
  // lists it (the approver compares its fingerprint with the member's).
  crypto::Bytes device_public_key;
  // Only on GET of a pending request the caller may approve.
  std::optional<PendingShare> escrow;
};

// A request as the server answers it (docs/api.md "Request").
[[nodiscard]] Result<RecoveryRequestInfo> ParseRequestInfo(const Json& j);

struct RequestPage {
  std::vector<RecoveryRequestInfo> requests;
  std::optional<std::string> next_after;
};

// A fingerprint as people type it (spaces, ':', '-' and tabs ignored, any
// case) in crypto::Fingerprint's form; nullopt unless it is 40 hex digits.
std::optional<std::string> NormalizeFingerprint(std::string_view text);
// A device request's key against the fingerprint the approver confirmed
// (RecoveryAdmin::Approve's errors).
[[nodiscard]] Status CheckDeviceFingerprint(const RecoveryRequestInfo& request,
                                            std::string_view confirmed);

// "Pending", "Approved", "Link Used", "Expired", "Declined".
std::string_view RequestStatusText(std::string_view status);

// ---- the member, not signed in ----

struct RequestSubmitted {
  std::string request_id;
  std::string status;
  std::string org_name;
  std::string expires_at;
};

// POST /v1/recovery/requests (intent "submit" or "cancel").
[[nodiscard]] Status AskRecoveryCode(Client& client, std::string_view email,
                                     std::string_view device_name, std::string_view intent);
// POST /v1/recovery/requests asking for a cloud restore (kind "restore")
// of `snapshot_id` (empty: the newest when the code is confirmed); then
// ConfirmRecoveryRequest as for a recovery.
[[nodiscard]] Status AskRestoreCode(Client& client, std::string_view email,
                                    std::string_view device_name, std::string_view snapshot_id);
// POST /v1/recovery/requests/confirm after a "submit".
[[nodiscard]] Result<RequestSubmitted> ConfirmRecoveryRequest(Client& client,
                                                              std::string_view email,
                                                              const crypto::SecureBytes& code);
// POST /v1/recovery/requests/confirm after a "cancel".
[[nodiscard]] Status ConfirmRecoveryCancel(Client& client, std::string_view email,
                                           const crypto::SecureBytes& code);

// An organization the server lists at redeem that neither this device's
// pins nor the link's anchor vouch for: shown to the member, who escrows to
// it only after confirming its signing key fingerprint.
struct UnvouchedOrg {
  std::string org_id;
  std::string name;                 // as the server says: display only
  std::string signing_fingerprint;  // crypto::Fingerprint of its first statement's signing key
};
// An organization as the member is asked about it: the fingerprint of the
// signing key its first served statement names (org.statement_unsigned
// when none is served).
[[nodiscard]] Result<UnvouchedOrg> UnvouchedOrgOf(std::string_view org_id, std::string_view name,
                                                  std::span<const SignedStatement> statements);
// true: the member confirmed the fingerprint; false: no escrow for it.
using ConfirmOrgFn = std::function<Result<bool>(const UnvouchedOrg&)>;

// Redeeming a link, in the order of docs/api.md: Begin (the token; the
// server emails a code), Verify (the code; gives U, W, LA and the ticket,
// and recovers the vault key), Complete (the new master password; fresh
// escrows for the organizations the member can vouch for).
//
// The server lists the organizations to escrow to, and a server that lies
// must gain nothing: an organization is escrowed to only when its signed
// statements verify from this device's pin, from the anchor the approving
// admin put inside LA (the request's organization), or from a first
// statement whose signing key fingerprint the member confirmed. Any other
// listed organization gets no escrow (the member's previous escrow there,
// if any, stays as it was) and is reported in `skipped`.
class Redemption {
 public:
  // Parses the link (protocol::ParseLinkText) and checks that its
  // public_url is the server's (recovery.link_other_server otherwise).
  [[nodiscard]] static Result<Redemption> Parse(const crypto::SecureBytes& link_text,
                                                std::string_view server_public_url);

  const std::string& request_id() const { return request_id_; }

  [[nodiscard]] Status Begin(Client& client);
  // Opens LA with the link key (and its organization anchor), E = A xor U,
  // UK = Dec(E, W): a wrong link secret, tampered share or escrow, or an
  // anchor naming another organization than the escrow's is
  // crypto.decrypt_failed.
  [[nodiscard]] Status Verify(Client& client, const crypto::SecureBytes& code);
  // The account's email (known after Verify).
  const std::string& email() const { return email_; }
  // A restore request (kind "restore", known after Verify): StageRestore
  // reads its cloud backup with the ticket, checks it as DecodeSnapshot does
  // (snapshot.h) and stages its items; Complete then rolls the vault back
  // in the same transaction that sets the new password. Returns how many
  // items were staged.
  bool restores() const;
  const std::string& snapshot_id() const;
  [[nodiscard]] Result<uint64_t> StageRestore(
      Client& client, const std::function<void(uint64_t, uint64_t)>& progress = {});
  struct Completed {
    std::vector<std::string> newly_pinned;         // vouched for by the anchor or the member
    std::vector<UnvouchedOrg> skipped;             // listed, not confirmed: not escrowed to
    std::map<std::string, protocol::OrgPin> pins;  // the pins to store
  };
  // `confirm` is asked about each unvouched organization (none: all skipped).
  [[nodiscard]] Result<Completed> Complete(Client& client, const crypto::SecureBytes& new_password,
                                           const std::map<std::string, protocol::OrgPin>& pins,
                                           const ConfirmOrgFn& confirm = {});

  Redemption(Redemption&&) noexcept;
  Redemption& operator=(Redemption&&) noexcept;
  ~Redemption();

 private:
  Redemption();
  struct State;
  std::string request_id_;
  std::string email_;
  std::unique_ptr<State> state_;  // L, T, and after Verify UK, ticket, orgs
};

// ---- the recovery admin (signed in) ----

struct ApproveResult {
  RecoveryRequestInfo request;
  // The link, when this approval completed the quorum; nullopt while more
  // approvals are needed ("1 of 2 approvals").
  std::optional<crypto::SecureBytes> link;
};

class RecoveryAdmin {
 public:
  // `me`: the caller's member key pair, which opens the caller's grant of
  // sk_org (OrgClient keeps its own copy private).
  RecoveryAdmin(Client& client, MemberKeys me) : client_(client), me_(std::move(me)) {}

  [[nodiscard]] Result<RequestPage> List(std::string_view org_id, std::string_view status,
                                         std::string_view after, int limit = 50);
  [[nodiscard]] Result<RecoveryRequestInfo> Get(std::string_view org_id,
                                                std::string_view request_id);
  // GET the request (its escrow share), open the caller's grant (sk_org of
  // the verified org), A = OpenAdminShare (header bound to org, member,
  // epoch), L = CreateLink(A, request, member, epoch), POST approve with T
  // and LA; the link text is <public_url>/recover/<id>#<L>.
  //
  // A device request (kind "device") instead boxes A from sk_org to the
  // device key the request lists, and only when its fingerprint is
  // `device_fingerprint`, the one the member read to the admin off the new
  // device (device.fingerprint_required when empty,
  // device.fingerprint_mismatch otherwise): a server that swapped the key
  // gets nothing.
  [[nodiscard]] Result<ApproveResult> Approve(const VerifiedOrg& org, std::string_view request_id,
                                              std::string_view public_url,
                                              std::string_view device_fingerprint = {});
  [[nodiscard]] Result<RecoveryRequestInfo> Decline(std::string_view org_id,
                                                    std::string_view request_id,
                                                    std::string_view reason);
  // Admin-initiated: creates the request; the caller then Approve()s it.
  [[nodiscard]] Result<RecoveryRequestInfo> Start(std::string_view org_id,
                                                  std::string_view member_id);

 private:
  Client& client_;
  MemberKeys me_;
};

}  // namespace keyward::client
