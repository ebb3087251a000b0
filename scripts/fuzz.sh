#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang-16, ASan + UBSan), replays every
# committed input (fuzz/corpus/<target>/ and fuzz/regressions/<target>/), then
# fuzzes each target for a bounded time. Fails on any crash, leak, UB report
# or timeout. docs/fuzzing.md.
#
#   scripts/fuzz.sh                      replay, then 30 s per target
#   scripts/fuzz.sh --ci                 the same, as CI runs it
#   scripts/fuzz.sh --replay-only        replay only
#   scripts/fuzz.sh --seconds 3600 --jobs 2 [TARGET...]   a longer run
#
# The build directory is build-asan, shared with scripts/sanitize.sh (one
# ASan build serves the unit tests and the fuzzers); --build-dir DIR for
# another. New inputs found while fuzzing go to DIR/fuzz-work/<target>/corpus
# (not committed); a crash's input to DIR/fuzz-work/<target>/, with the
# command to reproduce it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
jobs=1
replay_only=false
build_dir=build-asan
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --replay-only) replay_only=true; shift ;;
    --ci) seconds=30; jobs=1; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

# shellcheck source=scripts/sanitizer-env.sh
. scripts/sanitizer-env.sh
scripts/install-deps.sh "${KEYWARD_CLANG_PACKAGES[@]}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"

all_targets=$(sed -n 's/^keyward_fuzzer(\([a-z_]*\).*/\1/p' fuzz/CMakeLists.txt)
[ ${#targets[@]} -eq 0 ] && read -r -a targets <<<"$(echo $all_targets)"

keyward_configure "$build_dir" -DKEYWARD_FUZZ=ON
nice cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}"

# Reports go to stderr, where libFuzzer looks for them; leaks count.
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$SANITIZER_SUPPRESSIONS/lsan.supp:${LSAN_OPTIONS:-}"

failed=()
for t in "${targets[@]}"; do
  bin="$build_dir/bin/$t"
  work="$build_dir/fuzz-work/$t"
  mkdir -p "$work/corpus"
  inputs=()
  for d in "fuzz/corpus/$t" "fuzz/regressions/$t"; do
    [ -d "$d" ] && inputs+=("$d")
  done
  start=$(date +%s)
  # -runs=0: every committed input once, nothing new.
  if ! "$bin" -runs=0 "${inputs[@]}" >"$work/replay.log" 2>&1; then
    echo "fuzz.sh: $t: a committed input fails (log: $work/replay.log):" >&2
    grep -E 'ERROR|SUMMARY|Running:|runtime error|fuzz property' "$work/replay.log" | head -20 >&2
    failed+=("$t")
    continue
  fi
  echo "fuzz.sh: $t: replayed ${inputs[*]} in $(($(date +%s) - start)) s"
  $replay_only && continue
  start=$(date +%s)
  fork=()
  [ "$jobs" -gt 1 ] && fork=(-fork="$jobs")
  # The first directory receives what the run finds; the committed seeds are read too.
  if ! "$bin" "${fork[@]}" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 \
      -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "${inputs[@]}" \
      >"$work/fuzz.log" 2>&1; then
    echo "fuzz.sh: $t: FAILED after $(($(date +%s) - start)) s (log: $work/fuzz.log)" >&2
    grep -E 'ERROR|SUMMARY|runtime error|fuzz property|Test unit written' "$work/fuzz.log" |
      head -20 >&2
    echo "  reproduce: $bin <input>; keep it as fuzz/regressions/$t/<name> (docs/fuzzing.md)" >&2
    failed+=("$t")
    continue
  fi
  stats=$(grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work/fuzz.log" | tail -1)
  echo "fuzz.sh: $t: fuzzed $(($(date +%s) - start)) s, clean ($stats)"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all targets clean"
