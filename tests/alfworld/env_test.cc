// AlfworldEnv: the Env contract (reset/step, rewards, limits, determinism) and task JSON errors.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "envs/alfworld/alfworld_env.h"
#include "envs/alfworld/expert.h"
#include "envs/alfworld/generator.h"

namespace rock::alfworld {
namespace {

using nlohmann::json;

const std::string kSampleRoot = ROCK_ALFWORLD_SAMPLES_DIR;
const std::string kSampleTrial =
    kSampleRoot +
    "/json_2.1.1/train/pick_heat_then_place_in_recep-Potato-None-SinkBasin-14/"
    "trial_T20190908_231731_054988";

std::vector<std::string> Commands(const json& info) {
  return info.at("admissible_commands").get<std::vector<std::string>>();
}

TEST(AlfworldEnv, ResetGivesTheIntroAndInfo) {
  AlfworldEnv env;
  auto r = env.Reset({{"type", "pick_and_place_simple"}, {"seed", 3}}, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->observation.rfind("-= Welcome to TextWorld, ALFRED! =-\n\n", 0), 0u);
  EXPECT_EQ(r->info.at("game_id"), "generated/train/pick_and_place_simple/3");
  EXPECT_EQ(r->info.at("won"), false);
  const std::string task = r->info.at("task");
  EXPECT_NE(r->observation.find("Your task is to: " + task + "."), std::string::npos);
  std::vector<std::string> cmds = Commands(r->info);
  EXPECT_TRUE(std::is_sorted(cmds.begin(), cmds.end()));
  EXPECT_TRUE(std::count(cmds.begin(), cmds.end(), "look"));
}

TEST(AlfworldEnv, ExpertEpisodeIsRewardedOnTheWinningStepOnly) {
  for (TaskType type : kAllTaskTypes) {
    AlfworldEnv env;
    json task = {{"type", TaskTypeName(type)}, {"split", "valid_unseen"}, {"index", 2}};
    ASSERT_TRUE(env.Reset(task, 0).ok());
    auto gen = GenerateGame(type, Split::kValidUnseen, 2);
    ASSERT_TRUE(gen.ok());
    auto game = MakeGame(gen->problem, gen->id, gen->task_text);
    ASSERT_TRUE(game.ok());
    Engine shadow(*game);
    std::vector<std::string> plan = RunExpert(shadow, 50);
    ASSERT_TRUE(shadow.won());
    for (size_t i = 0; i < plan.size(); ++i) {
      auto s = env.Step(plan[i]);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      const bool last = i + 1 == plan.size();
      EXPECT_EQ(s->reward, last ? 1.0 : 0.0);
      EXPECT_EQ(s->terminated, last);
      EXPECT_FALSE(s->truncated);
      EXPECT_EQ(s->info.at("won"), last);
    }
    auto after = env.Step("look");
    ASSERT_FALSE(after.ok());
    EXPECT_EQ(after.status().code(), Code::kFailedPrecondition);
  }
}

TEST(AlfworldEnv, ProgressRewardFollowsTheExpertPlan) {
  for (TaskType type : kAllTaskTypes) {
    AlfworldEnv env;
    const json task = {{"type", TaskTypeName(type)}, {"seed", 5}, {"reward", "progress"}};
    auto reset = env.Reset(task, 0);
    ASSERT_TRUE(reset.ok()) << reset.status().ToString();
    const int plan_length = reset->info.at("expert_plan_length");
    ASSERT_GT(plan_length, 0);
    // The expert's own plan: each command shortens it by one, so the return is its length.
    auto gen = GenerateGame(type, Split::kTrain, 5);
    ASSERT_TRUE(gen.ok());
    auto game = MakeGame(gen->problem, gen->id, gen->task_text);
    ASSERT_TRUE(game.ok());
    Engine shadow(*game);
    const std::vector<std::string> plan = RunExpert(shadow, 100);
    ASSERT_EQ(static_cast<int>(plan.size()), plan_length) << TaskTypeName(type);
    double total = 0;
    for (const std::string& command : plan) {
      auto s = env.Step(command);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      EXPECT_EQ(s->reward, 1.0) << command;
      total += s->reward;
    }
    EXPECT_EQ(total, plan_length);
  }
  // A detour that changes nothing earns 0; picking up the wrong thing lengthens the plan and
  // earns 0, and so does undoing it: only getting further than before pays.
  AlfworldEnv env;
  auto reset = env.Reset({{"type", "pick_and_place_simple"}, {"seed", 5}, {"reward", "progress"}}, 0);
  ASSERT_TRUE(reset.ok());
  auto look = env.Step("look");
  ASSERT_TRUE(look.ok());
  EXPECT_EQ(look->reward, 0.0);
  EXPECT_EQ(look->info.at("expert_plan_length"), reset->info.at("expert_plan_length"));
  bool saw_detour = false;
  for (const std::string& command : Commands(look->info)) {
    if (command.rfind("go to ", 0) != 0) continue;
    auto go = env.Step(command);
    ASSERT_TRUE(go.ok());
    for (const std::string& take : Commands(go->info)) {
      if (take.rfind("take ", 0) != 0) continue;
      AlfworldEnv probe;
      ASSERT_TRUE(probe.Reset({{"type", "pick_and_place_simple"}, {"seed", 5}, {"reward", "progress"}}, 0).ok());
      ASSERT_TRUE(probe.Step("look").ok());
      ASSERT_TRUE(probe.Step(command).ok());
      auto taken = probe.Step(take);
      ASSERT_TRUE(taken.ok());
      EXPECT_GE(taken->reward, 0.0);
      if (taken->info.at("expert_plan_length") <= reset->info.at("expert_plan_length")) continue;
      saw_detour = true;
      // Putting it back where it was undoes the detour without paying for it.
      std::string put = take;
      put.replace(0, 4, "move");
      const size_t from = put.find(" from ");
      ASSERT_NE(from, std::string::npos);
      put.replace(from, 6, " to ");
      auto back = probe.Step(put);
      ASSERT_TRUE(back.ok()) << put;
      EXPECT_EQ(back->reward, 0.0) << put << ": " << back->observation;
    }
    if (saw_detour) break;
  }
  EXPECT_TRUE(saw_detour) << "no wrong pick-up found";
}

TEST(AlfworldEnv, ExpertActionOnRequestWinsWhenFollowedFromAnyState) {
  for (TaskType type : kAllTaskTypes) {
    AlfworldEnv env;
    const json task = {{"type", TaskTypeName(type)}, {"seed", 7}, {"expert", true}, {"max_steps", 200}};
    auto reset = env.Reset(task, 0);
    ASSERT_TRUE(reset.ok()) << reset.status().ToString();
    // A detour first: the label is the expert's plan from where the episode is, not a script.
    const std::vector<std::string> first = Commands(reset->info);
    auto s = env.Step(first.front());
    ASSERT_TRUE(s.ok());
    int steps = 1;
    while (!s->terminated && steps < 100) {
      ASSERT_TRUE(s->info.contains("expert_action")) << TaskTypeName(type) << " after " << steps;
      const std::string expert = s->info.at("expert_action");
      const std::vector<std::string> admissible = Commands(s->info);
      EXPECT_NE(std::find(admissible.begin(), admissible.end(), expert), admissible.end()) << expert;
      s = env.Step(expert);
      ASSERT_TRUE(s.ok());
      steps++;
    }
    EXPECT_TRUE(s->terminated) << TaskTypeName(type);
    EXPECT_FALSE(s->info.contains("expert_action")) << "the episode has ended";
  }
  AlfworldEnv plain;
  auto reset = plain.Reset({{"type", "pick_and_place_simple"}, {"seed", 7}}, 0);
  ASSERT_TRUE(reset.ok());
  EXPECT_FALSE(reset->info.contains("expert_action")) << "only on request";
}

TEST(AlfworldEnv, StartNearGoalLeavesThatManyExpertCommands) {
  for (TaskType type : kAllTaskTypes) {
    const json full_task = {{"type", TaskTypeName(type)}, {"seed", 7}, {"reward", "progress"}};
    AlfworldEnv full;
    auto from_start = full.Reset(full_task, 0);
    ASSERT_TRUE(from_start.ok()) << from_start.status().ToString();
    const int plan = from_start->info.at("expert_plan_length");
    ASSERT_GT(plan, 2) << TaskTypeName(type);
    for (int left : {1, 2, plan, plan + 5}) {
      json task = full_task;
      task["start_near_goal"] = left;
      task["expert"] = true;
      task["max_steps"] = std::min(left, plan);  // the played commands count toward no limit
      AlfworldEnv env;
      auto reset = env.Reset(task, 0);
      ASSERT_TRUE(reset.ok()) << reset.status().ToString();
      EXPECT_EQ(reset->info.at("expert_plan_length"), std::min(left, plan)) << TaskTypeName(type) << " " << left;
      EXPECT_EQ(reset->info.at("won"), false);
      if (left >= plan) {
        EXPECT_EQ(reset->observation, from_start->observation) << "a short plan starts at the start";
      } else {
        EXPECT_NE(reset->observation, from_start->observation);
      }
      double got = 0.0;
      envs::StepResult s;
      std::string expert = reset->info.at("expert_action");
      for (int step = 0; step < std::min(left, plan); step++) {
        auto next = env.Step(expert);
        ASSERT_TRUE(next.ok());
        s = std::move(*next);
        got += s.reward;
        expert = s.info.value("expert_action", "");
      }
      EXPECT_TRUE(s.terminated) << TaskTypeName(type) << " " << left << ": " << s.observation;
      EXPECT_FALSE(s.truncated);
      EXPECT_EQ(got, std::min(left, plan)) << "the return counts the commands left, not the ones played at reset";
    }
  }
}

TEST(AlfworldEnv, StepLimitCountsEveryStepAndTruncates) {
  AlfworldEnv env;
  ASSERT_TRUE(
      env.Reset({{"type", "pick_two_obj_and_place"}, {"seed", 1}, {"max_steps", 3}}, 0).ok());
  for (int i = 1; i <= 3; ++i) {
    auto s = env.Step(i == 2 ? "look" : "dance");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->truncated, i == 3);
    EXPECT_FALSE(s->terminated);
  }
  EXPECT_EQ(env.Step("look").status().code(), Code::kFailedPrecondition);

  ASSERT_TRUE(env.Reset({{"type", "pick_two_obj_and_place"}, {"seed", 1}}, 0).ok());
  for (int i = 1; i <= kDefaultMaxSteps; ++i) {
    auto s = env.Step("nothing at all");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->observation, "Nothing happens.");
    EXPECT_EQ(s->truncated, i == kDefaultMaxSteps);
  }
}

TEST(AlfworldEnv, StepBeforeResetFails) {
  AlfworldEnv env;
  EXPECT_EQ(env.Step("look").status().code(), Code::kFailedPrecondition);
}

std::string PlayRandom(const json& task, uint64_t seed, uint64_t agent_seed) {
  AlfworldEnv env;
  auto r = env.Reset(task, seed);
  EXPECT_TRUE(r.ok());
  std::string transcript = r->observation;
  json info = r->info;
  uint64_t x = agent_seed;
  for (int i = 0; i < 30; ++i) {
    std::vector<std::string> cmds = Commands(info);
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    auto s = env.Step(cmds[(x >> 33) % cmds.size()]);
    if (!s.ok()) break;
    transcript += "\n" + s->observation;
    info = s->info;
    if (s->terminated || s->truncated) break;
  }
  return transcript;
}

TEST(AlfworldEnv, SameTaskSeedAndActionsGiveTheSameTranscript) {
  json task = {{"type", "pick_cool_then_place_in_recep"}};
  EXPECT_EQ(PlayRandom(task, 9, 1), PlayRandom(task, 9, 1));
  EXPECT_NE(PlayRandom(task, 9, 1), PlayRandom(task, 10, 1)) << "the seed picks the game";
  json with_seed = {{"type", "pick_cool_then_place_in_recep"}, {"seed", 9}};
  EXPECT_EQ(PlayRandom(with_seed, 0, 1), PlayRandom(task, 9, 1));
}

TEST(AlfworldEnv, OldGrammarOnRequest) {
  AlfworldEnv env;
  auto r =
      env.Reset({{"type", "pick_and_place_simple"}, {"seed", 3}, {"alfworld_version", "0.3"}}, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> cmds = Commands(r->info);
  auto go = std::find_if(cmds.begin(), cmds.end(),
                         [](const std::string& c) { return c.rfind("go to ", 0) == 0; });
  ASSERT_NE(go, cmds.end());
  auto s = env.Step(*go);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->observation.rfind("You arrive at loc ", 0), 0u) << s->observation;
}

TEST(AlfworldEnv, PlaysARealTrialAsAGameFileAndFromAnAlfworldDataSplit) {
  AlfworldEnv env;
  auto r = env.Reset({{"gamefile", kSampleTrial}}, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->info.at("gamefile"), kSampleTrial);
  EXPECT_NE(r->observation.find("Your task is to: "), std::string::npos);
  for (const char* cmd :
       {"go to countertop 2", "take potato 2 from countertop 2", "go to microwave 1",
        "heat potato 2 with microwave 1", "go to sinkbasin 1"}) {
    auto s = env.Step(cmd);
    ASSERT_TRUE(s.ok());
    EXPECT_NE(s->observation, "Nothing happens.") << cmd;
  }
  auto win = env.Step("move potato 2 to sinkbasin 1");
  ASSERT_TRUE(win.ok());
  EXPECT_TRUE(win->terminated);
  EXPECT_EQ(win->reward, 1.0);

  // The data directory comes from the constructor or, failing that, ALFWORLD_DATA.
  ASSERT_EQ(setenv("ALFWORLD_DATA", kSampleRoot.c_str(), 1), 0);
  AlfworldEnv from_variable;
  unsetenv("ALFWORLD_DATA");
  AlfworldEnv from_constructor(kSampleRoot);
  auto split = from_variable.Reset(
      {{"type", "pick_heat_then_place_in_recep"}, {"split", "train"}, {"index", 0}}, 0);
  auto past = from_constructor.Reset(
      {{"type", "pick_heat_then_place_in_recep"}, {"split", "train"}, {"index", 1}}, 0);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_NE(split->info.at("gamefile").get<std::string>().find("trial_T20190908_231731_054988"),
            std::string::npos);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.status().message().find("task.index"), std::string::npos);

  auto missing = env.Reset({{"gamefile", "/nonexistent/game.tw-pddl"}}, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/game.tw-pddl"), std::string::npos);
}

// A game.tw-pddl as ALFWorld writes it: the sample trial's problem, the domain, and the grammar
// with UNKNOWN GOAL replaced by the task text.
TEST(AlfworldEnv, PlaysATwPddlGameFile) {
  std::ifstream problem_in(kSampleTrial + "/initial_state.pddl");
  std::stringstream problem;
  problem << problem_in.rdbuf();
  ASSERT_FALSE(problem.str().empty());
  const std::string grammar =
      "grammar :: \"\"\"\n{\n  \"task\": [\n    {\n      \"rhs\": \"Your task is to: put a hot "
      "potato in sinkbasin.\"\n    }\n  ]\n}\n\"\"\";\n";
  json file = {{"pddl_domain", "(define (domain alfred)\n (:requirements :adl)\n)\n"},
               {"grammar", grammar},
               {"pddl_problem", problem.str()},
               {"solvable", true},
               {"walkthrough", json::array()}};
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("alfworld_env_test_" + std::to_string(getpid()) + ".tw-pddl");
  std::ofstream(path) << file.dump();
  AlfworldEnv env;
  auto r = env.Reset({{"gamefile", path.string()}, {"alfworld_version", "0.3"}}, 0);
  std::filesystem::remove(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->info.at("task"), "put a hot potato in sinkbasin");
  EXPECT_TRUE(r->observation.ends_with(
      "toaster 1.\n\nYour task is to: put a hot potato in sinkbasin."))
      << r->observation;
  auto s = env.Step("go to countertop 2");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->observation.rfind("You arrive at loc ", 0), 0u) << s->observation;
}

TEST(AlfworldEnv, WithoutATypeTheSeedPicksOne) {
  std::set<std::string> tasks;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    AlfworldEnv env;
    auto r = env.Reset(json::object(), seed);
    ASSERT_TRUE(r.ok()) << r.status().message();
    AlfworldEnv same;
    auto again = same.Reset({{"type", TaskTypeName(kAllTaskTypes[seed])}, {"seed", seed}}, 0);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(r->observation, again->observation) << "seed " << seed;
    tasks.insert(r->info["task"].get<std::string>());
  }
  EXPECT_EQ(tasks.size(), 6u);
}

TEST(AlfworldEnv, MalformedTasksNameTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array(), "task"},
      {{{"split", "train"}, {"index", 0}}, "task.type"},
      {{{"type", "pick_and_place"}, {"seed", 1}}, "task.type"},
      {{{"type", 3}, {"seed", 1}}, "task.type"},
      {{{"type", "pick_and_place_simple"}, {"seed", -1}}, "task.seed"},
      {{{"type", "pick_and_place_simple"}, {"seed", "1"}}, "task.seed"},
      {{{"type", "pick_and_place_simple"}, {"split", "test"}, {"index", 0}}, "task.split"},
      {{{"type", "pick_and_place_simple"}, {"index", 0}}, "task.split"},
      {{{"type", "pick_and_place_simple"}, {"split", "train"}}, "task.index"},
      {{{"type", "pick_and_place_simple"}, {"split", "train"}, {"index", 1.5}}, "task.index"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"max_steps", 0}}, "task.max_steps"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"max_steps", "9"}}, "task.max_steps"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"alfworld_version", "new"}},
       "task.alfworld_version"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"alfworld_version", 0.3}},
       "task.alfworld_version"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"sede", 2}}, "task.sede"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"reward", "dense"}}, "task.reward"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"reward", 1}}, "task.reward"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"expert", "yes"}}, "task.expert"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"start_near_goal", 0}}, "task.start_near_goal"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"start_near_goal", 201}}, "task.start_near_goal"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"start_near_goal", 1.5}}, "task.start_near_goal"},
      {{{"type", "pick_and_place_simple"}, {"seed", 1}, {"start_near_goal", "2"}}, "task.start_near_goal"},
      {{{"gamefile", ""}}, "task.gamefile"},
      {{{"gamefile", "/x"}, {"type", "pick_and_place_simple"}}, "task.gamefile"},
  };
  for (const auto& [task, field] : cases) {
    AlfworldEnv env;
    auto r = env.Reset(task, 0);
    ASSERT_FALSE(r.ok()) << task.dump();
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << task.dump();
    EXPECT_EQ(r.status().message().rfind(field, 0), 0u)
        << task.dump() << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace rock::alfworld
