// Device pairing (issue 12): the cost of one pairing round trip against one
// sealed-box open (crypto::Open of a sealed 32-byte message) as the
// baseline, in the same run.
//   - BM_PairingClientCrypto: both devices' crypto (CPace over ristretto255
//     and the key confirmation): A's Start, B's Answer, A's Check and Seal,
//     B's Receive; each step and each side as counters. BM_Cpace*: the
//     generator and one scalar multiplication it is made of.
//   - BM_PairingServer: core::PairingService over in-memory SQLite, a fake
//     clock and a mailer that drops the "device paired" notice: Start,
//     Lookup, Answer, Show, Release, Pickup and the new device's first
//     Authenticate, with the client crypto computed while the timer is
//     paused; each step as a counter. BM_Store*: empty and one-row
//     transactions on the same store, to read it by.
//   - BM_PairingRoundTrip: both inline, as in-process devices would run it.
// Every pairing has a fresh code, sid, joining device id and address.
// Counters are wall-clock µs per iteration (steady_clock); Time and CPU are
// Google Benchmark's.
//   build/bin/keyward_pairing_bench --benchmark_repetitions=3
//     --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench/bench_server.h"
#include "common/try.h"
#include "core/services.h"
#include "crypto/cpace.h"
#include "crypto/crypto.h"
#include "protocol/pairing.h"
#include "store/store.h"

namespace keyward {
namespace {

namespace pp = protocol::pairing;

const pp::JoiningDevice kJoining{"laptop-2", "cli"};

crypto::SecureBytes NewCode() { return crypto::SecureBytes::Copy(crypto::RandomDigits(6)); }

// ---- 1. the baseline ----

void BM_SealedBoxOpen(benchmark::State& state) {
  (void)crypto::Init();
  const crypto::BoxKeyPair kp = crypto::GenerateBoxKeyPair();
  const crypto::Bytes sealed = crypto::Seal(kp.public_key, crypto::RandomBytes(32));
  for (auto _ : state) {
    auto opened = crypto::Open(kp.public_key, kp.secret_key.span(), sealed);
    if (!opened) {
      state.SkipWithError("open failed");
      break;
    }
    benchmark::DoNotOptimize(opened);
  }
}
BENCHMARK(BM_SealedBoxOpen)->Unit(benchmark::kMicrosecond);

// ---- 2. the client crypto ----

pp::PairingIds NewIds(std::string account_id, std::string shown_device_id, int64_t n) {
  return {std::move(account_id), crypto::RandomBytes(pp::kSidSize), std::move(shown_device_id),
          "new-dev-" + std::to_string(n)};
}

// CPace's parts: the generator (SHA-512 of the generator string, then
// ristretto255 from_hash) and one scalar multiplication (each side does two:
// y·g and y·Y_peer).
void BM_CpaceGenerator(benchmark::State& state) {
  (void)crypto::Init();
  const auto ids = NewIds("acct-0001", "laptop", 1);
  const crypto::Bytes ci = pp::ChannelIdentifier(ids);
  const crypto::SecureBytes code = NewCode();
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::cpace::CalculateGenerator(code.span(), ci, ids.sid));
  }
}
BENCHMARK(BM_CpaceGenerator)->Unit(benchmark::kMicrosecond);

void BM_CpaceScalarMult(benchmark::State& state) {
  (void)crypto::Init();
  const crypto::Bytes point = crypto::cpace::PointFromHash(crypto::RandomBytes(64));
  const auto ids = NewIds("acct-0001", "laptop", 1);
  const auto share =
      crypto::cpace::MakeShare(NewCode().span(), pp::ChannelIdentifier(ids), ids.sid);
  for (auto _ : state) {
    auto k = crypto::cpace::SharedPoint(share.scalar.span(), point);
    if (!k) {
      state.SkipWithError("bad point");
      break;
    }
    benchmark::DoNotOptimize(k);
  }
}
BENCHMARK(BM_CpaceScalarMult)->Unit(benchmark::kMicrosecond);

// Per-step wall-clock times, summed over the iterations and reported as
// counters in µs per iteration (steady_clock reads cost ~20 ns; no pausing
// of the benchmark timer, whose own reads cost more).
class StepTimer {
 public:
  using Clock = std::chrono::steady_clock;
  explicit StepTimer(std::vector<const char*> names)
      : names_(std::move(names)), seconds_(names_.size()) {}
  void Begin() { last_ = Clock::now(); }
  void End(size_t step) {
    const Clock::time_point now = Clock::now();
    seconds_[step] += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  double Seconds(size_t step) const { return seconds_[step]; }
  void Report(benchmark::State& state) const {
    for (size_t i = 0; i < names_.size(); ++i) {
      state.counters[names_[i]] =
          benchmark::Counter(seconds_[i] * 1e6, benchmark::Counter::kAvgIterations);
    }
  }

 private:
  std::vector<const char*> names_;
  std::vector<double> seconds_;
  Clock::time_point last_;
};

// Both devices: A's Start, B's Answer, A's Check and Seal, B's Receive.
// Counters: each step, and each side's sum (A = start + check + seal,
// B = answer + receive).
void BM_PairingClientCrypto(benchmark::State& state) {
  (void)crypto::Init();
  const auto uk = crypto::VaultKey::Random();
  enum { kStart, kAnswer, kCheck, kSeal, kReceive };
  StepTimer steps({"a_start_us", "b_answer_us", "a_check_us", "a_seal_us", "b_receive_us"});
  int64_t n = 0;
  for (auto _ : state) {
    const auto ids = NewIds("acct-0001", "laptop", ++n);
    const crypto::SecureBytes code = NewCode();
    steps.Begin();
    auto a = pp::ShowingSide::Start(ids, code);
    steps.End(kStart);
    if (!a) {
      state.SkipWithError("start failed");
      break;
    }
    auto b = pp::JoiningSide::Answer(ids, code, kJoining, a->message());
    steps.End(kAnswer);
    if (!b) {
      state.SkipWithError("answer failed");
      break;
    }
    const bool checked = a->Check(b->message(), b->device(), b->confirmation()).has_value();
    steps.End(kCheck);
    if (!checked) {
      state.SkipWithError("check failed");
      break;
    }
    auto release = a->Seal(uk);
    steps.End(kSeal);
    if (!release) {
      state.SkipWithError("seal failed");
      break;
    }
    auto got = b->Receive(*release);
    steps.End(kReceive);
    if (!got) {
      state.SkipWithError("receive failed");
      break;
    }
    benchmark::DoNotOptimize(got);
  }
  steps.Report(state);
  const double a_side = steps.Seconds(kStart) + steps.Seconds(kCheck) + steps.Seconds(kSeal);
  const double b_side = steps.Seconds(kAnswer) + steps.Seconds(kReceive);
  state.counters["a_side_us"] =
      benchmark::Counter(a_side * 1e6, benchmark::Counter::kAvgIterations);
  state.counters["b_side_us"] =
      benchmark::Counter(b_side * 1e6, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_PairingClientCrypto)->Unit(benchmark::kMicrosecond);

// ---- 3. the server ----

// Both devices' messages for one pairing, computed before the server sees any.
struct ClientSide {
  pp::PairingIds ids;
  std::string id;  // base64url of the sid
  crypto::Bytes ya, yb, tb;
  pp::Release release;
  crypto::Bytes claim;
  std::string address;                     // B's, a fresh one per pairing (see Address)
  std::optional<pp::JoiningSide> joining;  // for B's Receive, when timed
};

// 2001:db8::<n in hex>: each new device comes from an address of its own,
// so the per-address limits of Lookup and Answer never refuse one.
std::string Address(int64_t n) {
  char hex[20];
  auto end = std::to_chars(hex, hex + sizeof hex, n, 16).ptr;
  return "2001:db8::" + std::string(hex, end);
}

std::optional<ClientSide> Precompute(const Server& server, int64_t n, const crypto::VaultKey& uk) {
  ClientSide c;
  c.ids = NewIds(server.account_id(), server.caller().device_id, n);
  const crypto::SecureBytes code = NewCode();
  auto a = pp::ShowingSide::Start(c.ids, code);
  if (!a) return std::nullopt;
  auto b = pp::JoiningSide::Answer(c.ids, code, kJoining, a->message());
  if (!b || !a->Check(b->message(), b->device(), b->confirmation())) return std::nullopt;
  auto release = a->Seal(uk);
  if (!release) return std::nullopt;
  c.id = crypto::Base64UrlEncode(c.ids.sid);
  c.ya = a->message();
  c.yb = b->message();
  c.tb = b->confirmation();
  c.release = std::move(*release);
  c.claim = crypto::RandomBytes(32);
  c.address = Address(n);
  c.joining.emplace(std::move(*b));
  return c;
}

// The server's steps for one pairing; `mark(i)` is called after step i.
// Empty on success, else the step that failed.
template <typename Mark>
std::string ServerRound(Server& server, const ClientSide& c, Mark&& mark) {
  auto& pairings = server.core().pairings;
  const core::Caller& a = server.caller();
  if (!pairings.Start(a, {c.id, c.ids.joining_device_id, c.ya})) return "Start";
  mark(0);
  auto offer = pairings.Lookup(kEmail, c.address);
  if (!offer || offer->id != c.id) return "Lookup";
  mark(1);
  if (!pairings.Answer({offer->id, c.yb, c.tb, kJoining.name, kJoining.type, c.claim, c.address})) {
    return "Answer";
  }
  mark(2);
  auto seen = pairings.Show(a, offer->id);
  if (!seen || seen->state != core::PairingState::kAnswered || seen->tb != c.tb) return "Show";
  mark(3);
  if (!pairings.Release(a, offer->id, c.release.confirmation, c.release.payload)) {
    return "Release";
  }
  mark(4);
  auto picked = pairings.Pickup(offer->id, c.claim);
  if (!picked || picked->state != core::PairingState::kDone) return "Pickup";
  mark(5);
  auto b = server.core().sessions.Authenticate(picked->token.span(), c.address);
  if (!b || b->device_id != c.ids.joining_device_id) return "Authenticate";
  mark(6);
  return "";
}

// The server alone; the client crypto of each pairing is computed with the
// timer paused. Counters: each step (wall clock, µs per pairing).
void BM_PairingServer(benchmark::State& state) {
  Server server;
  if (auto e = server.SetUp(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  const auto uk = crypto::VaultKey::Random();
  StepTimer steps(
      {"start_us", "lookup_us", "answer_us", "show_us", "release_us", "pickup_us", "auth_us"});
  int64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto c = Precompute(server, ++n, uk);
    if (!c) {
      state.SkipWithError("client crypto failed");
      break;
    }
    state.ResumeTiming();
    steps.Begin();
    auto failed = ServerRound(server, *c, [&](int step) { steps.End(static_cast<size_t>(step)); });
    if (!failed.empty()) {
      state.SkipWithError(failed.c_str());
      break;
    }
  }
  steps.Report(state);
}
BENCHMARK(BM_PairingServer)->Unit(benchmark::kMicrosecond);

// Calibration on the same store: an empty write transaction, an empty read,
// and a write transaction with one small upsert (a rate-limit counter, as
// Lookup and Answer hit). The round trip is five write transactions and two
// reads.
void BM_StoreEmptyTransact(benchmark::State& state) {
  Server server;
  if (auto e = server.SetUp(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  for (auto _ : state) {
    if (!server.store().Transact([](store::Tx&) -> Status { return {}; })) {
      state.SkipWithError("transact failed");
      break;
    }
  }
}
BENCHMARK(BM_StoreEmptyTransact)->Unit(benchmark::kMicrosecond);

void BM_StoreEmptyRead(benchmark::State& state) {
  Server server;
  if (auto e = server.SetUp(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  for (auto _ : state) {
    if (!server.store().Read([](store::Tx&) -> Status { return {}; })) {
      state.SkipWithError("read failed");
      break;
    }
  }
}
BENCHMARK(BM_StoreEmptyRead)->Unit(benchmark::kMicrosecond);

void BM_StoreOneUpsert(benchmark::State& state) {
  Server server;
  if (auto e = server.SetUp(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  int64_t n = 0;
  for (auto _ : state) {
    const std::string key = "bench:addr:" + Address(++n);
    if (!server.store().Transact([&](store::Tx& tx) -> Status {
          KW_ASSIGN_OR_RETURN(int64_t hits, tx.HitRateLimit(key, 1'790'000'000, 600));
          benchmark::DoNotOptimize(hits);
          return {};
        })) {
      state.SkipWithError("transact failed");
      break;
    }
  }
}
BENCHMARK(BM_StoreOneUpsert)->Unit(benchmark::kMicrosecond);

// The whole round trip inline: both devices' crypto, B's Receive included
// (of the same Ta and P the pickup hands back), and the server's steps.
void BM_PairingRoundTrip(benchmark::State& state) {
  Server server;
  if (auto e = server.SetUp(); !e.empty()) {
    state.SkipWithError(e.c_str());
    return;
  }
  const auto uk = crypto::VaultKey::Random();
  int64_t n = 0;
  for (auto _ : state) {
    auto c = Precompute(server, ++n, uk);
    if (!c) {
      state.SkipWithError("client crypto failed");
      break;
    }
    auto failed = ServerRound(server, *c, [](int) {});
    if (!failed.empty()) {
      state.SkipWithError(failed.c_str());
      break;
    }
    auto got = c->joining->Receive(c->release);
    if (!got) {
      state.SkipWithError("receive failed");
      break;
    }
    benchmark::DoNotOptimize(got);
  }
}
BENCHMARK(BM_PairingRoundTrip)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace keyward

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // no migration lines per store
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
