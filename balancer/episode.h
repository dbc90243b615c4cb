// What the balancer knows of an episode, as its API and observers see it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rock::balancer {

// What a client asks for. Envs are deterministic given (task, seed, actions): that is what
// failover by replay relies on.
struct EpisodeSpec {
  std::string env;
  nlohmann::json task = nlohmann::json::object();
  uint64_t seed = 0;
  uint32_t max_steps = 0;  // 0: the env's own limit; otherwise the step that reaches it is truncated
  // Who started it, for a per-client cap on open episodes (daemon/client_quota.h); carried
  // unchanged to the observer's OnEpisodeEnded, where the owner's unit is given back.
  std::string owner;
};

enum class EpisodeState {
  kQueued,     // waiting for a slot
  kRunning,    // placed (or being rebuilt on another sandbox after a failure)
  kFinished,   // terminated or truncated
  kCancelled,  // deleted by its client, expired idle, cancelled as redundant, or rockd stopped
  kFailed,     // could not be kept alive (see end_reason)
};
std::string_view EpisodeStateName(EpisodeState state);

struct StepRecord {
  uint32_t step = 0;  // 1-based
  std::string action;
  std::string observation;
  double reward = 0;
  bool terminated = false;
  bool truncated = false;
  int64_t ts_ms = 0;
  int64_t duration_us = 0;  // from the client's request to the answer, failovers included
};

struct EpisodeSummary {
  std::string id;
  EpisodeSpec spec;
  std::string group;  // empty: none
  EpisodeState state = EpisodeState::kQueued;
  std::string end_reason;  // "terminated", "truncated", "deleted", "idle", "redundant", ...
  std::string sandbox_id;  // serving it now; empty while queued, rebuilding or ended
  uint32_t steps = 0;
  double total_reward = 0;
  uint32_t failovers = 0;  // times rebuilt after losing its sandbox
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
};

// A summary with the trajectory so far: the reset observation and every step.
struct EpisodeView {
  EpisodeSummary summary;
  std::string first_observation;
  std::vector<StepRecord> steps;
};

// The answer to a reset (start) or a step, as the env gave it.
struct EnvReply {
  std::string observation;
  double reward = 0;
  bool terminated = false;
  bool truncated = false;
  // The env's info as JSON text, checked to be one JSON object where it left the sandbox. It
  // stays text on its way to the client: at ~40 admissible commands it is most of a step's
  // bytes, and parsing and dumping it again was a fifth of rockd's CPU per step.
  std::string info_json = "{}";
};

// A worker's reset_result or step_result (docs/sandbox.md). Internal when it is malformed: the
// placement failed, not the env, and the episode moves to another sandbox.
StatusOr<EnvReply> ParseEnvReply(nlohmann::json message);

struct Started {
  std::string id;
  EnvReply reply;  // the reset's observation and info
};

struct FailoverRecord {
  std::string from_sandbox;
  std::string to_sandbox;
  std::string reason;  // why the old placement was lost
  uint32_t replayed_steps = 0;
  int64_t duration_us = 0;  // from the loss to the rebuilt episode
};

}  // namespace rock::balancer
