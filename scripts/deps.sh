#!/usr/bin/env bash
# Installs what brink's lab and tests need on a fresh Debian 12 machine:
# Docker Engine, HAProxy, wrk, Chromium (browser tests), protoc, iproute2.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
need=()
for pkg in docker.io haproxy wrk chromium protobuf-compiler iproute2 procps; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "deps ok: docker.io haproxy wrk chromium protobuf-compiler iproute2"
