#!/usr/bin/env bash
# keywardd under wrk: GET /healthz (the baseline, measured in the same run)
# and an authenticated GET /v1/items (50 items), 64 connections. Prints a
# Markdown section for bench/RESULTS.md. Usage: bench/http_bench.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
duration=${DURATION:-15s}
connections=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "http_bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$build/bin/keywardd" --data "$tmp/data" --listen 127.0.0.1:0 \
  --min-kdf-ops 2 --min-kdf-mem 20971520 --log-level warn >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(head -1 "$tmp/out" | awk '{print $NF}')
[ -n "$url" ] || { echo "http_bench: keywardd did not start: $(cat "$tmp/err")" >&2; exit 1; }

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
rss_start=$(rss_kib)
token=$(/usr/bin/python3 bench/seed_account.py "$url" "$tmp/data" 50 bench50@example.com)
token10=$(/usr/bin/python3 bench/seed_account.py "$url" "$tmp/data" 10 bench10@example.com)
sleep 1
rss_idle=$(rss_kib)

peak=0
sample() { while kill -0 "$pid" 2>/dev/null; do r=$(rss_kib); [ "$r" -gt "$(cat "$tmp/peak" 2>/dev/null || echo 0)" ] && echo "$r" >"$tmp/peak"; sleep 0.2; done; }
sample & sampler=$!

run() { wrk -t2 -c"$connections" -d"$duration" --latency "$@"; }
run "$url/healthz" >"$tmp/healthz.txt"
run -H "Authorization: Bearer $token" "$url/v1/items" >"$tmp/items.txt"
run -H "Authorization: Bearer $token10" "$url/v1/items" >"$tmp/items10.txt"
kill "$sampler" 2>/dev/null || true
peak=$(cat "$tmp/peak")

rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
non2xx() { awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$1"; }
h=$(rps "$tmp/healthz.txt"); i=$(rps "$tmp/items.txt"); i10=$(rps "$tmp/items10.txt")
ratio=$(awk -v a="$i" -v b="$h" 'BEGIN {printf "%.2f", a / b}')
ratio10=$(awk -v a="$i10" -v b="$h" 'BEGIN {printf "%.2f", a / b}')
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

cat <<MD
### HTTP ($(date -u +%Y-%m-%d), $(nproc) cores, wrk -t2 -c$connections -d$duration, SQLite)

| measure | value | target |
| --- | --- | --- |
| GET /healthz requests/s (baseline) | $h | |
| GET /v1/items, 10 items (~4 KiB answer) requests/s | $i10 | |
| GET /v1/items, 50 items (~21 KiB answer) requests/s | $i | |
| **item list (10) / healthz** | **$ratio10** | ≥ 0.5 |
| **item list (50) / healthz** | **$ratio** | ≥ 0.5 |
| p99 latency, /healthz | $(p99 "$tmp/healthz.txt") | |
| p99 latency, /v1/items (10) | $(p99 "$tmp/items10.txt") | |
| p99 latency, /v1/items (50) | $(p99 "$tmp/items.txt") | |
| non-2xx answers under load (all three runs) | $(( $(non2xx "$tmp/healthz.txt") + $(non2xx "$tmp/items10.txt") + $(non2xx "$tmp/items.txt") )) | 0 |
| keywardd RSS at start | $(mib "$rss_start") MiB | |
| keywardd RSS idle (after setup) | $(mib "$rss_idle") MiB | ≤ 16 MiB |
| keywardd RSS peak under load | $(mib "$peak") MiB | ≤ 48 MiB |
MD
