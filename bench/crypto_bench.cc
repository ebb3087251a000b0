// Costs of the crypto primitives at their real parameters, e.g. to size the
// login rate limits (one Argon2id per guess) and to check the server stays
// cheap per request (login compares H(pepper, AK), no slow hash).
// Each Keyward wrapper has its ceiling beside it: the same operation in raw
// libsodium (BM_Raw*), which bench/run reports as a ratio.
//   build/bin/keyward_crypto_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <vector>

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

// The ceiling: crypto_pwhash (Argon2id v1.3) into a plain buffer.
void BM_RawArgon2id(benchmark::State& state, KdfParams params) {
  (void)Init();
  unsigned char out[32];
  const char password[] = "correct horse battery staple";
  for (auto _ : state) {
    if (crypto_pwhash(out, sizeof out, password, sizeof password - 1, kSalt.data(), params.ops,
                      params.mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
      state.SkipWithError("out of memory");
    }
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK_CAPTURE(BM_RawArgon2id, default_ops3_64MiB, kDefaultKdf)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RawArgon2id, client_floor_ops2_19MiB, kClientFloorKdf)
    ->Unit(benchmark::kMillisecond);

void BM_Encrypt(benchmark::State& state) {
  (void)Init();
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes pt = RandomBytes(static_cast<size_t>(state.range(0)));
  const Bytes ad = Ad({"keyward/v1/item", "item-1"});
  for (auto _ : state) benchmark::DoNotOptimize(Encrypt(key.span(), pt, ad));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Encrypt)->Arg(300)->Arg(1024);

void BM_Decrypt(benchmark::State& state) {
  (void)Init();
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes ad = Ad({"keyward/v1/item", "item-1"});
  const Bytes blob = Encrypt(key.span(), RandomBytes(static_cast<size_t>(state.range(0))), ad);
  for (auto _ : state) benchmark::DoNotOptimize(Decrypt(key.span(), blob, ad));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Decrypt)->Arg(300)->Arg(1024);

// The ceilings of the two above: crypto_aead_xchacha20poly1305_ietf on
// plain buffers, a random nonce each time as Encrypt draws one.
void BM_RawEncrypt(benchmark::State& state) {
  (void)Init();
  const size_t n = static_cast<size_t>(state.range(0));
  const Bytes key = RandomBytes(32), pt = RandomBytes(n), ad = Ad({"keyward/v1/item", "item-1"});
  Bytes nonce(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  Bytes out(n + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  for (auto _ : state) {
    randombytes_buf(nonce.data(), nonce.size());
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &len, pt.data(), n, ad.data(), ad.size(),
                                               nullptr, nonce.data(), key.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RawEncrypt)->Arg(300)->Arg(1024);

void BM_RawDecrypt(benchmark::State& state) {
  (void)Init();
  const size_t n = static_cast<size_t>(state.range(0));
  const Bytes key = RandomBytes(32), pt = RandomBytes(n), ad = Ad({"keyward/v1/item", "item-1"});
  const Bytes nonce = RandomBytes(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  Bytes ct(n + crypto_aead_xchacha20poly1305_ietf_ABYTES), out(n);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(ct.data(), &len, pt.data(), n, ad.data(), ad.size(),
                                             nullptr, nonce.data(), key.data());
  for (auto _ : state) {
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, ct.data(), ct.size(),
                                                   ad.data(), ad.size(), nonce.data(),
                                                   key.data()) != 0) {
      state.SkipWithError("decrypt failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RawDecrypt)->Arg(300)->Arg(1024);

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

void BM_RawSeal(benchmark::State& state) {
  (void)Init();
  const BoxKeyPair kp = GenerateBoxKeyPair();
  const Bytes share = RandomBytes(64);
  Bytes out(share.size() + crypto_box_SEALBYTES);
  for (auto _ : state) {
    crypto_box_seal(out.data(), share.data(), share.size(), kp.public_key.data());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_RawSeal);

void BM_RawOpen(benchmark::State& state) {
  (void)Init();
  const BoxKeyPair kp = GenerateBoxKeyPair();
  const Bytes share = RandomBytes(64);
  Bytes sealed(share.size() + crypto_box_SEALBYTES), out(share.size());
  crypto_box_seal(sealed.data(), share.data(), share.size(), kp.public_key.data());
  for (auto _ : state) {
    if (crypto_box_seal_open(out.data(), sealed.data(), sealed.size(), kp.public_key.data(),
                             kp.secret_key.data()) != 0) {
      state.SkipWithError("open failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_RawOpen);

// A backup's stream: 1 MiB in 64 KiB messages, through StreamPush/StreamPull
// and through raw crypto_secretstream_xchacha20poly1305.
constexpr size_t kStreamChunk = 64 * 1024;
constexpr size_t kStreamChunks = 16;

void BM_StreamPushPull(benchmark::State& state) {
  (void)Init();
  const SecureBytes key = SecureBytes::Random(32);
  const Bytes chunk = RandomBytes(kStreamChunk);
  SecureBytes out(kStreamChunk);
  for (auto _ : state) {
    StreamPush push(key.span());
    std::vector<Bytes> sealed;
    for (size_t i = 0; i < kStreamChunks; ++i) {
      sealed.push_back(push.Push(chunk, {}, i + 1 == kStreamChunks));
    }
    auto pull = StreamPull::Start(key.span(), push.header());
    bool final = false;
    for (const Bytes& c : sealed) {
      if (!pull->PullInto(c, {}, out.mutable_span(), &final)) state.SkipWithError("pull failed");
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kStreamChunk * kStreamChunks));
}
BENCHMARK(BM_StreamPushPull);

void BM_RawStreamPushPull(benchmark::State& state) {
  (void)Init();
  const Bytes key = RandomBytes(32), chunk = RandomBytes(kStreamChunk);
  Bytes out(kStreamChunk);
  std::vector<Bytes> sealed(kStreamChunks,
                            Bytes(kStreamChunk + crypto_secretstream_xchacha20poly1305_ABYTES));
  Bytes header(crypto_secretstream_xchacha20poly1305_HEADERBYTES);
  for (auto _ : state) {
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_secretstream_xchacha20poly1305_init_push(&st, header.data(), key.data());
    for (size_t i = 0; i < kStreamChunks; ++i) {
      const unsigned char tag = i + 1 == kStreamChunks
                                    ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                    : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
      crypto_secretstream_xchacha20poly1305_push(&st, sealed[i].data(), nullptr, chunk.data(),
                                                 chunk.size(), nullptr, 0, tag);
    }
    crypto_secretstream_xchacha20poly1305_init_pull(&st, header.data(), key.data());
    for (const Bytes& c : sealed) {
      unsigned char tag = 0;
      if (crypto_secretstream_xchacha20poly1305_pull(&st, out.data(), nullptr, &tag, c.data(),
                                                     c.size(), nullptr, 0) != 0) {
        state.SkipWithError("pull failed");
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kStreamChunk * kStreamChunks));
}
BENCHMARK(BM_RawStreamPushPull);

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
