#!/usr/bin/env bash
# bench/agents.sh: distributed load at scale, on this machine (docs/agents.md):
#   1. 100 agents (real internal/agent Agents in one simulation process, each
#      with its own connections) against one hub process, each agent at
#      20 iterations/s against a local target: the hub's CPU for coordination
#      and merging (goal: at most 20 % of a core), bytes on the wire per agent
#      (goal: at most 16 KB/s), start skew (goal: at most 50 ms), exactness.
#   2. one agent with 10,000 VUs (1 s think time) against brink-target in its
#      own process: every second delivered, no gap, the agent never lost.
# Usage: bash bench/agents.sh [-duration 30s]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export CGO_ENABLED=0
go build -trimpath -o "$work/brink" ./cmd/brink
go build -trimpath -o "$work/brink-target" ./cmd/brink-target
go build -trimpath -o "$work/agentsim" ./bench/agentsim

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_hub() {
  local port; port=$(free_port)
  "$work/brink" hub --listen "127.0.0.1:$port" --data "$work/hub-$1" --log-level warn >"$work/hub-$1.log" 2>&1 &
  hub_pid=$!
  pids+=("$hub_pid")
  hub_url="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fsS "$hub_url/api/v1/status" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the hub did not start: $(cat "$work/hub-$1.log")" >&2
  exit 1
}

echo "-- 100 agents, 20 iterations/s each, $duration"
start_hub sim
"$work/agentsim" -hub "$hub_url" -hub-pid "$hub_pid" -agents 100 -rate 20 -duration "$duration"

kill "$hub_pid"; wait "$hub_pid" 2>/dev/null || true

echo "-- one agent, 10,000 VUs (1 s think time), $duration"
start_hub vus
tport=$(free_port)
"$work/brink-target" --listen "127.0.0.1:$tport" >"$work/target.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$tport/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$work/agentsim" -hub "$hub_url" -hub-pid "$hub_pid" -agents 1 -rate 0 -vus 10000 -think 1s \
  -target "http://127.0.0.1:$tport" -duration "$duration"
served=$(curl -fsS "http://127.0.0.1:$tport/stats")
echo "target: $served"
