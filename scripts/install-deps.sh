#!/usr/bin/env bash
# Installs every Debian package rockd needs to build, test, benchmark and run.
# Idempotent and fast: one dpkg-query pass; apt runs only when something is missing.
set -euo pipefail

packages=(
  # Toolchain: compiler, CMake + Ninja, ccache for rebuilds, pkg-config for libsystemd.
  build-essential cmake ninja-build ccache pkg-config git
  # Fuzzing: clang's libFuzzer and sanitizer runtimes (tests/fuzz, -DROCK_FUZZ=ON).
  clang-14 libclang-rt-14-dev
  # Boost.Asio/Beast. Never add libboost-dev or libmsgpack-cxx-dev: both pull Boost 1.74,
  # which conflicts with libboost1.81-dev (apt fails with "held broken packages").
  libboost1.81-dev
  # Sandbox isolation: seccomp filters and cgroups (library + cgcreate/cgexec tools).
  libseccomp-dev libcgroup-dev cgroup-tools
  # Daemon libraries: JSON, Prometheus metrics, logging, sd_notify, command line.
  nlohmann-json3-dev prometheus-cpp-dev libspdlog-dev libfmt-dev libsystemd-dev libcli11-dev
  # Store: SQLite (C++ wrapper, C library, and the sqlite3 shell for backups and debugging).
  libsqlitecpp-dev libsqlite3-dev sqlite3
  # rockd's allocator: thread caches for the step path's many small allocations.
  libjemalloc-dev
  # Tests and benchmarks: GoogleTest/GoogleMock, Google Benchmark, wrk load generator.
  libgtest-dev libgmock-dev libbenchmark-dev wrk
  # Test tools: promtool (in prometheus) checks /metrics; systemd-analyze verifies the unit.
  prometheus curl systemd python3 procps iproute2
  # The example trainer (docs/examples/example_trainer.py) and its test: asyncio WebSocket client.
  python3-websockets
  # SWE-bench sandboxes: the task set's test runner and SWE-bench's last patch fallback.
  python3-pytest patch
  # The dashboard (dashboard/web: npm ci and esbuild at build time) and its browser tests
  # (tests/browser: playwright-core drives headless chromium).
  nodejs chromium
)
# Debian's nodejs needs Debian's npm; NodeSource's nodejs bundles npm and conflicts with it.
command -v npm >/dev/null || packages+=(npm)

missing=()
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
  grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: missing ${missing[*]}"
apt_install=(apt-get install -y --no-install-recommends "${missing[@]}")
if ((EUID == 0)); then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "install-deps: not root and no sudo; run as root:" >&2
  echo "  apt-get update && DEBIAN_FRONTEND=noninteractive ${apt_install[*]}" >&2
  exit 1
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${apt_install[@]}"
