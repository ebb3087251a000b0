// keyward_soak_driver: bench/soak.sh runs it against a live keywardd
// (bench/soak/soak.h).
#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/soak/soak.h"

namespace keyward::bench::soak {

int Soak::Run() {
  Setup(static_cast<int>(std::ceil(o_.recovery_per_second * o_.seconds)) + 2);
  std::fprintf(stderr, "soak[%s]: capacity: the mix closed-loop on %d threads for %d s...\n",
               o_.label.c_str(), o_.capacity_workers, o_.capacity_seconds);
  const double capacity = MeasureCapacity();
  if (failures_.unexpected > 0) Die("capacity phase: " + failures_.first.front());
  const double rate = o_.load * capacity;
  std::fprintf(stderr,
               "soak[%s]: capacity %.0f units/s; soaking at %.0f units/s (%.0f %%) + %.2f recovery "
               "flows/s for %d s\n",
               o_.label.c_str(), capacity, rate, o_.load * 100, o_.recovery_per_second, o_.seconds);
  SoakPhase(rate);
  const long lost = VerifyLedger();
  std::vector<Window> w = recorder_->Snapshot();
  std::vector<std::string> violations = Evaluate(w);
  if (lost > 0) {
    violations.insert(
        violations.begin(),
        std::to_string(lost) + " acknowledged writes lost (first: " + failures_.first.back() + ")");
  }
  const long expected_flows = static_cast<long>(
      std::min<double>(static_cast<double>(members_.size()), o_.recovery_per_second * o_.seconds));
  if (flows_done_ < expected_flows - 1) {
    violations.push_back("only " + std::to_string(flows_done_.load()) + " of " +
                         std::to_string(expected_flows) + " recovery flows completed");
  }
  Report(capacity, rate, w, lost, violations);
  std::fprintf(stderr,
               "soak[%s]: %ld acknowledged writes, %ld lost; %ld recovery flows; %ld 5xx, %ld "
               "unexpected answers\n",
               o_.label.c_str(), acknowledged_total_, lost, flows_done_.load(),
               failures_.server_errors, failures_.unexpected);
  for (const std::string& v : violations)
    std::printf("soak: FAIL [%s]: %s\n", o_.label.c_str(), v.c_str());
  if (violations.empty()) std::printf("soak: OK [%s]\n", o_.label.c_str());
  return violations.empty() ? 0 : 1;
}

}  // namespace keyward::bench::soak

int main(int argc, char** argv) {
  using keyward::bench::soak::Options;
  Options o;
  auto usage = [&] {
    std::fprintf(stderr,
                 "usage: %s --url URL --outbox DIR --pid PID [--pg-url URL] [--label NAME]\n"
                 "  [--seconds 60] [--capacity-seconds 12] [--window 10] [--load 0.8]\n"
                 "  [--workers 32] [--capacity-workers 16] [--recovery-per-second 0.5]\n"
                 "  [--pg-pool 8] [--json FILE]\n",
                 argv[0]);
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (flag == "--url")
      o.url = value;
    else if (flag == "--outbox")
      o.outbox = value;
    else if (flag == "--pid")
      o.pid = static_cast<pid_t>(std::atoi(value.c_str()));
    else if (flag == "--pg-url")
      o.pg_url = value;
    else if (flag == "--label")
      o.label = value;
    else if (flag == "--seconds")
      o.seconds = std::atoi(value.c_str());
    else if (flag == "--capacity-seconds")
      o.capacity_seconds = std::atoi(value.c_str());
    else if (flag == "--window")
      o.window = std::atoi(value.c_str());
    else if (flag == "--load")
      o.load = std::atof(value.c_str());
    else if (flag == "--workers")
      o.workers = std::atoi(value.c_str());
    else if (flag == "--capacity-workers")
      o.capacity_workers = std::atoi(value.c_str());
    else if (flag == "--recovery-per-second")
      o.recovery_per_second = std::atof(value.c_str());
    else if (flag == "--pg-pool")
      o.pg_pool = std::atoi(value.c_str());
    else if (flag == "--json")
      o.json_path = value;
    else
      return usage();
  }
  if (o.url.empty() || o.outbox.empty() || o.pid <= 0 || o.seconds < 1 || o.window < 1 ||
      o.capacity_seconds < 3 || o.load <= 0 || o.workers < 1 || o.capacity_workers < 1) {
    return usage();
  }
  if (!keyward::crypto::Init()) {
    std::fprintf(stderr, "soak: libsodium failed to initialize\n");
    return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  keyward::bench::soak::Soak soak(o);
  return soak.Run();
}
