// A rockd without sandboxes, for the fuzzers of its message handlers: the real store (SQLite in
// a fresh temporary directory), metrics, event bus, supervisor and balancer, on an io_context
// that the fuzzer runs itself. The supervisor's cgroup parent is not a valid name, so every
// launch fails before it touches the host: pools and sandboxes can be asked for, never started,
// and episodes fail to place.
//
// One world per input: nothing an input did (trainers, pools, episodes, rows) is seen by the
// next, so a crash replays from its input alone.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "balancer/balancer.h"
#include "daemon/episode_observer.h"
#include "daemon/event_bus.h"
#include "daemon/metrics.h"
#include "daemon/sandbox_observer.h"
#include "daemon/store.h"
#include "sandbox/supervisor.h"

namespace rock::fuzz {

class DaemonWorld {
 public:
  DaemonWorld();  // traps when the store cannot open: the fuzzer would test nothing
  // Stops the balancer and the supervisor (answering whatever still waits) and removes the
  // directory. Whatever uses the world (a TrainerHub, routes) must be gone first.
  ~DaemonWorld();
  DaemonWorld(const DaemonWorld&) = delete;
  DaemonWorld& operator=(const DaemonWorld&) = delete;

  boost::asio::io_context& io() { return io_; }
  Store& store() { return *store_; }
  Metrics& metrics() { return metrics_; }
  EventBus& bus() { return bus_; }
  sandbox::Supervisor& supervisor() { return *supervisor_; }
  balancer::Balancer& balancer() { return *balancer_; }

  // Runs handlers until `done()` holds; traps after `limit`, a reply that never came.
  void RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(5));
  // Runs every handler that is ready, and those they make ready, until none is.
  void Drain();

 private:
  std::filesystem::path dir_;
  boost::asio::io_context io_;
  std::unique_ptr<Store> store_;
  Metrics metrics_;
  EventBus bus_;
  std::unique_ptr<SandboxObserver> sandbox_observer_;
  std::unique_ptr<sandbox::Supervisor> supervisor_;
  std::unique_ptr<EpisodeObserver> episode_observer_;
  std::unique_ptr<balancer::Balancer> balancer_;
};

}  // namespace rock::fuzz
