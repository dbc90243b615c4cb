#include "daemon/sandbox_observer.h"

#include <nlohmann/json.hpp>

#include "common/wall_clock.h"
#include "daemon/event_bus.h"
#include "daemon/metrics.h"
#include "daemon/store.h"

namespace rock {
namespace {

using sandbox::State;
using sandbox::StateName;

constexpr State kAllStates[] = {State::kStarting, State::kReady, State::kRestarting, State::kQuarantined};

}  // namespace

std::string_view RestartReasonLabel(std::string_view reason) {
  if (reason.starts_with("oom")) return "oom";
  if (reason.starts_with("hung")) return "hung";
  if (reason.starts_with("crashed")) return "crash";
  if (reason.starts_with("protocol")) return "protocol";
  if (reason.starts_with("launch") || reason.starts_with("creating")) return "launch";
  if (reason.starts_with("not ready")) return "ready_timeout";
  if (reason.starts_with("restart requested")) return "requested";
  return "other";
}

SandboxObserver::SandboxObserver(Store& store, Metrics& metrics, EventBus& bus)
    : store_(store),
      bus_(bus),
      by_state_(prometheus::BuildGauge()
                    .Name("rockd_sandboxes")
                    .Help("Sandboxes by state.")
                    .Register(metrics.registry())),
      restarts_(prometheus::BuildCounter()
                    .Name("rockd_sandbox_restarts_total")
                    .Help("Sandbox restarts by the reason of the failure before them.")
                    .Register(metrics.registry())),
      ready_latency_(prometheus::BuildHistogram()
                         .Name("rockd_sandbox_ready_seconds")
                         .Help("Time from launching a sandbox to its worker reporting ready.")
                         .Register(metrics.registry())
                         .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                          0.1, 0.25, 0.5, 1, 2.5, 10})) {
  for (State state : kAllStates) by_state_.Add({{"state", std::string(StateName(state))}});
}

void SandboxObserver::OnTransition(const sandbox::Transition& t) {
  if (t.from && *t.from != State::kStopped) by_state_.Add({{"state", std::string(StateName(*t.from))}}).Decrement();
  if (t.to != State::kStopped) by_state_.Add({{"state", std::string(StateName(t.to))}}).Increment();
  // A failure's automatic restart and a requested one both count, in metrics and the database.
  const bool restart = t.to == State::kRestarting || (t.to == State::kStarting && t.reason == "restart requested");
  if (restart) restarts_.Add({{"reason", std::string(RestartReasonLabel(t.reason))}}).Increment();

  const std::string from = t.from ? std::string(StateName(*t.from)) : std::string();
  const std::string to(StateName(t.to));
  store_.Write("record sandbox " + t.sandbox_id + " " + to, [t, from, to, restart](Store::Writer& w) {
    if (!t.from) {
      SQLite::Statement& insert =
          w.Prepare("INSERT INTO sandboxes (id, env, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at");
      insert.bind(1, t.sandbox_id);
      insert.bind(2, t.env);
      insert.bind(3, to);
      insert.bind(4, static_cast<int64_t>(t.ts_ms));
      insert.bind(5, static_cast<int64_t>(t.ts_ms));
      insert.exec();
    } else {
      SQLite::Statement& update = w.Prepare("UPDATE sandboxes SET state = ?, updated_at = ?,"
                                            " restarts = restarts + ? WHERE id = ?");
      update.bind(1, to);
      update.bind(2, static_cast<int64_t>(t.ts_ms));
      update.bind(3, restart ? 1 : 0);
      update.bind(4, t.sandbox_id);
      update.exec();
    }
    SQLite::Statement& event = w.Prepare("INSERT INTO sandbox_events (sandbox_id, ts, from_state, to_state, reason)"
                                         " VALUES (?, ?, ?, ?, ?)");
    event.bind(1, t.sandbox_id);
    event.bind(2, static_cast<int64_t>(t.ts_ms));
    if (from.empty()) {
      event.bind(3);
    } else {
      event.bind(3, from);
    }
    event.bind(4, to);
    event.bind(5, t.reason);
    event.exec();
  });
  bus_.Publish("sandbox", {{"id", t.sandbox_id},
                           {"env", t.env},
                           {"from", t.from ? nlohmann::json(from) : nlohmann::json(nullptr)},
                           {"to", to},
                           {"reason", t.reason}});
}

void SandboxObserver::OnReady(const std::string&, std::chrono::microseconds latency) {
  ready_latency_.Observe(std::chrono::duration<double>(latency).count());
}

void SandboxObserver::RecordStaleStopped() {
  store_.Write("mark sandboxes of a previous run stopped", [](Store::Writer& w) {
    const int64_t now = UnixMillis();
    SQLite::Statement& events = w.Prepare("INSERT INTO sandbox_events (sandbox_id, ts, from_state, to_state, reason)"
                                          " SELECT id, ?, state, 'stopped', 'rockd restarted' FROM sandboxes WHERE state != 'stopped'");
    events.bind(1, now);
    events.exec();
    SQLite::Statement& update =
        w.Prepare("UPDATE sandboxes SET state = 'stopped', updated_at = ? WHERE state != 'stopped'");
    update.bind(1, now);
    update.exec();
  });
}

}  // namespace rock
