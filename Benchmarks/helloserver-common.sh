# Sourced by the HelloServer benchmarks: builds autotrace and the woven HelloServer, starts servers on free ports.
# Expects: repo, config (debug|release). Sets: autotrace, server.
set -euo pipefail
work=$(mktemp -d)
servers=()
cleanup_servers() { for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup_servers EXIT

autotrace=${AUTOTRACE:-}
if [ -z "$autotrace" ]; then
    echo "building autotrace ($config)…"
    swift build --package-path "$repo/Tool" -c "$config" --product autotrace >/dev/null
    autotrace="$repo/Tool/.build/$config/autotrace"
fi
echo "building HelloServer woven ($config)…"
(cd "$repo/Examples/HelloServer" && "$autotrace" build -c "$config" --product HelloServer >/dev/null)
server="$repo/Examples/HelloServer/.build-autotrace/$config/HelloServer"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server VAR=value... : starts HelloServer with those variables on a free port; sets port and server_pid.
start_server() {
    port=$(free_port)
    env LOG_LEVEL=error "$@" "$server" --port "$port" >/dev/null 2>&1 &
    server_pid=$!
    servers+=("$server_pid")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return; sleep 0.1; done
    echo "HelloServer did not start"; exit 1
}

# saturated PORT SECONDS: requests per second of wrk -t1 -c32 on /health.
saturated() { wrk -t1 -c32 -d"$2s" "http://127.0.0.1:$1/health" | awk '/Requests\/sec/ {print $2}'; }
