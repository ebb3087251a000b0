#!/usr/bin/env bash
# One keywardd on SQLite against its ceilings, in one run (bench/run calls
# this; it can run alone). Started side by side on this machine:
#   keywardd             on a new SQLite database (WAL, synchronous=FULL)
#                        under the data directory, on disk, not tmpfs
#   keyward_ping_server  a bare Beast server answering {"status":"ok"}
#                        (bench/ping_server.cc): the ceiling of any route
# Then ROUNDS rounds, each running every case below in turn (interleaved, so
# other load on the machine hits each case alike); a case's figure is its
# best round. Every HTTP case is wrk -t2 -c$CONNECTIONS -d$DURATION --latency.
#   ping          GET /ping on the bare Beast server
#   healthz       GET /healthz
#   items10/50    GET /v1/items, a vault of 10 / 50 items (~300 bytes each)
#   items50_304   the same with If-None-Match: the ETag of the last answer
#   requests      GET /v1/orgs/acme/recovery/requests?status=pending, the
#                 first page (50) of $PENDING pending among $REQUESTS
#   login         POST /v1/sessions with the right auth key (a new session
#                 each time, one commit)
#   writes        POST /v1/items, a new 300-byte item per request (one commit)
#   sqlite1/16    keyward_sqlite_ceiling: raw SQLite durable commits of a
#                 300-byte row with 1 and 16 writer threads, $DURATION each
# For each HTTP case: requests/s, p99, non-2xx answers (all rounds; a round
# with any is not counted as best), and the server's CPU
# per request (utime+stime of the server process over the run / requests).
# Around the rounds: keywardd's RSS at start, idle after seeding, peak under
# load (sampled every 0.2 s), what of the idle RSS is anonymous memory and
# what is pages of the binary and shared libraries, and the cold start to the first /healthz on
# the seeded database (best of 3, bench/cold_start.py).
#
# Usage: bench/node_bench.sh BUILD_DIR OUT_FILE
#   env: ROUNDS=3 DURATION=10s CONNECTIONS=64 MEMBERS=10000 PER_MEMBER=10
#        PENDING=2000 (the organization bench/seed_requests.cc makes)
# Writes key=value lines to OUT_FILE; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$1
out=$2
rounds=${ROUNDS:-3}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-64}
members=${MEMBERS:-10000}
per_member=${PER_MEMBER:-10}
pending=${PENDING:-2000}
command -v wrk >/dev/null || { echo "node_bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
for bin in keywardd keyward_ping_server keyward_sqlite_ceiling keyward_bench_seed; do
  [ -x "$build/bin/$bin" ] || { echo "node_bench: $build/bin/$bin is missing" >&2; exit 1; }
done
say() { echo "node_bench: $*" >&2; }
tck=$(getconf CLK_TCK)

work=$(mktemp -d "$(pwd)/$build/bench-work.XXXXXX")  # on disk: fsync is real
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

keywardd_args=(--data "$work/data" --min-kdf-ops 2 --min-kdf-mem 20971520 --log-level warn)
"$build/bin/keywardd" "${keywardd_args[@]}" --listen 127.0.0.1:0 >"$work/keywardd.out" \
  2>"$work/keywardd.err" &
server=$!
pids+=("$server")
"$build/bin/keyward_ping_server" >"$work/ping.out" 2>&1 &
ping=$!
pids+=("$ping")
for _ in $(seq 100); do
  grep -q listening "$work/keywardd.out" 2>/dev/null && grep -q listening "$work/ping.out" && break
  sleep 0.1
done
url=$(awk '/listening/ {print $NF; exit}' "$work/keywardd.out")
ping_url=$(awk '/listening/ {print $NF; exit}' "$work/ping.out")
[ -n "$url" ] && [ -n "$ping_url" ] || { echo "node_bench: a server did not start: $(cat "$work"/*.err)" >&2; exit 1; }

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_start=$(rss_kib "$server")

say "seeding (accounts through the API; $members members x $per_member requests into the database)"
seed() { /usr/bin/python3 bench/seed_account.py "$url" "$work/data" "$@"; }
items10_token=$(seed 10 items10@example.com)
items50_token=$(seed 50 items50@example.com)
writes_token=$(seed 0 writer@example.com)
read -r _ login_auth_key < <(seed 0 login@example.com --auth-key)
owner_token=$(seed 0 owner@example.com)
"$build/bin/keyward_bench_seed" "sqlite:$work/data/keyward.db" owner@example.com acme \
  "$members" "$per_member" "$pending" >/dev/null
item_data=$(/usr/bin/python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(300)).rstrip(b"=").decode())')
sleep 1
rss_idle=$(rss_kib "$server")
# What of it is the process's own: anonymous memory (heap, stacks), and its
# proportional share of the shared libraries' pages (PSS).
rss_anon_idle=$(awk '/RssAnon/ {print $2}' "/proc/$server/status")
rss_file_idle=$(awk '/RssFile/ {print $2}' "/proc/$server/status")
pss_idle=$(awk '/^Pss:/ {print $2}' "/proc/$server/smaps_rollup")
threads=$(awk '/Threads/ {print $2}' "/proc/$server/status")

echo 0 >"$work/peak"
( while kill -0 "$server" 2>/dev/null; do
    r=$(rss_kib "$server" 2>/dev/null || echo 0)
    [ "$r" -gt "$(cat "$work/peak")" ] && echo "$r" >"$work/peak"
    sleep 0.2
  done ) &
pids+=("$!")

# best_<case>_<field>: the round with the highest requests/s.
declare -A best_rps best_p99 best_cpu non2xx_total
wrk_case() {  # wrk_case NAME PID URL [wrk args...]
  local name=$1 pid=$2 target=$3
  shift 3
  local before after log="$work/$name.txt"
  before=$(cpu_ticks "$pid")
  wrk -t2 -c"$connections" -d"$duration" --latency "$@" "$target" >"$log" 2>&1
  after=$(cpu_ticks "$pid")
  local rps requests p99 non2xx cpu
  rps=$(awk '/Requests\/sec/ {print $2}' "$log")
  requests=$(awk '/requests in/ {print $1}' "$log")
  p99=$(awk '$1 == "99%" {v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
              print (u == "us" ? v / 1000 : (u == "s" ? v * 1000 : v))}' "$log")
  non2xx=$(awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$log")
  cpu=$(awk -v t=$((after - before)) -v n="$requests" -v hz="$tck" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')
  say "  $name: $rps req/s, p99 ${p99} ms, ${cpu} us CPU/request, non-2xx $non2xx"
  non2xx_total[$name]=$((${non2xx_total[$name]:-0} + non2xx))
  # A round with errors is no one's best (errors are cheap answers).
  if [ "$non2xx" -eq 0 ] && awk -v a="$rps" -v b="${best_rps[$name]:-0}" 'BEGIN {exit !(a > b)}'; then
    best_rps[$name]=$rps
    best_p99[$name]=$p99
    best_cpu[$name]=$cpu
  fi
}
declare -A best_commits
sqlite_case() {  # sqlite_case WRITERS
  local db="$work/ceiling-$1-$RANDOM.db" line rate
  line=$("$build/bin/keyward_sqlite_ceiling" "$db" "$1" "${duration%s}")
  rm -f "$db" "$db-wal" "$db-shm"
  rate=${line#commits_per_second=}
  rate=${rate%% *}
  say "  sqlite$1: $rate commits/s"
  if awk -v a="$rate" -v b="${best_commits[$1]:-0}" 'BEGIN {exit !(a > b)}'; then
    best_commits[$1]=$rate
  fi
}

etag=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $items50_token" "$url/v1/items" |
  awk 'tolower($1) == "etag:" {sub(/\r$/, "", $2); print $2}')
requests_path="/v1/orgs/acme/recovery/requests?status=pending"
for round in $(seq "$rounds"); do
  say "round $round of $rounds"
  wrk_case ping "$ping" "$ping_url/ping"
  wrk_case healthz "$server" "$url/healthz"
  BENCH_TOKEN=$items10_token wrk_case items10 "$server" "$url/v1/items" -s bench/wrk/get.lua
  BENCH_TOKEN=$items50_token wrk_case items50 "$server" "$url/v1/items" -s bench/wrk/get.lua
  if [ -n "$etag" ]; then
    BENCH_TOKEN=$items50_token wrk_case items50_304 "$server" "$url/v1/items" \
      -s bench/wrk/get.lua -H "If-None-Match: $etag"
  fi
  BENCH_TOKEN=$owner_token wrk_case requests "$server" "$url$requests_path" -s bench/wrk/get.lua
  LOGIN_EMAIL=login@example.com LOGIN_AUTH_KEY=$login_auth_key \
    wrk_case login "$server" "$url/v1/sessions" -s bench/wrk/login.lua
  WRITE_TOKEN=$writes_token WRITE_DATA=$item_data WRITE_ROUND=$((round % 10)) \
    wrk_case writes "$server" "$url/v1/items" -s bench/wrk/write_items.lua
  sqlite_case 1
  sqlite_case 16
done
rss_peak=$(cat "$work/peak")

kill "$server"
wait "$server" 2>/dev/null || true
cold=""
for _ in 1 2 3; do
  t=$(/usr/bin/python3 bench/cold_start.py "$build/bin/keywardd" "${keywardd_args[@]}")
  if [ -z "$cold" ] || awk -v a="$t" -v b="$cold" 'BEGIN {exit !(a < b)}'; then cold=$t; fi
done
say "cold start to the first /healthz: $cold ms (best of 3)"

{
  echo "rounds=$rounds"
  echo "duration=$duration"
  echo "connections=$connections"
  echo "members=$members"
  echo "requests=$((members * per_member))"
  echo "pending=$pending"
  for name in "${!non2xx_total[@]}"; do  # every case run; rps empty when no round was clean
    echo "$name.rps=${best_rps[$name]:-}"
    echo "$name.p99_ms=${best_p99[$name]:-}"
    echo "$name.cpu_us=${best_cpu[$name]:-}"
    echo "$name.non2xx=${non2xx_total[$name]}"
  done
  echo "sqlite1.commits=${best_commits[1]}"
  echo "sqlite16.commits=${best_commits[16]}"
  echo "rss_start_kib=$rss_start"
  echo "rss_idle_kib=$rss_idle"
  echo "rss_anon_idle_kib=$rss_anon_idle"
  echo "rss_file_idle_kib=$rss_file_idle"
  echo "pss_idle_kib=$pss_idle"
  echo "threads=$threads"
  echo "rss_peak_kib=$rss_peak"
  echo "cold_start_ms=$cold"
} >"$out"
