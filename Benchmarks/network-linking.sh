#!/usr/bin/env bash
# How complete the traces of `autotrace attach --network` are on a server that propagates nothing: the plain
# (unwoven) HelloServer, whose /hello/{name} calls its own /weather through AsyncHTTPClient. Each request makes a
# server span, a client span and a second server span; the client span can only be linked to the request being
# served when that is unambiguous (see the README), and the second server span is linked through the connection's
# ends. For each concurrency, wrk loads /hello/ada while attached, and the collector's own accounting gives the
# share of client spans linked to their request. Needs root, libbpf and wrk.
#
#   sudo Benchmarks/network-linking.sh [release|debug]     (SECONDS_PER_RUN, default 5; CONCURRENCY, default "1 4 16")
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-release}
seconds=${SECONDS_PER_RUN:-5}
concurrency=${CONCURRENCY:-1 4 16}
[ "$(id -u)" = 0 ] || { echo "attach needs root: sudo $0"; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
package="$repo/Examples/HelloServer"
echo "building autotrace and the plain HelloServer ($config)…" >&2
swift build --package-path "$repo/Tool" -c "$config" --product autotrace >/dev/null
swift build --package-path "$package" --scratch-path "$package/.build-bench-plain" -c "$config" --product HelloServer >/dev/null
autotrace="$repo/Tool/.build/$config/autotrace"
work=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG_LEVEL=error "$package/.build-bench-plain/$config/HelloServer" --port "$port" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done

printf '| connections | /hello requests | client spans linked to their request | /weather server spans linked to their client span |\n'
printf '|---:|---:|---:|---:|\n'
for connections in $concurrency; do
    "$autotrace" attach --network --pid "$server_pid" --output /dev/null 2>"$work/attach.log" &
    collector=$!
    for _ in $(seq 300); do grep -q "autotrace: attached " "$work/attach.log" && break; sleep 0.1; done
    threads=$(( connections < 2 ? 1 : 2 ))
    wrk -t"$threads" -c"$connections" -d"${seconds}s" "http://127.0.0.1:$port/hello/ada" >"$work/wrk.log"
    sleep 0.5
    kill -INT "$collector"
    wait "$collector" || true
    [ -n "${VERBOSE:-}" ] && cat "$work/attach.log" >&2
    python3 - "$work/attach.log" "$connections" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
clients = int(re.search(r"client spans (\d+)\)", text).group(1))
unlinked = int(re.search(r"client spans unlinked +(\d+)", text).group(1))
joined = int(re.search(r"server spans joined +(\d+)", text).group(1))
# Each /hello request makes one client span, whose request is one /weather server span.
print(f"| {sys.argv[2]} | {clients} | {clients - unlinked} ({100 * (clients - unlinked) / max(clients, 1):.1f} %) | "
      f"{joined} ({100 * joined / max(clients, 1):.1f} %) |")
EOF
done
