// Live tests with the real client library (tests/live): users signed up and
// logged in through keyward::client against a live keywardd, and
// organization membership (invite, join with the fingerprint read out of
// band, enroll).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "keyward/client.h"
#include "keyward/org.h"
#include "tests/support/server_process.h"

namespace keyward::live {

crypto::SecureBytes Secret(std::string_view s);

// The master password SignUp gives `email`.
std::string PasswordOf(const std::string& email);

// A signed-in user of the client library, with its vault key and member keys.
struct User {
  std::string email;
  std::unique_ptr<client::Client> client;
  crypto::VaultKey vault_key;
  crypto::AuthKey auth_key;
  std::optional<client::MemberKeys> keys;
  std::unique_ptr<client::OrgClient> orgs;
};

// Registers, verifies (the emailed code) and logs in `email` with
// PasswordOf(email). Throws std::runtime_error on failure.
std::unique_ptr<User> SignUp(const testing::ServerProcess& server, const std::string& email);

// The invite token from the emailed `keyward org join TOKEN` line.
std::optional<std::string> WaitForInviteToken(
    const std::filesystem::path& data_dir, const std::string& email,
    std::chrono::seconds timeout = std::chrono::seconds(10));

// `owner` invites `member` into `org` with `role`; the member joins,
// pinning the first signing key's fingerprint (what the owner reads out of
// band), and enrolls. Throws std::runtime_error on failure.
client::VerifiedOrg InviteAndJoin(const testing::ServerProcess& server, User& owner,
                                  const client::VerifiedOrg& org, User& member,
                                  std::string_view role = "user");

}  // namespace keyward::live
