#include "sandbox/supervisor.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "common/wall_clock.h"
#include "sandbox/frame.h"
#include "sandbox/launcher.h"

namespace rock::sandbox {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

constexpr std::size_t kTransitionsKept = 20;
// Slack past an exec's own timeout before rockd stops waiting for the worker's answer.
constexpr std::chrono::seconds kExecGrace{10};

}  // namespace

std::string_view StateName(State state) {
  switch (state) {
    case State::kStarting: return "starting";
    case State::kReady: return "ready";
    case State::kRestarting: return "restarting";
    case State::kQuarantined: return "quarantined";
    case State::kStopped: return "stopped";
  }
  return "unknown";
}

// One supervised sandbox. Async handlers carry the generation they were started for and do
// nothing once the sandbox has been relaunched or removed.
struct Sandbox {
  Sandbox(Strand& strand, Spec s)
      : spec(std::move(s)), heartbeat(strand), ready_timer(strand), backoff_timer(strand), request_timer(strand) {}

  // An exec or env request waiting for its answer, by the id it was sent with.
  struct PendingRequest {
    Supervisor::JsonCallback done;
    Clock::time_point deadline;
    std::string type;  // of the request, for the deadline's message
  };

  Spec spec;
  State state = State::kStarting;
  uint64_t generation = 0;
  std::unique_ptr<SandboxProcess> process;
  std::unique_ptr<asio::posix::stream_descriptor> control;
  std::unique_ptr<asio::posix::stream_descriptor> exit_watch;
  FrameDecoder decoder;
  std::array<char, 64 * 1024> read_buffer{};
  std::deque<std::string> write_queue;
  // The frames of the write in flight, all that was queued when it began: under load one write
  // carries the steps of many episodes.
  std::vector<std::string> writing_frames;
  bool writing = false;
  asio::steady_timer heartbeat;
  asio::steady_timer ready_timer;
  asio::steady_timer backoff_timer;
  // One timer for all requests' deadlines, armed for the earliest: a timer per request cost a
  // timer and a cancelled handler per step.
  asio::steady_timer request_timer;
  std::optional<Clock::time_point> request_timer_at;  // set while armed
  uint64_t ping_seq = 0;
  uint64_t pong_seq = 0;
  int64_t last_pong_ms = 0;
  Clock::time_point launched_at;
  uint64_t oom_kills_at_launch = 0;
  std::vector<Supervisor::SandboxCallback> ready_waiters;
  std::map<uint64_t, PendingRequest> requests;
  uint64_t next_request_id = 1;
  uint32_t restarts = 0;
  std::deque<Clock::time_point> failures;
  std::string last_error;
  int64_t created_ms = UnixMillis();
  int64_t state_since_ms = created_ms;
  std::deque<Transition> transitions;
};

class Supervisor::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, SupervisorOptions options, SupervisorObserver& observer,
       std::weak_ptr<asio::thread_pool> blocking)
      : strand_(asio::make_strand(io)), options_(std::move(options)), observer_(observer), blocking_(blocking) {
    // Compiled once here rather than in every worker (sandbox/launcher.h). Without one, workers
    // compile their own: slower, equally contained.
    for (SeccompProfile profile : {SeccompProfile::kShell, SeccompProfile::kEnv}) {
      StatusOr<SeccompFilter> filter = BuildSeccompFilter(profile);
      if (filter.ok()) {
        filters_.emplace(profile, std::move(filter).value());
      } else {
        spdlog::warn("compiling a seccomp profile: {}; workers will compile their own", filter.status().message());
      }
    }
  }

  template <typename F>
  void Post(F&& f) {
    asio::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(*self); });
  }

  void Create(Spec spec, SandboxCallback done) {
    if (sandboxes_.contains(spec.id)) return done(Status(Code::kAlreadyExists, "sandbox " + spec.id + " exists"));
    spec.root_dir = (options_.state_dir / spec.id / "root").string();
    if (Status s = ValidateSpec(spec); !s.ok()) return done(s);
    const std::string id = spec.id;  // not spec.id below: the spec is moved in the same call
    auto& sb = *sandboxes_.emplace(id, std::make_unique<Sandbox>(strand_, std::move(spec))).first->second;
    Transit(sb, State::kStarting, "created");
    sb.ready_waiters.push_back(std::move(done));
    Launch(sb);
  }

  void Exec(const std::string& id, nlohmann::json request, JsonCallback done) {
    Sandbox* sb = ReadyOrAnswer(id, done);
    if (sb == nullptr) return;
    const auto wall = std::chrono::milliseconds(sb->spec.limits.wall_ms);
    auto timeout = std::chrono::milliseconds(request.value("timeout_ms", static_cast<int64_t>(wall.count())));
    timeout = std::clamp(timeout, std::chrono::milliseconds(1), wall);
    request["type"] = "exec";
    request["timeout_ms"] = timeout.count();
    if (!request.contains("max_output_bytes")) request["max_output_bytes"] = sb->spec.limits.output_bytes;
    SendRequest(*sb, std::move(request), "id", timeout + kExecGrace, std::move(done));
  }

  void EnvRequest(const std::string& id, nlohmann::json request, std::chrono::milliseconds timeout, JsonCallback done) {
    Sandbox* sb = ReadyOrAnswer(id, done);
    if (sb == nullptr) return;
    SendRequest(*sb, std::move(request), "req", timeout, std::move(done));
  }

  void Restart(const std::string& id, SandboxCallback done) {
    Sandbox* sb = Find(id);
    if (sb == nullptr) return done(NotFound("no sandbox " + id));
    std::unique_ptr<SandboxProcess> old = Stop(*sb, "restart requested");
    sb->failures.clear();
    ++sb->restarts;
    Transit(*sb, State::kStarting, "restart requested");
    sb->ready_waiters.push_back(std::move(done));
    Dispose(std::move(old), {}, [id, generation = sb->generation](Impl& impl) {
      Sandbox* current = impl.Find(id);
      if (current != nullptr && current->generation == generation) impl.Launch(*current);
    });
  }

  void Delete(const std::string& id, StatusCallback done) {
    Sandbox* sb = Find(id);
    if (sb == nullptr) return done(NotFound("no sandbox " + id));
    Remove(*sb, "deleted", [done = std::move(done)](Impl&) { done(Status::Ok()); });
  }

  void Get(const std::string& id, SandboxCallback done) {
    Sandbox* sb = Find(id);
    if (sb == nullptr) return done(NotFound("no sandbox " + id));
    done(Snapshot(*sb));
  }

  void List(const std::function<void(std::vector<SandboxStatus>)>& done) {
    std::vector<SandboxStatus> all;
    all.reserve(sandboxes_.size());
    for (auto& [id, sb] : sandboxes_) all.push_back(Snapshot(*sb));
    done(std::move(all));
  }

  void StopAll(const std::function<void()>& done) {
    std::vector<std::string> ids;
    for (const auto& [id, sb] : sandboxes_) ids.push_back(id);
    if (ids.empty()) return done();
    auto left = std::make_shared<std::size_t>(ids.size());
    for (const auto& id : ids) {
      Remove(*sandboxes_.at(id), "rockd stopping", [left, done](Impl&) {
        if (--*left == 0) done();
      });
    }
  }

  Status RemoveStale() {
    Status status = Cgroup::RemoveStale(options_.cgroup_parent);
    std::error_code ec;
    if (std::filesystem::exists(options_.state_dir, ec)) {
      for (const auto& entry : std::filesystem::directory_iterator(options_.state_dir, ec)) {
        std::filesystem::remove_all(entry.path(), ec);
        if (ec) {
          spdlog::error("removing stale sandbox directory {}: {}", entry.path().string(), ec.message());
          if (status.ok()) status = IoError("remove " + entry.path().string() + ": " + ec.message());
        } else {
          spdlog::info("removed stale sandbox directory {}", entry.path().string());
        }
      }
    }
    return status;
  }

 private:
  Sandbox* Find(const std::string& id) {
    auto it = sandboxes_.find(id);
    return it == sandboxes_.end() ? nullptr : it->second.get();
  }

  void Transit(Sandbox& sb, State to, std::string reason) {
    Transition t{sb.spec.id, sb.spec.env, sb.transitions.empty() ? std::nullopt : std::optional<State>(sb.state), to,
                 std::move(reason), UnixMillis()};
    sb.state = to;
    sb.state_since_ms = t.ts_ms;
    sb.transitions.push_back(t);
    if (sb.transitions.size() > kTransitionsKept) sb.transitions.pop_front();
    observer_.OnTransition(t);
  }

  SandboxStatus Snapshot(Sandbox& sb) {
    SandboxStatus status{sb.spec, sb.state, sb.process ? sb.process->pid() : 0,
                         sb.process ? sb.process->cgroup().path() : std::string(), sb.restarts, sb.created_ms,
                         sb.state_since_ms, sb.last_pong_ms, static_cast<uint32_t>(sb.ping_seq - sb.pong_seq),
                         sb.last_error, std::nullopt, sb.transitions};
    if (sb.process) {
      auto usage = sb.process->cgroup().Usage();
      if (usage.ok()) status.usage = *usage;
    }
    return status;
  }

  // Launching blocks for milliseconds (cgroup creation, clone), so it runs on the blocking pool
  // and the strand stays free; launches of different sandboxes overlap.
  void Launch(Sandbox& sb) {
    const uint64_t generation = ++sb.generation;
    sb.decoder = FrameDecoder();
    sb.write_queue.clear();
    sb.writing_frames.clear();
    sb.writing = false;
    sb.ping_seq = sb.pong_seq = 0;
    sb.launched_at = Clock::now();
    const auto filter = filters_.find(SeccompProfileFor(sb.spec.env));
    RunBlocking([self = shared_from_this(), spec = sb.spec, generation,
                 options = LaunchOptions{options_.worker_path, options_.cgroup_parent,
                                         filter == filters_.end() ? nullptr : &filter->second}] {
      StatusOr<std::unique_ptr<SandboxProcess>> process = StartProcess(spec, options);
      self->Post([id = spec.id, generation, process = std::move(process)](Impl& impl) mutable {
        impl.OnLaunched(id, generation, std::move(process));
      });
    });
  }

  // On the pool; inline once the supervisor is being destroyed (no pool left to run it).
  template <typename F>
  void RunBlocking(F&& f) {
    if (std::shared_ptr<asio::thread_pool> pool = blocking_.lock()) {
      asio::post(*pool, std::forward<F>(f));
    } else {
      f();
    }
  }

  static StatusOr<std::unique_ptr<SandboxProcess>> StartProcess(const Spec& spec, const LaunchOptions& options) {
    std::error_code mkdir_error;
    std::filesystem::create_directories(spec.root_dir, mkdir_error);
    if (mkdir_error) return IoError("creating " + spec.root_dir + ": " + mkdir_error.message());
    StatusOr<std::unique_ptr<SandboxProcess>> process = sandbox::Launch(spec, options);
    if (!process.ok()) return process.status().WithContext("launch");
    return process;
  }

  void OnLaunched(const std::string& id, uint64_t generation, StatusOr<std::unique_ptr<SandboxProcess>> process) {
    Sandbox* found = Find(id);
    if (found == nullptr || found->generation != generation) {
      // Deleted or restarted while launching: this process is nobody's.
      if (process.ok()) Dispose(std::move(process).value(), {}, nullptr);
      return;
    }
    Sandbox& sb = *found;
    if (!process.ok()) return Fail(sb, process.status().message());
    sb.process = std::move(process).value();
    if (auto usage = sb.process->cgroup().Usage(); usage.ok()) sb.oom_kills_at_launch = usage->oom_kills;

    // The control socket moves into Asio; the exit watch owns a duplicate of the pidfd, whose
    // original SandboxProcess keeps to signal and reap.
    sb.control = std::make_unique<asio::posix::stream_descriptor>(strand_, sb.process->ReleaseControl().Release());
    sb.exit_watch = std::make_unique<asio::posix::stream_descriptor>(strand_, dup(sb.process->pidfd()));
    sb.exit_watch->async_wait(asio::posix::stream_descriptor::wait_read,
                              [self = shared_from_this(), id = sb.spec.id, generation](auto ec) {
                                if (!ec) self->OnExit(id, generation);
                              });
    sb.ready_timer.expires_after(options_.ready_timeout);
    sb.ready_timer.async_wait([self = shared_from_this(), id = sb.spec.id, generation](auto ec) {
      Sandbox* current = self->Find(id);
      if (ec || current == nullptr || current->generation != generation) return;
      if (current->state == State::kStarting || current->state == State::kRestarting) {
        self->Fail(*current, "not ready within " + std::to_string(self->options_.ready_timeout.count()) + " ms");
      }
    });
    Read(sb, generation);
  }

  void Read(Sandbox& sb, uint64_t generation) {
    sb.control->async_read_some(
        asio::buffer(sb.read_buffer), [self = shared_from_this(), id = sb.spec.id, generation](auto ec, std::size_t n) {
          Sandbox* current = self->Find(id);
          if (current == nullptr || current->generation != generation) return;
          if (ec) return;  // EOF or error: the exit watch reports why the worker went away
          current->decoder.Append(std::string_view(current->read_buffer.data(), n));
          while (true) {
            auto message = current->decoder.Next();
            if (!message.ok()) return self->Fail(*current, "protocol error: " + message.status().message());
            if (!message->has_value()) break;
            try {
              self->OnMessage(*current, std::move(**message));
            } catch (const nlohmann::json::exception& e) {
              // A field of the wrong type: the worker is broken, like a malformed frame.
              return self->Fail(*current, std::string("protocol error: ") + e.what());
            }
            current = self->Find(id);
            if (current == nullptr || current->generation != generation) return;
          }
          self->Read(*current, generation);
        });
  }

  // The sandbox if it is ready; otherwise answers `done` with why not.
  Sandbox* ReadyOrAnswer(const std::string& id, const JsonCallback& done) {
    Sandbox* sb = Find(id);
    if (sb == nullptr) {
      done(NotFound("no sandbox " + id));
      return nullptr;
    }
    if (sb->state != State::kReady) {
      done(Unavailable("sandbox " + id + " is " + std::string(StateName(sb->state))));
      return nullptr;
    }
    return sb;
  }

  // Sends `message` with a fresh id in `id_field` ("id" for exec, "req" for env messages, as the
  // worker echoes them) and waits for the answer carrying it, at most `timeout`.
  void SendRequest(Sandbox& sb, nlohmann::json message, const char* id_field, std::chrono::milliseconds timeout,
                   JsonCallback done) {
    const uint64_t request_id = sb.next_request_id++;
    message[id_field] = request_id;
    const Clock::time_point deadline = Clock::now() + timeout;
    sb.requests.emplace(request_id, Sandbox::PendingRequest{std::move(done), deadline, message.value("type", "")});
    if (!sb.request_timer_at || deadline < *sb.request_timer_at) ArmRequestTimer(sb, deadline);
    Send(sb, message);
  }

  void ArmRequestTimer(Sandbox& sb, Clock::time_point at) {
    sb.request_timer_at = at;
    sb.request_timer.expires_at(at);  // cancels the wait for a later deadline, if any
    sb.request_timer.async_wait([self = shared_from_this(), id = sb.spec.id, generation = sb.generation](auto ec) {
      if (ec) return;
      Sandbox* current = self->Find(id);
      if (current == nullptr || current->generation != generation) return;
      current->request_timer_at.reset();
      self->ExpireRequests(*current);
    });
  }

  // Answers the requests past their deadline, then waits for the earliest of the others.
  void ExpireRequests(Sandbox& sb) {
    const auto now = Clock::now();
    std::vector<uint64_t> expired;
    std::optional<Clock::time_point> next;
    for (const auto& [request_id, pending] : sb.requests) {
      if (pending.deadline <= now) {
        expired.push_back(request_id);
      } else if (!next || pending.deadline < *next) {
        next = pending.deadline;
      }
    }
    if (next) ArmRequestTimer(sb, *next);
    const std::string id = sb.spec.id;
    const uint64_t generation = sb.generation;
    for (uint64_t request_id : expired) {
      // An answer may restart or remove the sandbox (the balancer restarts a hung one).
      Sandbox* current = Find(id);
      if (current == nullptr || current->generation != generation) return;
      auto node = current->requests.extract(request_id);
      if (!node.empty()) {
        node.mapped().done(Status(Code::kDeadlineExceeded, "sandbox " + id + " did not answer " + node.mapped().type));
      }
    }
  }

  // Answers the request `message` replies to, if it still waits. An env_error becomes the Status
  // it names; a reply comes without its type and id.
  static void Answer(Sandbox& sb, nlohmann::json message, const char* id_field) {
    const auto id = message.find(id_field);
    if (id == message.end() || !id->is_number_unsigned()) return;
    auto node = sb.requests.extract(id->get<uint64_t>());
    if (node.empty()) return;
    if (message.value("type", "") == "env_error") {
      return node.mapped().done(Status(code_from_name(message.value("code", "")), message.value("message", "")));
    }
    message.erase(id_field);
    message.erase("type");  // the caller knows what it asked
    node.mapped().done(std::move(message));
  }

  void OnMessage(Sandbox& sb, nlohmann::json message) {
    const std::string type = message.value("type", "");
    if (type == "ready") {
      sb.ready_timer.cancel();
      const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sb.launched_at);
      Transit(sb, State::kReady, sb.restarts == 0 ? "ready" : "ready after restart");
      observer_.OnReady(sb.spec.id, latency);
      sb.last_pong_ms = UnixMillis();
      ScheduleHeartbeat(sb);
      auto waiters = std::exchange(sb.ready_waiters, {});
      for (auto& waiter : waiters) waiter(Snapshot(sb));
    } else if (type == "pong") {
      sb.pong_seq = std::max<uint64_t>(sb.pong_seq, message.value("seq", uint64_t{0}));
      sb.last_pong_ms = UnixMillis();
    } else if (type == "exec_result") {
      Answer(sb, std::move(message), "id");
    } else if (type == "reset_result" || type == "step_result" || type == "closed" || type == "env_error") {
      Answer(sb, std::move(message), "req");
    } else if (type == "error") {
      sb.last_error = message.value("message", "worker error");
      spdlog::warn("sandbox {}: worker reports: {}", sb.spec.id, sb.last_error);
    } else {
      spdlog::warn("sandbox {}: unexpected message type '{}'", sb.spec.id, type);
    }
  }

  void ScheduleHeartbeat(Sandbox& sb) {
    sb.heartbeat.expires_after(options_.health_interval);
    sb.heartbeat.async_wait([self = shared_from_this(), id = sb.spec.id, generation = sb.generation](auto ec) {
      Sandbox* current = self->Find(id);
      if (ec || current == nullptr || current->generation != generation || current->state != State::kReady) return;
      const uint64_t missed = current->ping_seq - current->pong_seq;
      if (missed >= self->options_.health_misses) {
        return self->Fail(*current, "hung: " + std::to_string(missed) + " heartbeats unanswered");
      }
      self->Send(*current, {{"type", "ping"}, {"seq", ++current->ping_seq}});
      self->ScheduleHeartbeat(*current);
    });
  }

  void Send(Sandbox& sb, const nlohmann::json& message) {
    sb.write_queue.push_back(EncodeFrame(message));
    if (!sb.writing) WriteNext(sb);
  }

  void WriteNext(Sandbox& sb) {
    if (sb.write_queue.empty() || !sb.control) return;
    sb.writing = true;
    sb.writing_frames.assign(std::make_move_iterator(sb.write_queue.begin()), std::make_move_iterator(sb.write_queue.end()));
    sb.write_queue.clear();
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(sb.writing_frames.size());
    for (const std::string& frame : sb.writing_frames) buffers.push_back(asio::buffer(frame));
    asio::async_write(*sb.control, buffers,
                      [self = shared_from_this(), id = sb.spec.id, generation = sb.generation](auto ec, std::size_t) {
                        Sandbox* current = self->Find(id);
                        if (current == nullptr || current->generation != generation) return;
                        current->writing = false;
                        if (ec) return;  // the exit watch reports the worker's end
                        current->writing_frames.clear();
                        self->WriteNext(*current);
                      });
  }

  void OnExit(const std::string& id, uint64_t generation) {
    Sandbox* sb = Find(id);
    if (sb == nullptr || sb->generation != generation || !sb->process) return;
    const std::optional<int> wait_status = sb->process->TryReap();
    std::string reason = wait_status ? DescribeWorkerExit(*wait_status) : "crashed";
    if (auto usage = sb->process->cgroup().Usage(); usage.ok() && usage->oom_kills > sb->oom_kills_at_launch) {
      reason = "oom: killed by the memory limit";
    }
    if (!sb->last_error.empty() && sb->state == State::kStarting) reason += " (" + sb->last_error + ")";
    Fail(*sb, reason);
  }

  using Continuation = std::function<void(Impl&)>;

  // Ends the current run and answers every exec waiting on it. Returns the old process for
  // Dispose, whose continuation runs once it is gone: a relaunch never meets its predecessor's
  // cgroup.
  [[nodiscard]] std::unique_ptr<SandboxProcess> Stop(Sandbox& sb, const std::string& reason) {
    ++sb.generation;
    sb.heartbeat.cancel();
    sb.ready_timer.cancel();
    sb.backoff_timer.cancel();
    sb.request_timer.cancel();
    sb.request_timer_at.reset();
    sb.control.reset();
    sb.exit_watch.reset();
    auto requests = std::exchange(sb.requests, {});
    for (auto& [request_id, pending] : requests) {
      pending.done(Unavailable("sandbox " + sb.spec.id + " stopped before it answered: " + reason));
    }
    return std::move(sb.process);
  }

  // Kills `process` (if any) and removes `directory` (if any) on the blocking pool, then runs
  // `then` (if any) on the strand.
  void Dispose(std::unique_ptr<SandboxProcess> process, std::filesystem::path directory, Continuation then) {
    RunBlocking([self = shared_from_this(), process = std::move(process), directory = std::move(directory),
                 then = std::move(then)]() mutable {
      if (process) {
        if (Status s = process->Kill(); !s.ok()) spdlog::error("stopping sandbox pid {}: {}", process->pid(), s.message());
        process.reset();
      }
      std::error_code ec;
      if (!directory.empty() && (std::filesystem::remove_all(directory, ec), ec)) {
        spdlog::error("removing {}: {}", directory.string(), ec.message());
      }
      if (then) self->Post(std::move(then));
    });
  }

  void Fail(Sandbox& sb, const std::string& reason) {
    spdlog::warn("sandbox {} failed: {}", sb.spec.id, reason);
    sb.last_error = reason;
    std::unique_ptr<SandboxProcess> old = Stop(sb, reason);
    auto waiters = std::exchange(sb.ready_waiters, {});
    for (auto& waiter : waiters) waiter(Unavailable("sandbox " + sb.spec.id + " failed to start: " + reason));

    const auto now = Clock::now();
    sb.failures.push_back(now);
    while (!sb.failures.empty() && now - sb.failures.front() > options_.crash_loop_window) sb.failures.pop_front();
    if (sb.failures.size() >= options_.crash_loop_failures) {
      Transit(sb, State::kQuarantined,
              reason + "; quarantined after " + std::to_string(sb.failures.size()) + " failures in " +
                  std::to_string(options_.crash_loop_window.count() / 1000) + " s");
      return Dispose(std::move(old), {}, {});
    }
    ++sb.restarts;
    Transit(sb, State::kRestarting, reason);
    // The first failure restarts at once; each further one in the window waits twice as long.
    auto delay = std::chrono::milliseconds(0);
    if (sb.failures.size() > 1) {
      const auto doublings = std::min<std::size_t>(sb.failures.size() - 2, 20);
      delay = std::min<std::chrono::milliseconds>(options_.backoff_max, options_.backoff_initial * (1 << doublings));
    }
    Dispose(std::move(old), {}, [id = sb.spec.id, stopped_generation = sb.generation, delay](Impl& impl) {
      Sandbox* current = impl.Find(id);
      if (current == nullptr || current->generation != stopped_generation) return;
      current->backoff_timer.expires_after(delay);
      current->backoff_timer.async_wait(
          [self = impl.shared_from_this(), id, generation = stopped_generation](auto ec) {
            Sandbox* again = self->Find(id);
            if (ec || again == nullptr || again->generation != generation) return;
            self->Launch(*again);
          });
    });
  }

  // Stops the sandbox and forgets it; `then` runs once its processes, cgroup and directory are
  // gone.
  void Remove(Sandbox& sb, const std::string& reason, Continuation then) {
    const std::string id = sb.spec.id;
    auto waiters = std::exchange(sb.ready_waiters, {});
    for (auto& waiter : waiters) waiter(Unavailable("sandbox " + id + " " + reason));
    std::unique_ptr<SandboxProcess> old = Stop(sb, reason);
    Transit(sb, State::kStopped, reason);
    sandboxes_.erase(id);
    Dispose(std::move(old), options_.state_dir / id, std::move(then));
  }

  Strand strand_;
  const SupervisorOptions options_;
  SupervisorObserver& observer_;
  std::weak_ptr<asio::thread_pool> blocking_;
  std::map<SeccompProfile, SeccompFilter> filters_;  // immutable after construction
  std::map<std::string, std::unique_ptr<Sandbox>> sandboxes_;
};

namespace {

std::size_t BlockingThreads(uint32_t configured) {
  if (configured != 0) return configured;
  return std::max<std::size_t>(2, std::thread::hardware_concurrency());
}

}  // namespace

Supervisor::Supervisor(asio::io_context& io, SupervisorOptions options, SupervisorObserver& observer)
    : blocking_(std::make_shared<asio::thread_pool>(BlockingThreads(options.blocking_threads))),
      impl_(std::make_shared<Impl>(io, std::move(options), observer, blocking_)) {}

// Lets every launch and kill already queued finish, so no sandbox is left half-started.
Supervisor::~Supervisor() { blocking_->join(); }

Status Supervisor::RemoveStale() { return impl_->RemoveStale(); }

void Supervisor::Create(Spec spec, SandboxCallback done) {
  impl_->Post([spec = std::move(spec), done = std::move(done)](Impl& impl) mutable {
    impl.Create(std::move(spec), std::move(done));
  });
}

void Supervisor::Exec(const std::string& id, nlohmann::json request, JsonCallback done) {
  impl_->Post([id, request = std::move(request), done = std::move(done)](Impl& impl) mutable {
    impl.Exec(id, std::move(request), std::move(done));
  });
}

void Supervisor::EnvRequest(const std::string& id, nlohmann::json request, std::chrono::milliseconds timeout,
                            JsonCallback done) {
  impl_->Post([id, request = std::move(request), timeout, done = std::move(done)](Impl& impl) mutable {
    impl.EnvRequest(id, std::move(request), timeout, std::move(done));
  });
}

void Supervisor::Restart(const std::string& id, SandboxCallback done) {
  impl_->Post([id, done = std::move(done)](Impl& impl) mutable { impl.Restart(id, std::move(done)); });
}

void Supervisor::Delete(const std::string& id, StatusCallback done) {
  impl_->Post([id, done = std::move(done)](Impl& impl) mutable { impl.Delete(id, std::move(done)); });
}

void Supervisor::Get(const std::string& id, SandboxCallback done) {
  impl_->Post([id, done = std::move(done)](Impl& impl) mutable { impl.Get(id, std::move(done)); });
}

void Supervisor::List(std::function<void(std::vector<SandboxStatus>)> done) {
  impl_->Post([done = std::move(done)](Impl& impl) { impl.List(done); });
}

void Supervisor::StopAll(std::function<void()> done) {
  impl_->Post([done = std::move(done)](Impl& impl) { impl.StopAll(done); });
}

}  // namespace rock::sandbox
