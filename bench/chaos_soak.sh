#!/usr/bin/env bash
# The long chaos soak (tests/soak/chaos_soak.cc, which make test runs for 90 s): thousands of
# ALFWorld and SWE-bench episodes over the trainer stream and shell sandboxes over HTTP while
# every fault is injected, then the accounting against rockd's database, the host's leaks and
# rockd's memory over time. Prints a markdown block for docs/BENCHMARKS.md.
#
# Environment (defaults in brackets):
#   SOAK_SECONDS   how long the load and the faults run [1800]
#   SOAK_FLAGS     more chaos_soak flags [4 trainers of 24 episodes, 1 s stalls, rockd killed every 300 s]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${SOAK_SECONDS:-1800}
flags=${SOAK_FLAGS:-"--trainers 4 --in-flight 24 --stall-ms 1000 --rockd-kill-every-s 300"}
[[ -x $root/build/bin/chaos_soak ]] || { echo "chaos_soak: build/bin/chaos_soak not built (run make build)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy of the binaries, so that a rebuild while the soak runs changes nothing under it.
cp -a "$root/build/bin" "$root/build/share" "$work/"
mkdir "$work/run"
# shellcheck disable=SC2086 # flags is a word list
if ! "$work/bin/chaos_soak" --rockd "$work/bin/rockd" --seconds "$seconds" $flags --work-dir "$work/run" \
    --report "$work/report.json" >"$work/output.txt" 2>&1; then
  # Kept whole: rockd's database and each process's log are what tell why.
  trap - EXIT
  echo "chaos_soak failed; its report, output, database and rockd logs are kept in $work" >&2
  tail -n 60 "$work/output.txt" >&2
  exit 1
fi

python3 - "$work/report.json" "$seconds" "$flags" <<'PY'
import json, os, platform, sys
report, seconds, flags = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
e, sh, leaks, rockd = report["episodes"], report["shell"], report["leaks"], report["rockd"]
model = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
print(f"- machine: {os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}")
print(f"- command: `bench/chaos_soak.sh` (`make bench`): `chaos_soak --seconds {seconds} {flags}`")
print(f"- {int(seconds) / 60:.0f} minutes of load and faults; {report['load_seconds']:.0f} s with the drain\n")
print("| what | count |")
print("|---|---:|")
rows = [("episode starts", e["starts"]), ("episodes ended in a trajectory", e["trajectories"]),
        ("  of them terminated / truncated / other",
         f"{e['statuses'].get('terminated', 0)} / {e['statuses'].get('truncated', 0)} / "
         f"{e['trajectories'] - e['statuses'].get('terminated', 0) - e['statuses'].get('truncated', 0)}"),
        ("episodes reported lost with a killed rockd (failed in its database)", e["lost_with_killed_rockd"]),
        ("starts refused by rockd (error frames, by code)",
         ", ".join(f"{code} {n}" for code, n in sorted(e["errors"].items()) if code not in ("episode_lost", "not_found"))
         or "0"),
        ("steps", e["steps"]), ("starts resent by the client after a reconnect", e["starts_resent"]),
        ("trainer reconnects", report["trainer_reconnects"]), ("shell sandboxes", sh["sandboxes"]),
        ("shell commands answered exactly", sh["commands"]),
        ("**episodes or starts lost**", f"**{e['lost']}**"), ("**trajectories duplicated**", f"**{e['duplicates']}**"),
        ("**wrong shell answers / sandboxes left running**", f"**{sh['wrong']} / {sh['left_running']}**"),
        ("**leaked processes / cgroups / mounts / files**",
         f"**{leaks['processes']} / {leaks['cgroups']} / {leaks['mounts']} / {leaks['files']}**")]
for what, n in rows:
    print(f"| {what} | {n} |")
print("\n| fault injected | count |")
print("|---|---:|")
for kind, n in sorted(report["faults"].items()):
    print(f"| {kind} | {n} |")
samples = rockd["samples"]
print(f"\nrockd's resident memory ({rockd['incarnations']} processes; the last one was never killed): "
      f"baseline {rockd['rss_baseline_kb'] / 1024:.1f} MiB 10 s into the last process, "
      f"{rockd['rss_end_kb'] / 1024:.1f} MiB after the drain, at most {rockd['rss_max_kb'] / 1024:.1f} MiB.\n")
print("| minute | rockd process | RSS MiB | open fds |")
print("|---:|---:|---:|---:|")
step = max(1, len(samples) // 12)
for t, incarnation, rss, fds in samples[::step] + [samples[-1]]:
    print(f"| {t / 60:.1f} | {incarnation} | {rss / 1024:.1f} | {fds} |")
PY
