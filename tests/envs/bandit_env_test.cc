// The bandit env: its task parsing, rewards per arm, the seeded order of the arms, and the end.
#include "envs/bandit/bandit_env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace rock::envs {
namespace {

using nlohmann::json;

const json kTask = {{"arms", {"red", "green", "blue"}}, {"rewards", {0.0, 1.0, -0.5}}, {"steps", 3}};

std::vector<std::string> Arms(const json& info) { return info.at("admissible_commands").get<std::vector<std::string>>(); }

TEST(BanditEnv, EachArmPaysItsRewardAndTheLastPullEnds) {
  BanditEnv env;
  auto reset = env.Reset(kTask, 1);
  ASSERT_TRUE(reset.ok()) << reset.status().ToString();
  std::vector<std::string> arms = Arms(reset->info);
  std::sort(arms.begin(), arms.end());
  EXPECT_EQ(arms, (std::vector<std::string>{"blue", "green", "red"}));
  auto green = env.Step("green");
  ASSERT_TRUE(green.ok());
  EXPECT_EQ(green->reward, 1.0);
  EXPECT_FALSE(green->terminated);
  EXPECT_EQ(green->observation, "You pulled green. Pull one arm.");
  auto none = env.Step("purple");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->reward, 0.0);
  EXPECT_NE(none->observation.find("no arm called \"purple\""), std::string::npos);
  auto blue = env.Step("blue");
  ASSERT_TRUE(blue.ok());
  EXPECT_EQ(blue->reward, -0.5);
  EXPECT_TRUE(blue->terminated);
  auto after = env.Step("red");
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), Code::kFailedPrecondition);
}

TEST(BanditEnv, TheSeedShufflesTheOrderAndOnlyTheOrder) {
  json task = {{"arms", json::array()}, {"rewards", json::array()}};
  for (int i = 0; i < 8; i++) {
    task["arms"].push_back("arm" + std::to_string(i));
    task["rewards"].push_back(i);
  }
  std::set<std::vector<std::string>> orders;
  for (uint64_t seed = 0; seed < 10; seed++) {
    BanditEnv a, b;
    auto ra = a.Reset(task, seed), rb = b.Reset(task, seed);
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_EQ(Arms(ra->info), Arms(rb->info));  // deterministic given the seed
    orders.insert(Arms(ra->info));
  }
  EXPECT_GT(orders.size(), 5u);
}

TEST(BanditEnv, StepBeforeResetFails) {
  BanditEnv env;
  auto step = env.Step("red");
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.status().code(), Code::kFailedPrecondition);
}

TEST(BanditEnv, MalformedTasksNameTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array(), "task"},
      {json::object(), "task.arms"},
      {{{"arms", json::array()}, {"rewards", json::array()}}, "task.arms"},
      {{{"arms", {"a", "a"}}, {"rewards", {1, 2}}}, "task.arms"},
      {{{"arms", {"a", ""}}, {"rewards", {1, 2}}}, "task.arms"},
      {{{"arms", {"a", "b\n"}}, {"rewards", {1, 2}}}, "task.arms"},
      {{{"arms", {"a", 3}}, {"rewards", {1, 2}}}, "task.arms"},
      {{{"arms", {std::string(65, 'x')}}, {"rewards", {1}}}, "task.arms"},
      {{{"arms", {"a", "b"}}}, "task.rewards"},
      {{{"arms", {"a", "b"}}, {"rewards", {1}}}, "task.rewards"},
      {{{"arms", {"a", "b"}}, {"rewards", {1, "2"}}}, "task.rewards"},
      {{{"arms", {"a"}}, {"rewards", {1}}, {"steps", 0}}, "task.steps"},
      {{{"arms", {"a"}}, {"rewards", {1}}, {"steps", 1001}}, "task.steps"},
      {{{"arms", {"a"}}, {"rewards", {1}}, {"steps", 2.5}}, "task.steps"},
      {{{"arms", {"a"}}, {"rewards", {1}}, {"pulls", 2}}, "task.pulls"},
  };
  for (const auto& [task, field] : cases) {
    BanditEnv env;
    auto r = env.Reset(task, 0);
    ASSERT_FALSE(r.ok()) << task.dump();
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << task.dump();
    EXPECT_EQ(r.status().message().rfind(field, 0), 0u) << task.dump() << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace rock::envs
