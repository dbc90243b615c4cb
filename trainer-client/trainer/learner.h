// The update: a PPO-clip step (with the configured off-policy correction) over the samples of a
// batch, through the token model. A sample is one action of one episode:
//   scoring     the prompt, every candidate's tokens, which one was chosen, and the behaviour
//               policy's log pi(chosen) over the candidates
//   generation  the prompt and the generated tokens (one "candidate"), with each token's
//               behaviour log-prob
// Over candidates the policy is the softmax of mean token log-probs / temperature
// (policy/candidate_policy.h). Its gradient is exact: one forward of the prompt and every
// candidate as a prefix tree (CandidateForward), so a sample costs its prompt once plus the
// candidates' tokens. With `imitation` > 0 a scoring sample that carries the env's expert choice
// also trains imitation * -log pi(expert) (DAgger: the policy acts, the expert labels the states
// it visits), in the same forward and backward; such a sample trains even when its advantage is 0.
// With `lm_loss` > 0 every scoring sample also trains lm_loss * the prompt's mean next-token
// loss: an auxiliary language-model term on the observations and earlier actions, whose repeated
// names teach the copying that picking the task's object in a candidate needs.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "trainer-client/policy/adamw.h"
#include "trainer-client/policy/model.h"
#include "trainer-client/rl/policy_loss.h"

namespace rock::trainer {

struct Sample {
  std::vector<int> prompt;
  std::vector<std::vector<int>> candidates;  // generation: exactly one, the generated tokens
  int chosen = 0;
  int expert = -1;  // scoring: the candidate the env's expert would take; -1: none given
  std::vector<uint64_t> matches;  // scoring: TaskMatches per candidate; empty without match slots
  std::vector<float> behaviour;  // scoring: {log pi(chosen)}; generation: one per generated token
  int64_t version = 0;           // the policy version that acted
  double advantage = 0.0;
  bool generated = false;
};

struct LearnerConfig {
  rl::PolicyLossConfig loss;
  int epochs = 1;
  double temperature = 0.1;
  double imitation = 0.0;  // weight of -log pi(expert)
  double lm_loss = 0.0;    // weight of the prompt's mean next-token loss (scoring samples)
};

struct UpdateStats {
  double loss = 0.0;          // mean policy loss per sample, first epoch
  double clipped = 0.0;       // share of terms on the clipped branch, first epoch
  double weight_mean = 0.0;   // mean importance weight
  double grad_norm = 0.0;     // of the last epoch, before clipping
  double imitation_loss = 0.0;  // mean -log pi(expert) over the labelled samples, first epoch
  double lm_loss = 0.0;         // mean next-token loss of the scoring samples' prompts, first epoch (with lm_loss)
  int labelled = 0;             // samples with an expert choice
  int64_t tokens = 0;         // positions trained (forward and backward), all epochs
  int samples = 0;
};

class Learner {
 public:
  Learner(policy::Model& model, policy::AdamW& optimizer, LearnerConfig config);
  // One optimizer step per epoch over all samples; samples with advantage 0 and no expert label
  // (or no imitation) add nothing and cost nothing.
  StatusOr<UpdateStats> Update(const std::vector<Sample>& samples);

 private:
  policy::Model& model_;
  policy::AdamW& optimizer_;
  LearnerConfig config_;
};

}  // namespace rock::trainer
