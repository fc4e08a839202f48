#!/usr/bin/env bash
# Peer-corpus benchmark (issue 12, item 7): weave third-party packages from the package mirror with a catch-all
# aspect (every function of every non-test module), run each package's own test suite plain and woven, and print
# per package: tests passed plain/woven, functions selected/woven/skipped (by reason) and the extra build time.
# Targets: every suite passes woven as it does plainly; at least 95% of the selected functions woven overall.
#
# Usage: Benchmarks/peer-corpus.sh [options] [package ...]        (--help for the options and the package list)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
mirror=${PEER_CORPUS_MIRROR:-/opt/swift-packages}
work=${PEER_CORPUS_WORK:-/tmp/autotrace-peer-corpus}
lock=${PEER_CORPUS_LOCK:-}
autotrace=${AUTOTRACE:-}
findings=""
table_file=""
test_timeout=${PEER_CORPUS_TEST_TIMEOUT:-1800}
build_timeout=${PEER_CORPUS_BUILD_TIMEOUT:-3600}
keep=false
include_tests=false
check=false
reuse_plain=false
table_only=false

# name|OWNER/NAME|tag|why it is in the corpus
corpus=(
    "swift-w3c-trace-context|swift-otel/swift-w3c-trace-context|1.0.0|Swift 6, small (the CI peer)"
    "swift-concurrency-extras|pointfreeco/swift-concurrency-extras|1.4.3|Swift 6, actors, isolation helpers, async sequences"
    "FlyingFox|swhitty/FlyingFox|0.27.1|Swift 6, server framework, actors, async sequences"
    "swift-service-lifecycle|swift-server/swift-service-lifecycle|2.13.0|Swift 6, actors, async sequences (first user report)"
    "swift-subprocess|swiftlang/swift-subprocess|1.0.2|Swift 6, async sequences of pipes, ~Copyable, spawns processes"
    "Ink|johnsundell/ink|0.6.0|Swift 5, synchronous, a Markdown parser"
    "Yams|jpsim/Yams|6.2.2|Swift 6 manifest (Package@swift-6.0), C core, a dependency of autotrace itself"
)

usage() {
    cat <<EOF
Usage: Benchmarks/peer-corpus.sh [options] [package ...]

Weaves third-party packages from the package mirror ($mirror) with a catch-all aspect selecting every
function of their non-test modules, and runs each package's own test suite plain and woven. Prints a Markdown
table: tests passed plain/woven, functions selected/woven/skipped by reason, extra build time, and the overall
woven percentage. A failure in one package is reported in its row; the others still run.

A package is a name from the list below, or OWNER/NAME@TAG of any package in the mirror. Default: all below.
$(for entry in "${corpus[@]}"; do IFS='|' read -r n r t w <<<"$entry"; printf '  %-26s %s %s  (%s)\n' "$n" "$r" "$t" "$w"; done)

Options:
  --work DIR          where packages are unpacked and built (default $work; never inside this repository)
  --autotrace PATH    use this autotrace binary (and the runtime of the checkout it was built from); default:
                      build autotrace in release from a snapshot of this checkout's HEAD (kept in the work folder)
  --findings FILE     append raw findings (failed commands with their first errors, skip reasons) to FILE
  --table FILE        also write the final Markdown table to FILE
  --test-timeout S    time limit of one test run in seconds (default $test_timeout)
  --include-tests     select the test modules' functions too (default: only the modules the tests exercise)
  --keep              keep each package's work folder (default: build folders are deleted after the package)
  --reuse-plain       reuse the plain build/test figures of an earlier run in the same work folder (same tag):
                      they do not depend on autotrace, so a rerun with a newer autotrace only builds woven
  --table-only        print the table of the last (or the running) run from the work folder, and exit
  --check             exit with status 1 unless every woven suite passes as the plain one and >= 95% are woven
  --list              print the default packages and exit
  -h, --help          this help

Environment:
  PEER_CORPUS_LOCK=FILE   run every swift/autotrace command under 'flock FILE' (taken per command, so other
                          builds can interleave); waiting for the lock is not counted in the times
  AUTOTRACE=PATH          as --autotrace
  PEER_CORPUS_MIRROR, PEER_CORPUS_WORK, PEER_CORPUS_TEST_TIMEOUT, PEER_CORPUS_BUILD_TIMEOUT

Each package: plain 'swift package resolve', 'swift build --build-tests', 'swift test --skip-build'; then an
autotrace.yml with one catch-all aspect per non-test module (built-in aspects disabled, so only the catch-all
selects), 'autotrace init', 'swift package resolve' in the woven scratch path, 'autotrace build --build-tests',
'autotrace test --skip-build', 'autotrace report --json'. Resolving is not timed; extra build time is the woven
build's time minus the plain build's (both clean, both with their own scratch path; the woven one also builds the
AutoTrace runtime and its dependencies).
EOF
}

packages=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --list) for entry in "${corpus[@]}"; do IFS='|' read -r n r t w <<<"$entry"; echo "$n $r $t"; done; exit 0 ;;
        --work) work=$2; shift 2 ;;
        --autotrace) autotrace=$2; shift 2 ;;
        --findings) findings=$2; shift 2 ;;
        --table) table_file=$2; shift 2 ;;
        --test-timeout) test_timeout=$2; shift 2 ;;
        --keep) keep=true; shift ;;
        --include-tests) include_tests=true; shift ;;
        --check) check=true; shift ;;
        --reuse-plain) reuse_plain=true; shift ;;
        --table-only) table_only=true; shift ;;
        -*) echo "peer-corpus: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) packages+=("$1"); shift ;;
    esac
done

mkdir -p "$work"
work=$(cd "$work" && pwd)
case "$work/" in "$repo"/*) echo "peer-corpus: --work must be outside the repository ($repo)" >&2; exit 2 ;; esac
case "$work" in */.build*) echo "peer-corpus: --work must not contain '/.build' (autotrace weaves no file under one)" >&2; exit 2 ;; esac
for tool in swift git tar python3 flock timeout; do
    command -v "$tool" >/dev/null || { echo "peer-corpus: $tool not found on PATH" >&2; exit 2; }
done

# Resolves a package argument to "name|OWNER/NAME|tag|note".
resolve_package() {
    local arg=$1 entry n r t w
    for entry in "${corpus[@]}"; do
        IFS='|' read -r n r t w <<<"$entry"
        if [ "$arg" = "$n" ] || [ "$arg" = "$r" ]; then echo "$entry"; return 0; fi
    done
    if [[ "$arg" == */*@* ]]; then
        r=${arg%@*}; t=${arg##*@}
        echo "${r##*/}|$r|$t|given on the command line"
        return 0
    fi
    return 1
}

if [ ${#packages[@]} -eq 0 ]; then
    for entry in "${corpus[@]}"; do packages+=("${entry%%|*}"); done
fi
selected=()
for arg in "${packages[@]}"; do
    if ! entry=$(resolve_package "$arg"); then
        echo "peer-corpus: unknown package '$arg': a name from --list, or OWNER/NAME@TAG" >&2
        exit 2
    fi
    selected+=("$entry")
done

# Totals and the table, from the results files of the packages in "selected" that have one.
print_table() {
    total_selected=0
    total_woven=0
    local entry name selected_n woven_n shown=()
    for entry in "${selected[@]}"; do
        [ -s "$results/${entry%%|*}.env" ] && shown+=("$entry")
    done
    for entry in "${shown[@]}"; do
        name=${entry%%|*}
        # shellcheck disable=SC1090
        selected_n=$(source "$results/$name.env"; echo "$selected")
        # shellcheck disable=SC1090
        woven_n=$(source "$results/$name.env"; echo "$woven")
        [[ "$selected_n" =~ ^[0-9]+$ ]] && total_selected=$((total_selected + selected_n))
        [[ "$woven_n" =~ ^[0-9]+$ ]] && total_woven=$((total_woven + woven_n))
    done
    overall=$(python3 -c "print(f'{100 * $total_woven / $total_selected:.1f}' if $total_selected else '–')")
    echo "| package | language mode | tests plain | tests woven | selected | woven | % | top skip reasons | extra build s (plain → woven) |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for entry in "${shown[@]}"; do
        name=${entry%%|*}
        (
            # shellcheck disable=SC1090
            source "$results/$name.env"
            top=$(echo "$reasons" | tr ';' '\n' | sed 's/^ *//' | head -n 3 | paste -sd';' | sed 's/;/; /g')
            [ -n "$note" ] && top="${top:+$top; }**$note**"
            times="$extra"
            [ "$plain_build_s" != "–" ] && times="$extra ($plain_build_s → $woven_build_s)"
            echo "| $name $tag | $mode | $plain_tests | $woven_tests | $selected | $woven | $pct | ${top:-–} | $times |" \
                | tr '\n' ' ' | sed 's/ *$//; s/\([^|]\)|\([^ ]\)/\1\\|\2/g'
            echo
        )
    done
    echo
    echo "Overall: $total_woven of $total_selected selected functions woven ($overall%; target ≥ 95%)."
}

results="$work/results"
if $table_only; then
    print_table
    echo "(results in $results: $(cat "$results/run.info" 2>/dev/null || echo 'no run information'))"
    exit 0
fi

# timed/locked below need the lock variable only; the tool is built here, before any package.
locked() {
    if [ -n "$lock" ]; then flock "$lock" "$@"; else "$@"; fi
}

commit=$(git -C "$repo" log -1 --format=%h 2>/dev/null || echo unknown)
if [ -z "$autotrace" ]; then
    # The committed state of this checkout, runtime and tool alike: uncommitted edits (other work in progress)
    # never leak into the figures. The scratch path is kept between runs, so only autotrace's own modules rebuild.
    snapshot="$work/autotrace-checkout"
    echo "peer-corpus: building autotrace (release) from a snapshot of commit $commit in $snapshot…"
    # Unpacked again only when what autotrace is built from changed (not for a commit touching only Benchmarks/):
    # fresh files would make SwiftPM rebuild autotrace for nothing.
    full_commit=$(git -C "$repo" rev-parse HEAD:Tool HEAD:Sources HEAD:Package.swift | paste -sd' ')
    if [ "$(cat "$snapshot/.peer-corpus-commit" 2>/dev/null)" != "$full_commit" ]; then
        rm -rf "$snapshot"
        mkdir -p "$snapshot"
        git -C "$repo" archive HEAD | tar -x -C "$snapshot"
        echo "$full_commit" >"$snapshot/.peer-corpus-commit"
    fi
    if ! locked swift build -c release --package-path "$snapshot/Tool" --scratch-path "$work/autotrace-build" \
        --product autotrace >"$work/autotrace-build.log" 2>&1; then
        tail -n 30 "$work/autotrace-build.log" >&2
        echo "peer-corpus: building autotrace failed (log: $work/autotrace-build.log)" >&2
        exit 1
    fi
    autotrace="$work/autotrace-build/release/autotrace"
    dirty=0
else
    if [ ! -x "$autotrace" ]; then echo "peer-corpus: $autotrace is not an executable" >&2; exit 2; fi
    autotrace=$(cd "$(dirname "$autotrace")" && pwd)/$(basename "$autotrace")
    # Built from the working tree, perhaps with uncommitted changes: say so with the figures.
    dirty=$(git -C "$repo" status --porcelain --untracked-files=no -- Tool Sources Package.swift 2>/dev/null | wc -l)
fi

# A copy of the binary: a rebuild of the checkout during the run must not change the weaver between the woven build
# and its test run (autotrace recompiles the package's modules when the weaver changes).
bin="$work/bin"
mkdir -p "$bin"
cp "$autotrace" "$bin/autotrace.new" && mv "$bin/autotrace.new" "$bin/autotrace"
echo "peer-corpus: using a copy of $autotrace ($(date -r "$autotrace" '+%Y-%m-%d %H:%M'))"
autotrace="$bin/autotrace"
run_started=$(date +%s)
results="$work/results"
rm -rf "$results"
mkdir -p "$results"
echo "autotrace commit $commit$([ "$dirty" -gt 0 ] && echo " (plus uncommitted changes)"), run started $(date -u '+%Y-%m-%d %H:%MZ')" >"$results/run.info"
echo "peer-corpus: autotrace commit $commit$([ "$dirty" -gt 0 ] && echo ", $dirty uncommitted change(s) in Tool, Sources or Package.swift")"
echo "peer-corpus: work folder $work; ${#selected[@]} package(s); lock: ${lock:-none}"

# timed LOG TIMEFILE TIMEOUT command...: runs the command (under the lock if set, with a time limit), output to LOG,
# its own duration in seconds (lock wait excluded) to TIMEFILE; returns the command's status.
timed() {
    local log=$1 timefile=$2 limit=$3
    shift 3
    local inner=(bash -c 'tf=$1; limit=$2; shift 2; s=$(date +%s.%N); timeout --kill-after=30 "$limit" "$@"; rc=$?; e=$(date +%s.%N); python3 -c "print(f\"{$e - $s:.1f}\")" >"$tf"; exit $rc' _ "$timefile" "$limit" "$@")
    echo "\$ $*" >>"$log"
    if [ -n "$lock" ]; then
        flock "$lock" "${inner[@]}" >>"$log" 2>&1
    else
        "${inner[@]}" >>"$log" 2>&1
    fi
}

# Counts tests in a `swift test` log: XCTest "Test Case '…' passed/failed/skipped" lines and Swift Testing
# "Test … passed/failed/skipped" lines; prints "passed failed skipped summary".
count_tests() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
xp = len(re.findall(r"^Test Case '[^']*' passed \(", text, re.M))
xf = len(re.findall(r"^Test Case '[^']*' failed \(", text, re.M))
xs = len(re.findall(r"^Test Case '[^']*' skipped", text, re.M))
# Swift Testing: "✔ Test name() passed after 0.1 seconds." / "✘ Test name() failed after … with N issues."
# (parameterized tests report once per test; "Test run with …" is the summary, not a test)
sp = len(re.findall(r"^\S* ?Test (?!run with )(?!case ).*? passed after ", text, re.M))
sf = len(re.findall(r"^\S* ?Test (?!run with )(?!case ).*? failed after ", text, re.M))
ss = len(re.findall(r"^\S* ?Test (?!run with )(?!case ).*? skipped", text, re.M))
summary = []
for m in re.finditer(r"Executed (\d+) tests?, with (?:(\d+) tests? skipped and )?(\d+) failures?", text):
    last_xctest = m
if re.search(r"Executed \d+ tests?", text):
    summary.append("XCTest " + last_xctest.group(0).replace(" ", "_"))
for m in re.finditer(r"Test run with (\d+) tests?(?: in \d+ suites?)? (passed|failed)", text):
    summary.append("SwiftTesting " + m.group(0).replace(" ", "_"))
print(xp + sp, xf + sf, xs + ss, ";".join(summary) or "none")
PY
}

# The package's modules and language mode from `swift package dump-package` JSON: prints
# "mode<TAB>library modules (comma-separated)<TAB>test modules".
describe_package() {
    python3 - "$1" <<'PY'
import json, os, sys
package = json.load(open(sys.argv[1]))
tools = package.get("toolsVersion", {}).get("_version", "0")
major = int(tools.split(".")[0])
declared = package.get("swiftLanguageModes") or package.get("swiftLanguageVersions")
def mode_name(value):
    if isinstance(value, dict):
        value = value.get("_0") or next(iter(value.values()), "")
        if isinstance(value, dict): value = next(iter(value.values()), "")
    return str(value)
if declared:
    names = [mode_name(v) for v in declared]
    default = max(names, key=lambda n: [int(p) for p in n.split(".") if p.isdigit()] or [0])
else:
    default = "6" if major >= 6 else ("5" if major >= 5 else "4")
library, tests, modes = [], [], set()
for target in package.get("targets", []):
    kind = target.get("type")
    if kind == "test":
        tests.append(target["name"])
        continue
    if kind not in ("regular", "executable"):
        continue
    folder = target.get("path") or f"Sources/{target['name']}"
    if not any(name.endswith(".swift") for _, _, names in os.walk(folder) for name in names):
        continue  # a C target: nothing to weave
    library.append(target["name"])
    mode = default
    for setting in target.get("settings", []):
        value = setting.get("kind", {})
        if isinstance(value, dict) and "swiftLanguageMode" in value:
            mode = mode_name(value["swiftLanguageMode"])
    modes.add(mode)
shown = "/".join(sorted(modes)) if modes else default
print(f"Swift {shown} (tools {tools})\t{','.join(library)}\t{','.join(tests)}")
PY
}

# Counts the report of the woven build: prints "selected woven skipped<TAB>reasons" where reasons is
# "count×short reason; …" (most frequent first) and writes the long form (every reason, up to 3 examples) to $3.
analyse_report() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, re, sys, collections
reports = json.load(open(sys.argv[1]))
modules = set(filter(None, sys.argv[2].split(",")))
woven, skipped, whole = 0, [], []
for report in reports:
    if report["module"] not in modules:
        continue
    woven += sum(1 for site in report["sites"] if site.get("aspect", "").startswith("peer-corpus-"))
    for s in report["skipped"]:
        # A module compiled from its original sources as a whole is reported as one entry, without its functions:
        # it is named apart, not counted as one function.
        if s["function"].startswith("module ") and not s["file"]:
            whole.append(f"{report['module']} ({re.split(r': |, ', s['reason'], maxsplit=1)[0]})")
        else:
            skipped.append(s)
def short(reason):
    # A site the compiler rejected woven: the compiler's message is the reason.
    reason = re.sub(r"^woven, this site did not compile, so it is left as written: ", "did not compile woven: ", reason)
    first = re.split(r"(?<!woven): |, |; | \(|\. ", reason, maxsplit=1)[0]
    return first if len(first) <= 60 else first[:57] + "…"
counts = collections.Counter(short(s["reason"]) for s in skipped)
examples = collections.defaultdict(list)
for s in skipped:
    examples[short(s["reason"])].append(s)
with open(sys.argv[3], "w") as out:
    for reason, count in counts.most_common():
        out.write(f"- {count} × {reason}\n")
        for s in examples[reason][:3]:
            out.write(f"    - {s['function']} {s['file']}:{s['line']}: {s['reason'][:400]}\n")
reasons = "; ".join(f"{count}× {reason}" for reason, count in counts.most_common())
print(f"{woven + len(skipped)} {woven} {len(skipped)}\t{reasons or '-'}\t{', '.join(whole) or '-'}")
PY
}

# First error lines of a log (compiler errors, fatal errors, failed tests), for the findings file.
first_errors() {
    grep -E "error:|fatal error|Fatal error|failed \(|✘|Test Case .* failed|did not compile once woven|weaving module .* failed|Crash|Segmentation|signal" "$1" \
        | grep -vE "^\s*$" | head -n "${2:-12}" | cut -c1-400 || true
}

finding() { [ -n "$findings" ] && printf '%s\n' "$@" >>"$findings" || true; }

process_package() {
    local name=$1 repository=$2 tag=$3
    local dir="$work/$name" logs="$work/logs/$name" out="$results/$name.env"
    local git_dir="$mirror/$repository.git"
    rm -rf "$dir" "$logs"
    mkdir -p "$dir/src" "$logs"
    local src="$dir/src"
    # Every field the table shows; filled as the steps go.
    local mode="?" plain_tests="–" woven_tests="–" selected="–" woven="–" pct="–" reasons="" extra="–" note=""
    local plain_build_s="–" woven_build_s="–" plain_test_s="–" woven_test_s="–"
    save() {
        {
            printf 'name=%q\nrepository=%q\ntag=%q\nmode=%q\nplain_tests=%q\nwoven_tests=%q\n' "$name" "$repository" "$tag" "$mode" "$plain_tests" "$woven_tests"
            printf 'selected=%q\nwoven=%q\npct=%q\nreasons=%q\nextra=%q\nnote=%q\n' "$selected" "$woven" "$pct" "$reasons" "$extra" "$note"
            printf 'plain_build_s=%q\nwoven_build_s=%q\nplain_test_s=%q\nwoven_test_s=%q\n' "$plain_build_s" "$woven_build_s" "$plain_test_s" "$woven_test_s"
        } >"$out"
    }
    save
    echo
    echo "== $name ($repository $tag)"
    finding "" "## $name ($repository $tag), autotrace $commit, $(date -u +%Y-%m-%dT%H:%MZ)"

    if ! git -C "$git_dir" archive "$tag" 2>"$logs/unpack.log" | tar -x -C "$src" 2>>"$logs/unpack.log"; then
        note="unpack failed: $(head -c 200 "$logs/unpack.log")"
        finding "- unpack failed: \`git -C $git_dir archive $tag\`: $(head -c 300 "$logs/unpack.log")"
        save; return 1
    fi
    cd "$src"
    # A committed Package.resolved pins GitHub's commit ids, which the mirror's copies do not have: resolve anew.
    rm -f Package.resolved

    # Modules and language mode.
    if ! locked swift package dump-package >"$dir/package.json" 2>"$logs/dump.log" \
        || ! description=$(describe_package "$dir/package.json" 2>>"$logs/dump.log"); then
        note="swift package dump-package failed"
        finding "- \`swift package dump-package\` failed in $src:" '```' "$(tail -n 15 "$logs/dump.log")" '```'
        save; return 1
    fi
    IFS=$'\t' read -r mode library_modules test_modules <<<"$description"
    echo "   $mode; modules: $library_modules; test modules: ${test_modules:-none}"
    local woven_modules=$library_modules
    if $include_tests && [ -n "$test_modules" ]; then woven_modules+=",$test_modules"; fi

    # Plain: resolve (not timed), build with tests, run tests — or the figures of an earlier run (--reuse-plain).
    local plain_ok=true
    local plain_cache="$work/plain/$name-$tag.env"
    if $reuse_plain && [ -s "$plain_cache" ]; then
        # shellcheck disable=SC1090
        source "$plain_cache"
        echo "   plain: reused from $plain_cache ($(date -r "$plain_cache" '+%Y-%m-%d %H:%M')): build ${plain_build_s}s, tests $plain_tests"
        [[ "$plain_tests" == "build failed" ]] && plain_ok=false
    else
        if ! timed "$logs/plain-resolve.log" "$logs/plain-resolve.time" 900 swift package resolve --scratch-path "$src/.build-plain"; then
            note="plain resolve failed"
            finding "- \`cd $src && swift package resolve --scratch-path .build-plain\` failed:" '```' "$(tail -n 15 "$logs/plain-resolve.log")" '```'
            save; return 1
        fi
        echo "   plain build…"
        if timed "$logs/plain-build.log" "$logs/plain-build.time" "$build_timeout" swift build --build-tests --scratch-path "$src/.build-plain"; then
            plain_build_s=$(cat "$logs/plain-build.time")
            echo "   plain build ${plain_build_s}s; plain tests…"
            local status=0
            timed "$logs/plain-test.log" "$logs/plain-test.time" "$test_timeout" swift test --skip-build --scratch-path "$src/.build-plain" || status=$?
            plain_test_s=$(cat "$logs/plain-test.time")
            read -r passed failed skipped summary <<<"$(count_tests "$logs/plain-test.log")"
            plain_tests="$passed/$((passed + failed))"
            [ "$status" -ne 0 ] && plain_tests+=" (exit $status)"
            echo "   plain tests: $plain_tests passed, $skipped skipped, ${plain_test_s}s ($summary)"
        else
            plain_ok=false
            plain_build_s=$(cat "$logs/plain-build.time")
            plain_tests="build failed"
            finding "- plain \`swift build --build-tests\` failed:" '```' "$(first_errors "$logs/plain-build.log")" '```'
        fi
        save
        mkdir -p "$work/plain"
        printf 'plain_tests=%q\nplain_build_s=%q\nplain_test_s=%q\n' "$plain_tests" "$plain_build_s" "$plain_test_s" >"$plain_cache"
    fi
    # Woven: catch-all aspect per non-test module, init, resolve (not timed), build with tests, run tests, report.
    {
        echo "# Written by Benchmarks/peer-corpus.sh: every function of the package's non-test modules."
        echo "version: 1"
        echo "disable-built-in: [$("$autotrace" aspects 2>/dev/null | sed -n 's/^ *- name: *//p' | paste -sd, | sed 's/,/, /g')]"
        echo "aspects:"
        local module
        for module in ${woven_modules//,/ }; do
            echo "  - name: peer-corpus-$module"
            echo "    functions: { module: \"$module\", name: \"*\" }"
            echo "    span: { kind: internal }"
        done
    } >"$src/autotrace.yml"
    if ! (cd "$src" && "$autotrace" init) >"$logs/init.log" 2>&1; then
        note="autotrace init failed: $(grep -m1 -i error "$logs/init.log" | cut -c1-150)"
        woven_tests="init failed"
        finding "- \`cd $src && $autotrace init\` failed:" '```' "$(tail -n 15 "$logs/init.log")" '```' "  autotrace.yml:" '```yaml' "$(cat "$src/autotrace.yml")" '```'
        save; return 1
    fi
    echo "   $(grep -m1 'Package.swift' "$logs/init.log" || true)"
    if ! timed "$logs/woven-resolve.log" "$logs/woven-resolve.time" 900 swift package resolve --scratch-path "$src/.build-autotrace"; then
        note="woven resolve failed"
        woven_tests="resolve failed"
        finding "- \`cd $src && swift package resolve --scratch-path .build-autotrace\` (after autotrace init) failed:" '```' "$(tail -n 15 "$logs/woven-resolve.log")" '```'
        save; return 1
    fi
    echo "   woven build…"
    local woven_built=false
    if timed "$logs/woven-build.log" "$logs/woven-build.time" "$build_timeout" "$autotrace" build --build-tests; then
        woven_built=true
    else
        woven_tests="build failed"
        finding "- \`cd $src && $autotrace build --build-tests\` failed (exit status; autotrace must never break a build):" '```' "$(first_errors "$logs/woven-build.log" 20)" '```'
    fi
    woven_build_s=$(cat "$logs/woven-build.time")
    local fallbacks
    fallbacks=$(grep -cE "did not compile once woven|weaving module .* failed" "$logs/woven-build.log" || true)
    if [ "$fallbacks" -gt 0 ]; then
        finding "- \`autotrace build --build-tests\`: $fallbacks module(s) fell back to their original sources:" '```' \
            "$(grep -E "did not compile once woven|weaving module .* failed" "$logs/woven-build.log" | sort -u | cut -c1-600)" '```'
    fi
    if $woven_built; then
        echo "   woven build ${woven_build_s}s; woven tests…"
        local status=0
        timed "$logs/woven-test.log" "$logs/woven-test.time" "$test_timeout" "$autotrace" test --skip-build || status=$?
        woven_test_s=$(cat "$logs/woven-test.time")
        read -r passed failed skipped summary <<<"$(count_tests "$logs/woven-test.log")"
        woven_tests="$passed/$((passed + failed))"
        [ "$status" -ne 0 ] && woven_tests+=" (exit $status)"
        echo "   woven tests: $woven_tests passed, $skipped skipped, ${woven_test_s}s ($summary)"
        if [ "$woven_tests" != "$plain_tests" ]; then
            finding "- tests differ: plain $plain_tests, woven $woven_tests (\`cd $src && $autotrace test --skip-build\`); first failures woven:" '```' "$(first_errors "$logs/woven-test.log" 20)" '```'
        fi
        if $plain_ok; then
            extra=$(python3 -c "print(f'{$woven_build_s - $plain_build_s:+.0f}')")
        fi
    fi
    save

    if (cd "$src" && "$autotrace" report --json) >"$dir/report.json" 2>"$logs/report.log"; then
        local counts
        counts=$(analyse_report "$dir/report.json" "$woven_modules" "$dir/skipped.md")
        local whole
        IFS=$'\t' read -r numbers reasons whole <<<"$counts"
        [ "$reasons" = "-" ] && reasons=""
        read -r selected woven skipped <<<"$numbers"
        if [ "$whole" != "-" ]; then
            note="whole module compiled unwoven, its functions not counted: $whole"
            finding "- $note (the report lists one entry per such module, not its selected functions)"
        fi
        pct=$(python3 -c "print(f'{100 * $woven / $selected:.1f}' if $selected else '–')")
        echo "   selected $selected, woven $woven ($pct%), skipped $skipped${reasons:+: $reasons}"
        finding "- selected $selected, woven $woven ($pct%), skipped $skipped (\`cd $src && $autotrace report\`)"
        [ -s "$dir/skipped.md" ] && finding "$(cat "$dir/skipped.md")"
    else
        note="autotrace report failed: $(head -c 150 "$logs/report.log")"
        finding "- \`cd $src && $autotrace report --json\` failed: $(head -c 300 "$logs/report.log")"
    fi
    save
    $woven_built && [ "$woven_tests" = "$plain_tests" ]
}

for entry in "${selected[@]}"; do
    IFS='|' read -r name repository tag why <<<"$entry"
    started=$(date +%s)
    status=0
    (process_package "$name" "$repository" "$tag") || status=$?
    echo "   $name: $((($(date +%s) - started) / 60)) min $((($(date +%s) - started) % 60)) s$([ $status -ne 0 ] && echo ", see $work/logs/$name")"
    if ! $keep; then
        rm -rf "$work/$name/src/.build-plain" "$work/$name/src/.build-autotrace"
    fi
done

table=$(
    print_table
    echo "Measured with autotrace at commit $commit$([ "$dirty" -gt 0 ] && echo " (plus uncommitted changes)"), $(date -u +%Y-%m-%d), $(nproc) cores; run time $((($(date +%s) - run_started) / 60)) min."
)
print_table >/dev/null  # the totals, for --check
echo
echo "$table"
[ -n "$table_file" ] && echo "$table" >"$table_file"
[ -n "$findings" ] && finding "" "### table ($commit)" "$table"
if $check; then
    failed=0
    for entry in "${selected[@]}"; do
        name=${entry%%|*}
        # shellcheck disable=SC1090
        if ! (source "$results/$name.env"; [ "$plain_tests" = "$woven_tests" ] && [[ "$plain_tests" =~ ^[0-9]+/[0-9]+$ ]]); then
            echo "peer-corpus: $name: woven tests ($(source "$results/$name.env"; echo "$woven_tests")) differ from plain ones" >&2
            failed=1
        fi
    done
    if ! python3 -c "import sys; sys.exit(0 if $total_selected and 100 * $total_woven / $total_selected >= 95 else 1)"; then
        echo "peer-corpus: fewer than 95% of the selected functions woven" >&2
        failed=1
    fi
    exit $failed
fi
exit 0
