#!/usr/bin/env bash
# ExampleTrainerPlaysEpisodesAndAcksTrajectories: docs/examples/example_trainer.py plays 8
# ALFWorld episodes (2 groups of 4) through a real rockd's /ws/trainer and acks every trajectory;
# a second run with the same --state-file resumes after the first and gets none of its
# trajectories again; the REST listing then holds all 16, and /metrics passes promtool.
# Usage: run_example_trainer.sh ROCKD_BINARY SOURCE_DIR
set -euo pipefail

rockd=$(realpath "${1:?usage: run_example_trainer.sh ROCKD_BINARY SOURCE_DIR}")
src=$(realpath "${2:?usage: run_example_trainer.sh ROCKD_BINARY SOURCE_DIR}")
example=$src/docs/examples/example_trainer.py
trainer="example-trainer"

if ((EUID != 0)); then
  echo "SKIPPED: needs root: rockd's pool sandboxes need namespaces and cgroups"
  exit 77  # ctest's SKIP_RETURN_CODE for this test
fi

# The example needs Debian's python3-websockets (scripts/install-deps.sh), which lives in
# /usr/bin/python3's dist-packages: a python3 earlier on PATH (pyenv, a venv) may lack it.
py=
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c 'import websockets' 2>/dev/null; then py=$candidate; break; fi
done
[[ -n $py ]] || { echo "FAIL: no python3 with websockets; run scripts/install-deps.sh"; exit 1; }

dir=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {  # fail MESSAGE: print it and the end of rockd's log, then exit 1
  echo "FAIL: $1"
  echo "--- last lines of rockd's log:"
  tail -n 40 "$dir/rockd.log" 2>/dev/null || true
  exit 1
}

cat >"$dir/config.json" <<'EOF'
{"pools": {"alfworld": {"min": 1, "max": 2, "slots": 16}}}
EOF
"$rockd" --listen 127.0.0.1:0 --port-file "$dir/port" --data-dir "$dir/data" \
  --config "$dir/config.json" >"$dir/rockd.log" 2>&1 &
pid=$!

# Wait (at most 20 s) for the port file, then (at most 30 s) for /readyz to answer 200.
for _ in $(seq 200); do
  [[ -s $dir/port ]] && break
  kill -0 "$pid" 2>/dev/null || fail "rockd exited before writing its port file"
  sleep 0.1
done
[[ -s $dir/port ]] || fail "no port file after 20 s"
base=http://127.0.0.1:$(cat "$dir/port")
ready=
for _ in $(seq 300); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/readyz" || true)
  [[ $code == 200 ]] && { ready=1; break; }
  kill -0 "$pid" 2>/dev/null || fail "rockd exited before /readyz was 200"
  sleep 0.1
done
[[ -n $ready ]] || fail "/readyz not 200 after 30 s (last: $code)"
echo "PASS: rockd ready on $base"

run_trainer() {  # run_trainer OUTFILE SEED: one run of the example; its JSON summary goes to OUTFILE
  if ! timeout 90 "$py" "$example" --url "ws://127.0.0.1:${base##*:}/ws/trainer" \
      --trainer "$trainer" --episodes 8 --group-size 4 --env alfworld --max-steps 20 \
      --seed "$2" --timeout 60 --state-file "$dir/state.json" >"$1" 2>"$1.err"; then
    cat "$1.err"
    fail "example_trainer.py exited non-zero (run $2)"
  fi
  cat "$1"
}

check_summary() {  # check_summary FILE [EARLIER_FILE]
  "$py" - "$@" <<'EOF' || fail "summary check of $1"
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert s["trajectories"] == 8, f"trajectories {s['trajectories']}, want 8"
assert s["episodes"] == 8, f"episodes {s['episodes']}, want 8"
assert s["duplicates"] == 0, f"duplicates {s['duplicates']}"
assert s["steps"] >= 8, f"steps {s['steps']}: every episode takes at least one"
if len(sys.argv) > 2:  # the second run resumed after every seq of the first
    first = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
    assert s["first_seq"] > first["last_seq"], \
        f"second run got seq {s['first_seq']}, not after the first run's last {first['last_seq']}"
EOF
}

run_trainer "$dir/run1.json" 1
check_summary "$dir/run1.json"
echo "PASS: first run played 8 episodes and acked 8 trajectories"

run_trainer "$dir/run2.json" 2
check_summary "$dir/run2.json" "$dir/run1.json"
echo "PASS: second run resumed from the state file and got no trajectory of the first again"

# The REST listing has all 16 trajectories of the trainer, 16 distinct seqs and episodes.
curl -sf --max-time 10 "$base/api/v1/trajectories?trainer=$trainer&limit=1000" >"$dir/list.json" ||
  fail "GET /api/v1/trajectories?trainer=$trainer"
"$py" - "$dir/list.json" "$trainer" <<'EOF' || fail "trajectory listing: $(head -c 400 "$dir/list.json")"
import json, sys
body = json.load(open(sys.argv[1]))
items = body["trajectories"] if isinstance(body, dict) else body
assert len(items) == 16, f"{len(items)} trajectories listed, want 16"
assert len({t["seq"] for t in items}) == 16, "seqs not distinct"
assert len({t["episode"] for t in items}) == 16, "episodes not distinct"
assert all(t.get("trainer", sys.argv[2]) == sys.argv[2] for t in items), "another trainer's"
EOF
echo "PASS: GET /api/v1/trajectories?trainer=$trainer lists 16"

curl -sf --max-time 10 "$base/metrics" >"$dir/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$dir/metrics.txt" >"$dir/promtool.txt" 2>&1 ||
  { cat "$dir/promtool.txt"; fail "promtool check metrics"; }
echo "PASS: /metrics passes promtool check metrics"

# SIGTERM: rockd drains and exits 0 (bounded: 15 s, then the trap kills it).
kill -TERM "$pid"
for _ in $(seq 150); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "rockd still running 15 s after SIGTERM"
status=0
wait "$pid" || status=$?
pid=
((status == 0)) || fail "rockd exited $status after SIGTERM"
echo "PASS: rockd stopped on SIGTERM"
