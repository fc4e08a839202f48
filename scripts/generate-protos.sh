#!/usr/bin/env bash
# Regenerates Sources/AutoTraceOTLPProto from Protos/ (run after editing a .proto; the output is committed).
# Needs Debian's protobuf-compiler and swift-protobuf's plugin, built from the package mirror:
#   swift build --package-path <swift-protobuf checkout> --product protoc-gen-swift
# and PROTOC_GEN_SWIFT pointing at it.
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${PROTOC_GEN_SWIFT:?set PROTOC_GEN_SWIFT to the protoc-gen-swift binary}
out=Sources/AutoTraceOTLPProto
rm -f "$out"/*.pb.swift
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
  --swift_out="$out" -I Protos \
  $(cd Protos && find . -name '*.proto' | sed 's|^\./||' | sort)
echo "generated: $(ls "$out"/*.pb.swift | wc -l) files in $out"
