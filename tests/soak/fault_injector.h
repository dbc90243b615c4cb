// The faults of the soak, injected in turn at a fixed pace: SIGKILL and SIGSTOP of a random
// ready pool sandbox, a cut trainer connection, a stalled trainer; and, at a slower pace,
// SIGKILL of rockd itself, started again on the same data dir. Shell sandboxes fill their own
// memory and disk (ShellLoad).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace rock::soak {

class SoakRockd;
class TrainerLoad;

struct FaultOptions {
  std::chrono::milliseconds every{400};
  std::chrono::milliseconds stall{2000};
  std::chrono::seconds rockd_kill_every{30};
  // No rockd kill after this (since the soak began), so the last rockd lives long enough for
  // its memory to be compared with its own start.
  std::chrono::seconds rockd_kills_until{60};
  uint64_t seed = 7;
};

class FaultInjector {
 public:
  FaultInjector(FaultOptions options, SoakRockd& rockd, std::vector<TrainerLoad*> trainers);

  // Until `running` is false; `began` is the start of the soak.
  void Run(const std::atomic<bool>& running, std::chrono::steady_clock::time_point began);

  std::map<std::string, uint64_t> injected() const;
  // "rockd-<hash>", the parent cgroup of every sandbox of this rockd, once a listing showed one.
  std::string cgroup_parent() const;
  std::vector<std::string> problems() const;

 private:
  bool SignalPoolSandbox(int signal);
  void RestartRockd();
  void Count(const std::string& kind);

  const FaultOptions options_;
  SoakRockd& rockd_;
  const std::vector<TrainerLoad*> trainers_;
  std::mt19937_64 random_;
  mutable std::mutex mu_;  // guards the three below
  std::map<std::string, uint64_t> injected_;
  std::string cgroup_parent_;
  std::vector<std::string> problems_;
};

}  // namespace rock::soak
