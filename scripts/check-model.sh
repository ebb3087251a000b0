#!/usr/bin/env bash
# Model-checks the recovery request state machine (model/requests.pml,
# docs/model.md) with spin, exhaustively for small parameters, and fails on
# any error. Usage:
#
#   scripts/check-model.sh [all|safety|ltl|seeded|witnesses]
#
#   safety     the model as it is, the safety run (assertions, invalid end
#              states), for N=3 admins, quorum Q=2, R=2 requests one after
#              the other; then admin 0 from two sessions at once (TABS),
#              Q=3, R=1
#   ltl        each LTL claim (pan -a -N claim), for the same two
#   seeded     each seeded bug below must be caught twice: by the
#              assertions, and by its LTL claim alone (-DLTL_ONLY).
#   witnesses  each situation the properties are about must be reachable
#              (-DWITNESS=k makes it an assertion failure that spin must
#              find), so that no property holds merely because nothing
#              happens.
#   all        the four (the default).
#
# Seeded bugs (-D flags of the model):
#   BUG_NO_CAS              Tx::UpdateRequest without its compare-and-set
#                           -> one_outcome
#   BUG_APPROVE_ANY_STATUS  Approve inserts its approval before asking the
#                           state machine -> no_late_approval
#   BUG_COUNT_INELIGIBLE    the quorum counts a demoted admin's approval
#                           -> used_needs_quorum
#   BUG_DEVICE_NO_EXPIRY    a device completes without ExpireIfOverdue
#                           -> expired_never_used
#   BUG_NO_UNIQUE_APPROVAL  recovery_approvals without its primary key, with
#                           one admin in two sessions (TABS, Q=3, R=1)
#                           -> used_needs_quorum
#
# Without spin ($SPIN, default spin): exit 77 (ctest's SKIP_RETURN_CODE), or
# failure when CI=true. $CC compiles the verifiers (default gcc).
# MODEL_WORK_DIR keeps the generated verifiers (default: a temporary dir).
set -euo pipefail

mode=${1:-all}
case "$mode" in all | safety | ltl | seeded | witnesses) ;; *)
  echo "usage: $0 [all|safety|ltl|seeded|witnesses]" >&2
  exit 2
  ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
model="$root/model/requests.pml"

spin=${SPIN:-spin}
if ! command -v "$spin" >/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    echo "check-model: spin is missing (scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
  echo "check-model: spin is missing: skipped (apt-get install spin)" >&2
  exit 77
fi
cc=${CC:-gcc}

work=${MODEL_WORK_DIR:-}
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

failed=0
fail() {
  echo "check-model: FAIL: $*" >&2
  failed=1
}

# build NAME OPT CFLAGS -- SPIN_FLAGS...: a verifier in $work/NAME/pan.
build() {
  local name=$1 opt=$2 cflags=$3
  shift 4
  local dir="$work/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && "$spin" "$@" -a "$model" >spin.log 2>&1) || {
    cat "$dir/spin.log" >&2
    return 1
  }
  # shellcheck disable=SC2086
  (cd "$dir" && "$cc" "$opt" $cflags -w -o pan pan.c)
}

# run NAME LOG ARGS...: runs $work/NAME/pan; prints its errors count.
run() {
  local name=$1 log=$2
  shift 2
  (cd "$work/$name" && ./pan -m200000 "$@" >"$log" 2>&1) || true
  if grep -qE "max search depth too small|out of memory|aborted" "$work/$name/$log"; then
    echo "incomplete"
    return
  fi
  sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/$name/$log" | tail -1
}

stats() {  # the state counts of a run, for the record
  local f=$1
  printf '%s states stored, %s transitions, depth %s, %s s\n' \
    "$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$f")" \
    "$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' "$f")" \
    "$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$f")" \
    "$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$f")"
}

claims=(one_outcome used_needs_quorum expired_never_used no_late_approval one_open_request)

# expect_pass NAME TITLE LOG ARGS...
expect_pass() {
  local name=$1 title=$2 log=$3
  shift 3
  local errors
  errors=$(run "$name" "$log" "$@")
  if [ "$errors" = "0" ]; then
    printf '  ok    %-34s %s' "$title" "$(stats "$work/$name/$log")"
    echo
  else
    fail "$title: errors=$errors (see below)"
    grep -E "violated|error|invalid|depth too small|memory" "$work/$name/$log" | head -5 >&2
  fi
}

main_title="N=3 admins, quorum 2, 2 requests in sequence (${model#"$root"/})"
tabs_title="admin 0 in two sessions at once, quorum 3, 1 request"

safety() {
  echo "model check: $main_title"
  build main -O2 "-DSAFETY -DNOCLAIM" --
  expect_pass main "safety (assertions, end states)" safety.log
  echo "model check: $tabs_title"
  build tabs -O2 "-DSAFETY -DNOCLAIM" -- -DTABS -DQ=3 -DR=1
  expect_pass tabs "safety (assertions, end states)" safety.log
}

ltl() {
  echo "model check: $main_title"
  build main-ltl -O2 "" --
  for claim in "${claims[@]}"; do
    expect_pass main-ltl "ltl $claim" "$claim.log" -a -N "$claim"
  done
  echo "model check: $tabs_title"
  build tabs-ltl -O2 "" -- -DTABS -DQ=3 -DR=1
  for claim in "${claims[@]}"; do
    expect_pass tabs-ltl "ltl $claim" "$claim.log" -a -N "$claim"
  done
}

# expect_caught BUG CLAIM SPIN_FLAGS... (CLAIM "-": an assertion-only property)
expect_caught() {
  local bug=$1 claim=$2
  shift 2
  local errors
  build "$bug" -O0 "-DSAFETY -DNOCLAIM" -- "-D$bug" "$@"
  errors=$(run "$bug" safety.log)
  if [ "$errors" != "0" ] && [ "$errors" != "incomplete" ] && [ -n "$errors" ]; then
    printf '  caught %-24s by an assertion: %s\n' "$bug" \
      "$(grep -m1 -o 'assertion violated.*' "$work/$bug/safety.log" | cut -c1-70)"
  else
    fail "$bug: the assertions did not catch it (errors=$errors)"
  fi
  [ "$claim" = "-" ] && return
  build "$bug-ltl" -O1 "" -- "-D$bug" -DLTL_ONLY "$@"
  errors=$(run "$bug-ltl" "$claim.log" -a -N "$claim")
  if [ "$errors" != "0" ] && [ "$errors" != "incomplete" ] && [ -n "$errors" ]; then
    printf '  caught %-24s by ltl %s alone\n' "$bug" "$claim"
  else
    fail "$bug: ltl $claim did not catch it (errors=$errors)"
  fi
}

seeded() {
  echo "seeded bugs: each must be caught"
  expect_caught BUG_NO_CAS one_outcome
  expect_caught BUG_APPROVE_ANY_STATUS no_late_approval
  expect_caught BUG_COUNT_INELIGIBLE used_needs_quorum
  expect_caught BUG_DEVICE_NO_EXPIRY expired_never_used
  expect_caught BUG_NO_UNIQUE_APPROVAL used_needs_quorum -DTABS -DQ=3 -DR=1
  expect_caught BUG_TICKET_OUTLIVES_LINK -
}

witnesses() {
  echo "witnesses: each situation must be reachable"
  local names
  names=$(sed -n 's/^#define \(W_[A-Z_]*\) *\([0-9]*\).*/\2 \1/p' "$model")
  while read -r k name; do
    build "witness-$k" -O0 "-DSAFETY -DNOCLAIM" -- "-DWITNESS=$k"
    run "witness-$k" safety.log -E >/dev/null
    if grep -q "assertion violated ($k!=$k)" "$work/witness-$k/safety.log"; then
      printf '  reached %-22s at depth %s\n' "$name" \
        "$(sed -n 's/.*assertion violated.*(at depth \([0-9]*\)).*/\1/p' "$work/witness-$k/safety.log")"
    else
      fail "$name ($k) was not reached"
      grep -E "violated|errors" "$work/witness-$k/safety.log" | head -3 >&2
    fi
  done <<<"$names"
}

start=$SECONDS
case "$mode" in
  safety) safety ;;
  ltl) ltl ;;
  seeded) seeded ;;
  witnesses) witnesses ;;
  all)
    safety
    ltl
    seeded
    witnesses
    ;;
esac
echo "check-model: $mode took $((SECONDS - start)) s"
if [ $failed -ne 0 ]; then
  echo "check-model: FAILED" >&2
  exit 1
fi
echo "check-model: OK"
