#include "trainer-client/policy/candidate_policy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "trainer-client/policy/generator.h"
#include "trainer-client/policy/tokenizer.h"

namespace rock::policy {
namespace {

// The checks CandidateLogits and CandidateTokenWeights share; `what` names the caller.
Status CheckCandidates(const char* what, size_t n, std::span<const int> lengths, double temperature) {
  if (n == 0) return InvalidArgument(std::string(what) + ": no candidates");
  if (lengths.size() != n) {
    return InvalidArgument(std::string(what) + ": " + std::to_string(lengths.size()) + " lengths for " +
                           std::to_string(n) + " candidates");
  }
  for (size_t c = 0; c < n; c++) {
    if (lengths[c] < 1) {
      return InvalidArgument(std::string(what) + ": candidate " + std::to_string(c) + " has length " +
                             std::to_string(lengths[c]) + " (must be at least 1)");
    }
  }
  if (!(temperature > 0.0)) {
    return InvalidArgument(std::string(what) + ": temperature " + std::to_string(temperature) + " must be positive");
  }
  return Status::Ok();
}

// f(k) for each slot k < slots whose bit is set in mask: what the gains' forward and backward share.
template <typename F>
void ForEachMatchedSlot(uint64_t mask, size_t slots, F f) {
  for (size_t k = 0; k < slots; k++) {
    if ((mask >> k) & 1) f(k);
  }
}

// scores[c] += the model's match gains of the bits of matches[c]; nothing when matches is empty.
Status AddMatchGains(const Model& model, std::span<const uint64_t> matches, std::vector<double>& scores) {
  if (matches.empty()) return Status::Ok();
  if (matches.size() != scores.size()) {
    return InvalidArgument("match gains: " + std::to_string(matches.size()) + " match masks for " +
                           std::to_string(scores.size()) + " candidates");
  }
  const std::vector<float> gains = model.MatchGains();
  for (size_t c = 0; c < scores.size(); c++) {
    ForEachMatchedSlot(matches[c], gains.size(), [&](size_t k) { scores[c] += static_cast<double>(gains[k]); });
  }
  return Status::Ok();
}

}  // namespace

std::vector<uint64_t> TaskMatches(std::span<const std::vector<int>> candidates, std::span<const int> task, int slots) {
  const std::vector<int> words = [&] {
    std::vector<int> w;
    for (int token : task) {
      if (token >= Tokenizer::kFirstWord) w.push_back(token);
    }
    std::sort(w.begin(), w.end());
    return w;
  }();
  const size_t k_end = static_cast<size_t>(std::clamp(slots, 0, kMaxMatchSlots));
  std::vector<uint64_t> masks;
  for (const std::vector<int>& candidate : candidates) {
    uint64_t mask = 0;
    for (size_t k = 0; k < std::min(k_end, candidate.size()); k++) {
      if (std::binary_search(words.begin(), words.end(), candidate[k])) mask |= uint64_t{1} << k;
    }
    masks.push_back(mask);
  }
  return masks;
}

StatusOr<std::vector<double>> CandidateLogits(std::span<const double> scores, std::span<const int> lengths,
                                              double temperature) {
  if (Status s = CheckCandidates("candidate logits", scores.size(), lengths, temperature); !s.ok()) return s;
  std::vector<double> z(scores.size());
  for (size_t c = 0; c < z.size(); c++) z[c] = scores[c] / lengths[c] / temperature;
  return z;
}

std::vector<double> LogSoftmax(std::span<const double> z) {
  if (z.empty()) return {};
  const double mx = *std::max_element(z.begin(), z.end());
  double sum = 0.0;
  for (double x : z) sum += std::exp(x - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(z.size());
  for (size_t c = 0; c < z.size(); c++) out[c] = z[c] - lse;
  return out;
}

int SampleCandidate(std::span<const double> log_pi, std::mt19937_64& rng) {
  if (log_pi.empty()) return -1;
  // 53 random bits as a double in [0, 1), scaled by the total so rounding in pi cannot leave u
  // past the last bucket.
  double total = 0.0;
  for (double lp : log_pi) total += std::exp(lp);
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * total;
  double acc = 0.0;
  for (size_t c = 0; c < log_pi.size(); c++) {
    acc += std::exp(log_pi[c]);
    if (u < acc) return static_cast<int>(c);
  }
  return static_cast<int>(log_pi.size()) - 1;
}

int GreedyCandidate(std::span<const double> log_pi) {
  if (log_pi.empty()) return -1;
  return static_cast<int>(std::max_element(log_pi.begin(), log_pi.end()) - log_pi.begin());
}

StatusOr<std::vector<double>> CandidateLogPolicy(const Model& model, std::span<const int> prompt,
                                                 std::span<const std::vector<int>> candidates, double temperature,
                                                 std::span<const uint64_t> matches) {
  auto scores = ScoreCandidates(model, prompt, candidates);
  if (!scores.ok()) return scores.status();
  if (Status s = AddMatchGains(model, matches, *scores); !s.ok()) return s;
  std::vector<int> lengths;
  for (const std::vector<int>& c : candidates) lengths.push_back(static_cast<int>(c.size()));
  auto z = CandidateLogits(*scores, lengths, temperature);
  if (!z.ok()) return z.status();
  return LogSoftmax(*z);
}

StatusOr<std::vector<double>> CandidateTokenWeights(std::span<const int> lengths, std::span<const double> pi,
                                                    int chosen, double coef, double temperature) {
  if (Status s = CheckCandidates("candidate token weights", pi.size(), lengths, temperature); !s.ok()) return s;
  if (chosen < 0 || static_cast<size_t>(chosen) >= pi.size()) {
    return InvalidArgument("candidate token weights: chosen " + std::to_string(chosen) + " is not one of " +
                           std::to_string(pi.size()) + " candidates");
  }
  std::vector<double> w(pi.size());
  for (size_t c = 0; c < w.size(); c++) {
    const double indicator = static_cast<int>(c) == chosen ? 1.0 : 0.0;
    w[c] = coef * (indicator - pi[c]) / (lengths[c] * temperature);
  }
  return w;
}

StatusOr<CandidateTree> BuildCandidateTree(std::span<const int> prompt,
                                           std::span<const std::vector<int>> candidates) {
  if (prompt.empty()) return InvalidArgument("candidate tree: empty prompt");
  if (candidates.empty()) return InvalidArgument("candidate tree: no candidates");
  CandidateTree tree;
  tree.prefix = static_cast<int>(prompt.size()) - 1;
  tree.tokens.assign(prompt.begin(), prompt.end() - 1);
  tree.targets.assign(prompt.begin() + 1, prompt.end());
  tree.first.assign(tree.tokens.size(), 0);
  for (size_t c = 0; c < candidates.size(); c++) {
    const std::vector<int>& cand = candidates[c];
    if (cand.empty()) return InvalidArgument("candidate tree: candidate " + std::to_string(c) + " is empty");
    const int start = static_cast<int>(tree.tokens.size());
    tree.start.push_back(start);
    // The branch is the row prompt + cand from the prompt's last token on.
    for (size_t i = 0; i < cand.size(); i++) {
      tree.tokens.push_back(i == 0 ? prompt.back() : cand[i - 1]);
      tree.targets.push_back(cand[i]);
      tree.first.push_back(start);
    }
  }
  return tree;
}

StatusOr<CandidateForward> CandidateForward::Run(Model& model, std::span<const int> prompt,
                                                 std::span<const std::vector<int>> candidates, double temperature,
                                                 Options options) {
  if (prompt.empty()) return InvalidArgument("candidate forward: empty prompt");
  const int max_tree_tokens = options.max_tree_tokens;
  CandidateForward f(model);
  f.has_prompt_loss_ = options.prompt_loss;
  const size_t shared = prompt.size() - 1;
  // Candidates in order, as many to a tree as fit in max_tree_tokens.
  for (size_t c = 0; c < candidates.size();) {
    size_t end = c, size = shared;
    while (end < candidates.size() && size + candidates[end].size() <= static_cast<size_t>(max_tree_tokens)) {
      size += candidates[end++].size();
    }
    if (end == c) {
      return InvalidArgument("candidate forward: prompt (" + std::to_string(prompt.size()) + ") + candidate " +
                             std::to_string(c) + " (" + std::to_string(candidates[c].size()) +
                             " tokens) do not fit a tree of " + std::to_string(max_tree_tokens) + " tokens");
    }
    auto tree = BuildCandidateTree(prompt, candidates.subspan(c, end - c));
    if (!tree.ok()) return tree.status().WithContext("candidates from " + std::to_string(c));
    f.trees_.push_back(std::move(*tree));
    f.first_candidate_.push_back(c);
    c = end;
  }
  f.first_candidate_.push_back(candidates.size());
  std::vector<double> scores;
  std::vector<int> lengths;
  for (const std::vector<int>& cand : candidates) lengths.push_back(static_cast<int>(cand.size()));
  for (size_t i = 0; i < f.trees_.size(); i++) {
    const CandidateTree& tree = f.trees_[i];
    const std::vector<float> zero(tree.tokens.size(), 0.0f);
    // The prompt's loss is counted in the first tree only.
    const bool prompt_loss = f.has_prompt_loss_ && i == 0;
    auto forward = model.ForwardTree(tree.tokens, tree.targets, zero, tree.prefix, tree.first, prompt_loss);
    if (!forward.ok()) return forward.status().WithContext("candidate forward");
    f.positions_ += static_cast<int64_t>(tree.tokens.size());
    const std::vector<float> losses = model.Losses();
    if (prompt_loss && tree.prefix > 0) {
      for (int t = 0; t < tree.prefix; t++) f.prompt_loss_ += static_cast<double>(losses[static_cast<size_t>(t)]);
      f.prompt_loss_ /= tree.prefix;
    }
    for (size_t j = 0; j < tree.start.size(); j++) {
      double score = 0.0;
      for (size_t t = static_cast<size_t>(tree.start[j]); t < tree.branch_end(j); t++) {
        score -= static_cast<double>(losses[t]);
      }
      scores.push_back(score);
    }
  }
  if (Status s = AddMatchGains(model, options.matches, scores); !s.ok()) return s.WithContext("candidate forward");
  f.matches_.assign(options.matches.begin(), options.matches.end());
  auto z = CandidateLogits(scores, lengths, temperature);
  if (!z.ok()) return z.status().WithContext("candidate forward");
  f.log_pi_ = LogSoftmax(*z);
  return f;
}

Status CandidateForward::Backward(std::span<const double> weights_per_candidate, double prompt_weight) {
  if (weights_per_candidate.size() != log_pi_.size()) {
    return InvalidArgument("candidate backward: " + std::to_string(weights_per_candidate.size()) + " weights for " +
                           std::to_string(log_pi_.size()) + " candidates");
  }
  if (prompt_weight != 0.0 && !has_prompt_loss_) {
    return InvalidArgument("candidate backward: a prompt weight needs the forward's prompt_loss");
  }
  for (size_t i = 0; i < trees_.size(); i++) {
    const CandidateTree& tree = trees_[i];
    std::vector<float> weights(tree.tokens.size(), 0.0f);
    const bool prompt_loss = has_prompt_loss_ && i == 0;
    if (prompt_loss && tree.prefix > 0) {
      std::fill_n(weights.begin(), tree.prefix, static_cast<float>(prompt_weight / tree.prefix));
    }
    for (size_t j = 0; j < tree.start.size(); j++) {
      const float w = static_cast<float>(weights_per_candidate[first_candidate_[i] + j]);
      for (size_t t = static_cast<size_t>(tree.start[j]); t < tree.branch_end(j); t++) weights[t] = w;
    }
    // The model still holds the only tree's forward; with several, each is run again.
    if (trees_.size() == 1) {
      if (Status s = model_.SetLossWeights(weights); !s.ok()) return s.WithContext("candidate backward");
    } else {
      auto forward = model_.ForwardTree(tree.tokens, tree.targets, weights, tree.prefix, tree.first, prompt_loss);
      if (!forward.ok()) return forward.status().WithContext("candidate backward");
    }
    if (Status s = model_.Backward(); !s.ok()) return s.WithContext("candidate backward");
  }
  if (matches_.empty()) return Status::Ok();
  std::vector<float> gain_grads(static_cast<size_t>(model_.config().match_slots), 0.0f);
  for (size_t c = 0; c < matches_.size(); c++) {
    ForEachMatchedSlot(matches_[c], gain_grads.size(),
                       [&](size_t k) { gain_grads[k] -= static_cast<float>(weights_per_candidate[c]); });
  }
  return model_.AccumulateMatchGainGrads(gain_grads).WithContext("candidate backward");
}

}  // namespace rock::policy
