#!/usr/bin/env bash
# The whole test suite, as CI runs it: the runtime package's tests, the tool package's tests (weaving real packages,
# attach, the flight recorder end to end), one third-party package from the mirror woven with a catch-all aspect
# and its own suite run plain and woven (Benchmarks/PeerCorpus/README.md), then a short coverage-guided fuzzing run
# of every parser (Fuzz/README.md). First, the committed BPF object must be the one its source compiles to.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-bpf.sh --check
swift test 2>&1 | tee /tmp/autotrace-test-runtime.log | grep -vE '^(◇|↳)'
swift test --package-path Tool 2>&1 | tee /tmp/autotrace-test-tool.log | grep -vE '^(◇|↳)'
Benchmarks/peer-corpus.sh --autotrace Tool/.build/debug/autotrace --work /tmp/autotrace-peer-ci --check Ink
scripts/fuzz.sh --time "${FUZZ_SECONDS:-15}"
