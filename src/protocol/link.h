// Recovery links (PROTOCOL.md "Approval and redemption"; docs/protocol.md
// "Escrow, links, grants and signed statements"). The approving admin's
// client draws a link secret L, derives the server token T and the link key
// KL from it, and wraps the admin share A under KL. The link text carries L
// in its fragment, which no server ever receives.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::protocol {

inline constexpr std::string_view kLinkContext = "KWlink__";
inline constexpr std::string_view kRecoverPath = "/recover/";
inline constexpr size_t kMaxLinkSize = 2048;

struct ApprovedLink {
  crypto::GenericKey link_secret;    // L, goes into the link fragment only
  crypto::GenericKey token;          // T = Sub(L, 1, "KWlink__"), sent to the server
  crypto::Bytes linked_admin_share;  // LA = Enc(KL, A, LinkAd(request, user, epoch))
};

// T = Sub(L, 1, "KWlink__") and KL = Sub(L, 2, "KWlink__").
crypto::GenericKey DeriveLinkToken(const crypto::GenericKey& link_secret);
crypto::GenericKey DeriveLinkKey(const crypto::GenericKey& link_secret);

// Draws L and builds T and LA for the admin share A. Errors:
// protocol.invalid_id, protocol.invalid_counter.
[[nodiscard]] Result<ApprovedLink> CreateLink(const crypto::GenericKey& admin_part,
                                              std::string_view request_id, std::string_view user_id,
                                              uint64_t epoch);

// A = Dec(KL, LA, LinkAd(request, user, epoch)); crypto.decrypt_failed for a
// wrong L, a tampered LA, another request, user or epoch, or a plaintext that
// is not 32 bytes.
[[nodiscard]] Result<crypto::GenericKey> OpenLink(const crypto::GenericKey& link_secret,
                                                  std::span<const uint8_t> linked_admin_share,
                                                  std::string_view request_id,
                                                  std::string_view user_id, uint64_t epoch);

// `<public_url>/recover/<request_id>#<base64url(L)>`, in a secure buffer since
// it holds L (read it with view()). public_url: "https://" or "http://", a
// non-empty host, no trailing '/', no '?', '#', '\', space, control or
// non-ASCII character. Errors: link.invalid_public_url, protocol.invalid_id.
[[nodiscard]] Result<crypto::SecureBytes> BuildLinkText(std::string_view public_url,
                                                        std::string_view request_id,
                                                        const crypto::GenericKey& link_secret);

struct RecoveryLink {
  std::string public_url;
  std::string request_id;
  crypto::GenericKey link_secret;  // L
};

// The exact inverse of BuildLinkText: anything else is link.malformed (the
// message says which part, never the text itself).
[[nodiscard]] Result<RecoveryLink> ParseLinkText(std::string_view text);

}  // namespace keyward::protocol
