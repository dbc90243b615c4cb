// A multi-armed bandit in text, the easy env for testing RL clients: a trainer that learns at
// all raises its reward here within seconds, which ALFWorld cannot show that fast. A task:
//   "arms"     1-64 distinct names (1-64 printable ASCII characters each), required
//   "rewards"  one number per arm, required: the reward of pulling it
//   "steps"    pulls per episode, an integer in [1, 1000]; default 5
// Every step's observation asks for an arm; info.admissible_commands lists the arms in an order
// the seed shuffles (so a policy has to read the names, not count positions). Pulling a name
// that is no arm earns 0. The last pull ends the episode (terminated).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "envs/env.h"

namespace rock::envs {

struct BanditTask {
  std::vector<std::string> arms;
  std::vector<double> rewards;
  int steps = 5;
};

class BanditEnv : public Env {
 public:
  // InvalidArgument naming the field ("task.rewards: ...") when `task` is malformed.
  static StatusOr<BanditTask> ParseTask(const nlohmann::json& task);

  StatusOr<ResetResult> Reset(const nlohmann::json& task, uint64_t seed) override;
  StatusOr<StepResult> Step(std::string_view action) override;

 private:
  nlohmann::json Info() const;

  BanditTask task_;
  std::vector<std::string> shown_;  // the arms in this episode's order
  int steps_taken_ = 0;
  bool done_ = true;
};

}  // namespace rock::envs
