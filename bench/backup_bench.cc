// Local backup files (issue 12): writing and reading a 10,000-item vault
// against raw crypto_secretstream over the same item plaintexts in the same
// run (target: backup >= 0.7x raw). The Argon2id derivation of the file key
// (one per file, deliberately slow) is measured apart.
//   build/bin/keyward_backup_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "keyward/backup.h"
#include "protocol/backup.h"

namespace keyward::client {
namespace {

constexpr int kItems = 10'000;

// A realistic item: ~30-byte name, username, URL, 24-char password, short notes.
BackupContents Vault() {
  BackupContents c;
  c.account_id = "bench-account-0001";
  c.email = "bench@example.com";
  c.created_at = 1'790'000'000;
  for (int i = 0; i < kItems; ++i) {
    Item item;
    item.id = "item-" + std::to_string(i) + "-Zx81kQ2mP0";
    item.revision = 3;
    item.created_at = "2026-11-01T10:00:00Z";
    item.updated_at = "2026-12-01T10:00:00Z";
    item.fields.name = "Service number " + std::to_string(i);
    item.fields.username = "user" + std::to_string(i) + "@example.com";
    item.fields.url = "https://service" + std::to_string(i) + ".example.com/login";
    item.fields.password = crypto::SecureBytes::Copy("q7#Vd9!mZ2@rT5^kL8&wX3*p");
    item.fields.notes = crypto::SecureBytes::Copy("recovery codes are in the safe");
    c.items.push_back(std::move(item));
  }
  return c;
}

const BackupContents& TheVault() {
  static const BackupContents v = Vault();
  return v;
}

// The same bytes the backup's records hold, serialised once up front.
std::vector<std::string> Plaintexts() {
  auto file = EncodeBackupWithKey(TheVault(), crypto::GenericKey(crypto::SecureBytes(32)),
                                  crypto::kClientFloorKdf, crypto::Bytes(16));
  auto opened = protocol::OpenBackup(crypto::GenericKey(crypto::SecureBytes(32)), *file);
  std::vector<std::string> out;
  for (size_t i = 0; i < opened->records.size(); ++i) {
    auto r = opened->record(i);
    out.emplace_back(r.begin(), r.end());
  }
  return out;
}

int64_t TotalBytes(const std::vector<std::string>& p) {
  int64_t n = 0;
  for (const auto& s : p) n += static_cast<int64_t>(s.size());
  return n;
}

std::span<const uint8_t> B(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void BM_RawSecretStreamPush(benchmark::State& state) {
  (void)crypto::Init();
  const auto plain = Plaintexts();
  const auto key = crypto::GenericKey::Random();
  for (auto _ : state) {
    crypto::StreamPush push(key.span());
    crypto::Bytes out;
    for (size_t i = 0; i < plain.size(); ++i) {
      auto ct = push.Push(B(plain[i]), {}, i + 1 == plain.size());
      out.insert(out.end(), ct.begin(), ct.end());
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
  state.SetBytesProcessed(state.iterations() * TotalBytes(plain));
}
BENCHMARK(BM_RawSecretStreamPush)->Unit(benchmark::kMillisecond);

void BM_BackupCreate(benchmark::State& state) {
  (void)crypto::Init();
  const auto& vault = TheVault();
  const auto key = crypto::GenericKey::Random();
  const crypto::Bytes salt(16, 7);
  for (auto _ : state) {
    auto file = EncodeBackupWithKey(vault, key, crypto::kClientFloorKdf, salt);
    benchmark::DoNotOptimize(file);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
}
BENCHMARK(BM_BackupCreate)->Unit(benchmark::kMillisecond);

void BM_RawSecretStreamPull(benchmark::State& state) {
  (void)crypto::Init();
  const auto plain = Plaintexts();
  const auto key = crypto::GenericKey::Random();
  crypto::StreamPush push(key.span());
  std::vector<crypto::Bytes> cts;
  for (size_t i = 0; i < plain.size(); ++i) {
    cts.push_back(push.Push(B(plain[i]), {}, i + 1 == plain.size()));
  }
  for (auto _ : state) {
    auto pull = crypto::StreamPull::Start(key.span(), push.header());
    crypto::SecureBytes out(static_cast<size_t>(TotalBytes(plain)));
    size_t at = 0;
    bool final = false;
    for (const auto& ct : cts) {
      auto span = out.mutable_span().subspan(at, ct.size() - crypto::kStreamOverhead);
      if (!pull->PullInto(ct, {}, span, &final)) state.SkipWithError("pull failed");
      at += span.size();
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kItems);
  state.SetBytesProcessed(state.iterations() * TotalBytes(plain));
}
BENCHMARK(BM_RawSecretStreamPull)->Unit(benchmark::kMillisecond);

void BM_BackupRestoreDecode(benchmark::State& state) {
  (void)crypto::Init();
  const auto key = crypto::GenericKey::Random();
  const auto file =
      *EncodeBackupWithKey(TheVault(), key, crypto::kClientFloorKdf, crypto::Bytes(16, 7));
  for (auto _ : state) {
    auto back = DecodeBackupWithKey(file, key);
    if (!back || back->items.size() != static_cast<size_t>(kItems)) {
      state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(back);
  }
  state.SetItemsProcessed(state.iterations() * kItems);
  state.counters["file_MiB"] = static_cast<double>(file.size()) / (1 << 20);
}
BENCHMARK(BM_BackupRestoreDecode)->Unit(benchmark::kMillisecond);

// The per-file key: Argon2id at the client floor, and at the default.
void BM_BackupKey(benchmark::State& state, crypto::KdfParams kdf) {
  (void)crypto::Init();
  protocol::BackupHeader h;
  h.kdf = kdf;
  h.salt = crypto::Bytes(16, 7);
  for (auto _ : state) benchmark::DoNotOptimize(protocol::DeriveBackupKey("a password", h));
}
BENCHMARK_CAPTURE(BM_BackupKey, client_floor, crypto::kClientFloorKdf)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_BackupKey, default, crypto::kDefaultKdf)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keyward::client

BENCHMARK_MAIN();
