#include "envs/alfworld/pddl/game_file.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace rock::alfworld::pddl {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = ROCK_PDDL_FIXTURES;
const fs::path kTree = kFixtures / "json_2.1.1";

const char* const kHeatEgg = "train/pick_heat_then_place_in_recep-Egg-None-CounterTop-14/trial_T20190907_151643_465634";
const char* const kLookAtCd = "valid_unseen/look_at_obj_in_light-CD-None-DeskLamp-303/trial_T20190907_225116_521458";
const char* const kPickTwo = "valid_unseen/pick_two_obj_and_place-KeyChain-None-Dresser-301/trial_T20190909_014526_183221";

// A fresh directory, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rock-pddl-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteFile(const fs::path& file, std::string_view text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

// A well-formed game file; tests overwrite one field to make it malformed.
nlohmann::json MinimalGame() {
  return {{"pddl_domain", "(define (domain alfred) (:requirements :typing))"},
          {"grammar", R"("task": [ { "rhs": "Your task is to: put a cd in desk." } ])"},
          {"pddl_problem", "(define (problem p) (:domain alfred) (:init) (:goal (and)))"},
          {"solvable", true},
          {"walkthrough", nlohmann::json::array()}};
}

void ExpectError(const Status& status, Code code, std::initializer_list<std::string_view> needles) {
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), code) << status.ToString();
  for (std::string_view needle : needles) {
    EXPECT_NE(status.message().find(needle), std::string::npos)
        << "message '" << status.message() << "' lacks '" << needle << "'";
  }
}

TEST(GameFile, TwPddlGameLoadsWithTaskTextTypeWalkthroughAndProblem) {
  StatusOr<GameFile> game = LoadTwPddl(kTree / kHeatEgg / "game.tw-pddl");
  ASSERT_TRUE(game.ok()) << game.status().ToString();
  EXPECT_EQ(game->id, kHeatEgg) << "split games are named <split>/<task dir>/<trial dir>";
  EXPECT_EQ(game->task_type, "pick_heat_then_place_in_recep");
  EXPECT_EQ(game->task_text, "heat some egg and put it in countertop.");
  EXPECT_TRUE(game->solvable);
  EXPECT_EQ(game->walkthrough,
            (std::vector<std::string>{"go to fridge 1", "open fridge 1", "take egg 1 from fridge 1", "go to microwave 1",
                                      "heat egg 1 with microwave 1", "go to countertop 1", "move egg 1 to countertop 1"}));
  EXPECT_EQ(game->problem.name, "plan_trial_T20190907_151643_465634");
  EXPECT_EQ(game->problem.objects.size(), 46u);
  EXPECT_EQ(game->problem.goal.kind, Formula::Kind::kAnd);
  EXPECT_TRUE(game->params.object_target.empty()) << "a game file alone has no traj_data params";
}

TEST(GameFile, EveryShippedGameFileLoadsWithTheTaskTypeOfItsDirectory) {
  int games = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kTree)) {
    if (entry.path().filename() != "game.tw-pddl") continue;
    ++games;
    StatusOr<GameFile> game = LoadTwPddl(entry.path());
    ASSERT_TRUE(game.ok()) << game.status().ToString();
    std::string task_dir = entry.path().parent_path().parent_path().filename().string();
    EXPECT_EQ(game->task_type, task_dir.substr(0, task_dir.find('-'))) << entry.path();
    EXPECT_FALSE(game->task_text.empty()) << entry.path();
    EXPECT_EQ(game->solvable, !game->walkthrough.empty()) << entry.path();
  }
  EXPECT_EQ(games, 6);
}

TEST(GameFile, TrialWithGameFileTakesParamsFromTrajData) {
  StatusOr<GameFile> game = LoadTrial(kTree / kLookAtCd);
  ASSERT_TRUE(game.ok()) << game.status().ToString();
  EXPECT_EQ(game->id, kLookAtCd);
  EXPECT_EQ(game->task_type, "look_at_obj_in_light");
  EXPECT_EQ(game->task_text, "examine the cd with the desklamp.");
  EXPECT_EQ(game->params.object_target, "CD");
  EXPECT_EQ(game->params.toggle_target, "DeskLamp");
  EXPECT_EQ(game->params.parent_target, "");
  EXPECT_FALSE(game->params.object_sliced);
  EXPECT_EQ(game->walkthrough.size(), 5u);
}

TEST(GameFile, TrialWithoutGameFileLoadsInitialStateAndTrajData) {
  StatusOr<GameFile> game = LoadTrial(kTree / kPickTwo / "");
  ASSERT_TRUE(game.ok()) << game.status().ToString();
  EXPECT_EQ(game->id, kPickTwo) << "a trailing '/' names the same trial";
  EXPECT_EQ(game->task_type, "pick_two_obj_and_place");
  EXPECT_EQ(game->task_text, "") << "only game files carry a task text";
  EXPECT_EQ(game->params.object_target, "KeyChain");
  EXPECT_EQ(game->params.parent_target, "Dresser");
  EXPECT_TRUE(game->solvable);
  EXPECT_TRUE(game->walkthrough.empty());
  int keychains = 0;
  for (const Atom& atom : game->problem.init) {
    keychains += atom.predicate == "objectType" && atom.args.at(1) == "KeyChainType";
  }
  EXPECT_EQ(keychains, 2);
}

TEST(GameFile, RealAlfworldTrialLoadsItsTaskTypeAndParams) {
  fs::path trial = kFixtures / "real" / "trial_T20190908_231731_054988";
  StatusOr<GameFile> game = LoadTrial(trial);
  ASSERT_TRUE(game.ok()) << game.status().ToString();
  EXPECT_EQ(game->id, trial.string()) << "outside json_2.1.x a game is named by its path";
  EXPECT_EQ(game->task_type, "pick_heat_then_place_in_recep");
  EXPECT_EQ(game->params.object_target, "Potato");
  EXPECT_EQ(game->params.parent_target, "SinkBasin");
  EXPECT_EQ(game->params.mrecep_target, "");
  EXPECT_EQ(game->problem.domain, "alfred");
}

TEST(GameFile, ListSplitIsSortedAndSkipsUnsolvableAndSlicedTrials) {
  auto names = [](std::string_view split) {
    StatusOr<std::vector<fs::path>> trials = ListSplit(kFixtures, split);
    EXPECT_TRUE(trials.ok()) << trials.status().ToString();
    std::vector<std::string> out;
    if (trials.ok()) {
      for (const fs::path& trial : *trials) out.push_back(trial.lexically_relative(kTree).generic_string());
    }
    return out;
  };
  EXPECT_EQ(names("train"),
            (std::vector<std::string>{
                "train/pick_and_place_simple-SoapBar-None-Toilet-402/trial_T20190908_212340_576416",
                "train/pick_cool_then_place_in_recep-Tomato-None-Microwave-14/trial_T20190909_102608_318800",
                kHeatEgg,
            }))
      << "the PotatoSliced trial is skipped";
  EXPECT_EQ(names("valid_seen"),
            (std::vector<std::string>{
                "valid_seen/pick_clean_then_place_in_recep-Plate-None-Cabinet-14/trial_T20190906_191853_433232"}))
      << "the Watch game says solvable: false";
  EXPECT_EQ(names("valid_unseen"), (std::vector<std::string>{kLookAtCd, kPickTwo}))
      << "a trial without a game file counts when it has initial_state.pddl and traj_data.json";
}

TEST(GameFile, EveryListedTrialLoads) {
  for (std::string_view split : {"train", "valid_seen", "valid_unseen"}) {
    StatusOr<std::vector<fs::path>> trials = ListSplit(kFixtures, split);
    ASSERT_TRUE(trials.ok()) << trials.status().ToString();
    for (const fs::path& trial : *trials) {
      StatusOr<GameFile> game = LoadTrial(trial);
      ASSERT_TRUE(game.ok()) << game.status().ToString();
      EXPECT_TRUE(game->solvable);
      EXPECT_EQ(game->id, trial.lexically_relative(kTree).generic_string());
    }
  }
}

TEST(GameFile, ListSplitRejectsBadSplitNamesAndMissingData) {
  for (std::string_view split : {"", ".", "..", "../json_2.1.1/train", "train/x"}) {
    ExpectError(ListSplit(kFixtures, split).status(), Code::kInvalidArgument, {"is not a split name"});
  }
  ExpectError(ListSplit(kFixtures, "test").status(), Code::kNotFound, {"json_2.1.1/test", "no such split directory"});
  ExpectError(ListSplit(kFixtures / "malformed", "train").status(), Code::kNotFound, {"no json_2.1.x directory"});
  ExpectError(ListSplit(kFixtures / "absent", "train").status(), Code::kNotFound, {"absent: no such directory"});
}

TEST(GameFile, ListSplitNamesAGameFileItCannotRead) {
  TempDir root;
  fs::path game = root.path() / "json_2.1.1/train/pick_and_place_simple-Pen-None-Desk-301/trial_T1/game.tw-pddl";
  WriteFile(game, "{\"solvable\": tru");
  ExpectError(ListSplit(root.path(), "train").status(), Code::kInvalidArgument, {game.string(), "not valid JSON"});
}

TEST(GameFile, MalformedGameFilesAreRejectedNamingTheFileAndTheProblem) {
  const std::pair<const char*, std::vector<std::string_view>> cases[] = {
      {"truncated.tw-pddl", {"not valid JSON: parse error at line 1, column 5001", "missing closing quote"}},
      {"missing_problem.tw-pddl", {"missing field 'pddl_problem'"}},
      {"wrong_domain.tw-pddl", {"pddl_domain is for domain 'blocksworld', expected 'alfred'"}},
      {"bad_problem.tw-pddl", {"pddl_problem: line 10: expected an object name or ')', got '('"}},
      {"solvable_not_bool.tw-pddl", {"field 'solvable' is string, expected boolean"}},
  };
  for (const auto& [name, needles] : cases) {
    fs::path file = kFixtures / "malformed" / name;
    StatusOr<GameFile> game = LoadTwPddl(file);
    ASSERT_FALSE(game.ok()) << name;
    EXPECT_EQ(game.status().code(), Code::kInvalidArgument) << game.status().ToString();
    EXPECT_EQ(game.status().message().rfind(file.string() + ": ", 0), 0u) << game.status().message();
    EXPECT_LT(game.status().message().size(), file.string().size() + 200) << "no file contents in messages";
    for (std::string_view needle : needles) {
      EXPECT_NE(game.status().message().find(needle), std::string::npos)
          << "message '" << game.status().message() << "' lacks '" << needle << "'";
    }
  }
}

TEST(GameFile, WrongTypedFieldsAreRejectedNamingTheField) {
  auto parse = [](const nlohmann::json& doc) { return ParseTwPddl(doc.dump(), "x/game.tw-pddl").status(); };
  ASSERT_TRUE(parse(MinimalGame()).ok()) << parse(MinimalGame()).ToString();

  ExpectError(parse(nlohmann::json::array()), Code::kInvalidArgument, {"x/game.tw-pddl", "top level is array"});
  nlohmann::json game = MinimalGame();
  game["grammar"] = 3;
  ExpectError(parse(game), Code::kInvalidArgument, {"field 'grammar' is number, expected string"});
  game = MinimalGame();
  game.erase("pddl_domain");
  ExpectError(parse(game), Code::kInvalidArgument, {"missing field 'pddl_domain'"});
  game = MinimalGame();
  game["pddl_domain"] = "(define (domain alfred)";
  ExpectError(parse(game), Code::kInvalidArgument, {"pddl_domain: line 1", "')' to close the list"});
  game = MinimalGame();
  game["walkthrough"] = {"look", 7};
  ExpectError(parse(game), Code::kInvalidArgument, {"field 'walkthrough[1]' is number, expected string"});
  game["walkthrough"] = "look";
  ExpectError(parse(game), Code::kInvalidArgument, {"field 'walkthrough' is string, expected array"});
  game = MinimalGame();
  game["pddl_problem"] = "(define (problem p) (:domain blocks) (:init) (:goal (and)))";
  ExpectError(parse(game), Code::kInvalidArgument, {"pddl_problem is for domain 'blocks', expected 'alfred'"});
}

TEST(GameFile, NumbersTooLargeForJsonAreRejectedNotThrown) {
  // Found by pddl_problem_fuzzer: nlohmann throws out_of_range, not parse_error, for these.
  std::string huge = "{\"images\": 1" + std::string(400, '7') + "e99999}";
  ExpectError(ParseTwPddl(huge, "n.tw-pddl").status(), Code::kInvalidArgument, {"n.tw-pddl: not valid JSON: number overflow", "..."});
}

TEST(GameFile, SolvableIsFalseOnlyWhenTheFileSaysSo) {
  nlohmann::json game = MinimalGame();
  game.erase("solvable");
  game.erase("walkthrough");
  StatusOr<GameFile> old = ParseTwPddl(game.dump(), "old.tw-pddl");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_TRUE(old->solvable) << "ALFWorld's first game files had neither field";
  EXPECT_TRUE(old->walkthrough.empty());

  game["solvable"] = nullptr;
  game["walkthrough"] = nullptr;
  StatusOr<GameFile> unchecked = ParseTwPddl(game.dump(), "unchecked.tw-pddl");
  ASSERT_TRUE(unchecked.ok()) << unchecked.status().ToString();
  EXPECT_TRUE(unchecked->solvable) << "alfworld-generate writes null before its expert has tried";

  game["solvable"] = false;
  StatusOr<GameFile> unsolvable = ParseTwPddl(game.dump(), "unsolvable.tw-pddl");
  ASSERT_TRUE(unsolvable.ok()) << unsolvable.status().ToString();
  EXPECT_FALSE(unsolvable->solvable);
}

TEST(GameFile, TaskTextComesFromTheGrammarsTaskRule) {
  auto task_text = [](std::string grammar) {
    nlohmann::json game = MinimalGame();
    game["grammar"] = std::move(grammar);
    StatusOr<GameFile> loaded = ParseTwPddl(game.dump(), "g.tw-pddl");
    EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
    return loaded.ok() ? loaded->task_text : "<error>";
  };
  std::ifstream twl2(kFixtures / "real" / "alfred.twl2");
  std::string grammar((std::istreambuf_iterator<char>(twl2)), std::istreambuf_iterator<char>());
  ASSERT_NE(grammar.find("UNKNOWN GOAL"), std::string::npos);
  EXPECT_EQ(task_text(grammar), "") << "the unfilled grammar has no task yet";
  std::string filled = grammar;
  filled.replace(filled.find("UNKNOWN GOAL"), 12, "Put the \\\"red\\\" mug in the sink.");
  EXPECT_EQ(task_text(filled), "Put the \"red\" mug in the sink..") << "human annotations keep their own period";
  EXPECT_EQ(task_text(R"("intro": [ { "rhs": "#task#" } ])"), "") << "no task rule";
}

TEST(GameFile, TaskTypeComesFromTheFileOrDirectoryName) {
  const std::string game = MinimalGame().dump();
  EXPECT_EQ(ParseTwPddl(game, "games/pick_two_obj_and_place-Pen-None-Desk-1.tw-pddl")->task_type,
            "pick_two_obj_and_place");
  EXPECT_EQ(ParseTwPddl(game, "look_at_obj_in_light-Pen-None-DeskLamp-1/trial_T1/game.tw-pddl")->task_type,
            "look_at_obj_in_light");
  EXPECT_EQ(ParseTwPddl(game, "pick_and_place_with_movable_recep-Pen-Mug-Desk-1/t/game.tw-pddl")->task_type, "");
  EXPECT_EQ(ParseTwPddl(game, "mine.tw-pddl")->task_type, "");
  EXPECT_EQ(ParseTwPddl(game, "mine.tw-pddl")->id, "mine.tw-pddl");
}

TEST(GameFile, MissingFilesAreNotFound) {
  ExpectError(LoadTwPddl(kFixtures / "absent.tw-pddl").status(), Code::kNotFound, {"absent.tw-pddl"});
  TempDir dir;
  ExpectError(LoadTrial(dir.path()).status(), Code::kNotFound, {"neither game.tw-pddl nor initial_state.pddl"});
  fs::copy_file(kTree / kPickTwo / "initial_state.pddl", dir.path() / "initial_state.pddl");
  ExpectError(LoadTrial(dir.path()).status(), Code::kNotFound, {"no traj_data.json"});
  ExpectError(LoadTwPddl(dir.path()).status(), Code::kIoError, {dir.path().string()});
}

TEST(GameFile, MalformedTrajDataIsRejectedNamingTheField) {
  std::ifstream in(kTree / kPickTwo / "traj_data.json");
  const nlohmann::json good = nlohmann::json::parse(in);
  TempDir dir;
  fs::copy_file(kTree / kPickTwo / "initial_state.pddl", dir.path() / "initial_state.pddl");
  auto load_with = [&](const nlohmann::json& traj) {
    WriteFile(dir.path() / "traj_data.json", traj.dump());
    return LoadTrial(dir.path()).status();
  };
  ASSERT_TRUE(load_with(good).ok());

  nlohmann::json traj = good;
  traj["task_type"] = "pick_and_place_with_movable_recep";
  ExpectError(load_with(traj), Code::kInvalidArgument,
              {"traj_data.json", "'pick_and_place_with_movable_recep' is not one of the six"});
  traj = good;
  traj["pddl_params"]["object_sliced"] = "false";
  ExpectError(load_with(traj), Code::kInvalidArgument, {"field 'pddl_params.object_sliced' is string, expected boolean"});
  traj = good;
  traj["pddl_params"].erase("toggle_target");
  ExpectError(load_with(traj), Code::kInvalidArgument, {"missing field 'pddl_params.toggle_target'"});
  ExpectError(load_with(nlohmann::json("x")), Code::kInvalidArgument, {"top level is string"});

  WriteFile(dir.path() / "initial_state.pddl", "(define (problem p) (:domain alfred)\n(:init (a)\n(:goal (and)))");
  ExpectError(load_with(good), Code::kInvalidArgument, {"initial_state.pddl: problem: line 3", "'('"});
}

}  // namespace
}  // namespace rock::alfworld::pddl
