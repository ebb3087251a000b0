#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (ctest fixture "pg_cluster").
#
#   scripts/pg-test-cluster.sh start DIR   initdb in a fresh temporary
#       directory, start it on 127.0.0.1 at a free port (and a Unix socket in
#       that directory), write the admin URL to DIR/url
#   scripts/pg-test-cluster.sh stop DIR    stop it and remove everything
#
# Tests read DIR/url (KEYWARD_TEST_PG_URL_FILE) and create one database each.
# The cluster trusts local connections and runs without fsync: it holds test
# data only. Without PostgreSQL installed, `start` writes no URL and exits 0
# so the pg tests skip, unless CI is set (then the pg tests must run).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

stop_cluster() {
  [ -f "$dir/pgdata-path" ] || { rm -rf "$dir"; return 0; }
  local data
  data=$(cat "$dir/pgdata-path")
  if [ -f "$data/postmaster.pid" ]; then
    as_owner "$(cat "$dir/bin")/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$(dirname "$data")" "$dir"
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  stop)
    stop_cluster
    ;;
  start)
    stop_cluster
    mkdir -p "$dir"
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
      if [ -n "${CI:-}" ]; then
        echo "pg-test-cluster: PostgreSQL is not installed (apt-get install postgresql)" >&2
        exit 1
      fi
      echo "pg-test-cluster: PostgreSQL is not installed; the pg tests will skip" >&2
      exit 0
    fi
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
      echo "pg-test-cluster: running as root needs the postgres user (initdb refuses root)" >&2
      exit 1
    fi
    echo "$bindir" >"$dir/bin"
    root=$(mktemp -d /tmp/keyward-pg.XXXXXX)
    chmod 755 "$root"
    [ "$(id -u)" -eq 0 ] && chown postgres "$root"
    data="$root/data"
    echo "$data" >"$dir/pgdata-path"
    as_owner "$bindir/initdb" -D "$data" -U keyward --auth=trust --encoding=UTF8 --locale=C \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # A free loopback port, retried in case another process takes it first.
    for attempt in 1 2 3 4 5; do
      port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      if as_owner "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w -t 30 start -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c max_connections=300 -c shared_buffers=64MB" >/dev/null 2>&1; then
        echo "postgresql://keyward@127.0.0.1:$port/postgres" >"$dir/url"
        echo "pg-test-cluster: started on 127.0.0.1:$port ($data)"
        exit 0
      fi
      echo "pg-test-cluster: start on port $port failed (attempt $attempt)" >&2
      tail -5 "$root/server.log" >&2 || true
    done
    exit 1
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
