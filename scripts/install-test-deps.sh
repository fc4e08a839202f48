#!/usr/bin/env bash
# Installs what the test suite uses besides Swift: libbpf (autotrace attach; its headers check the embedded BPF
# object), bpftrace, binutils, gdb and perf (every tool must see the probes), wrk (autotrace bench), zlib headers
# (gzip), a PostgreSQL server (the tests start their own on a free port), and OpenTelemetry's own Python protobuf
# bindings (an independent OTLP decoder).
# Needs root; idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends libbpf1 libbpf-dev bpftrace binutils gdb linux-perf wrk zlib1g-dev postgresql >/dev/null
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore opentelemetry-proto
# bpftrace detaches uprobes through tracefs; mount it where the kernel expects it if nobody did.
if [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/uprobe_events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
echo "test dependencies installed: $(bpftrace --version), $(readelf --version | head -1), $(wrk --version 2>&1 | head -1)"
