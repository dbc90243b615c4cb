#include "trainer-client/trainer/learner.h"

#include <algorithm>
#include <cmath>

#include "trainer-client/policy/candidate_policy.h"

namespace rock::trainer {

Learner::Learner(policy::Model& model, policy::AdamW& optimizer, LearnerConfig config)
    : model_(model), optimizer_(optimizer), config_(config) {}

StatusOr<UpdateStats> Learner::Update(const std::vector<Sample>& samples) {
  UpdateStats stats;
  stats.samples = static_cast<int>(samples.size());
  if (samples.empty()) return stats;
  const double scale = 1.0 / static_cast<double>(samples.size());
  // The proximal policy is the learner's before this update: the first epoch's log-probs.
  std::vector<std::vector<double>> proximal(samples.size());
  int64_t terms = 0, clipped = 0, lm_samples = 0;
  double weight_sum = 0.0;
  for (int epoch = 0; epoch < config_.epochs; epoch++) {
    model_.ZeroGrad();
    for (size_t i = 0; i < samples.size(); i++) {
      const Sample& sample = samples[i];
      const bool imitate = config_.imitation > 0.0 && !sample.generated && sample.expert >= 0;
      const bool model_prompt = config_.lm_loss > 0.0 && !sample.generated;
      if (sample.advantage == 0.0 && !imitate && !model_prompt) continue;
      if (sample.generated) {
        // Token-level terms: the current log-probs come from the forward that also trains.
        const std::vector<int>& generated = sample.candidates.front();
        std::vector<int> seq = sample.prompt;
        seq.insert(seq.end(), generated.begin(), generated.end());
        const int T = static_cast<int>(seq.size()) - 1;
        std::vector<int> tokens(seq.begin(), seq.end() - 1), targets(seq.begin() + 1, seq.end());
        auto forward = model_.Forward(tokens, targets, std::vector<float>(static_cast<size_t>(T), 0.0f), 1, T);
        if (!forward.ok()) return forward.status().WithContext("update");
        const std::vector<float> losses = model_.Losses();
        if (epoch == 0) proximal[i].resize(generated.size());
        std::vector<float> weights(static_cast<size_t>(T), 0.0f);
        for (size_t t = 0; t < generated.size(); t++) {
          const size_t pos = sample.prompt.size() - 1 + t;
          const double current = -static_cast<double>(losses[pos]);
          if (epoch == 0) proximal[i][t] = current;
          const rl::PolicyLossTerm term =
              rl::PolicyLoss({current, proximal[i][t], sample.behaviour[t]}, sample.advantage, config_.loss);
          const double per_token = scale / static_cast<double>(generated.size());
          // Token loss is -log p, so d L / d token loss = -dL/dlogp.
          weights[pos] = static_cast<float>(-term.dloss_dlogp * per_token);
          if (epoch == 0) {
            stats.loss += term.loss * per_token;
            terms++;
            clipped += term.clipped ? 1 : 0;
            weight_sum += term.weight;
          }
        }
        if (Status s = model_.SetLossWeights(weights); !s.ok()) return s.WithContext("update");
        if (Status s = model_.Backward(); !s.ok()) return s.WithContext("update");
        stats.tokens += T;
        continue;
      }
      if (sample.chosen < 0 || sample.chosen >= static_cast<int>(sample.candidates.size())) {
        return InvalidArgument("update: chosen candidate " + std::to_string(sample.chosen) + " of " +
                               std::to_string(sample.candidates.size()));
      }
      auto forward = policy::CandidateForward::Run(model_, sample.prompt, sample.candidates, config_.temperature,
                                                   {.prompt_loss = model_prompt, .matches = sample.matches});
      if (!forward.ok()) return forward.status().WithContext("update");
      const std::vector<double>& log_pi = forward->log_pi();
      const double current = log_pi[static_cast<size_t>(sample.chosen)];
      if (epoch == 0) proximal[i] = {current};
      const rl::PolicyLossTerm term =
          rl::PolicyLoss({current, proximal[i][0], sample.behaviour[0]}, sample.advantage, config_.loss);
      if (epoch == 0) {
        stats.loss += term.loss * scale;
        terms++;
        clipped += term.clipped ? 1 : 0;
        weight_sum += term.weight;
      }
      std::vector<double> pi, candidate_weights(log_pi.size(), 0.0);  // per-token weight of each candidate
      std::vector<int> lengths;
      for (size_t c = 0; c < log_pi.size(); c++) {
        pi.push_back(std::exp(log_pi[c]));
        lengths.push_back(static_cast<int>(sample.candidates[c].size()));
      }
      // Each term's token weights (CandidateTokenWeights) add up over the candidates.
      const auto add_term = [&](int target, double coef) -> Status {
        auto w = policy::CandidateTokenWeights(lengths, pi, target, coef, config_.temperature);
        if (!w.ok()) return w.status();
        for (size_t c = 0; c < w->size(); c++) candidate_weights[c] += (*w)[c];
        return Status::Ok();
      };
      // L = -coef * log pi(chosen) has dL/dlogp = -coef.
      if (term.dloss_dlogp != 0.0) {
        if (Status s = add_term(sample.chosen, -term.dloss_dlogp * scale); !s.ok()) return s.WithContext("update");
      }
      if (imitate) {
        if (sample.expert >= static_cast<int>(sample.candidates.size())) {
          return InvalidArgument("update: expert candidate " + std::to_string(sample.expert) + " of " +
                                 std::to_string(sample.candidates.size()));
        }
        if (epoch == 0) {
          stats.imitation_loss -= log_pi[static_cast<size_t>(sample.expert)];
          stats.labelled++;
        }
        if (Status s = add_term(sample.expert, config_.imitation * scale); !s.ok()) return s.WithContext("update");
      }
      const double prompt_weight = model_prompt ? config_.lm_loss * scale : 0.0;
      if (model_prompt && epoch == 0) {
        stats.lm_loss += forward->prompt_loss();
        lm_samples++;
      }
      // A clipped RL term, no label and no prompt loss: nothing to differentiate.
      if (prompt_weight == 0.0 &&
          std::all_of(candidate_weights.begin(), candidate_weights.end(), [](double w) { return w == 0.0; })) {
        continue;
      }
      if (Status s = forward->Backward(candidate_weights, prompt_weight); !s.ok()) return s.WithContext("update");
      stats.tokens += forward->positions();
    }
    stats.grad_norm = optimizer_.Step();
  }
  if (stats.labelled > 0) stats.imitation_loss /= stats.labelled;
  if (lm_samples > 0) stats.lm_loss /= static_cast<double>(lm_samples);
  if (terms > 0) {
    stats.clipped = static_cast<double>(clipped) / static_cast<double>(terms);
    stats.weight_mean = weight_sum / static_cast<double>(terms);
  }
  return stats;
}

}  // namespace rock::trainer
