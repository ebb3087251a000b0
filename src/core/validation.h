// Input rules shared by every service. Errors name the field, never echo it.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::core {

inline constexpr size_t kMaxEmailLength = 254;

// Trims surrounding whitespace and lower-cases; then requires at most 254
// characters, exactly one '@' with text on both sides, a dot-free-edge
// domain, and no spaces or control characters. account.invalid_email.
[[nodiscard]] Result<std::string> NormalizeEmail(std::string_view email);

// Client-chosen ids of items and devices: 1-64 of [A-Za-z0-9_-].
bool IsValidClientId(std::string_view id);

// Account ids: base64url of exactly 16 bytes.
bool IsValidAccountId(std::string_view id);

// A short human label (device names): 1-64 bytes of UTF-8 without control
// characters.
bool IsValidLabel(std::string_view label);

bool IsValidDeviceType(std::string_view type);

// kdf.too_weak under the minimum; request.invalid_field for absurd values.
[[nodiscard]] Status CheckKdf(const crypto::KdfParams& kdf, const crypto::KdfParams& minimum);

Error InvalidField(std::string_view field);

}  // namespace keyward::core
