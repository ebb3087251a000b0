// The soak driver's tools (bench/soak/, issue 15 item 7): an HTTP client
// with one keep-alive connection per thread, the request classes and their
// latencies per time window, and a reader of the server's mail outbox.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace keyward::bench::soak {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kMembersPerOrg = 20;  // core::CoreConfig::invite_max_per_inviter
constexpr int kListItems = 20;      // items in each read-only vault
constexpr char kDevice[] = "soak-laptop";

// Prints "soak: FAIL: <what>" and exits 1.
[[noreturn]] void Die(const std::string& what);

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r) Die(what + ": " + r.error().code() + " " + r.error().message());
  return std::move(*r);
}

std::string B64(std::span<const uint8_t> b);
std::string RandomB64(size_t n);
double Ms(Clock::duration d);
double Seconds(Clock::duration d);

// ---------------------------------------------------------------------------
// HTTP: one libcurl easy handle per thread, so connections are kept alive.

struct Answer {
  long status = 0;  // 0: no answer (transport error)
  std::string body;
  std::string error;
};

class Http {
 public:
  explicit Http(std::string base) : base_(std::move(base)), curl_(curl_easy_init()) {
    if (curl_ == nullptr) Die("curl_easy_init");
  }
  ~Http() { curl_easy_cleanup(curl_); }
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  Answer Call(const std::string& method, const std::string& path, const std::string& body,
              const std::string& token, const std::string& forwarded_for);

 private:
  std::string base_;
  CURL* curl_;
};

// This thread's client of `base` (one keep-alive connection per thread).
Http& ThreadHttp(const std::string& base);

// ---------------------------------------------------------------------------
// Request classes, and the latencies of each per time window.

enum Op {
  kPrelogin,
  kLogin,
  kLogout,
  kItemGet,
  kItemList,
  kItemCreate,
  kItemUpdate,
  kAsk,
  kConfirm,
  kShow,
  kApprove,
  kRedeem,
  kVerify,
  kComplete,
  kOpCount
};
constexpr std::array<const char*, kOpCount> kOpNames = {
    "prelogin", "login",   "logout", "item_get", "item_list", "item_create", "item_update",
    "ask",      "confirm", "show",   "approve",  "redeem",    "verify",      "complete"};

struct Percentiles {
  size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
};

Percentiles Summarize(std::vector<double> v);

struct Window {
  std::array<std::vector<double>, kOpCount> ms;
  long rss_kib_last = 0, rss_kib_max = 0;
  int fds_max = 0, fds_last = 0;
  int conns_max = -1, conns_last = -1;
  long units = 0;  // mix units completed
  long flows = 0;  // recovery flows completed
  long requests = 0;
  long server_errors = 0;
};

// What went wrong anywhere, and the counters of the whole run.
struct Failures {
  std::mutex mu;
  long server_errors = 0;  // 5xx
  long unexpected = 0;     // any other answer than the one expected (4xx, no answer, bad body)
  std::vector<std::string> first;

  void Add(bool is_5xx, const std::string& what) {
    std::lock_guard lock(mu);
    if (is_5xx) ++server_errors;
    ++unexpected;
    if (first.size() < 20) first.push_back(what);
  }
};

class Recorder {
 public:
  Recorder(Clock::time_point start, int window_seconds, int windows)
      : start_(start), window_(window_seconds), windows_(static_cast<size_t>(windows)) {}

  size_t WindowOf(Clock::time_point t) const {
    auto i = static_cast<long>(Seconds(t - start_) / window_);
    return static_cast<size_t>(std::clamp<long>(i, 0, static_cast<long>(windows_.size()) - 1));
  }
  void Latency(Op op, double ms, bool is_5xx) {
    std::lock_guard lock(mu_);
    Window& w = windows_[WindowOf(Clock::now())];
    w.ms[op].push_back(ms);
    ++w.requests;
    if (is_5xx) ++w.server_errors;
  }
  void Unit() {
    std::lock_guard lock(mu_);
    ++windows_[WindowOf(Clock::now())].units;
  }
  void Flow() {
    std::lock_guard lock(mu_);
    ++windows_[WindowOf(Clock::now())].flows;
  }
  void Sample(long rss, int fds, int conns) {
    std::lock_guard lock(mu_);
    Window& w = windows_[WindowOf(Clock::now())];
    w.rss_kib_last = rss;
    w.rss_kib_max = std::max(w.rss_kib_max, rss);
    w.fds_last = fds;
    w.fds_max = std::max(w.fds_max, fds);
    w.conns_last = conns;
    w.conns_max = std::max(w.conns_max, conns);
  }
  std::vector<Window> Snapshot() {
    std::lock_guard lock(mu_);
    return windows_;
  }
  Window At(size_t i) {
    std::lock_guard lock(mu_);
    return windows_[i];
  }

 private:
  std::mutex mu_;
  Clock::time_point start_;
  int window_;
  std::vector<Window> windows_;
};

// ---------------------------------------------------------------------------
// The server's outbox: every code and invitation token per recipient, read
// from <data>/outbox/*.eml (written atomically by a rename).

class Outbox {
 public:
  explicit Outbox(fs::path dir) : dir_(std::move(dir)) {}

  size_t CodeCount(const std::string& email) {
    std::lock_guard lock(mu_);
    Scan();
    return codes_[email].size();
  }
  // The first code to `email` after the first `after`; waits up to 20 s.
  std::optional<std::string> Code(const std::string& email, size_t after) {
    return Wait(codes_, email, after);
  }
  std::optional<std::string> Invite(const std::string& email) { return Wait(invites_, email, 0); }

 private:
  using Index = std::map<std::string, std::vector<std::string>>;

  std::optional<std::string> Wait(Index& index, const std::string& email, size_t after) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    for (;;) {
      {
        std::lock_guard lock(mu_);
        Scan();
        const auto& found = index[email];
        if (found.size() > after) return found[after];
      }
      if (Clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(15));
    }
  }

  void Scan();

  std::mutex mu_;
  fs::path dir_;
  std::set<std::string> seen_;
  Index codes_, invites_;
};

}  // namespace keyward::bench::soak
