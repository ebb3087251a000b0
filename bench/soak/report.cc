// The soak's verdict: the ledger read back, the flatness rules and the
// report (bench/soak/soak.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/soak/soak.h"

namespace keyward::bench::soak {

long Soak::VerifyLedger() {
  long lost = 0;
  for (auto& v : vaults_) {
    std::lock_guard lock(v->mu);
    acknowledged_total_ += v->acknowledged_writes;
    Answer a =
        ThreadHttp(o_.url).Call("GET", "/v1/items", "", v->account.token, v->account.address);
    json body = json::parse(a.body, nullptr, false);
    if (a.status != 200 || !body.is_object() || !body.contains("items")) {
      failures_.Add(a.status >= 500,
                    "read back " + v->account.email + ": " + std::to_string(a.status));
      lost += static_cast<long>(v->ledger.size());
      continue;
    }
    std::map<std::string, LedgerItem> listed;
    for (const json& item : body["items"]) {
      listed[item.value("id", "")] = {item.value("revision", int64_t{0}), item.value("data", "")};
    }
    for (const auto& [id, want] : v->ledger) {
      if (v->uncertain.count(id)) continue;
      auto it = listed.find(id);
      if (it == listed.end() || it->second.revision != want.revision ||
          it->second.data != want.data) {
        if (++lost <= 10) {
          failures_.Add(false,
                        "lost write: " + id + " of " + v->account.email +
                            (it == listed.end() ? " is missing" : " is not the last acknowledged"));
        }
      }
    }
  }
  return lost;
}

std::vector<std::string> Soak::Evaluate(const std::vector<Window>& w) {
  std::vector<std::string> v;
  char line[400];
  if (failures_.server_errors > 0) {
    v.push_back(std::to_string(failures_.server_errors) +
                " answers were 5xx (first: " + failures_.first.front() + ")");
  } else if (failures_.unexpected > 0) {
    v.push_back(std::to_string(failures_.unexpected) +
                " unexpected answers (first: " + failures_.first.front() + ")");
  }
  if (w.size() < 3) {
    v.push_back("too short to judge flatness: fewer than 3 windows");
    return v;
  }
  const Window& warm = w[0];
  const Window& last = w.back();
  // p99 is judged on medians of windows, so one window that another process
  // on the machine slowed down does not decide: the steady windows of the
  // first half (after the warm-up window) against the last third.
  const size_t n = w.size();
  const size_t first_end = std::max<size_t>(2, n / 2);
  const size_t last_begin = std::min(n - 1, n - std::max<size_t>(1, n / 3));
  auto window_p99 = [&](size_t i, int op) {
    std::vector<double> a;
    for (int k = 0; k < kOpCount; ++k) {
      if (op < 0 || op == k) a.insert(a.end(), w[i].ms[k].begin(), w[i].ms[k].end());
    }
    return a.size() < 20 ? -1.0 : Summarize(std::move(a)).p99;
  };
  auto median_p99 = [&](size_t from, size_t to, int op) {
    std::vector<double> m;
    for (size_t i = from; i < to; ++i) {
      if (double p = window_p99(i, op); p >= 0) m.push_back(p);
    }
    if (m.empty()) return -1.0;
    std::sort(m.begin(), m.end());
    // Of an even count, the upper middle for the baseline and the lower for
    // the end: one slow window of two (a burst elsewhere on the machine)
    // decides neither; two of two do.
    return from == 1 ? m[m.size() / 2] : m[(m.size() - 1) / 2];
  };
  for (int op = -1; op < kOpCount; ++op) {
    const double base = median_p99(1, first_end, op), end = median_p99(last_begin, n, op);
    if (base < 0 || end < 0) continue;
    if (end > 3 * base + 25) {
      std::snprintf(line, sizeof line,
                    "p99 of %s grew from %.2f ms (median of windows 2-%zu) to %.2f ms (median of "
                    "windows %zu-%zu): over 3x + 25 ms",
                    op < 0 ? "all requests" : kOpNames[static_cast<size_t>(op)], base, first_end,
                    end, last_begin + 1, n);
      v.push_back(line);
    }
  }
  if (last.rss_kib_last > 1.2 * static_cast<double>(warm.rss_kib_last) + 4096) {
    std::snprintf(line, sizeof line,
                  "RSS grew from %.1f MiB after warm-up to %.1f MiB: over 1.2x + 4 MiB",
                  static_cast<double>(warm.rss_kib_last) / 1024,
                  static_cast<double>(last.rss_kib_last) / 1024);
    v.push_back(line);
  }
  // fds and connections: the last window against the most seen in the first
  // half. The pool opens connections on demand (up to --pg-pool), so one
  // more after a stall is allowed; a leak shows as steady growth or as more
  // than the pool.
  int fds_base = 0, conns_base = 0, conns_peak = 0;
  for (size_t i = 0; i < first_end; ++i) {
    fds_base = std::max(fds_base, w[i].fds_max);
    conns_base = std::max(conns_base, w[i].conns_max);
  }
  for (const Window& x : w) conns_peak = std::max(conns_peak, x.conns_max);
  if (last.fds_max > fds_base + 2) {
    std::snprintf(line, sizeof line, "open fds grew from %d (first half) to %d (last window)",
                  fds_base, last.fds_max);
    v.push_back(line);
  }
  if (!o_.pg_url.empty()) {
    if (last.conns_max > conns_base + 1) {
      std::snprintf(line, sizeof line,
                    "database connections grew from %d (first half) to %d (last window)",
                    conns_base, last.conns_max);
      v.push_back(line);
    }
    // The pool, and the one connection the sweeper holds its advisory lock
    // on, outside the pool (store::Store::RunExclusive on PostgreSQL).
    if (conns_peak > o_.pg_pool + 1) {
      std::snprintf(line, sizeof line,
                    "%d database connections, over the pool's %d and the sweeper's lock's 1",
                    conns_peak, o_.pg_pool);
      v.push_back(line);
    }
    if (conns_peak < 0) v.push_back("could not count database connections");
  }
  return v;
}

void Soak::Report(double capacity, double rate, const std::vector<Window>& w, long lost,
                  const std::vector<std::string>& violations) {
  json windows = json::array();
  long requests = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const Window& x = w[i];
    json ops = json::object();
    std::vector<double> all;
    for (int op = 0; op < kOpCount; ++op) {
      all.insert(all.end(), x.ms[op].begin(), x.ms[op].end());
      if (x.ms[op].empty()) continue;
      Percentiles p = Summarize(x.ms[op]);
      ops[kOpNames[op]] = {{"n", p.n}, {"p50_ms", p.p50}, {"p99_ms", p.p99}, {"max_ms", p.max}};
    }
    Percentiles p = Summarize(std::move(all));
    requests += x.requests;
    windows.push_back({{"end_s", std::min(static_cast<int>(i + 1) * o_.window, o_.seconds)},
                       {"length_s", WindowSeconds(static_cast<int>(i))},
                       {"units", x.units},
                       {"requests", x.requests},
                       {"recovery_flows", x.flows},
                       {"p50_ms", p.p50},
                       {"p99_ms", p.p99},
                       {"max_ms", p.max},
                       {"server_errors", x.server_errors},
                       {"rss_kib", x.rss_kib_last},
                       {"rss_kib_max", x.rss_kib_max},
                       {"fds_max", x.fds_max},
                       {"pg_connections_max", x.conns_max},
                       {"ops", ops}});
  }
  json out = {{"store", o_.label},
              {"seconds", o_.seconds},
              {"window_s", o_.window},
              {"capacity_units_per_s", capacity},
              {"load", o_.load},
              {"rate_units_per_s", rate},
              {"recovery_flows_per_s", o_.recovery_per_second},
              {"recovery_flows_completed", flows_done_.load()},
              {"requests", requests},
              {"server_errors", failures_.server_errors},
              {"unexpected_answers", failures_.unexpected},
              {"first_failures", failures_.first},
              {"acknowledged_writes", acknowledged_total_},
              {"lost_writes", lost},
              {"max_backlog", max_backlog_},
              {"windows", windows},
              {"violations", violations},
              {"ok", violations.empty()}};
  if (!o_.json_path.empty()) {
    std::ofstream f(o_.json_path);
    f << out.dump(2) << "\n";
  }
}

}  // namespace keyward::bench::soak
