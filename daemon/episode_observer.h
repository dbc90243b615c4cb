// Makes the balancer's work visible: every episode and step is stored in SQLite (the steps
// table is the episode's transcript), counted in metrics (episodes by state, steps, step
// latency, queue depth, failovers, redundant cancellations, pool sandboxes and slots) and
// published on /ws/events (episode starts and ends, failovers).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <map>
#include <string>

#include "balancer/balancer_observer.h"

namespace rock {

class EventBus;
class Metrics;
class Store;

class EpisodeObserver : public balancer::BalancerObserver {
 public:
  EpisodeObserver(Store& store, Metrics& metrics, EventBus& bus);

  void OnEpisodeStarted(const balancer::EpisodeSummary& episode, const std::string& first_observation) override;
  void OnStep(const balancer::EpisodeSummary& episode, const balancer::StepRecord& step) override;
  void OnEpisodeEnded(const balancer::EpisodeSummary& episode) override;
  void OnFailover(const balancer::EpisodeSummary& episode, const balancer::FailoverRecord& failover) override;
  void OnPool(const balancer::PoolView& pool) override;

  // Episodes a previous rockd left running or queued (it was killed) end as failed: their
  // sandboxes and the balancer's memory of them are gone.
  void RecordStaleFailed();

 private:
  // The series of one env, looked up once: the balancer calls from one strand, per step.
  struct EnvSeries {
    prometheus::Counter& steps;
    prometheus::Histogram& step_duration;
    prometheus::Counter& failovers;
    prometheus::Counter& redundant;
  };
  EnvSeries& Series(const std::string& env);

  Store& store_;
  EventBus& bus_;
  prometheus::Family<prometheus::Gauge>& episodes_;
  prometheus::Family<prometheus::Counter>& ended_;
  prometheus::Family<prometheus::Counter>& steps_;
  prometheus::Family<prometheus::Histogram>& step_duration_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Counter>& failovers_;
  prometheus::Family<prometheus::Counter>& redundant_;
  prometheus::Family<prometheus::Gauge>& pool_sandboxes_;
  prometheus::Family<prometheus::Gauge>& pool_slots_;
  std::map<std::string, EnvSeries> series_;
};

// A bounded label for how an episode ended: terminated, truncated, deleted, cancelled, expired,
// idle, redundant, stopping or failed.
std::string_view EpisodeOutcomeLabel(const balancer::EpisodeSummary& episode);

}  // namespace rock
