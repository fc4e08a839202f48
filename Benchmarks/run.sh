#!/usr/bin/env bash
# Runs the runtime microbenchmarks and prints, from that one run, the figures DESIGN.md sets targets for:
# per-span cost and allocations, and the ratios between autotrace and swift-otel and between a dormant site and
# the unwoven body. The first run builds swift-otel and package-benchmark in release mode (about 15 minutes here).
set -euo pipefail
cd "$(dirname "$0")"
log=$(mktemp)
swift package benchmark "$@" 2>&1 | tee "$log" | grep -E '^(Running|Build|Baseline)' || true
python3 - "$log" <<'PY'
import re, sys
rows, name = {}, None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if re.match(r"^[a-z-]+\.[\w.-]+$", line.strip()):
        name = line.strip()
    elif name and "│" in line:
        cells = [c.strip() for c in line.split("│")]
        if cells[1].startswith("Time (wall clock)"):
            rows.setdefault(name, {})["ns"] = float(cells[4])
        elif cells[1].startswith("Malloc (total)"):
            rows.setdefault(name, {})["mallocs"] = float(cells[4])
if not rows:
    sys.exit("no benchmark results found in the output above")
print("\nper span, p50 of samples of 1000 spans (allocations include the export thread's):")
print(f"{'benchmark':44} {'ns':>9} {'mallocs':>8}")
for name, row in sorted(rows.items()):
    print(f"{name:44} {row.get('ns', float('nan')):9.0f} {row.get('mallocs', float('nan')):8.1f}")
def ratio(a, b, label, target):
    if a in rows and b in rows and rows[b]["ns"]:
        print(f"{label:58} {rows[a]['ns'] / rows[b]['ns']:7.2f}x   (target {target})")
print("\nratios from this run:")
ratio("swift-otel.withSpan.sampled-exported", "autotrace.withSpan.sampled-exported",
      "swift-otel / autotrace, sampled exported span", ">= 2x")
ratio("swift-otel.withSpan.5-attributes-exported", "autotrace.withSpan.5-attributes-exported",
      "swift-otel / autotrace, span with five attributes", ">= 2x")
recorded, unsampled = "autotrace.withSpan.unsampled-flight-recorder", "autotrace.withSpan.unsampled"
if recorded in rows and unsampled in rows:
    print(f"{'flight recorder: cost of recording one span':58} {rows[recorded]['ns'] - rows[unsampled]['ns']:7.0f} ns, "
          f"{rows[recorded]['mallocs'] - rows[unsampled]['mallocs']:.1f} mallocs")
ratio("autotrace.dormant-site", "baseline.unwoven-body",
      "dormant site / unwoven body (tight loop, one site per body)", "one load + one branch")
PY
rm -f "$log"
