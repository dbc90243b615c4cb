// A policy over a list of candidate actions (an env's admissible commands), on top of
// ScoreCandidates, and what training it needs.
//
// With score_c the summed log p of candidate c's len_c tokens after the prompt:
//   z_c = (score_c / len_c) / temperature      length-normalized, so an untrained model is near
//                                              uniform instead of preferring short commands
//   pi  = softmax(z)
//
// Task matches, a copy prior (ModelConfig::match_slots = K > 0): a small model trained from
// scratch is slow to learn to copy a name from the task line into the command it scores (take
// the task's object, go to its receptacle), which ALFWorld needs at every step that decides it.
// Bit k of candidate c's match mask is set when its token k (k < K) is a word token that also
// occurs in the task's tokens (TaskMatches). Each set bit adds the learned gain g_k to score_c
// before the length normalization, as if that token were exp(g_k) times likelier:
//   score_c += sum_k g_k bit_k(c)
// The gains start at 0 (no prior) and train with everything else: a gain is one more token
// log-prob of every candidate whose bit is set, so dL/dg_k = -sum_c w_c bit_k(c) with the
// per-token weights w_c below.
//
// Training a loss L = -coef * log pi(a) (coef: an advantage, or 1 for imitation) through the
// token model. Each token of candidate c has token loss l = -log p(token), and
//   log pi(a) = z_a - logsumexp(z),   d log pi(a) / d z_c = 1[c = a] - pi_c,
//   d z_c / d l = -1 / (len_c * temperature),
// so dL/dl = w_c = coef * (1[c = a] - pi_c) / (len_c * temperature) for every token of c.
// Model::Forward's loss is sum weights * l, so weights of w_c on c's tokens give exactly dL/dθ
// from Model::Backward (the prompt's tokens carry weight 0; their influence on the candidates'
// log-probs goes through attention and is in the gradient all the same). CandidateForward runs
// that forward and backward over all candidates at once.
#pragma once

#include <cstddef>
#include <cstdint>
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

// The match masks of `candidates` against the task's tokens `task`: bit k of mask c is set when
// candidates[c][k] (k < slots <= kMaxMatchSlots) is a word token (tokenizer.h) found in task.
std::vector<uint64_t> TaskMatches(std::span<const std::vector<int>> candidates, std::span<const int> task, int slots);

// log pi over `candidates` after `prompt` under `model`: ScoreCandidates, the match gains of
// `matches` (none when empty; else one mask per candidate), CandidateLogits with the
// candidates' lengths, then LogSoftmax. What an actor samples from and a learner trains.
StatusOr<std::vector<double>> CandidateLogPolicy(const Model& model, std::span<const int> prompt,
                                                 std::span<const std::vector<int>> candidates, double temperature,
                                                 std::span<const uint64_t> matches = {});

// An index drawn from pi = exp(log_pi) with 53 bits of rng per draw (the same sequence on every
// standard library); -1 when log_pi is empty.
int SampleCandidate(std::span<const double> log_pi, std::mt19937_64& rng);
// argmax, the lowest index among ties; -1 when empty.
int GreedyCandidate(std::span<const double> log_pi);

// w_c = coef * (1[c = chosen] - pi_c) / (len_c * temperature): the weight of each of candidate
// c's tokens for L = -coef * log pi(chosen). pi is the probabilities (exp of LogSoftmax).
StatusOr<std::vector<double>> CandidateTokenWeights(std::span<const int> lengths, std::span<const double> pi,
                                                    int chosen, double coef, double temperature);

// Every candidate after one prompt as one prefix tree for Model::ForwardTree: the prompt's
// first P-1 tokens shared, then for each candidate c a branch of len_c tokens,
// [prompt[P-1], c_0, ..., c_{len-2}] with targets c_0, ..., c_{len-1}. The prompt's last token
// is fed again in every branch because one position has one target, and each candidate's first
// token is predicted there. A branch's losses are those of the row prompt + c, and the prompt
// is computed once instead of once per candidate.
struct CandidateTree {
  std::vector<int> tokens;   // (N) shared, then the branches in candidate order
  std::vector<int> targets;  // (N)
  std::vector<int> first;    // (N) Model::ForwardTree's branch starts
  int prefix = 0;            // P - 1 shared tokens
  std::vector<int> start;    // where candidate c's branch begins; it ends where the next begins

  size_t branch_end(size_t c) const {
    return c + 1 < start.size() ? static_cast<size_t>(start[c + 1]) : tokens.size();
  }
};

// InvalidArgument for an empty prompt, no candidates or an empty candidate.
StatusOr<CandidateTree> BuildCandidateTree(std::span<const int> prompt, std::span<const std::vector<int>> candidates);

// A training step's view of the policy over candidates: one forward over every candidate (one
// tree, or several when they do not fit in max_tree_tokens) gives the current log pi, and
// Backward the gradient of any loss whose token weights are constant per candidate
// (CandidateTokenWeights, summed over the loss's terms). Exact over all candidates, for the
// cost of the prompt once plus every candidate's tokens. With prompt_loss it also gives the
// prompt's own next-token loss, for an auxiliary language-model term. The model must not run
// another forward between Run and Backward.
class CandidateForward {
 public:
  struct Options {
    int max_tree_tokens = Model::kMaxTreeTokens;
    bool prompt_loss = false;
    std::span<const uint64_t> matches;  // TaskMatches per candidate; empty: no match gains
  };
  static StatusOr<CandidateForward> Run(Model& model, std::span<const int> prompt,
                                        std::span<const std::vector<int>> candidates, double temperature,
                                        Options options);
  static StatusOr<CandidateForward> Run(Model& model, std::span<const int> prompt,
                                        std::span<const std::vector<int>> candidates, double temperature) {
    return Run(model, prompt, candidates, temperature, Options{});
  }

  const std::vector<double>& log_pi() const { return log_pi_; }
  // The mean -log p of the prompt's tokens 1..P-1 after those before them (prompt_loss only).
  double prompt_loss() const { return prompt_loss_; }
  // grads += d/dθ [sum_c w_c * (the token losses of candidate c) + prompt_weight * prompt_loss()],
  // the match gains' included.
  // A prompt_weight other than 0 needs prompt_loss in Run.
  Status Backward(std::span<const double> weights_per_candidate, double prompt_weight = 0.0);
  // The positions of the trees: what a forward and backward over all candidates costs.
  int64_t positions() const { return positions_; }

 private:
  explicit CandidateForward(Model& model) : model_(model) {}

  Model& model_;
  std::vector<CandidateTree> trees_;
  std::vector<size_t> first_candidate_;  // tree i holds candidates first_candidate_[i] .. [i + 1] - 1
  std::vector<uint64_t> matches_;
  std::vector<double> log_pi_;
  bool has_prompt_loss_ = false;
  double prompt_loss_ = 0.0;
  int64_t positions_ = 0;
};

}  // namespace rock::policy
