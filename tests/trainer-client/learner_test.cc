// rock-trainer's learner and prompt: an update moves log pi(chosen) the way the advantage says,
// for both ways of acting, and the prompt keeps to its budget with the newest text.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer-client/policy/adamw.h"
#include "trainer-client/policy/candidate_policy.h"
#include "trainer-client/policy/cpu_backend.h"
#include "trainer-client/policy/generator.h"
#include "trainer-client/policy/tokenizer.h"
#include "trainer-client/trainer/learner.h"
#include "trainer-client/trainer/prompt.h"

namespace rock::trainer {
namespace {

using policy::Tokenizer;

policy::ModelConfig SmallConfig() {
  policy::ModelConfig c;
  c.dim = 32;
  c.n_layers = 1;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.hidden_dim = 48;
  c.max_seq = 64;
  return c;
}

constexpr double kTemperature = 0.1;

double LogPi(const policy::Model& model, const Sample& sample) {
  auto log_pi = policy::CandidateLogPolicy(model, sample.prompt, sample.candidates, kTemperature);
  EXPECT_TRUE(log_pi.ok()) << log_pi.status().ToString();
  return log_pi.ok() ? (*log_pi)[static_cast<size_t>(sample.chosen)] : 0.0;
}

Sample CandidateSample(const policy::Model& model, int chosen, double advantage) {
  Sample s;
  Tokenizer bytes;  // SmallConfig's vocabulary has no room for words
  s.prompt = bytes.Encode("task: pull the green arm\n> ", true);
  for (const char* arm : {"red\n", "green\n", "blue\n", "yellow\n", "purple\n", "orange\n", "white\n", "black\n"}) {
    s.candidates.push_back(bytes.Encode(arm));
  }
  s.chosen = chosen;
  s.behaviour = {static_cast<float>(LogPi(model, s))};
  s.advantage = advantage;
  return s;
}

TEST(Learner, CandidateUpdateFollowsTheAdvantage) {
  for (double advantage : {1.0, -1.0}) {
    policy::CpuBackend cpu;
    auto model = policy::Model::Create(cpu, SmallConfig(), 5);
    ASSERT_TRUE(model.ok());
    policy::AdamW optimizer(**model, {.lr = 1e-2f, .min_lr = 1e-2f, .warmup_steps = 0, .weight_decay = 0.0f});
    Learner learner(**model, optimizer, {.epochs = 1, .temperature = kTemperature});
    const Sample sample = CandidateSample(**model, 1, advantage);
    const double before = LogPi(**model, sample);
    EXPECT_NEAR(before, sample.behaviour[0], 1e-5);
    for (int i = 0; i < 10; i++) {
      auto stats = learner.Update({sample});
      ASSERT_TRUE(stats.ok()) << stats.status().ToString();
      EXPECT_GT(stats->tokens, 0);
    }
    const double after = LogPi(**model, sample);
    if (advantage > 0) {
      EXPECT_GT(after, before + 0.5);
    } else {
      EXPECT_LT(after, before - 0.5);
    }
  }
}

TEST(Learner, ZeroAdvantageCostsNothingAndChangesNothing) {
  policy::CpuBackend cpu;
  auto model = policy::Model::Create(cpu, SmallConfig(), 5);
  ASSERT_TRUE(model.ok());
  policy::AdamW optimizer(**model, {.lr = 1e-2f, .warmup_steps = 0, .weight_decay = 0.0f});
  Learner learner(**model, optimizer, {.temperature = kTemperature});
  const std::vector<float> before = (*model)->DownloadParams();
  auto stats = learner.Update({CandidateSample(**model, 2, 0.0)});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->tokens, 0);
  EXPECT_EQ((*model)->DownloadParams(), before);
}

// DAgger's label: with advantage 0 the RL term is silent, and imitation alone moves the policy
// onto the expert's candidate, not the one the actor chose; without --imitation it stays put.
TEST(Learner, ImitationMovesThePolicyToTheExpertsCandidate) {
  policy::CpuBackend cpu;
  auto model = policy::Model::Create(cpu, SmallConfig(), 5);
  ASSERT_TRUE(model.ok());
  policy::AdamW optimizer(**model, {.lr = 1e-2f, .min_lr = 1e-2f, .warmup_steps = 0, .weight_decay = 0.0f});
  Learner learner(**model, optimizer, {.epochs = 1, .temperature = kTemperature, .imitation = 1.0});
  Sample sample = CandidateSample(**model, 2, 0.0);
  sample.expert = 5;
  Sample expert_view = sample;
  expert_view.chosen = sample.expert;
  const double before = LogPi(**model, expert_view);
  const double chosen_before = LogPi(**model, sample);
  double first_loss = 0;
  for (int i = 0; i < 10; i++) {
    auto stats = learner.Update({sample});
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->labelled, 1);
    if (i == 0) first_loss = stats->imitation_loss;
  }
  EXPECT_NEAR(first_loss, -before, 1e-4) << "the loss is -log pi(expert) before the update";
  EXPECT_GT(LogPi(**model, expert_view), before + 0.5);
  EXPECT_LT(LogPi(**model, sample), chosen_before) << "the actor's own choice loses mass";

  sample.expert = 8;  // past the candidates: a label that cannot be trained on is an error
  EXPECT_FALSE(learner.Update({sample}).ok());
  Sample bad_choice = sample;
  bad_choice.expert = -1;
  bad_choice.advantage = 1.0;
  bad_choice.chosen = -1;
  EXPECT_NE(learner.Update({bad_choice}).status().message().find("chosen candidate -1 of 8"), std::string::npos);

  policy::AdamW plain_optimizer(**model, {.lr = 1e-2f, .warmup_steps = 0, .weight_decay = 0.0f});
  Learner plain(**model, plain_optimizer, {.temperature = kTemperature});
  sample.expert = 5;
  const std::vector<float> params = (*model)->DownloadParams();
  auto stats = plain.Update({sample});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->tokens, 0);
  EXPECT_EQ((*model)->DownloadParams(), params);
}

// The task-match gains learn from the same loss: the slot the expert's candidate matches on
// gains, the slot only another candidate matches on loses.
TEST(Learner, MatchGainsLearnWhichMatchesMarkTheExpertsCandidate) {
  policy::CpuBackend cpu;
  policy::ModelConfig config = SmallConfig();
  config.match_slots = 2;
  auto model = policy::Model::Create(cpu, config, 5);
  ASSERT_TRUE(model.ok());
  policy::AdamW optimizer(**model, {.lr = 1e-2f, .min_lr = 1e-2f, .warmup_steps = 0, .weight_decay = 0.0f});
  Learner learner(**model, optimizer, {.epochs = 1, .temperature = kTemperature, .imitation = 1.0});
  Sample sample = CandidateSample(**model, 2, 0.0);
  sample.expert = 1;
  sample.matches.assign(sample.candidates.size(), 0);
  sample.matches[1] = 0b01;  // the expert's
  sample.matches[6] = 0b10;
  for (int i = 0; i < 10; i++) ASSERT_TRUE(learner.Update({sample}).ok());
  const std::vector<float> gains = (*model)->MatchGains();
  EXPECT_GT(gains[0], 0.05f);
  EXPECT_LT(gains[1], -0.02f);
  sample.matches.pop_back();
  EXPECT_NE(learner.Update({sample}).status().message().find("7 match masks for 8 candidates"), std::string::npos);
}

// The auxiliary language-model term: with advantage 0 and no label, lm_loss alone trains, and
// what it lowers is the prompt's own next-token loss (reported as UpdateStats::lm_loss).
TEST(Learner, LmLossTrainsThePromptsNextTokenLoss) {
  policy::CpuBackend cpu;
  auto model = policy::Model::Create(cpu, SmallConfig(), 5);
  ASSERT_TRUE(model.ok());
  policy::AdamW optimizer(**model, {.lr = 1e-2f, .min_lr = 1e-2f, .warmup_steps = 0, .weight_decay = 0.0f});
  Learner learner(**model, optimizer, {.epochs = 1, .temperature = kTemperature, .lm_loss = 1.0});
  const Sample sample = CandidateSample(**model, 2, 0.0);
  std::vector<double> losses;
  for (int i = 0; i < 10; i++) {
    auto stats = learner.Update({sample});
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_GT(stats->tokens, 0);
    losses.push_back(stats->lm_loss);
  }
  EXPECT_GT(losses.front(), 4.0) << "about log 260 for a new model";
  EXPECT_LT(losses.back(), losses.front() - 1.0);
}

TEST(Learner, GeneratedActionsFollowTheAdvantageTokenByToken) {
  policy::CpuBackend cpu;
  auto model = policy::Model::Create(cpu, SmallConfig(), 9);
  ASSERT_TRUE(model.ok());
  policy::AdamW optimizer(**model, {.lr = 1e-2f, .min_lr = 1e-2f, .warmup_steps = 0, .weight_decay = 0.0f});
  Learner learner(**model, optimizer, {});
  auto generator = policy::Generator::Create(**model, 1, 4);
  ASSERT_TRUE(generator.ok());
  Sample s;
  s.prompt = Tokenizer().Encode("say something\n> ", true);
  ASSERT_TRUE((*generator)->Submit(s.prompt, {.temperature = 1.0f, .max_new_tokens = 4}).ok());
  auto done = (*generator)->RunToCompletion();
  ASSERT_TRUE(done.ok());
  s.candidates = {(*done)[0].tokens};
  s.behaviour = (*done)[0].logprobs;
  s.generated = true;
  s.advantage = 1.0;
  const auto sum_logp = [&] {
    std::vector<int> seq = s.prompt;
    seq.insert(seq.end(), s.candidates[0].begin(), s.candidates[0].end());
    const int T = static_cast<int>(seq.size()) - 1;
    std::vector<int> tokens(seq.begin(), seq.end() - 1), targets(seq.begin() + 1, seq.end());
    EXPECT_TRUE((*model)->Forward(tokens, targets, std::vector<float>(T, 0.0f), 1, T).ok());
    const std::vector<float> losses = (*model)->Losses();
    double total = 0;
    for (size_t i = 0; i < s.candidates[0].size(); i++) total -= losses[s.prompt.size() - 1 + i];
    return total;
  };
  double behaviour_sum = 0;
  for (float l : s.behaviour) behaviour_sum += l;
  const double before = sum_logp();
  EXPECT_NEAR(before, behaviour_sum, 1e-4);
  for (int i = 0; i < 10; i++) ASSERT_TRUE(learner.Update({s}).ok());
  EXPECT_GT(sum_logp(), before + 0.5);
}

TEST(Prompt, ShowsTheTaskAndTheNewestTurnsWithinTheBudget) {
  Transcript t;
  t.task = "put a clean apple in fridge";
  t.turns = {{"", "-= Welcome =-\n\nYou are in the middle of a room."},
             {"go to fridge 1", "You arrive at fridge 1. The fridge 1 is closed."},
             {"open fridge 1", "You open the fridge 1.   It is empty."}};
  const std::string prompt = BuildPrompt(t, {.history = 1, .obs_bytes = 96, .prompt_bytes = 192});
  EXPECT_EQ(prompt,
            "task: put a clean apple in fridge\n"
            "> go to fridge 1\nYou arrive at fridge 1. The fridge 1 is closed.\n"
            "> open fridge 1\nYou open the fridge 1. It is empty.\n"
            "> ");
  // A tight budget drops the older turn first, then cuts the observation.
  const std::string tight = BuildPrompt(t, {.history = 2, .obs_bytes = 20, .prompt_bytes = 90});
  EXPECT_LE(tight.size(), 90u);
  EXPECT_EQ(tight.rfind("task: put a clean apple in fridge\n", 0), 0u);
  EXPECT_NE(tight.find("> open fridge 1\nYou open the fridge\n"), std::string::npos);
  EXPECT_EQ(tight.find("go to fridge 1"), std::string::npos);
  EXPECT_EQ(tight.find("middle of a room"), std::string::npos);
  EXPECT_EQ(tight.substr(tight.size() - 2), "> ");
  // A long current turn cuts its own observation, never the task: the policy always knows what
  // it is for.
  Transcript long_turn = t;
  long_turn.turns.push_back({"go to countertop 1",
                             "You arrive at countertop 1. On the countertop 1, you see a apple 2, a bread 1, "
                             "a butterknife 3, a cup 1, a fork 2, a knife 1, a lettuce 1, and a mug 2."});
  const std::string cut = BuildPrompt(long_turn, {.history = 1, .obs_bytes = 96, .prompt_bytes = 128});
  EXPECT_LE(cut.size(), 128u) << cut;
  EXPECT_GE(cut.size(), 120u) << "the observation takes what the task leaves: " << cut;
  EXPECT_EQ(cut.rfind("task: put a clean apple in fridge\n> go to countertop 1\nYou arrive at countertop 1. On", 0), 0u)
      << cut;
  EXPECT_EQ(cut.substr(cut.size() - 3), "\n> ");
  // Without a task text, the reset's observation leads.
  const std::string bare = BuildPrompt({.turns = {{"", "Pull one arm."}}}, {});
  EXPECT_EQ(bare, "Pull one arm.\n> ");
}

}  // namespace
}  // namespace rock::trainer
