#!/usr/bin/env bash
# keywardd on PostgreSQL, one node and two nodes behind nginx, against the
# SQLite single node, in one run (issue 5). Two endpoints, each under wrk
# (-t2 -c$CONNECTIONS -d$DURATION, after a $WARMUP warm-up that is not
# counted):
#   items     GET /v1/items, 50 items (~21 KiB answer), the member's session
#   requests  GET /v1/orgs/{org}/recovery/requests?status=pending, first page
#             (50 of 2,000 pending among 100,000 requests), the owner's session
# Four configurations:
#   sqlite     one node, SQLite (WAL, synchronous=FULL), wrk -> keywardd
#   pg         one node, PostgreSQL, wrk -> keywardd
#   pg-nginx   one node, PostgreSQL, wrk -> nginx -> keywardd
#   pg-2nodes  two nodes, PostgreSQL, wrk -> nginx (round robin) -> keywardd x2
#   pg-nginx-w4  one node with --workers 2 x cores, behind nginx: as many
#              threads as the two nodes together, to tell the effect of more
#              threads waiting on the database from that of a second process
# Every node has the same settings (keywardd defaults: --workers 0, i.e. one
# per core, and a pool of up to 8 database connections; except pg-nginx-w4;
# --trusted-proxies
# 127.0.0.1 as docs/operations.md asks of nodes behind a proxy). nginx: one
# worker process, keep-alive connections to the nodes. PostgreSQL is a
# private cluster made for the run, durable like the SQLite side: fsync=on,
# synchronous_commit=on, full_page_writes=on; with pg_stat_statements
# loaded, to count statements per request.
#
# Seeding: the member (50 items) and the owner are made through the HTTP API
# (bench/seed_account.py, which also gives their session tokens); the
# organization, its 10,000 members and 100,000 requests go straight into the
# database through the Store interface (keyward_bench_seed, see
# bench/seed_requests.cc), once per database.
#
# Database cost per request, for every PostgreSQL case: CPU time of the
# cluster's processes (postmaster, backends and background processes,
# /proc/<pid>/stat, exited children included) over the measured run divided
# by the requests the database served in it (session lookups counted by
# pg_stat_statements; the nodes are let go idle before and after, so the
# warm-up's queued requests are left out and the last ones are counted
# whole), transactions (COMMIT/ROLLBACK), statements per request and their
# execution time (pg_stat_statements).
#
# Prints a Markdown section for bench/RESULTS.md on stdout; progress on stderr.
# Usage: bench/multinode_bench.sh [build-dir]
#   DURATION=10s WARMUP=1s CONNECTIONS=64 ROUNDS=2: every node and proxy is
#   started first; then ROUNDS rounds, each running the 5 configurations x 2
#   endpoints in turn (interleaved, so other load on a shared machine hits
#   every case alike); the report shows each case's best round. ~5 minutes
#   with the defaults on 2 cores (seeding PostgreSQL takes ~40 s of it).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
duration=${DURATION:-10s}
warmup=${WARMUP:-1s}
connections=${CONNECTIONS:-64}
rounds=${ROUNDS:-2}
for tool in wrk /usr/sbin/nginx; do
  command -v "$tool" >/dev/null || { echo "multinode_bench: $tool is missing" >&2; exit 1; }
done
for bin in keywardd keyward_bench_seed; do
  [ -x "$build/bin/$bin" ] || { echo "multinode_bench: $build/bin/$bin is missing (ninja -C $build keywardd keyward_bench_seed)" >&2; exit 1; }
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -x "$pgbin/initdb" ] || { echo "multinode_bench: PostgreSQL is not installed" >&2; exit 1; }

say() { echo "multinode_bench: $*" >&2; }
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
tck=$(getconf CLK_TCK)

tmp=$(mktemp -d /tmp/keyward-multinode.XXXXXX)
chmod 755 "$tmp"
pids=()        # keywardd and nginx, killed by pid at exit
pgdata=""
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_node NAME DATA-DIR [--db URL]: starts keywardd, sets node_pid and node_url.
start_node() {
  local name=$1 data=$2; shift 2
  "$build/bin/keywardd" --data "$data" --listen 127.0.0.1:0 "$@" \
    --trusted-proxies 127.0.0.1 --min-kdf-ops 2 --min-kdf-mem 20971520 --log-level warn \
    >"$tmp/$name.out" 2>"$tmp/$name.err" &
  node_pid=$!
  pids+=("$node_pid")
  for _ in $(seq 150); do grep -q listening "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
  node_url=$(head -1 "$tmp/$name.out" | awk '{print $NF}')
  [ -n "$node_url" ] || { say "keywardd $name did not start: $(cat "$tmp/$name.err")"; exit 1; }
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# start_nginx NAME URL...: nginx in the foreground, round robin over the
# nodes with keep-alive upstream connections; sets nginx_pid and nginx_url.
start_nginx() {
  local name=$1; shift
  local dir="$tmp/$name" port servers="" u
  mkdir -p "$dir"
  for u in "$@"; do servers+="    server ${u#http://};"$'\n'; done
  port=$(free_port)
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  upstream keyward {
$servers    keepalive 128;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://keyward;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_buffers 16 16k;
    }
  }
}
CONF
  /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
    >"$dir/out" 2>&1 &
  nginx_pid=$!
  pids+=("$nginx_pid")
  nginx_url="http://127.0.0.1:$port"
  for _ in $(seq 50); do curl -fsS "$nginx_url/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  say "nginx did not start: $(cat "$dir/out" "$dir/error.log" 2>/dev/null)"; exit 1
}

# CPU ticks of a process and its children, live (utime + stime) and exited
# (cutime + cstime of the parent).
proc_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
tree_ticks() {
  local root=$1 total c
  total=$(awk '{sub(/^.*\) /, ""); print $12 + $13 + $14 + $15}' "/proc/$root/stat")
  for c in $(ps -o pid= --ppid "$root"); do total=$((total + $(proc_ticks "$c"))); done
  echo "$total"
}

# settle "PIDS": waits (up to 10 s) until the nodes are idle: CPU ticks
# grow by at most one in 0.2 s.
settle() {
  local prev=-1000 cur p
  for _ in $(seq 50); do
    cur=0
    for p in $1; do cur=$((cur + $(proc_ticks "$p"))); done
    [ $((cur - prev)) -le 1 ] && return
    prev=$cur
    sleep 0.2
  done
}

psql_q() { "$pgbin/psql" -X -A -t -q -d "$pg_url" -c "$1"; }

# measure CASE ENDPOINT ROUND: the warm-up, then the measured wrk; writes
# $tmp/res/CASE.ENDPOINT.ROUND.{wrk,cpu,stmts,top}.
mkdir -p "$tmp/res"
measure() {
  local c=$1 e=$2 r=$3 out="$tmp/res/$1.$2.$3" url token nodes ngx="" pg=1
  case $c in
    sqlite) url=$sqlite_url nodes=$sqlite_pid pg="" ;;
    pg) url=$pg1_url nodes=$pg1_pid ;;
    pg-nginx) url=$nginx1_url nodes=$pg1_pid ngx=$nginx1_pid ;;
    pg-2nodes) url=$nginx2_url nodes="$pg1_pid $pg2_pid" ngx=$nginx2_pid ;;
    pg-nginx-w4) url=$nginx3_url nodes=$pg3_pid ngx=$nginx3_pid ;;
  esac
  if [ "$e" = items ]; then
    url+="/v1/items"
    token=$items_token; [ -n "$pg" ] || token=$sqlite_items_token
  else
    url+=$list_path
    token=$owner_token; [ -n "$pg" ] || token=$sqlite_owner_token
  fi
  wrk -t2 -c"$connections" -d"$warmup" -H "Authorization: Bearer $token" "$url" >/dev/null
  settle "$nodes"  # the warm-up's queued requests are not measured
  local n0=0 n1=0 g0=0 g1=0 p0=0 p1=0 p
  if [ -n "$pg" ]; then
    psql_q "SELECT pg_stat_statements_reset()" >/dev/null
    p0=$(tree_ticks "$pg_pid")
  fi
  for p in $nodes; do n0=$((n0 + $(proc_ticks "$p"))); done
  [ -n "$ngx" ] && g0=$(tree_ticks "$ngx")
  wrk -t2 -c"$connections" -d"$duration" --timeout 10s --latency -H "Authorization: Bearer $token" \
    "$url" >"$out.wrk"
  settle "$nodes"  # requests still in flight finish and are counted below
  for p in $nodes; do n1=$((n1 + $(proc_ticks "$p"))); done
  [ -n "$ngx" ] && g1=$(tree_ticks "$ngx")
  # Requests served in the window: for PostgreSQL what the database saw (one
  # session lookup per request: both endpoints take a bearer token); for
  # SQLite what wrk counted (up to $connections requests in flight at the end
  # are served but not counted: < 1 % at these rates).
  local reqs txs=0
  reqs=$(awk '/requests in/ {print $1}' "$out.wrk")
  if [ -n "$pg" ]; then
    p1=$(tree_ticks "$pg_pid")
    # keywardd and this script's psql share the role: our own statements
    # are left out by their text. Transactions: COMMIT and ROLLBACK calls
    # (the store opens every transaction with BEGIN).
    psql_q "SELECT coalesce(sum(calls),0), coalesce(sum(total_exec_time),0),
                   coalesce(sum(calls) FILTER (WHERE query LIKE 'SELECT token_hash, %FROM sessions WHERE%'),0),
                   coalesce(sum(calls) FILTER (WHERE query IN ('COMMIT', 'ROLLBACK')),0)
            FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%'" | tr '|' ' ' >"$out.stmts"
    # The statements by number of calls: calls, total execution ms, the text.
    "$pgbin/psql" -X -A -t -q -F $'\t' -d "$pg_url" -c "SELECT calls, round(total_exec_time::numeric, 1),
                   left(regexp_replace(query, '\s+', ' ', 'g'), 90)
            FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%'
            ORDER BY calls DESC, total_exec_time DESC LIMIT 10" >"$out.top"
    reqs=$(awk '{print $3}' "$out.stmts")
    txs=$(awk '{print $4}' "$out.stmts")
  fi
  echo "$reqs $((n1 - n0)) $((g1 - g0)) $((p1 - p0)) $txs" >"$out.cpu"
  say "round $r, $c $e: $(awk '/Requests\/sec/ {print $2}' "$out.wrk") requests/s"
  if grep -q 'Non-2xx\|Socket errors' "$out.wrk"; then
    say "errors: $(grep 'Non-2xx\|Socket errors' "$out.wrk" | tr '\n' ' ')"
    local f
    for f in "$tmp"/*.err "$tmp"/nginx*/error.log; do
      [ -s "$f" ] && { say "$f:"; tail -5 "$f" >&2; }
    done
  fi
}

list_path="/v1/orgs/acme/recovery/requests?status=pending"
check_list() {  # check_list URL TOKEN: the first page has 50 pending requests
  curl -fsS -H "Authorization: Bearer $2" "$1$list_path" |
    /usr/bin/python3 -c 'import json,sys; n=len(json.load(sys.stdin)["requests"]); assert n == 50, n'
}

# ---- SQLite, one node ----
say "SQLite node"
start_node sqlite "$tmp/sqlite"
sqlite_pid=$node_pid sqlite_url=$node_url
sqlite_items_token=$(/usr/bin/python3 bench/seed_account.py "$sqlite_url" "$tmp/sqlite" 50 member@example.com)
sqlite_owner_token=$(/usr/bin/python3 bench/seed_account.py "$sqlite_url" "$tmp/sqlite" 0 owner@example.com)
"$build/bin/keyward_bench_seed" "sqlite:$tmp/sqlite/keyward.db" owner@example.com acme
check_list "$sqlite_url" "$sqlite_owner_token"

# ---- PostgreSQL: a private durable cluster ----
say "PostgreSQL cluster"
pgroot="$tmp/pg"
mkdir -p "$pgroot"
[ "$(id -u)" -eq 0 ] && chown postgres "$pgroot"
pgdata="$pgroot/data"
as_pg "$pgbin/initdb" -D "$pgdata" -U keyward --auth=trust --encoding=UTF8 --locale=C \
  >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; exit 1; }
pg_port=$(free_port)
as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgroot/server.log" -w -t 30 start -o \
  "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pgroot \
   -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
   -c max_connections=300 -c shared_buffers=128MB \
   -c shared_preload_libraries=pg_stat_statements" >/dev/null ||
  { tail -20 "$pgroot/server.log" >&2; exit 1; }
pg_pid=$(head -1 "$pgdata/postmaster.pid")
pg_url="postgresql://keyward@127.0.0.1:$pg_port/postgres"
psql_q "CREATE DATABASE keyward"
pg_url="postgresql://keyward@127.0.0.1:$pg_port/keyward"
psql_q "CREATE EXTENSION pg_stat_statements"
pg_version=$(psql_q "SHOW server_version" | awk '{print $1}')
pg_settings=$(psql_q "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
                      WHERE name IN ('fsync','synchronous_commit','full_page_writes','wal_sync_method','shared_buffers')")

say "PostgreSQL node 1"
start_node pg1 "$tmp/pg1" --db "$pg_url"
pg1_pid=$node_pid pg1_url=$node_url
items_token=$(/usr/bin/python3 bench/seed_account.py "$pg1_url" "$tmp/pg1" 50 member@example.com)
owner_token=$(/usr/bin/python3 bench/seed_account.py "$pg1_url" "$tmp/pg1" 0 owner@example.com)
"$build/bin/keyward_bench_seed" "$pg_url" owner@example.com acme
psql_q "VACUUM ANALYZE" >/dev/null
check_list "$pg1_url" "$owner_token"

say "PostgreSQL node 2"
mkdir -p "$tmp/pg2"
chmod 700 "$tmp/pg2"
cp -p "$tmp/pg1/server.key" "$tmp/pg1/recovery.key" "$tmp/pg2/"
start_node pg2 "$tmp/pg2" --db "$pg_url"
pg2_pid=$node_pid pg2_url=$node_url
# The sessions made on node 1 work on node 2 as they are.
check_list "$pg2_url" "$owner_token"
say "PostgreSQL node 3 (--workers 4)"
mkdir -p "$tmp/pg3"
chmod 700 "$tmp/pg3"
cp -p "$tmp/pg1/server.key" "$tmp/pg1/recovery.key" "$tmp/pg3/"
start_node pg3 "$tmp/pg3" --db "$pg_url" --workers $((2 * $(nproc)))
pg3_pid=$node_pid pg3_url=$node_url
start_nginx nginx1 "$pg1_url"
nginx1_pid=$nginx_pid nginx1_url=$nginx_url
start_nginx nginx2 "$pg1_url" "$pg2_url"
nginx2_pid=$nginx_pid nginx2_url=$nginx_url
start_nginx nginx3 "$pg3_url"
nginx3_pid=$nginx_pid nginx3_url=$nginx_url

# Every node and proxy is up from here on; the rounds interleave the cases,
# so that other load on the machine hits them alike.
cases="sqlite pg pg-nginx pg-2nodes pg-nginx-w4"
for r in $(seq "$rounds"); do
  for c in $cases; do
    for e in items requests; do measure "$c" "$e" "$r"; done
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----
# Throughput and p99 are those of each case's best round (the one with the
# most requests/s: other load on the machine only ever slows a round down);
# errors are counted over every round; costs per request are summed over
# every round.
rps_of() { awk '/Requests\/sec/ {print $2}' "$1"; }
best() {  # best CASE ENDPOINT: the file prefix of the best round
  local r b="" bv=-1 v
  for r in $(seq "$rounds"); do
    v=$(rps_of "$tmp/res/$1.$2.$r.wrk")
    if awk -v a="$v" -v b="$bv" 'BEGIN {exit !(a > b)}'; then bv=$v b="$tmp/res/$1.$2.$r"; fi
  done
  echo "$b"
}
rps() { rps_of "$(best "$1" "$2").wrk"; }
p99() { awk '$1 == "99%" {print $2}' "$(best "$1" "$2").wrk"; }
all_rps() {  # every round's requests/s, " / " between
  local r out=""
  for r in $(seq "$rounds"); do out+="${out:+ / }$(rps_of "$tmp/res/$1.$2.$r.wrk")"; done
  echo "$out"
}
non2xx() { cat "$tmp/res/$1.$2".*.wrk | awk '/Non-2xx/ {n += $NF} END {print n + 0}'; }
sockerr() {  # connect, read, write errors and timeouts
  cat "$tmp/res/$1.$2".*.wrk |
    awk '/Socket errors/ {gsub(/[^0-9 ]/, " "); n += $1 + $2 + $3 + $4} END {print n + 0}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# per_req CASE ENDPOINT FIELD: µs per request of field 2 (nodes), 3 (nginx),
# 4 (PostgreSQL); field 5: transactions per request; summed over the rounds.
per_req() {
  cat "$tmp/res/$1.$2".*.cpu | awk -v f="$3" -v t="$tck" '{r += $1; v += $f}
    END { if (f == 5) printf "%.2f", v / r; else printf "%.0f", v * 1e6 / t / r }'
}
served() { cat "$tmp/res/$1.$2".*.cpu | awk '{r += $1} END {print r}'; }
stmts() { cat "$tmp/res/$1.$2".*.stmts | awk -v r="$(served "$1" "$2")" '{n += $1} END {printf "%.2f", n / r}'; }
exec_us() { cat "$tmp/res/$1.$2".*.stmts | awk -v r="$(served "$1" "$2")" '{n += $2} END {printf "%.0f", n * 1000 / r}'; }

label() {
  case $1 in
    sqlite) echo "SQLite, one node (baseline)" ;;
    pg) echo "PostgreSQL, one node, direct" ;;
    pg-nginx) echo "PostgreSQL, one node behind nginx" ;;
    pg-2nodes) echo "PostgreSQL, two nodes behind nginx" ;;
    pg-nginx-w4) echo "PostgreSQL, one node with twice the workers, behind nginx" ;;
  esac
}

cat <<MD
### Several nodes on PostgreSQL (issue 5)

\`bench/multinode_bench.sh\` ($started, $(nproc) cores, wrk -t2 -c$connections -d$duration --timeout 10s after a
$warmup warm-up per case, $rounds round(s) of the configurations interleaved, best round
shown; PostgreSQL $pg_version: $pg_settings).
Load average at start: $load_start; at the end: $load_end.

| configuration | items req/s | p99 | vs SQLite | request list req/s | p99 | vs SQLite | non-2xx / socket errors |
| --- | --- | --- | --- | --- | --- | --- | --- |
MD
si=$(rps sqlite items); sr=$(rps sqlite requests)
for c in $cases; do
  echo "| $(label $c) | $(rps $c items) | $(p99 $c items) | $(ratio "$(rps $c items)" "$si") |" \
    "$(rps $c requests) | $(p99 $c requests) | $(ratio "$(rps $c requests)" "$sr") |" \
    "$(($(non2xx $c items) + $(non2xx $c requests))) / $(($(sockerr $c items) + $(sockerr $c requests))) |"
done
if [ "$rounds" -gt 1 ]; then
  cat <<MD

| configuration | items req/s, every round | request list req/s, every round |
| --- | --- | --- |
MD
  for c in $cases; do echo "| $(label $c) | $(all_rps $c items) | $(all_rps $c requests) |"; done
fi
cat <<MD

| two nodes vs one node | items | request list | target |
| --- | --- | --- | --- |
| **two nodes / one node, both behind nginx** | **$(ratio "$(rps pg-2nodes items)" "$(rps pg-nginx items)")** | **$(ratio "$(rps pg-2nodes requests)" "$(rps pg-nginx requests)")** | ≥ 0.80 |
| two nodes / one node with twice the workers (same thread count), behind nginx | $(ratio "$(rps pg-2nodes items)" "$(rps pg-nginx-w4 items)") | $(ratio "$(rps pg-2nodes requests)" "$(rps pg-nginx-w4 requests)") | |
| one node behind nginx / direct (the nginx hop) | $(ratio "$(rps pg-nginx items)" "$(rps pg items)") | $(ratio "$(rps pg-nginx requests)" "$(rps pg requests)") | |
| two nodes behind nginx / one node direct | $(ratio "$(rps pg-2nodes items)" "$(rps pg items)") | $(ratio "$(rps pg-2nodes requests)" "$(rps pg requests)") | |

CPU time per request over the measured runs of every round (µs; CPU of all
keywardd nodes, of nginx, and of the whole PostgreSQL cluster), PostgreSQL
transactions and statements per request, and the statements' execution time
per request (pg_stat_statements \`total_exec_time\`):

| configuration, endpoint | keywardd µs | nginx µs | PostgreSQL µs | transactions | statements | statement time µs |
| --- | --- | --- | --- | --- | --- | --- |
MD
for c in $cases; do
  for e in items requests; do
    name="items"; [ "$e" = requests ] && name="request list"
    if [ "$c" = sqlite ]; then
      echo "| $(label $c), $name | $(per_req $c $e 2) | – | (in keywardd) | – | – | – |"
    else
      ng="–"; [ "$c" != pg ] && ng=$(per_req $c $e 3)
      echo "| $(label $c), $name | $(per_req $c $e 2) | $ng | $(per_req $c $e 4) | $(per_req $c $e 5) | $(stmts $c $e) | $(exec_us $c $e) |"
    fi
  done
done
cat <<MD

Statements per request, PostgreSQL one node direct, round 1
(pg_stat_statements, the 10 most called, BEGIN/COMMIT included; µs is
execution time per request):

| endpoint | statement | per request | µs per request |
| --- | --- | --- | --- |
MD
for e in items requests; do
  name="items"; [ "$e" = requests ] && name="request list"
  r=$(awk '{print $1}' "$tmp/res/pg.$e.1.cpu")
  awk -F'\t' -v r="$r" -v n="$name" '{q = $3; gsub(/\|/, "\\|", q); printf "| %s | `%s` | %.2f | %.0f |\n", n, q, $1 / r, $2 * 1000 / r}' \
    "$tmp/res/pg.$e.1.top"
done
