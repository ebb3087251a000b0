// The in-process server of the benchmarks that measure core services
// (pairing_bench.cc, snapshot_bench.cc): core::Services over a fresh
// in-memory SQLite store, a fake clock, and one verified account signed in
// on device "laptop".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/try.h"
#include "core/services.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "tests/support/fake_clock.h"

namespace keyward {

inline constexpr std::string_view kEmail = "ann@example.com";

// Keeps the last message only (the registration code during setup); the
// pickup's "device paired" notice is dropped, as a queueing mailer would
// take it off the request path.
class LastMailer final : public core::mail::Mailer {
 public:
  Status Send(const core::mail::Message& message) override {
    last_ = message;
    return {};
  }
  // The 6-digit code on a line of its own in the last message.
  std::string LastCode() const {
    size_t start = 0;
    while (start <= last_.body.size()) {
      size_t end = last_.body.find('\n', start);
      if (end == std::string::npos) end = last_.body.size();
      std::string_view line(last_.body.data() + start, end - start);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
      if (line.size() == 6 && line.find_first_not_of("0123456789") == std::string_view::npos) {
        return std::string(line);
      }
      start = end + 1;
    }
    return "";
  }

 private:
  core::mail::Message last_;
};

// Core services over a fresh in-memory SQLite store, with one verified
// account signed in on device A ("laptop"); a fresh one per benchmark run.
class Server {
 public:
  // Empty on success, else what failed.
  std::string SetUp() {
    (void)crypto::Init();
    auto opened = store::Open("sqlite::memory:");
    if (!opened) return "store::Open: " + opened.error().code();
    store_ = std::move(*opened);
    core::CoreConfig config;
    config.kdf_minimum = crypto::kTestKdf;
    config.public_url = "https://vault.example.com";
    services_ = std::make_unique<core::Services>(*store_, mailer_, clock_, secret_, config);

    auto id = Register(kEmail);
    if (!id) return id.error().code();
    account_id_ = *id;
    core::Login login;
    login.email = std::string(kEmail);
    login.auth_key = AuthKey();
    login.device = core::DeviceInfo{"laptop", "Ann's laptop", "cli"};
    login.remote_address = "192.0.2.1";
    auto in = core().sessions.Login(login);
    if (!in) return "Login: " + in.error().code();
    auto caller = core().sessions.Authenticate(in->token.span(), "192.0.2.1");
    if (!caller) return "Authenticate: " + caller.error().code();
    caller_ = std::move(*caller);
    return "";
  }

  // A verified account (not signed in); its id.
  Result<std::string> Register(std::string_view email) {
    core::Registration r;
    r.id = crypto::Base64UrlEncode(crypto::RandomBytes(16));
    r.email = std::string(email);
    r.kdf = crypto::kTestKdf;
    r.salt = crypto::RandomBytes(16);
    r.auth_key = AuthKey();
    r.wrapped_vault_key = crypto::RandomBytes(72);
    r.public_key = crypto::RandomBytes(32);
    r.wrapped_private_key = crypto::RandomBytes(72);
    r.remote_address = "192.0.2.1";
    KW_TRY(core().accounts.Register(r));
    core().WaitForBackgroundWork();
    KW_TRY(core().accounts.Verify(email, mailer_.LastCode(), "192.0.2.1"));
    return r.id;
  }

  core::Services& core() { return *services_; }
  store::Store& store() { return *store_; }
  keyward::testing::FakeClock& clock() { return clock_; }
  const core::Caller& caller() const { return caller_; }
  const std::string& account_id() const { return account_id_; }

 private:
  static crypto::AuthKey AuthKey() {
    return crypto::AuthKey(crypto::SecureBytes::Copy(std::vector<uint8_t>(32, 1)));
  }

  keyward::testing::FakeClock clock_;
  LastMailer mailer_;
  crypto::ServerSecret secret_ = crypto::ServerSecret::Random();
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<core::Services> services_;
  std::string account_id_;
  core::Caller caller_;
};

}  // namespace keyward
