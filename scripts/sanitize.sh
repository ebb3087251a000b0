#!/usr/bin/env bash
# The tests under sanitizers (docs/fuzzing.md "Sanitizers"), with Debian 12's
# clang-16:
#   build-asan  ASan + UBSan (-fno-sanitize-recover=all, leaks detected):
#               every test labelled unit, then every test labelled e2e
#               (pg and web tests are not run here). Configured with
#               KEYWARD_FUZZ=ON, so scripts/fuzz.sh reuses this build.
#   build-tsan  TSan: only the tests that run threads (TSAN_TESTS below).
# Fails on any sanitizer report, in a test or in a process it started
# (keywardd, keyward): the runtimes write reports to DIR/sanitizer-logs/,
# which must stay empty. Suppressions for third-party code, each explained,
# are in scripts/sanitizers/.
#
#   scripts/sanitize.sh [--asan-only | --tsan-only]
set -euo pipefail
cd "$(dirname "$0")/.."

run_asan=true
run_tsan=true
case "${1:-}" in
  --asan-only) run_tsan=false ;;
  --tsan-only) run_asan=false ;;
  "") ;;
  *) echo "usage: scripts/sanitize.sh [--asan-only | --tsan-only]" >&2; exit 2 ;;
esac

# shellcheck source=scripts/sanitizer-env.sh
. scripts/sanitizer-env.sh
scripts/install-deps.sh "${KEYWARD_CLANG_PACKAGES[@]}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
jobs=$(nproc)

# The test binaries with threads of their own, and the concurrency tests
# inside them: the HTTP server (handler pool, shutdown), the mail queue
# (two nodes delivering) and the outbox mailer, the SQLite store's contract
# suite (concurrent writers), recovery request races (two approvals at once)
# and server identity (several nodes).
TSAN_TESTS=(keyward_http_server_test mail_queue_test outbox_mailer_test
  store_sqlite_test recovery_requests_test core_test)

# report_logs DIR: prints the sanitizer reports in DIR and fails if any.
report_logs() {
  local logs
  logs=$(find "$1" -type f 2>/dev/null || true)
  if [ -n "$logs" ]; then
    echo "sanitize.sh: sanitizer reports:" >&2
    for f in $logs; do
      echo "---- $f" >&2
      head -60 "$f" >&2
    done
    return 1
  fi
}

seconds() { date +%s; }

if $run_asan; then
  start=$(seconds)
  # keywardd embeds web/dist; reuse the pages scripts/build.sh built.
  [ -f web/dist/index.html ] || scripts/build-web.sh
  keyward_configure build-asan -DKEYWARD_FUZZ=ON
  nice cmake --build build-asan -j"$jobs"
  echo "sanitize.sh: build-asan built in $(($(seconds) - start)) s"
  logs="$PWD/build-asan/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:log_path=$logs/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
  export LSAN_OPTIONS="suppressions=$SANITIZER_SUPPRESSIONS/lsan.supp"
  # Not here: the model checks (spin, none of Keyward's code) and the soak
  # (it measures the Release server's capacity and memory, which ASan's
  # shadow memory and quarantine change by design).
  for label in unit e2e; do
    start=$(seconds)
    status=0
    ctest --test-dir build-asan -L "^$label\$" -E '^(model_|soak/)' --output-on-failure \
      -j"$jobs" --timeout 900 || status=$?
    echo "sanitize.sh: ASan+UBSan ctest -L $label: $(($(seconds) - start)) s"
    report_logs "$logs" || status=1
    [ $status -eq 0 ] || exit $status
  done
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
fi

if $run_tsan; then
  start=$(seconds)
  keyward_configure build-tsan -DKEYWARD_SANITIZE=thread
  nice cmake --build build-tsan -j"$jobs" --target "${TSAN_TESTS[@]}" store_pg_test
  echo "sanitize.sh: build-tsan built in $(($(seconds) - start)) s"
  logs="$PWD/build-tsan/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan:suppressions=$SANITIZER_SUPPRESSIONS/tsan.supp"
  status=0
  for t in "${TSAN_TESTS[@]}"; do
    start=$(seconds)
    if ! (cd build-tsan && "bin/$t" --gtest_brief=1 >"$t.log" 2>&1); then
      echo "sanitize.sh: TSan $t FAILED (build-tsan/$t.log)" >&2
      tail -30 "build-tsan/$t.log" >&2
      status=1
    fi
    echo "sanitize.sh: TSan $t: $(($(seconds) - start)) s"
  done
  # The PostgreSQL store's contract suite too (concurrent writers, the
  # sweeper's advisory lock), on a throwaway cluster; without PostgreSQL
  # installed the cluster script writes no URL and this is skipped (not in CI).
  cluster="$PWD/build-tsan/pg-cluster"
  scripts/pg-test-cluster.sh start "$cluster" >/dev/null
  if [ -f "$cluster/url" ]; then
    start=$(seconds)
    if ! (cd build-tsan && KEYWARD_TEST_PG_URL_FILE="$cluster/url" bin/store_pg_test \
        --gtest_brief=1 >store_pg_test.log 2>&1); then
      echo "sanitize.sh: TSan store_pg_test FAILED (build-tsan/store_pg_test.log)" >&2
      tail -30 build-tsan/store_pg_test.log >&2
      status=1
    fi
    echo "sanitize.sh: TSan store_pg_test: $(($(seconds) - start)) s"
  else
    echo "sanitize.sh: PostgreSQL is not installed; TSan store_pg_test skipped"
  fi
  scripts/pg-test-cluster.sh stop "$cluster" >/dev/null
  report_logs "$logs" || status=1
  [ $status -eq 0 ] || exit $status
fi
echo "sanitize.sh: no sanitizer reports"
