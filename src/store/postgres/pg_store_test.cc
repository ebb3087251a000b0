#include "store/postgres/pg_store.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "pg_test_db.h"
#include "store/store_contract_test.h"

namespace keyward::store::testing {
namespace {

using keyward::testing::TestDatabase;

// A store together with the database it lives in, dropped after the store.
class OwningStore final : public Store {
 public:
  OwningStore(std::unique_ptr<TestDatabase> db, std::unique_ptr<Store> store)
      : db_(std::move(db)), store_(std::move(store)) {}
  Status Transact(const std::function<Status(Tx&)>& fn) override { return store_->Transact(fn); }
  Status Read(const std::function<Status(Tx&)>& fn) override { return store_->Read(fn); }
  Result<int> SchemaVersion() override { return store_->SchemaVersion(); }
  Result<bool> RunExclusive(std::string_view task, const std::function<Status()>& fn) override {
    return store_->RunExclusive(task, fn);
  }

 private:
  std::unique_ptr<TestDatabase> db_;  // declared first: outlives store_
  std::unique_ptr<Store> store_;
};

void RequireCluster() { KEYWARD_REQUIRE_PG_CLUSTER(); }

std::unique_ptr<Store> MakePgStore() {
  RequireCluster();
  if (::testing::Test::IsSkipped() || ::testing::Test::HasFatalFailure()) return nullptr;
  auto db = std::make_unique<TestDatabase>("contract");
  auto store = Open(db->url());
  if (!store) {
    ADD_FAILURE() << store.error().code() << ": " << store.error().message();
    return nullptr;
  }
  return std::make_unique<OwningStore>(std::move(db), std::move(*store));
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContractTest,
                         ::testing::Values(StoreFactory{"pg", MakePgStore}), StoreFactoryName);

}  // namespace
}  // namespace keyward::store::testing
