// The generator: determinism, splits, rooms fit for each task type, and games that start unwon
// with the task's objects away from their goal.
#include <set>

#include <gtest/gtest.h>

#include "envs/alfworld/generator.h"
#include "envs/alfworld/game.h"
#include "envs/alfworld/layouts.h"
#include "envs/alfworld/names.h"

namespace rock::alfworld {
namespace {

std::string Dump(const pddl::Problem& p) {
  std::string out;
  for (const auto& o : p.objects) out += o.name + ":" + o.type + "\n";
  for (const auto& a : p.init) {
    out += a.predicate;
    for (const auto& arg : a.args) out += " " + arg;
    out += "\n";
  }
  return out;
}

TEST(AlfworldGenerator, ShipsAllOneHundredTwentyFloorPlans) {
  const auto& plans = FloorPlans();
  ASSERT_EQ(plans.size(), 120u);
  for (const FloorPlan& plan : plans) {
    EXPECT_FALSE(plan.classes.empty()) << plan.number;
    EXPECT_FALSE(plan.receptacles.empty()) << plan.number;
  }
}

TEST(AlfworldGenerator, SameIndexSameGameOtherIndexOtherGame) {
  for (TaskType type : kAllTaskTypes) {
    auto a = GenerateGame(type, Split::kTrain, 42);
    auto b = GenerateGame(type, Split::kTrain, 42);
    auto c = GenerateGame(type, Split::kTrain, 43);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    EXPECT_EQ(Dump(a->problem), Dump(b->problem));
    EXPECT_EQ(a->task_text, b->task_text);
    EXPECT_EQ(a->id, "generated/train/" + std::string(TaskTypeName(type)) + "/42");
    EXPECT_NE(Dump(a->problem), Dump(c->problem));
    auto seen = GenerateGame(type, Split::kValidSeen, 42);
    ASSERT_TRUE(seen.ok());
    EXPECT_NE(Dump(a->problem), Dump(seen->problem)) << "splits draw different games";
  }
}

TEST(AlfworldGenerator, ValidUnseenHoldsOutAlfredsUnseenRooms) {
  EXPECT_EQ(SplitFloorPlans(Split::kValidUnseen), (std::vector<int>{10, 219, 308, 424}));
  std::vector<int> train = SplitFloorPlans(Split::kTrain);
  EXPECT_EQ(train.size(), 116u);
  EXPECT_EQ(SplitFloorPlans(Split::kValidSeen), train);
  for (TaskType type : kAllTaskTypes) {
    for (uint64_t i = 0; i < 50; ++i) {
      auto unseen = GenerateGame(type, Split::kValidUnseen, i);
      ASSERT_TRUE(unseen.ok()) << unseen.status().ToString();
      EXPECT_TRUE(unseen->floor_plan == 10 || unseen->floor_plan == 219 ||
                  unseen->floor_plan == 308 || unseen->floor_plan == 424);
      auto tr = GenerateGame(type, Split::kTrain, i);
      ASSERT_TRUE(tr.ok());
      EXPECT_TRUE(std::binary_search(train.begin(), train.end(), tr->floor_plan));
    }
  }
  EXPECT_EQ(ParseSplit("valid_unseen"), Split::kValidUnseen);
  EXPECT_FALSE(ParseSplit("test"));
}

TEST(AlfworldGenerator, TasksUseRoomsAlfredAllowsAndStartUnsolved) {
  for (TaskType type : kAllTaskTypes) {
    std::set<int> rooms;
    for (uint64_t i = 0; i < 200; ++i) {
      auto gen = GenerateGame(type, Split::kTrain, i);
      ASSERT_TRUE(gen.ok());
      int room = gen->floor_plan / 100;  // 0 kitchen, 2 living room, 3 bedroom, 4 bathroom
      rooms.insert(room);
      switch (type) {
        case TaskType::kPickHeatThenPlace:
        case TaskType::kPickCoolThenPlace:
          EXPECT_EQ(room, 0);
          break;
        case TaskType::kPickCleanThenPlace:
          EXPECT_TRUE(room == 0 || room == 4);
          break;
        case TaskType::kLookAtObjInLight:
          EXPECT_TRUE(room == 2 || room == 3);
          break;
        default:
          break;
      }
      EXPECT_TRUE(gen->task_text == TaskText(gen->spec, 0) ||
                  gen->task_text == TaskText(gen->spec, 1));
      auto game = MakeGame(gen->problem, gen->id, gen->task_text);
      ASSERT_TRUE(game.ok()) << game.status().ToString();
      const World& w = *(*game)->world;
      EXPECT_FALSE((*game)->goal.Evaluate(w, w.initial)) << gen->id;
      ASSERT_TRUE((*game)->spec.has_value());
      EXPECT_EQ((*game)->spec->type, type);
      EXPECT_EQ((*game)->spec->object, gen->spec.object);
      // No object of the task's class starts in a receptacle of the goal's class.
      int32_t otype = w.FindType(ToLower(gen->spec.object) + "type");
      int32_t rtype = w.FindType(ToLower(gen->spec.receptacle) + "type");
      for (size_t o = 0; o < w.objects.size(); ++o) {
        for (size_t r = 0; r < w.R(); ++r) {
          if (w.objects[o].type == otype && w.receptacles[r].type == rtype) {
            EXPECT_FALSE(
                w.InReceptacle(w.initial, static_cast<int32_t>(o), static_cast<int32_t>(r)));
          }
        }
      }
    }
    if (type == TaskType::kPickAndPlaceSimple) {
      EXPECT_EQ(rooms.size(), 4u);
    }
  }
}

}  // namespace
}  // namespace rock::alfworld
