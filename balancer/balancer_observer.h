// How the balancer's decisions become visible (SQLite, metrics, /ws/events) without the
// balancer knowing the daemon. Called on the balancer's strand: must not block.
#pragma once

#include "balancer/episode.h"
#include "balancer/pool.h"

namespace rock::balancer {

class BalancerObserver {
 public:
  virtual ~BalancerObserver() = default;
  // The episode's reset answered: it runs on summary.sandbox_id.
  virtual void OnEpisodeStarted(const EpisodeSummary& episode, const std::string& first_observation) = 0;
  virtual void OnStep(const EpisodeSummary& episode, const StepRecord& step) = 0;
  virtual void OnEpisodeEnded(const EpisodeSummary& episode) = 0;
  // The episode was rebuilt on another sandbox by replaying its actions.
  virtual void OnFailover(const EpisodeSummary& episode, const FailoverRecord& failover) = 0;
  // A pool's counts changed (sandboxes, slots, queue).
  virtual void OnPool(const PoolView& pool) = 0;
};

}  // namespace rock::balancer
