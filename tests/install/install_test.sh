#!/usr/bin/env bash
# InstallPutsFilesInStandardPlaces: `cmake --install` into a scratch DESTDIR lays out the
# binary, systemd unit, default config and dashboard where the unit and rockd look for them,
# and the installed binary runs.
# Usage: install_test.sh <build_dir>
set -euo pipefail

build_dir=$(realpath "${1:?usage: install_test.sh <build_dir>}")
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build_dir/CMakeCache.txt")
[[ -n $prefix ]] || { echo "FAIL: no CMAKE_INSTALL_PREFIX in $build_dir/CMakeCache.txt"; exit 1; }

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if ! log=$(DESTDIR=$dest cmake --install "$build_dir" 2>&1); then
  echo "FAIL: cmake --install"
  echo "$log"
  exit 1
fi

failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then echo "PASS: $what"; else echo "FAIL: $what"; failed=1; fi
}

unit=$dest$prefix/lib/systemd/system/rockd.service
check "unit installed at $prefix/lib/systemd/system/rockd.service" test -f "$unit"
check "unit has no unsubstituted @VARIABLES@" bash -c "! grep -q '@[A-Z_]*@' '$unit'"

# The unit's ExecStart names the installed binary and config (sysconfdir is /etc for
# prefix /usr, <prefix>/etc otherwise): both must be where it says.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit" 2>/dev/null || true)
read -r bin _ config _ <<<"$exec_start"
check "ExecStart binary is $prefix/bin/rockd" test "$bin" = "$prefix/bin/rockd"
check "rockd installed at $bin" test -x "$dest$bin"
check "default config installed at $config" test -f "$dest$config"
check "dashboard installed at $prefix/share/rockd/dashboard/index.html" \
  test -f "$dest$prefix/share/rockd/dashboard/index.html"
check "SWE-bench task set installed at $prefix/share/rockd/swebench" \
  test -f "$dest$prefix/share/rockd/swebench/instances.jsonl" -a -f "$dest$prefix/share/rockd/swebench/repos.json"

check "installed rockd --help" "$dest$bin" --help
check "installed rockd --print-config with the installed config prints JSON" \
  bash -c "'$dest$bin' --config '$dest$config' --print-config | python3 -m json.tool"
exit "$failed"
