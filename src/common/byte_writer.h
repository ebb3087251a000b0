// Big-endian integers and u32-length-prefixed fields: the building blocks of
// Keyward's canonical encodings (signed organization statements in
// src/protocol, audit events in src/protocol/audit_chain). Each format is
// documented in docs/protocol.md; this only writes the pieces.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace keyward {

inline void AppendU32Be(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

inline void AppendU64Be(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// u32 big-endian length, then the bytes.
inline void AppendLengthPrefixed(std::vector<uint8_t>& out, std::span<const uint8_t> field) {
  AppendU32Be(out, static_cast<uint32_t>(field.size()));
  out.insert(out.end(), field.begin(), field.end());
}

inline void AppendLengthPrefixed(std::vector<uint8_t>& out, std::string_view field) {
  AppendLengthPrefixed(out, {reinterpret_cast<const uint8_t*>(field.data()), field.size()});
}

}  // namespace keyward
