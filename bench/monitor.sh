#!/usr/bin/env bash
# The monitor part of `make bench`: brink monitor against 100 idle FROM
# scratch containers (--network host) at a 1 s interval, side by side with
# cAdvisor when it can be built here.
#
# Reports brink's CPU (% of one core, from /proc/<pid>/stat over the
# measurement window), RSS, /metrics size and response time, tick lag and
# collection duration, then the same figures for cAdvisor (or, when it
# cannot be built from the module proxy, the figures measured on a machine
# of this kind in /work/shared/ANCHORS.md) and brink's ratios.
#
# Environment: CONTAINERS (default 100), SECONDS_MEASURED (default 60),
# BRINK (a built binary; default: built here), OUT (default out/bench/monitor).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${CONTAINERS:-100}
WINDOW=${SECONDS_MEASURED:-60}
OUT=${OUT:-out/bench/monitor}
LABEL=brink.bench=monitor
mkdir -p "$OUT"
work=$(mktemp -d)
monitor_pid=""
receiver_pid=""

cleanup() {
  [[ -n "$receiver_pid" ]] && kill "$receiver_pid" 2>/dev/null || true
  [[ -n "$monitor_pid" ]] && kill "$monitor_pid" 2>/dev/null && wait "$monitor_pid" 2>/dev/null || true
  ids=$(docker ps -aq --filter "label=$LABEL" || true)
  if [[ -n "$ids" ]]; then
    echo "removing $(echo "$ids" | wc -w) benchmark containers"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  echo "dockerd is not reachable: run bash scripts/setup.sh" >&2
  exit 1
fi

echo "== building brink and the idle image"
if [[ -z "${BRINK:-}" ]]; then
  CGO_ENABLED=0 go build -trimpath -o "$work/brink" ./cmd/brink
  BRINK=$work/brink
fi
mkdir -p "$work/img"
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/img/workload" ./internal/monitor/workload
cp bench/monitor/Dockerfile "$work/img/"
docker build -q -t brink-bench-idle:latest "$work/img" >/dev/null

echo "== starting $N idle containers (--network host)"
for i in $(seq -w 1 "$N"); do
  docker run -d --network host --label "$LABEL" --name "brink-bench-idle-$i" brink-bench-idle:latest >/dev/null
done

# cpu_ticks PID: user+system clock ticks (1/100 s) of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# measure NAME PID URL: CPU over the window (scraped every 15 s, as
# Prometheus does by default), peak RSS, /metrics size and time.
measure() {
  local name=$1 pid=$2 url=$3
  sleep 10 # warm-up: first ticks, caches, page faults
  local t0 c0 t1 c1 peak=0 rss i=0
  t0=$(date +%s.%N); c0=$(cpu_ticks "$pid")
  local end=$((SECONDS + WINDOW))
  while ((SECONDS < end)); do
    ((i++ % 3 == 0)) && curl -s -o /dev/null "$url"
    rss=$(rss_kib "$pid"); ((rss > peak)) && peak=$rss
    sleep 5
  done
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  rss=$(rss_kib "$pid"); ((rss > peak)) && peak=$rss
  local cpu
  cpu=$(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (c1-c0)/100/(t1-t0)*100}')
  # /metrics: 10 uncompressed requests, median time.
  local times=() size=0
  for _ in $(seq 1 10); do
    read -r s tm < <(curl -s -o "$OUT/$name.metrics" -w '%{size_download} %{time_total}\n' "$url")
    size=$s; times+=("$tm")
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]*1000}')
  rss=$(rss_kib "$pid"); ((rss > peak)) && peak=$rss
  local series
  series=$(grep -c '^container_' "$OUT/$name.metrics" || true)
  echo "$name $cpu $((peak / 1024)) $size $median $series" >>"$OUT/results.txt"
  printf '%-10s cpu %6s %% of one core   rss %4s MiB (peak)   /metrics %8s bytes in %6s ms (median of 10)   %s container_* series\n' \
    "$name" "$cpu" "$((peak / 1024))" "$size" "$median" "$series"
  echo "           (machine load average during the run: $(cut -d' ' -f1-3 /proc/loadavg))"
}

# run_brink NAME [ARGS...]: start brink monitor with ARGS, wait until it
# reports every container, measure it, stop it.
run_brink() {
  local name=$1
  shift
  # Port 0: the monitor picks a free port and prints it.
  "$BRINK" monitor --listen 127.0.0.1:0 --interval 1s --log-level warn "$@" >"$OUT/$name.out" 2>"$OUT/$name.log" &
  monitor_pid=$!
  local listen="" n=""
  for _ in $(seq 1 100); do
    listen=$(sed -n 's|.*serving http://\([0-9.:]*\)/metrics.*|\1|p' "$OUT/$name.out")
    [[ -n "$listen" ]] && break
    sleep 0.1
  done
  if [[ -z "$listen" ]]; then
    echo "brink monitor did not start:" >&2; cat "$OUT/$name.log" >&2; exit 1
  fi
  for _ in $(seq 1 120); do
    n=$(curl -s "http://$listen/metrics" | awk '/^brink_monitor_containers/ {print $2}' || true)
    [[ -n "$n" && "$n" -ge "$N" ]] && break
    sleep 0.5
  done
  echo "brink reports ${n:-0} containers"
  measure "$name" "$monitor_pid" "http://$listen/metrics"
  grep -E '^brink_monitor_(tick_lag_seconds|collection_duration_seconds|ticks_total|ticks_missed_total|remote_write_(samples_total|failures_total|pending_requests))' "$OUT/$name.metrics" |
    sed 's/{[^}]*}//; s/ [0-9]*$//; s/^/  /'
  kill "$monitor_pid"; wait "$monitor_pid" 2>/dev/null || true; monitor_pid=""
}

: >"$OUT/results.txt"
echo "== brink monitor at 1 s, measured over ${WINDOW} s"
run_brink brink

# The same with every tick pushed by remote write to a receiver that
# accepts and discards (its own CPU is not counted).
echo "== brink monitor at 1 s with --remote-write, measured over ${WINDOW} s"
python3 -u -c '
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1])
s.serve_forever()' >"$work/receiver.port" &
receiver_pid=$!
for _ in $(seq 1 50); do [[ -s "$work/receiver.port" ]] && break; sleep 0.1; done
run_brink brink+rw --remote-write "http://127.0.0.1:$(cat "$work/receiver.port")/api/v1/write" --buffer-dir "$work/buffer"
kill "$receiver_pid"; wait "$receiver_pid" 2>/dev/null || true

echo "== cAdvisor"
cadvisor=""
if GOBIN="$work" timeout 600 go install github.com/google/cadvisor/cmd@v0.60.5 >"$OUT/cadvisor-build.log" 2>&1 && [[ -x "$work/cmd" ]]; then
  cadvisor="$work/cmd"
fi
if [[ -n "$cadvisor" ]]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$cadvisor" -listen_ip 127.0.0.1 -port "$port" -housekeeping_interval 1s -docker_only >"$OUT/cadvisor.log" 2>&1 &
  monitor_pid=$!
  sleep 5
  measure cadvisor "$monitor_pid" "http://127.0.0.1:$port/metrics"
else
  echo "cAdvisor could not be built from the module proxy ($(tail -1 "$OUT/cadvisor-build.log"))"
  echo "comparing with cAdvisor v0.60.5 as measured on a machine of this kind (shared/ANCHORS.md):"
  echo "cadvisor 9.1 88 2220000 51 10723" >>"$OUT/results.txt"
  printf '%-10s cpu %6s %% of one core   rss %4s MiB           /metrics %8s bytes in %6s ms                %s container_* series\n' \
    "cadvisor" 9.1 88 2220000 51 10723
fi

echo "== brink / cAdvisor"
awk '{v[$1]=$0} END {
  split(v["brink"], b); split(v["cadvisor"], c)
  printf "cpu %.3fx   rss %.3fx   /metrics size %.3fx   /metrics time %.3fx\n", b[2]/c[2], b[3]/c[3], b[4]/c[4], b[5]/c[5]
}' "$OUT/results.txt" | tee "$OUT/ratios.txt"
echo "budget: cpu <= 1 %, rss <= 80 MB, /metrics <= 1 MB and <= 50 ms; goal ratio <= 0.5x"
