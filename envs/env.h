// The Env interface every env kind implements (DESIGN.md): deterministic given (task, seed,
// actions), which is what lets rockd fail an episode over by replaying its actions. rock-env
// holds one Env per episode slot; Envs never see rockd or the frame protocol.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rock::envs {

struct ResetResult {
  std::string observation;
  nlohmann::json info = nlohmann::json::object();
};

struct StepResult {
  std::string observation;
  double reward = 0;
  bool terminated = false;  // the episode reached a terminal state (e.g. won)
  bool truncated = false;   // the step limit ended it
  nlohmann::json info = nlohmann::json::object();
};

class Env {
 public:
  virtual ~Env() = default;
  // Starts a new episode; `task` is the kind's task description (an object), InvalidArgument
  // with a message naming the field when it is malformed.
  virtual StatusOr<ResetResult> Reset(const nlohmann::json& task, uint64_t seed) = 0;
  // FailedPrecondition before the first Reset or after the episode ended.
  virtual StatusOr<StepResult> Step(std::string_view action) = 0;
};

}  // namespace rock::envs
