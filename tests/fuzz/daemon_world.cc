#include "tests/fuzz/daemon_world.h"

#include <stdlib.h>

#include <string>

#include <spdlog/spdlog.h>

namespace rock::fuzz {
namespace {

// tmpfs when there is one: the store is created and removed for every input.
std::filesystem::path MakeTempDir() {
  std::string pattern = std::filesystem::exists("/dev/shm") ? "/dev/shm/rock-fuzz-XXXXXX" : "/tmp/rock-fuzz-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) __builtin_trap();
  return pattern;
}

sandbox::SupervisorOptions NoSandboxes(const std::filesystem::path& dir) {
  sandbox::SupervisorOptions options;
  options.worker_path = "/nonexistent/rock-env";
  options.cgroup_parent = "no:sandboxes";  // ':' is refused by Cgroup::Create, before any mkdir
  options.state_dir = dir / "sandboxes";
  options.blocking_threads = 1;
  return options;
}

// Short enough that an episode queued on a pool that never gets a sandbox fails within an input.
balancer::BalancerOptions ShortWaits() {
  balancer::BalancerOptions options;
  options.queue_timeout = std::chrono::milliseconds(20);
  options.tick = std::chrono::milliseconds(5);
  return options;
}

}  // namespace

DaemonWorld::DaemonWorld() : dir_(MakeTempDir()) {
  // Every refused request would log; the fuzzer's output is its own statistics.
  spdlog::set_level(spdlog::level::off);
  auto store = Store::Open(dir_);
  if (!store.ok()) __builtin_trap();
  store_ = std::move(store).value();
  sandbox_observer_ = std::make_unique<SandboxObserver>(*store_, metrics_, bus_);
  supervisor_ = std::make_unique<sandbox::Supervisor>(io_, NoSandboxes(dir_), *sandbox_observer_);
  episode_observer_ = std::make_unique<EpisodeObserver>(*store_, metrics_, bus_);
  balancer_ = std::make_unique<balancer::Balancer>(io_, *supervisor_, ShortWaits(), *episode_observer_);
}

DaemonWorld::~DaemonWorld() {
  bool stopped = false;
  balancer_->Stop([this, &stopped] { supervisor_->StopAll([&stopped] { stopped = true; }); });
  RunUntil([&stopped] { return stopped; });
  balancer_.reset();
  episode_observer_.reset();
  supervisor_.reset();
  sandbox_observer_.reset();
  store_.reset();
  std::error_code ignored;  // a leftover directory costs tmpfs space, not correctness
  std::filesystem::remove_all(dir_, ignored);
}

void DaemonWorld::RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) __builtin_trap();
    io_.restart();
    io_.run_for(std::chrono::milliseconds(1));
  }
}

void DaemonWorld::Drain() {
  io_.restart();
  while (io_.poll() > 0) io_.restart();
}

}  // namespace rock::fuzz
