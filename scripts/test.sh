#!/usr/bin/env bash
# The whole test suite, as CI runs it: the runtime package's tests, the tool package's tests (weaving real packages,
# attach, the flight recorder end to end), then a short coverage-guided fuzzing run of every parser (Fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
swift test 2>&1 | tee /tmp/autotrace-test-runtime.log | grep -vE '^(◇|↳)'
swift test --package-path Tool 2>&1 | tee /tmp/autotrace-test-tool.log | grep -vE '^(◇|↳)'
scripts/fuzz.sh --time "${FUZZ_SECONDS:-15}"
