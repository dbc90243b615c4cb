// rock-trainer's loop (ROLL Flash's shape, arXiv 2510.11345): an actor thread keeps groups of
// episodes running on rockd and answers every obs with its copy of the policy, while a learner
// thread trains on whole groups as they finish (queue scheduling: no batch waits for its
// slowest episode unless alpha = 0 asks for that barrier). The asynchronous ratio alpha bounds
// how far the actor may run ahead and what the learner accepts (rl/staleness.h).
//
// Trajectories are consumed exactly once: each is trained on, or set aside as stale, unused
// (not terminated/truncated) or orphaned (its episode began before this process), then acked in
// seq order. A checkpoint records what was acked, so a restarted trainer resumes there.
#pragma once

#include <atomic>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "trainer-client/trainer/options.h"

namespace rock::trainer {

class Trainer {
 public:
  static StatusOr<std::unique_ptr<Trainer>> Create(TrainerOptions options);
  ~Trainer();
  // Runs until `stop`, --versions or --time-limit; saves a checkpoint at the end when asked to.
  Status Run(const std::atomic<bool>& stop);
  // The run's totals and its learning curve (one point per update).
  nlohmann::json Summary() const;

 private:
  struct State;
  explicit Trainer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace rock::trainer
