// The sandboxes of one env kind and their episode slots: which sandbox takes the next episode
// (the least loaded healthy one), how many sandboxes the pool should have, which one to retire.
// Bookkeeping only, not thread-safe: the Balancer owns the pools on its strand and creates and
// deletes the sandboxes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sandbox/spec.h"

namespace rock::balancer {

struct PoolConfig {
  uint32_t min = 0;  // kept running (and warmed at startup) even when idle
  uint32_t max = 1;  // never more healthy ones than this
  std::chrono::milliseconds idle_timeout{60'000};  // an idle sandbox above what is needed goes after this
  // What every sandbox of the pool is made from (env, slots, limits, identity, data dir); each
  // gets its own id.
  sandbox::Spec sandbox;
};

enum class SandboxHealth {
  kStarting,     // launched, not ready yet
  kReady,        // takes episodes
  kDown,         // failed or hung; the supervisor is restarting it
  kQuarantined,  // crash-looping; an operator restarts or deletes it
};

struct Placement {
  std::string sandbox_id;
  uint32_t slot = 0;
};

struct PoolView {
  std::string env;
  PoolConfig config;
  uint32_t starting = 0, ready = 0, down = 0, quarantined = 0;
  uint32_t draining = 0;  // made from an earlier config; retired once idle
  uint32_t slots_total = 0;  // of ready sandboxes
  uint32_t slots_busy = 0;
  uint32_t queued = 0;   // filled in by the balancer
  uint32_t running = 0;  // filled in by the balancer
};

class Pool {
 public:
  Pool(std::string env, PoolConfig config);

  const std::string& env() const { return env_; }
  const PoolConfig& config() const { return config_; }
  // A new sandbox spec or slot count makes the current sandboxes drain: they take no new
  // episodes and are retired once idle, while new ones are made from `config`.
  void Reconfigure(PoolConfig config);

  void Add(const std::string& sandbox_id);  // a sandbox just created from config().sandbox
  bool Contains(const std::string& sandbox_id) const;
  // Moves a sandbox to `health`. Leaving kReady (or reaching it again after a restart) empties
  // its slots: the episodes that held them are returned, to be rebuilt elsewhere.
  std::vector<std::string> SetHealth(const std::string& sandbox_id, SandboxHealth health);
  // Forgets a sandbox that is gone; returns the episodes it held.
  std::vector<std::string> Remove(const std::string& sandbox_id);

  // Takes a free slot for `episode_id` on the ready, current sandbox with the fewest busy
  // slots; none when every slot is taken.
  std::optional<Placement> Take(const std::string& episode_id);
  // Frees a slot if `episode_id` still holds it.
  void Free(const Placement& placement, const std::string& episode_id);

  // How many sandboxes to create now so that `queued` waiting episodes find slots, keeping
  // at least `min` and never more than `max`.
  uint32_t ToCreate(uint32_t queued) const;
  // An idle sandbox to delete now: a drained one of an earlier config, or one idle longer than
  // idle_timeout while the pool has more than it needs.
  std::optional<std::string> ToRetire(std::chrono::steady_clock::time_point now, uint32_t queued) const;
  // At least `min` current sandboxes are ready (rockd's /readyz).
  bool AtMinimum() const;

  PoolView View() const;

 private:
  struct Member {
    SandboxHealth health = SandboxHealth::kStarting;
    uint64_t revision = 0;
    std::vector<std::string> slots;  // episode id per slot; empty when free
    uint32_t busy = 0;
    std::chrono::steady_clock::time_point idle_since;
  };
  static std::vector<std::string> Empty(Member& member);
  uint32_t Needed(uint32_t queued) const;
  // Sandboxes of the current config whose health `keep` accepts.
  template <typename Keep>
  uint32_t CountCurrent(Keep keep) const;
  uint32_t Healthy() const;  // current sandboxes that are, or will be again, ready

  std::string env_;
  PoolConfig config_;
  uint64_t revision_ = 0;
  std::map<std::string, Member> members_;
};

}  // namespace rock::balancer
