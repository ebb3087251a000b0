// Setup of the soak: accounts registered through the API, organizations,
// members enrolled at join (bench/soak/soak.h).
#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/soak/soak.h"
#include "protocol/escrow.h"
#include "protocol/policy.h"
#include "protocol/statement.h"

namespace keyward::bench::soak {

std::optional<json> Soak::Call(Op op, const std::string& method, const std::string& path,
                               const json& body, const std::string& token,
                               const std::string& address, long want,
                               std::optional<Clock::time_point> scheduled) {
  const auto start = Clock::now();
  Answer a =
      ThreadHttp(o_.url).Call(method, path, body.is_null() ? "" : body.dump(), token, address);
  const auto end = Clock::now();
  const bool is_5xx = a.status >= 500;
  if (recorder_) recorder_->Latency(op, Ms(end - scheduled.value_or(start)), is_5xx);
  if (a.status != want) {
    std::string b = a.body.size() > 200 ? a.body.substr(0, 200) + "..." : a.body;
    failures_.Add(is_5xx, std::string(kOpNames[op]) + ": " + method + " " + path + " -> " +
                              (a.status ? std::to_string(a.status) + " " + b
                                        : "no answer (" + a.error + ")"));
    return std::nullopt;
  }
  if (a.body.empty()) return json();
  json j = json::parse(a.body, nullptr, false);
  if (j.is_discarded()) {
    failures_.Add(false, std::string(kOpNames[op]) + ": " + path + " answered no JSON");
    return std::nullopt;
  }
  return j;
}

Account Soak::Register(const std::string& email) {
  Account a;
  a.email = email;
  a.id = RandomB64(16);
  a.auth_key = RandomB64(32);
  a.address = NextAddress();
  const json reg = {{"id", a.id},
                    {"email", email},
                    {"kdf", {{"ops", 2}, {"mem", 20971520}}},
                    {"salt", RandomB64(16)},
                    {"auth_key", a.auth_key},
                    {"wrapped_vault_key", RandomB64(73)},
                    {"public_key", RandomB64(32)},
                    {"wrapped_private_key", RandomB64(73)}};
  if (!Call(kLogin, "POST", "/v1/accounts", reg, "", a.address, 202)) Die("register " + email);
  auto code = outbox_.Code(email, 0);
  if (!code) Die("no code emailed to " + email);
  if (!Call(kLogin, "POST", "/v1/accounts/verify", json{{"email", email}, {"code", *code}}, "",
            a.address, 200)) {
    Die("verify " + email);
  }
  auto s = Call(kLogin, "POST", "/v1/sessions",
                json{{"email", email},
                     {"auth_key", a.auth_key},
                     {"device", {{"id", kDevice}, {"name", kDevice}, {"type", "cli"}}}},
                "", a.address, 201);
  if (!s) Die("login " + email);
  a.token = (*s)["token"];
  return a;
}

void Soak::CreateOrg(Org& org) {
  protocol::RecoveryPolicy policy;
  policy.enrollment = protocol::Enrollment::kOptIn;
  policy.mode = protocol::RecoveryMode::kDualControl;
  protocol::OrgStatement st;
  st.org_id = org.id;
  st.version = 1;
  st.signing_public_key = org.signer.public_key;
  st.org_public_key = org.org_key.public_key;
  st.policy_json = Must(protocol::EncodePolicy(policy), "policy");
  st.not_before = std::time(nullptr) - 60;
  auto signed_st = Must(protocol::SignOrgStatement(st, org.signer), "sign statement");
  const json grant = {
      {"key_version", 1}, {"recovery_grant", RandomB64(120)}, {"signing_grant", RandomB64(120)}};
  if (!Call(kApprove, "POST", "/v1/orgs",
            json{{"id", org.id},
                 {"name", org.id},
                 {"statement", B64(signed_st.statement)},
                 {"signature", B64(signed_st.signature)},
                 {"grant", grant}},
            org.owner.token, org.owner.address, 201)) {
    Die("create org " + org.id);
  }
}

void Soak::AddMember(Org& org, Member& m) {
  m.org = &org;
  if (!Call(kApprove, "POST", "/v1/orgs/" + org.id + "/invites",
            json{{"email", m.account.email}, {"role", "user"}, {"permissions", ""}},
            org.owner.token, org.owner.address, 201)) {
    Die("invite " + m.account.email);
  }
  auto token = outbox_.Invite(m.account.email);
  if (!token) Die("no invitation emailed to " + m.account.email);
  auto e = Must(protocol::CreateEscrow(m.vault_key, org.id, m.account.id, 1, org.org_key.public_key,
                                       server_public_key_),
                "CreateEscrow");
  const json escrow = {{"epoch", 1},
                       {"key_version", 1},
                       {"wrapped_vault_key", B64(e.wrapped_vault_key)},
                       {"admin_share", B64(e.admin_share)},
                       {"server_share", B64(e.server_share)}};
  if (!Call(kApprove, "POST", "/v1/invites/accept", json{{"token", *token}, {"escrow", escrow}},
            m.account.token, m.account.address, 201)) {
    Die("join " + m.account.email);
  }
}

// Runs fn(i) for i in [0, n) on `threads` threads.
void Parallel(int n, int threads, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < n;) fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

void Soak::Setup(int members) {
  const auto t0 = Clock::now();
  auto server = Call(kShow, "GET", "/v1/server", json(), "", "", 200);
  if (!server) Die("GET /v1/server");
  server_public_key_ =
      Must(crypto::Base64UrlDecode((*server)["recovery_public_key"].get<std::string>()),
           "recovery_public_key");
  const std::string run = RandomB64(4);
  std::transform(run.begin(), run.end(), std::back_inserter(run_tag_), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : 'x';
  });

  // Vaults the mix writes to, each seeded with 5 items; vaults it lists.
  vaults_.resize(static_cast<size_t>(o_.item_accounts));
  Parallel(o_.item_accounts, 4, [&](int i) {
    auto v = std::make_unique<ItemVault>();
    v->account = Register("writer" + std::to_string(i) + "-" + run_tag_ + "@soak.example.com");
    vaults_[static_cast<size_t>(i)] = std::move(v);
  });
  list_accounts_.resize(static_cast<size_t>(o_.list_accounts));
  Parallel(o_.list_accounts, 4, [&](int i) {
    Account a = Register("reader" + std::to_string(i) + "-" + run_tag_ + "@soak.example.com");
    for (int k = 0; k < kListItems; ++k) {
      char id[16];
      std::snprintf(id, sizeof id, "fixed-%02d", k);
      if (!Call(kItemCreate, "POST", "/v1/items", json{{"id", id}, {"data", RandomB64(300)}},
                a.token, a.address, 201)) {
        Die("seed a read-only vault");
      }
    }
    list_accounts_[static_cast<size_t>(i)] = std::move(a);
  });
  std::mt19937_64 rng{42};
  for (auto& v : vaults_) {
    for (int k = 0; k < 5; ++k) ItemWrite(*v, true, rng, std::nullopt);
  }

  // Organizations of up to 20 members, one owner each.
  const int org_count = (members + kMembersPerOrg - 1) / kMembersPerOrg;
  orgs_.resize(static_cast<size_t>(org_count));
  Parallel(org_count, 4, [&](int i) {
    auto org = std::make_unique<Org>();
    org->id = "soak-" + run_tag_ + "-" + std::to_string(i);
    org->owner = Register("owner" + std::to_string(i) + "-" + run_tag_ + "@soak.example.com");
    CreateOrg(*org);
    orgs_[static_cast<size_t>(i)] = std::move(org);
  });
  members_.resize(static_cast<size_t>(members));
  Parallel(members, 6, [&](int i) {
    auto m = std::make_unique<Member>();
    m->account = Register("member" + std::to_string(i) + "-" + run_tag_ + "@soak.example.com");
    AddMember(*orgs_[static_cast<size_t>(i / kMembersPerOrg)], *m);
    members_[static_cast<size_t>(i)] = std::move(m);
  });
  if (failures_.unexpected > 0) Die("setup: " + failures_.first.front());
  std::fprintf(stderr,
               "soak[%s]: setup: %d item vaults, %d read-only vaults, %d organizations, %d "
               "enrolled members in %.1f s\n",
               o_.label.c_str(), o_.item_accounts, o_.list_accounts, org_count, members,
               Seconds(Clock::now() - t0));
}

}  // namespace keyward::bench::soak
