#!/usr/bin/env bash
# bench/run.sh: every benchmark (`make bench`). Each prints its figures and
# the ratios against peers measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for b in bench/load.sh bench/monitor.sh bench/hub.sh bench/agents.sh bench/autoscale.sh; do
  [[ -f "$b" ]] || continue
  echo "== $b"
  bash "$b" || { echo "$b failed" >&2; status=1; }
done
exit "$status"
