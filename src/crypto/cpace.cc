#include "crypto/cpace.h"

#include <sodium.h>

#include <cstring>
#include <string_view>

#include "crypto/internal.h"

namespace keyward::crypto::cpace {
namespace {

constexpr std::string_view kDsi = "CPaceRistretto255";
constexpr std::string_view kDsiIsk = "CPaceRistretto255_ISK";

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Error BadPoint() {
  return Error::InvalidArgument("pair.bad_point",
                                "the other device sent an invalid pairing message");
}

size_t LenSize(size_t n) {
  size_t bytes = 1;
  while (n >= 128) n >>= 7, ++bytes;
  return bytes;
}

// Writes the LEB128 encoding of n at out[at], returning the new end.
size_t PutLen(uint8_t* out, size_t at, size_t n) {
  while (n >= 128) {
    out[at++] = static_cast<uint8_t>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  out[at++] = static_cast<uint8_t>(n);
  return at;
}

// Writes prepend_len(data) at out[at], returning the new end.
size_t PutLv(uint8_t* out, size_t at, std::span<const uint8_t> data) {
  at = PutLen(out, at, data.size());
  if (!data.empty()) std::memcpy(out + at, data.data(), data.size());
  return at + data.size();
}

}  // namespace

Bytes PrependLen(std::span<const uint8_t> data) { return LvCat({data}); }

Bytes LvCat(std::initializer_list<std::span<const uint8_t>> parts) {
  size_t total = 0;
  for (auto p : parts) total += LenSize(p.size()) + p.size();
  Bytes out(total);
  size_t at = 0;
  for (auto p : parts) at = PutLv(out.data(), at, p);
  return out;
}

SecureBytes GeneratorString(std::span<const uint8_t> prs, std::span<const uint8_t> ci,
                            std::span<const uint8_t> sid) {
  const size_t dsi_len = LenSize(kDsi.size()) + kDsi.size();
  const size_t prs_len = LenSize(prs.size()) + prs.size();
  // The zero padding fills the first hash block after DSI and PRS.
  const size_t zpad =
      kHashBlockSize > 1 + dsi_len + prs_len ? kHashBlockSize - 1 - dsi_len - prs_len : 0;
  SecureBytes out(dsi_len + prs_len + LenSize(zpad) + zpad + LenSize(ci.size()) + ci.size() +
                  LenSize(sid.size()) + sid.size());
  size_t at = PutLv(out.data(), 0, AsBytes(kDsi));
  at = PutLv(out.data(), at, prs);
  at = PutLen(out.data(), at, zpad) + zpad;  // the padding: out is zero-filled
  at = PutLv(out.data(), at, ci);
  at = PutLv(out.data(), at, sid);
  internal::Require(at == out.size(), "cpace::GeneratorString: length");
  return out;
}

Bytes CalculateGenerator(std::span<const uint8_t> prs, std::span<const uint8_t> ci,
                         std::span<const uint8_t> sid) {
  internal::EnsureSodium();
  const SecureBytes gs = GeneratorString(prs, ci, sid);
  SecureBytes hash(crypto_hash_sha512_BYTES);
  crypto_hash_sha512(hash.data(), gs.data(), gs.size());
  Bytes g(crypto_core_ristretto255_BYTES);
  crypto_core_ristretto255_from_hash(g.data(), hash.data());
  return g;
}

Share MakeShare(std::span<const uint8_t> prs, std::span<const uint8_t> ci,
                std::span<const uint8_t> sid) {
  const Bytes g = CalculateGenerator(prs, ci, sid);
  for (;;) {
    SecureBytes y(crypto_core_ristretto255_SCALARBYTES);
    crypto_core_ristretto255_scalar_random(y.data());
    auto share = ShareFromScalar(g, y.span());
    if (share) return std::move(*share);  // y·g is the identity only for y = 0
  }
}

Result<Share> ShareFromScalar(std::span<const uint8_t> generator, std::span<const uint8_t> scalar) {
  internal::Require(generator.size() == kPointSize && scalar.size() == kScalarSize,
                    "cpace::ShareFromScalar: sizes");
  internal::EnsureSodium();
  Share share{SecureBytes::Copy(scalar), Bytes(kPointSize)};
  if (crypto_scalarmult_ristretto255(share.point.data(), scalar.data(), generator.data()) != 0) {
    return Fail(BadPoint());
  }
  return share;
}

Result<SecureBytes> SharedPoint(std::span<const uint8_t> scalar,
                                std::span<const uint8_t> peer_point) {
  internal::Require(scalar.size() == kScalarSize, "cpace::SharedPoint: scalar size");
  internal::EnsureSodium();
  if (peer_point.size() != kPointSize) return Fail(BadPoint());
  SecureBytes k(kPointSize);
  // -1 when the point does not decode or the product is the identity.
  if (crypto_scalarmult_ristretto255(k.data(), scalar.data(), peer_point.data()) != 0) {
    return Fail(BadPoint());
  }
  return k;
}

Bytes PointFromHash(std::span<const uint8_t> bytes64) {
  internal::Require(bytes64.size() == crypto_core_ristretto255_HASHBYTES,
                    "cpace::PointFromHash: 64 bytes");
  internal::EnsureSodium();
  Bytes point(kPointSize);
  crypto_core_ristretto255_from_hash(point.data(), bytes64.data());
  return point;
}

Bytes TranscriptIr(std::span<const uint8_t> ya, std::span<const uint8_t> ad_a,
                   std::span<const uint8_t> yb, std::span<const uint8_t> ad_b) {
  return LvCat({ya, ad_a, yb, ad_b});
}

SecureBytes Isk(std::span<const uint8_t> sid, std::span<const uint8_t> k,
                std::span<const uint8_t> transcript) {
  internal::EnsureSodium();
  const size_t prefix_size = LenSize(kDsiIsk.size()) + kDsiIsk.size() + LenSize(sid.size()) +
                             sid.size() + LenSize(k.size()) + k.size();
  SecureBytes prefix(prefix_size);
  size_t at = PutLv(prefix.data(), 0, AsBytes(kDsiIsk));
  at = PutLv(prefix.data(), at, sid);
  at = PutLv(prefix.data(), at, k);
  internal::Require(at == prefix.size(), "cpace::Isk: length");
  crypto_hash_sha512_state state;
  crypto_hash_sha512_init(&state);
  crypto_hash_sha512_update(&state, prefix.data(), prefix.size());
  crypto_hash_sha512_update(&state, internal::DataOrDummy(transcript), transcript.size());
  SecureBytes isk(kIskSize);
  crypto_hash_sha512_final(&state, isk.data());
  sodium_memzero(&state, sizeof state);
  return isk;
}

}  // namespace keyward::crypto::cpace
