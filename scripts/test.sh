#!/usr/bin/env bash
# Newcomer command 2: install what is missing, build, and run every test
# (labels: unit, e2e, pg, web, slow), then the sanitizer and fuzz stages.
# `ctest --test-dir build -L unit` is the quick loop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
scripts/check-format.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 300
# The unit and e2e suites again under ASan + UBSan, and the tests that run
# threads under TSan (clang-16, -O0; docs/fuzzing.md "Sanitizers").
scripts/sanitize.sh
# The fuzz targets (the same ASan + UBSan build): every committed input
# replayed, then 30 s of fuzzing each (docs/fuzzing.md).
scripts/fuzz.sh --ci
