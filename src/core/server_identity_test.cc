#include "core/server_identity.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/core_test_fixture.h"
#include "tests/support/status_assertions.h"

namespace keyward::core::testing {
namespace {

class ServerIdentityTest : public CoreTest {
 protected:
  ServerIdentityTest() {
    config_.recovery_key = recovery_key_;
    Rebuild();
  }

  // The services of a node with the given keys, on this test's store.
  std::unique_ptr<Services> Node(const crypto::ServerSecret& secret,
                                 std::shared_ptr<const crypto::BoxKeyPair> recovery_key) {
    CoreConfig config = config_;
    config.recovery_key = std::move(recovery_key);
    return std::make_unique<Services>(*failing_, mailer_, clock_, secret, config);
  }

  std::optional<store::Bytes> Meta(std::string_view name) {
    std::optional<store::Bytes> value;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(value, tx.FindServerMeta(name));
      return {};
    }));
    return value;
  }

  std::shared_ptr<const crypto::BoxKeyPair> recovery_key_ =
      std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
};

TEST_F(ServerIdentityTest, FirstStartRecordsTheKeysLaterStartsCheckThem) {
  ASSERT_OK(BindServerKeys(core().context()));
  auto check = Meta(kServerKeyCheckName);
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ(check->size(), 32u);
  // A digest, not a key: none of the secret or its subkeys is stored.
  const auto& keys = core().context().keys;
  for (const auto* key : {&keys.pepper, &keys.pepper2, &keys.token_key, &keys.code_key,
                          &keys.totp_key, &keys.mail_key}) {
    EXPECT_FALSE(crypto::ConstantTimeEqual(*check, key->span()));
  }
  EXPECT_FALSE(crypto::ConstantTimeEqual(*check, secret_.span()));
  EXPECT_EQ(Meta(kRecoveryPublicKeyName), std::optional<store::Bytes>(recovery_key_->public_key));

  // The same keys pass, on this node and on another with copies of the files.
  ASSERT_OK(BindServerKeys(core().context()));
  auto copy =
      Node(secret_.Clone(), std::make_shared<const crypto::BoxKeyPair>(crypto::BoxKeyPair{
                                recovery_key_->public_key, recovery_key_->secret_key.Clone()}));
  ASSERT_OK(BindServerKeys(copy->context()));
  EXPECT_EQ(Meta(kServerKeyCheckName), check);
}

TEST_F(ServerIdentityTest, AnotherServerKeyIsRefusedNamingServerKey) {
  ASSERT_OK(BindServerKeys(core().context()));
  auto other = Node(crypto::ServerSecret::Random(), recovery_key_);
  auto bound = BindServerKeys(other->context());
  EXPECT_ERROR(bound, "server.keys_mismatch");
  EXPECT_EQ(bound.error().kind(), ErrorKind::kConflict);
  EXPECT_EQ(bound.error().message(),
            "server.key is not the one this database was set up with: every node of an "
            "installation needs the same server.key and recovery.key (docs/operations.md)");
}

TEST_F(ServerIdentityTest, AnotherRecoveryKeyIsRefusedNamingRecoveryKey) {
  ASSERT_OK(BindServerKeys(core().context()));
  auto other =
      Node(secret_, std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair()));
  auto bound = BindServerKeys(other->context());
  EXPECT_ERROR(bound, "server.keys_mismatch");
  EXPECT_EQ(bound.error().message().rfind("recovery.key is not the one this database", 0), 0u)
      << bound.error().message();
}

TEST_F(ServerIdentityTest, BothKeysDifferentAreNamedTogether) {
  ASSERT_OK(BindServerKeys(core().context()));
  auto other = Node(crypto::ServerSecret::Random(),
                    std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair()));
  auto bound = BindServerKeys(other->context());
  EXPECT_ERROR(bound, "server.keys_mismatch");
  EXPECT_EQ(bound.error().message().rfind(
                "server.key and recovery.key are not the ones this database was set up with", 0),
            0u)
      << bound.error().message();
}

// A database bound before the node had a recovery key (or by an API without
// one) records pk_srv at the next start that has it; a node with another
// server.key records nothing.
TEST_F(ServerIdentityTest, AMissingRowIsRecordedOnlyWhenTheOtherMatches) {
  auto without = Node(secret_, nullptr);
  ASSERT_OK(BindServerKeys(without->context()));
  EXPECT_FALSE(Meta(kRecoveryPublicKeyName).has_value());

  auto stranger = Node(crypto::ServerSecret::Random(), recovery_key_);
  EXPECT_ERROR(BindServerKeys(stranger->context()), "server.keys_mismatch");
  EXPECT_FALSE(Meta(kRecoveryPublicKeyName).has_value());

  ASSERT_OK(BindServerKeys(core().context()));
  EXPECT_EQ(Meta(kRecoveryPublicKeyName), std::optional<store::Bytes>(recovery_key_->public_key));
}

// Failing any one store operation fails the start with the store's error and
// leaves neither row; the next start records both.
TEST_F(ServerIdentityTest, AFailingStoreWritesNothing) {
  failing_->FailAt(0);
  ASSERT_OK(BindServerKeys(core().context()));
  const int64_t operations = failing_->Operations();
  EXPECT_EQ(operations, 4);  // find + insert, twice
  auto fresh = store::Open("sqlite::memory:");
  ASSERT_OK(fresh);
  store_ = std::move(*fresh);
  failing_ = std::make_unique<keyward::testing::FailingStore>(*store_);
  Rebuild();
  for (int64_t n = 1; n <= operations; ++n) {
    failing_->FailAt(n);
    auto bound = BindServerKeys(core().context());
    EXPECT_ERROR(bound, "store.error");
    EXPECT_FALSE(Meta(kServerKeyCheckName).has_value()) << n;
    EXPECT_FALSE(Meta(kRecoveryPublicKeyName).has_value()) << n;
  }
  failing_->FailAt(0);
  ASSERT_OK(BindServerKeys(core().context()));
  EXPECT_TRUE(Meta(kServerKeyCheckName).has_value());
  EXPECT_TRUE(Meta(kRecoveryPublicKeyName).has_value());
}

// Nodes starting at once on a fresh database file, each with its own store:
// with the same keys all start; with keys of their own exactly one does and
// every other is refused, never a store error.
TEST(ServerIdentityRaceTest, NodesStartingAtOnceAgreeOnOneSetOfKeys) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("keyward-identity-" + crypto::HexEncode(crypto::RandomBytes(8)));
  std::filesystem::create_directories(dir);
  keyward::testing::FakeClock clock;
  keyward::testing::MemoryMailer mailer;
  CoreConfig config;
  config.kdf_minimum = crypto::kTestKdf;
  for (bool same_keys : {true, false}) {
    const std::string url = "sqlite:" + (dir / (same_keys ? "same.db" : "own.db")).string();
    // Migrated first: the race is the binding's, not the migrations'.
    ASSERT_TRUE(store::Open(url).has_value());
    const auto secret = crypto::ServerSecret::Random();
    config.recovery_key = std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
    constexpr int kNodes = 4;
    std::atomic<int> started{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> nodes;
    for (int i = 0; i < kNodes; ++i) {
      nodes.emplace_back([&] {
        auto store = store::Open(url);
        ASSERT_OK(store);
        CoreConfig own = config;
        if (!same_keys) {
          own.recovery_key =
              std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
        }
        Services node(**store, mailer, clock,
                      same_keys ? secret.Clone() : crypto::ServerSecret::Random(), own);
        auto bound = BindServerKeys(node.context());
        if (bound) {
          ++started;
        } else {
          EXPECT_EQ(bound.error().code(), "server.keys_mismatch") << bound.error().message();
          ++refused;
        }
      });
    }
    for (auto& t : nodes) t.join();
    EXPECT_EQ(started.load(), same_keys ? kNodes : 1);
    EXPECT_EQ(refused.load(), same_keys ? 0 : kNodes - 1);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace keyward::core::testing
