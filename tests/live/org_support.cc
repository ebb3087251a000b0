#include "tests/live/org_support.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "protocol/statement.h"
#include "tests/live/live_support.h"

namespace keyward::live {

namespace fs = std::filesystem;

crypto::SecureBytes Secret(std::string_view s) { return crypto::SecureBytes::Copy(s); }

std::string PasswordOf(const std::string& email) { return "correct horse battery staple " + email; }

std::unique_ptr<User> SignUp(const testing::ServerProcess& server, const std::string& email) {
  auto u = std::make_unique<User>();
  u->email = email;
  u->client = std::make_unique<client::Client>(client::ClientOptions{server.url()});
  const crypto::SecureBytes password = Secret(PasswordOf(email));
  auto reg = u->client->Register(email, password);
  if (!reg) throw std::runtime_error("register: " + reg.error().code());
  auto code = WaitForCode(server.data_dir(), email);
  if (!code) throw std::runtime_error("no code for " + email);
  auto verified = u->client->Verify(email, Secret(*code));
  if (!verified) throw std::runtime_error("verify: " + verified.error().code());
  auto keys = u->client->DeriveLoginKeys(email, password);
  if (!keys) throw std::runtime_error("derive: " + keys.error().code());
  client::DeviceIdentity device{"dev-" + RandomToken(8), "live org test", "cli"};
  auto login = u->client->Login(email, *keys, device);
  if (!login) throw std::runtime_error("login: " + login.error().code());
  u->vault_key = std::move(login->vault_key);
  u->auth_key = std::move(keys->auth);
  auto member_keys =
      client::UnwrapMemberKeys(u->vault_key, login->account.id, login->account.public_key,
                               login->account.wrapped_private_key);
  if (!member_keys) throw std::runtime_error("member keys: " + member_keys.error().code());
  u->keys = std::move(*member_keys);
  u->orgs = std::make_unique<client::OrgClient>(
      *u->client, u->vault_key,
      client::MemberKeys{
          u->keys->account_id,
          crypto::BoxKeyPair{u->keys->key_pair.public_key, u->keys->key_pair.secret_key.Clone()}});
  return u;
}

std::optional<std::string> WaitForInviteToken(const fs::path& data_dir, const std::string& email,
                                              std::chrono::seconds timeout) {
  static const std::regex kJoin("keyward org join ([A-Za-z0-9_-]{43})");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(data_dir / "outbox", ec)) {
      if (entry.path().extension() != ".eml") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      if (text.find(email) == std::string::npos) continue;
      std::smatch m;
      if (std::regex_search(text, m, kJoin)) return m[1].str();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

client::VerifiedOrg InviteAndJoin(const testing::ServerProcess& server, User& owner,
                                  const client::VerifiedOrg& org, User& member,
                                  std::string_view role) {
  auto invite = owner.orgs->Invite(org.org.id, member.email, role, "");
  if (!invite) throw std::runtime_error("invite: " + invite.error().code());
  auto token = WaitForInviteToken(server.data_dir(), member.email);
  if (!token) throw std::runtime_error("no invite mail for " + member.email);
  const crypto::SecureBytes secret_token = Secret(*token);
  auto info = member.orgs->LookupInvite(secret_token);
  if (!info) throw std::runtime_error("lookup: " + info.error().code());
  // What the owner would read out of band: the first signing key's fingerprint.
  auto first = protocol::DecodeOrgStatement(info->statements.front().statement);
  if (!first) throw std::runtime_error("decode");
  auto joined =
      member.orgs->Join(secret_token, *info, crypto::Fingerprint(first->signing_public_key), true);
  if (!joined)
    throw std::runtime_error("join: " + joined.error().code() + " " + joined.error().message());
  return std::move(*joined);
}

}  // namespace keyward::live
