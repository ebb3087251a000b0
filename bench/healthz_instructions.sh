#!/usr/bin/env bash
# Instructions per keep-alive `GET /healthz`, counted by callgrind: each
# keywardd given runs twice (1 request, then N+1), and the difference is
# divided by N. Unlike requests/s, the count does not move with the load
# of the machine, so two builds compare on one line each.
#   bench/healthz_instructions.sh OLD/keywardd NEW/keywardd   (N=3000 by default)
set -euo pipefail
N=${N:-3000}
PORT=${PORT:-18190}
command -v valgrind >/dev/null || { echo "healthz_instructions: valgrind is needed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

count() { # keywardd requests → total instructions of the run
  rm -rf "$work/data"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$1" --data "$work/data" \
    --listen "127.0.0.1:$PORT" --min-kdf-ops 2 --min-kdf-mem 20971520 --log-level warn \
    >/dev/null 2>"$work/vg.log" &
  local pid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.3; done
  python3 - "$PORT" "$2" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    c.request("GET", "/healthz")
    c.getresponse().read()
PY
  kill -INT "$pid"
  wait "$pid" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$work/cg.out"
}

for bin in "$@"; do
  base=$(count "$bin" 1)
  full=$(count "$bin" $((N + 1)))
  echo "$bin instructions/request = $(((full - base) / N))"
done
