// Reading the known-answer vector files of tests/vectors/ in gtest checkers:
// every file names its source and encoding, and every table must hold rows
// (an emptied file would otherwise pass).
#pragma once

#include <cstdint>
#include <fstream>
#include <span>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace keyward::testing::vectors {

using Json = nlohmann::json;

inline Json Load(const std::string& name) {
  const std::string path = std::string(KEYWARD_SOURCE_DIR) + "/tests/vectors/" + name;
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return Json::object();
  }
  Json doc = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) ADD_FAILURE() << "invalid JSON in " << path;
  EXPECT_TRUE(doc.contains("source") && doc["source"].is_string()) << name;
  EXPECT_TRUE(doc.contains("encoding")) << name;
  return doc;
}

// The caller keeps the document in a local: a range-for over a member of a
// temporary dangles before C++23's lifetime extension (not in g++ 12).
inline const Json& Rows(const Json& doc, const char* key, size_t at_least = 1) {
  static const Json kEmpty = Json::array();
  if (!doc.contains(key) || !doc[key].is_array()) {
    ADD_FAILURE() << "missing array '" << key << "'";
    return kEmpty;
  }
  EXPECT_GE(doc[key].size(), at_least) << key;
  return doc[key];
}

inline crypto::Bytes Hex(const Json& v) {
  auto r = crypto::HexDecode(v.get<std::string>());
  EXPECT_TRUE(r.has_value()) << "bad hex: " << v;
  return r.value_or(crypto::Bytes{});
}

inline std::string HexOf(std::span<const uint8_t> b) { return crypto::HexEncode(b); }

}  // namespace keyward::testing::vectors
