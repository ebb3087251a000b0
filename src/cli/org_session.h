// What the org, recovery and events command groups share: a signed-in
// session with an organization client, choosing the organization (--org),
// checking it against this device's pin, and a few display helpers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/context.h"
#include "keyward/org.h"
#include "keyward/recovery.h"

namespace keyward::cli {

// Not movable: the OrgClient refers to the client and the vault key it holds.
class OrgSession {
 public:
  // `with_keys`: the vault key ($KEYWARD_SESSION, else the master password)
  // and the member key pair, for commands that seal or open something.
  // Without them the organization client holds throwaway keys and can only
  // read, verify and make requests that carry no key material.
  [[nodiscard]] static Result<std::unique_ptr<OrgSession>> Open(Context& ctx, bool with_keys);
  OrgSession(const OrgSession&) = delete;
  OrgSession& operator=(const OrgSession&) = delete;

  client::Profile& profile() { return profile_; }
  client::Client& client() { return client_; }
  client::OrgClient& org() { return *org_; }
  const crypto::VaultKey& vault_key() const { return vault_key_; }

  // The member's own keys from $KEYWARD_SESSION, else the master password:
  // for commands that check what they can first and unlock only then.
  [[nodiscard]] Status UnlockKeys(Context& ctx);
  // Replaces the keys with the member's own (after a master password
  // re-check, which also gives the vault key).
  [[nodiscard]] Status UseKeys(crypto::VaultKey vault_key, const client::Account& account);
  // The master password re-check: asks for it, unlocks, keeps the keys and
  // returns the auth key (proof of the password for the server).
  [[nodiscard]] Result<crypto::AuthKey> RecheckPassword(Context& ctx);

  // --org ID_OR_NAME (an id, or a name, case-insensitive), else the only
  // organization the caller belongs to.
  [[nodiscard]] Result<client::Org> ResolveOrg(std::string_view flag);
  // The organization checked against this device's pin; the advanced pin is
  // saved. org.not_pinned (with the command to run) when there is none.
  [[nodiscard]] Result<client::VerifiedOrg> VerifyPinned(Context& ctx, const client::Org& org);
  // ResolveOrg + VerifyPinned.
  [[nodiscard]] Result<client::VerifiedOrg> ResolveVerified(Context& ctx, std::string_view flag);
  // A member by email or account id.
  [[nodiscard]] Result<client::OrgMember> Member(std::string_view org_id,
                                                 std::string_view id_or_email);

 private:
  OrgSession(client::Profile profile, client::Client client);

  client::Profile profile_;
  client::Client client_;
  crypto::VaultKey vault_key_;
  std::optional<client::OrgClient> org_;
};

// Fresh escrows for every organization the account is enrolled in (master
// password change), verified against the profile's pins.
[[nodiscard]] Result<std::vector<client::EscrowForOrg>> FreshEscrowsFor(
    client::Client& client, const crypto::VaultKey& vault_key, const client::Account& account,
    const client::Profile& profile);

// "1a2b3c4d 5e6f7a8b ..." from any spacing or case (colons and dashes too);
// nullopt when it is not 40 hex digits (keyward/recovery.h).
using client::NormalizeFingerprint;

// Unix seconds as RFC 3339 UTC ("2026-11-21T21:20:00Z").
std::string FormatTime(int64_t unix_seconds);
// RFC 3339 ("...Z" or "...+hh:mm") -> unix seconds; cli.usage otherwise.
[[nodiscard]] Result<int64_t> ParseTime(std::string_view text, std::string_view option);

// Columns padded to the widest cell; the first row is the header.
void PrintTable(Context& ctx, const std::vector<std::vector<std::string>>& rows);

// Display of organization objects, shared by the org, recovery and events
// commands.
std::string Lower(std::string_view s);
std::string RoleText(std::string_view role, std::string_view permissions);
std::string EnrollmentText(const client::Enrollment& e);
client::Json EnrollmentJson(const client::Enrollment& e);
client::Json PolicyJson(const protocol::RecoveryPolicy& p);
client::Json OrgJson(const client::Org& o);
void PrintPolicy(Context& ctx, const protocol::RecoveryPolicy& p);

// A yes/no confirmation that cancels the command on "no".
[[nodiscard]] Status ConfirmOrCancel(Context& ctx, std::string_view question,
                                     std::string_view nothing_done);
// A fingerprint comparison where leaving something out is safe (redeem,
// rotation): --yes or no answer on standard input count as no, since
// nothing is sealed to a key the person did not confirm.
[[nodiscard]] Result<bool> ConfirmFingerprintOrNo(Context& ctx, std::string_view question,
                                                  std::string_view flag_hint);
// The same for a fingerprint comparison, which --yes does not answer (the
// command's --fingerprint option gives it instead).
[[nodiscard]] Status ConfirmFingerprintOrCancel(Context& ctx, std::string_view question,
                                                std::string_view nothing_done);

}  // namespace keyward::cli
