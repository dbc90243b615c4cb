// Admissible commands: the exact sets at key states of the hand kitchen, and on generated games
// the property that a command is accepted exactly when it is in the admissible set.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "envs/alfworld/engine.h"
#include "envs/alfworld/generator.h"
#include "envs/alfworld/random_agent.h"
#include "tests/alfworld/test_world.h"

namespace rock::alfworld {
namespace {

using testing::HandKitchen;
using Commands = std::vector<std::string>;

Commands Admissible(Engine& e) {
  auto span = e.AdmissibleCommands();
  return {span.begin(), span.end()};
}

TEST(AlfworldAdmissible, AtTheStartOnlyMovingAndLookingAround) {
  Engine e(HandKitchen());
  EXPECT_EQ(Admissible(e),
            (Commands{"go to cabinet 1", "go to countertop 1", "go to drawer 1", "go to fridge 1",
                      "go to microwave 1", "go to sinkbasin 1", "help", "inventory", "look"}));
}

TEST(AlfworldAdmissible, AtAReceptacleWithAClosedNeighbour) {
  Engine e(HandKitchen());
  e.Step("go to countertop 1");
  EXPECT_EQ(Admissible(e),
            (Commands{"examine apple 1", "examine apple 2", "examine countertop 1",
                      "examine desklamp 1", "examine drawer 1", "go to cabinet 1", "go to fridge 1",
                      "go to microwave 1", "go to sinkbasin 1", "help", "inventory", "look",
                      "open drawer 1", "take apple 1 from countertop 1",
                      "take apple 2 from countertop 1", "use desklamp 1"}));
}

TEST(AlfworldAdmissible, HoldingAnObjectAtAClosedThenOpenFridge) {
  Engine e(HandKitchen());
  e.Step("go to countertop 1");
  e.Step("take apple 1 from countertop 1");
  e.Step("go to fridge 1");
  EXPECT_EQ(Admissible(e), (Commands{"cool apple 1 with fridge 1", "examine apple 1",
                                     "examine fridge 1", "go to cabinet 1", "go to countertop 1",
                                     "go to drawer 1", "go to microwave 1", "go to sinkbasin 1",
                                     "help", "inventory", "look", "open fridge 1"}));
  e.Step("open fridge 1");
  EXPECT_EQ(Admissible(e),
            (Commands{"close fridge 1", "cool apple 1 with fridge 1", "examine apple 1",
                      "examine fridge 1", "examine mug 1", "go to cabinet 1", "go to countertop 1",
                      "go to drawer 1", "go to microwave 1", "go to sinkbasin 1", "help",
                      "inventory", "look", "move apple 1 to fridge 1"}));
}

TEST(AlfworldAdmissible, OldGrammarOffersPutInOn) {
  Engine e(HandKitchen(), Grammar::kV03);
  e.Step("go to countertop 1");
  e.Step("take apple 1 from countertop 1");
  Commands cmds = Admissible(e);
  EXPECT_TRUE(std::count(cmds.begin(), cmds.end(), "put apple 1 in/on countertop 1"));
  EXPECT_FALSE(std::count(cmds.begin(), cmds.end(), "move apple 1 to countertop 1"));
}

// Every command the parser could ever accept in `e`'s game.
Commands AllCandidates(const Engine& e) {
  const World& w = e.world();
  Commands out = {"look", "inventory", "help"};
  for (const Receptacle& r : w.receptacles) {
    for (const char* verb : {"go to ", "open ", "close ", "examine "}) out.push_back(verb + r.name);
    for (const Object& o : w.objects) {
      for (const char* verb : {"take "}) out.push_back(verb + o.name + " from " + r.name);
      out.push_back("move " + o.name + " to " + r.name);
      for (const char* verb : {"heat ", "cool ", "clean "}) {
        out.push_back(verb + o.name + " with " + r.name);
      }
    }
  }
  for (const Object& o : w.objects) {
    out.push_back("use " + o.name);
    out.push_back("examine " + o.name);
    for (const Object& k : w.objects) out.push_back("slice " + o.name + " with " + k.name);
  }
  return out;
}

TEST(AlfworldAdmissible, AcceptedExactlyWhenAdmissibleAlongRandomWalks) {
  for (TaskType type : kAllTaskTypes) {
    auto gen = GenerateGame(type, Split::kTrain, 7);
    ASSERT_TRUE(gen.ok()) << gen.status().ToString();
    auto game = MakeGame(gen->problem, gen->id, gen->task_text);
    ASSERT_TRUE(game.ok()) << game.status().ToString();
    Engine e(*game);
    const Commands candidates = AllCandidates(e);
    RandomAgent agent(11);
    for (int step = 0; step < 12; ++step) {
      Commands admissible = Admissible(e);
      ASSERT_TRUE(std::is_sorted(admissible.begin(), admissible.end()));
      ASSERT_EQ(std::adjacent_find(admissible.begin(), admissible.end()), admissible.end());
      std::set<std::string> accepted;
      for (const std::string& cmd : candidates) {
        Engine probe = e;
        if (probe.Step(cmd).valid) accepted.insert(cmd);
      }
      EXPECT_EQ(Commands(accepted.begin(), accepted.end()), admissible)
          << TaskTypeName(type) << " step " << step;
      e.Step(std::string(agent.Act(e.AdmissibleCommands())));
    }
  }
}

}  // namespace
}  // namespace rock::alfworld
