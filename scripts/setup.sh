#!/usr/bin/env bash
# One-time set-up of a fresh Debian 12 machine for brink: system packages,
# a running Docker engine, Go modules and the web UI's npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/dockerd.sh
go mod download
if [[ -f web/package.json ]]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup ok"
