// Policy engine benchmarks (issue 9) on the CPU reference backend, two model sizes:
//   decode   tokens/s of incremental decoding with the KV cache, `batch` sequences per step
//            (each slot prefilled with a 16-token prompt first, which is not timed)
//   train    tokens/s of forward + backward + AdamW over B x T token batches
//   score    ms per ScoreCandidates call of an ALFWorld-sized step (a 150-token prompt, 40
//            candidates of 20 tokens): the shared-prompt path against the recompute-the-prompt-
//            per-slot scoring it replaced, alternating in this run, median of 5 calls each
//   learn    ms per exact learner step over the candidates (forward + backward of every
//            candidate's tokens after the prompt): one padded row per candidate, as the learner
//            did before, against one prefix tree (CandidateForward), median of 5 steps each,
//            for the ~1M model on the scoring shape and the make run policy on its word-token
//            shape (the ~10M model's rows would take minutes)
// Prints markdown for docs/BENCHMARKS.md. A benchmark, not a test: nothing is asserted.
// GPU rows (decode as a fraction of the HBM bandwidth bound) need the CUDA backend.
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "trainer-client/policy/adamw.h"
#include "trainer-client/policy/candidate_policy.h"
#include "trainer-client/policy/cpu_backend.h"
#include "trainer-client/policy/decoder.h"
#include "trainer-client/policy/generator.h"
#include "trainer-client/policy/model.h"
#include "trainer-client/policy/tokenizer.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using namespace rock::policy;

int Threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
using Clock = std::chrono::steady_clock;

constexpr double kMinSeconds = 2.0;  // each row runs at least this long (and at least once)
constexpr int kPrompt = 16;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

struct Size {
  const char* name;
  ModelConfig config;
};

ModelConfig Make(int dim, int layers, int heads, int kv, int hidden) {
  ModelConfig c;
  c.dim = dim;
  c.n_layers = layers;
  c.n_heads = heads;
  c.n_kv_heads = kv;
  c.hidden_dim = hidden;
  c.vocab_size = Tokenizer::kFirstWord;
  c.max_seq = 256;
  return c;
}

std::vector<int> Tokens(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int> out(n);
  for (int& t : out) t = static_cast<int>(rng() % 256);
  return out;
}

// Decode tokens/s for `batch` slots, one token per slot per step, contexts growing from 16.
double DecodeTokensPerSecond(const Model& model, int batch) {
  auto decoder = std::move(Decoder::Create(model, batch, model.config().max_seq)).value();
  std::vector<DecodeEntry> prefill;
  const std::vector<int> prompt = Tokens(kPrompt, 1);
  for (int s = 0; s < batch; s++) {
    for (int p = 0; p < kPrompt; p++) prefill.push_back({s, p, prompt[static_cast<size_t>(p)]});
  }
  if (!decoder->Step(prefill).ok()) return 0.0;
  std::vector<DecodeEntry> step(static_cast<size_t>(batch));
  int pos = kPrompt;
  long tokens = 0;
  const auto start = Clock::now();
  while ((tokens == 0 || Seconds(start) < kMinSeconds) && pos < model.config().max_seq) {
    for (int s = 0; s < batch; s++) step[static_cast<size_t>(s)] = {s, pos, (s + pos) % 256};
    if (!decoder->Step(step).ok()) return 0.0;
    pos++;
    tokens += batch;
  }
  return static_cast<double>(tokens) / Seconds(start);
}

double TrainTokensPerSecond(Model& model, int B, int T) {
  AdamW opt(model, {});
  const std::vector<int> tokens = Tokens(static_cast<size_t>(B * T) + 1, 2);
  const std::vector<int> inputs(tokens.begin(), tokens.end() - 1);
  const std::vector<int> targets(tokens.begin() + 1, tokens.end());
  const std::vector<float> weights(inputs.size(), 1.0f / static_cast<float>(inputs.size()));
  long done = 0;
  const auto start = Clock::now();
  while (done == 0 || Seconds(start) < kMinSeconds) {
    if (!model.Forward(inputs, targets, weights, B, T).ok()) return 0.0;
    model.ZeroGrad();
    if (!model.Backward().ok()) return 0.0;
    opt.Step();
    done += B * T;
  }
  return static_cast<double>(done) / Seconds(start);
}

constexpr size_t kScorePrompt = 150;
constexpr size_t kScoreCandidates = 40;
constexpr size_t kScoreCandidateTokens = 20;

// The baseline: how ScoreCandidates scored before the prompt's cache was shared. Every candidate
// prefills prompt + candidate in its own slot, 16 slots per step. Kept here only to compare.
std::vector<double> ScoreRecomputingThePrompt(const Model& model, std::span<const int> prompt,
                                              std::span<const std::vector<int>> candidates) {
  constexpr size_t kSlots = 16;
  const size_t slots = std::min(kSlots, candidates.size());
  const size_t V = static_cast<size_t>(model.config().vocab_size);
  auto decoder = std::move(Decoder::Create(model, static_cast<int>(slots),
                                           static_cast<int>(prompt.size() + kScoreCandidateTokens)))
                     .value();
  std::vector<double> scores(candidates.size(), 0.0);
  for (size_t first = 0; first < candidates.size(); first += slots) {
    const size_t last = std::min(candidates.size(), first + slots);
    std::vector<DecodeEntry> entries;
    std::vector<size_t> start(last - first);
    for (size_t j = first; j < last; j++) {
      const int s = static_cast<int>(j - first);
      start[j - first] = entries.size();
      int pos = 0;
      for (int t : prompt) entries.push_back({s, pos++, t});
      for (int t : candidates[j]) entries.push_back({s, pos++, t});
    }
    const std::vector<float> logp = std::move(decoder->Step(entries)).value();
    for (size_t j = first; j < last; j++) {
      for (size_t i = 0; i < candidates[j].size(); i++) {
        const size_t row = start[j - first] + prompt.size() - 1 + i;
        scores[j] += logp[row * V + static_cast<size_t>(candidates[j][i])];
      }
    }
  }
  return scores;
}

struct ScoreTiming {
  double recompute_ms;  // medians over kScoreRounds calls
  double shared_ms;
  double max_diff;      // between the two paths' scores
};

constexpr int kScoreRounds = 5;

double Median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

// The two paths alternate, one call each per round, so load from other processes on a shared
// host falls on both alike; the median of the rounds drops an outlier.
ScoreTiming TimeScoring(const Model& model) {
  const std::vector<int> prompt = Tokens(kScorePrompt, 3);
  std::vector<std::vector<int>> candidates;
  for (size_t j = 0; j < kScoreCandidates; j++) candidates.push_back(Tokens(kScoreCandidateTokens, 10 + j));
  std::vector<double> old_ms;
  std::vector<double> new_ms;
  ScoreTiming t{};
  for (int r = 0; r < kScoreRounds; r++) {
    auto start = Clock::now();
    const std::vector<double> old_scores = ScoreRecomputingThePrompt(model, prompt, candidates);
    old_ms.push_back(1e3 * Seconds(start));
    start = Clock::now();
    const std::vector<double> new_scores = std::move(ScoreCandidates(model, prompt, candidates)).value();
    new_ms.push_back(1e3 * Seconds(start));
    for (size_t j = 0; j < candidates.size(); j++) {
      t.max_diff = std::max(t.max_diff, std::abs(old_scores[j] - new_scores[j]));
    }
  }
  t.recompute_ms = Median(old_ms);
  t.shared_ms = Median(new_ms);
  return t;
}

// The baseline: the exact step as the learner took it before the tree, one row prompt +
// candidate per candidate padded to the longest, weight w_c on c's targets. Kept here only to
// compare. Returns the gradient.
std::vector<float> LearnStepInRows(Model& model, std::span<const int> prompt,
                                   std::span<const std::vector<int>> candidates, std::span<const double> w) {
  size_t longest = 0;
  for (const std::vector<int>& c : candidates) longest = std::max(longest, c.size());
  const size_t P = prompt.size();
  const size_t T = P + longest - 1;
  const size_t B = candidates.size();
  std::vector<int> tokens(B * T, 0), targets(B * T, 0);
  std::vector<float> weights(B * T, 0.0f);
  for (size_t c = 0; c < B; c++) {
    auto token = [&](size_t i) { return i < P ? prompt[i] : candidates[c][i - P]; };
    for (size_t t = 0; t + 1 < P + candidates[c].size(); t++) {
      tokens[c * T + t] = token(t);
      targets[c * T + t] = token(t + 1);
      if (t + 1 >= P) weights[c * T + t] = static_cast<float>(w[c]);
    }
  }
  model.ZeroGrad();
  if (!model.Forward(tokens, targets, weights, static_cast<int>(B), static_cast<int>(T)).ok()) return {};
  if (!model.Backward().ok()) return {};
  return model.DownloadGrads();
}

std::vector<float> LearnStepInATree(Model& model, std::span<const int> prompt,
                                    std::span<const std::vector<int>> candidates, std::span<const double> w) {
  auto forward = CandidateForward::Run(model, prompt, candidates, 1.0);
  if (!forward.ok()) return {};
  model.ZeroGrad();
  if (!forward->Backward(w).ok()) return {};
  return model.DownloadGrads();
}

struct LearnShape {
  size_t prompt, candidates, candidate_tokens;
};

struct LearnTiming {
  double rows_ms;
  double tree_ms;
  double max_diff;  // largest gradient difference, relative to the largest gradient
};

LearnTiming TimeLearning(Model& model, LearnShape shape) {
  const std::vector<int> prompt = Tokens(shape.prompt, 4);
  std::vector<std::vector<int>> candidates;
  std::vector<double> w;
  for (size_t j = 0; j < shape.candidates; j++) {
    candidates.push_back(Tokens(shape.candidate_tokens, 20 + j));
    w.push_back(j == 0 ? 1.0 : -1.0 / static_cast<double>(shape.candidates));
  }
  std::vector<double> rows_ms, tree_ms;
  LearnTiming t{};
  for (int r = 0; r < kScoreRounds; r++) {
    auto start = Clock::now();
    const std::vector<float> rows = LearnStepInRows(model, prompt, candidates, w);
    rows_ms.push_back(1e3 * Seconds(start));
    start = Clock::now();
    const std::vector<float> tree = LearnStepInATree(model, prompt, candidates, w);
    tree_ms.push_back(1e3 * Seconds(start));
    float largest = 0.0f, diff = 0.0f;
    for (size_t i = 0; i < rows.size() && i < tree.size(); i++) {
      largest = std::max(largest, std::abs(rows[i]));
      diff = std::max(diff, std::abs(rows[i] - tree[i]));
    }
    t.max_diff = std::max(t.max_diff, static_cast<double>(diff / std::max(largest, 1e-30f)));
  }
  t.rows_ms = Median(rows_ms);
  t.tree_ms = Median(tree_ms);
  return t;
}

}  // namespace

int main() {
  struct utsname uts {};
  uname(&uts);
  const Size sizes[] = {{"~1M", Make(128, 4, 4, 2, 384)}, {"~10M", Make(320, 8, 8, 4, 864)}};
  CpuBackend cpu;
  fmt::print("- machine: {} cores, {}, Linux {}; OpenMP threads: {}\n", sysconf(_SC_NPROCESSORS_ONLN), CpuModel(),
             uts.release, Threads());
  fmt::print("- backend: the CPU reference (cpu_ops.cc), fp32\n");
  for (const Size& s : sizes) {
    fmt::print("- {} model: dim {}, {} layers, {} heads / {} kv heads, hidden {}, vocab {}: {} parameters\n", s.name,
               s.config.dim, s.config.n_layers, s.config.n_heads, s.config.n_kv_heads, s.config.hidden_dim,
               s.config.vocab_size, s.config.num_params());
  }
  fmt::print("\n| model | measure | tokens/s |\n|---|---|---:|\n");
  for (const Size& s : sizes) {
    auto model = std::move(Model::Create(cpu, s.config, 1)).value();
    for (int batch : {1, 8, 32}) {
      fmt::print("| {} | decode, batch {} (context {}+) | {:.0f} |\n", s.name, batch, kPrompt,
                 DecodeTokensPerSecond(*model, batch));
      std::fflush(stdout);
    }
    const int B = 4;
    const int T = 64;
    fmt::print("| {} | train (forward + backward + AdamW), {} x {} tokens | {:.0f} |\n", s.name, B, T,
               TrainTokensPerSecond(*model, B, T));
    std::fflush(stdout);
  }
  fmt::print("\n| model | ScoreCandidates, {}-token prompt, {} candidates of {} tokens | ms per call |\n",
             kScorePrompt, kScoreCandidates, kScoreCandidateTokens);
  fmt::print("|---|---|---:|\n");
  for (const Size& s : sizes) {
    auto model = std::move(Model::Create(cpu, s.config, 1)).value();
    const ScoreTiming t = TimeScoring(*model);
    fmt::print("| {} | prompt recomputed in every slot (before) | {:.1f} |\n", s.name, t.recompute_ms);
    fmt::print("| {} | prompt once, KV prefix copied to the slots | {:.1f} |\n", s.name, t.shared_ms);
    fmt::print("| {} | speed-up (largest score difference {:.1e}) | {:.2f}x |\n", s.name, t.max_diff,
               t.recompute_ms / t.shared_ms);
    std::fflush(stdout);
  }
  // The make run policy, with its word vocabulary, on a word-token ALFWorld step.
  ModelConfig demo = Make(32, 2, 2, 1, 64);
  demo.vocab_size = Tokenizer::kFirstWord + 768;
  const struct {
    std::string name;
    ModelConfig config;
    LearnShape shape;
  } learn_rows[] = {
      {"~1M", sizes[0].config, {kScorePrompt, kScoreCandidates, kScoreCandidateTokens}},
      {fmt::format("make run's ({} parameters)", demo.num_params()), demo, {40, 30, 4}},
  };
  fmt::print("\n| model | exact learner step over the candidates (forward + backward) | ms per step |\n");
  fmt::print("|---|---|---:|\n");
  for (const auto& row : learn_rows) {
    auto model = std::move(Model::Create(cpu, row.config, 1)).value();
    const LearnTiming t = TimeLearning(*model, row.shape);
    const std::string shape = fmt::format("{}-token prompt, {} candidates of {}", row.shape.prompt,
                                          row.shape.candidates, row.shape.candidate_tokens);
    fmt::print("| {} | {}: a padded row per candidate (before) | {:.1f} |\n", row.name, shape, t.rows_ms);
    fmt::print("| {} | {}: one prefix tree | {:.1f} |\n", row.name, shape, t.tree_ms);
    fmt::print("| {} | speed-up (largest gradient difference {:.1e} of the largest gradient) | {:.2f}x |\n",
               row.name, t.max_diff, t.rows_ms / t.tree_ms);
    std::fflush(stdout);
  }
  return 0;
}
