// Batched generation with continuous batching: up to `slots` sequences decode together; a
// sequence that finishes frees its slot and the next queued prompt takes it on the next Step,
// so no slot idles while work is queued. Sampling is seeded, so a run is reproducible.
// Also ScoreCandidates, for envs that list admissible actions. The model must outlive both.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "common/status.h"
#include "trainer-client/policy/decoder.h"
#include "trainer-client/policy/model.h"

namespace rock::policy {

struct SamplingParams {
  float temperature = 1.0f;  // <= 0: greedy (argmax)
  float top_p = 1.0f;        // nucleus: sample among the most likely tokens holding top_p of the mass
  int max_new_tokens = 32;
  int stop_token = -1;       // e.g. Tokenizer::kEos; generation ends after emitting it; -1: none
};

struct Completion {
  uint64_t id = 0;              // from Submit
  std::vector<int> tokens;      // the generated tokens, without the prompt
  // log p(token) of each generated token under the model itself (temperature 1, no top-p),
  // which is what a training forward recomputes, so on-policy importance ratios start at 1.
  std::vector<float> logprobs;
  int slot = -1;                // the slot it decoded in
  int64_t first_step = 0;       // the Step that prefilled its prompt
  int64_t last_step = 0;        // the Step that produced its last token
  bool stopped = false;         // ended on stop_token (not on max_new_tokens or max_seq)
};

class Generator {
 public:
  static StatusOr<std::unique_ptr<Generator>> Create(const Model& model, int slots, uint64_t seed);

  // Queues a prompt (non-empty, shorter than the model's max_seq); returns its id.
  StatusOr<uint64_t> Submit(std::vector<int> prompt, SamplingParams params);
  // Fills free slots from the queue, decodes one token for every active slot, and returns the
  // sequences that finished in this step.
  StatusOr<std::vector<Completion>> Step();
  // Steps until nothing is queued or active; completions in the order they finished.
  StatusOr<std::vector<Completion>> RunToCompletion();
  bool idle() const;
  int64_t steps() const { return steps_; }

 private:
  struct Pending {
    uint64_t id;
    std::vector<int> prompt;
    SamplingParams params;
  };
  struct Active {
    bool busy = false;
    Pending req;
    int len = 0;  // tokens in the cache
    Completion out;
  };
  Generator(const Model& model, std::unique_ptr<Decoder> decoder, uint64_t seed);
  int Sample(std::span<const float> logp, const SamplingParams& params);

  const Model& model_;
  std::unique_ptr<Decoder> decoder_;
  std::mt19937_64 rng_;
  std::deque<Pending> queue_;
  std::vector<Active> slots_;
  uint64_t next_id_ = 1;
  int64_t steps_ = 0;
};

// For each candidate continuation, the sum of log p(candidate token | prompt, earlier candidate
// tokens); an empty candidate scores 0. The prompt must be non-empty; prompt + candidate must fit
// the model's max_seq. The prompt is computed once and its KV cache shared by every candidate,
// so the cost is one prompt plus the candidates' tokens, not one prompt per candidate.
StatusOr<std::vector<double>> ScoreCandidates(const Model& model, std::span<const int> prompt,
                                              std::span<const std::vector<int>> candidates);

}  // namespace rock::policy
