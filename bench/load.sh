#!/usr/bin/env bash
# bench/load.sh: brink's load engine against wrk and against its goals, on
# this machine, side by side in one run (see docs/benchmarks.md):
#   - requests per generator CPU-second at 50 connections vs wrk -t1 -c50
#     (target pinned to core 1, generator to core 0, plain keep-alive GET);
#   - 10,000 VUs: peak RSS and start-up time;
#   - constant-arrival-rate 10,000/s for 30 s: achieved rate, send-time jitter;
#   - a target that stalls for 1 s: open vs closed model.
# Usage: bash bench/load.sh [loadbench flags, e.g. -rounds 5 -arrival-duration 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "bench/load.sh: $tool is missing: run bash scripts/setup.sh" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0
go build -trimpath -o "$work/brink" ./cmd/brink
go build -trimpath -o "$work/brink-target" ./cmd/brink-target
go build -trimpath -o "$work/loadbench" ./bench/loadbench
"$work/loadbench" -brink "$work/brink" -target "$work/brink-target" "$@"
