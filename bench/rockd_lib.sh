# Sourced by the bench scripts that need a rockd of their own: `start_rockd [CONFIG_JSON]` starts
# $rockd on a free loopback port with a fresh data dir under $work, waits until it is ready and
# sets rockd_pid and port; `stop_rockd` stops it with SIGTERM. The caller sets rockd and work
# and traps EXIT to `cleanup_rockd` (which also removes $work).
start_rockd() {
  local args=(--listen 127.0.0.1:0 --port-file "$work/port" --data-dir "$work/data")
  if [[ -n ${1:-} ]]; then
    printf '%s\n' "$1" >"$work/rockd.json"
    args+=(--config "$work/rockd.json")
  fi
  "$rockd" "${args[@]}" >"$work/rockd.log" 2>&1 &
  rockd_pid=$!
  for _ in $(seq 200); do [[ -s $work/port ]] && break; sleep 0.1; done
  [[ -s $work/port ]] || { echo "rockd did not start:" >&2; cat "$work/rockd.log" >&2; exit 1; }
  port=$(cat "$work/port")
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "rockd did not become ready:" >&2
  tail -20 "$work/rockd.log" >&2
  exit 1
}

stop_rockd() {
  kill -TERM "$rockd_pid"
  wait "$rockd_pid" || true
  rockd_pid=
}

cleanup_rockd() {
  [[ -n ${rockd_pid:-} ]] && kill -KILL "$rockd_pid" 2>/dev/null
  rm -rf "$work"
}
