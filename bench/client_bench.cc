// The client's side of a large vault (issue 16, "Client"): `keyward item
// list` of 10,000 items, from the server's answer (its JSON text, as
// GET /v1/items sends it) to the opened items (src/client/item_list.h),
// beside its ceiling: raw crypto_aead_xchacha20poly1305_ietf_decrypt over
// the same 10,000 ciphertexts into one reused buffer. bench/run reports the
// ratio (target >= 0.5). Rotation against raw seal+open is
// keyward_rotation_bench.
//   build/bin/keyward_client_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "client/item_list.h"
#include "crypto/crypto.h"
#include "keyward/client.h"

namespace keyward::client {
namespace {

constexpr size_t kItems = 10'000;
constexpr std::string_view kAccount = "bench-account-0123456789";

// A vault of kItems items of ~250 bytes of plaintext each (a login with a
// URL and a short note), and the answer GET /v1/items gives for it.
struct Vault {
  crypto::VaultKey uk = crypto::VaultKey::Random();
  std::vector<std::string> ids;
  std::vector<crypto::Bytes> blobs;
  std::string answer;

  Vault() {
    answer = R"({"items":[)";
    for (size_t i = 0; i < kItems; ++i) {
      ItemFields f;
      f.name = fmt::format("Login {}", i);
      f.username = fmt::format("user{}@example.com", i);
      f.password = SecretBase64Url(crypto::RandomBytes(15));  // 20 characters
      f.url = fmt::format("https://service{}.example.com/login", i);
      const std::string notes = "Recovery questions are in the safe; rotate every quarter.";
      f.notes = crypto::SecureBytes::Copy(std::string_view(notes));
      ids.push_back(NewItemId());
      blobs.push_back(EncryptItem(uk, kAccount, ids.back(), f));
      if (i > 0) answer += ',';
      answer +=
          fmt::format(R"({{"id":"{}","revision":1,"data":"{}","created_at":"2026-12-08T00:00:00Z",)"
                      R"("updated_at":"2026-12-08T00:00:00Z"}})",
                      ids.back(), crypto::Base64UrlEncode(blobs.back()));
    }
    answer += "]}";
  }
};

const Vault& TheVault() {
  static const Vault* vault = new Vault();
  return *vault;
}

void SetRates(benchmark::State& state, const Vault& v) {
  int64_t bytes = 0;
  for (const auto& b : v.blobs) bytes += static_cast<int64_t>(b.size());
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kItems));
  state.SetBytesProcessed(state.iterations() * bytes);
}

// What `keyward item list` does once the answer is in (Client::ListItems):
// read it, decode each item, open it, read its fields.
void BM_ListItems10k(benchmark::State& state) {
  (void)crypto::Init();
  const Vault& v = TheVault();
  for (auto _ : state) {
    auto listed = ParseItemListText(v.answer);
    if (!listed) {
      state.SkipWithError("the answer did not parse");
      break;
    }
    auto opened = OpenItems(v.uk, kAccount, std::move(*listed));
    if (!opened || opened->size() != kItems) {
      state.SkipWithError("an item did not open");
      break;
    }
    benchmark::DoNotOptimize(opened->back().fields.password.data());
  }
  SetRates(state, v);
}
BENCHMARK(BM_ListItems10k)->Unit(benchmark::kMillisecond);

// The ceiling: the same ciphertexts (already decoded, their additional data
// already built) through raw libsodium into one buffer.
void BM_RawDecrypt10k(benchmark::State& state) {
  (void)crypto::Init();
  const Vault& v = TheVault();
  const size_t header = 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::vector<crypto::Bytes> ads;
  for (const auto& id : v.ids) ads.push_back(crypto::Ad({"keyward/v1/item", kAccount, id}));
  std::vector<uint8_t> out(64 * 1024);
  for (auto _ : state) {
    for (size_t i = 0; i < kItems; ++i) {
      const crypto::Bytes& blob = v.blobs[i];
      unsigned long long len = 0;
      if (crypto_aead_xchacha20poly1305_ietf_decrypt(
              out.data(), &len, nullptr, blob.data() + header, blob.size() - header, ads[i].data(),
              ads[i].size(), blob.data() + 1, v.uk.span().data()) != 0) {
        state.SkipWithError("decrypt failed");
        break;
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  SetRates(state, v);
}
BENCHMARK(BM_RawDecrypt10k)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace keyward::client

BENCHMARK_MAIN();
