#!/usr/bin/env bash
# The flight recorder on Examples/HelloServer: the same woven binary twice, recorder on and dormant, under
# identical saturated load (wrk -t1 -c32 on /health), rounds interleaved: throughput ratio, target >= 0.97x.
# Then a LOAD_SECONDS (60) load on the recorder's server: its RSS every second against the ring's bound.
# The cost of recording one span (ns, mallocs) is a microbenchmark: Benchmarks/run.sh.
# Usage: Benchmarks/flight-recorder.sh [debug|release]
# Environment: ROUNDS (3), SECONDS_PER_RUN (10), LOAD_SECONDS (60), AUTOTRACE (default: a build of this checkout).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-release}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-10}
load_seconds=${LOAD_SECONDS:-60}
bound=$((8 << 20))
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
source "$repo/Benchmarks/helloserver-common.sh"

start_server
dormant_port=$port
start_server AUTOTRACE_FLIGHT_RECORDER=1 AUTOTRACE_FLIGHT_MAX_BYTES=$bound
recorder_port=$port
recorder_pid=$server_pid

dormant=""
recording=""
for round in $(seq "$rounds"); do
    echo "round $round/$rounds…"
    dormant+="$(saturated "$dormant_port" "$seconds") "
    recording+="$(saturated "$recorder_port" "$seconds") "
done

echo "memory: $load_seconds s of load on the recorder's server…"
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$recorder_pid/status"; }
before=$(rss)
wrk -t1 -c32 -d"${load_seconds}s" "http://127.0.0.1:$recorder_port/hello/memory" >/dev/null &
load=$!
peak=$before
while kill -0 "$load" 2>/dev/null; do
    now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
    sleep 1
done

python3 - "$config" "$rounds" "$seconds" "$dormant" "$recording" "$before" "$peak" "$bound" "$load_seconds" <<'PY'
import statistics, sys
config, rounds, seconds, dormant, recording, before, peak, bound, load_seconds = sys.argv[1:]
med = lambda text: statistics.median(float(v) for v in text.split())
print(f"\nHelloServer ({config}), {rounds} rounds of {seconds} s, saturated /health, medians")
print(f"{'throughput, req/s':32} dormant {med(dormant):9.0f}   flight recorder {med(recording):9.0f}   "
      f"ratio {med(recording) / med(dormant):5.3f}x  (target >= 0.97x)")
print(f"per-round req/s: dormant {dormant}| flight recorder {recording}")
mib = lambda value: int(value) / (1 << 20)
print(f"RSS through {load_seconds} s of /hello load: {mib(before):.1f} MiB before, {mib(peak):.1f} MiB at peak, "
      f"growth {mib(int(peak) - int(before)):.1f} MiB; ring bound {mib(bound):.0f} MiB, allocated once at start")
PY
