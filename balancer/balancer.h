// Episodes on pooled sandboxes. A client's episode waits in its env's queue (arrival order)
// until a slot is free on a healthy sandbox, goes to the least loaded one, and frees its slot
// the moment it ends. Pools grow while episodes wait and shrink when idle.
//
// Failover: when a sandbox dies, hangs or misses a step deadline, each episode it held is
// rebuilt on another sandbox by replaying its task, seed and recorded actions; the replayed
// answers must equal the recorded ones, and the client's pending step then runs there. The
// client sees latency, never an error or a changed transcript.
//
// Redundancy (ROLL Flash): a group of n episodes may run n + redundancy; once n have finished
// the others are cancelled and their slots freed.
//
// Thread-safe: every call is posted to the balancer's strand, and callbacks run there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "balancer/balancer_observer.h"
#include "balancer/episode.h"
#include "balancer/pool.h"
#include "common/status.h"
#include "sandbox/supervisor.h"

namespace boost::asio {
class io_context;
}

namespace rock::balancer {

struct BalancerOptions {
  std::chrono::milliseconds step_timeout{30'000};   // a step (or reset) answered later fails over
  std::chrono::milliseconds queue_timeout{60'000};  // a start that finds no slot by then fails
  std::chrono::milliseconds idle_timeout{600'000};  // an episode without a step this long is cancelled
  uint32_t max_failovers = 3;                       // per episode; one more and it fails
  uint32_t keep_finished = 1024;                    // ended episodes kept in memory for Get
  std::chrono::milliseconds tick{250};              // pool sizing and expiry checks
};

struct GroupSpec {
  EpisodeSpec episode;
  uint32_t n = 1;
  uint32_t redundancy = 0;
};

struct GroupStarted {
  std::string group;
  std::vector<StatusOr<Started>> episodes;  // n + redundancy, in order
};

class Balancer {
 public:
  using StartCallback = std::function<void(StatusOr<Started>)>;
  using StepCallback = std::function<void(StatusOr<EnvReply>)>;

  // `supervisor` and `observer` must outlive the balancer.
  Balancer(boost::asio::io_context& io, sandbox::Supervisor& supervisor, BalancerOptions options,
           BalancerObserver& observer);
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // Creates or changes the pool of `env` (config.sandbox.env must equal it) and sizes it.
  void SetPool(const std::string& env, PoolConfig config, std::function<void(StatusOr<PoolView>)> done);
  void ListPools(std::function<void(std::vector<PoolView>)> done);
  // Every pool has its minimum of ready sandboxes. Lock-free, for /readyz.
  bool AtMinimum() const;

  // Starts an episode: queued until placed, then reset; `done` gets its id and first observation.
  void StartEpisode(EpisodeSpec spec, StartCallback done);
  // Starts n + redundancy episodes of one group; `done` runs once all have started (or failed
  // to). InvalidArgument when the group could never fit the pool at its maximum size.
  void StartGroup(GroupSpec spec, std::function<void(StatusOr<GroupStarted>)> done);
  void Step(const std::string& id, std::string action, StepCallback done);
  // Ends a queued or running episode as cancelled with `reason` (its end_reason: "deleted",
  // "cancelled", "expired"); NotFound for unknown ids, FailedPrecondition for ended ones.
  void Cancel(const std::string& id, std::string reason, std::function<void(Status)> done);
  void Get(const std::string& id, std::function<void(StatusOr<EpisodeView>)> done);
  void List(std::function<void(std::vector<EpisodeSummary>)> done);

  // Feed of the supervisor's transitions (daemon wires its SupervisorObserver here).
  void OnSandboxTransition(const sandbox::Transition& transition);

  // Cancels every episode ("rockd stopping"), answers every waiting call and stops sizing pools;
  // `done` runs on the strand once nothing is pending. Sandboxes are left to the supervisor.
  void Stop(std::function<void()> done);

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rock::balancer
