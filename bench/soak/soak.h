// The soak's load driver (issue 15, item 7; bench/soak.sh starts keywardd and
// runs this against it). Over real HTTP (libcurl, one keep-alive connection
// per thread) to a live keywardd on SQLite or PostgreSQL:
//
// Setup: accounts registered and verified through the API (codes read from
// the server's outbox), organizations (a real signed statement, opt-in,
// dual-control, quorum 1) with up to 20 members each, every member enrolled
// at join with a real escrow (sealed to pk_org and to the server's pk_srv).
//
// The mix (per unit of load): 35 % GET /v1/items/{id}, 15 % GET /v1/items
// (a fixed 20-item vault), 15 % POST /v1/items, 15 % PUT /v1/items/{id},
// 20 % a login (POST /v1/accounts/prelogin, POST /v1/sessions,
// DELETE /v1/sessions/current). Beside it, at a fixed rate of recovery flows,
// a member's whole recovery with real protocol crypto: ask, confirm (the
// emailed code), the owner's GET of the request and approve (OpenAdminShare +
// CreateLink), redeem, verify (the second code), complete (OpenLink +
// RecoverVaultKey, checked against the enrolled vault key, and a new escrow),
// then a login with the new credentials. Each member is recovered once (the
// per-email and per-inviter hourly caps bound how often one could be).
//
// Phase 1 (capacity): the mix closed-loop on --capacity-workers threads for
// --capacity-seconds; capacity = mix units/s after a 2 s warm-up.
// Phase 2 (soak): the mix open-loop at --load x capacity units/s (fixed
// schedule; latency counted from each unit's scheduled start, so a backlog
// shows), plus the recovery flows, for --seconds. Every --window seconds: p50
// and p99 per request class, keywardd's RSS and open fds (/proc), and on
// PostgreSQL the database's connections (pg_stat_activity), sampled each
// second.
//
// Every answer is checked (status and body); any 5xx or unexpected answer is a
// failure. Every acknowledged item write is kept in a ledger and the vaults
// are read back at the end: an acknowledged item missing or different is a
// lost write. "Flat" (see Evaluate below and docs/operations.md "Soak"):
//   p99    the median of the last third's window p99s <= 3 x the median of
//          the steady windows of the first half (windows 2..n/2) + 25 ms, for
//          all requests together and for each class (windows with >= 20
//          answers of it);
//   RSS    last sample <= 1.2 x the sample at the end of window 1 (warm-up)
//          + 4 MiB;
//   fds    the last window's maximum <= the maximum of the first half + 2;
//   conns  (PostgreSQL) the last window's maximum <= the maximum of the
//          first half + 1 (the pool opens connections on demand), and never
//          above --pg-pool.
// The driver exits 1 with one line per violation ("soak: FAIL: ...").
//
// Files: support.* (HTTP, latencies, outbox), setup.cc (accounts,
// organizations, members), load.cc (the mix, the recovery flow, the phases
// and the sampler), report.cc (the ledger check, the rules above, the
// report), main.cc (Run and the command line).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench/soak/support.h"
#include "crypto/crypto.h"

namespace keyward::bench::soak {

struct Options {
  std::string url;
  fs::path outbox;
  pid_t pid = 0;
  std::string pg_url;  // empty: SQLite (no connection count)
  std::string label = "sqlite";
  int seconds = 60;
  int capacity_seconds = 12;
  int window = 10;
  double load = 0.8;
  int capacity_workers = 16;
  int workers = 32;
  double recovery_per_second = 0.5;
  int pg_pool = 8;
  int item_accounts = 32;
  int list_accounts = 8;
  std::string json_path;
};

// ---------------------------------------------------------------------------
// The people of the soak.

struct Account {
  std::string id, email, auth_key, address, token;
};

struct LedgerItem {
  int64_t revision = 0;
  std::string data;
};

// A vault written by the mix; its ops are serialized by `mu`, so the
// ledger is exact: what the server acknowledged last is what it must list.
struct ItemVault {
  std::mutex mu;
  Account account;
  std::map<std::string, LedgerItem> ledger;  // acknowledged
  std::set<std::string> uncertain;           // a write without a clear answer
  std::vector<std::string> ids;
  int next = 0;
  long acknowledged_writes = 0;
};

struct Org {
  std::string id;
  Account owner;
  crypto::BoxKeyPair org_key = crypto::GenerateBoxKeyPair();
  crypto::SignKeyPair signer = crypto::GenerateSignKeyPair();
};

struct Member {
  Account account;
  Org* org = nullptr;
  uint64_t epoch = 1;
  crypto::VaultKey vault_key = crypto::VaultKey::Random();
};

class Soak {
 public:
  explicit Soak(Options o) : o_(std::move(o)), outbox_(o_.outbox) {}

  int Run();

 private:
  // One request, checked: the status must be `want`; latency recorded under
  // `op` (from `scheduled` when given, so queueing counts).
  std::optional<json> Call(Op op, const std::string& method, const std::string& path,
                           const json& body, const std::string& token, const std::string& address,
                           long want, std::optional<Clock::time_point> scheduled = {});
  // A window's length: the last one may be shorter.
  double WindowSeconds(int w) const { return std::min(o_.window, o_.seconds - w * o_.window); }
  std::string NextAddress() {
    const int i = ++address_counter_;
    return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
           std::to_string(i & 255);
  }

  // Setup (Die on any failure: nothing is measured yet).
  Account Register(const std::string& email);
  void CreateOrg(Org& org);
  void AddMember(Org& org, Member& m);
  void Setup(int members);

  // The mix.
  void MixUnit(std::mt19937_64& rng, std::optional<Clock::time_point> scheduled);
  void Login(const Account& a, std::optional<Clock::time_point> scheduled);
  void ItemGet(ItemVault& v, std::mt19937_64& rng, std::optional<Clock::time_point> scheduled);
  void ItemWrite(ItemVault& v, bool create, std::mt19937_64& rng,
                 std::optional<Clock::time_point> scheduled);
  void ItemList(std::mt19937_64& rng, std::optional<Clock::time_point> scheduled);
  void RecoveryFlow(Member& m);

  double MeasureCapacity();
  void SoakPhase(double rate);
  void Sampler(const std::atomic<bool>& stop);
  long VerifyLedger();
  std::vector<std::string> Evaluate(const std::vector<Window>& w);
  void Report(double capacity, double rate, const std::vector<Window>& w, long lost,
              const std::vector<std::string>& violations);

  Options o_;
  Outbox outbox_;
  Failures failures_;
  std::unique_ptr<Recorder> recorder_;
  std::atomic<int> address_counter_{0};
  std::string server_public_key_b64_;
  crypto::Bytes server_public_key_;
  std::vector<std::unique_ptr<ItemVault>> vaults_;
  std::vector<Account> list_accounts_;
  std::vector<std::unique_ptr<Org>> orgs_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<size_t> next_member_{0};
  std::atomic<long> flows_done_{0};
  std::atomic<long> units_done_{0};
  long acknowledged_total_ = 0;
  size_t max_backlog_ = 0;
  std::string run_tag_;  // in every email and organization id of this run
};

}  // namespace keyward::bench::soak
