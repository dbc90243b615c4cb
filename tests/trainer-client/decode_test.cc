// Incremental decoding, continuous batching, sampling, candidate scoring and the prefix-tree
// forward, each against the training forward or against decoding alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "tests/trainer-client/policy_test_util.h"
#include "trainer-client/policy/cpu_ops.h"
#include "trainer-client/policy/decoder.h"
#include "trainer-client/policy/candidate_policy.h"
#include "trainer-client/policy/generator.h"

namespace rock::policy {
namespace {

using testing::MakeModel;
using testing::RandomTokens;
using testing::TinyConfig;

// log-softmax of the full forward's logits (T,V) for one sequence.
std::vector<float> FullForwardLogProbs(Model& model, const std::vector<int>& tokens) {
  const int T = static_cast<int>(tokens.size());
  std::vector<float> zeros(tokens.size(), 0.0f);
  auto loss = model.Forward(tokens, tokens, zeros, 1, T);
  EXPECT_TRUE(loss.ok()) << loss.status().ToString();
  std::vector<float> logits = model.Logits();
  cpu::LogSoftmax(logits.data(), logits.data(), T, model.config().vocab_size);
  return logits;
}

TEST(Decoder, KvCacheDecodingMatchesTheFullForward) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 1, 0.3f);
  const std::vector<int> tokens = RandomTokens(12, c.vocab_size, 2);
  const std::vector<float> full = FullForwardLogProbs(*model, tokens);
  const size_t V = static_cast<size_t>(c.vocab_size);

  // One token per step, in slot 1 of 3 (slots must not leak into each other: slot 0 gets other
  // tokens at the same positions in between).
  auto dec = Decoder::Create(*model, 3, c.max_seq);
  ASSERT_TRUE(dec.ok());
  const std::vector<int> other = RandomTokens(tokens.size(), c.vocab_size, 3);
  for (size_t t = 0; t < tokens.size(); t++) {
    const std::vector<DecodeEntry> entries = {{0, static_cast<int>(t), other[t]},
                                              {1, static_cast<int>(t), tokens[t]}};
    auto logp = (*dec)->Step(entries);
    ASSERT_TRUE(logp.ok()) << logp.status().ToString();
    for (size_t i = 0; i < V; i++) ASSERT_NEAR((*logp)[V + i], full[t * V + i], 1e-4) << "t=" << t;
  }
  // The same sequence as one prefill call in slot 2.
  std::vector<DecodeEntry> prefill;
  for (size_t t = 0; t < tokens.size(); t++) prefill.push_back({2, static_cast<int>(t), tokens[t]});
  auto logp = (*dec)->Step(prefill);
  ASSERT_TRUE(logp.ok());
  for (size_t i = 0; i < full.size(); i++) ASSERT_NEAR((*logp)[i], full[i], 1e-4) << i;
  // Asking for the log-probs after every third token only: those rows, in entry order.
  for (size_t t = 0; t < prefill.size(); t++) prefill[t].logits = t % 3 == 1;
  auto some = (*dec)->Step(prefill);
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), tokens.size() / 3 * V);
  for (size_t r = 0; r < tokens.size() / 3; r++) {
    for (size_t i = 0; i < V; i++) ASSERT_NEAR((*some)[r * V + i], full[(3 * r + 1) * V + i], 1e-4) << r;
  }
  for (DecodeEntry& e : prefill) e.logits = false;
  auto none = (*dec)->Step(prefill);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Decoder, RefusesEntriesOutsideTheCache) {
  CpuBackend cpu;
  auto model = MakeModel(cpu, TinyConfig(), 1);
  auto dec = Decoder::Create(*model, 2, 8);
  ASSERT_TRUE(dec.ok());
  const std::vector<DecodeEntry> bad_slot = {{2, 0, 1}};
  EXPECT_EQ((*dec)->Step(bad_slot).status().code(), Code::kInvalidArgument);
  const std::vector<DecodeEntry> bad_pos = {{0, 8, 1}};
  EXPECT_NE((*dec)->Step(bad_pos).status().message().find("pos 8"), std::string::npos);
  EXPECT_FALSE(Decoder::Create(*model, 2, 17).ok());  // beyond the model's max_seq
}

TEST(Decoder, CopiedPrefixContinuesLikeTheFullForward) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 2, 0.3f);
  const std::vector<int> tokens = RandomTokens(10, c.vocab_size, 4);
  const std::vector<float> full = FullForwardLogProbs(*model, tokens);
  const size_t V = static_cast<size_t>(c.vocab_size);
  auto dec = Decoder::Create(*model, 3, c.max_seq);
  ASSERT_TRUE(dec.ok());
  // Slot 2 holds other tokens first, so a copy that missed a layer or the V cache would show.
  std::vector<DecodeEntry> entries;
  for (int t = 0; t < 10; t++) entries.push_back({2, t, (t * 7 + 3) % c.vocab_size});
  ASSERT_TRUE((*dec)->Step(entries).ok());
  entries.clear();
  for (int t = 0; t < 6; t++) entries.push_back({0, t, tokens[static_cast<size_t>(t)]});
  ASSERT_TRUE((*dec)->Step(entries).ok());
  ASSERT_TRUE((*dec)->CopyPrefix(0, 2, 6).ok());
  entries.clear();
  for (int t = 6; t < 10; t++) entries.push_back({2, t, tokens[static_cast<size_t>(t)]});
  auto logp = (*dec)->Step(entries);
  ASSERT_TRUE(logp.ok()) << logp.status().ToString();
  for (size_t i = 0; i < logp->size(); i++) ASSERT_NEAR((*logp)[i], full[6 * V + i], 1e-4) << i;

  EXPECT_EQ((*dec)->CopyPrefix(0, 0, 6).code(), Code::kInvalidArgument);
  EXPECT_EQ((*dec)->CopyPrefix(0, 3, 6).code(), Code::kInvalidArgument);
  EXPECT_NE((*dec)->CopyPrefix(0, 1, c.max_seq + 1).message().find("positions"), std::string::npos);
}

struct Job {
  std::vector<int> prompt;
  int max_new;
};

std::vector<Job> Jobs(const ModelConfig& c) {
  return {{RandomTokens(3, c.vocab_size, 10), 5}, {RandomTokens(7, c.vocab_size, 11), 2},
          {RandomTokens(1, c.vocab_size, 12), 8}, {RandomTokens(5, c.vocab_size, 13), 4},
          {RandomTokens(2, c.vocab_size, 14), 6}};
}

TEST(Generator, ContinuousBatchingMatchesDecodingEachAlone) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 4, 0.3f);
  const std::vector<Job> jobs = Jobs(c);
  SamplingParams greedy{.temperature = 0.0f};

  std::vector<Completion> alone;
  for (const Job& job : jobs) {
    auto gen = Generator::Create(*model, 1, 0);
    ASSERT_TRUE(gen.ok());
    greedy.max_new_tokens = job.max_new;
    ASSERT_TRUE((*gen)->Submit(job.prompt, greedy).ok());
    auto done = (*gen)->RunToCompletion();
    ASSERT_TRUE(done.ok());
    ASSERT_EQ(done->size(), 1u);
    alone.push_back((*done)[0]);
  }

  auto gen = Generator::Create(*model, 2, 0);
  ASSERT_TRUE(gen.ok());
  std::map<uint64_t, size_t> job_of;
  for (size_t j = 0; j < jobs.size(); j++) {
    greedy.max_new_tokens = jobs[j].max_new;
    auto id = (*gen)->Submit(jobs[j].prompt, greedy);
    ASSERT_TRUE(id.ok());
    job_of[*id] = j;
  }
  auto done = (*gen)->RunToCompletion();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done->size(), jobs.size());
  std::map<int, int64_t> slot_free_since;  // slot -> the step after its last completion
  for (const Completion& got : *done) {
    const Completion& want = alone[job_of.at(got.id)];
    EXPECT_EQ(got.tokens, want.tokens) << "job " << job_of.at(got.id);
    ASSERT_EQ(got.logprobs.size(), want.logprobs.size());
    for (size_t i = 0; i < got.logprobs.size(); i++) EXPECT_NEAR(got.logprobs[i], want.logprobs[i], 1e-5);
    EXPECT_EQ(static_cast<int>(got.tokens.size()), jobs[job_of.at(got.id)].max_new);
    // Queue work never waits for a free slot: a slot's next sequence starts on the next step.
    if (auto it = slot_free_since.find(got.slot); it != slot_free_since.end()) {
      EXPECT_EQ(got.first_step, it->second) << "slot " << got.slot << " idled";
    }
    slot_free_since[got.slot] = got.last_step + 1;
  }
  // 5 jobs in 2 slots: the two slots were both reused.
  EXPECT_EQ(slot_free_since.size(), 2u);
  // One after another the jobs take 25 steps (one per generated token); two slots take fewer.
  EXPECT_LT((*gen)->steps(), 25);
}

TEST(Generator, FinishedSlotIsReusedForTheQueuedPromptAtOnce) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 5, 0.3f);
  auto gen = Generator::Create(*model, 1, 0);
  ASSERT_TRUE(gen.ok());
  const SamplingParams p{.temperature = 0.0f, .max_new_tokens = 3};
  ASSERT_TRUE((*gen)->Submit({1, 2, 3}, p).ok());
  ASSERT_TRUE((*gen)->Submit({4, 5}, p).ok());
  auto first = (*gen)->Step();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->empty());
  ASSERT_TRUE((*gen)->Step().ok());
  auto third = (*gen)->Step();
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->size(), 1u);
  EXPECT_EQ((*third)[0].last_step, 3);
  auto rest = (*gen)->RunToCompletion();
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].slot, 0);
  EXPECT_EQ((*rest)[0].first_step, 4);
  EXPECT_EQ((*gen)->steps(), 6);
  EXPECT_TRUE((*gen)->idle());
}

TEST(Generator, StopTokenEndsASequenceAndMaxSeqBoundsIt) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 6, 0.3f);
  auto gen = Generator::Create(*model, 1, 0);
  ASSERT_TRUE(gen.ok());
  // Greedy decoding of this prompt; then make its third token the stop token.
  ASSERT_TRUE((*gen)->Submit({1, 2}, {.temperature = 0.0f, .max_new_tokens = 5}).ok());
  auto free_run = (*gen)->RunToCompletion();
  ASSERT_TRUE(free_run.ok());
  const int stop = (*free_run)[0].tokens[2];
  ASSERT_TRUE((*gen)->Submit({1, 2}, {.temperature = 0.0f, .max_new_tokens = 5, .stop_token = stop}).ok());
  auto stopped = (*gen)->RunToCompletion();
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE((*stopped)[0].stopped);
  EXPECT_EQ((*stopped)[0].tokens.back(), stop);
  EXPECT_LE((*stopped)[0].tokens.size(), 3u);
  // A prompt of 14 in a 16-position cache yields at most 3 tokens (positions 14, 15 and one
  // sampled after the last cached position).
  ASSERT_TRUE((*gen)->Submit(RandomTokens(14, c.vocab_size, 7), {.temperature = 0.0f, .max_new_tokens = 50}).ok());
  auto bounded = (*gen)->RunToCompletion();
  ASSERT_TRUE(bounded.ok());
  EXPECT_EQ((*bounded)[0].tokens.size(), 3u);
  EXPECT_FALSE((*gen)->Submit({}, {}).ok());
}

TEST(Generator, SamplingIsSeededAndTopPNarrowsToTheMostLikelyToken) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 8, 0.3f);
  auto run = [&](uint64_t seed, SamplingParams p) {
    auto gen = Generator::Create(*model, 2, seed);
    EXPECT_TRUE(gen.ok());
    EXPECT_TRUE((*gen)->Submit({3, 1, 4}, p).ok());
    auto done = (*gen)->RunToCompletion();
    EXPECT_TRUE(done.ok());
    return (*done)[0];
  };
  const SamplingParams hot{.temperature = 1.5f, .top_p = 1.0f, .max_new_tokens = 12};
  EXPECT_EQ(run(42, hot).tokens, run(42, hot).tokens);
  EXPECT_NE(run(42, hot).tokens, run(43, hot).tokens);
  // top_p tiny keeps only the argmax: the same as greedy, whatever the seed and temperature.
  const Completion greedy = run(1, {.temperature = 0.0f, .max_new_tokens = 12});
  const Completion nucleus = run(99, {.temperature = 1.5f, .top_p = 1e-6f, .max_new_tokens = 12});
  EXPECT_EQ(nucleus.tokens, greedy.tokens);
  // Reported log-probs are the model's own (temperature 1), so both agree too.
  for (size_t i = 0; i < greedy.logprobs.size(); i++) EXPECT_FLOAT_EQ(nucleus.logprobs[i], greedy.logprobs[i]);
}

// The reference: -sum of Model::Forward's per-position losses over the candidate's tokens of the
// row prompt + candidate, each row its own forward, nothing shared.
double FullForwardScore(Model& model, const std::vector<int>& prompt, const std::vector<int>& cand) {
  std::vector<int> seq = prompt;
  seq.insert(seq.end(), cand.begin(), cand.end());
  const std::vector<int> inputs(seq.begin(), seq.end() - 1);
  const std::vector<int> targets(seq.begin() + 1, seq.end());
  const std::vector<float> zeros(inputs.size(), 0.0f);
  auto loss = model.Forward(inputs, targets, zeros, 1, static_cast<int>(inputs.size()));
  EXPECT_TRUE(loss.ok()) << loss.status().ToString();
  const std::vector<float> losses = model.Losses();
  double score = 0.0;
  for (size_t i = 0; i < cand.size(); i++) score -= losses[prompt.size() - 1 + i];
  return score;
}

TEST(ScoreCandidates, SharedPromptEqualsTheFullForwardOfEachCandidate) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 9, 0.3f);
  const std::vector<int> prompt = RandomTokens(7, c.vocab_size, 10);
  // 70 candidates (more than ScoreCandidates' 64 slots, so slots are reused after the copy) of
  // lengths 1..9 (prompt + 9 fills max_seq), single-token ones among them.
  std::vector<std::vector<int>> candidates;
  for (int i = 0; i < 70; i++) candidates.push_back(RandomTokens(1 + i % 9, c.vocab_size, 100 + i));
  auto scores = ScoreCandidates(*model, prompt, candidates);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  ASSERT_EQ(scores->size(), candidates.size());
  for (size_t j = 0; j < candidates.size(); j++) {
    const double want = FullForwardScore(*model, prompt, candidates[j]);
    EXPECT_NEAR((*scores)[j], want, 1e-4 * std::max(1.0, std::abs(want))) << "candidate " << j;
  }

  auto none = ScoreCandidates(*model, prompt, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  const std::vector<std::vector<int>> with_empty = {{}, candidates[0]};
  auto empty_scores = ScoreCandidates(*model, prompt, with_empty);
  ASSERT_TRUE(empty_scores.ok());
  EXPECT_EQ((*empty_scores)[0], 0.0);
  EXPECT_DOUBLE_EQ((*empty_scores)[1], (*scores)[0]);
  EXPECT_FALSE(ScoreCandidates(*model, {}, candidates).ok());
  const std::vector<std::vector<int>> too_long = {RandomTokens(10, c.vocab_size, 1)};
  EXPECT_EQ(ScoreCandidates(*model, prompt, too_long).status().code(), Code::kInvalidArgument);
  // A last token is never decoded, only looked up, so it is checked before anything runs.
  const std::vector<std::vector<int>> bad_token = {{1, c.vocab_size}};
  EXPECT_NE(ScoreCandidates(*model, prompt, bad_token).status().message().find("candidate 0"), std::string::npos);
}

// A tree of 6 candidates after one prompt (BuildCandidateTree's layout): each branch's losses
// are the row prompt + candidate's, so the shared prompt and the branches before it change
// nothing, and the weighted loss is what those losses say.
TEST(ForwardTree, EachBranchLosesWhatItsRowLosesAlone) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 19, 0.3f);
  const std::vector<int> prompt = RandomTokens(7, c.vocab_size, 20);
  std::vector<std::vector<int>> candidates;
  for (int i = 0; i < 6; i++) candidates.push_back(RandomTokens(1 + (i * 5) % 9, c.vocab_size, 200 + i));
  auto tree = BuildCandidateTree(prompt, candidates);
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  ASSERT_GT(tree->tokens.size(), static_cast<size_t>(c.max_seq)) << "a tree may be longer than max_seq";
  std::vector<float> weights(tree->tokens.size(), 0.0f);
  for (size_t t = static_cast<size_t>(tree->prefix); t < weights.size(); t++) weights[t] = 0.1f * static_cast<float>(t % 5);
  auto loss = model->ForwardTree(tree->tokens, tree->targets, weights, tree->prefix, tree->first);
  ASSERT_TRUE(loss.ok()) << loss.status().ToString();
  const std::vector<float> losses = model->Losses();
  double weighted = 0.0;
  for (size_t t = 0; t < losses.size(); t++) weighted += weights[t] * losses[t];
  EXPECT_NEAR(*loss, weighted, 1e-4);
  for (int t = 0; t < tree->prefix; t++) EXPECT_EQ(losses[static_cast<size_t>(t)], 0.0f) << "shared rows skip the head";
  weights[0] = 1.0f;
  EXPECT_NE(model->SetLossWeights(weights).message().find("shared token 0"), std::string::npos);
  EXPECT_NE(model->ForwardTree(tree->tokens, tree->targets, weights, tree->prefix, tree->first)
                .status()
                .message()
                .find("shared token 0"),
            std::string::npos);
  for (size_t j = 0; j < candidates.size(); j++) {
    double score = 0.0;
    for (size_t i = 0; i < candidates[j].size(); i++) score -= losses[static_cast<size_t>(tree->start[j]) + i];
    const double want = FullForwardScore(*model, prompt, candidates[j]);
    EXPECT_NEAR(score, want, 1e-4 * std::max(1.0, std::abs(want))) << "candidate " << j;
  }
}

TEST(ForwardTree, RefusesWhatIsNotATree) {
  CpuBackend cpu;
  const ModelConfig c = TinyConfig();
  auto model = MakeModel(cpu, c, 19, 0.3f);
  const std::vector<int> tokens = {1, 2, 3, 4, 5};
  const std::vector<float> w(5, 0.0f);
  auto message = [&](std::vector<int> first, int prefix, std::span<const int> toks = {}) {
    if (toks.empty()) toks = tokens;
    auto loss = model->ForwardTree(toks, toks, std::vector<float>(toks.size(), 0.0f), prefix, first);
    EXPECT_FALSE(loss.ok());
    return loss.ok() ? std::string() : loss.status().message();
  };
  ASSERT_TRUE(model->ForwardTree(tokens, tokens, w, 2, std::vector<int>{0, 0, 2, 3, 3}).ok());
  EXPECT_NE(message({0, 0, 2, 3}, 2).find("4 branch starts for 5 tokens"), std::string::npos);
  EXPECT_NE(message({0, 0, 2, 3, 3}, 6).find("prefix 6"), std::string::npos);
  EXPECT_NE(message({0, 1, 2, 3, 3}, 2).find("token 1"), std::string::npos) << "a shared token has 0";
  EXPECT_NE(message({0, 0, 1, 3, 3}, 2).find("token 2"), std::string::npos) << "a branch starts past the prefix";
  EXPECT_NE(message({0, 0, 2, 2, 3}, 2).find("token 4"), std::string::npos) << "a branch starts at its own token";
  EXPECT_NE(message({0, 0, 2, 3, 2}, 2).find("token 4"), std::string::npos) << "a branch is one run";
  const std::vector<int> long_branch(c.max_seq + 1, 1);
  std::vector<int> first(long_branch.size(), 0);
  EXPECT_NE(message(first, static_cast<int>(first.size()), long_branch).find("past max_seq"), std::string::npos);
  EXPECT_NE(message({}, 0, std::vector<int>(Model::kMaxTreeTokens + 1, 1)).find("tokens (must be 1.."),
            std::string::npos);
  const std::vector<int> bad_token = {1, 2, 3, 4, c.vocab_size};
  EXPECT_NE(message({0, 0, 2, 3, 3}, 2, bad_token).find("outside the vocabulary"), std::string::npos);
}

}  // namespace
}  // namespace rock::policy
