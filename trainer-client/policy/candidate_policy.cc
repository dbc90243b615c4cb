#include "trainer-client/policy/candidate_policy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "trainer-client/policy/generator.h"

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

}  // namespace

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
                                                 std::span<const std::vector<int>> candidates, double temperature) {
  auto scores = ScoreCandidates(model, prompt, candidates);
  if (!scores.ok()) return scores.status();
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

StatusOr<CandidateBatch> BuildCandidateBatch(std::span<const int> prompt, std::span<const std::vector<int>> candidates,
                                             std::span<const double> weights_per_candidate) {
  if (prompt.empty()) return InvalidArgument("candidate batch: empty prompt");
  if (candidates.empty()) return InvalidArgument("candidate batch: no candidates");
  if (weights_per_candidate.size() != candidates.size()) {
    return InvalidArgument("candidate batch: " + std::to_string(weights_per_candidate.size()) + " weights for " +
                           std::to_string(candidates.size()) + " candidates");
  }
  size_t longest = 0;
  for (size_t c = 0; c < candidates.size(); c++) {
    if (candidates[c].empty()) return InvalidArgument("candidate batch: candidate " + std::to_string(c) + " is empty");
    longest = std::max(longest, candidates[c].size());
  }
  const size_t P = prompt.size();
  const size_t T = P + longest - 1;
  CandidateBatch batch;
  batch.B = static_cast<int>(candidates.size());
  batch.T = static_cast<int>(T);
  batch.tokens.assign(candidates.size() * T, 0);
  batch.targets.assign(candidates.size() * T, 0);
  batch.weights.assign(candidates.size() * T, 0.0f);
  for (size_t c = 0; c < candidates.size(); c++) {
    const std::vector<int>& cand = candidates[c];
    auto token = [&](size_t i) { return i < P ? prompt[i] : cand[i - P]; };  // the row prompt + cand
    const size_t len = P + cand.size();
    for (size_t t = 0; t + 1 < len; t++) {
      batch.tokens[c * T + t] = token(t);
      batch.targets[c * T + t] = token(t + 1);
      // Targets from P on are the candidate's tokens.
      if (t + 1 >= P) batch.weights[c * T + t] = static_cast<float>(weights_per_candidate[c]);
    }
  }
  return batch;
}

}  // namespace rock::policy
