// The sleepy env: its task parsing, the draws of SleepMs (computed, not slept), that a step
// really sleeps its draw, and its episodes through the episode host.
#include "envs/sleepy/sleepy_env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "envs/episode_host.h"
#include "tests/support/env_reply.h"

namespace rock::envs {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint64_t kDraws = 20'000;

SleepyTask Parse(const json& task) {
  StatusOr<SleepyTask> parsed = SleepyEnv::ParseTask(task);
  EXPECT_TRUE(parsed.ok()) << task.dump() << ": " << parsed.status().ToString();
  return parsed.ok() ? *parsed : SleepyTask{};
}

// Step k of a seed-7 episode for k < kDraws, sorted.
std::vector<double> SortedDraws(const SleepyTask& task) {
  std::vector<double> draws;
  for (uint64_t k = 0; k < kDraws; ++k) draws.push_back(SleepyEnv::SleepMs(task, 7, k, "wait"));
  std::sort(draws.begin(), draws.end());
  return draws;
}

double Quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
}

// The transcript of one episode: reset's observation, then each step's observation and info.
std::vector<std::string> Play(const json& task, uint64_t seed, const std::vector<std::string>& actions) {
  SleepyEnv env;
  std::vector<std::string> transcript;
  StatusOr<ResetResult> reset = env.Reset(task, seed);
  EXPECT_TRUE(reset.ok()) << reset.status().ToString();
  if (!reset.ok()) return transcript;
  transcript.push_back(reset->observation + " " + reset->info.dump());
  for (const std::string& action : actions) {
    StatusOr<StepResult> step = env.Step(action);
    EXPECT_TRUE(step.ok()) << step.status().ToString();
    if (!step.ok()) break;
    transcript.push_back(step->observation + " " + step->info.dump());
  }
  return transcript;
}

TEST(SleepyEnv, SameTaskSeedAndActionsGiveTheSameTranscript) {
  // Sub-millisecond sleeps keep the test fast; the draws are as random as at any scale.
  const json task = {{"steps", 5}, {"scale_ms", 0.01}, {"cap_ms", 1}};
  const std::vector<std::string> actions = {"a", "b", "c", "d", "e"};
  const std::vector<std::string> first = Play(task, 3, actions);
  ASSERT_EQ(first.size(), 6u);
  EXPECT_EQ(first, Play(task, 3, actions));
  EXPECT_NE(first, Play(task, 4, actions));
  std::vector<std::string> other_actions = actions;
  other_actions[2] = "z";
  const std::vector<std::string> changed = Play(task, 3, other_actions);
  EXPECT_EQ(changed[2], first[2]);
  EXPECT_NE(changed[3], first[3]);
  EXPECT_NE(changed[3].find("after 'z'"), std::string::npos) << changed[3];
}

TEST(SleepyEnv, DifferentSeedsDrawDifferentSleeps) {
  const SleepyTask task = Parse(json::object());
  int differ = 0;
  for (uint64_t k = 0; k < 100; ++k) {
    differ += SleepyEnv::SleepMs(task, 1, k, "wait") != SleepyEnv::SleepMs(task, 2, k, "wait");
  }
  EXPECT_EQ(differ, 100);
  // And the steps of one seed are not one value repeated.
  EXPECT_NE(SleepyEnv::SleepMs(task, 1, 0, "wait"), SleepyEnv::SleepMs(task, 1, 1, "wait"));
}

// Episodes of one task and seed (a group) take different times when their actions differ.
TEST(SleepyEnv, DifferentActionsDrawDifferentSleeps) {
  const SleepyTask task = Parse(json::object());
  int differ = 0;
  for (uint64_t k = 0; k < 100; ++k) {
    differ += SleepyEnv::SleepMs(task, 1, k, "a" + std::to_string(k)) != SleepyEnv::SleepMs(task, 1, k, "b");
  }
  EXPECT_EQ(differ, 100);
}

TEST(SleepyEnv, ParetoDrawsAreHeavyTailedAboveTheirMinimum) {
  const std::vector<double> draws = SortedDraws(Parse({{"distribution", "pareto"}, {"scale_ms", 1}, {"shape", 1.5}}));
  EXPECT_GE(draws.front(), 1.0);
  const double median = Quantile(draws, 0.5);
  EXPECT_NEAR(median, std::pow(2.0, 1 / 1.5), 0.05 * std::pow(2.0, 1 / 1.5));
  EXPECT_GT(Quantile(draws, 0.99) / median, 10.0);  // about 13.6 for alpha 1.5
  EXPECT_LE(draws.back(), 1000.0);                 // the default cap
}

TEST(SleepyEnv, NoDrawExceedsTheCap) {
  // About 3% of pareto(1, 1.5) draws are above 10.
  const std::vector<double> draws = SortedDraws(Parse({{"cap_ms", 10}}));
  EXPECT_EQ(draws.back(), 10.0);
  const auto capped = std::count(draws.begin(), draws.end(), 10.0);
  EXPECT_GT(capped, 400);
  EXPECT_LT(capped, 900);
  EXPECT_EQ(SleepyEnv::SleepMs(Parse({{"cap_ms", 0}}), 1, 0, "wait"), 0.0);
}

TEST(SleepyEnv, LognormalDrawsHaveTheirMedianAndSigma) {
  const std::vector<double> draws = SortedDraws(Parse({{"distribution", "lognormal"}, {"scale_ms", 5}, {"shape", 0.5}}));
  EXPECT_NEAR(Quantile(draws, 0.5), 5.0, 0.05 * 5.0);
  double sum = 0, sum_sq = 0;
  for (double d : draws) {
    const double log_d = std::log(d);
    sum += log_d;
    sum_sq += log_d * log_d;
  }
  const double mean = sum / kDraws;
  EXPECT_NEAR(std::sqrt(sum_sq / kDraws - mean * mean), 0.5, 0.05 * 0.5);
}

TEST(SleepyEnv, FixedDrawsAreTheScaleExactlyUnlessCapped) {
  const SleepyTask fixed = Parse({{"distribution", "fixed"}, {"scale_ms", 2.5}, {"shape", 9}});
  for (uint64_t k = 0; k < 100; ++k) EXPECT_EQ(SleepyEnv::SleepMs(fixed, k, k, "wait"), 2.5);
  EXPECT_EQ(SleepyEnv::SleepMs(Parse({{"distribution", "fixed"}, {"scale_ms", 2.5}, {"cap_ms", 1}}), 0, 0, "wait"), 1.0);
}

TEST(SleepyEnv, AStepSleepsItsDrawAndTheLastEndsTheEpisode) {
  SleepyEnv env;
  const json task = {{"steps", 2}, {"distribution", "fixed"}, {"scale_ms", 20}};
  StatusOr<ResetResult> reset = env.Reset(task, 0);
  ASSERT_TRUE(reset.ok()) << reset.status().ToString();
  EXPECT_EQ(reset->observation, "sleepy: 2 steps, fixed sleeps");
  EXPECT_EQ(reset->info, json({{"steps", 2}}));

  const auto start = std::chrono::steady_clock::now();
  StatusOr<StepResult> first = env.Step("go north");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GE(elapsed, 19ms);
  EXPECT_EQ(first->observation, "step 1/2: slept 20.000 ms after 'go north'");
  EXPECT_EQ(first->info, json({{"step", 1}, {"slept_ms", 20.0}}));
  EXPECT_EQ(first->reward, 0.0);
  EXPECT_FALSE(first->terminated);
  EXPECT_FALSE(first->truncated);

  StatusOr<StepResult> last = env.Step("");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->reward, 1.0);
  EXPECT_TRUE(last->terminated);
  EXPECT_FALSE(last->truncated);

  StatusOr<StepResult> after = env.Step("again");
  EXPECT_EQ(after.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(after.status().message().find("reset first"), std::string::npos) << after.status().message();

  // A new episode starts over.
  ASSERT_TRUE(env.Reset(task, 0).ok());
  StatusOr<StepResult> again = env.Step("go north");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->info["step"], 1);
}

TEST(SleepyEnv, StepBeforeResetIsAFailedPrecondition) {
  SleepyEnv env;
  StatusOr<StepResult> step = env.Step("look");
  EXPECT_EQ(step.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(step.status().message().find("before reset"), std::string::npos) << step.status().message();
}

TEST(SleepyEnv, DefaultsAndShapeDefaultPerDistribution) {
  const SleepyTask pareto = Parse(json::object());
  EXPECT_EQ(pareto.steps, 10);
  EXPECT_EQ(pareto.distribution, SleepDistribution::kPareto);
  EXPECT_EQ(pareto.scale_ms, 1.0);
  EXPECT_EQ(pareto.shape, 1.5);
  EXPECT_EQ(pareto.cap_ms, 1000.0);
  EXPECT_EQ(Parse({{"distribution", "lognormal"}}).shape, 1.0);
  const SleepyTask edges = Parse({{"steps", 100000}, {"scale_ms", 60000}, {"cap_ms", 600000}, {"shape", 0.1}});
  EXPECT_EQ(edges.steps, 100000);
  EXPECT_EQ(edges.scale_ms, 60000.0);
  EXPECT_EQ(edges.cap_ms, 600000.0);
  EXPECT_EQ(edges.shape, 0.1);
}

TEST(SleepyEnv, MalformedTasksNameTheirField) {
  const std::vector<std::pair<json, std::string>> bad = {
      {json::array(), "task:"},
      {{{"speed", 1}}, "task.speed: unknown field"},
      {{{"steps", 0}}, "task.steps"},
      {{{"steps", 100001}}, "task.steps"},
      {{{"steps", -1}}, "task.steps"},
      {{{"steps", 2.5}}, "task.steps"},
      {{{"steps", "3"}}, "task.steps"},
      {{{"steps", true}}, "task.steps"},
      {{{"steps", json::parse("18446744073709551615")}}, "task.steps"},
      {{{"distribution", "uniform"}}, "task.distribution"},
      {{{"distribution", 1}}, "task.distribution"},
      {{{"scale_ms", 0}}, "task.scale_ms"},
      {{{"scale_ms", -1}}, "task.scale_ms"},
      {{{"scale_ms", 60000.5}}, "task.scale_ms"},
      {{{"scale_ms", "1"}}, "task.scale_ms"},
      {{{"shape", 0}}, "task.shape"},
      {{{"shape", -1.5}}, "task.shape"},
      {{{"shape", nullptr}}, "task.shape"},
      {{{"cap_ms", -0.001}}, "task.cap_ms"},
      {{{"cap_ms", 600001}}, "task.cap_ms"},
      {{{"cap_ms", false}}, "task.cap_ms"},
  };
  for (const auto& [task, names] : bad) {
    SleepyEnv env;
    StatusOr<ResetResult> reset = env.Reset(task, 0);
    EXPECT_EQ(reset.status().code(), Code::kInvalidArgument) << task.dump();
    EXPECT_NE(reset.status().message().find(names), std::string::npos)
        << task.dump() << ": " << reset.status().message();
  }
}

TEST(SleepyEnv, PlaysThroughTheEpisodeHost) {
  EpisodeHost host("sleepy", 2);
  auto ask = [&](const json& message) {
    json answer;
    EXPECT_TRUE(host.Handle(message, [&](const json& a) { answer = a; })) << message.dump();
    return answer;
  };
  const json task = {{"steps", 2}, {"scale_ms", 0.5}, {"cap_ms", 2}};
  json reset = ask({{"type", "reset"}, {"slot", 1}, {"task", task}, {"seed", 9}});
  ASSERT_EQ(reset["type"], "reset_result") << reset.dump();
  EXPECT_EQ(rock::test::InfoOf(reset)["steps"], 2);

  const SleepyTask parsed = Parse(task);
  json step = ask({{"type", "step"}, {"slot", 1}, {"action", "wait"}});
  ASSERT_EQ(step["type"], "step_result") << step.dump();
  EXPECT_EQ(rock::test::InfoOf(step)["slept_ms"].get<double>(), SleepyEnv::SleepMs(parsed, 9, 0, "wait"));
  EXPECT_FALSE(step["terminated"].get<bool>());
  json last = ask({{"type", "step"}, {"slot", 1}, {"action", "wait"}});
  EXPECT_EQ(rock::test::InfoOf(last)["slept_ms"].get<double>(), SleepyEnv::SleepMs(parsed, 9, 1, "wait"));
  EXPECT_TRUE(last["terminated"].get<bool>());
  EXPECT_EQ(last["reward"], 1.0);
  EXPECT_EQ(ask({{"type", "step"}, {"slot", 1}, {"action", "wait"}})["code"], "failed_precondition");

  json bad = ask({{"type", "reset"}, {"slot", 0}, {"task", {{"shape", "wide"}}}});
  EXPECT_EQ(bad["code"], "invalid_argument");
  EXPECT_NE(bad["message"].get<std::string>().find("task.shape"), std::string::npos) << bad.dump();
}

}  // namespace
}  // namespace rock::envs
