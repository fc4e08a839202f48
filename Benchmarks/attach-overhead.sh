#!/usr/bin/env bash
# `autotrace attach` overhead on Examples/HelloServer, attached vs dormant, scenarios interleaved over rounds:
#   - fixed rate (default 10k req/s on /health, our load generator, latency from the scheduled send): p99 ratio,
#     target <= 1.05x;
#   - saturated (wrk -t1 -c32 on /health): throughput ratio, target >= 0.85x;
#   - completeness: /hello/{name} requests (7 spans each) while attached, spans assembled / spans expected.
# Needs root and bpftrace. Usage: sudo Benchmarks/attach-overhead.sh [debug|release]
# Environment: ROUNDS (3), SECONDS_PER_RUN (10), RATE (10000), AUTOTRACE (default: a build of this checkout).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-release}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-10}
rate=${RATE:-10000}
[ "$(id -u)" = 0 ] || { echo "attach needs root: sudo $0"; exit 1; }
command -v bpftrace >/dev/null || { echo "bpftrace is missing: apt-get install bpftrace"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }

autotrace=${AUTOTRACE:-}
if [ -z "$autotrace" ]; then
    echo "building autotrace ($config)…"
    swift build --package-path "$repo" -c "$config" --product autotrace >/dev/null
    autotrace="$repo/.build/$config/autotrace"
fi
echo "building HelloServer woven ($config)…"
(cd "$repo/Examples/HelloServer" && "$autotrace" build -c "$config" --product HelloServer >/dev/null)
server="$repo/Examples/HelloServer/.build-autotrace/$config/HelloServer"

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG_LEVEL=error "$server" --port "$port" >/dev/null 2>&1 &
server_pid=$!
collector=
cleanup() { [ -n "$collector" ] && kill "$collector" 2>/dev/null; kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done

attach() {
    "$autotrace" attach --pid "$server_pid" --output /dev/null 2>"$work/attach.log" &
    collector=$!
    for _ in $(seq 300); do grep -q "attached" "$work/attach.log" && return; sleep 0.1; done
    echo "attach did not start:"; cat "$work/attach.log"; exit 1
}
detach() { kill -INT "$collector"; wait "$collector" || true; collector=; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

declare -A p99 throughput
for scenario in dormant attached; do p99[$scenario]=""; throughput[$scenario]=""; done
"$autotrace" load --port "$port" --duration 3 --connections 8 >/dev/null   # warm-up
for round in $(seq "$rounds"); do
    for scenario in dormant attached; do
        echo "round $round/$rounds, $scenario…"
        [ "$scenario" = attached ] && attach
        fixed=$("$autotrace" load --port "$port" --rate "$rate" --connections 16 --duration "$seconds" --json)
        saturated=$(wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:$port/health" | awk '/Requests\/sec/ {print $2}')
        [ "$scenario" = attached ] && detach
        p99[$scenario]+="$(echo "$fixed" | field p99_us) "
        throughput[$scenario]+="$saturated "
    done
done

# Completeness: every span of /hello requests sent while attached reaches the exporter, or is counted.
attach
hello=$("$autotrace" load --port "$port" --path /hello/bench --rate 200 --connections 4 --duration 5 --json)
sleep 1
detach
requests=$(echo "$hello" | field requests)
assembled=$(awk '/spans assembled/ {print $3}' "$work/attach.log")
lost=$(awk '/lost in kernel buffers/ {print $5}' "$work/attach.log")

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
d99=$(echo "${p99[dormant]}" | median); a99=$(echo "${p99[attached]}" | median)
dtp=$(echo "${throughput[dormant]}" | median); atp=$(echo "${throughput[attached]}" | median)
printf '\nHelloServer (%s), %d rounds of %d s, medians\n' "$config" "$rounds" "$seconds"
printf '%-40s %12s %12s %8s\n' "" dormant attached ratio
printf '%-40s %12.0f %12.0f %7.2fx  (target <= 1.05x)\n' "p99 latency at $rate req/s, µs" "$d99" "$a99" "$(echo "$a99 / $d99" | bc -l)"
printf '%-40s %12.0f %12.0f %7.2fx  (target >= 0.85x)\n' "saturated throughput, req/s" "$dtp" "$atp" "$(echo "$atp / $dtp" | bc -l)"
printf 'completeness: %d /hello requests x 7 spans = %d expected, %d assembled (%.1f%%), %d lost in kernel buffers\n' \
    "$requests" "$((requests * 7))" "$assembled" "$(echo "100 * $assembled / ($requests * 7)" | bc -l)" "$lost"
echo "per-round p99 µs: dormant ${p99[dormant]}| attached ${p99[attached]}"
echo "per-round req/s:  dormant ${throughput[dormant]}| attached ${throughput[attached]}"
