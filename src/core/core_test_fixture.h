// Core services over a fresh in-memory SQLite store, a fake clock and an
// in-memory mailer, plus helpers that play the client's part.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "core/services.h"
#include "tests/support/counting_store.h"
#include "tests/support/failing_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_mailer.h"
#include "tests/support/status_assertions.h"

namespace keyward::core::testing {

inline crypto::AuthKey KeyFrom(uint8_t tag) {
  return crypto::AuthKey(crypto::SecureBytes::Copy(std::vector<uint8_t>(32, tag)));
}

inline std::string NewAccountId() { return crypto::Base64UrlEncode(crypto::RandomBytes(16)); }

class CoreTest : public ::testing::Test {
 protected:
  CoreTest() {
    auto opened = store::Open("sqlite::memory:");
    EXPECT_TRUE(opened.has_value());
    store_ = std::move(*opened);
    counting_ = std::make_unique<keyward::testing::CountingStore>(*store_);
    failing_ = std::make_unique<keyward::testing::FailingStore>(*counting_);
    config_.kdf_minimum = crypto::kTestKdf;
    config_.public_url = "https://vault.example.com";
    Rebuild();
  }

  // Rebuilds the services after a config_ change.
  void Rebuild() {
    services_ = std::make_unique<Services>(*failing_, *store_, mailer_, clock_, secret_, config_);
  }

  Services& core() { return *services_; }

  Registration MakeRegistration(std::string email, uint8_t key_tag = 1) {
    Registration r;
    r.id = NewAccountId();
    r.email = std::move(email);
    r.kdf = crypto::kTestKdf;
    r.salt = crypto::RandomBytes(16);
    r.auth_key = KeyFrom(key_tag);
    r.wrapped_vault_key = crypto::RandomBytes(72);
    r.public_key = crypto::RandomBytes(32);
    r.wrapped_private_key = crypto::RandomBytes(72);
    r.remote_address = "192.0.2.1";
    return r;
  }

  // Register, then the work it leaves for after its answer (the
  // registration itself: core/deferred.h).
  [[nodiscard]] Status RegisterNow(const Registration& r) {
    Status answer = core().accounts.Register(r);
    core().WaitForBackgroundWork();
    return answer;
  }

  // Registers and verifies; returns the account id.
  std::string CreateAccount(const std::string& email, uint8_t key_tag = 1) {
    Registration r = MakeRegistration(email, key_tag);
    std::string id = r.id;
    EXPECT_TRUE(RegisterNow(r).has_value());
    auto code = mailer_.LastCodeFor(email);
    EXPECT_TRUE(code.has_value());
    EXPECT_TRUE(core().accounts.Verify(email, code.value_or(""), "192.0.2.1").has_value());
    return id;
  }

  core::Login MakeLogin(const std::string& email, uint8_t key_tag = 1,
                        std::string device_id = "laptop") {
    core::Login l;
    l.email = email;
    l.auth_key = KeyFrom(key_tag);
    l.device = DeviceInfo{std::move(device_id), "Ann's laptop", "cli"};
    l.remote_address = "192.0.2.1";
    return l;
  }

  struct SignedIn {
    Caller caller;
    crypto::SecureBytes token;
  };

  // Logs in and resolves the token to a Caller.
  SignedIn SignIn(const std::string& email, uint8_t key_tag = 1, std::string device_id = "laptop") {
    auto result = core().sessions.Login(MakeLogin(email, key_tag, std::move(device_id)));
    EXPECT_OK(result);
    if (!result) return {};
    auto caller = core().sessions.Authenticate(result->token.span(), "192.0.2.1");
    EXPECT_TRUE(caller.has_value());
    return SignedIn{caller.value_or(Caller{}), std::move(result->token)};
  }

  bool IsSignedIn(const SignedIn& s) {
    return core().sessions.Authenticate(s.token.span(), "192.0.2.1").has_value();
  }

  // Makes a signed-in device of `account_id` a remembered (trusted) one, as
  // core().devices.Trust stores it (the key material is opaque to the server).
  void RememberDevice(const std::string& account_id, const std::string& device_id) {
    EXPECT_OK(store_->Transact([&](store::Tx& tx) -> Status {
      return tx.UpsertTrustedDevice({account_id, device_id, crypto::RandomBytes(32),
                                     crypto::RandomBytes(72), clock_.NowUnix()});
    }));
  }

  // How many remembered devices `account_id` has left.
  size_t RememberedDevices(const std::string& account_id) {
    size_t n = 0;
    EXPECT_OK(store_->Read([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto trusted, tx.ListTrustedDevices(account_id));
      n = trusted.size();
      return {};
    }));
    return n;
  }

  keyward::testing::FakeClock clock_;
  keyward::testing::MemoryMailer mailer_;
  crypto::ServerSecret secret_ = crypto::ServerSecret::Random();
  CoreConfig config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<keyward::testing::CountingStore> counting_;  // records when started
  std::unique_ptr<keyward::testing::FailingStore> failing_;
  std::unique_ptr<Services> services_;
};

}  // namespace keyward::core::testing
