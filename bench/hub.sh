#!/usr/bin/env bash
# bench/hub.sh: the hub under a fleet's load on this machine.
#
# 20 simulated monitors x 100 containers remote-write every container's and
# host's series each second (about 83,000 samples/s), while a 10,000 RPS run
# reports its per-second results (after an hour of run history). Reports the
# hub's CPU (% of one core) and RSS during live ingest, query_range over 1 h
# for one service, and bytes per sample on disk after compaction.
#
# Usage: bash bench/hub.sh [live seconds, default 120]
#   ALIGNED=1  monitors stamp samples with their scheduled tick time (no jitter)
#   PROFILE=F  save a 20 s CPU profile of the hub during live ingest to F
# Targets (issue 4): CPU <= 25% of a core, RSS <= 500 MB, query_range <= 200 ms, <= 2 bytes/sample.
set -euo pipefail
cd "$(dirname "$0")/.."
LIVE=${1:-120}
MONITORS=${MONITORS:-20}
CONTAINERS=${CONTAINERS:-100}
RPS=${RPS:-10000}

work=$(mktemp -d)
hub_pid=""
sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$work/brink" ./cmd/brink
CGO_ENABLED=0 go build -o "$work/ingestsim" ./internal/hub/ingestsim

"$work/brink" hub --listen 127.0.0.1:0 --data "$work/data" --log-level warn >"$work/hub.log" 2>&1 &
hub_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/hub.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "hub did not start:"; cat "$work/hub.log"; exit 1; }

"$work/ingestsim" load -url "http://127.0.0.1:$port" -monitors "$MONITORS" -containers "$CONTAINERS" \
  -rps "$RPS" -duration "${LIVE}s" ${ALIGNED:+-aligned} >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!

tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$hub_pid/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$hub_pid/status"; }

# The live phase starts when the simulator prints its series count; skip
# the first 10 s (head series creation) and measure until it stops sending.
until grep -q '^series=' "$work/sim.out"; do
  kill -0 "$sim_pid" 2>/dev/null || { echo "simulator failed:"; cat "$work/sim.err"; exit 1; }
  sleep 0.2
done
sleep 10
t0=$(date +%s.%N); c0=$(cpu_ticks); max_rss=0; n=0
if [ -n "${PROFILE:-}" ]; then
  curl -s -o "$PROFILE" "http://127.0.0.1:$port/debug/pprof/profile?seconds=20" &
fi
measure_for=$(( LIVE - 15 ))
while [ "$n" -lt "$measure_for" ]; do
  sleep 1; n=$((n + 1))
  r=$(rss_kb); [ "$r" -gt "$max_rss" ] && max_rss=$r
done
t1=$(date +%s.%N); c1=$(cpu_ticks)
wait "$sim_pid" || { echo "simulator failed:"; cat "$work/sim.err"; exit 1; }
sim_pid=""
disk_live=$(du -sb "$work/data" | cut -f1)
kill -TERM "$hub_pid"; wait "$hub_pid" || true; hub_pid=""
"$work/ingestsim" compact -data "$work/data" >"$work/compact.out"

cpu_pct=$(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v tck="$tck" 'BEGIN {printf "%.1f", 100 * (c1 - c0) / tck / (t1 - t0)}')
echo "== brink hub bench: $MONITORS monitors x $CONTAINERS containers at 1 s, run at $RPS RPS, ${LIVE}s live =="
cat "$work/sim.out"
cat "$work/compact.out"
echo "hub_cpu_percent_of_one_core=$cpu_pct (over $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b-a}') s of live ingest)"
echo "hub_max_rss_mb=$(( max_rss / 1024 ))"
echo "data_dir_bytes_before_compaction=$disk_live"
