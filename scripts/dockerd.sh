#!/usr/bin/env bash
# Starts a Docker engine for brink's lab and tests if none answers yet.
# This machine has no bridge networking: every container runs with
# --network host, so the daemon runs with --bridge=none --iptables=false.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  echo "dockerd already running"
  exit 0
fi
log=${DOCKERD_LOG:-/var/log/brink-dockerd.log}
nohup dockerd --bridge=none --iptables=false >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "dockerd started (log: $log)"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not come up within 30 s; last lines of $log:" >&2
tail -20 "$log" >&2
exit 1
