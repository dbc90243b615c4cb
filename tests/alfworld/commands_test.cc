// Feedback texts and rules, checked against texts worked out by hand from alfred.twl2 and
// alfred.pddl for the hand-written kitchen of test_world.h.
#include <gtest/gtest.h>

#include "envs/alfworld/engine.h"
#include "tests/alfworld/test_world.h"

namespace rock::alfworld {
namespace {

using testing::HandKitchen;

constexpr char kNothing[] = "Nothing happens.";

std::string Play(Engine& e, std::string_view cmd) {
  e.Step(cmd);
  return e.observation();
}

TEST(AlfworldCommands, IntroListsEveryReceptacleAndTheTask) {
  Engine e(HandKitchen());
  EXPECT_EQ(e.observation(),
            "-= Welcome to TextWorld, ALFRED! =-\n\n"
            "You are in the middle of a room. Looking quickly around you, you see a cabinet 1, "
            "a countertop 1, a drawer 1, a fridge 1, a microwave 1, and a sinkbasin 1.\n\n"
            "Your task is to: put a hot apple in fridge.");
}

TEST(AlfworldCommands, ArrivalDescribesTheReceptacleInIdOrder) {
  Engine e(HandKitchen());
  EXPECT_EQ(Play(e, "go to countertop 1"),
            "You arrive at countertop 1. On the countertop 1, you see a apple 2, a apple 1, and "
            "a desklamp 1.");
  EXPECT_EQ(Play(e, "look"),
            "You are facing the countertop 1, and drawer 1. Next to it, you see nothing.");
  EXPECT_EQ(Play(e, "examine drawer 1"), "The drawer 1 is closed.");
  EXPECT_EQ(Play(e, "open drawer 1"),
            "You open the drawer 1. The drawer 1 is open. In it, you see a knife 1.");
  EXPECT_EQ(Play(e, "close drawer 1"), "You close the drawer 1.");
  EXPECT_EQ(Play(e, "go to cabinet 1"), "You arrive at cabinet 1. The cabinet 1 is closed.");
  EXPECT_EQ(Play(e, "open cabinet 1"),
            "You open the cabinet 1. The cabinet 1 is open. In it, you see nothing.");
}

TEST(AlfworldCommands, HeatAndPlaceWinsWithTheGrammarTexts) {
  Engine e(HandKitchen());
  EXPECT_EQ(Play(e, "inventory"), "You are not carrying anything.");
  Play(e, "go to countertop 1");
  EXPECT_EQ(Play(e, "take apple 1 from countertop 1"),
            "You pick up the apple 1 from the countertop 1.");
  EXPECT_EQ(Play(e, "inventory"), "You are carrying: a apple 1.");
  EXPECT_EQ(Play(e, "examine apple 1"), "There's nothing special about apple 1.");
  EXPECT_EQ(Play(e, "go to microwave 1"), "You arrive at microwave 1. The microwave 1 is closed.");
  EXPECT_EQ(Play(e, "heat apple 1 with microwave 1"),
            "You heat the apple 1 using the microwave 1.");
  EXPECT_EQ(Play(e, "examine apple 1"), "This is a hot apple 1.");
  Play(e, "go to fridge 1");
  EXPECT_EQ(Play(e, "move apple 1 to fridge 1"), kNothing) << "the fridge is closed";
  EXPECT_EQ(Play(e, "open fridge 1"),
            "You open the fridge 1. The fridge 1 is open. In it, you see a mug 1.");
  EXPECT_EQ(Play(e, "examine mug 1"), "This is a normal mug 1. In it, you see nothing.");
  EXPECT_FALSE(e.won());
  Engine::Outcome out = e.Step("move apple 1 to fridge 1");
  EXPECT_TRUE(out.valid);
  EXPECT_TRUE(out.won);
  EXPECT_EQ(e.observation(), "You move the apple 1 to the fridge 1.");
}

TEST(AlfworldCommands, CoolingClearsHeatAndConditionsCombineInExamine) {
  Engine e(HandKitchen());
  Play(e, "go to countertop 1");
  Play(e, "open drawer 1");
  Play(e, "take knife 1 from drawer 1");
  EXPECT_EQ(Play(e, "slice apple 1 with knife 1"), "You sliced the apple 1 with the knife 1.");
  EXPECT_EQ(Play(e, "move knife 1 to countertop 1"), "You move the knife 1 to the countertop 1.");
  // TextWorld keeps the negated fact not_inreceptacle(knife, drawer), so the knife left at this
  // location (now on the counter) shows up "next to" it.
  EXPECT_EQ(Play(e, "look"),
            "You are facing the countertop 1, and drawer 1. Next to it, you see a knife 1.");
  Play(e, "take apple 1 from countertop 1");
  EXPECT_EQ(Play(e, "examine apple 1"), "This is a sliced apple 1.");
  Play(e, "go to microwave 1");
  Play(e, "heat apple 1 with microwave 1");
  EXPECT_EQ(Play(e, "examine apple 1"), "This is a hot sliced apple 1.");
  Play(e, "go to sinkbasin 1");
  EXPECT_EQ(Play(e, "clean apple 1 with sinkbasin 1"),
            "You clean the apple 1 using the sinkbasin 1.");
  EXPECT_EQ(Play(e, "examine apple 1"), "This is a hot and clean sliced apple 1.");
  Play(e, "go to fridge 1");
  EXPECT_EQ(Play(e, "cool apple 1 with fridge 1"), "You cool the apple 1 using the fridge 1.");
  EXPECT_EQ(Play(e, "examine apple 1"), "This is a cool and clean sliced apple 1.");
}

TEST(AlfworldCommands, UsingALampTurnsItOn) {
  Engine e(HandKitchen());
  EXPECT_EQ(Play(e, "use desklamp 1"), kNothing) << "the lamp is not here";
  Play(e, "go to countertop 1");
  EXPECT_EQ(Play(e, "examine desklamp 1"), "There's nothing special about desklamp 1.");
  EXPECT_EQ(Play(e, "use desklamp 1"), "You turn on the desklamp 1.");
  EXPECT_EQ(Play(e, "examine desklamp 1"), "This desklamp 1 is on.");
  EXPECT_EQ(Play(e, "take desklamp 1 from countertop 1"), kNothing) << "lamps are not pickupable";
}

TEST(AlfworldCommands, OneObjectInHandAndCanContainRulesHold) {
  Engine e(HandKitchen());
  Play(e, "go to countertop 1");
  Play(e, "take apple 1 from countertop 1");
  EXPECT_EQ(Play(e, "take apple 2 from countertop 1"), kNothing);
  EXPECT_EQ(Play(e, "move apple 1 to drawer 1"), kNothing) << "the drawer is closed";
  Play(e, "open drawer 1");
  EXPECT_EQ(Play(e, "move apple 1 to drawer 1"), kNothing) << "drawers do not hold apples";
  EXPECT_EQ(Play(e, "heat apple 1 with countertop 1"), kNothing);
  EXPECT_EQ(Play(e, "move apple 1 to countertop 1"), "You move the apple 1 to the countertop 1.");
  EXPECT_EQ(Play(e, "move apple 1 to countertop 1"), kNothing) << "no longer held";
}

TEST(AlfworldCommands, NearMissesAndGoingWhereYouAreDoNothing) {
  Engine e(HandKitchen());
  for (const char* cmd :
       {"Go to countertop 1", "go to  countertop 1", "go to countertop 2", "go to countertop",
        "go to countertop 1.", "go to countertop 01", "goto countertop 1", "go to Countertop 1", "",
        "   ", "jump", "take apple 1 from countertop 1", "look around"}) {
    EXPECT_EQ(Play(e, cmd), kNothing) << "'" << cmd << "'";
    EXPECT_FALSE(e.Step(cmd).valid);
  }
  EXPECT_EQ(Play(e, "  go to countertop 1 \t\n"),
            "You arrive at countertop 1. On the countertop 1, you see a apple 2, a apple 1, and "
            "a desklamp 1.")
      << "surrounding whitespace is trimmed";
  EXPECT_EQ(Play(e, "go to countertop 1"), kNothing) << "already there";
  EXPECT_EQ(Play(e, "go to drawer 1"), kNothing) << "the drawer stands at the same spot";
  EXPECT_EQ(Play(e, "take apple 3 from countertop 1"), kNothing);
  EXPECT_EQ(Play(e, "take apple 1 from drawer 1"), kNothing);
  EXPECT_EQ(Play(e, "take  apple 1 from countertop 1"), kNothing);
}

TEST(AlfworldCommands, HelpListsTheCommandsOfTheGrammarVersion) {
  Engine v04(HandKitchen());
  EXPECT_EQ(Play(v04, "help"),
            "\nAvailable commands:\n"
            "  look:                             look around your current location\n"
            "  inventory:                        check your current inventory\n"
            "  go to (receptacle):               move to a receptacle\n"
            "  open (receptacle):                open a receptacle\n"
            "  close (receptacle):               close a receptacle\n"
            "  take (object) from (receptacle):  take an object from a receptacle\n"
            "  move (object) to (receptacle):  place an object in or on a receptacle\n"
            "  examine (something):              examine a receptacle or an object\n"
            "  use (object):                     use an object\n"
            "  heat (object) with (receptacle):  heat an object using a receptacle\n"
            "  clean (object) with (receptacle): clean an object using a receptacle\n"
            "  cool (object) with (receptacle):  cool an object using a receptacle\n"
            "  slice (object) with (object):     slice an object using a sharp object\n");
  Engine v03(HandKitchen(), Grammar::kV03);
  EXPECT_NE(Play(v03, "help").find("  put (object) in/on (receptacle):  place an object"),
            std::string::npos);
}

TEST(AlfworldCommands, OldGrammarArrivesAtLocationsAndPutsInOn) {
  Engine e(HandKitchen(), Grammar::kV03);
  EXPECT_EQ(Play(e, "go to countertop 1"),
            "You arrive at loc 6. On the countertop 1, you see a apple 2, a apple 1, and a "
            "desklamp 1.");
  Play(e, "take apple 1 from countertop 1");
  EXPECT_EQ(Play(e, "move apple 1 to countertop 1"), kNothing);
  EXPECT_EQ(Play(e, "put apple 1 in/on countertop 1"),
            "You put the apple 1 in/on the countertop 1.");
  EXPECT_EQ(Play(e, "go to fridge 1"), "You arrive at loc 2. The fridge 1 is closed.");
}

TEST(AlfworldCommands, ResetRestoresTheInitialState) {
  Engine e(HandKitchen());
  const std::string intro = e.observation();
  Play(e, "go to countertop 1");
  Play(e, "take apple 1 from countertop 1");
  EXPECT_EQ(e.Reset(), intro);
  EXPECT_EQ(Play(e, "inventory"), "You are not carrying anything.");
}

}  // namespace
}  // namespace rock::alfworld
