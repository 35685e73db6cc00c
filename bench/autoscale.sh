#!/usr/bin/env bash
# bench/autoscale.sh: the autoscaler's measured goals (issue 7), side by side
# with an HPA-default policy on the same actuator and load balancer.
#
# One load profile — comfortable (0.5x one replica's capacity), a step to 3x,
# a hold, a drop back — runs twice: under brink's policy (5 s decisions, fast
# path, 60 s scale-down window) and under the HPA's defaults (15 s sync, 10 %
# tolerance, 300 s scale-down window). Replicas are real Docker containers of
# brink-target (FROM scratch, --cpus 0.15, 1 ms of CPU per request, --network host) behind a real
# HAProxy driven through its Runtime API. Takes about 12 minutes.
#
# Usage: bash bench/autoscale.sh [extra flags of bench/autoscale, e.g. -policies brink]
# Goals: decision <= 5 s after the step; first new replica serving <= container
# start + 5 s; 0 failed requests; 0 reversals at constant load; back to min
# within the scale-down window after the drop.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  echo "dockerd is not reachable: run bash scripts/setup.sh (or bash scripts/dockerd.sh)" >&2
  exit 1
fi
command -v haproxy >/dev/null || { echo "haproxy is not installed: run bash scripts/setup.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/app" ./cmd/brink-target
printf 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n' >"$work/Dockerfile"
if ! DOCKER_BUILDKIT=0 docker build -q -t brink-target:bench "$work" >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  exit 1
fi
go build -o "$work/bench-autoscale" ./bench/autoscale
"$work/bench-autoscale" -image brink-target:bench "$@"
