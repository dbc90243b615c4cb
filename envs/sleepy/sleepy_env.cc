#include "envs/sleepy/sleepy_env.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <string>
#include <utility>

#include "envs/alfworld/rng.h"

namespace rock::envs {
namespace {

using nlohmann::json;

constexpr int kMaxSteps = 100'000;
constexpr std::string_view kFields[] = {"steps", "distribution", "scale_ms", "shape", "cap_ms"};
constexpr std::pair<std::string_view, SleepDistribution> kDistributions[] = {
    {"pareto", SleepDistribution::kPareto},
    {"lognormal", SleepDistribution::kLognormal},
    {"fixed", SleepDistribution::kFixed}};

Status FieldError(std::string_view field, std::string_view want) {
  return InvalidArgument("task." + std::string(field) + ": expected " + std::string(want));
}

// A number in [lo, hi], or (lo, hi] when `lo_open`; NaN fails both comparisons.
Status NumberField(const json& task, std::string_view name, double lo, bool lo_open, double hi,
                   std::string_view want, double* out) {
  const auto it = task.find(name);
  if (it == task.end()) return Status::Ok();
  const double value = it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
  if (!(lo_open ? value > lo : value >= lo) || !(value <= hi)) return FieldError(name, want);
  *out = value;
  return Status::Ok();
}

std::string_view DistributionName(SleepDistribution distribution) {
  for (const auto& [name, d] : kDistributions) {
    if (d == distribution) return name;
  }
  return "unknown";
}

// Uniform in (0, 1) from 53 random bits; never 0 or 1, where the inverse CDFs are infinite.
double Unit(uint64_t bits) { return (static_cast<double>(bits >> 11) + 0.5) * 0x1p-53; }

// 64-bit FNV-1a: a stable hash of the action for the draw (std::hash may differ between builds).
uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// Sleeps until a monotonic deadline, so a restart after EINTR sleeps only the rest. An error is
// returned, not ignored: a sandbox that denied clock_nanosleep would make every step instant.
Status SleepFor(double ms) {
  timespec deadline{};
  if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0) return ErrnoError("clock_gettime(CLOCK_MONOTONIC)", errno);
  constexpr int64_t kNsPerSecond = 1'000'000'000;
  const auto ns = static_cast<int64_t>(ms * 1e6);
  deadline.tv_sec += ns / kNsPerSecond;
  deadline.tv_nsec += ns % kNsPerSecond;
  if (deadline.tv_nsec >= kNsPerSecond) {
    ++deadline.tv_sec;
    deadline.tv_nsec -= kNsPerSecond;
  }
  int rc = 0;
  while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr)) == EINTR) {
  }
  return rc == 0 ? Status::Ok() : ErrnoError("clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)", rc);
}

}  // namespace

StatusOr<SleepyTask> SleepyEnv::ParseTask(const json& task) {
  if (!task.is_object()) return InvalidArgument("task: expected an object");
  for (const auto& [key, value] : task.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      return InvalidArgument("task." + key + ": unknown field");
    }
  }
  SleepyTask parsed;
  if (const auto it = task.find("steps"); it != task.end()) {
    // Unsigned values past INT64_MAX read back negative, and fail the range check too.
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxSteps) {
      return FieldError("steps", "an integer in [1, 100000]");
    }
    parsed.steps = static_cast<int>(it->get<int64_t>());
  }
  if (const auto it = task.find("distribution"); it != task.end()) {
    const std::string name = it->is_string() ? it->get<std::string>() : "";
    const auto known = std::find_if(std::begin(kDistributions), std::end(kDistributions),
                                    [&](const auto& entry) { return entry.first == name; });
    if (known == std::end(kDistributions)) return FieldError("distribution", "\"pareto\", \"lognormal\" or \"fixed\"");
    parsed.distribution = known->second;
  }
  parsed.shape = parsed.distribution == SleepDistribution::kLognormal ? 1.0 : 1.5;
  const double max = std::numeric_limits<double>::max();
  if (Status s = NumberField(task, "scale_ms", 0, true, 60'000, "a number in (0, 60000]", &parsed.scale_ms); !s.ok()) return s;
  if (Status s = NumberField(task, "shape", 0, true, max, "a finite number > 0", &parsed.shape); !s.ok()) return s;
  if (Status s = NumberField(task, "cap_ms", 0, false, 600'000, "a number in [0, 600000]", &parsed.cap_ms); !s.ok()) return s;
  return parsed;
}

double SleepyEnv::SleepMs(const SleepyTask& task, uint64_t seed, uint64_t step, std::string_view action) {
  alfworld::Rng rng(alfworld::MixSeed(alfworld::MixSeed(seed, step), Fnv1a(action)));
  double ms = task.scale_ms;
  switch (task.distribution) {
    case SleepDistribution::kPareto:
      ms = task.scale_ms * std::pow(Unit(rng.Next()), -1.0 / task.shape);
      break;
    case SleepDistribution::kLognormal: {
      // Box-Muller: a standard normal from two uniforms.
      const double radius = std::sqrt(-2.0 * std::log(Unit(rng.Next())));
      const double z = radius * std::cos(2.0 * std::numbers::pi * Unit(rng.Next()));
      ms = task.scale_ms * std::exp(task.shape * z);
      break;
    }
    case SleepDistribution::kFixed:
      break;
  }
  return std::min(ms, task.cap_ms);
}

StatusOr<ResetResult> SleepyEnv::Reset(const json& task, uint64_t seed) {
  StatusOr<SleepyTask> parsed = ParseTask(task);
  if (!parsed.ok()) return parsed.status();
  task_ = *parsed;
  seed_ = seed;
  steps_taken_ = 0;
  reset_ = true;
  ResetResult result;
  result.observation = "sleepy: " + std::to_string(task_.steps) + " steps, " +
                       std::string(DistributionName(task_.distribution)) + " sleeps";
  result.info = {{"steps", task_.steps}};
  return result;
}

StatusOr<StepResult> SleepyEnv::Step(std::string_view action) {
  if (!reset_) return FailedPrecondition("step before reset");
  if (steps_taken_ >= task_.steps) {
    return FailedPrecondition("the episode ended after its " + std::to_string(task_.steps) + " steps; reset first");
  }
  const double ms = SleepMs(task_, seed_, static_cast<uint64_t>(steps_taken_), action);
  if (Status s = SleepFor(ms); !s.ok()) return s;
  ++steps_taken_;
  char slept[32];
  std::snprintf(slept, sizeof(slept), "%.3f", ms);
  StepResult result;
  result.observation = "step " + std::to_string(steps_taken_) + "/" + std::to_string(task_.steps) + ": slept " +
                       slept + " ms after '" + std::string(action) + "'";
  result.terminated = steps_taken_ == task_.steps;
  result.reward = result.terminated ? 1.0 : 0.0;
  result.info = {{"step", steps_taken_}, {"slept_ms", ms}};
  return result;
}

}  // namespace rock::envs
