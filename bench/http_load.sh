#!/usr/bin/env bash
# HTTP throughput and latency of rockd under a loopback keep-alive load (wrk).
# Prints a markdown block for docs/BENCHMARKS.md: the machine, then one table row per run
# with the exact wrk command. Each rockd configuration runs once against /healthz and once
# against a JSON endpoint (/api/v1/info); rockd is stopped with SIGTERM and must exit 0.
#
# Environment (defaults in brackets):
#   ROCKD            rockd binary [build/bin/rockd]
#   WRK_THREADS      wrk threads [1]; on a 2-core machine wrk and rockd share the cores
#   WRK_CONNECTIONS  concurrent keep-alive connections [64]
#   WRK_DURATION     measured duration per run [10s]
#   WRK_WARMUP       unmeasured warm-up per run [2s]
#   HTTP_THREADS     rockd http.threads values to compare; "default" = the embedded default
#                    ["default 1"]
#   ENDPOINTS        paths to load ["/healthz /api/v1/info"]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rockd=${ROCKD:-$root/build/bin/rockd}
threads=${WRK_THREADS:-1}
connections=${WRK_CONNECTIONS:-64}
duration=${WRK_DURATION:-10s}
warmup=${WRK_WARMUP:-2s}
read -r -a http_threads_list <<<"${HTTP_THREADS:-default 1}"
read -r -a endpoints <<<"${ENDPOINTS:-/healthz /api/v1/info}"

[[ -x $rockd ]] || { echo "http_load: $rockd not built (run make build)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "http_load: wrk missing (run make deps)" >&2; exit 1; }

work=$(mktemp -d)
rockd_pid=
cleanup() {
  [[ -n $rockd_pid ]] && kill -KILL "$rockd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Starts rockd on a free loopback port with http.threads = $1 and sets rockd_pid and port.
start_rockd() {
  local http_threads=$1 data_dir="$work/data-$1" port_file="$work/port-$1"
  local args=(--listen 127.0.0.1:0 --port-file "$port_file" --data-dir "$data_dir" --log-level warn)
  if [[ $http_threads != default ]]; then
    echo "{\"http\":{\"threads\":$http_threads}}" >"$work/config-$http_threads.json"
    args+=(--config "$work/config-$http_threads.json")
  fi
  mkdir -p "$data_dir"
  # The bench measures the open endpoints; a token in the caller's environment would 401 /api.
  env -u ROCKD_TOKEN "$rockd" "${args[@]}" 2>"$work/rockd-$http_threads.log" &
  rockd_pid=$!
  for _ in $(seq 100); do
    [[ -s $port_file ]] && { port=$(<"$port_file"); return 0; }
    kill -0 "$rockd_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "http_load: rockd did not write $port_file; its log:" >&2
  cat "$work/rockd-$http_threads.log" >&2
  exit 1
}

# SIGTERM must drain and exit 0.
stop_rockd() {
  local rc=0
  kill -TERM "$rockd_pid"
  wait "$rockd_pid" || rc=$?
  rockd_pid=
  if ((rc != 0)); then
    echo "http_load: rockd exited $rc after SIGTERM; its log:" >&2
    cat "$work/rockd-$1.log" >&2
    exit 1
  fi
}

# wrk prints latencies as 85.12us, 1.20ms or 1.01s; the table shows microseconds.
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : -1
    if (f < 0) { print "?" } else { printf "%.0f", n * f }
  }'
}

default_threads=$("$rockd" --print-config | python3 -c 'import json, sys; print(json.load(sys.stdin)["http"]["threads"])')
revision=$(git -C "$root" describe --always --dirty 2>/dev/null || echo "no commit")
echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo "- rockd: git $revision, $rockd"
echo "- rockd command: rockd --listen 127.0.0.1:0 --port-file F --data-dir D --log-level warn" \
  "[--config C, where C is {\"http\":{\"threads\":N}}]"
echo "- load: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), loopback, keep-alive"
echo
echo "| endpoint | rockd http.threads | requests/s | p50 (µs) | p99 (µs) | errors | command |"
echo "|---|---|---:|---:|---:|---:|---|"

for http_threads in "${http_threads_list[@]}"; do
  start_rockd "$http_threads"
  label=$http_threads
  [[ $http_threads == default ]] && label="$default_threads (default)"
  for path in "${endpoints[@]}"; do
    url="http://127.0.0.1:$port$path"
    wrk -t"$threads" -c"$connections" -d"$warmup" "$url" >/dev/null
    cmd=(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url")
    out=$("${cmd[@]}")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    # Non-2xx responses plus connect/read/write/timeout socket errors.
    errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
    echo "| \`$path\` | $label | $rps | $p50 | $p99 | $errors | \`${cmd[*]/127.0.0.1:$port/127.0.0.1:PORT}\` |"
  done
  stop_rockd "$http_threads"
done
