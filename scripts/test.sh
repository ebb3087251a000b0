#!/usr/bin/env bash
# Newcomer command 2: install what is missing, build, and run every test
# (labels: unit, e2e, pg, web, slow). `ctest --test-dir build -L unit` is the quick loop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
scripts/check-format.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 300
# The fuzz targets (clang-16, ASan + UBSan): every committed input replayed,
# then 30 s of fuzzing each (docs/fuzzing.md).
scripts/fuzz.sh --ci
