#!/usr/bin/env bash
# The soak (issue 15): a mixed load at 80 % of the measured capacity for a set
# time, on SQLite and/or PostgreSQL; fails unless p99, RSS, open fds and
# database connections stay flat, no answer is a 5xx (or otherwise
# unexpected), and no acknowledged write is lost. The load and the rules are
# bench/soak/soak.h's; docs/operations.md "Soak" says how to read them.
#
#   bench/soak.sh [--seconds N] [--store sqlite|postgresql|both] [--json]
#                 [--build-dir DIR] [--no-build] [--window S]
#
# Builds keywardd and keyward_soak_driver (unless --no-build), then per store:
# a fresh keywardd in a temp directory (SQLite there; for postgresql a private
# cluster made for the run, durable: fsync on, on a free loopback port), the
# driver against it, keywardd stopped with SIGTERM (it must exit 0). Prints a
# Markdown summary (or, with --json, one JSON document) on stdout, progress on
# stderr; exits 1 on any violation. ctest runs the 60-second version
# (soak/both, label e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60 store=both json=0 build=build do_build=1 window=""
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    --json) json=1; shift ;;
    --build-dir) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --window) window=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--store sqlite|postgresql|both] [--json] [--build-dir DIR] [--no-build] [--window S]" >&2; exit 2 ;;
  esac
done
case $store in
  sqlite) stores=(sqlite) ;;
  postgresql) stores=(postgresql) ;;
  both) stores=(sqlite postgresql) ;;
  *) echo "soak: --store is sqlite, postgresql or both" >&2; exit 2 ;;
esac
# Windows of 10 s; shorter runs get at least 6 windows.
[ -n "$window" ] || window=$(( seconds >= 60 ? 10 : (seconds / 6 > 0 ? seconds / 6 : 1) ))
say() { echo "soak: $*" >&2; }

if [ "$do_build" = 1 ]; then
  [ -f web/dist/index.html ] || scripts/build-web.sh
  [ -f "$build/CMakeCache.txt" ] ||
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  nice cmake --build "$build" -j2 --target keywardd keyward_soak_driver >&2
fi
keywardd=$build/bin/keywardd
driver=$build/bin/keyward_soak_driver
for bin in "$keywardd" "$driver"; do
  [ -x "$bin" ] || { say "$bin is missing (cmake --build $build --target keywardd keyward_soak_driver)"; exit 1; }
done

tmp=$(mktemp -d /tmp/keyward-soak.XXXXXX)
chmod 755 "$tmp"
server_pid="" pgdata="" pgbin=""
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  set +e
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ] &&
    as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A private PostgreSQL cluster, durable like production; sets pg_url.
start_postgres() {
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ ! -x "$pgbin/initdb" ]; then
    say "PostgreSQL is not installed (apt-get install postgresql)"
    [ -n "${CI:-}" ] && exit 1
    exit 77  # skipped (ctest SKIP_RETURN_CODE)
  fi
  mkdir -p "$tmp/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres "$tmp/pg"
  pgdata=$tmp/pg/data
  as_pg "$pgbin/initdb" -D "$pgdata" -U keyward --auth=trust --encoding=UTF8 --locale=C \
    >"$tmp/pg/initdb.log" 2>&1 || { cat "$tmp/pg/initdb.log" >&2; exit 1; }
  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$tmp/pg/server.log" -w -t 30 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$tmp/pg \
       -c fsync=on -c synchronous_commit=on -c max_connections=100" >/dev/null 2>&1; then
      "$pgbin/psql" -X -q -d "postgresql://keyward@127.0.0.1:$port/postgres" -c "CREATE DATABASE soak"
      pg_url="postgresql://keyward@127.0.0.1:$port/soak"
      return
    fi
  done
  say "PostgreSQL did not start: $(tail -5 "$tmp/pg/server.log")"; exit 1
}

status=0
results=()
for s in "${stores[@]}"; do
  data=$tmp/$s-data
  db_args=() driver_args=()
  if [ "$s" = postgresql ]; then
    start_postgres
    db_args=(--db "$pg_url")
    driver_args=(--pg-url "$pg_url")
  fi
  "$keywardd" --data "$data" --listen 127.0.0.1:0 "${db_args[@]}" --trusted-proxies 127.0.0.1 \
    --min-kdf-ops 2 --min-kdf-mem 20971520 --log-level warn >"$tmp/$s.out" 2>"$tmp/$s.err" &
  server_pid=$!
  for _ in $(seq 150); do grep -q listening "$tmp/$s.out" 2>/dev/null && break; sleep 0.1; done
  url=$(head -1 "$tmp/$s.out" | awk '{print $NF}')
  [ -n "$url" ] || { say "keywardd ($s) did not start: $(cat "$tmp/$s.err")"; exit 1; }
  say "$s: keywardd $server_pid at $url; ${seconds} s at 80 % of capacity, windows of ${window} s"
  rc=0
  "$driver" --url "$url" --outbox "$data/outbox" --pid "$server_pid" --label "$s" \
    --seconds "$seconds" --window "$window" --json "$tmp/$s.json" "${driver_args[@]}" \
    >"$tmp/$s.verdict" || rc=$?
  cat "$tmp/$s.verdict" >&2
  if ! kill -0 "$server_pid" 2>/dev/null; then
    say "$s: keywardd died during the soak: $(tail -5 "$tmp/$s.err")"; rc=1
  else
    kill -TERM "$server_pid"
    code=0; wait "$server_pid" || code=$?
    [ "$code" = 0 ] || { say "$s: keywardd exited $code after SIGTERM"; rc=1; }
  fi
  server_pid=""
  if [ -s "$tmp/$s.err" ]; then
    say "$s: keywardd's log (warnings and errors), last lines:"; tail -5 "$tmp/$s.err" >&2
  fi
  [ -f "$tmp/$s.json" ] && results+=("$tmp/$s.json")
  [ "$rc" = 0 ] || status=1
  if [ -n "$pgdata" ]; then
    as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
    pgdata=""
  fi
done

[ ${#results[@]} -gt 0 ] || exit 1
/usr/bin/python3 - "$json" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "${results[@]}" <<'PY'
import json, sys
as_json, cores, load, files = sys.argv[1] == "1", sys.argv[2], sys.argv[3], sys.argv[4:]
runs = [json.load(open(f)) for f in files]
if as_json:
    print(json.dumps({"cores": int(cores), "load_average_end": load, "runs": runs}, indent=2))
    sys.exit(0)
mib = lambda k: f"{k / 1024:.1f}"
print(f"### Soak ({cores} cores, load average at the end {load})\n")
print("| store | capacity units/s | soak rate (80 %) | requests | recovery flows | p99 window 2 → last | RSS after warm-up → end | fds max (first → last) | DB connections (first → last) | 5xx | unexpected | acknowledged writes | lost | verdict |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in runs:
    w = r["windows"]
    conns = f'{w[0]["pg_connections_max"]} → {w[-1]["pg_connections_max"]}' if r["store"] == "postgresql" else "–"
    print(f'| {r["store"]} | {r["capacity_units_per_s"]:.0f} | {r["rate_units_per_s"]:.0f} | {r["requests"]} | '
          f'{r["recovery_flows_completed"]} | {w[1]["p99_ms"]:.2f} → {w[-1]["p99_ms"]:.2f} ms | '
          f'{mib(w[0]["rss_kib"])} → {mib(w[-1]["rss_kib"])} MiB | {w[0]["fds_max"]} → {w[-1]["fds_max"]} | '
          f'{conns} | {r["server_errors"]} | {r["unexpected_answers"]} | {r["acknowledged_writes"]} | '
          f'{r["lost_writes"]} | {"OK" if r["ok"] else "FAIL"} |')
for r in runs:
    print(f'\n{r["store"]}, per window of {r["window_s"]} s:\n')
    print("| end (s) | units/s | req/s | p50 ms | p99 ms | item_get p99 | item_create p99 | login p99 | RSS MiB | fds | DB conns | 5xx |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for x in r["windows"]:
        op = lambda n: f'{x["ops"][n]["p99_ms"]:.2f}' if n in x["ops"] else "–"
        c = x["pg_connections_max"] if r["store"] == "postgresql" else "–"
        print(f'| {x["end_s"]} | {x["units"] / x["length_s"]:.0f} | {x["requests"] / x["length_s"]:.0f} | '
              f'{x["p50_ms"]:.2f} | {x["p99_ms"]:.2f} | {op("item_get")} | {op("item_create")} | {op("login")} | '
              f'{mib(x["rss_kib"])} | {x["fds_max"]} | {c} | {x["server_errors"]} |')
    for v in r["violations"]:
        print(f'\n**FAIL**: {v}')
PY
exit $status
