// The expert solves every generated game, recovers from random detours, and plays real files.
#include <gtest/gtest.h>

#include "envs/alfworld/expert.h"
#include "envs/alfworld/engine.h"
#include "envs/alfworld/generator.h"
#include "envs/alfworld/pddl/game_file.h"
#include "envs/alfworld/random_agent.h"
#include "tests/alfworld/test_world.h"

namespace rock::alfworld {
namespace {

std::shared_ptr<const Game> Generated(TaskType type, Split split, uint64_t index) {
  auto gen = GenerateGame(type, split, index);
  EXPECT_TRUE(gen.ok()) << gen.status().ToString();
  if (!gen.ok()) return nullptr;
  auto game = MakeGame(gen->problem, gen->id, gen->task_text);
  EXPECT_TRUE(game.ok()) << game.status().ToString();
  return game.ok() ? *game : nullptr;
}

TEST(AlfworldExpert, WinsAThousandGeneratedGamesOfEveryTypeWithinTheStepLimit) {
  for (TaskType type : kAllTaskTypes) {
    int won = 0;
    for (uint64_t i = 0; i < 1000; ++i) {
      auto game = Generated(type, Split::kTrain, i);
      ASSERT_TRUE(game);
      Engine e(game);
      std::vector<std::string> played = RunExpert(e, 50);
      won += e.won();
      EXPECT_TRUE(e.won()) << game->id << " after " << played.size() << " steps";
    }
    EXPECT_EQ(won, 1000) << TaskTypeName(type);
  }
}

TEST(AlfworldExpert, WinsValidationSplits) {
  for (TaskType type : kAllTaskTypes) {
    for (Split split : {Split::kValidSeen, Split::kValidUnseen}) {
      for (uint64_t i = 0; i < 100; ++i) {
        auto game = Generated(type, split, i);
        ASSERT_TRUE(game);
        Engine e(game);
        RunExpert(e, 50);
        EXPECT_TRUE(e.won()) << game->id;
      }
    }
  }
}

TEST(AlfworldExpert, FinishesAfterARandomPrefix) {
  for (TaskType type : kAllTaskTypes) {
    for (uint64_t i = 0; i < 100; ++i) {
      auto game = Generated(type, Split::kTrain, 5000 + i);
      ASSERT_TRUE(game);
      Engine e(game);
      RandomAgent agent(i);
      for (int step = 0; step < 15 && !e.won(); ++step) {
        e.Step(std::string(agent.Act(e.AdmissibleCommands())));
      }
      RunExpert(e, 60);
      EXPECT_TRUE(e.won()) << game->id;
    }
  }
}

TEST(AlfworldExpert, WinsEveryTaskTypeInTheHandKitchen) {
  const std::vector<TaskSpec> specs = {
      {TaskType::kPickAndPlaceSimple, "Mug", "CounterTop", ""},
      {TaskType::kPickCleanThenPlace, "Knife", "CounterTop", ""},
      {TaskType::kPickHeatThenPlace, "Apple", "Fridge", ""},
      {TaskType::kPickCoolThenPlace, "Apple", "SinkBasin", ""},
      {TaskType::kPickTwoObjAndPlace, "Apple", "Fridge", ""},
      {TaskType::kLookAtObjInLight, "Mug", "", "DeskLamp"},
  };
  for (const TaskSpec& spec : specs) {
    auto game = testing::HandKitchen(spec);
    ASSERT_TRUE(game);
    Engine e(game);
    RunExpert(e, 50);
    EXPECT_TRUE(e.won()) << TaskTypeName(spec.type);
  }
}

TEST(AlfworldExpert, WinsTheShippedRealTrial) {
  auto file = pddl::LoadTrial(std::string(ROCK_ALFWORLD_SAMPLES_DIR) +
                              "/json_2.1.1/train/pick_heat_then_place_in_recep-Potato-None-"
                              "SinkBasin-14/trial_T20190908_231731_054988");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto game = MakeGame(file->problem, file->id, file->task_text);
  ASSERT_TRUE(game.ok()) << game.status().ToString();
  ASSERT_TRUE((*game)->spec.has_value());
  EXPECT_EQ((*game)->spec->type, TaskType::kPickHeatThenPlace);
  Engine e(*game);
  std::vector<std::string> played = RunExpert(e, 50);
  EXPECT_TRUE(e.won());
  EXPECT_EQ(played.back(), "move potato 2 to sinkbasin 1");
}

}  // namespace
}  // namespace rock::alfworld
