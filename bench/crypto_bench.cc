// Costs of the crypto primitives at their real parameters, e.g. to size the
// login rate limits (one Argon2id per guess) and to check the server stays
// cheap per request (login compares H(pepper, AK), no slow hash).
//   build-crypto/bin/keyward_crypto_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include "crypto/crypto.h"

namespace keyward::crypto {
namespace {

const Bytes kSalt(kSaltSize, 0x5a);

void BM_Argon2id(benchmark::State& state, KdfParams params) {
  (void)Init();
  for (auto _ : state) {
    auto mk = DeriveMasterKey("correct horse battery staple", kSalt, params);
    benchmark::DoNotOptimize(mk);
  }
  state.counters["MiB"] = static_cast<double>(params.mem >> 20);
}
BENCHMARK_CAPTURE(BM_Argon2id, default_ops3_64MiB, kDefaultKdf)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Argon2id, client_floor_ops2_19MiB, kClientFloorKdf)
    ->Unit(benchmark::kMillisecond);

void BM_Encrypt(benchmark::State& state) {
  (void)Init();
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes pt = RandomBytes(static_cast<size_t>(state.range(0)));
  const Bytes ad = Ad({"keyward/v1/item", "item-1"});
  for (auto _ : state) benchmark::DoNotOptimize(Encrypt(key.span(), pt, ad));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Encrypt)->Arg(1024);

void BM_Decrypt(benchmark::State& state) {
  (void)Init();
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes ad = Ad({"keyward/v1/item", "item-1"});
  const Bytes blob = Encrypt(key.span(), RandomBytes(static_cast<size_t>(state.range(0))), ad);
  for (auto _ : state) benchmark::DoNotOptimize(Decrypt(key.span(), blob, ad));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Decrypt)->Arg(1024);

void BM_Seal(benchmark::State& state) {
  (void)Init();
  const BoxKeyPair kp = GenerateBoxKeyPair();
  const Bytes share = RandomBytes(64);
  for (auto _ : state) benchmark::DoNotOptimize(Seal(kp.public_key, share));
}
BENCHMARK(BM_Seal);

void BM_Open(benchmark::State& state) {
  (void)Init();
  const BoxKeyPair kp = GenerateBoxKeyPair();
  const Bytes sealed = Seal(kp.public_key, RandomBytes(64));
  for (auto _ : state) benchmark::DoNotOptimize(Open(kp.public_key, kp.secret_key.span(), sealed));
}
BENCHMARK(BM_Open);

void BM_Sign(benchmark::State& state) {
  (void)Init();
  const SignKeyPair kp = GenerateSignKeyPair();
  const Bytes statement = RandomBytes(200);
  for (auto _ : state) benchmark::DoNotOptimize(Sign(kp.secret_key.span(), statement));
}
BENCHMARK(BM_Sign);

void BM_Verify(benchmark::State& state) {
  (void)Init();
  const SignKeyPair kp = GenerateSignKeyPair();
  const Bytes statement = RandomBytes(200);
  const Bytes sig = Sign(kp.secret_key.span(), statement);
  for (auto _ : state) benchmark::DoNotOptimize(Verify(kp.public_key, statement, sig));
}
BENCHMARK(BM_Verify);

// The server's per-login work: verifier = H(pepper, AK).
void BM_Hash(benchmark::State& state) {
  (void)Init();
  const SecureBytes pepper = SecureBytes::Random(32);
  const Bytes ak = RandomBytes(32);
  for (auto _ : state) benchmark::DoNotOptimize(Hash(pepper.span(), ak));
}
BENCHMARK(BM_Hash);

}  // namespace
}  // namespace keyward::crypto

BENCHMARK_MAIN();
