// Shared by this module's .cc files only; not part of the crypto API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace keyward::crypto::internal {

// libsodium must be initialised before sodium_malloc or randombytes work;
// calling this from every entry point that needs it means no caller can
// forget Init(). Aborts if libsodium cannot initialise (no safe way on).
void EnsureSodium();

// A broken precondition (wrong key size, bad context) is a programming error
// for functions that have no error channel: stop rather than go on with a
// weakened or undefined operation. The text names the function, never data.
void Require(bool condition, const char* what);

// libsodium and OpenSSL accept a null pointer only with length 0 in some
// functions; an empty span's data() may be null, so hand them a real address.
inline const uint8_t* DataOrDummy(std::span<const uint8_t> s) {
  static const uint8_t kDummy = 0;
  return s.data() != nullptr ? s.data() : &kDummy;
}

}  // namespace keyward::crypto::internal
