// The store contract: every Store implementation instantiates this suite
// with a factory that returns a fresh, empty, migrated store, e.g.
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
//       ::testing::Values(StoreFactory{"sqlite_file", MakeMyStore}),
//       StoreFactoryName);
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "store/store.h"
#include "tests/support/status_assertions.h"

namespace keyward::store::testing {

// The rows are core's domain types.
using namespace keyward::core;  // NOLINT(google-build-using-namespace)

struct StoreFactory {
  std::string name;
  // May GTEST_SKIP() (from a void helper) and return nullptr, e.g. when no
  // PostgreSQL server is available: the test is then skipped.
  std::function<std::unique_ptr<Store>()> make;
};

inline void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

// Drops the value of a successful result (g++ 12 lacks expected::transform).
template <class T>
Status Discard(Result<T> r) {
  if (!r) return Fail(r.error());
  return {};
}

class StoreContractTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    if (IsSkipped()) return;
    ASSERT_NE(store_, nullptr);
  }
  Store& store() { return *store_; }

 private:
  std::unique_ptr<Store> store_;
};

}  // namespace keyward::store::testing
