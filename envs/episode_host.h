// The env messages of DESIGN.md, served inside a sandbox: up to `slots` episodes of one env
// kind, one Env per slot (made on the slot's first reset, reused by later ones).
//
//   reset{slot, task, seed}  → reset_result{slot, observation, info}
//   step{slot, action}       → step_result{slot, observation, reward, terminated, truncated, info}
//   close{slot}              → closed{slot}
//
// A request that fails is answered env_error{slot, code, message} and leaves its slot as it
// was; other slots never notice. A `req` field in a request is echoed in its answer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "envs/env.h"
#include "envs/env_factory.h"
#include "sandbox/init.h"

namespace rock::envs {

class EpisodeHost : public sandbox::MessageHandler {
 public:
  EpisodeHost(std::string kind, uint32_t slots, EnvOptions options = {});

  bool Handle(const nlohmann::json& message, const sandbox::Reply& reply) override;
  // ALFWorld steps take microseconds; every other message may take long (resets load games,
  // sleepy sleeps, SWE-bench runs commands).
  bool Quick(const nlohmann::json& message) const override;

 private:
  // reset, step or close: the answer, or the Status of the env_error.
  StatusOr<nlohmann::json> Dispatch(const std::string& type, const nlohmann::json& message);
  StatusOr<nlohmann::json> Reset(uint32_t slot, const nlohmann::json& message);
  StatusOr<nlohmann::json> Step(uint32_t slot, const nlohmann::json& message);

  std::string kind_;
  EnvOptions options_;
  std::vector<std::unique_ptr<Env>> envs_;  // by slot; null until the slot's first reset
};

}  // namespace rock::envs
