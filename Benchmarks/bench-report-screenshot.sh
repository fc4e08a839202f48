#!/usr/bin/env bash
# A PNG of an `autotrace bench` HTML report as headless Chromium draws it, to check by eye that no chart label is
# cut off and that the target lines show.
# Usage: Benchmarks/bench-report-screenshot.sh [--install] <bench.html | bench.json> [out.png]
#   bench.json: its bench.html is written first with `autotrace bench --html-from` (AUTOTRACE, default: this
#   checkout's debug build), next to the PNG.
#   out.png defaults to the input's name with .png. --install: apt-get install chromium-headless-shell if missing.
# A sample report: AUTOTRACE_BENCH_SAMPLE=/tmp/bench-sample swift test --package-path Tool --filter benchReportHTML
# leaves /tmp/bench-sample/bench.html (and bench.json).
# Environment: WIDTH (1400), HEIGHT (2200): the browser window, in CSS pixels.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
install=false
if [ "${1:-}" = "--install" ]; then install=true; shift; fi
[ $# -ge 1 ] || { sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
input=$1
output=${2:-${input%.*}.png}
[ -f "$input" ] || { echo "no such file: $input"; exit 1; }

browser=$(command -v chromium-headless-shell || command -v chromium || true)
if [ -z "$browser" ]; then
    if ! $install; then
        echo "no headless Chromium: apt-get install -y chromium-headless-shell (or rerun with --install)"
        exit 1
    fi
    apt-get install -y chromium-headless-shell
    browser=$(command -v chromium-headless-shell)
fi

html=$input
if [[ $input == *.json ]]; then
    autotrace=${AUTOTRACE:-$repo/Tool/.build/debug/autotrace}
    [ -x "$autotrace" ] || { echo "no autotrace at $autotrace: swift build --package-path Tool, or set AUTOTRACE"; exit 1; }
    folder=$(dirname "$output")
    "$autotrace" bench --html-from "$input" --output "$folder"
    html=$folder/bench.html
fi

# chromium-headless-shell is headless already; the full chromium needs --headless. Both refuse to run as root
# without --no-sandbox.
flags=(--no-sandbox --disable-gpu --hide-scrollbars --window-size="${WIDTH:-1400},${HEIGHT:-2200}")
[[ $(basename "$browser") == chromium-headless-shell ]] || flags+=(--headless)
"$browser" "${flags[@]}" --screenshot="$(realpath -m "$output")" "file://$(realpath "$html")" 2>/dev/null
[ -s "$output" ] || { echo "$browser wrote no screenshot"; exit 1; }
echo "wrote $output"
