#!/usr/bin/env bash
# Coverage-guided fuzzing of autotrace's parsers with libFuzzer (the package in Fuzz/, see Fuzz/README.md).
#
#   scripts/fuzz.sh [--time SECONDS] [--no-build | --build-only] [--regressions] [TARGET...]
#
# Builds the fuzz targets, then runs each for SECONDS (default 60) from its committed seeds in Fuzz/Corpus/TARGET.
# New corpus entries go to .build-fuzz/corpus/TARGET, crashing inputs to .build-fuzz/artifacts/TARGET: the
# committed folders are only read. Prints executions, exec/s, coverage, corpus growth and crashes per target and
# exits non-zero if any target crashed. --build-only builds and stops. --regressions replays Fuzz/Regressions/TARGET (known crashes handed over
# to the owner of the code) instead of fuzzing, and fails while any of them still crashes.
# Targets: FuzzTraceContext FuzzHTTPResponse FuzzAspectFile FuzzDirective FuzzELF FuzzConfiguration (default: all).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scratch="$root/.build-fuzz"
seconds=60
build=yes
mode=fuzz
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --time) seconds="${2:?--time needs a number of seconds}"; shift 2 ;;
        --time=*) seconds="${1#--time=}"; shift ;;
        --no-build) build=no; shift ;;
        --build-only) mode=build; shift ;;
        --regressions) mode=regressions; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(FuzzTraceContext FuzzHTTPResponse FuzzAspectFile FuzzDirective FuzzELF FuzzConfiguration)
if [[ ${#targets[@]} -eq 0 ]]; then
    for target in "${all[@]}"; do
        # A target whose sources are not there yet (it waits for the code it fuzzes) is left out of "all".
        [[ -f "$root/Fuzz/Sources/$target/main.swift" ]] && targets+=("$target")
    done
fi
for target in "${targets[@]}"; do
    [[ -f "$root/Fuzz/Sources/$target/main.swift" ]] || { echo "fuzz.sh: no fuzz target $target (known: ${all[*]})" >&2; exit 2; }
done

if [[ $build == yes ]]; then
    # --sanitize=fuzzer rather than -Xswiftc -sanitize=fuzzer: SwiftPM then leaves the entry point to libFuzzer
    # instead of linking executables against a renamed `main` the fuzz targets do not have.
    # -parse-as-library: the targets are functions only. -enable-testing: @testable import of internal parsers.
    echo "fuzz.sh: building the fuzz targets ($(swift --version 2>/dev/null | head -1))"
    start=$SECONDS
    mkdir -p "$scratch"
    if ! swift build --package-path "$root/Fuzz" --scratch-path "$scratch" --sanitize=fuzzer \
        -Xswiftc -parse-as-library -Xswiftc -enable-testing >"$scratch/build.log" 2>&1; then
        grep -v -e "Cannot export local symbol" "$scratch/build.log" | tail -40 >&2
        echo "fuzz.sh: the build failed (whole log: ${scratch#"$root"/}/build.log)" >&2
        exit 1
    fi
    grep -E "(warning|error):" "$scratch/build.log" | grep -v "unhandled; explicitly declare them" || true
    echo "fuzz.sh: built in $((SECONDS - start)) s"
fi
[[ $mode == build ]] && exit 0
binaries="$(swift build --package-path "$root/Fuzz" --scratch-path "$scratch" --show-bin-path 2>/dev/null)"

# Swift's own backtracer would take the trap's signal first, and libFuzzer would then save no crashing input.
export SWIFT_BACKTRACE=enable=no
mkdir -p "$scratch"
failed=0
if [[ $mode == regressions ]]; then
    for target in "${targets[@]}"; do
        folder="$root/Fuzz/Regressions/$target"
        [[ -d $folder ]] || continue
        for input in "$folder"/*; do
            [[ -f $input && $(basename "$input") != README.md ]] || continue
            if "$binaries/$target" -timeout=10 "$input" >"$scratch/regression.log" 2>&1; then
                echo "fixed    $target $(basename "$input")"
            else
                echo "CRASHES  $target $(basename "$input")"
                grep -m1 -E "Fatal error|ERROR: libFuzzer|deadly signal" "$scratch/regression.log" | sed 's/^/         /' || true
                failed=1
            fi
        done
    done
    exit $failed
fi

printf '%-18s %12s %9s %8s %9s %13s %8s\n' target executions exec/s cov features "corpus (new)" crashes > "$scratch/fuzz-summary.txt"
for target in "${targets[@]}"; do
    corpus="$scratch/corpus/$target"
    artifacts="$scratch/artifacts/$target"
    log="$scratch/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    dictionary=()
    [[ -f "$root/Fuzz/Dictionaries/$target.dict" ]] && dictionary=(-dict="$root/Fuzz/Dictionaries/$target.dict")
    seeds=()
    [[ -d "$root/Fuzz/Corpus/$target" ]] && seeds=("$root/Fuzz/Corpus/$target")
    echo "fuzz.sh: $target for ${seconds} s (log: ${log#"$root"/})"
    before=$(find "$artifacts" -type f | wc -l)
    touch "$scratch/.run-started"
    status=0
    # The first corpus folder receives what the fuzzer finds; the committed seeds come after it and stay untouched.
    "$binaries/$target" "$corpus" "${seeds[@]}" "${dictionary[@]}" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
    crashes=$(( $(find "$artifacts" -type f | wc -l) - before ))
    (( status != 0 && crashes == 0 )) && crashes=1
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    coverage=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    features=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    size=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    printf '%-18s %12s %9s %8s %9s %13s %8s\n' "$target" "${executions:-?}" "${rate:-?}" "${coverage:-?}" \
        "${features:-?}" "${size:-?} (+${added:-?})" "$crashes" >> "$scratch/fuzz-summary.txt"
    if (( crashes > 0 )); then
        failed=1
        echo "fuzz.sh: $target CRASHED; inputs in ${artifacts#"$root"/}:" >&2
        find "$artifacts" -type f -newer "$scratch/.run-started" | sed 's/^/    /' >&2
        grep -m3 -E "Fatal error|ERROR: libFuzzer|deadly signal|SUMMARY" "$log" | sed 's/^/    /' >&2 || true
    fi
done
echo
cat "$scratch/fuzz-summary.txt"
exit $failed
