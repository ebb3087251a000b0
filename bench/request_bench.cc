// Recovery requests (issue 4), in-process through the real /v1 API stack
// (api::MakeApi + http::Router::Handle: JSON in, JSON out, the same code
// keywardd runs minus the socket) on a real SQLite file in a temp directory.
//
// 1. List latency: one organization with 10,000 members and 100,000 stored
//    requests (98,000 final, 2,000 pending), then the first page of
//    GET /v1/orgs/{org}/recovery/requests?status=pending (limit 50, the
//    default) many times as a recovery admin with a real session.
//    p50 / p99 / max in ms; target p99 < 20 ms.
// 2. The submit -> approve -> redeem round trip with real protocol crypto on
//    the clients' side and the KDF at crypto::kTestKdf (Argon2id negligible):
//    each server step timed on its own, the client crypto separately; then one
//    Argon2id derivation at crypto::kDefaultKdf, reported on its own.
//
// Not a ctest test. Run (Release):
//   build-bench/bin/keyward_request_bench [--list-iterations N] [--round-trips N]
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "http/api/api.h"
#include "protocol/escrow.h"
#include "protocol/link.h"
#include "protocol/policy.h"
#include "protocol/statement.h"
#include "store/store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_mailer.h"

namespace keyward::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kOrg[] = "acme";
constexpr int kMembers = 10'000;
constexpr int kRequestsPerMember = 10;  // 100,000 requests in all
constexpr int kPendingMembers = 2'000;  // one pending request each

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "request_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r) Die(std::string(what) + ": " + r.error().code() + " " + r.error().message());
  return std::move(*r);
}
void Must(const Status& s, const char* what) {
  if (!s) Die(std::string(what) + ": " + s.error().code() + " " + s.error().message());
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string B64(std::span<const uint8_t> b) { return crypto::Base64UrlEncode(b); }
std::string RandomB64(size_t n) { return B64(crypto::RandomBytes(n)); }
std::string AuthKey(uint8_t tag) { return B64(std::vector<uint8_t>(32, tag)); }

struct User {
  std::string email;
  uint8_t key_tag = 0;
  std::string id;
  std::string token;
  uint64_t epoch = 0;
  crypto::VaultKey vault_key = crypto::VaultKey::Random();
};

// The API of one keywardd on one SQLite file, with the calls a client makes
// (the same as src/http/api/request_routes_test.cc, without gtest).
class Server {
 public:
  explicit Server(const std::string& db_url) {
    api::ApiConfig config;
    config.public_url = "https://vault.example.com";
    config.kdf_minimum = crypto::kTestKdf;
    config.kdf_default = crypto::kTestKdf;
    config.recovery_key = recovery_key_;
    api_ = Must(
        api::MakeApi(config, Must(store::Open(db_url), "open the store"), mailer_, clock_, secret_),
        "MakeApi");
    api_->RegisterRoutes(router_);
  }

  http::Response Call(std::string method, std::string path, std::optional<json> body = {},
                      const std::string& token = "") {
    http::Request r;
    r.method = std::move(method);
    auto q = path.find('?');
    if (q != std::string::npos) {
      r.query = path.substr(q + 1);
      path.resize(q);
    }
    r.path = std::move(path);
    r.remote_address = remote_address;
    if (body) {
      r.headers["content-type"] = "application/json";
      r.body = body->dump();
    }
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    return router_.Handle(r);
  }

  // Fails the run unless the answer has this status; returns the body.
  json Expect(int status, const http::Response& r, const char* what) {
    if (r.status != status) {
      Die(std::string(what) + ": HTTP " + std::to_string(r.status) + " " + r.body);
    }
    return r.body.empty() ? json() : json::parse(r.body);
  }

  std::string Code(const std::string& email) {
    auto c = mailer_.WaitForCodeFor(email);
    if (!c) Die("no code emailed to " + email);
    return *c;
  }

  json LoginBody(const User& u, uint8_t key_tag) {
    return {{"email", u.email},
            {"auth_key", AuthKey(key_tag)},
            {"device", {{"id", "laptop"}, {"name", "laptop"}, {"type", "cli"}}}};
  }

  User SignUp(const std::string& email, uint8_t key_tag) {
    User u;
    u.email = email;
    u.key_tag = key_tag;
    json reg = {{"id", RandomB64(16)},
                {"email", email},
                {"kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
                {"salt", RandomB64(16)},
                {"auth_key", AuthKey(key_tag)},
                {"wrapped_vault_key", RandomB64(73)},
                {"public_key", RandomB64(32)},
                {"wrapped_private_key", RandomB64(73)}};
    u.id = reg["id"];
    Expect(202, Call("POST", "/v1/accounts", reg), "register");
    Expect(200, Call("POST", "/v1/accounts/verify", json{{"email", email}, {"code", Code(email)}}),
           "verify");
    u.token = Expect(201, Call("POST", "/v1/sessions", LoginBody(u, key_tag)), "login")["token"];
    return u;
  }

  void CreateOrg(const User& owner) {
    protocol::RecoveryPolicy policy;
    policy.enrollment = protocol::Enrollment::kOptIn;
    policy.mode = protocol::RecoveryMode::kDualControl;
    protocol::OrgStatement st;
    st.org_id = kOrg;
    st.version = 1;
    st.signing_public_key = signer_.public_key;
    st.org_public_key = org_key_.public_key;
    st.policy_json = Must(protocol::EncodePolicy(policy), "policy");
    st.not_before = clock_.NowUnix();
    auto signed_st = Must(protocol::SignOrgStatement(st, signer_), "sign statement");
    json grant = {
        {"key_version", 1}, {"recovery_grant", RandomB64(120)}, {"signing_grant", RandomB64(120)}};
    Expect(201,
           Call("POST", "/v1/orgs",
                json{{"id", kOrg},
                     {"name", "Acme"},
                     {"statement", B64(signed_st.statement)},
                     {"signature", B64(signed_st.signature)},
                     {"grant", grant}},
                owner.token),
           "create org");
  }

  void Join(const User& owner, const User& u) {
    const json invite{{"email", u.email}, {"role", "user"}, {"permissions", ""}};
    auto r = Call("POST", Path("/invites"), invite, owner.token);
    if (r.status == 429) {
      // The hourly invitation cap (issue 10) is not what is measured: move
      // the fake clock past its window, well inside the sessions' lifetime.
      clock_.Advance(3601);
      r = Call("POST", Path("/invites"), invite, owner.token);
    }
    Expect(201, r, "invite");
    const std::string body = mailer_.Sent().back().body;
    const std::string marker = "keyward org join ";
    auto at = body.find(marker);
    if (at == std::string::npos) Die("no invite token in the email");
    at += marker.size();
    std::string token = body.substr(at, body.find_first_of(" \n", at) - at);
    Expect(201, Call("POST", "/v1/invites/accept", json{{"token", token}}, u.token), "accept");
  }

  json EscrowJson(const User& u, uint64_t epoch, const crypto::VaultKey& vault_key) {
    auto e = Must(protocol::CreateEscrow(vault_key, kOrg, u.id, epoch, org_key_.public_key,
                                         recovery_key_->public_key),
                  "CreateEscrow");
    return {{"epoch", epoch},
            {"key_version", 1},
            {"wrapped_vault_key", B64(e.wrapped_vault_key)},
            {"admin_share", B64(e.admin_share)},
            {"server_share", B64(e.server_share)}};
  }

  void Enroll(User& u) {
    u.epoch = 1;
    Expect(200,
           Call("PUT", Path("/enrollment"),
                json{{"auth_key", AuthKey(u.key_tag)}, {"escrow", EscrowJson(u, 1, u.vault_key)}},
                u.token),
           "enroll");
  }

  static std::string Path(const std::string& rest) {
    return std::string("/v1/orgs/") + kOrg + rest;
  }

  testing::FakeClock& clock() { return clock_; }
  const crypto::BoxKeyPair& org_key() const { return org_key_; }
  std::string remote_address = "192.0.2.1";

 private:
  testing::FakeClock clock_;
  testing::MemoryMailer mailer_;
  crypto::ServerSecret secret_ = crypto::ServerSecret::Random();
  std::shared_ptr<const crypto::BoxKeyPair> recovery_key_ =
      std::make_shared<const crypto::BoxKeyPair>(crypto::GenerateBoxKeyPair());
  std::unique_ptr<api::Api> api_;
  http::Router router_;
  crypto::SignKeyPair signer_ = crypto::GenerateSignKeyPair();
  crypto::BoxKeyPair org_key_ = crypto::GenerateBoxKeyPair();
};

struct Stats {
  double p50 = 0, p99 = 0, max = 0, mean = 0;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stats s;
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  s.max = v.back();
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  return s;
}

// Accounts, members and requests straight through a second handle on the same
// SQLite file (what the API would have stored, minus the emails and events).
void Seed(const std::string& db_url, const User& owner, int64_t now) {
  auto db = Must(store::Open(db_url), "open the store for seeding");
  std::vector<std::string> ids;
  ids.reserve(kMembers);
  Must(db->Transact([&](store::Tx& tx) -> Status {
    ids.clear();
    for (int i = 0; i < kMembers; ++i) {
      core::Account a;
      a.id = RandomB64(16);
      a.email = "member" + std::to_string(i) + "@example.com";
      a.kdf_ops = crypto::kTestKdf.ops;
      a.kdf_mem = crypto::kTestKdf.mem;
      a.salt = crypto::RandomBytes(16);
      a.verifier = crypto::RandomBytes(32);
      a.wrapped_vault_key = crypto::RandomBytes(73);
      a.public_key = crypto::RandomBytes(32);
      a.wrapped_private_key = crypto::RandomBytes(73);
      a.verified = true;
      a.created_at = now - 400 * 86400;
      if (auto s = tx.InsertAccount(a); !s) return s;
      core::OrgMember m;
      m.org_id = kOrg;
      m.account_id = a.id;
      m.role = "user";
      m.status = core::MemberStatus::kActive;
      m.joined_at = a.created_at;
      m.last_epoch = 1;
      if (auto s = tx.InsertMember(m); !s) return s;
      ids.push_back(a.id);
    }
    return {};
  }),
       "seed members");
  // 98,000 final requests spread over the last 365 days (every third
  // declined, link_used or expired), and for 2,000 members one pending
  // request from the last 7 days: the pending ones are interleaved with
  // final ones of the same days, not simply the newest rows.
  const core::RequestStatus kFinal[] = {core::RequestStatus::kDeclined,
                                        core::RequestStatus::kLinkUsed,
                                        core::RequestStatus::kExpired};
  Must(db->Transact([&](store::Tx& tx) -> Status {
    int n = 0;
    for (int i = 0; i < kMembers; ++i) {
      const bool has_pending = i < kPendingMembers;
      for (int k = 0; k < kRequestsPerMember; ++k) {
        core::RecoveryRequest r;
        r.id = RandomB64(16);
        r.org_id = kOrg;
        r.account_id = ids[static_cast<size_t>(i)];
        r.epoch = 1;
        r.device_name = "laptop-" + std::to_string(i);
        r.remote_address = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        if (has_pending && k == 0) {
          r.status = core::RequestStatus::kPending;
          r.created_at = now - static_cast<int64_t>(crypto::RandomUniform(7 * 86400));
          r.expires_at = r.created_at + 7 * 86400 + 86400;  // still open at `now`
        } else {
          r.status = kFinal[(n++) % 3];
          r.created_at = now - static_cast<int64_t>(crypto::RandomUniform(365 * 86400));
          r.expires_at = r.created_at + 7 * 86400;
          r.decided_at = r.created_at + 3600;
          if (r.status == core::RequestStatus::kDeclined) {
            r.decided_by = owner.id;
            r.decline_reason = "Please call the help desk first";
          } else if (r.status == core::RequestStatus::kLinkUsed) {
            r.decided_by = owner.id;
            r.token_hash = crypto::RandomBytes(32);
            r.link_share = crypto::RandomBytes(73);
            r.completed_at = r.decided_at + 600;
          } else {
            r.decided_at = 0;
          }
        }
        if (auto s = tx.InsertRequest(r); !s) return s;
        if (r.status == core::RequestStatus::kLinkUsed) {
          if (auto s = tx.InsertApproval({r.id, owner.id, r.decided_at}); !s) return s;
        }
      }
    }
    return {};
  }),
       "seed requests");
}

void ListBench(const std::filesystem::path& dir, int iterations) {
  const std::string url = "sqlite:" + (dir / "list.db").string();
  Server server(url);
  User owner = server.SignUp("owner@example.com", 1);
  server.CreateOrg(owner);
  const auto t0 = Clock::now();
  Seed(url, owner, server.clock().NowUnix());
  std::printf("seeded %d members, %d requests (%d pending) in %.1f s\n", kMembers,
              kMembers * kRequestsPerMember, kPendingMembers, Ms(Clock::now() - t0) / 1000);

  auto measure = [&](const std::string& label, const std::string& path, size_t expect_rows) {
    for (int i = 0; i < 20; ++i) server.Call("GET", path, {}, owner.token);  // warm the cache
    std::vector<double> ms;
    ms.reserve(static_cast<size_t>(iterations));
    size_t bytes = 0;
    for (int i = 0; i < iterations; ++i) {
      const auto start = Clock::now();
      http::Response r = server.Call("GET", path, {}, owner.token);
      ms.push_back(Ms(Clock::now() - start));
      if (r.status != 200) Die(label + ": HTTP " + std::to_string(r.status) + " " + r.body);
      if (i == 0) {
        json b = json::parse(r.body);
        if (b["requests"].size() != expect_rows) {
          Die(label + ": " + std::to_string(b["requests"].size()) + " rows");
        }
        bytes = r.body.size();
      }
    }
    Stats s = Summarize(std::move(ms));
    std::printf("%-44s n=%d  p50 %.3f ms  p99 %.3f ms  max %.3f ms  (answer %zu bytes)\n",
                label.c_str(), iterations, s.p50, s.p99, s.max, bytes);
  };
  const std::string base = Server::Path("/recovery/requests");
  measure("list ?status=pending, first page (50)", base + "?status=pending", 50);
  measure("list, no filter, first page (50)", base, 50);
  measure("list ?status=pending&limit=200", base + "?status=pending&limit=200", 200);
  // The last page of pending requests: the keyset cursor, not an offset.
  std::string after;
  for (int page = 0; page < kPendingMembers / 50 - 1; ++page) {
    json b = server.Expect(
        200,
        server.Call("GET", base + "?status=pending" + (after.empty() ? "" : "&after=" + after), {},
                    owner.token),
        "page");
    after = b["next_after"];
  }
  measure("list ?status=pending, page 40 (after=...)", base + "?status=pending&after=" + after, 50);
}

struct StepTimes {
  std::vector<double> ask, confirm, show, approve, redeem, verify, complete, admin_crypto,
      member_crypto, total;
};

void RoundTripBench(const std::filesystem::path& dir, int round_trips) {
  Server server("sqlite:" + (dir / "roundtrip.db").string());
  User owner = server.SignUp("owner@example.com", 1);
  server.CreateOrg(owner);
  // One member per round trip: the per-email code limits (5 an hour) are not
  // what is measured. Warm-up round trips are not counted.
  constexpr int kWarmup = 3;
  std::vector<User> members;
  // A different address per member (the per-address hourly caps on
  // registration and on asking).
  auto address = [](int i) {
    return std::string(i < 250 ? "198.51.100." : "203.0.113.") + std::to_string(i % 250);
  };
  if (round_trips + kWarmup > 500) Die("at most 497 round trips");
  for (int i = 0; i < round_trips + kWarmup; ++i) {
    server.remote_address = address(i);
    User u = server.SignUp("bob" + std::to_string(i) + "@example.com", 2);
    server.Join(owner, u);
    server.Enroll(u);
    members.push_back(std::move(u));
  }

  StepTimes t;
  for (int i = 0; i < round_trips + kWarmup; ++i) {
    User& bob = members[static_cast<size_t>(i)];
    server.remote_address = address(i);
    const bool counted = i >= kWarmup;
    auto step = [&](std::vector<double>& into, const std::function<void()>& fn) {
      const auto start = Clock::now();
      fn();
      const double ms = Ms(Clock::now() - start);
      if (counted) into.push_back(ms);
      return ms;
    };
    double total = 0;
    std::string id;
    json shown, verified;
    std::optional<protocol::ApprovedLink> link;
    json escrow;

    total += step(t.ask, [&] {
      server.Expect(202,
                    server.Call("POST", "/v1/recovery/requests",
                                json{{"email", bob.email}, {"device_name", "bob-laptop"}}),
                    "ask");
    });
    const std::string code = server.Code(bob.email);
    total += step(t.confirm, [&] {
      id = server.Expect(201,
                         server.Call("POST", "/v1/recovery/requests/confirm",
                                     json{{"email", bob.email}, {"code", code}}),
                         "confirm")["request_id"];
    });
    const std::string request_path = Server::Path("/recovery/requests/" + id);
    total += step(t.show, [&] {
      shown = server.Expect(200, server.Call("GET", request_path, {}, owner.token), "show");
    });
    // The admin's client: A from SA, then L, T, LA.
    total += step(t.admin_crypto, [&] {
      auto share = crypto::Base64UrlDecode(shown["escrow"]["admin_share"].get<std::string>());
      if (!share) Die("admin_share");
      auto a = Must(protocol::OpenAdminShare(server.org_key(), *share, kOrg, bob.id, bob.epoch),
                    "OpenAdminShare");
      link.emplace(Must(protocol::CreateLink(a, id, bob.id, bob.epoch), "CreateLink"));
    });
    const json approve_body = {{"token", B64(link->token.span())},
                               {"link_share", B64(link->linked_admin_share)}};
    total += step(t.approve, [&] {
      server.Expect(200, server.Call("POST", request_path + "/approve", approve_body, owner.token),
                    "approve");
    });
    json redeem_body = {{"request_id", id}, {"token", B64(link->token.span())}};
    total += step(t.redeem, [&] {
      server.Expect(202, server.Call("POST", "/v1/recovery/redeem", redeem_body), "redeem");
    });
    redeem_body["code"] = server.Code(bob.email);
    total += step(t.verify, [&] {
      verified = server.Expect(200, server.Call("POST", "/v1/recovery/redeem/verify", redeem_body),
                               "verify");
    });
    // The member's client: A from LA, E = A xor U, UK from W, the new master
    // key (Argon2id at kTestKdf) and a fresh escrow at epoch + 1.
    total += step(t.member_crypto, [&] {
      auto la_bytes = crypto::Base64UrlDecode(verified["link_share"].get<std::string>());
      auto u = crypto::Base64UrlDecodeSecret(verified["server_part"].get<std::string>());
      auto w_bytes = crypto::Base64UrlDecode(verified["wrapped_vault_key"].get<std::string>());
      if (!la_bytes || !u || !w_bytes) Die("redeem/verify answer");
      auto a =
          Must(protocol::OpenLink(link->link_secret, *la_bytes, id, bob.id, bob.epoch), "OpenLink");
      auto uk = Must(protocol::RecoverVaultKey(a, crypto::GenericKey(std::move(*u)), *w_bytes, kOrg,
                                               bob.id, bob.epoch),
                     "RecoverVaultKey");
      if (!crypto::ConstantTimeEqual(uk.span(), bob.vault_key.span())) Die("wrong vault key");
      const auto salt = crypto::RandomBytes(crypto::kSaltSize);
      auto mk = Must(crypto::DeriveMasterKey("new password", salt, crypto::kTestKdf), "KDF");
      (void)mk;
      escrow = server.EscrowJson(bob, bob.epoch + 1, uk);
      escrow["org_id"] = kOrg;
    });
    const json complete = {
        {"ticket", verified["ticket"]},
        {"new_kdf", {{"ops", crypto::kTestKdf.ops}, {"mem", crypto::kTestKdf.mem}}},
        {"new_salt", RandomB64(16)},
        {"new_auth_key", AuthKey(7)},
        {"new_wrapped_vault_key", RandomB64(73)},
        {"escrows", json::array({escrow})}};
    total += step(t.complete, [&] {
      server.Expect(204, server.Call("POST", "/v1/recovery/redeem/complete", complete), "complete");
    });
    if (counted) t.total.push_back(total);
  }

  std::printf("\nround trip, n=%d (after %d warm-up), KDF kTestKdf (ops %llu, mem %llu B)\n",
              round_trips, kWarmup, static_cast<unsigned long long>(crypto::kTestKdf.ops),
              static_cast<unsigned long long>(crypto::kTestKdf.mem));
  auto row = [](const char* name, const std::vector<double>& v) {
    Stats s = Summarize(v);
    std::printf("  %-42s mean %.3f ms  p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", name, s.mean,
                s.p50, s.p99, s.max);
  };
  row("POST /v1/recovery/requests (ask code)", t.ask);
  row("POST /v1/recovery/requests/confirm", t.confirm);
  row("GET  .../recovery/requests/{id} (SA)", t.show);
  row("admin client: OpenAdminShare+CreateLink", t.admin_crypto);
  row("POST .../requests/{id}/approve", t.approve);
  row("POST /v1/recovery/redeem", t.redeem);
  row("POST /v1/recovery/redeem/verify", t.verify);
  row("member client: OpenLink+Recover+KDF+escrow", t.member_crypto);
  row("POST /v1/recovery/redeem/complete", t.complete);
  std::vector<double> server_only;
  for (size_t i = 0; i < t.total.size(); ++i) {
    server_only.push_back(t.ask[i] + t.confirm[i] + t.show[i] + t.approve[i] + t.redeem[i] +
                          t.verify[i] + t.complete[i]);
  }
  row("server steps (7 calls)", server_only);
  row("round trip (server + client crypto)", t.total);
}

void KdfBench(int runs) {
  const auto salt = crypto::RandomBytes(crypto::kSaltSize);
  std::vector<double> ms;
  for (int i = 0; i < runs + 1; ++i) {
    const auto start = Clock::now();
    auto mk =
        Must(crypto::DeriveMasterKey("correct horse battery staple", salt, crypto::kDefaultKdf),
             "DeriveMasterKey");
    (void)mk;
    if (i > 0) ms.push_back(Ms(Clock::now() - start));  // the first one maps the memory
  }
  Stats s = Summarize(ms);
  std::printf(
      "\nArgon2id at kDefaultKdf (ops %llu, %llu MiB), n=%d: mean %.1f ms  p50 %.1f ms  max %.1f "
      "ms\n",
      static_cast<unsigned long long>(crypto::kDefaultKdf.ops),
      static_cast<unsigned long long>(crypto::kDefaultKdf.mem >> 20), runs, s.mean, s.p50, s.max);
}

void PrintMachine() {
  std::string cpu;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  std::printf("machine: %s, %u cores, %s %s, load average %.2f at start\n", cpu.c_str(),
              std::thread::hardware_concurrency(), u.sysname, u.release, load[0]);
}

}  // namespace
}  // namespace keyward::bench

int main(int argc, char** argv) {
  using namespace keyward::bench;
  int list_iterations = 2000;
  int round_trips = 100;
  int kdf_runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--list-iterations") {
      list_iterations = value;
    } else if (flag == "--round-trips") {
      round_trips = value;
    } else if (flag == "--kdf-runs") {
      kdf_runs = value;
    } else {
      std::fprintf(stderr, "usage: %s [--list-iterations N] [--round-trips N] [--kdf-runs N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (list_iterations < 1 || round_trips < 1 || kdf_runs < 1) return 2;
  Must(keyward::crypto::Init(), "crypto::Init");
  PrintMachine();
  char tmpl[] = "/tmp/keyward_request_bench.XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp");
  const std::filesystem::path dir = tmpl;
  ListBench(dir, list_iterations);
  RoundTripBench(dir, round_trips);
  KdfBench(kdf_runs);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
