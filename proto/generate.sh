#!/usr/bin/env bash
# Regenerates internal/gen from proto/ with Debian's protoc and the Go and
# Connect plugins built from the module cache at the versions go.mod pins.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc not found: run bash scripts/setup.sh (Debian package protobuf-compiler)" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go connectrpc.com/connect/cmd/protoc-gen-connect-go
rm -rf internal/gen
mkdir -p internal/gen
protoc -I proto \
  --plugin=protoc-gen-go="$bin/protoc-gen-go" --go_out=internal/gen --go_opt=paths=source_relative \
  --plugin=protoc-gen-connect-go="$bin/protoc-gen-connect-go" --connect-go_out=internal/gen --connect-go_opt=paths=source_relative \
  $(find proto -name '*.proto' | sort)
