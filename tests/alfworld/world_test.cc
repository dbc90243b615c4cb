// Naming (ALFWorld's Demangler), world building from :init, and goal evaluation.
#include <gtest/gtest.h>

#include "envs/alfworld/world.h"
#include "envs/alfworld/goal.h"
#include "envs/alfworld/names.h"
#include "tests/alfworld/test_world.h"

namespace rock::alfworld {
namespace {

TEST(AlfworldNames, NumbersCountPerClassInReverseSortedOrder) {
  std::vector<std::string> ids = {
      "agent1",
      "apple_bar__minus_00_dot_20_bar__plus_01_dot_00",
      "apple_bar__plus_00_dot_40_bar__plus_01_dot_00",
      "appletype",
      "loc_bar_2_bar_0_bar_1_bar_30",
      "loc_bar__minus_1_bar_0_bar_1_bar_30",
      "sink_bar__plus_01_dot_10_bar__plus_00_dot_91",
      "sink_bar__plus_01_dot_10_bar__plus_00_dot_91_bar_sinkbasin",
  };
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(DisplayNames(ids),
            (std::vector<std::string>{"agent1 ", "apple 2", "apple 1", "appletype ", "loc 2",
                                      "loc 1", "sink 1", "sinkbasin 1"}));
}

TEST(AlfworldNames, MangleThorIdWritesAlfredIds) {
  EXPECT_EQ(MangleThorId("Apple|+01.59|+00.97|-01.29"),
            "Apple_bar__plus_01_dot_59_bar__plus_00_dot_97_bar__minus_01_dot_29");
  EXPECT_EQ(ToLower("SinkBasinType"), "sinkbasintype");
}

TEST(AlfworldWorld, BuildsTablesFromInit) {
  auto world = BuildWorld(testing::HandKitchenProblem());
  ASSERT_TRUE(world.ok()) << world.status().ToString();
  const World& w = **world;
  ASSERT_EQ(w.receptacles.size(), 6u);
  ASSERT_EQ(w.objects.size(), 5u);
  EXPECT_EQ(w.receptacles[5].name, "sinkbasin 1");
  EXPECT_NE(w.FindReceptacle("drawer 1"), kNone);
  EXPECT_EQ(w.FindReceptacle("drawer 2"), kNone);
  int32_t drawer = w.FindReceptacle("drawer 1");
  int32_t knife = w.FindObject("knife 1");
  EXPECT_TRUE(w.receptacles[static_cast<size_t>(drawer)].openable);
  EXPECT_TRUE(w.InReceptacle(w.initial, knife, drawer));
  EXPECT_EQ(w.initial.held, kNone);
  EXPECT_NE(w.microwave_type, kNone);
  EXPECT_NE(w.knife_type, kNone);
  EXPECT_EQ(w.butter_knife_type, kNone);
}

TEST(AlfworldWorld, RejectsMalformedInitNamingTheAtom) {
  pddl::Problem p = testing::HandKitchenProblem();
  p.init.push_back({"inReceptacle", {testing::kKnife}});
  auto w = BuildWorld(p);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
  EXPECT_NE(w.status().message().find("inReceptacle"), std::string::npos) << w.status().message();

  p = testing::HandKitchenProblem();
  p.init.push_back({"objectType", {testing::kFridge, "FridgeType"}});
  w = BuildWorld(p);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("receptacle"), std::string::npos) << w.status().message();

  p = testing::HandKitchenProblem();
  p.init.erase(p.init.begin());  // the agent's atLocation
  w = BuildWorld(p);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("agent"), std::string::npos) << w.status().message();
}

// Found by pddl_problem_fuzzer (tests/fuzz/seeds/pddl/classless_receptacle.json): "desk_b`r_1"
// was listed in "go to desk_b`r_1 " and that command was refused.
TEST(AlfworldWorld, RejectsAnObjectOrReceptacleWithoutAClass) {
  for (const char* entity : {testing::kDrawer, testing::kKnife}) {
    pddl::Problem p = testing::HandKitchenProblem();
    const std::string classless = "Thing1";
    for (pddl::Atom& atom : p.init) {
      for (std::string& arg : atom.args) {
        if (arg == entity) arg = classless;
      }
    }
    auto w = BuildWorld(p);
    ASSERT_FALSE(w.ok()) << entity;
    EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
    EXPECT_NE(w.status().message().find("thing1 has no class"), std::string::npos) << w.status().message();
  }
}

pddl::Formula Atom(std::string pred, std::vector<std::string> args) {
  pddl::Formula f;
  f.kind = pddl::Formula::Kind::kAtom;
  f.atom = {std::move(pred), std::move(args)};
  return f;
}

pddl::Formula Node(pddl::Formula::Kind kind, std::vector<pddl::Formula> children,
                   std::vector<pddl::TypedName> vars = {}) {
  pddl::Formula f;
  f.kind = kind;
  f.children = std::move(children);
  f.vars = std::move(vars);
  return f;
}

TEST(AlfworldGoal, EvaluatesQuantifiersConnectivesAndEquality) {
  using K = pddl::Formula::Kind;
  auto world = BuildWorld(testing::HandKitchenProblem());
  ASSERT_TRUE(world.ok());
  const World& w = **world;
  auto eval = [&](const pddl::Formula& f) {
    auto goal = Goal::Compile(f, w);
    EXPECT_TRUE(goal.ok()) << goal.status().ToString();
    return goal.ok() && goal->Evaluate(w, w.initial);
  };
  // Two distinct apples on one counter.
  pddl::Formula eq;
  eq.kind = K::kEquals;
  eq.atom = {"=", {"?a", "?b"}};
  pddl::Formula two = Node(
      K::kExists,
      {Node(K::kAnd, {Atom("objectType", {"?a", "AppleType"}),
                      Atom("objectType", {"?b", "AppleType"}), Atom("inReceptacle", {"?a", "?r"}),
                      Atom("inReceptacle", {"?b", "?r"}), Node(K::kNot, {eq})})},
      {{"?a", "object"}, {"?b", "object"}, {"?r", "receptacle"}});
  EXPECT_TRUE(eval(two));
  pddl::Formula mug_two = two;
  mug_two.children[0].children[0].atom.args[1] = "MugType";
  mug_two.children[0].children[1].atom.args[1] = "MugType";
  EXPECT_FALSE(eval(mug_two)) << "only one mug";
  // Every openable receptacle is closed at the start.
  EXPECT_TRUE(eval(
      Node(K::kForall,
           {Node(K::kImply, {Atom("openable", {"?r"}), Node(K::kNot, {Atom("opened", {"?r"})})})},
           {{"?r", "receptacle"}})));
  EXPECT_FALSE(eval(Node(K::kExists, {Atom("isHot", {"?o"})}, {{"?o", "object"}})));
  EXPECT_FALSE(eval(Atom("objectType", {testing::kKnife, "UnknownType"})));
  EXPECT_TRUE(eval(Node(K::kOr, {Atom("isHot", {testing::kKnife}),
                                 Atom("objectType", {testing::kKnife, "KnifeType"})})));
}

TEST(AlfworldGoal, RejectsUnboundAndUntypedVariables) {
  auto world = BuildWorld(testing::HandKitchenProblem());
  ASSERT_TRUE(world.ok());
  auto goal = Goal::Compile(Atom("isHot", {"?o"}), **world);
  ASSERT_FALSE(goal.ok());
  EXPECT_NE(goal.status().message().find("?o"), std::string::npos);
  goal = Goal::Compile(
      Node(pddl::Formula::Kind::kExists, {Atom("isHot", {"?o"})}, {{"?o", "thing"}}), **world);
  ASSERT_FALSE(goal.ok());
  EXPECT_NE(goal.status().message().find("thing"), std::string::npos);
}

}  // namespace
}  // namespace rock::alfworld
