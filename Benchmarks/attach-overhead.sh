#!/usr/bin/env bash
# `autotrace attach` overhead on Examples/HelloServer, attached vs dormant, scenarios interleaved over rounds:
#   - fixed rate (default 10k req/s on /health, one span each, our load generator, latency from the scheduled
#     send): p99 ratio, target <= 1.10x; the collector's own CPU while attached, target <= 5% of one core;
#   - saturated (wrk -t1 -c32 on /health): throughput ratio, target >= 0.90x;
#   - completeness: /hello/{name} requests (7 spans each) while attached, spans assembled / spans expected.
# Needs root and libbpf (no bpftrace). Usage: sudo Benchmarks/attach-overhead.sh [debug|release]
# Environment: ROUNDS (3), SECONDS_PER_RUN (10), RATE (10000), AUTOTRACE (default: a build of this checkout).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-release}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-10}
rate=${RATE:-10000}
[ "$(id -u)" = 0 ] || { echo "attach needs root: sudo $0"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }

source "$repo/Benchmarks/helloserver-common.sh"
start_server
collector=
trap '[ -n "$collector" ] && kill "$collector" 2>/dev/null; cleanup_servers' EXIT

attach() {
    "$autotrace" attach --pid "$server_pid" --output /dev/null 2>"$work/attach.log" &
    collector=$!
    for _ in $(seq 300); do grep -q "autotrace: attached " "$work/attach.log" && return; sleep 0.1; done
    echo "attach did not start:"; cat "$work/attach.log"; exit 1
}
detach() { kill -INT "$collector"; wait "$collector" || true; collector=; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# CPU seconds the collector has used so far (user + system).
collector_cpu() { awk -v tick="$(getconf CLK_TCK)" '{print ($14 + $15) / tick}' "/proc/$collector/stat"; }

declare -A p99 throughput
collector_share=""
for scenario in dormant attached; do p99[$scenario]=""; throughput[$scenario]=""; done
"$autotrace" load --port "$port" --duration 3 --connections 8 >/dev/null   # warm-up
for round in $(seq "$rounds"); do
    for scenario in dormant attached; do
        echo "round $round/$rounds, $scenario…"
        [ "$scenario" = attached ] && { attach; cpu_before=$(collector_cpu); }
        fixed=$("$autotrace" load --port "$port" --rate "$rate" --connections 16 --duration "$seconds" --json)
        [ "$scenario" = attached ] && collector_share+="$(python3 -c "print(100 * ($(collector_cpu) - $cpu_before) / $seconds)") "
        saturated=$(saturated "$port" "$seconds")
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
lost=$(awk '/lost in the ring buffer/ {print $6}' "$work/attach.log")

python3 - "$config" "$rounds" "$seconds" "$rate" "${p99[dormant]}" "${p99[attached]}" "${throughput[dormant]}" \
    "${throughput[attached]}" "$requests" "$assembled" "$lost" "$collector_share" <<'PY'
import statistics, sys
config, rounds, seconds, rate, d99, a99, dtp, atp, requests, assembled, lost, share = sys.argv[1:]
values = lambda text: [float(v) for v in text.split()]
med = lambda text: statistics.median(values(text))
print(f"\nHelloServer ({config}), {rounds} rounds of {seconds} s, medians")
print(f"{'':44} {'dormant':>12} {'attached':>12} {'ratio':>8}")
print(f"{'p99 latency at ' + rate + ' req/s, us':44} {med(d99):12.0f} {med(a99):12.0f} {med(a99) / med(d99):7.2f}x  (target <= 1.10x)")
print(f"{'saturated throughput, req/s':44} {med(dtp):12.0f} {med(atp):12.0f} {med(atp) / med(dtp):7.2f}x  (target >= 0.90x)")
print(f"collector CPU at {rate} spans/s: {med(share):.1f}% of one core (target <= 5%); per round: {share}")
expected = int(requests) * 7
print(f"completeness: {requests} /hello requests x 7 spans = {expected} expected, {assembled} assembled "
      f"({100 * int(assembled) / expected:.1f}%), {lost} lost in the ring buffer")
print(f"per-round p99 us: dormant {d99}| attached {a99}")
print(f"per-round req/s:  dormant {dtp}| attached {atp}")
PY
