// What the vector generators (generate_*.cc, run by hand, never by CI) have
// in common: fixed-input helpers, a fatal error, and writing one JSON file
// with its source, encoding and description.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace keyward::testing::vectors {

using OrderedJson = nlohmann::ordered_json;

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

inline crypto::Bytes Rep(uint8_t b, size_t n) { return crypto::Bytes(n, b); }

inline crypto::Bytes Seq(uint8_t start, size_t n) {
  crypto::Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(start + i);
  return out;
}

inline std::string X(std::span<const uint8_t> b) { return crypto::HexEncode(b); }

inline OrderedJson Doc(const std::string& source, const std::string& encoding,
                       const std::string& description) {
  OrderedJson doc;
  doc["source"] = source;
  doc["encoding"] = encoding;
  doc["description"] = description;
  return doc;
}

// The directory named on the command line, else the repository's tests/vectors.
inline std::string OutDir(int argc, char** argv) {
  return argc > 1 ? argv[1] : KEYWARD_SOURCE_DIR "/tests/vectors";
}

inline void Write(const std::string& out_dir, const std::string& name, const OrderedJson& doc) {
  const std::string path = out_dir + "/" + name;
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) Die("cannot write " + path);
  std::printf("wrote %s\n", path.c_str());
}

}  // namespace keyward::testing::vectors
