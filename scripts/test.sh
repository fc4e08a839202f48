#!/usr/bin/env bash
# The whole test suite, as CI runs it: the runtime package's tests, the tool package's tests (weaving real packages,
# attach, the flight recorder end to end), one third-party package from the mirror woven with a catch-all aspect
# and its own suite run plain and woven (Benchmarks/PeerCorpus/README.md), then a short coverage-guided fuzzing run
# of every parser (Fuzz/README.md). First, the committed BPF object must be the one its source compiles to, and the
# Swift sources must be as swift-format formats them (scripts/format.sh).
#
# Time on 2 cores is spent in builds, so: both packages share one build folder (the tool uses the runtime by path
# and SwiftPM reuses what compiles the same way), and while the tool's suite runs — much of it servers, load and
# waiting — the peer package and the fuzz targets build at the lowest CPU priority beside it, taking only what
# the suite leaves idle. Their results are printed, and count, after the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-bpf.sh --check
scripts/format.sh --check
started=$SECONDS
scratch=Tool/.build
swift test --scratch-path "$scratch" 2>&1 | tee /tmp/autotrace-test-runtime.log | grep -vE '^(◇|↳)'
swift build --package-path Tool --build-tests
echo "test.sh: runtime tested and tool built in $((SECONDS - started)) s"

background=/tmp/autotrace-test-background
mkdir -p "$background"
# A starved weave must not be mistaken for a hanging one.
AUTOTRACE_WEAVE_TIMEOUT=3600 nice -n 19 Benchmarks/peer-corpus.sh --autotrace Tool/.build/debug/autotrace \
    --work /tmp/autotrace-peer-ci --check Ink >"$background/peer.log" 2>&1 &
peer=$!
nice -n 19 scripts/fuzz.sh --build-only >"$background/fuzz-build.log" 2>&1 &
fuzz_build=$!

suite=0
swift test --package-path Tool --skip-build 2>&1 | tee /tmp/autotrace-test-tool.log | grep -vE '^(◇|↳)' || suite=$?
echo "test.sh: tool suite done at $((SECONDS - started)) s"

peer_status=0
wait $peer || peer_status=$?
cat "$background/peer.log"
fuzz_status=0
wait $fuzz_build || fuzz_status=$?
cat "$background/fuzz-build.log"
echo "test.sh: peer corpus and fuzz build done at $((SECONDS - started)) s"
(( suite == 0 && peer_status == 0 && fuzz_status == 0 )) || exit 1
scripts/fuzz.sh --no-build --time "${FUZZ_SECONDS:-15}"
echo "test.sh: everything passed in $((SECONDS - started)) s"
