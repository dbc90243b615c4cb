#!/usr/bin/env bash
# rock-trainer learning ALFWorld on the CPU: the success rate of the trained policy against the
# random agent (the same pipeline with --lr 0 and no --imitation: the untrained policy is
# near-uniform over the admissible commands), on the same generated tasks, rockd and flags. Prints a markdown block
# for docs/BENCHMARKS.md: the budget, the machine, the command, the table and the curve.
#
# Environment (defaults in brackets):
#   ROCKD, ROCK_TRAINER   binaries [build/bin/rockd, build/bin/rock-trainer]
#   LEARN_SECONDS         wall-clock budget of the trained run [1800]
#   RANDOM_SECONDS        budget of the random-agent run [300]
#   TRAINER_FLAGS         the flags both runs share [the make run demo's, below]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
rockd=${ROCKD:-$root/build/bin/rockd}
trainer=${ROCK_TRAINER:-$root/build/bin/rock-trainer}
learn_s=${LEARN_SECONDS:-1800}
random_s=${RANDOM_SECONDS:-300}
flags=${TRAINER_FLAGS:-"--env alfworld --task-types pick_and_place_simple --max-steps 30 --algo grpo --lr 0.003 \
--reward won --curriculum 4 --imitation 10 --ppo-epochs 1 --schedule-steps 2500 --temperature 0.05 --dim 32 --layers 2 --heads 2 --kv-heads 1 --hidden 64 \
--prompt-bytes 240 --history 3 --match-slots 8 --group-size 4 --batch-groups 1"}
for binary in "$rockd" "$trainer"; do
  [[ -x $binary ]] || { echo "trainer_learning: $binary not built (run make build)" >&2; exit 1; }
done

# The policy's OpenMP workers share the 2 cores with rockd and its sandboxes: spinning while they
# wait would take CPU the envs need (make run does the same).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

work=$(mktemp -d)
# shellcheck source=bench/rockd_lib.sh
source "$root/bench/rockd_lib.sh"
trap cleanup_rockd EXIT

start_rockd

# shellcheck disable=SC2086 # flags is a word list
"$trainer" --endpoint "127.0.0.1:$port" --name random $(sed -E 's/--(lr|imitation|curriculum) [^ ]+//g' <<<"$flags") --lr 0 \
  --time-limit "$random_s" --quiet \
  --summary "$work/random.json"
# shellcheck disable=SC2086
"$trainer" --endpoint "127.0.0.1:$port" --name trained $flags \
  --time-limit "$learn_s" --quiet --summary "$work/trained.json"

python3 - "$work" "$learn_s" "$flags" <<'PY'
import json, os, platform, sys
work, learn_s, flags = sys.argv[1], float(sys.argv[2]), sys.argv[3]
random = json.load(open(f"{work}/random.json"))
trained = json.load(open(f"{work}/trained.json"))

def rate(points):
    # Episodes from the task's start only: --curriculum's near-goal starts are not the task.
    points = [p for p in points if p.get("episodes_from_start", 0) > 0]
    episodes = sum(p["episodes_from_start"] for p in points)
    wins = sum(p["success_rate"] * p["episodes_from_start"] for p in points)
    reward = sum(p["reward_mean"] * p["episodes_from_start"] for p in points)
    return episodes, wins / max(episodes, 1), reward / max(episodes, 1)

curve = trained["curve"]
tail = curve[-max(1, len(curve) // 5):]
model = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
print(f"- machine: {os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}")
print(f"- budget: {learn_s:.0f} s wall clock for the trained run (rock-trainer used {trained['cpu_s']:.0f} s of CPU;"
      f" rockd and its sandboxes ran beside it), {trained['versions']} updates")
print(f"- command: `bench/trainer_learning.sh` (`make bench`), both runs with `{flags}`;"
      " the random agent drops `--imitation` and `--curriculum` and sets `--lr 0`\n")
print("| policy | episodes from the task's start | success rate | mean return |")
print("|---|---:|---:|---:|")
n, s, r = rate(random["curve"])
print(f"| random agent (untrained, near-uniform over admissible commands) | {n} | {100 * s:.1f}% | {r:.2f} |")
n, s, r = rate(curve[: max(1, len(curve) // 5)])
print(f"| trained, first fifth of the updates | {n} | {100 * s:.1f}% | {r:.2f} |")
n, s, r = rate(tail)
print(f"| trained, last fifth of the updates | {n} | {100 * s:.1f}% | {r:.2f} |")
print("\nThe curve (the run in tenths, each tenth's updates pooled):\n")
print("| update | elapsed s | success rate | mean return | expert agreement | success near the goal |")
print("|---:|---:|---:|---:|---:|---:|")
step = max(1, len(curve) // 10)
for i in range(0, len(curve), step):
    window = curve[i:i + step]
    n, s, r = rate(window)
    agreement = [p["expert_agreement"] for p in window if "expert_agreement" in p]
    shown = f"{100 * sum(agreement) / len(agreement):.0f}%" if agreement else "–"
    near = sum(p.get("episodes_near_goal", 0) for p in window)
    near_wins = sum(p.get("success_near_goal", 0) * p.get("episodes_near_goal", 0) for p in window)
    near_shown = f"{100 * near_wins / near:.0f}% of {near}" if near else "–"
    print(f"| {curve[i]['step']} | {curve[i]['elapsed_s']:.0f} | {100 * s:.1f}% | {r:.2f} | {shown} | {near_shown} |")
PY
stop_rockd
