#!/usr/bin/env bash
# SystemdUnitVerifies: the generated rockd.service passes `systemd-analyze verify` and keeps
# the promises the daemon relies on (notify + watchdog, restart on failure, delegated cgroups).
# Usage: verify_unit.sh <build_dir>
set -euo pipefail

build_dir=$(realpath "${1:?usage: verify_unit.sh <build_dir>}")
unit="$build_dir/systemd/rockd.service"
rockd="$build_dir/bin/rockd"
[[ -f $unit ]] || { echo "FAIL: $unit was not generated"; exit 1; }
[[ -x $rockd ]] || { echo "FAIL: $rockd is not built"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The unit names installed paths that do not exist before `cmake --install`; point ExecStart
# at the built binary and an existing config so verify checks everything else.
echo '{}' >"$tmp/rockd.json"
sed -E "s|^ExecStart=[^ ]+/rockd --config [^ ]+|ExecStart=$rockd --config $tmp/rockd.json|" \
  "$unit" >"$tmp/rockd.service"
grep -qx "ExecStart=$rockd --config $tmp/rockd.json --data-dir /var/lib/rockd" "$tmp/rockd.service" ||
  { echo "FAIL: unexpected ExecStart line: $(grep '^ExecStart=' "$unit")"; exit 1; }

failed=0
for setting in Type=notify NotifyAccess=main WatchdogSec= Restart=on-failure Delegate=yes; do
  if grep -q "^$setting" "$tmp/rockd.service"; then
    echo "PASS: unit sets $setting"
  else
    echo "FAIL: unit does not set $setting"
    failed=1
  fi
done

# On a container without a running systemd, verify may warn about other units; only lines
# that name our unit count (parse errors are reported as "<path>/rockd.service:<line>: ...").
rc=0
output=$(systemd-analyze verify "$tmp/rockd.service" 2>&1) || rc=$?
ours=$(grep 'rockd\.service' <<<"$output" || true)
if ((rc != 0)) || [[ -n $ours ]]; then
  echo "FAIL: systemd-analyze verify (exit $rc):"
  echo "$output"
  failed=1
else
  echo "PASS: systemd-analyze verify"
fi
exit "$failed"
