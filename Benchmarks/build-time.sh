#!/usr/bin/env bash
# Build-time figures of the weaving issue, from one run on Examples/HelloServer:
#   - a clean woven build (`autotrace build`) against a clean plain build (`swift build`): target ≤ 1.15x;
#   - after editing one source file, what each incremental rebuild recompiles (woven should equal plain);
#   - weaving speed in lines per second (every function of the corpus selected).
# Two clean builds of Hummingbird, AsyncHTTPClient and NIO: about 15 minutes on 2 cores.
# Usage: Benchmarks/build-time.sh [path to the autotrace binary; default: a debug build of this checkout]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
autotrace=${1:-}
if [ -z "$autotrace" ]; then
    swift build --package-path "$repo/Tool" --product autotrace >/dev/null
    autotrace="$repo/Tool/.build/debug/autotrace"
fi
package="$repo/Examples/HelloServer"
cd "$package"
plain=.build-bench-plain
touched=Sources/HelloServer/Services.swift

seconds() { local start=$(date +%s.%N); "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }; echo "$(date +%s.%N) - $start" | bc; }
compiled() { { grep -oE 'Compiling [A-Za-z0-9_]+ [^ ]+\.swift' "$log" || true; } | sort -u | tr '\n' ' '; }
log=$(mktemp)

# Resolve once, so neither timed build includes fetching packages.
swift package resolve >/dev/null
echo "clean plain build of HelloServer (swift build)…"
rm -rf "$plain"
plain_clean=$(seconds swift build --product HelloServer --scratch-path "$plain")
echo "clean woven build of HelloServer (autotrace build)…"
rm -rf .build-autotrace
woven_clean=$(seconds "$autotrace" build --product HelloServer)

# SwiftPM recompiles SwiftProtobuf once on the first build after a clean one, woven or not: settle both first.
swift build --product HelloServer --scratch-path "$plain" >/dev/null 2>&1
"$autotrace" build --product HelloServer >/dev/null 2>&1
# A real edit (a touch alone recompiles nothing woven: the woven file's content did not change).
original=$(mktemp)
cp "$touched" "$original"
trap 'cp "$original" "$touched"; rm -f "$original"' EXIT
echo "// edited by build-time.sh" >>"$touched"
plain_incremental=$(seconds swift build --product HelloServer --scratch-path "$plain")
plain_files=$(compiled)
woven_incremental=$(seconds "$autotrace" build --product HelloServer)
woven_files=$(compiled)

speed=$("$autotrace" weave-speed "$package/.build-autotrace/checkouts/hummingbird/Sources" "$repo/Sources" "$repo/Tool/Sources")

printf '\n%-44s %10s %10s %8s\n' "HelloServer" "plain s" "woven s" "ratio"
printf '%-44s %10.1f %10.1f %7.2fx   (target <= 1.15x)\n' "clean build" "$plain_clean" "$woven_clean" "$(echo "$woven_clean / $plain_clean" | bc -l)"
printf '%-44s %10.1f %10.1f %7.2fx\n' "incremental build after editing one file" "$plain_incremental" "$woven_incremental" "$(echo "$woven_incremental / $plain_incremental" | bc -l)"
echo "recompiled, plain: ${plain_files:-nothing}"
echo "recompiled, woven: ${woven_files:-nothing}"
[ "$plain_files" = "$woven_files" ] && echo "incremental: the woven build recompiled exactly what the plain one did" \
    || echo "incremental: the woven build recompiled something else than the plain one"
echo "$speed  ($autotrace)"
rm -rf "$plain" "$log"
