#!/usr/bin/env bash
# Formats the repository's Swift sources with swift-format and the repository's .swift-format; with --check, only
# lints them and fails on any finding (CI runs it so). Left alone: generated code (protobuf, OpenAPI, gRPC), which
# its generators rewrite, and the test fixtures, whose line numbers the tests expect.
set -euo pipefail
cd "$(dirname "$0")/.."
files=()
while IFS= read -r -d '' file; do files+=("$file"); done < <(
    find Package.swift Sources Tests Tool/Package.swift Tool/Sources Tool/Tests Examples Benchmarks Fuzz -name '*.swift' \
        -not -path '*/.build*' -not -path 'Tool/Tests/Fixtures/*' -not -path '*/Generated/*' \
        -not -name '*.pb.swift' -not -name '*.grpc.swift' -print0
)
if [ "${1:-}" = --check ]; then
    findings=$(swift format lint --configuration .swift-format "${files[@]}" 2>&1)
    if [ -n "$findings" ]; then
        echo "$findings"
        echo "swift-format found the above in ${#files[@]} files; scripts/format.sh fixes most of it" >&2
        exit 1
    fi
    echo "format: ${#files[@]} files clean"
else
    swift format --in-place --configuration .swift-format "${files[@]}"
fi
