// A policy over a list of candidate actions (an env's admissible commands), on top of
// ScoreCandidates, and what training it needs.
//
// With score_c the summed log p of candidate c's len_c tokens after the prompt:
//   z_c = (score_c / len_c) / temperature      length-normalized, so an untrained model is near
//                                              uniform instead of preferring short commands
//   pi  = softmax(z)
//
// Training a loss L = -coef * log pi(a) (coef: an advantage, or 1 for imitation) through the
// token model. Each token of candidate c has token loss l = -log p(token), and
//   log pi(a) = z_a - logsumexp(z),   d log pi(a) / d z_c = 1[c = a] - pi_c,
//   d z_c / d l = -1 / (len_c * temperature),
// so dL/dl = w_c = coef * (1[c = a] - pi_c) / (len_c * temperature) for every token of c.
// Model::Forward's loss is sum weights * l, so weights of w_c on c's tokens give exactly dL/dθ
// from Model::Backward (the prompt's tokens carry weight 0; their influence on the candidates'
// log-probs goes through attention and is in the gradient all the same).
#pragma once

#include <random>
#include <span>
#include <vector>

#include "common/status.h"
#include "trainer-client/policy/model.h"

namespace rock::policy {

// z_c as above. InvalidArgument for no candidates, sizes that differ, a length < 1 or a
// temperature <= 0.
StatusOr<std::vector<double>> CandidateLogits(std::span<const double> scores, std::span<const int> lengths,
                                              double temperature);

// log softmax(z), computed around max(z) so it does not overflow; empty for empty z.
std::vector<double> LogSoftmax(std::span<const double> z);

// log pi over `candidates` after `prompt` under `model`: ScoreCandidates, CandidateLogits with
// the candidates' lengths, then LogSoftmax. What an actor samples from and a learner trains.
StatusOr<std::vector<double>> CandidateLogPolicy(const Model& model, std::span<const int> prompt,
                                                 std::span<const std::vector<int>> candidates, double temperature);

// An index drawn from pi = exp(log_pi) with 53 bits of rng per draw (the same sequence on every
// standard library); -1 when log_pi is empty.
int SampleCandidate(std::span<const double> log_pi, std::mt19937_64& rng);
// argmax, the lowest index among ties; -1 when empty.
int GreedyCandidate(std::span<const double> log_pi);

// w_c = coef * (1[c = chosen] - pi_c) / (len_c * temperature): the weight of each of candidate
// c's tokens for L = -coef * log pi(chosen). pi is the probabilities (exp of LogSoftmax).
StatusOr<std::vector<double>> CandidateTokenWeights(std::span<const int> lengths, std::span<const double> pi,
                                                    int chosen, double coef, double temperature);

// One row per candidate, prompt + candidate, for Model::Forward(tokens, targets, weights, B, T).
struct CandidateBatch {
  std::vector<int> tokens;     // (B,T) tokens of the row, padded after its end
  std::vector<int> targets;    // (B,T) target of position t is the row's token t + 1
  std::vector<float> weights;  // (B,T) weights_per_candidate[c] where the target is a token of c, else 0
  int B = 0;                   // the number of candidates
  int T = 0;                   // the longest prompt + candidate, less one
};

// The training batch for CandidateTokenWeights. Padding is token 0 with target 0 and weight 0:
// it sits after the row's last token, and attention is causal, so it changes no weighted loss.
// InvalidArgument for an empty prompt, no candidates, an empty candidate or sizes that differ.
StatusOr<CandidateBatch> BuildCandidateBatch(std::span<const int> prompt, std::span<const std::vector<int>> candidates,
                                             std::span<const double> weights_per_candidate);

}  // namespace rock::policy
