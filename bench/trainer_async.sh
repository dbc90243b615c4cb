#!/usr/bin/env bash
# rock-trainer end to end: trajectories/s of synchronous training (alpha 0, a batch barrier)
# against asynchronous training (alpha 1, 2, 4) on one rockd, same pools, same batch, same
# model, in one run. Two envs: `sleepy` (heavy-tailed steps: pareto, the slowest episode of a
# batch sets the pace of a barrier) and ALFWorld (the policy and the learner cost real CPU).
# Prints a markdown block for docs/BENCHMARKS.md.
#
# Environment (defaults in brackets):
#   ROCKD, ROCK_TRAINER   binaries [build/bin/rockd, build/bin/rock-trainer]
#   ALPHAS                asynchronous ratios to compare with 0 ["1 2 4"]
#   SLEEPY_VERSIONS       updates per sleepy run [12]
#   ALFWORLD_VERSIONS     updates per ALFWorld run [4]
#   ENVS                  which envs to run ["sleepy alfworld"]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rockd=${ROCKD:-$root/build/bin/rockd}
trainer=${ROCK_TRAINER:-$root/build/bin/rock-trainer}
read -r -a alphas <<<"${ALPHAS:-1 2 4}"
sleepy_versions=${SLEEPY_VERSIONS:-12}
alfworld_versions=${ALFWORLD_VERSIONS:-4}
read -r -a envs <<<"${ENVS:-sleepy alfworld}"
for binary in "$rockd" "$trainer"; do
  [[ -x $binary ]] || { echo "trainer_async: $binary not built (run make build)" >&2; exit 1; }
done

work=$(mktemp -d)
# shellcheck source=bench/rockd_lib.sh
source "$root/bench/rockd_lib.sh"
trap cleanup_rockd EXIT

# 48 one-slot sleepy sandboxes (a sleepy step blocks its worker, as a real env's would) and
# ALFWorld's 64-slot ones, the same for every alpha. A sleepy step of up to 5 s blocks its
# worker's heartbeat too: 10 missed pings of 1 s before a sandbox counts as hung. Every row gets
# a fresh rockd: a run that stops leaves episodes running (until they idle out) and queued,
# which would take the next row's slots.
config='{"pools": {"sleepy": {"min": 48, "max": 48, "slots": 1, "limits": {"memory_mb": 64}},
           "alfworld": {"min": 2, "max": 2, "slots": 64}},
 "health": {"misses": 10},
 "episodes": {"step_timeout_ms": 30000}}'

model=(--dim 32 --layers 2 --heads 2 --kv-heads 1 --hidden 64 --prompt-bytes 128 --quiet)
sleepy_task='{"steps": 8, "distribution": "pareto", "scale_ms": 20, "shape": 1.2, "cap_ms": 5000}'

# run ENV ALPHA VERSIONS ARGS...: prints "trajectories/s trained/s seconds stale-actions"
run() {
  local env=$1 alpha=$2 versions=$3
  shift 3
  rm -rf "$work/data" "$work/port"
  start_rockd "$config"
  "$trainer" --endpoint "127.0.0.1:$port" --name "$env-a$alpha" --env "$env" --alpha "$alpha" \
    --versions "$versions" --group-size 8 --batch-groups 4 "${model[@]}" --summary "$work/s.json" "$@" >&2
  stop_rockd
  python3 -c "
import json; s = json.load(open('$work/s.json'))
print('%.2f %.2f %.1f %d' % (s['trajectories_per_s'], s['trained_per_s'], s['elapsed_s'], s['stale_actions']))"
}

echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "- command: \`bench/trainer_async.sh\` (\`make bench\`); a fresh rockd of the same config for every row; 4 groups of 8 per update; model dim 32, 2 layers"
echo "- sleepy: \`$sleepy_task\` on 48 one-slot sandboxes, $sleepy_versions updates per row; ALFWorld: generated pick_and_place_simple, 30 steps, progress reward, on 2 sandboxes of 64 slots, $alfworld_versions updates per row"
echo
echo "| env | alpha | trajectories/s | trained/s | seconds | actions older than alpha | trained/s vs synchronous |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for env in "${envs[@]}"; do
  if [[ $env == sleepy ]]; then
    versions=$sleepy_versions
    args=(--task "$sleepy_task" --action generate --gen-tokens 4)
  else
    versions=$alfworld_versions
    args=(--task-types pick_and_place_simple --max-steps 30)
  fi
  base=
  for alpha in 0 "${alphas[@]}"; do
    read -r rate trained seconds stale < <(run "$env" "$alpha" "$versions" "${args[@]}")
    [[ -z $base ]] && base=$trained
    ratio=$(python3 -c "print('%.2fx' % ($trained / $base))")
    echo "| $env | $alpha | $rate | $trained | $seconds | $stale | $ratio |"
  done
done
