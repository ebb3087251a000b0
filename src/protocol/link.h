// Recovery links (docs/protocol.md "Escrow, links, grants and signed
// statements"). The approving admin's
// client draws a link secret L, derives the server token T and the link key
// KL from it, and wraps the admin share A under KL. The link text carries L
// in its fragment, which no server ever receives.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"
#include "protocol/statement.h"

namespace keyward::protocol {

inline constexpr std::string_view kLinkContext = "KWlink__";
inline constexpr std::string_view kRecoverPath = "/recover/";
inline constexpr size_t kMaxLinkSize = 2048;

struct ApprovedLink {
  crypto::GenericKey link_secret;    // L, goes into the link fragment only
  crypto::GenericKey token;          // T = Sub(L, 1, "KWlink__"), sent to the server
  crypto::Bytes linked_admin_share;  // LA = Enc(KL, A [‖ anchor], LinkAd(request, user, epoch))
};

// The link's organization anchor: the approving admin's pin of the
// organization whose escrow the link opens (signing key, statement version
// and digest), carried inside LA so that only the holder of L reads it and
// no server can change it. The redeeming member's client verifies that
// organization's statements from this pin instead of trusting on first use
// what the server serves, so a new device needs no pin of its own.
// Plaintext of LA with an anchor: A (32) ‖ signing_public_key (32) ‖
// statement_digest (32) ‖ version (8, big-endian) ‖ org_id (1..64 bytes).
// Without one (links made before anchors): A alone.
inline constexpr size_t kLinkAnchorFixedSize = 32 + 32 + 8;

struct OpenedLink {
  crypto::GenericKey admin_part;  // A
  std::optional<OrgPin> anchor;   // absent in a link made without one
};

// T = Sub(L, 1, "KWlink__") and KL = Sub(L, 2, "KWlink__").
crypto::GenericKey DeriveLinkToken(const crypto::GenericKey& link_secret);
crypto::GenericKey DeriveLinkKey(const crypto::GenericKey& link_secret);

// Draws L and builds T and LA for the admin share A, with the
// organization's anchor when given (every client since anchors does).
// Errors: protocol.invalid_id, protocol.invalid_counter,
// protocol.invalid_public_key, link.invalid_anchor.
[[nodiscard]] Result<ApprovedLink> CreateLink(const crypto::GenericKey& admin_part,
                                              std::string_view request_id, std::string_view user_id,
                                              uint64_t epoch, const OrgPin* anchor = nullptr);

// The plaintext of LA: A, then the anchor's encoding when there is one.
[[nodiscard]] Result<crypto::SecureBytes> EncodeLinkPlaintext(const crypto::GenericKey& admin_part,
                                                              const OrgPin* anchor);

// A = Dec(KL, LA, LinkAd(request, user, epoch)), and the anchor it carries;
// crypto.decrypt_failed for a wrong L, a tampered LA, another request, user
// or epoch, or a plaintext that is neither 32 bytes nor A and a well-formed
// anchor.
[[nodiscard]] Result<OpenedLink> OpenLinkWithAnchor(const crypto::GenericKey& link_secret,
                                                    std::span<const uint8_t> linked_admin_share,
                                                    std::string_view request_id,
                                                    std::string_view user_id, uint64_t epoch);
// OpenLinkWithAnchor's A alone.
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
