#!/usr/bin/env bash
# `make bench`: runs the benchmarks and writes their fresh output into docs/BENCHMARKS.md, each
# block headed by its command, the time and the commit (the benches print the machine and the
# comparisons, all measured in the same run). The notes around the blocks are kept.
#
#   bench/report.sh [NAME ...]     (default: all, in the order below; make bench BENCH="NAME ...")
#
# All of them take well over an hour on 2 cores, most of it the 30-minute soak and the
# 30-minute learning run; name a few to refresh only those. A bench that fails keeps its old
# block, its log is shown, and the script exits non-zero once the others are written.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# In the order they run: each bench's name, then its command as run from the repository root.
benches=(
  "http bench/http_load.sh"
  "sandbox build/bin/sandbox_bench"
  "alfworld build/bin/alfworld_bench"
  "episode build/bin/episode_bench --seconds 5"
  "swebench build/bin/swebench_bench --seconds 10"
  "policy env OMP_WAIT_POLICY=passive build/bin/policy_bench"
  "trainer_async bench/trainer_async.sh"
  "trainer_learning bench/trainer_learning.sh"
  "chaos_soak bench/chaos_soak.sh"
)
declare -A commands=()
order=()
for bench in "${benches[@]}"; do
  order+=("${bench%% *}")
  commands[${bench%% *}]=${bench#* }
done

names=("$@")
((${#names[@]})) || names=("${order[@]}")
for name in "${names[@]}"; do
  [[ -n ${commands[$name]:-} ]] || { echo "bench/report.sh: no bench '$name' (benches: ${order[*]})" >&2; exit 2; }
done

out=$root/build/bench-report
mkdir -p "$out"
revision=$(git describe --always --dirty 2>/dev/null || echo "no commit")
spliced=() failed=()
for name in "${names[@]}"; do
  command=${commands[$name]}
  echo "== $name: $command" >&2
  began=$(date -u '+%Y-%m-%d %H:%M UTC')
  # shellcheck disable=SC2086 # a command line of words
  if $command >"$out/$name.out" 2>"$out/$name.log"; then
    { echo "- run: \`$command\` (\`make bench\`), $began, git $revision"
      cat "$out/$name.out"; } >"$out/$name.md"
    spliced+=("$name=$out/$name.md")
  else
    failed+=("$name")
    echo "$name failed; its block is left as it was. The end of its log ($out/$name.log):" >&2
    tail -n 30 "$out/$name.log" >&2
  fi
done

if ((${#spliced[@]})); then
  python3 bench/splice_report.py docs/BENCHMARKS.md "${spliced[@]}"
  echo "docs/BENCHMARKS.md: rewrote ${spliced[*]%%=*}" >&2
fi
if ((${#failed[@]})); then
  echo "bench/report.sh: failed: ${failed[*]}" >&2
  exit 1
fi
