// Cloud snapshots (issue 12): a 10,000-item vault pushed and restored,
// each against a baseline measured in the same run.
//   - client: EncodeSnapshot (every item checked by opening it under the
//     vault key, then framed and encrypted) and DecodeSnapshot (opened,
//     checked the same way) against raw crypto_secretstream over the same
//     records.
//   - server: SnapshotService upload (Begin, every part, Finish with its
//     retention and event) and a whole restore (RestoreService Request, the
//     items staged in two calls, and the approval whose transaction rolls
//     the vault back and unpairs the other devices), against one write
//     transaction that inserts the same 10,000 items, on in-memory SQLite.
//   build/bin/keyward_snapshot_bench --benchmark_repetitions=3
//     --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bench/bench_server.h"
#include "core/restores.h"
#include "core/snapshots.h"
#include "keyward/client.h"
#include "keyward/snapshot.h"
#include "protocol/backup.h"
#include "protocol/policy.h"

namespace keyward {
namespace {

constexpr int kItems = 10'000;
constexpr char kAccount[] = "bench-account-0001";
constexpr char kSnapshot[] = "bench-snapshot-1";

struct Vault {
  crypto::VaultKey uk = crypto::VaultKey::Random();
  std::vector<client::EncryptedItem> items;
};

// A realistic item, sealed as a client seals it.
const Vault& TheVault() {
  static const Vault v = [] {
    (void)crypto::Init();
    Vault vault;
    for (int i = 0; i < kItems; ++i) {
      client::ItemFields f;
      f.name = "Service number " + std::to_string(i);
      f.username = "user" + std::to_string(i) + "@example.com";
      f.url = "https://service" + std::to_string(i) + ".example.com/login";
      f.password = crypto::SecureBytes::Copy("q7#Vd9!mZ2@rT5^kL8&wX3*p");
      f.notes = crypto::SecureBytes::Copy("recovery codes are in the safe");
      client::EncryptedItem e;
      e.id = "item-" + std::to_string(i) + "-Zx81kQ2mP0";
      e.revision = 1;
      e.data = client::EncryptItem(vault.uk, kAccount, e.id, f);
      vault.items.push_back(std::move(e));
    }
    return vault;
  }();
  return v;
}

const crypto::Bytes& TheFile() {
  static const crypto::Bytes file =
      client::EncodeSnapshot(TheVault().uk, kAccount, kSnapshot, 1'790'000'000, TheVault().items)
          .value();
  return file;
}

// The snapshot's records, as plaintexts.
std::vector<crypto::Bytes> Records() {
  auto opened = protocol::OpenBackup(protocol::DeriveSnapshotKey(TheVault().uk), TheFile());
  std::vector<crypto::Bytes> out;
  for (size_t i = 0; i < opened->records.size(); ++i) {
    auto r = opened->record(i);
    out.emplace_back(r.begin(), r.end());
  }
  return out;
}

void SetBytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(TheFile().size()));
}

// ---- client ----

void BM_RawSecretStreamPush(benchmark::State& state) {
  const auto records = Records();
  const auto key = crypto::GenericKey::Random();
  for (auto _ : state) {
    crypto::StreamPush push(key.span());
    crypto::Bytes out;
    for (size_t i = 0; i < records.size(); ++i) {
      auto ct = push.Push(records[i], {}, i + 1 == records.size());
      out.insert(out.end(), ct.begin(), ct.end());
    }
    benchmark::DoNotOptimize(out);
  }
  SetBytes(state);
}
BENCHMARK(BM_RawSecretStreamPush)->Unit(benchmark::kMillisecond);

void BM_EncodeSnapshot(benchmark::State& state) {
  const Vault& v = TheVault();
  for (auto _ : state) {
    auto file = client::EncodeSnapshot(v.uk, kAccount, kSnapshot, 1'790'000'000, v.items);
    if (!file) {
      state.SkipWithError("encode failed");
      break;
    }
    benchmark::DoNotOptimize(file);
  }
  SetBytes(state);
}
BENCHMARK(BM_EncodeSnapshot)->Unit(benchmark::kMillisecond);

void BM_RawSecretStreamPull(benchmark::State& state) {
  const auto records = Records();
  const auto key = crypto::GenericKey::Random();
  crypto::StreamPush push(key.span());
  std::vector<crypto::Bytes> cts;
  for (size_t i = 0; i < records.size(); ++i) {
    cts.push_back(push.Push(records[i], {}, i + 1 == records.size()));
  }
  for (auto _ : state) {
    auto pull = crypto::StreamPull::Start(key.span(), push.header());
    bool final = false;
    for (const auto& ct : cts) {
      crypto::Bytes out(ct.size() - crypto::kStreamOverhead);
      if (!pull->PullInto(ct, {}, out, &final)) {
        state.SkipWithError("pull failed");
        return;
      }
      benchmark::DoNotOptimize(out);
    }
  }
  SetBytes(state);
}
BENCHMARK(BM_RawSecretStreamPull)->Unit(benchmark::kMillisecond);

void BM_DecodeSnapshot(benchmark::State& state) {
  const Vault& v = TheVault();
  const crypto::Bytes& file = TheFile();
  for (auto _ : state) {
    auto contents = client::DecodeSnapshot(v.uk, file, kAccount, kSnapshot);
    if (!contents || contents->items.size() != static_cast<size_t>(kItems)) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(contents);
  }
  SetBytes(state);
}
BENCHMARK(BM_DecodeSnapshot)->Unit(benchmark::kMillisecond);

// ---- server ----

// The server of server.h with an organization whose owner ("admin") approves
// the member's restores; the member signed in on a second device too.
class RestoreServer : public Server {
 public:
  std::string SetUpOrg() {
    if (auto e = SetUp(); !e.empty()) return e;
    auto admin = Register("admin@example.com");
    if (!admin) return "Register admin: " + admin.error().code();
    admin_.account_id = *admin;
    admin_.device_id = "admin-laptop";
    const int64_t now = clock().NowUnix();
    auto s = store().Transact([&](store::Tx& tx) -> Status {
      core::Org org;
      org.id = "acme";
      org.name = "Acme";
      org.created_at = now;
      org.created_by = admin_.account_id;
      org.statement_version = 1;
      org.key_version = 1;
      org.recovery_public_key = crypto::RandomBytes(32);
      KW_ASSIGN_OR_RETURN(org.policy_json, protocol::EncodePolicy(protocol::RecoveryPolicy{}));
      KW_TRY(tx.CreateOrg(org));
      KW_TRY(tx.InsertMember(
          {org.id, admin_.account_id, "owner", "", core::MemberStatus::kActive, now, 0}));
      return tx.InsertMember(
          {org.id, account_id(), "user", "", core::MemberStatus::kActive, now, 0});
    });
    if (!s) return "org: " + s.error().code();
    return "";
  }

  const core::Caller& admin() const { return admin_; }

 private:
  core::Caller admin_;
};

// The vault's rows with other bytes than the snapshot's (so every item is
// rewritten by a rollback), in one transaction; timer paused by the caller.
Status ResetVault(Server& server, uint8_t tag) {
  return server.store().Transact([&](store::Tx& tx) -> Status {
    KW_ASSIGN_OR_RETURN(auto items, tx.ListItems(server.account_id()));
    for (const auto& i : items) KW_TRY(tx.DeleteItem(server.account_id(), i.id));
    for (const auto& e : TheVault().items) {
      core::Item item{server.account_id(), e.id, 1, e.data, 0, 0};
      item.data.back() ^= tag;
      KW_TRY(tx.InsertItem(item));
    }
    return {};
  });
}

void BM_StoreInsertVault(benchmark::State& state) {
  Server server;
  if (auto e = server.SetUp(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  for (auto _ : state) {
    state.PauseTiming();
    auto cleared = server.store().Transact([&](store::Tx& tx) -> Status {
      KW_ASSIGN_OR_RETURN(auto items, tx.ListItems(server.account_id()));
      for (const auto& i : items) KW_TRY(tx.DeleteItem(server.account_id(), i.id));
      return {};
    });
    state.ResumeTiming();
    auto s = server.store().Transact([&](store::Tx& tx) -> Status {
      for (const auto& e : TheVault().items) {
        KW_TRY(tx.InsertItem({server.account_id(), e.id, 1, e.data, 0, 0}));
      }
      return {};
    });
    if (!cleared || !s) {
      state.SkipWithError("insert failed");
      break;
    }
  }
}
BENCHMARK(BM_StoreInsertVault)->Unit(benchmark::kMillisecond);

void BM_ServerPushSnapshot(benchmark::State& state) {
  Server server;
  if (auto e = server.SetUp(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  const crypto::Bytes& file = TheFile();
  const uint32_t parts =
      static_cast<uint32_t>((file.size() + core::kSnapshotPartMax - 1) / core::kSnapshotPartMax);
  int64_t n = 0;
  for (auto _ : state) {
    const std::string id = "snap-" + std::to_string(++n);
    auto& snapshots = server.core().snapshots;
    Status s = Discard(snapshots.Begin(server.caller(), id, file.size(), parts));
    for (uint32_t p = 0; s && p < parts; ++p) {
      const size_t at = size_t{p} * core::kSnapshotPartMax;
      const size_t len = std::min(core::kSnapshotPartMax, file.size() - at);
      s = snapshots.PutPart(server.caller(), id, p,
                            store::Bytes(file.begin() + static_cast<std::ptrdiff_t>(at),
                                         file.begin() + static_cast<std::ptrdiff_t>(at + len)));
    }
    if (s) s = Discard(snapshots.Finish(server.caller(), id));
    if (!s) {
      state.SkipWithError(("push: " + s.error().code()).c_str());
      break;
    }
  }
  SetBytes(state);
}
BENCHMARK(BM_ServerPushSnapshot)->Unit(benchmark::kMillisecond);

// Request + staging (two calls of 5,000) + the approval that rolls back.
void BM_ServerRestoreSnapshot(benchmark::State& state) {
  RestoreServer server;
  if (auto e = server.SetUpOrg(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  const crypto::Bytes& file = TheFile();
  auto& snapshots = server.core().snapshots;
  if (!snapshots.Begin(server.caller(), kSnapshot, file.size(),
                       1 + file.size() / core::kSnapshotPartMax)) {
    state.SkipWithError("begin");
    return;
  }
  for (size_t at = 0, p = 0; at < file.size(); at += core::kSnapshotPartMax, ++p) {
    const size_t len = std::min(core::kSnapshotPartMax, file.size() - at);
    (void)snapshots.PutPart(server.caller(), kSnapshot, static_cast<uint32_t>(p),
                            store::Bytes(file.begin() + static_cast<std::ptrdiff_t>(at),
                                         file.begin() + static_cast<std::ptrdiff_t>(at + len)));
  }
  if (!snapshots.Finish(server.caller(), kSnapshot)) {
    state.SkipWithError("finish");
    return;
  }
  std::vector<std::vector<core::StagedItem>> batches(2);
  for (size_t i = 0; i < TheVault().items.size(); ++i) {
    const auto& e = TheVault().items[i];
    batches[i * 2 / TheVault().items.size()].push_back({e.id, e.data});
  }
  uint8_t tag = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Status reset = ResetVault(server, ++tag | 1);
    state.ResumeTiming();
    auto view = server.core().restores.Request(server.caller(), {kSnapshot, "laptop", kItems});
    Status s = reset;
    if (s && !view) s = Fail(view.error());
    for (const auto& batch : batches) {
      if (s) s = server.core().restores.Stage(server.caller(), view->request.id, batch);
    }
    if (s) {
      auto approved =
          server.core().requests.Approve(server.admin(), "acme", view->request.id, std::nullopt);
      if (!approved) s = Fail(approved.error());
    }
    if (!s) {
      state.SkipWithError(("restore: " + s.error().code()).c_str());
      break;
    }
  }
  SetBytes(state);
}
BENCHMARK(BM_ServerRestoreSnapshot)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keyward

BENCHMARK_MAIN();
