#!/usr/bin/env bash
# Instructions per request, a steadier measure of what instrumentation costs than wall-clock ratios on two shared
# cores. Each HelloServer scenario runs under callgrind serving W warm-up requests, and again serving W + N, on one
# keep-alive connection; (instructions of the second − of the first) ÷ N is one warm request's cost: startup, the
# first requests' one-time work (metadata, caches) and shutdown cancel out. Each pair is repeated and the median
# printed with the spread. Randomness is fixed (a getrandom that returns a fixed sequence: Hummingbird's request ids
# are random numbers formatted per request) and address randomization off, but the Swift runtime's generic-metadata
# caches still differ in layout from run to run (which thread fills them first): probing them costs a request
# between about 8,000 and 11,000 instructions, ±1 % of the request, in code no scenario changes. So a second column
# leaves that probing out (the self cost of the cache's lookup and key comparison, from callgrind_annotate): the
# steady figure that tells scenarios apart. A server that does not come up is tried again once. Prints a Markdown
# table with ratios to baseline.
#
#   Benchmarks/callgrind-requests.sh [--requests N] [--warmup W] [--repeat R] [--config release|debug] [--route PATH]...
#
# Scenarios: baseline (unwoven), woven-dormant (nothing listening), woven-flight (AUTOTRACE_FLIGHT_RECORDER=1),
# woven-otlp (in-process OTLP export to a local receiver that answers 200). Routes: /health (framework only) and
# /work?alloc=10 (a woven function making ten allocations; no CPU spin, whose iteration count depends on time).
# Builds the binaries the way `autotrace bench` does and reuses its build folders. Needs valgrind, clang, objcopy
# (binutils), setarch (util-linux) and python3. About 10 minutes with the defaults.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
requests=2000
warmup=200
repeat=5
config=release
routes=()
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --config) config=$2; shift 2 ;;
        --route) routes+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $1; see --help" >&2; exit 2 ;;
    esac
done
[ ${#routes[@]} -gt 0 ] || routes=(/health "/work?alloc=10")
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }

package="$repo/Examples/HelloServer"
echo "building autotrace and HelloServer, plain and woven ($config)…" >&2
swift build --package-path "$repo/Tool" -c "$config" --product autotrace >/dev/null
autotrace="$repo/Tool/.build/$config/autotrace"
swift build --package-path "$package" --scratch-path "$package/.build-bench-plain" -c "$config" --product HelloServer >/dev/null
(cd "$package" && "$autotrace" build -c "$config" --product HelloServer >/dev/null)
work=$(mktemp -d)
receiver_pid=
trap '[ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null; rm -rf "$work"' EXIT

# Debian's valgrind 3.19 cannot read the DWARF 5 of Swift 6 binaries (it gives up), and it writes into the mask
# sigsuspend is given, which libdispatch's main queue (an async `main`) keeps in read-only memory. So the servers run
# without their debug sections, and with a sigsuspend that hands the kernel a writable copy.
objcopy --strip-debug "$package/.build-bench-plain/$config/HelloServer" "$work/HelloServer-plain"
objcopy --strip-debug "$package/.build-autotrace/$config/HelloServer" "$work/HelloServer-woven"
plain="$work/HelloServer-plain"
woven="$work/HelloServer-woven"
# The same shim fixes the random numbers (see the top).
cat >"$work/shim.c" <<'SHIM'
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
int sigsuspend(const sigset_t *mask) {
    sigset_t copy = *mask;
    return (int)syscall(SYS_rt_sigsuspend, &copy, 8);
}
static uint64_t state = 0x9E3779B97F4A7C15u;
ssize_t getrandom(void *buffer, size_t length, unsigned int flags) {
    (void)flags;
    unsigned char *bytes = buffer;
    for (size_t i = 0; i < length; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        bytes[i] = (unsigned char)(state >> 56);
    }
    return (ssize_t)length;
}
SHIM
clang -shared -fPIC -O2 -o "$work/shim.so" "$work/shim.c"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# An OTLP/HTTP receiver that accepts everything: the exporter's work is counted, not a collector's.
receiver_port=$(free_port)
python3 - "$receiver_port" <<'EOF' &
import http.server, sys
class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
EOF
receiver_pid=$!

# instructions BINARY ROUTE COUNT VAR=value... : total instructions of a server run that serves COUNT requests.
instructions() {
    local binary=$1 route=$2 count=$3
    shift 3
    local port out log pid attempt
    out="$work/callgrind.$count.$BASHPID"
    log="$work/server.log"
    for attempt in 1 2; do
        port=$(free_port)
        # Emptied first: the server's redirection empties it only once it has started, after the wait below began.
        : >"$log"
        # The server logs when it listens (stderr, unbuffered): polling the port would add requests of its own.
        # Fixed hash seeds take one source of run-to-run difference away.
        env SWIFT_BACKTRACE=enable=no SWIFT_DETERMINISTIC_HASHING=1 LD_PRELOAD="$work/shim.so" "$@" \
            setarch "$(uname -m)" -R valgrind --tool=callgrind --callgrind-out-file="$out" "$binary" --port "$port" >"$log" 2>&1 &
        pid=$!
        for _ in $(seq 1200); do grep -q "listening on" "$log" && break; sleep 0.1; done
        grep -q "listening on" "$log" && break
        echo "HelloServer did not start under valgrind in 2 minutes (attempt $attempt of 2):" >&2
        cat "$log" >&2
        kill "$pid" 2>/dev/null
        wait "$pid" || true
        [ "$attempt" = 2 ] && exit 1
    done
    python3 - "$port" "$route" "$count" <<'EOF'
import http.client, sys
port, route, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if count:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(count):
        connection.request("GET", route)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            sys.exit(f"GET {route} answered {response.status}")
    connection.close()
EOF
    kill -TERM "$pid"
    wait "$pid" || true
    # Total, and total without the metadata caches' probing.
    callgrind_annotate --threshold=100 "$out" 2>/dev/null | python3 -c '
import re, sys
total = probing = 0
for line in sys.stdin:
    match = re.match(r"\s*([\d,]+)\s+\(.*?\)\s+(.*)", line)
    if not match:
        continue
    count = int(match.group(1).replace(",", ""))
    if "PROGRAM TOTALS" in match.group(2):
        total = count
    elif "ConcurrentReadableHashMap" in match.group(2) or "MetadataCacheKey::operator==" in match.group(2):
        probing += count
print(total, total - probing)'
}

declare -A scenario_env=(
    [baseline]=""
    [woven-dormant]=""
    [woven-flight]="AUTOTRACE_FLIGHT_RECORDER=1"
    [woven-otlp]="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$receiver_port OTEL_BSP_SCHEDULE_DELAY=200"
)
scenarios=(baseline woven-dormant woven-flight woven-otlp)
declare -A per_request spread steady steady_spread
for scenario in "${scenarios[@]}"; do
    binary=$woven
    [ "$scenario" = baseline ] && binary=$plain
    for route in "${routes[@]}"; do
        echo "  $scenario $route: $repeat × ($warmup and $((warmup + requests)) requests) under callgrind…" >&2
        samples=()
        steady_samples=()
        for _ in $(seq "$repeat"); do
            # shellcheck disable=SC2086 # the variables are words on purpose
            read -r before before_steady < <(instructions "$binary" "$route" "$warmup" ${scenario_env[$scenario]})
            # shellcheck disable=SC2086
            read -r after after_steady < <(instructions "$binary" "$route" $((warmup + requests)) ${scenario_env[$scenario]})
            samples+=($(( (after - before) / requests )))
            steady_samples+=($(( (after_steady - before_steady) / requests )))
        done
        sorted=($(printf '%s\n' "${samples[@]}" | sort -n))
        per_request["$scenario $route"]=${sorted[$(( ${#sorted[@]} / 2 ))]}
        spread["$scenario $route"]="${sorted[0]}–${sorted[-1]}"
        sorted=($(printf '%s\n' "${steady_samples[@]}" | sort -n))
        steady["$scenario $route"]=${sorted[$(( ${#sorted[@]} / 2 ))]}
        steady_spread["$scenario $route"]="${sorted[0]}–${sorted[-1]}"
    done
done

echo
echo "instructions per request (callgrind, median of $repeat, $requests requests after $warmup, $config build)"
echo
echo "| scenario | route | instructions/request | spread | × baseline | without metadata-cache probing | spread | × baseline |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for route in "${routes[@]}"; do
    base=${per_request["baseline $route"]}
    steady_base=${steady["baseline $route"]}
    for scenario in "${scenarios[@]}"; do
        value=${per_request["$scenario $route"]}
        steady_value=${steady["$scenario $route"]}
        ratio=$(python3 -c "print(f'{$value / $base:.3f}')")
        steady_ratio=$(python3 -c "print(f'{$steady_value / $steady_base:.3f}')")
        echo "| $scenario | \`$route\` | $value | ${spread["$scenario $route"]} | $ratio× |" \
            "$steady_value | ${steady_spread["$scenario $route"]} | **$steady_ratio×** |"
    done
done
