#!/usr/bin/env bash
# Newcomer command 2: install what is missing, build, and run every test
# (labels: unit, e2e, pg, web, slow). `ctest --test-dir build -L unit` is the quick loop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
scripts/check-format.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 300
