// Makes the supervisor's decisions visible: every sandbox transition is stored in SQLite,
// counted in metrics (sandboxes by state, restarts by reason, create-to-ready latency) and
// published on /ws/events.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "sandbox/supervisor.h"

namespace rock {

class EventBus;
class Metrics;
class Store;

class SandboxObserver : public sandbox::SupervisorObserver {
 public:
  SandboxObserver(Store& store, Metrics& metrics, EventBus& bus);

  void OnTransition(const sandbox::Transition& transition) override;
  void OnReady(const std::string& sandbox_id, std::chrono::microseconds latency) override;

  // Marks sandboxes a previous rockd left running as stopped (their processes are gone).
  void RecordStaleStopped();

 private:
  Store& store_;
  EventBus& bus_;
  prometheus::Family<prometheus::Gauge>& by_state_;
  prometheus::Family<prometheus::Counter>& restarts_;
  prometheus::Histogram& ready_latency_;
};

// A bounded label for a failure reason: oom, hung, crash, protocol, launch, ready_timeout,
// requested or other.
std::string_view RestartReasonLabel(std::string_view reason);

}  // namespace rock
