// The policy over candidate actions: its logits and sampling, the candidate tree, and that the
// per-token weights, run through the real model's ForwardTree/Backward, give the gradient of
// -coef * log pi(chosen) as finite differences of ScoreCandidates see it.
#include "trainer-client/policy/candidate_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/trainer-client/policy_test_util.h"
#include "trainer-client/policy/generator.h"
#include "trainer-client/policy/tokenizer.h"

namespace rock::policy {
namespace {

using testing::MakeModel;
using testing::RandomTokens;
using testing::TinyConfig;

std::vector<int> Lengths(const std::vector<std::vector<int>>& candidates) {
  std::vector<int> out;
  for (const std::vector<int>& c : candidates) out.push_back(static_cast<int>(c.size()));
  return out;
}

std::vector<double> Exp(const std::vector<double>& x) {
  std::vector<double> out;
  for (double v : x) out.push_back(std::exp(v));
  return out;
}

TEST(CandidatePolicy, LogitsAreLengthNormalizedScoresOverTemperature) {
  auto z = CandidateLogits(std::vector<double>{-4.0, -10.0, -1.0}, std::vector<int>{2, 5, 1}, 0.5);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  EXPECT_EQ(*z, (std::vector<double>{-4.0, -4.0, -2.0}));

  const std::vector<double> two = {-1.0, -2.0};
  EXPECT_EQ(CandidateLogits({}, {}, 1.0).status().code(), Code::kInvalidArgument);
  EXPECT_NE(CandidateLogits(two, std::vector<int>{1}, 1.0).status().message().find("1 lengths for 2"),
            std::string::npos);
  EXPECT_NE(CandidateLogits(two, std::vector<int>{1, 0}, 1.0).status().message().find("candidate 1"),
            std::string::npos);
  EXPECT_FALSE(CandidateLogits(two, std::vector<int>{1, 1}, 0.0).ok());
  EXPECT_FALSE(CandidateLogits(two, std::vector<int>{1, 1}, std::nan("")).ok());
}

TEST(CandidatePolicy, LogSoftmaxIsNormalizedAndDoesNotOverflow) {
  const std::vector<double> log_pi = LogSoftmax(std::vector<double>{1000.0, 1000.0, 1000.0 - std::log(2.0)});
  ASSERT_EQ(log_pi.size(), 3u);
  EXPECT_NEAR(log_pi[0], std::log(0.4), 1e-12);
  EXPECT_NEAR(log_pi[2], std::log(0.2), 1e-12);
  EXPECT_TRUE(LogSoftmax({}).empty());
}

TEST(CandidatePolicy, SamplingIsSeededAndFollowsPi) {
  const std::vector<double> log_pi = LogSoftmax(std::vector<double>{0.0, std::log(3.0), -60.0});
  std::mt19937_64 rng(7);
  std::vector<int> counts(3, 0);
  std::vector<int> first;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; i++) {
    const int c = SampleCandidate(log_pi, rng);
    ASSERT_GE(c, 0);
    counts[static_cast<size_t>(c)]++;
    if (i < 50) first.push_back(c);
  }
  EXPECT_NEAR(counts[0] / double{kDraws}, 0.25, 0.015);
  EXPECT_EQ(counts[2], 0);
  std::mt19937_64 again(7);
  for (int c : first) EXPECT_EQ(SampleCandidate(log_pi, again), c);

  EXPECT_EQ(GreedyCandidate(std::vector<double>{-2.0, -0.5, -0.5}), 1);
  EXPECT_EQ(GreedyCandidate({}), -1);
  EXPECT_EQ(SampleCandidate({}, rng), -1);
}

TEST(CandidatePolicy, UntrainedModelIsNearUniformOverCandidatesOfDifferentLengths) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 3);  // the N(0, 0.02) init: near-uniform next tokens
  const std::vector<int> prompt = RandomTokens(3, c.vocab_size, 1);
  const std::vector<std::vector<int>> candidates = {RandomTokens(1, c.vocab_size, 2), RandomTokens(4, c.vocab_size, 3),
                                                    RandomTokens(12, c.vocab_size, 4)};
  auto scores = ScoreCandidates(*model, prompt, candidates);
  ASSERT_TRUE(scores.ok());
  // Summed log-probs alone would put nearly all the mass on the one-token command.
  EXPECT_GT((*scores)[0], (*scores)[2] + 25.0);
  auto z = CandidateLogits(*scores, Lengths(candidates), 1.0);
  ASSERT_TRUE(z.ok());
  for (double p : Exp(LogSoftmax(*z))) EXPECT_NEAR(p, 1.0 / 3.0, 0.05);
}

TEST(CandidatePolicy, TreeSharesThePromptAndGivesEachCandidateABranch) {
  const std::vector<int> prompt = {1, 2, 3};
  const std::vector<std::vector<int>> candidates = {{4}, {5, 6, 7}};
  auto tree = BuildCandidateTree(prompt, candidates);
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  EXPECT_EQ(tree->prefix, 2);
  EXPECT_EQ(tree->tokens, (std::vector<int>{1, 2, /**/ 3, /**/ 3, 5, 6}));
  EXPECT_EQ(tree->targets, (std::vector<int>{2, 3, /**/ 4, /**/ 5, 6, 7}));
  EXPECT_EQ(tree->first, (std::vector<int>{0, 0, /**/ 2, /**/ 3, 3, 3}));
  EXPECT_EQ(tree->start, (std::vector<int>{2, 3}));

  EXPECT_FALSE(BuildCandidateTree({}, candidates).ok());
  EXPECT_FALSE(BuildCandidateTree(prompt, {}).ok());
  const std::vector<std::vector<int>> with_empty = {{4}, {}};
  EXPECT_NE(BuildCandidateTree(prompt, with_empty).status().message().find("candidate 1"), std::string::npos);
}

// The tree's branches score the candidates exactly as ScoreCandidates' KV cache does, whether
// they share one tree or are split over several.
TEST(CandidatePolicy, CandidateForwardGivesTheLogPolicyOfScoreCandidates) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 41, 0.3f);
  const std::vector<int> prompt = RandomTokens(6, c.vocab_size, 42);
  const std::vector<std::vector<int>> candidates = {RandomTokens(2, c.vocab_size, 43), RandomTokens(1, c.vocab_size, 44),
                                                    RandomTokens(4, c.vocab_size, 45), RandomTokens(3, c.vocab_size, 46)};
  auto expected = CandidateLogPolicy(*model, prompt, candidates, 0.7);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  for (const int max_tree_tokens : {Model::kMaxTreeTokens, 9}) {  // 9: one or two candidates a tree
    SCOPED_TRACE(::testing::Message() << "max_tree_tokens " << max_tree_tokens);
    auto forward = CandidateForward::Run(*model, prompt, candidates, 0.7, {.max_tree_tokens = max_tree_tokens});
    ASSERT_TRUE(forward.ok()) << forward.status().ToString();
    ASSERT_EQ(forward->log_pi().size(), candidates.size());
    for (size_t j = 0; j < candidates.size(); j++) EXPECT_NEAR(forward->log_pi()[j], (*expected)[j], 1e-4);
  }
  EXPECT_NE(CandidateForward::Run(*model, prompt, candidates, 0.7, {.max_tree_tokens = 8})
                .status()
                .message()
                .find("candidate 2"),
            std::string::npos)
      << "5 shared tokens + 4 do not fit 8";
  EXPECT_FALSE(CandidateForward::Run(*model, {}, candidates, 0.7).ok());
  auto forward = CandidateForward::Run(*model, prompt, candidates, 0.7);
  ASSERT_TRUE(forward.ok());
  EXPECT_NE(forward->Backward(std::vector<double>{1.0}).message().find("1 weights for 4"), std::string::npos);
  EXPECT_NE(forward->Backward(std::vector<double>(4, 0.0), 1.0).message().find("prompt_loss"), std::string::npos);
}

TEST(CandidatePolicy, TaskMatchesMarkTheWordTokensOfACandidateThatTheTaskHas) {
  constexpr int w = Tokenizer::kFirstWord;
  const std::vector<int> task = {Tokenizer::kBos, w + 0, ' ', w + 1, '.', w + 2};
  const std::vector<std::vector<int>> candidates = {
      {w + 5, w + 1, w + 7, w + 2},  // slots 1 and 3 match
      {w + 5, ' ', '.', w + 9},      // bytes never match, though the task has them
      {w + 0, w + 0, w + 0, w + 0},  // slot 3 is past slots = 3
      {}};
  EXPECT_EQ(TaskMatches(candidates, task, 3), (std::vector<uint64_t>{0b0010, 0, 0b0111, 0}));
  EXPECT_EQ(TaskMatches(candidates, task, 4), (std::vector<uint64_t>{0b1010, 0, 0b1111, 0}));
  EXPECT_EQ(TaskMatches(candidates, {}, 4), (std::vector<uint64_t>{0, 0, 0, 0}));
  std::vector<int> long_candidate(80, w + 1);
  EXPECT_EQ(TaskMatches({&long_candidate, 1}, task, 200), (std::vector<uint64_t>{~uint64_t{0}}))
      << "at most kMaxMatchSlots bits";
}

TEST(CandidatePolicy, MatchGainsRaiseTheScoreOfMatchingCandidates) {
  CpuBackend cpu;
  ModelConfig c = TinyConfig();
  c.match_slots = 2;
  auto model = MakeModel(cpu, c, 47);  // as Model::Create leaves it
  const std::vector<int> prompt = RandomTokens(5, c.vocab_size, 48);
  const std::vector<std::vector<int>> candidates = {RandomTokens(2, c.vocab_size, 49), RandomTokens(4, c.vocab_size, 50)};
  auto plain = CandidateLogPolicy(*model, prompt, candidates, 0.5);
  ASSERT_TRUE(plain.ok());
  const std::vector<uint64_t> matches = {0b10, 0b00};
  auto untrained = CandidateLogPolicy(*model, prompt, candidates, 0.5, matches);
  ASSERT_TRUE(untrained.ok());
  EXPECT_EQ(*untrained, *plain) << "gains start at 0: no prior until trained";
  std::vector<float> params = model->DownloadParams();
  params[model->tensors().back().offset + 1] = 3.0f;
  ASSERT_TRUE(model->UploadParams(params).ok());
  EXPECT_EQ(model->MatchGains(), (std::vector<float>{0.0f, 3.0f}));
  auto gained = CandidateLogPolicy(*model, prompt, candidates, 0.5, matches);
  ASSERT_TRUE(gained.ok());
  // z_0 gains 3 / (len 2 * temperature 0.5) = 3 over z_1.
  EXPECT_NEAR(((*gained)[0] - (*gained)[1]) - ((*plain)[0] - (*plain)[1]), 3.0, 1e-9);
  EXPECT_NE(CandidateLogPolicy(*model, prompt, candidates, 0.5, std::vector<uint64_t>{1}).status().message().find(
                "1 match masks for 2 candidates"),
            std::string::npos);
  EXPECT_FALSE(CandidateForward::Run(*model, prompt, candidates, 0.5, {.matches = std::vector<uint64_t>{1, 2, 3}}).ok());
  EXPECT_NE(model->AccumulateMatchGainGrads(std::vector<float>{1.0f}).message().find("2 match slots"),
            std::string::npos);
}

TEST(CandidatePolicy, TokenWeightsRefuseWhatIsNotACandidate) {
  const std::vector<int> lengths = {1, 2};
  const std::vector<double> pi = {0.5, 0.5};
  auto w = CandidateTokenWeights(lengths, pi, 1, 2.0, 0.5);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<double>{2.0 * -0.5 / 0.5, 2.0 * 0.5 / (2 * 0.5)}));
  EXPECT_NE(CandidateTokenWeights(lengths, pi, 2, 1.0, 1.0).status().message().find("chosen 2"), std::string::npos);
  EXPECT_FALSE(CandidateTokenWeights(lengths, pi, -1, 1.0, 1.0).ok());
  EXPECT_FALSE(CandidateTokenWeights(std::vector<int>{1}, pi, 0, 1.0, 1.0).ok());
  EXPECT_FALSE(CandidateTokenWeights(lengths, pi, 0, 1.0, -1.0).ok());
}

// The check the training relies on: weights w_c on candidate c's target tokens make
// CandidateForward's backward the gradient of L = -coef * log pi(chosen), plus
// prompt_weight * the prompt's mean next-token loss, the match gains' included when the
// candidates have match masks. L is recomputed from ScoreCandidates (the
// shared-prompt path, independent of the training forward) and Model::Forward of the prompt
// alone at theta +- h in coordinates of every tensor. Tolerance as in grad_check_test.cc (fp32,
// h = 1e-2).
TEST(CandidatePolicy, TokenWeightsGiveTheGradientOfMinusCoefLogPiThroughTheModel) {
  struct Case {
    int chosen;
    double coef;
    double temperature;
    int max_tree_tokens;  // 8: the candidates in three trees, each run again for the backward
    double prompt_weight;
    bool matched;  // the candidates carry match masks
  };
  for (const Case& k : {Case{2, 1.3, 0.7, Model::kMaxTreeTokens, 0.0, false}, Case{0, -0.8, 1.5, 8, 0.0, true},
                        Case{1, 0.5, 1.0, Model::kMaxTreeTokens, 0.9, true}, Case{3, 0.7, 0.8, 8, -0.6, false}}) {
    SCOPED_TRACE(::testing::Message() << "chosen " << k.chosen << " coef " << k.coef << " temperature "
                                      << k.temperature << " max_tree_tokens " << k.max_tree_tokens
                                      << " prompt_weight " << k.prompt_weight << " matched " << k.matched);
    CpuBackend cpu;
    ModelConfig c = TinyConfig();
    c.match_slots = 3;
    auto model = MakeModel(cpu, c, 31, 0.3f);
    const std::vector<uint64_t> matches =
        k.matched ? std::vector<uint64_t>{0b001, 0b110, 0b000, 0b011} : std::vector<uint64_t>{};
    const std::vector<int> prompt = RandomTokens(5, c.vocab_size, 32);
    const std::vector<std::vector<int>> candidates = {RandomTokens(1, c.vocab_size, 33),
                                                      RandomTokens(3, c.vocab_size, 34),
                                                      RandomTokens(2, c.vocab_size, 35),
                                                      RandomTokens(4, c.vocab_size, 36)};
    const std::vector<int> lengths = Lengths(candidates);
    std::vector<float> params = model->DownloadParams();
    const TensorInfo& gains = model->tensors().back();
    ASSERT_EQ(gains.name, "match_gain");
    for (size_t i = 0; i < gains.size; i++) params[gains.offset + i] = 0.5f - 0.4f * static_cast<float>(i);
    ASSERT_TRUE(model->UploadParams(params).ok());
    auto log_pi = [&] {
      auto l = CandidateLogPolicy(*model, prompt, candidates, k.temperature, matches);
      EXPECT_TRUE(l.ok()) << l.status().ToString();
      return l.ok() ? *l : std::vector<double>(candidates.size(), 0.0);
    };
    auto prompt_loss = [&] {
      const std::vector<int> inputs(prompt.begin(), prompt.end() - 1), targets(prompt.begin() + 1, prompt.end());
      const std::vector<float> mean(inputs.size(), 1.0f / static_cast<float>(inputs.size()));
      auto l = model->Forward(inputs, targets, mean, 1, static_cast<int>(inputs.size()));
      EXPECT_TRUE(l.ok());
      return l.ok() ? static_cast<double>(*l) : 0.0;
    };
    auto loss = [&] {
      EXPECT_TRUE(model->UploadParams(params).ok());
      return -k.coef * log_pi()[static_cast<size_t>(k.chosen)] + k.prompt_weight * prompt_loss();
    };

    const std::vector<double> pi = Exp(log_pi());
    auto w = CandidateTokenWeights(lengths, pi, k.chosen, k.coef, k.temperature);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto forward = CandidateForward::Run(*model, prompt, candidates, k.temperature,
                                         {.max_tree_tokens = k.max_tree_tokens, .prompt_loss = true, .matches = matches});
    ASSERT_TRUE(forward.ok()) << forward.status().ToString();
    model->ZeroGrad();
    ASSERT_TRUE(forward->Backward(*w, k.prompt_weight).ok());
    const std::vector<float> grads = model->DownloadGrads();
    EXPECT_NEAR(forward->prompt_loss(), prompt_loss(), 1e-5);  // after the backward: this runs a forward

    constexpr float kStep = 1e-2f;
    int bad = 0;
    double max_abs = 0.0;
    for (const TensorInfo& t : model->tensors()) {
      for (size_t j = 0; j < 4; j++) {
        const size_t i = t.offset + (j * 7919 + 13) % t.size;
        const float saved = params[i];
        params[i] = saved + kStep;
        const double up = loss();
        params[i] = saved - kStep;
        const double down = loss();
        params[i] = saved;
        const double numeric = (up - down) / (2.0 * static_cast<double>(kStep));
        max_abs = std::max(max_abs, std::abs(numeric));
        if (std::abs(grads[i] - numeric) > 2e-3 + 1e-2 * std::abs(numeric) && bad++ < 5) {
          ADD_FAILURE() << t.name << "[" << i - t.offset << "]: analytic " << grads[i] << " numeric " << numeric;
        }
      }
    }
    EXPECT_EQ(bad, 0);
    EXPECT_GT(max_abs, 0.05) << "gradient too small to test anything";
  }
}

}  // namespace
}  // namespace rock::policy
