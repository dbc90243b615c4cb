#include "envs/bandit/bandit_env.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "envs/alfworld/rng.h"

namespace rock::envs {
namespace {

using nlohmann::json;

constexpr size_t kMaxArms = 64;
constexpr size_t kMaxArmName = 64;
constexpr int kMaxSteps = 1000;
constexpr std::string_view kFields[] = {"arms", "rewards", "steps"};

Status FieldError(std::string_view field, std::string_view want) {
  return InvalidArgument("task." + std::string(field) + ": expected " + std::string(want));
}

bool PrintableName(const std::string& name) {
  return !name.empty() && name.size() <= kMaxArmName &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

StatusOr<BanditTask> BanditEnv::ParseTask(const json& task) {
  if (!task.is_object()) return InvalidArgument("task: expected an object");
  for (const auto& [key, value] : task.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      return InvalidArgument("task." + key + ": unknown field");
    }
  }
  constexpr std::string_view kArmsWant = "1-64 distinct names of 1-64 printable ASCII characters";
  BanditTask parsed;
  const auto arms = task.find("arms");
  if (arms == task.end() || !arms->is_array() || arms->empty() || arms->size() > kMaxArms) {
    return FieldError("arms", kArmsWant);
  }
  std::set<std::string> seen;
  for (const json& arm : *arms) {
    if (!arm.is_string() || !PrintableName(arm.get<std::string>()) || !seen.insert(arm.get<std::string>()).second) {
      return FieldError("arms", kArmsWant);
    }
    parsed.arms.push_back(arm.get<std::string>());
  }
  const auto rewards = task.find("rewards");
  if (rewards == task.end() || !rewards->is_array() || rewards->size() != parsed.arms.size()) {
    return FieldError("rewards", "one finite number per arm");
  }
  for (const json& reward : *rewards) {
    if (!reward.is_number() || !std::isfinite(reward.get<double>())) {
      return FieldError("rewards", "one finite number per arm");
    }
    parsed.rewards.push_back(reward.get<double>());
  }
  if (const auto it = task.find("steps"); it != task.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxSteps) {
      return FieldError("steps", "an integer in [1, 1000]");
    }
    parsed.steps = static_cast<int>(it->get<int64_t>());
  }
  return parsed;
}

StatusOr<ResetResult> BanditEnv::Reset(const json& task, uint64_t seed) {
  StatusOr<BanditTask> parsed = ParseTask(task);
  if (!parsed.ok()) return parsed.status();
  task_ = std::move(*parsed);
  shown_ = task_.arms;
  alfworld::Rng rng(alfworld::MixSeed(seed, 0x62616e646974ull));  // "bandit"
  for (size_t i = shown_.size(); i > 1; i--) std::swap(shown_[i - 1], shown_[rng.Below(i)]);
  steps_taken_ = 0;
  done_ = false;
  return ResetResult{.observation = "Pull one arm.", .info = Info()};
}

StatusOr<StepResult> BanditEnv::Step(std::string_view action) {
  if (done_) return FailedPrecondition(steps_taken_ == 0 ? "step before reset" : "the episode has ended; reset first");
  StepResult result;
  const auto arm = std::find(task_.arms.begin(), task_.arms.end(), action);
  if (arm == task_.arms.end()) {
    result.observation = "There is no arm called \"" + std::string(action) + "\". Pull one arm.";
  } else {
    result.reward = task_.rewards[static_cast<size_t>(arm - task_.arms.begin())];
    result.observation = "You pulled " + *arm + ". Pull one arm.";
  }
  ++steps_taken_;
  result.terminated = steps_taken_ >= task_.steps;
  done_ = result.terminated;
  result.info = Info();
  return result;
}

json BanditEnv::Info() const {
  return {{"admissible_commands", shown_}, {"step", steps_taken_}};
}

}  // namespace rock::envs
