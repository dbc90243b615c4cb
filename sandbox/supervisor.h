// Keeps sandboxes alive. Crashes are seen from the process itself (its pidfd becomes readable),
// OOM kills from the cgroup's counter, hangs from missed heartbeats (ping every
// health_interval, dead after health_misses unanswered). A failed sandbox restarts at once,
// then with exponential backoff up to a cap; crash_loop_failures failures within
// crash_loop_window quarantine it. Each sandbox is handled on its own; one crash-looping
// sandbox never delays another.
//
// Thread-safe: every call is posted to the supervisor's strand; callbacks run there too and
// must not block. What does block (launching, killing, removing a sandbox) runs on a small
// thread pool of the supervisor's own, so one slow launch never holds up the others.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "sandbox/cgroup.h"
#include "sandbox/spec.h"

namespace boost::asio {
class io_context;
class thread_pool;
}

namespace rock::sandbox {

enum class State { kStarting, kReady, kRestarting, kQuarantined, kStopped };
std::string_view StateName(State state);

struct Transition {
  std::string sandbox_id;
  std::string env;
  std::optional<State> from;  // none for the transition that created the sandbox
  State to = State::kStarting;
  std::string reason;  // "ready", "crashed: killed by signal 9", "oom", "hung", ...
  int64_t ts_ms = 0;
};

struct SandboxStatus {
  Spec spec;
  State state = State::kStarting;
  pid_t pid = 0;       // init's pid on the host; 0 while not running
  std::string cgroup;  // "<parent>/<id>" below each controller's mount; empty while not running
  uint32_t restarts = 0;
  int64_t created_ms = 0;
  int64_t state_since_ms = 0;
  int64_t last_pong_ms = 0;
  uint32_t missed_heartbeats = 0;
  std::string last_error;
  std::optional<CgroupUsage> usage;
  std::deque<Transition> transitions;  // the latest few, oldest first
};

class SupervisorObserver {
 public:
  virtual ~SupervisorObserver() = default;
  virtual void OnTransition(const Transition& transition) = 0;
  // A launch became ready, `latency` after it began.
  virtual void OnReady(const std::string& sandbox_id, std::chrono::microseconds latency) = 0;
};

struct SupervisorOptions {
  std::string worker_path;          // rock-env
  // Every sandbox's cgroup lives below it, and RemoveStale clears it: one parent per rockd
  // instance (per data dir), so instances never touch each other's sandboxes.
  std::string cgroup_parent = std::string(Cgroup::kDefaultParent);
  std::filesystem::path state_dir;  // one directory per sandbox below it
  std::chrono::milliseconds health_interval{1000};
  uint32_t health_misses = 3;
  std::chrono::milliseconds ready_timeout{10'000};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30'000};
  uint32_t crash_loop_failures = 5;
  std::chrono::milliseconds crash_loop_window{60'000};
  uint32_t blocking_threads = 0;  // launches and kills at once; 0: one per CPU, at least 2
};

class Supervisor {
 public:
  using StatusCallback = std::function<void(Status)>;
  using SandboxCallback = std::function<void(StatusOr<SandboxStatus>)>;
  using JsonCallback = std::function<void(StatusOr<nlohmann::json>)>;

  // `observer` must outlive the supervisor.
  Supervisor(boost::asio::io_context& io, SupervisorOptions options, SupervisorObserver& observer);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Removes every cgroup, process and state directory under this supervisor's parent: at
  // startup what a killed predecessor left, at shutdown (after StopAll) the empty parent.
  // Blocking; never while sandboxes of this supervisor live.
  Status RemoveStale();

  // Starts a sandbox (spec.root_dir is assigned here); `done` gets its status once it is
  // ready, or the reason its first start failed (it is still supervised and retried).
  void Create(Spec spec, SandboxCallback done);
  // Runs a command: `request` is the exec message body (argv or shell, stdin, env, cwd,
  // timeout_ms, max_output_bytes); `done` gets the exec_result.
  void Exec(const std::string& id, nlohmann::json request, JsonCallback done);
  // Sends an env message (reset, step or close; sandbox/../envs/episode_host.h) and answers with
  // the worker's reply (reset_result, step_result, closed), an env_error as the Status it
  // names, Unavailable if the sandbox is not ready or stops first, DeadlineExceeded after
  // `timeout`.
  void EnvRequest(const std::string& id, nlohmann::json request, std::chrono::milliseconds timeout, JsonCallback done);
  // Kills and starts again now; also lifts a quarantine.
  void Restart(const std::string& id, SandboxCallback done);
  // Kills the sandbox and removes everything it had; `done` runs once it is all gone.
  void Delete(const std::string& id, StatusCallback done);
  void Get(const std::string& id, SandboxCallback done);
  void List(std::function<void(std::vector<SandboxStatus>)> done);
  // Stops every sandbox (shutdown); `done` runs when all are gone: processes, cgroups, directories.
  void StopAll(std::function<void()> done);

  class Impl;

 private:
  // Owned here, joined by the destructor; the Impl holds it weakly so that it is never
  // destroyed from one of its own threads.
  std::shared_ptr<boost::asio::thread_pool> blocking_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rock::sandbox
