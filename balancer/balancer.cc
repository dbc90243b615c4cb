#include "balancer/balancer.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "common/random_id.h"
#include "common/wall_clock.h"

namespace rock::balancer {

std::string_view EpisodeStateName(EpisodeState state) {
  switch (state) {
    case EpisodeState::kQueued: return "queued";
    case EpisodeState::kRunning: return "running";
    case EpisodeState::kFinished: return "finished";
    case EpisodeState::kCancelled: return "cancelled";
    case EpisodeState::kFailed: return "failed";
  }
  return "unknown";
}

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Codes that mean the placement, not the env, failed: the sandbox died, hung, restarted under
// the episode (its slot is empty: failed_precondition) or answered garbage (internal). Not
// not_found: a sandbox deleted under an episode is reported by its transition before any answer
// from it, so a current not_found is the env's (a task naming a missing game file).
bool IsSandboxFailure(Code code) {
  return code == Code::kUnavailable || code == Code::kDeadlineExceeded || code == Code::kFailedPrecondition ||
         code == Code::kInternal;
}

}  // namespace

class Balancer::Impl : public std::enable_shared_from_this<Balancer::Impl> {
 public:
  Impl(asio::io_context& io, sandbox::Supervisor& supervisor, BalancerOptions options, BalancerObserver& observer)
      : strand_(asio::make_strand(io)), tick_(strand_), supervisor_(supervisor), options_(options), observer_(observer) {}

  template <typename F>
  void Post(F&& f) {
    asio::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(*self); });
  }

  void StartTicking() {
    tick_.expires_after(options_.tick);
    tick_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopping_) return;
      self->Tick();
      self->StartTicking();
    });
  }

  // --- pools ---

  void SetPool(const std::string& env, PoolConfig config, const std::function<void(StatusOr<PoolView>)>& done) {
    if (config.sandbox.env != env) return done(InvalidArgument("pool config is for env '" + config.sandbox.env + "'"));
    if (config.min > config.max) {
      return done(InvalidArgument("pool '" + env + "': min " + std::to_string(config.min) + " exceeds max " +
                                  std::to_string(config.max)));
    }
    auto it = pools_.find(env);
    if (it == pools_.end()) {
      it = pools_.emplace(env, PoolState{Pool(env, config)}).first;
      if (!started_ticking_) {
        started_ticking_ = true;
        StartTicking();
      }
    } else {
      it->second.pool.Reconfigure(std::move(config));
    }
    Resize(it->second);
    done(View(it->second));
  }

  std::vector<PoolView> ListPools() const {
    std::vector<PoolView> views;
    for (const auto& [env, ps] : pools_) views.push_back(View(ps));
    return views;
  }

  // --- episodes ---

  void StartEpisode(EpisodeSpec spec, std::string group, StartCallback done) {
    if (stopping_) return done(Unavailable("rockd is stopping"));
    const auto pool = pools_.find(spec.env);
    if (pool == pools_.end()) {
      return done(FailedPrecondition("no pool serves env '" + spec.env + "': create one with PUT /api/v1/pools/" +
                                     spec.env));
    }
    Episode& e = NewEpisode(std::move(spec), std::move(group));
    e.on_started = std::move(done);
    Enqueue(pool->second, e, /*front=*/false);
    Pump(pool->second);
  }

  void StartGroup(GroupSpec spec, std::function<void(StatusOr<GroupStarted>)> done) {
    if (spec.n == 0) return done(InvalidArgument("'n' must be at least 1"));
    const auto pool = pools_.find(spec.episode.env);
    if (pool == pools_.end()) {
      return done(FailedPrecondition("no pool serves env '" + spec.episode.env + "'"));
    }
    const uint64_t members = uint64_t{spec.n} + spec.redundancy;
    const PoolConfig& config = pool->second.pool.config();
    const uint64_t capacity = uint64_t{config.max} * config.sandbox.slots;
    if (members > capacity) {
      return done(InvalidArgument("a group of " + std::to_string(members) + " episodes cannot fit pool '" +
                                  spec.episode.env + "' (at most " + std::to_string(capacity) + " slots)"));
    }
    const std::string group_id = NewRandomId("grp");
    Group& group = groups_[group_id];
    group.n = spec.n;
    struct Collector {
      GroupStarted result;
      std::vector<std::optional<StatusOr<Started>>> slots;
      std::size_t remaining = 0;
      std::function<void(StatusOr<GroupStarted>)> done;
    };
    auto collector = std::make_shared<Collector>();
    collector->result.group = group_id;
    collector->slots.resize(members);
    collector->remaining = members;
    collector->done = std::move(done);
    for (uint64_t i = 0; i < members; ++i) {
      Episode& e = NewEpisode(spec.episode, group_id);
      group.members.push_back(e.summary.id);
      e.on_started = [collector, i](StatusOr<Started> started) {
        collector->slots[i] = std::move(started);
        if (--collector->remaining > 0) return;
        for (auto& slot : collector->slots) collector->result.episodes.push_back(std::move(*slot));
        collector->done(std::move(collector->result));
      };
      Enqueue(pool->second, e, /*front=*/false);
    }
    Pump(pool->second);
  }

  void Step(const std::string& id, std::string action, StepCallback done) {
    Episode* e = Find(id);
    if (e == nullptr) return done(NotFound("no episode " + id));
    if (Status s = Steppable(*e); !s.ok()) return done(s);
    if (e->pending) return done(FailedPrecondition("episode " + id + " already has a step in flight"));
    e->pending = PendingStep{std::move(action), std::move(done), Clock::now()};
    e->last_activity = Clock::now();
    if (e->placement && !e->rebuilding) SendStep(*e);
    // Otherwise the rebuild in progress sends it when done.
  }

  Status Cancel(const std::string& id, std::string reason) {
    Episode* e = Find(id);
    if (e == nullptr) return NotFound("no episode " + id);
    if (Ended(*e)) {
      return FailedPrecondition("episode " + id + " has already ended (" + std::string(EpisodeStateName(e->summary.state)) +
                                ")");
    }
    End(*e, EpisodeState::kCancelled, std::move(reason));
    return Status::Ok();
  }

  StatusOr<EpisodeView> Get(const std::string& id) const {
    const auto it = episodes_.find(id);
    if (it == episodes_.end()) return NotFound("no episode " + id);
    const Episode& e = it->second;
    return EpisodeView{e.summary, e.first_observation, e.steps};
  }

  std::vector<EpisodeSummary> List() const {
    std::vector<EpisodeSummary> list;
    list.reserve(episodes_.size());
    for (const auto& [id, e] : episodes_) list.push_back(e.summary);
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.created_ms < b.created_ms; });
    return list;
  }

  // --- sandboxes ---

  void OnTransition(const sandbox::Transition& t) {
    const auto pool = pools_.find(t.env);
    if (pool == pools_.end() || !pool->second.pool.Contains(t.sandbox_id)) return;
    PoolState& ps = pool->second;
    std::vector<std::string> evicted;
    switch (t.to) {
      case sandbox::State::kStarting: evicted = ps.pool.SetHealth(t.sandbox_id, SandboxHealth::kStarting); break;
      case sandbox::State::kReady: evicted = ps.pool.SetHealth(t.sandbox_id, SandboxHealth::kReady); break;
      case sandbox::State::kRestarting: evicted = ps.pool.SetHealth(t.sandbox_id, SandboxHealth::kDown); break;
      case sandbox::State::kQuarantined: evicted = ps.pool.SetHealth(t.sandbox_id, SandboxHealth::kQuarantined); break;
      case sandbox::State::kStopped: evicted = ps.pool.Remove(t.sandbox_id); break;
    }
    for (const std::string& id : evicted) {
      if (Episode* e = Find(id)) Lost(*e, "sandbox " + t.sandbox_id + " " + t.reason, Code::kUnavailable, /*health_known=*/true);
    }
    Pump(ps);  // a sandbox that became ready takes waiting episodes
  }

  void Stop() {
    stopping_ = true;
    tick_.cancel();
    std::vector<std::string> live;
    for (const auto& [id, e] : episodes_) {
      if (!Ended(e)) live.push_back(id);
    }
    for (const std::string& id : live) {
      if (Episode* e = Find(id)) End(*e, EpisodeState::kCancelled, "rockd stopping");
    }
  }

  bool AtMinimum() const { return at_minimum_.load(); }

 private:
  struct PendingStep {
    std::string action;
    StepCallback done;
    Clock::time_point began;
  };

  struct Episode {
    EpisodeSummary summary;
    std::string first_observation;
    std::vector<StepRecord> steps;
    std::optional<Placement> placement;
    // Bumped by every placement and loss: answers that carry an older one are stale.
    uint64_t attempt = 0;
    uint32_t losses = 0;  // placements lost, against max_failovers
    bool rebuilding = false;  // lost its placement; waits for, or runs, a replay elsewhere
    bool in_queue = false;
    StartCallback on_started;  // until the first reset answers
    std::optional<PendingStep> pending;
    Clock::time_point queued_at;
    Clock::time_point last_activity;
    FailoverRecord failover;  // of the rebuild in progress
    Clock::time_point lost_at;
  };

  struct Group {
    uint32_t n = 0;
    uint32_t finished = 0;
    std::vector<std::string> members;
  };

  struct PoolState {
    Pool pool;
    // Rebuilds go before new episodes: they are episodes a client is already running.
    std::deque<std::string> rebuilds;
    std::deque<std::string> starts;
    uint32_t queued = 0;
    uint32_t running = 0;
  };

  static bool Ended(const Episode& e) {
    return e.summary.state != EpisodeState::kQueued && e.summary.state != EpisodeState::kRunning;
  }

  Episode* Find(const std::string& id) {
    const auto it = episodes_.find(id);
    return it == episodes_.end() ? nullptr : &it->second;
  }

  PoolState& PoolOf(const Episode& e) { return pools_.at(e.summary.spec.env); }

  Episode& NewEpisode(EpisodeSpec spec, std::string group) {
    std::string id = NewRandomId("ep");
    Episode& e = episodes_[id];
    e.summary.id = std::move(id);
    e.summary.spec = std::move(spec);
    e.summary.group = std::move(group);
    e.summary.created_ms = UnixMillis();
    e.queued_at = Clock::now();
    e.last_activity = e.queued_at;
    return e;
  }

  static Status Steppable(const Episode& e) {
    const std::string& id = e.summary.id;
    switch (e.summary.state) {
      case EpisodeState::kRunning: return Status::Ok();
      case EpisodeState::kQueued: return FailedPrecondition("episode " + id + " has not started yet");
      case EpisodeState::kFinished: return FailedPrecondition("episode " + id + " has ended (" + e.summary.end_reason + ")");
      case EpisodeState::kCancelled: return Aborted("episode " + id + " was cancelled (" + e.summary.end_reason + ")");
      case EpisodeState::kFailed: return FailedPrecondition("episode " + id + " failed: " + e.summary.end_reason);
    }
    return Internal("episode " + id + " in an unknown state");
  }

  void Enqueue(PoolState& ps, Episode& e, bool rebuild) {
    (rebuild ? ps.rebuilds : ps.starts).push_back(e.summary.id);
    e.in_queue = true;
    e.queued_at = Clock::now();
    ++ps.queued;
  }

  // Places waiting episodes while slots are free, then sizes the pool.
  void Pump(PoolState& ps) {
    for (auto* queue : {&ps.rebuilds, &ps.starts}) {
      while (!queue->empty()) {
        Episode* e = Find(queue->front());
        if (e == nullptr || !e->in_queue) {
          queue->pop_front();  // ended while it waited
          continue;
        }
        std::optional<Placement> placement = ps.pool.Take(e->summary.id);
        if (!placement) break;
        queue->pop_front();
        e->in_queue = false;
        --ps.queued;
        Place(ps, *e, std::move(*placement));
      }
    }
    Resize(ps);
  }

  void Place(PoolState& ps, Episode& e, Placement placement) {
    e.placement = placement;
    e.summary.sandbox_id = placement.sandbox_id;
    const uint64_t attempt = ++e.attempt;
    if (e.summary.state == EpisodeState::kQueued) {
      e.summary.state = EpisodeState::kRunning;
      ++ps.running;
    }
    json reset = {{"type", "reset"}, {"slot", placement.slot}, {"task", e.summary.spec.task}, {"seed", e.summary.spec.seed}};
    const std::string& id = e.summary.id;
    if (!e.rebuilding) {
      supervisor_.EnvRequest(placement.sandbox_id, std::move(reset), options_.step_timeout,
                             [self = shared_from_this(), id, attempt](StatusOr<json> answer) {
                               self->Post([id, attempt, answer = std::move(answer)](Impl& impl) mutable {
                                 impl.OnResetAnswer(id, attempt, std::move(answer));
                               });
                             });
      return;
    }
    // Replay: the reset and every recorded action, pipelined; the worker answers in order, so
    // the i-th request may wait for the i before it.
    const std::size_t count = e.steps.size() + 1;
    for (std::size_t i = 0; i < count; ++i) {
      json message = i == 0 ? std::move(reset)
                            : json{{"type", "step"}, {"slot", placement.slot}, {"action", e.steps[i - 1].action}};
      supervisor_.EnvRequest(placement.sandbox_id, std::move(message), options_.step_timeout * static_cast<int64_t>(i + 1),
                             [self = shared_from_this(), id, attempt, i](StatusOr<json> answer) {
                               self->Post([id, attempt, i, answer = std::move(answer)](Impl& impl) mutable {
                                 impl.OnReplayAnswer(id, attempt, i, std::move(answer));
                               });
                             });
    }
  }

  void OnResetAnswer(const std::string& id, uint64_t attempt, StatusOr<json> answer) {
    Episode* e = Find(id);
    if (e == nullptr || e->attempt != attempt || Ended(*e)) return;
    StatusOr<EnvReply> reply = answer.ok() ? ParseEnvReply(std::move(*answer)) : StatusOr<EnvReply>(answer.status());
    if (!reply.ok()) {
      if (IsSandboxFailure(reply.status().code())) return Lost(*e, reply.status().message(), reply.status().code());
      // The env refused the task: the client's mistake, told as the env put it.
      return End(*e, EpisodeState::kFailed, reply.status().message(), reply.status());
    }
    e->summary.started_ms = UnixMillis();
    e->first_observation = reply->observation;
    e->last_activity = Clock::now();
    observer_.OnEpisodeStarted(e->summary, e->first_observation);
    if (auto done = std::exchange(e->on_started, nullptr)) done(Started{id, std::move(reply).value()});
  }

  void OnReplayAnswer(const std::string& id, uint64_t attempt, std::size_t index, StatusOr<json> answer) {
    Episode* e = Find(id);
    if (e == nullptr || e->attempt != attempt || Ended(*e)) return;
    StatusOr<EnvReply> reply = answer.ok() ? ParseEnvReply(std::move(*answer)) : StatusOr<EnvReply>(answer.status());
    if (!reply.ok()) {
      if (IsSandboxFailure(reply.status().code())) return Lost(*e, reply.status().message(), reply.status().code());
      return End(*e, EpisodeState::kFailed, "replay refused by the env: " + reply.status().message(),
                 Internal("episode " + id + " could not be rebuilt: " + reply.status().message()));
    }
    if (std::string diverged = Diverges(*e, index, *reply); !diverged.empty()) {
      spdlog::error("episode {}: replay on sandbox {} diverged at step {}: {}; the env is not deterministic", id,
                    e->summary.sandbox_id, index, diverged);
      return End(*e, EpisodeState::kFailed, "replay diverged at step " + std::to_string(index),
                 Internal("episode " + id + " could not be rebuilt: its env answered differently on replay"));
    }
    if (index + 1 < e->steps.size() + 1) return;
    // Every recorded answer reproduced: the episode continues here.
    e->rebuilding = false;
    ++e->summary.failovers;
    e->failover.to_sandbox = e->summary.sandbox_id;
    e->failover.replayed_steps = static_cast<uint32_t>(e->steps.size());
    e->failover.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - e->lost_at).count();
    spdlog::info("episode {}: rebuilt on sandbox {} ({} steps replayed) after {}", id, e->failover.to_sandbox,
                 e->failover.replayed_steps, e->failover.reason);
    observer_.OnFailover(e->summary, e->failover);
    if (e->pending) SendStep(*e);
  }

  // Empty when the replayed answer `index` (0: the reset) equals what the client was told.
  static std::string Diverges(const Episode& e, std::size_t index, const EnvReply& reply) {
    if (index == 0) return reply.observation == e.first_observation ? "" : "the first observation differs";
    const StepRecord& step = e.steps[index - 1];
    if (reply.observation != step.observation) return "the observation differs";
    if (reply.reward != step.reward) return "the reward differs";
    if (reply.terminated != step.terminated) return "terminated differs";
    return "";
  }

  void SendStep(Episode& e) {
    const uint64_t attempt = e.attempt;
    json step = {{"type", "step"}, {"slot", e.placement->slot}, {"action", e.pending->action}};
    supervisor_.EnvRequest(e.placement->sandbox_id, std::move(step), options_.step_timeout,
                           [self = shared_from_this(), id = e.summary.id, attempt](StatusOr<json> answer) {
                             self->Post([id, attempt, answer = std::move(answer)](Impl& impl) mutable {
                               impl.OnStepAnswer(id, attempt, std::move(answer));
                             });
                           });
  }

  void OnStepAnswer(const std::string& id, uint64_t attempt, StatusOr<json> answer) {
    Episode* e = Find(id);
    if (e == nullptr || e->attempt != attempt || Ended(*e) || !e->pending) return;
    StatusOr<EnvReply> reply = answer.ok() ? ParseEnvReply(std::move(*answer)) : StatusOr<EnvReply>(answer.status());
    if (!reply.ok()) {
      if (IsSandboxFailure(reply.status().code())) return Lost(*e, reply.status().message(), reply.status().code());
      // The env refused this action and left the episode as it was: the client may go on.
      auto pending = std::exchange(e->pending, std::nullopt);
      return pending->done(reply.status());
    }
    auto pending = std::exchange(e->pending, std::nullopt);
    const auto now = Clock::now();
    StepRecord record;
    record.step = static_cast<uint32_t>(e->steps.size() + 1);
    record.action = std::move(pending->action);
    record.observation = reply->observation;
    record.reward = reply->reward;
    record.terminated = reply->terminated;
    const uint32_t max_steps = e->summary.spec.max_steps;
    record.truncated = reply->truncated || (!reply->terminated && max_steps > 0 && record.step >= max_steps);
    reply->truncated = record.truncated;
    record.ts_ms = UnixMillis();
    record.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(now - pending->began).count();
    e->summary.steps = record.step;
    e->summary.total_reward += record.reward;
    e->last_activity = now;
    e->steps.push_back(std::move(record));
    observer_.OnStep(e->summary, e->steps.back());
    const bool ended = reply->terminated || reply->truncated;
    pending->done(std::move(reply).value());
    if (ended) End(*e, EpisodeState::kFinished, e->steps.back().terminated ? "terminated" : "truncated");
  }

  // The episode's placement failed (`reason`): rebuild it elsewhere, or fail it when it has been
  // lost too often. A sandbox that missed a deadline is restarted: it is hung or too slow, and
  // its other episodes move too. `health_known`: the loss comes from the supervisor's transition,
  // which already set the sandbox's health (marking it down would hide a quarantine).
  void Lost(Episode& e, const std::string& reason, Code code = Code::kUnavailable, bool health_known = false) {
    PoolState& ps = PoolOf(e);
    std::string from;
    if (e.placement) {
      from = e.placement->sandbox_id;
      ps.pool.Free(*e.placement, e.summary.id);
      e.placement.reset();
    }
    e.summary.sandbox_id.clear();
    ++e.attempt;
    ++e.losses;
    if (!e.rebuilding) {
      e.lost_at = Clock::now();
      e.failover = FailoverRecord{from, "", reason, 0, 0};
    }
    spdlog::warn("episode {}: lost its placement on sandbox {}: {}", e.summary.id, from.empty() ? "-" : from, reason);
    if (!from.empty() && !health_known && (code == Code::kDeadlineExceeded || code == Code::kUnavailable)) {
      // The supervisor's transition may still be on its way: stop placing episodes there now.
      MarkDown(ps, from, reason);
      if (code == Code::kDeadlineExceeded) RestartHung(from);
    }
    if (e.losses > options_.max_failovers) {
      return End(e, EpisodeState::kFailed, "lost " + std::to_string(e.losses) + " times; last: " + reason,
                 Unavailable("episode " + e.summary.id + " could not be kept alive: " + reason));
    }
    // An episode whose reset never answered starts again; one that did is rebuilt by replay.
    // Either way it goes before new episodes.
    e.rebuilding = e.summary.started_ms != 0;
    Enqueue(ps, e, /*rebuild=*/true);
    Pump(ps);
  }

  // The sandbox's other episodes move too; the supervisor's next transition brings it back.
  void MarkDown(PoolState& ps, const std::string& sandbox_id, const std::string& reason) {
    for (const std::string& id : ps.pool.SetHealth(sandbox_id, SandboxHealth::kDown)) {
      if (Episode* other = Find(id)) Lost(*other, "sandbox " + sandbox_id + " failed another episode: " + reason);
    }
  }

  // A sandbox that missed a deadline is hung or too slow for its episodes.
  void RestartHung(const std::string& sandbox_id) {
    supervisor_.Restart(sandbox_id, [sandbox_id](StatusOr<sandbox::SandboxStatus> restarted) {
      if (!restarted.ok()) spdlog::warn("restarting hung sandbox {}: {}", sandbox_id, restarted.status().message());
    });
  }

  // Ends the episode: frees its slot at once and answers whoever waits on it with `why` (or,
  // when `why` is OK, with what its state says).
  void End(Episode& e, EpisodeState state, std::string reason, Status why = Status::Ok()) {
    PoolState& ps = PoolOf(e);
    if (e.placement) ps.pool.Free(*e.placement, e.summary.id);
    e.placement.reset();
    e.summary.sandbox_id.clear();
    ++e.attempt;
    if (e.in_queue) {
      e.in_queue = false;
      --ps.queued;
    }
    if (e.summary.state == EpisodeState::kRunning) --ps.running;
    e.summary.state = state;
    e.summary.end_reason = std::move(reason);
    e.summary.ended_ms = UnixMillis();
    e.rebuilding = false;
    if (why.ok()) why = Steppable(e);
    if (auto pending = std::exchange(e.pending, std::nullopt)) pending->done(why);
    if (auto done = std::exchange(e.on_started, nullptr)) done(why);
    if (e.summary.started_ms != 0) observer_.OnEpisodeEnded(e.summary);
    const std::string id = e.summary.id;
    const std::string group = e.summary.group;
    Retain(id);
    if (!group.empty()) EndMember(group, state == EpisodeState::kFinished);
    Pump(ps);
  }

  // Once n members of a group have finished, the redundant rest are cancelled.
  void EndMember(const std::string& group_id, bool finished) {
    const auto it = groups_.find(group_id);
    if (it == groups_.end()) return;
    Group& group = it->second;
    if (finished) ++group.finished;
    if (group.finished < group.n) {
      const bool any_live = std::any_of(group.members.begin(), group.members.end(), [this](const std::string& id) {
        const Episode* member = Find(id);
        return member != nullptr && !Ended(*member);
      });
      if (!any_live) groups_.erase(it);  // failures left it short for good
      return;
    }
    const std::vector<std::string> members = std::move(group.members);
    groups_.erase(it);
    for (const std::string& id : members) {
      Episode* member = Find(id);
      if (member != nullptr && !Ended(*member)) End(*member, EpisodeState::kCancelled, "redundant");
    }
  }

  // Ended episodes stay readable for a while; the oldest go once there are too many.
  void Retain(const std::string& id) {
    ended_.push_back(id);
    while (ended_.size() > options_.keep_finished) {
      episodes_.erase(ended_.front());
      ended_.pop_front();
    }
  }

  void Tick() {
    const auto now = Clock::now();
    std::vector<std::pair<std::string, bool>> expired;  // id, whether it waited for a slot
    for (const auto& [id, e] : episodes_) {
      // A rebuild waits no longer than a start: with every sandbox down or quarantined, its
      // client gets an answer instead of a step that never returns.
      if (e.in_queue && now - e.queued_at > options_.queue_timeout) {
        expired.emplace_back(id, true);
      } else if (e.summary.state == EpisodeState::kRunning && !e.pending && !e.rebuilding && e.on_started == nullptr &&
                 now - e.last_activity > options_.idle_timeout) {
        expired.emplace_back(id, false);
      }
    }
    for (const auto& [id, waited_for_slot] : expired) {
      Episode* e = Find(id);
      if (e == nullptr) continue;
      if (waited_for_slot) {
        const auto waited = std::chrono::duration_cast<std::chrono::seconds>(options_.queue_timeout).count();
        const std::string why = e->rebuilding ? "no healthy sandbox to rebuild it on" : "no slot";
        End(*e, EpisodeState::kFailed, why,
            Unavailable("episode " + id + ": " + why + " in pool '" + e->summary.spec.env + "' within " +
                        std::to_string(waited) + " s"));
      } else {
        End(*e, EpisodeState::kCancelled, "idle");
      }
    }
    for (auto& [env, ps] : pools_) {
      if (std::optional<std::string> idle = ps.pool.ToRetire(now, ps.queued)) Retire(ps, *idle);
      Pump(ps);
    }
  }

  // Creates what the queue needs and publishes the pool's counts.
  void Resize(PoolState& ps) {
    if (!stopping_) {
      for (uint32_t n = ps.pool.ToCreate(ps.queued); n > 0; --n) CreateSandbox(ps);
    }
    bool all = true;
    for (const auto& [env, other] : pools_) all = all && other.pool.AtMinimum();
    at_minimum_ = all;
    observer_.OnPool(View(ps));
  }

  void CreateSandbox(PoolState& ps) {
    sandbox::Spec spec = ps.pool.config().sandbox;
    spec.id = sandbox::NewSandboxId();
    ps.pool.Add(spec.id);
    spdlog::info("pool {}: creating sandbox {}", ps.pool.env(), spec.id);
    supervisor_.Create(std::move(spec), [env = ps.pool.env()](StatusOr<sandbox::SandboxStatus> created) {
      if (!created.ok()) spdlog::warn("pool {}: a sandbox failed to start: {}", env, created.status().message());
    });
  }

  void Retire(PoolState& ps, const std::string& sandbox_id) {
    spdlog::info("pool {}: retiring idle sandbox {}", ps.pool.env(), sandbox_id);
    ps.pool.Remove(sandbox_id);
    supervisor_.Delete(sandbox_id, [sandbox_id](Status deleted) {
      if (!deleted.ok()) spdlog::warn("deleting retired sandbox {}: {}", sandbox_id, deleted.message());
    });
  }

  static PoolView View(const PoolState& ps) {
    PoolView view = ps.pool.View();
    view.queued = ps.queued;
    view.running = ps.running;
    return view;
  }

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer tick_;
  sandbox::Supervisor& supervisor_;
  const BalancerOptions options_;
  BalancerObserver& observer_;
  std::map<std::string, PoolState> pools_;
  std::unordered_map<std::string, Episode> episodes_;
  std::unordered_map<std::string, Group> groups_;
  std::deque<std::string> ended_;
  std::atomic<bool> at_minimum_{true};
  bool started_ticking_ = false;
  bool stopping_ = false;
};

Balancer::Balancer(asio::io_context& io, sandbox::Supervisor& supervisor, BalancerOptions options,
                   BalancerObserver& observer)
    : impl_(std::make_shared<Impl>(io, supervisor, options, observer)) {}

Balancer::~Balancer() = default;

void Balancer::SetPool(const std::string& env, PoolConfig config, std::function<void(StatusOr<PoolView>)> done) {
  impl_->Post([env, config = std::move(config), done = std::move(done)](Impl& impl) mutable {
    impl.SetPool(env, std::move(config), done);
  });
}

void Balancer::ListPools(std::function<void(std::vector<PoolView>)> done) {
  impl_->Post([done = std::move(done)](Impl& impl) { done(impl.ListPools()); });
}

bool Balancer::AtMinimum() const { return impl_->AtMinimum(); }

void Balancer::StartEpisode(EpisodeSpec spec, StartCallback done) {
  impl_->Post([spec = std::move(spec), done = std::move(done)](Impl& impl) mutable {
    impl.StartEpisode(std::move(spec), "", std::move(done));
  });
}

void Balancer::StartGroup(GroupSpec spec, std::function<void(StatusOr<GroupStarted>)> done) {
  impl_->Post([spec = std::move(spec), done = std::move(done)](Impl& impl) mutable {
    impl.StartGroup(std::move(spec), std::move(done));
  });
}

void Balancer::Step(const std::string& id, std::string action, StepCallback done) {
  impl_->Post([id, action = std::move(action), done = std::move(done)](Impl& impl) mutable {
    impl.Step(id, std::move(action), std::move(done));
  });
}

void Balancer::Cancel(const std::string& id, std::string reason, std::function<void(Status)> done) {
  impl_->Post([id, reason = std::move(reason), done = std::move(done)](Impl& impl) mutable {
    done(impl.Cancel(id, std::move(reason)));
  });
}

void Balancer::Get(const std::string& id, std::function<void(StatusOr<EpisodeView>)> done) {
  impl_->Post([id, done = std::move(done)](Impl& impl) { done(impl.Get(id)); });
}

void Balancer::List(std::function<void(std::vector<EpisodeSummary>)> done) {
  impl_->Post([done = std::move(done)](Impl& impl) { done(impl.List()); });
}

void Balancer::OnSandboxTransition(const sandbox::Transition& transition) {
  impl_->Post([transition](Impl& impl) { impl.OnTransition(transition); });
}

void Balancer::Stop(std::function<void()> done) {
  impl_->Post([done = std::move(done)](Impl& impl) {
    impl.Stop();
    done();
  });
}

}  // namespace rock::balancer
