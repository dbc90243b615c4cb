#include "daemon/episode_observer.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/wall_clock.h"
#include "daemon/event_bus.h"
#include "daemon/metrics.h"
#include "daemon/store.h"

namespace rock {
namespace {

using balancer::EpisodeState;
using balancer::EpisodeSummary;
using nlohmann::json;

// Seconds, 10 us to 60 s: an ALFWorld step is microseconds, a test suite run minutes.
const prometheus::Histogram::BucketBoundaries kStepBuckets = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
                                                              0.001,   0.0025,   0.005,   0.01,   0.025,   0.05,
                                                              0.1,     0.25,     0.5,     1,      2.5,     5,
                                                              10,      30,       60};

json EpisodeEvent(const EpisodeSummary& e) {
  return {{"id", e.id},
          {"env", e.spec.env},
          {"group", e.group},
          {"state", balancer::EpisodeStateName(e.state)},
          {"reason", e.end_reason},
          {"sandbox", e.sandbox_id},
          {"steps", e.steps},
          {"return", e.total_reward},
          {"failovers", e.failovers}};
}

}  // namespace

std::string_view EpisodeOutcomeLabel(const EpisodeSummary& e) {
  switch (e.state) {
    case EpisodeState::kFinished: return e.end_reason == "terminated" ? "terminated" : "truncated";
    case EpisodeState::kCancelled:
      if (e.end_reason == "deleted" || e.end_reason == "idle" || e.end_reason == "redundant" ||
          e.end_reason == "cancelled" || e.end_reason == "expired") {
        return e.end_reason;
      }
      return "stopping";
    default: return "failed";
  }
}

EpisodeObserver::EpisodeObserver(Store& store, Metrics& metrics, EventBus& bus)
    : store_(store),
      bus_(bus),
      episodes_(prometheus::BuildGauge()
                    .Name("rockd_episodes")
                    .Help("Live episodes by env and state (queued, running).")
                    .Register(metrics.registry())),
      ended_(prometheus::BuildCounter()
                 .Name("rockd_episodes_ended_total")
                 .Help("Ended episodes by env and outcome (terminated, truncated, deleted, cancelled, expired, idle, "
                       "redundant, stopping, failed).")
                 .Register(metrics.registry())),
      steps_(prometheus::BuildCounter()
                 .Name("rockd_episode_steps_total")
                 .Help("Env steps answered to clients, by env.")
                 .Register(metrics.registry())),
      step_duration_(prometheus::BuildHistogram()
                         .Name("rockd_episode_step_duration_seconds")
                         .Help("Time from a step request to its answer as the client sees it, failovers included.")
                         .Register(metrics.registry())),
      queue_depth_(prometheus::BuildGauge()
                       .Name("rockd_episode_queue_depth")
                       .Help("Episodes waiting for a slot (new ones and ones to rebuild), by env.")
                       .Register(metrics.registry())),
      failovers_(prometheus::BuildCounter()
                     .Name("rockd_episode_failovers_total")
                     .Help("Episodes rebuilt on another sandbox by replaying their actions, by env.")
                     .Register(metrics.registry())),
      redundant_(prometheus::BuildCounter()
                     .Name("rockd_episode_redundant_cancellations_total")
                     .Help("Redundant episodes cancelled because their group had enough finished ones, by env.")
                     .Register(metrics.registry())),
      pool_sandboxes_(prometheus::BuildGauge()
                          .Name("rockd_pool_sandboxes")
                          .Help("Sandboxes of each pool by health (starting, ready, down, quarantined).")
                          .Register(metrics.registry())),
      pool_slots_(prometheus::BuildGauge()
                      .Name("rockd_pool_slots")
                      .Help("Episode slots of each pool's ready sandboxes, busy or free.")
                      .Register(metrics.registry())) {}

EpisodeObserver::EnvSeries& EpisodeObserver::Series(const std::string& env) {
  auto it = series_.find(env);
  if (it == series_.end()) {
    it = series_
             .emplace(env, EnvSeries{steps_.Add({{"env", env}}), step_duration_.Add({{"env", env}}, kStepBuckets),
                                     failovers_.Add({{"env", env}}), redundant_.Add({{"env", env}})})
             .first;
  }
  return it->second;
}

void EpisodeObserver::OnEpisodeStarted(const EpisodeSummary& e, const std::string& first_observation) {
  Series(e.spec.env);
  bus_.Publish("episode", EpisodeEvent(e));
  store_.Write("record episode " + e.id + " start", [e, first_observation](Store::Writer& w) {
    SQLite::Statement& insert =
        w.Prepare("INSERT INTO episodes (id, env, task, seed, status, sandbox_id, group_id, max_steps, "
                  "created_at) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)");
    insert.bind(1, e.id);
    insert.bind(2, e.spec.env);
    insert.bind(3, e.spec.task.dump());
    insert.bind(4, static_cast<int64_t>(e.spec.seed));
    insert.bind(5, e.sandbox_id);
    if (e.group.empty()) {
      insert.bind(6);
    } else {
      insert.bind(6, e.group);
    }
    if (e.spec.max_steps == 0) {
      insert.bind(7);
    } else {
      insert.bind(7, static_cast<int64_t>(e.spec.max_steps));
    }
    insert.bind(8, e.created_ms);
    insert.exec();
    SQLite::Statement& reset = w.Prepare("INSERT INTO steps (episode_id, step, observation) VALUES (?, 0, ?)");
    reset.bind(1, e.id);
    reset.bind(2, first_observation);
    reset.exec();
  });
}

void EpisodeObserver::OnStep(const EpisodeSummary& e, const balancer::StepRecord& step) {
  EnvSeries& series = Series(e.spec.env);
  series.steps.Increment();
  series.step_duration.Observe(static_cast<double>(step.duration_us) / 1e6);
  store_.Write("record episode " + e.id + " step", [id = e.id, step, total = e.total_reward](Store::Writer& w) {
    SQLite::Statement& insert =
        w.Prepare("INSERT INTO steps (episode_id, step, action, observation, reward, terminated, truncated, "
                  "duration_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, id);
    insert.bind(2, static_cast<int64_t>(step.step));
    insert.bind(3, step.action);
    insert.bind(4, step.observation);
    insert.bind(5, step.reward);
    insert.bind(6, step.terminated ? 1 : 0);
    insert.bind(7, step.truncated ? 1 : 0);
    insert.bind(8, step.duration_us);
    insert.exec();
    SQLite::Statement& update = w.Prepare("UPDATE episodes SET steps = ?, return = ? WHERE id = ?");
    update.bind(1, static_cast<int64_t>(step.step));
    update.bind(2, total);
    update.bind(3, id);
    update.exec();
  });
}

void EpisodeObserver::OnEpisodeEnded(const EpisodeSummary& e) {
  const std::string_view outcome = EpisodeOutcomeLabel(e);
  ended_.Add({{"env", e.spec.env}, {"outcome", std::string(outcome)}}).Increment();
  if (outcome == "redundant") Series(e.spec.env).redundant.Increment();
  bus_.Publish("episode", EpisodeEvent(e));
  store_.Write("record episode " + e.id + " end", [e](Store::Writer& w) {
    SQLite::Statement& update =
        w.Prepare("UPDATE episodes SET status = ?, end_reason = ?, finished_at = ?, steps = ?, return = ?, "
                  "failovers = ? WHERE id = ?");
    update.bind(1, std::string(balancer::EpisodeStateName(e.state)));
    update.bind(2, e.end_reason);
    update.bind(3, e.ended_ms);
    update.bind(4, static_cast<int64_t>(e.steps));
    update.bind(5, e.total_reward);
    update.bind(6, static_cast<int64_t>(e.failovers));
    update.bind(7, e.id);
    update.exec();
  });
}

void EpisodeObserver::OnFailover(const EpisodeSummary& e, const balancer::FailoverRecord& f) {
  Series(e.spec.env).failovers.Increment();
  bus_.Publish("failover", {{"episode", e.id},
                            {"env", e.spec.env},
                            {"from", f.from_sandbox},
                            {"to", f.to_sandbox},
                            {"reason", f.reason},
                            {"replayed_steps", f.replayed_steps},
                            {"duration_ms", static_cast<double>(f.duration_us) / 1000.0}});
  store_.Write("record episode " + e.id + " failover", [e, f](Store::Writer& w) {
    SQLite::Statement& insert =
        w.Prepare("INSERT INTO episode_failovers (episode_id, ts, from_sandbox, to_sandbox, reason, "
                  "replayed_steps, duration_us) VALUES (?, strftime('%s', 'now') * 1000, ?, ?, ?, ?, ?)");
    insert.bind(1, e.id);
    insert.bind(2, f.from_sandbox);
    insert.bind(3, f.to_sandbox);
    insert.bind(4, f.reason);
    insert.bind(5, static_cast<int64_t>(f.replayed_steps));
    insert.bind(6, f.duration_us);
    insert.exec();
    SQLite::Statement& update = w.Prepare("UPDATE episodes SET failovers = ?, sandbox_id = ? WHERE id = ?");
    update.bind(1, static_cast<int64_t>(e.failovers));
    update.bind(2, f.to_sandbox);
    update.bind(3, e.id);
    update.exec();
  });
}

void EpisodeObserver::OnPool(const balancer::PoolView& pool) {
  const std::string& env = pool.env;
  episodes_.Add({{"env", env}, {"state", "queued"}}).Set(pool.queued);
  episodes_.Add({{"env", env}, {"state", "running"}}).Set(pool.running);
  queue_depth_.Add({{"env", env}}).Set(pool.queued);
  pool_sandboxes_.Add({{"env", env}, {"health", "starting"}}).Set(pool.starting);
  pool_sandboxes_.Add({{"env", env}, {"health", "ready"}}).Set(pool.ready);
  pool_sandboxes_.Add({{"env", env}, {"health", "down"}}).Set(pool.down);
  pool_sandboxes_.Add({{"env", env}, {"health", "quarantined"}}).Set(pool.quarantined);
  pool_slots_.Add({{"env", env}, {"state", "busy"}}).Set(pool.slots_busy);
  pool_slots_.Add({{"env", env}, {"state", "free"}}).Set(pool.slots_total > pool.slots_busy ? pool.slots_total - pool.slots_busy : 0);
}

void EpisodeObserver::RecordStaleFailed() {
  store_.Write("mark episodes of a previous run failed", [](Store::Writer& w) {
    const int64_t now = UnixMillis();
    SQLite::Statement& update =
        w.Prepare("UPDATE episodes SET status = 'failed', end_reason = 'rockd restarted', finished_at = ? "
                  "WHERE status IN ('queued', 'running')");
    update.bind(1, now);
    update.exec();
  });
}

}  // namespace rock
