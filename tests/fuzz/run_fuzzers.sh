#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz) in a clang build of its own and runs each for a
# bounded time. Exits non-zero if any fuzzer finds a crash, a sanitizer report, a leak or a
# timeout, and prints the input that caused it.
#
#   run_fuzzers.sh <source_dir> <seconds_per_fuzzer> [build_dir]
#
# build_dir (default <source_dir>/build-fuzz) is configured once and reused; each fuzzer's corpus
# grows in build_dir/fuzz-corpus/<name> from run to run. ROCK_FUZZ_JOBS sets ninja's -j
# (default 1: the build hosts are shared).
set -euo pipefail

if (($# < 2 || $# > 3)); then
  echo "usage: $0 <source_dir> <seconds_per_fuzzer> [build_dir]" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
seconds=$2
build=${3:-$src/build-fuzz}

# The build's output goes to a log, shown only when the build fails.
mkdir -p "$build"
if [[ ! -f $build/CMakeCache.txt ]]; then
  # Tests and benchmarks are not needed here; warnings are the GCC build's job, and clang's
  # differing set must not stop a fuzz run, so they do not fail this build.
  CC=clang-14 CXX=clang++-14 cmake -S "$src" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DROCK_FUZZ=ON -DROCK_BUILD_TESTS=OFF -DROCK_WERROR=OFF >"$build/configure.log" 2>&1 ||
    { tail -n 40 "$build/configure.log"; exit 1; }
fi
ninja -C "$build" -j "${ROCK_FUZZ_JOBS:-1}" rock_fuzzers >"$build/build.log" 2>&1 ||
  { tail -n 60 "$build/build.log"; exit 1; }
echo "fuzzers built in $build (log: $build/build.log)"

failed=()
for manifest in "$build"/fuzzers/*.fuzzer; do
  name=$(basename "$manifest" .fuzzer)
  corpus=$build/fuzz-corpus/$name
  artifacts=$build/fuzz-artifacts/$name
  log=$build/fuzz-logs/$name.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  mapfile -t extra <"$manifest"  # seed corpus directories and -dict=, one per line

  # -timeout: one input running this long is a hang; -rss_limit_mb: a runaway allocation.
  if "$build/fuzzers/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "${extra[@]}" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "$name: no crash in ${seconds}s, ${runs:-?} inputs run, corpus $(find "$corpus" -type f | wc -l) files"
  else
    failed+=("$name")
    echo "$name: FAILED (log: $log)"
  fi
done
# The failures' details last, where a truncated CI log still shows them.
for name in "${failed[@]}"; do
  log=$build/fuzz-logs/$name.log
  echo "== $name: the end of $log"
  tail -n 40 "$log"
  sed -n 's/.*Test unit written to \(.*\)$/crash input: \1/p' "$log"
done
((${#failed[@]} == 0))
