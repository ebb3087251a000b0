// Wire objects of docs/api.md "Organizations", parsed from and written to the
// client's wiping JSON. Parsing is strict about what the client relies on
// (ids, keys, versions) and lenient about display-only fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "client/secret_json.h"
#include "common/error.h"
#include "common/percent.h"
#include "keyward/client.h"
#include "keyward/org.h"

namespace keyward::client::org_json {

Error BadResponse(std::string_view what);

// Unix seconds now (statements' not_before and their verification).
int64_t Now();
// Unpadded base64url of secret bytes, as wiping JSON.
Json SecretB64(std::span<const uint8_t> bytes);
// A display field: "" when absent or null.
std::string Text(const Json& j, std::string_view key);

[[nodiscard]] Result<uint64_t> U64(const Json& j, std::string_view key);
// Unpadded base64url of public bytes.
Json B64(std::span<const uint8_t> bytes);

[[nodiscard]] Result<Enrollment> ParseEnrollment(const Json& j);
[[nodiscard]] Result<SignedStatement> ParseStatement(const Json& j);
[[nodiscard]] Result<std::vector<SignedStatement>> ParseStatements(const Json& j,
                                                                   std::string_view key);
[[nodiscard]] Result<Org> ParseOrg(const Json& j);
[[nodiscard]] Result<OrgMember> ParseMember(const Json& j);
[[nodiscard]] Result<OrgInvite> ParseInvite(const Json& j);
[[nodiscard]] Result<InviteInfo> ParseInviteInfo(const Json& j);
[[nodiscard]] Result<protocol::audit::Record> ParseEvent(const Json& j, std::string_view org_id);

// {"id","name","type"}: the device of POST /v1/sessions and
// POST /v1/device-requests.
Json DeviceJson(const DeviceIdentity& device);

// {"epoch","key_version","wrapped_vault_key","admin_share","server_share"}
Json EscrowJson(const protocol::Escrow& escrow, uint64_t key_version);
// {"key_version","recovery_grant","signing_grant"?}
Json GrantJson(uint64_t key_version, std::span<const uint8_t> recovery_grant,
               std::span<const uint8_t> signing_grant);

// The one check behind every use of an organization's keys: `statements`
// (ascending, as the server served them) verified from `pin` — only those
// at or after the pinned version, which must still be served
// (org.statement_rollback otherwise) — or, with no pin, from the first
// statement's signing key (trust on first use); then the newest verified
// pk_org must be `offered_org_public_key` (org.key_mismatch).
[[nodiscard]] Result<protocol::VerifiedOrgStatement> VerifyStatements(
    std::string_view org_id, std::span<const SignedStatement> statements,
    const protocol::OrgPin* pin, std::span<const uint8_t> offered_org_public_key);

// RFC 3986 unreserved characters kept, everything else %XX (query values).
using keyward::PercentEncode;

}  // namespace keyward::client::org_json
