// Text encodings of binary values: base64url (the wire format), hex (vectors,
// fingerprints), base32 (TOTP secrets, as authenticator apps expect).
#include <sodium.h>

#include <algorithm>
#include <array>

#include "crypto/crypto.h"
#include "crypto/internal.h"

namespace keyward::crypto {
namespace {

Error BadEncoding(std::string code) {
  // The message names the format only: the input may be a secret.
  return Error::InvalidArgument(std::move(code), "malformed encoded value");
}

constexpr std::string_view kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// Decodes into caller-provided storage so secrets never pass through a vector.
bool DecodeBase64UrlInto(std::string_view text, uint8_t* out, size_t capacity, size_t* written) {
  // libsodium 1.0.18 silently accepts some bytes >= 0x80, so check the
  // alphabet first.
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  // With the no-padding variant, no ignore set and a null end pointer,
  // libsodium rejects '=', whitespace, '+', '/', a dangling sextet and
  // non-zero trailing bits: exactly one text per byte string.
  return sodium_base642bin(out, capacity, text.data(), text.size(), nullptr, written, nullptr,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0;
}

}  // namespace

std::string Base64UrlEncode(std::span<const uint8_t> bytes) {
  const size_t encoded_len =
      sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string out(encoded_len, '\0');  // includes the terminating NUL
  sodium_bin2base64(out.data(), out.size(), internal::DataOrDummy(bytes), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(encoded_len - 1);
  return out;
}

void AppendBase64UrlPublic(std::string& out, std::span<const uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t n = bytes.size();
  out.reserve(out.size() + (n * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    const char quad[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63],
                          kAlphabet[v & 63]};
    out.append(quad, 4);
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
}

Result<Bytes> Base64UrlDecode(std::string_view text) {
  Bytes out(text.size() * 3 / 4 + 1);
  size_t written = 0;
  if (!DecodeBase64UrlInto(text, out.data(), out.size(), &written)) {
    return Fail(BadEncoding("encoding.invalid_base64url"));
  }
  out.resize(written);
  return out;
}

Result<Bytes> Base64UrlDecodePublic(std::string_view text) {
  static constexpr auto kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (size_t i = 0; i < kAlphabet.size(); ++i) {
      t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
    }
    return t;
  }();
  auto value = [&](size_t i) { return int32_t{kValue[static_cast<uint8_t>(text[i])]}; };
  const size_t n = text.size();
  // A single trailing character would carry only 6 of a byte's 8 bits.
  if (n % 4 == 1) return Fail(BadEncoding("encoding.invalid_base64url"));
  Bytes out(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1));
  uint8_t* o = out.data();
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const int32_t a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if ((a | b | c | d) < 0) return Fail(BadEncoding("encoding.invalid_base64url"));
    const uint32_t v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6 | d);
    *o++ = static_cast<uint8_t>(v >> 16);
    *o++ = static_cast<uint8_t>(v >> 8);
    *o++ = static_cast<uint8_t>(v);
  }
  if (n - i >= 2) {
    const int32_t a = value(i), b = value(i + 1), c = n - i == 3 ? value(i + 2) : 0;
    // One text per byte string: the bits past the last byte must be zero.
    const bool loose_bits = n - i == 2 ? (b & 0x0f) != 0 : (c & 0x03) != 0;
    if ((a | b | c) < 0 || loose_bits) return Fail(BadEncoding("encoding.invalid_base64url"));
    const uint32_t v = static_cast<uint32_t>(a << 18 | b << 12 | c << 6);
    *o++ = static_cast<uint8_t>(v >> 16);
    if (n - i == 3) *o++ = static_cast<uint8_t>(v >> 8);
  }
  return out;
}

Result<SecureBytes> Base64UrlDecodeSecret(std::string_view text) {
  SecureBytes buffer(text.size() * 3 / 4 + 1);
  size_t written = 0;
  if (!DecodeBase64UrlInto(text, buffer.data(), buffer.size(), &written)) {
    return Fail(BadEncoding("encoding.invalid_base64url"));
  }
  return SecureBytes::Copy(buffer.span().first(written));
}

Result<size_t> Base64UrlDecodeInto(std::string_view text, std::span<uint8_t> out) {
  size_t written = 0;
  if (!DecodeBase64UrlInto(text, out.data(), out.size(), &written)) {
    return Fail(BadEncoding("encoding.invalid_base64url"));
  }
  return written;
}

void Wipe(std::span<uint8_t> bytes) { sodium_memzero(bytes.data(), bytes.size()); }

std::string HexEncode(std::span<const uint8_t> bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), internal::DataOrDummy(bytes), bytes.size());
  out.resize(bytes.size() * 2);
  return out;
}

Result<Bytes> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return Fail(BadEncoding("encoding.invalid_hex"));
  Bytes out(text.size() / 2);
  size_t written = 0;
  if (!text.empty() && (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr,
                                       &written, nullptr) != 0 ||
                        written != out.size())) {
    return Fail(BadEncoding("encoding.invalid_hex"));
  }
  return out;
}

namespace {

// The size of Ad(parts), and its bytes written to `out` (that many).
size_t AdSize(std::initializer_list<std::string_view> parts) {
  size_t size = parts.size() == 0 ? 0 : parts.size() - 1;
  for (std::string_view part : parts) size += part.size();
  return size;
}
void WriteAd(uint8_t* out, std::initializer_list<std::string_view> parts) {
  bool first = true;
  for (std::string_view part : parts) {
    if (!first) *out++ = 0x00;
    first = false;
    out = std::copy(part.begin(), part.end(), out);
  }
}

}  // namespace

Bytes Ad(std::initializer_list<std::string_view> parts) {
  Bytes out(AdSize(parts));
  WriteAd(out.data(), parts);
  return out;
}

std::optional<std::span<const uint8_t>> AdInto(std::span<uint8_t> buffer,
                                               std::initializer_list<std::string_view> parts) {
  const size_t size = AdSize(parts);
  if (size > buffer.size()) return std::nullopt;
  WriteAd(buffer.data(), parts);
  return buffer.first(size);
}

std::string Base32Encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 0x1f]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

Result<Bytes> Base32Decode(std::string_view text) {
  Bytes out;
  uint32_t buffer = 0;
  int bits = 0;
  size_t symbols = 0;
  for (char c : text) {
    // Authenticator secrets are shown grouped and padded; people retype them.
    if (c == '=' || c == ' ') continue;
    uint32_t value;
    if (c >= 'A' && c <= 'Z') {
      value = static_cast<uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      value = static_cast<uint32_t>(c - 'a');
    } else if (c >= '2' && c <= '7') {
      value = static_cast<uint32_t>(c - '2') + 26;
    } else {
      return Fail(BadEncoding("encoding.invalid_base32"));
    }
    ++symbols;
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  // 1, 3 or 6 symbols past a full 8-symbol group cannot come from any bytes.
  const size_t tail = symbols % 8;
  if (tail == 1 || tail == 3 || tail == 6) return Fail(BadEncoding("encoding.invalid_base32"));
  return out;
}

}  // namespace keyward::crypto
