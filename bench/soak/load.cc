// The soak's load: the mix, a member's whole recovery, the capacity
// measurement, the open-loop phase and the server sampler (bench/soak/soak.h).
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/soak/soak.h"
#include "protocol/escrow.h"
#include "protocol/link.h"

namespace keyward::bench::soak {

void Soak::Login(const Account& a, std::optional<Clock::time_point> scheduled) {
  if (!Call(kPrelogin, "POST", "/v1/accounts/prelogin", json{{"email", a.email}}, "", a.address,
            200, scheduled)) {
    return;
  }
  auto s = Call(kLogin, "POST", "/v1/sessions",
                json{{"email", a.email},
                     {"auth_key", a.auth_key},
                     {"device", {{"id", kDevice}, {"name", kDevice}, {"type", "cli"}}}},
                "", a.address, 201);
  if (!s) return;
  if (!s->contains("token") || !(*s)["token"].is_string()) {
    failures_.Add(false, "login: no token");
    return;
  }
  Call(kLogout, "DELETE", "/v1/sessions/current", json(), (*s)["token"], a.address, 204);
}

void Soak::ItemGet(ItemVault& v, std::mt19937_64& rng, std::optional<Clock::time_point> scheduled) {
  std::lock_guard lock(v.mu);
  if (v.ids.empty()) return;
  const std::string id = v.ids[rng() % v.ids.size()];
  auto item = Call(kItemGet, "GET", "/v1/items/" + id, json(), v.account.token, v.account.address,
                   200, scheduled);
  if (!item || v.uncertain.count(id)) return;
  const LedgerItem& want = v.ledger[id];
  if (item->value("data", "") != want.data ||
      item->value("revision", int64_t{0}) != want.revision) {
    failures_.Add(false, "item_get: " + id + " is not what was acknowledged last");
  }
}

void Soak::ItemWrite(ItemVault& v, bool create, std::mt19937_64& rng,
                     std::optional<Clock::time_point> scheduled) {
  std::lock_guard lock(v.mu);
  std::string id;
  int64_t revision = 0;
  if (create || v.ids.empty()) {
    create = true;
    id = "soak-" + std::to_string(v.next++);
  } else {
    id = v.ids[rng() % v.ids.size()];
    if (v.uncertain.count(id)) return;
    revision = v.ledger[id].revision;
  }
  const std::string data = RandomB64(100 + rng() % 400);
  auto answer = create ? Call(kItemCreate, "POST", "/v1/items", json{{"id", id}, {"data", data}},
                              v.account.token, v.account.address, 201, scheduled)
                       : Call(kItemUpdate, "PUT", "/v1/items/" + id,
                              json{{"revision", revision}, {"data", data}}, v.account.token,
                              v.account.address, 200, scheduled);
  if (!answer) {
    // Without an acknowledgement the write may or may not have happened.
    v.uncertain.insert(id);
    if (create) v.ids.push_back(id);
    return;
  }
  if (answer->value("id", "") != id || answer->value("data", "") != data ||
      answer->value("revision", int64_t{0}) != revision + 1) {
    failures_.Add(false, "item write: the answer is not the item written: " + id);
    v.uncertain.insert(id);
    return;
  }
  v.ledger[id] = {revision + 1, data};
  if (create) v.ids.push_back(id);
  ++v.acknowledged_writes;
}

void Soak::ItemList(std::mt19937_64& rng, std::optional<Clock::time_point> scheduled) {
  const Account& a = list_accounts_[rng() % list_accounts_.size()];
  auto list = Call(kItemList, "GET", "/v1/items", json(), a.token, a.address, 200, scheduled);
  if (list && (!list->contains("items") || (*list)["items"].size() != kListItems)) {
    failures_.Add(false, "item_list: not the 20 items of the vault");
  }
}

void Soak::MixUnit(std::mt19937_64& rng, std::optional<Clock::time_point> scheduled) {
  const int pick = static_cast<int>(rng() % 100);
  ItemVault& v = *vaults_[rng() % vaults_.size()];
  if (pick < 35) {
    ItemGet(v, rng, scheduled);
  } else if (pick < 50) {
    ItemList(rng, scheduled);
  } else if (pick < 65) {
    ItemWrite(v, true, rng, scheduled);
  } else if (pick < 80) {
    ItemWrite(v, false, rng, scheduled);
  } else {
    Login(list_accounts_[rng() % list_accounts_.size()], scheduled);
  }
  if (recorder_) recorder_->Unit();
  ++units_done_;
}

void Soak::RecoveryFlow(Member& m) {
  Org& org = *m.org;
  const Account& bob = m.account;
  const std::string email = bob.email;
  const size_t codes = outbox_.CodeCount(email);
  if (!Call(kAsk, "POST", "/v1/recovery/requests",
            json{{"email", email}, {"device_name", "soak-laptop"}}, "", bob.address, 202)) {
    return;
  }
  auto code = outbox_.Code(email, codes);
  if (!code) return failures_.Add(false, "ask: no code emailed to " + email);
  auto confirmed = Call(kConfirm, "POST", "/v1/recovery/requests/confirm",
                        json{{"email", email}, {"code", *code}}, "", bob.address, 201);
  if (!confirmed) return;
  const std::string id = confirmed->value("request_id", "");
  const std::string path = "/v1/orgs/" + org.id + "/recovery/requests/" + id;
  auto shown = Call(kShow, "GET", path, json(), org.owner.token, org.owner.address, 200);
  if (!shown) return;
  auto share = crypto::Base64UrlDecode((*shown)["escrow"].value("admin_share", ""));
  if (!share) return failures_.Add(false, "show: no admin_share");
  auto a = protocol::OpenAdminShare(org.org_key, *share, org.id, bob.id, m.epoch);
  if (!a) return failures_.Add(false, "show: the admin share does not open");
  auto link = Must(protocol::CreateLink(*a, id, bob.id, m.epoch), "CreateLink");
  const std::string token = B64(link.token.span());
  if (!Call(kApprove, "POST", path + "/approve",
            json{{"token", token}, {"link_share", B64(link.linked_admin_share)}}, org.owner.token,
            org.owner.address, 200)) {
    return;
  }
  const size_t codes2 = outbox_.CodeCount(email);
  json redeem = {{"request_id", id}, {"token", token}};
  if (!Call(kRedeem, "POST", "/v1/recovery/redeem", redeem, "", bob.address, 202)) return;
  auto code2 = outbox_.Code(email, codes2);
  if (!code2) return failures_.Add(false, "redeem: no code emailed to " + email);
  redeem["code"] = *code2;
  auto verified = Call(kVerify, "POST", "/v1/recovery/redeem/verify", redeem, "", bob.address, 200);
  if (!verified) return;
  auto la = crypto::Base64UrlDecode(verified->value("link_share", ""));
  auto u = crypto::Base64UrlDecodeSecret(verified->value("server_part", ""));
  auto w = crypto::Base64UrlDecode(verified->value("wrapped_vault_key", ""));
  if (!la || !u || !w) return failures_.Add(false, "verify: incomplete answer");
  auto admin_part = protocol::OpenLink(link.link_secret, *la, id, bob.id, m.epoch);
  if (!admin_part) return failures_.Add(false, "verify: the link share does not open");
  auto uk = protocol::RecoverVaultKey(*admin_part, crypto::GenericKey(std::move(*u)), *w, org.id,
                                      bob.id, m.epoch);
  if (!uk || !crypto::ConstantTimeEqual(uk->span(), m.vault_key.span())) {
    return failures_.Add(false, "verify: the recovered vault key is not the enrolled one");
  }
  auto e = Must(protocol::CreateEscrow(*uk, org.id, bob.id, m.epoch + 1, org.org_key.public_key,
                                       server_public_key_),
                "CreateEscrow");
  const std::string new_auth_key = RandomB64(32);
  const json complete = {
      {"ticket", (*verified)["ticket"]},
      {"new_kdf", {{"ops", 2}, {"mem", 20971520}}},
      {"new_salt", RandomB64(16)},
      {"new_auth_key", new_auth_key},
      {"new_wrapped_vault_key", RandomB64(73)},
      {"escrows", json::array({json{{"org_id", org.id},
                                    {"epoch", m.epoch + 1},
                                    {"key_version", 1},
                                    {"wrapped_vault_key", B64(e.wrapped_vault_key)},
                                    {"admin_share", B64(e.admin_share)},
                                    {"server_share", B64(e.server_share)}}})}};
  if (!Call(kComplete, "POST", "/v1/recovery/redeem/complete", complete, "", bob.address, 204)) {
    return;
  }
  m.epoch += 1;
  m.account.auth_key = new_auth_key;
  // The new master password works.
  if (Call(kLogin, "POST", "/v1/sessions",
           json{{"email", email},
                {"auth_key", new_auth_key},
                {"device", {{"id", kDevice}, {"name", kDevice}, {"type", "cli"}}}},
           "", bob.address, 201)) {
    ++flows_done_;
    if (recorder_) recorder_->Flow();
  }
}

double Soak::MeasureCapacity() {
  std::atomic<bool> stop{false};
  std::atomic<long> counted{0};
  std::atomic<bool> counting{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < o_.capacity_workers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(1000 + t));
      while (!stop) {
        MixUnit(rng, std::nullopt);
        if (counting) ++counted;
      }
    });
  }
  const double warmup = 2;
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  const auto start = Clock::now();
  counting = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(o_.capacity_seconds - warmup));
  counting = false;
  const double elapsed = Seconds(Clock::now() - start);
  stop = true;
  for (auto& t : threads) t.join();
  return static_cast<double>(counted) / elapsed;
}

long ReadRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::atol(line.c_str() + 6);
  }
  return -1;
}

int CountFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

// Connections to the soak's database, the sampler's own left out.
int CountConnections(PGconn* conn) {
  if (conn == nullptr) return -1;
  PGresult* r = PQexec(conn,
                       "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()");
  int n = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) n = std::atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  return n;
}

void Soak::Sampler(const std::atomic<bool>& stop) {
  PGconn* conn = nullptr;
  if (!o_.pg_url.empty()) {
    conn = PQconnectdb(o_.pg_url.c_str());
    if (PQstatus(conn) != CONNECTION_OK) Die(std::string("sampler: ") + PQerrorMessage(conn));
  }
  while (!stop) {
    recorder_->Sample(ReadRssKib(o_.pid), CountFds(o_.pid), CountConnections(conn));
    for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(milliseconds(100));
  }
  if (conn) PQfinish(conn);
}

void Soak::SoakPhase(double rate) {
  const auto start = Clock::now();
  const int windows = (o_.seconds + o_.window - 1) / o_.window;
  recorder_ = std::make_unique<Recorder>(start, o_.window, windows);
  const auto end = start + std::chrono::seconds(o_.seconds);
  std::atomic<bool> stop_sampler{false};
  std::thread sampler([&] { Sampler(stop_sampler); });

  // The mix: a fixed schedule, one unit every 1/rate s, taken by the first
  // free worker; a unit's latency counts from its scheduled time.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Clock::time_point> queue;
  bool done = false;
  size_t max_backlog = 0;
  std::vector<std::thread> workers;
  for (int t = 0; t < o_.workers; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(2000 + t));
      for (;;) {
        Clock::time_point at;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return done || !queue.empty(); });
          if (queue.empty()) return;
          at = queue.front();
          queue.pop_front();
        }
        MixUnit(rng, at);
      }
    });
  }
  std::thread dispatcher([&] {
    const auto step =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1 / rate));
    for (auto at = start; at < end; at += step) {
      std::this_thread::sleep_until(at);
      std::lock_guard lock(mu);
      queue.push_back(at);
      max_backlog = std::max(max_backlog, queue.size());
      cv.notify_one();
    }
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  });

  // Recovery flows: their own schedule and threads (each flow waits for two
  // emails), one member each.
  std::vector<std::thread> recoverers;
  std::atomic<bool> recovery_done{false};
  std::mutex rmu;
  std::condition_variable rcv;
  std::deque<Member*> flows;
  for (int t = 0; t < 4; ++t) {
    recoverers.emplace_back([&] {
      for (;;) {
        Member* m;
        {
          std::unique_lock lock(rmu);
          rcv.wait(lock, [&] { return recovery_done || !flows.empty(); });
          if (flows.empty()) return;
          m = flows.front();
          flows.pop_front();
        }
        RecoveryFlow(*m);
      }
    });
  }
  std::thread recovery_dispatcher([&] {
    if (o_.recovery_per_second <= 0 || members_.empty()) {
      std::lock_guard lock(rmu);
      recovery_done = true;
      rcv.notify_all();
      return;
    }
    const auto step = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1 / o_.recovery_per_second));
    for (auto at = start + step / 2; at < end; at += step) {
      std::this_thread::sleep_until(at);
      const size_t i = next_member_++;
      if (i >= members_.size()) break;
      std::lock_guard lock(rmu);
      flows.push_back(members_[i].get());
      rcv.notify_one();
    }
    std::lock_guard lock(rmu);
    recovery_done = true;
    rcv.notify_all();
  });

  // Progress, one line per window.
  for (int w = 0; w < windows; ++w) {
    std::this_thread::sleep_until(std::min(end, start + std::chrono::seconds((w + 1) * o_.window)));
    std::this_thread::sleep_for(milliseconds(200));  // the last sample of the window
    Window win = recorder_->At(static_cast<size_t>(w));
    std::vector<double> all;
    for (const auto& v : win.ms) all.insert(all.end(), v.begin(), v.end());
    Percentiles p = Summarize(std::move(all));
    size_t backlog;
    {
      std::lock_guard lock(mu);
      backlog = queue.size();
    }
    std::fprintf(
        stderr,
        "soak[%s]: %4ds  %6.0f units/s  %6.0f req/s  p50 %6.2f ms  p99 %7.2f ms  RSS %6.1f "
        "MiB  fds %3d  conns %2d  5xx %ld  flows %ld  backlog %zu\n",
        o_.label.c_str(), std::min((w + 1) * o_.window, o_.seconds),
        static_cast<double>(win.units) / WindowSeconds(w),
        static_cast<double>(win.requests) / WindowSeconds(w), p.p50, p.p99,
        static_cast<double>(win.rss_kib_last) / 1024, win.fds_max, win.conns_max, win.server_errors,
        win.flows, backlog);
  }
  dispatcher.join();
  recovery_dispatcher.join();
  for (auto& t : workers) t.join();
  for (auto& t : recoverers) t.join();
  stop_sampler = true;
  sampler.join();
  max_backlog_ = max_backlog;
}

}  // namespace keyward::bench::soak
