#!/usr/bin/env bash
# The cost of one woven site's span, sampled and exported over OTLP/HTTP (and unsampled), measured two ways:
# instructions per span under callgrind — the difference between COUNT spans and none, so startup and shutdown
# cancel out, and deterministic enough to compare commits — and, with a malloc-counting preload, allocations per
# span on the request path (the thread running the spans) and in the whole process (the export thread's and the
# in-process receiver's included), nanoseconds per span in a loop, and the export thread's CPU per span. The spans run inside a task, as on a
# request path. Needs valgrind, gcc and objcopy (binutils).
#
#   Benchmarks/span-cost.sh [--count N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
count=20000
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $1; see --help" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building SpanCost (release)…" >&2
# Quiet when it works; the whole output when it does not (set -e would otherwise end the script without a word).
swift build --package-path "$here/SpanCost" -c release >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
# Debian's valgrind 3.19 cannot read the DWARF 5 of Swift 6 binaries: callgrind runs a copy without debug sections.
objcopy --strip-debug "$here/SpanCost/.build/release/SpanCost" "$work/SpanCost"
cat >"$work/malloccount.c" <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
static atomic_long calls;
static __thread long thread_calls;
static void *(*next_malloc)(size_t);
long span_cost_malloc_count(void) { return atomic_load(&calls); }
long span_cost_thread_malloc_count(void) { return thread_calls; }
void *malloc(size_t size) {
    if (!next_malloc) next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    thread_calls++;
    return next_malloc(size);
}
SHIM
gcc -O2 -shared -fPIC -o "$work/malloccount.so" "$work/malloccount.c" -ldl

instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$work/SpanCost" "$1" "$2" >/dev/null 2>"$work/valgrind.log"
    sed -n 's/^==[0-9]*== Collected : //p' "$work/valgrind.log"
}

printf '| span | instructions/span (callgrind) | ns/span | mallocs/span on the request path | mallocs/span in the process | export thread CPU ns/span |\n|---|---:|---:|---:|---:|---:|\n'
for mode in unsampled exported; do
    with=$(instructions "$mode" "$count")
    without=$(instructions "$mode" 0)
    timed=$(LD_PRELOAD="$work/malloccount.so" "$work/SpanCost" "$mode" 300000)
    ns=$(sed -n 's/.*spans, \([0-9]*\) ns\/span.*/\1/p' <<<"$timed")
    requestMallocs=$(sed -n 's/.*, \([0-9.]*\) mallocs\/span on the request path.*/\1/p' <<<"$timed")
    mallocs=$(sed -n 's/.*, \([0-9.]*\) mallocs\/span in the process.*/\1/p' <<<"$timed")
    export=$(sed -n 's/.*export thread \([0-9]*\) ns\/span.*/\1/p' <<<"$timed")
    printf '| %s | %d | %s | %s | %s | %s |\n' "$mode" $(( (with - without) / count )) "$ns" "$requestMallocs" "$mallocs" "$export"
done
