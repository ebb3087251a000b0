// What the fuzz targets share (docs/fuzzing.md). Inputs are read with
// libFuzzer's FuzzedDataProvider: strings from the front (a '\' followed by
// anything but '\' ends one), integers from the back. fuzz/make_corpus.py
// writes seeds in the same layout.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/error.h"
#include "crypto/crypto.h"

namespace keyward::fuzz {

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline crypto::Bytes ToBytes(std::string_view s) {
  auto b = AsBytes(s);
  return {b.begin(), b.end()};
}

// A check that a property holds: libFuzzer reports the abort as a crash.
inline void Require(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "fuzz property broken: %s\n", what);
    abort();
  }
}

// Every failure must carry a code: an empty one means an error was built
// without its named constructor.
template <class T>
void RequireCoded(const Result<T>& r) {
  if (!r.has_value()) Require(!r.error().code().empty(), "error without a code");
}

}  // namespace keyward::fuzz
