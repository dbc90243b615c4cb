#include "trainer-client/trainer/learner.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "trainer-client/policy/candidate_policy.h"

namespace rock::trainer {

Learner::Learner(policy::Model& model, policy::AdamW& optimizer, LearnerConfig config)
    : model_(model), optimizer_(optimizer), config_(config), rng_(config.seed) {}

StatusOr<double> Learner::CurrentLogProb(const Sample& sample, std::vector<double>* pi) {
  auto log_pi = policy::CandidateLogPolicy(model_, sample.prompt, sample.candidates, config_.temperature);
  if (!log_pi.ok()) return log_pi.status();
  pi->resize(log_pi->size());
  for (size_t c = 0; c < log_pi->size(); c++) (*pi)[c] = std::exp((*log_pi)[c]);
  return (*log_pi)[static_cast<size_t>(sample.chosen)];
}

Status Learner::AddCandidateRows(const Sample& sample, const std::vector<double>& pi, int target, double coef,
                                 std::map<size_t, double>* rows) {
  const size_t n = sample.candidates.size();
  // Row weights w_c of L = -coef * log pi(target): exact over all candidates when they fit,
  // else d log pi(a) = dz_a - E_pi[dz_c] with the expectation over draws from pi.
  if (n <= static_cast<size_t>(config_.train_candidates)) {
    std::vector<int> lengths;
    for (const std::vector<int>& c : sample.candidates) lengths.push_back(static_cast<int>(c.size()));
    auto exact = policy::CandidateTokenWeights(lengths, pi, target, coef, config_.temperature);
    if (!exact.ok()) return exact.status();
    for (size_t c = 0; c < n; c++) (*rows)[c] += (*exact)[c];
    return Status::Ok();
  }
  const auto per_token = [&](size_t c) {
    return 1.0 / (static_cast<double>(sample.candidates[c].size()) * config_.temperature);
  };
  const int draws = config_.train_candidates - 1;
  std::discrete_distribution<size_t> draw(pi.begin(), pi.end());
  (*rows)[static_cast<size_t>(target)] += coef * per_token(static_cast<size_t>(target));
  for (int d = 0; d < draws; d++) {
    const size_t c = draw(rng_);
    (*rows)[c] -= coef / draws * per_token(c);
  }
  return Status::Ok();
}

StatusOr<int64_t> Learner::BackwardRows(const Sample& sample, const std::map<size_t, double>& rows) {
  std::vector<std::vector<int>> candidates;
  std::vector<double> weights;
  for (const auto& [c, w] : rows) {
    candidates.push_back(sample.candidates[c]);
    weights.push_back(w);
  }
  auto batch = policy::BuildCandidateBatch(sample.prompt, candidates, weights);
  if (!batch.ok()) return batch.status();
  auto forward = model_.Forward(batch->tokens, batch->targets, batch->weights, batch->B, batch->T);
  if (!forward.ok()) return forward.status();
  if (Status s = model_.Backward(); !s.ok()) return s;
  return static_cast<int64_t>(batch->B) * batch->T;
}

StatusOr<UpdateStats> Learner::Update(const std::vector<Sample>& samples) {
  UpdateStats stats;
  stats.samples = static_cast<int>(samples.size());
  if (samples.empty()) return stats;
  const double scale = 1.0 / static_cast<double>(samples.size());
  // The proximal policy is the learner's before this update: the first epoch's log-probs.
  std::vector<std::vector<double>> proximal(samples.size());
  int64_t terms = 0, clipped = 0;
  double weight_sum = 0.0;
  for (int epoch = 0; epoch < config_.epochs; epoch++) {
    model_.ZeroGrad();
    for (size_t i = 0; i < samples.size(); i++) {
      const Sample& sample = samples[i];
      const bool imitate = config_.imitation > 0.0 && !sample.generated && sample.expert >= 0;
      if (sample.advantage == 0.0 && !imitate) continue;
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
      std::vector<double> pi;
      auto current = CurrentLogProb(sample, &pi);
      if (!current.ok()) return current.status().WithContext("update");
      if (epoch == 0) proximal[i] = {*current};
      const rl::PolicyLossTerm term =
          rl::PolicyLoss({*current, proximal[i][0], sample.behaviour[0]}, sample.advantage, config_.loss);
      if (epoch == 0) {
        stats.loss += term.loss * scale;
        terms++;
        clipped += term.clipped ? 1 : 0;
        weight_sum += term.weight;
      }
      // L = -coef * log pi(chosen) has dL/dlogp = -coef.
      std::map<size_t, double> rows;
      if (term.dloss_dlogp != 0.0) {
        if (Status s = AddCandidateRows(sample, pi, sample.chosen, -term.dloss_dlogp * scale, &rows); !s.ok()) {
          return s.WithContext("update");
        }
      }
      if (imitate) {
        if (sample.expert >= static_cast<int>(sample.candidates.size())) {
          return InvalidArgument("update: expert candidate " + std::to_string(sample.expert) + " of " +
                                 std::to_string(sample.candidates.size()));
        }
        if (epoch == 0) {
          stats.imitation_loss -= std::log(std::max(pi[static_cast<size_t>(sample.expert)], 1e-300));
          stats.labelled++;
        }
        if (Status s = AddCandidateRows(sample, pi, sample.expert, config_.imitation * scale, &rows); !s.ok()) {
          return s.WithContext("update");
        }
      }
      if (rows.empty()) continue;
      auto tokens = BackwardRows(sample, rows);
      if (!tokens.ok()) return tokens.status().WithContext("update");
      stats.tokens += *tokens;
    }
    stats.grad_norm = optimizer_.Step();
  }
  if (stats.labelled > 0) stats.imitation_loss /= stats.labelled;
  if (terms > 0) {
    stats.clipped = static_cast<double>(clipped) / static_cast<double>(terms);
    stats.weight_mean = weight_sum / static_cast<double>(terms);
  }
  return stats;
}

}  // namespace rock::trainer
