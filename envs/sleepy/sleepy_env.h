// A test env whose steps sleep a heavy-tailed time, for benchmarks and tests of scheduling: a
// lockstep batch loop waits each step for its slowest env, a queue does not. A task is an
// object with these fields, all optional (any other field is refused):
//   "steps"         episode length, an integer in [1, 100000]; default 10
//   "distribution"  "pareto" (default), "lognormal" or "fixed"
//   "scale_ms"      in (0, 60000]; default 1: pareto's minimum x_m, lognormal's median, fixed's value
//   "shape"         > 0: pareto's alpha (default 1.5), lognormal's sigma (default 1); fixed ignores it
//   "cap_ms"        in [0, 600000]; default 1000: no single sleep is longer
// Step k (0-based) with action a sleeps SleepMs(task, seed, k, a) and its observation echoes the
// action, so a transcript is a function of (task, seed, actions) like every Env's. The action is
// part of the draw because that is where a real env's cost varies within a group: episodes of
// one task and seed (a GRPO group) differ only in what the policy did. The last
// step ends the episode (terminated, reward 1). info: {"steps"} on reset, {"step", "slept_ms"}
// on a step. A step blocks its caller for the whole sleep: in rock-env that is the worker's loop.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "envs/env.h"

namespace rock::envs {

enum class SleepDistribution { kPareto, kLognormal, kFixed };

struct SleepyTask {
  int steps = 10;
  SleepDistribution distribution = SleepDistribution::kPareto;
  double scale_ms = 1.0;
  double shape = 1.5;  // after ParseTask: the distribution's default when the task gives none
  double cap_ms = 1000.0;
};

class SleepyEnv : public Env {
 public:
  // InvalidArgument naming the field ("task.shape: ...") when `task` is malformed.
  static StatusOr<SleepyTask> ParseTask(const nlohmann::json& task);
  // The sleep of step `step` taking `action`, in milliseconds, without sleeping: a pure function
  // of its arguments (a counter-based hash of seed, step and action, then the inverse CDF), so
  // benchmarks and tests can draw a whole episode's sleeps up front.
  static double SleepMs(const SleepyTask& task, uint64_t seed, uint64_t step, std::string_view action);

  StatusOr<ResetResult> Reset(const nlohmann::json& task, uint64_t seed) override;
  StatusOr<StepResult> Step(std::string_view action) override;

 private:
  SleepyTask task_;
  uint64_t seed_ = 0;
  int steps_taken_ = 0;
  bool reset_ = false;
};

}  // namespace rock::envs
