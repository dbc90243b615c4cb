// Golden transcripts: one generated game per task type (and one in the 0.3 grammar) played with
// the commands stored in tests/alfworld/golden/*.txt; the whole text must match exactly.
// ROCK_UPDATE_GOLDEN=1 rewrites the files from the expert's play (review the diff!).
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "envs/alfworld/engine.h"
#include "envs/alfworld/expert.h"
#include "envs/alfworld/generator.h"

namespace rock::alfworld {
namespace {

struct GoldenCase {
  TaskType type;
  uint64_t index;
  Grammar grammar;
  std::string file;
};

std::vector<GoldenCase> Cases() {
  std::vector<GoldenCase> cases;
  for (TaskType type : kAllTaskTypes) {
    cases.push_back({type, 3, Grammar::kV04, std::string(TaskTypeName(type)) + ".txt"});
  }
  cases.push_back(
      {TaskType::kPickAndPlaceSimple, 3, Grammar::kV03, "pick_and_place_simple-v0.3.txt"});
  return cases;
}

std::string Transcript(Engine& e, const std::vector<std::string>& commands) {
  std::string out = e.Reset() + "\n";
  for (const std::string& cmd : commands) {
    e.Step(cmd);
    out += "> " + cmd + "\n" + e.observation() + "\n";
  }
  return out;
}

// The expert's commands with looks, an inventory, examinations and junk mixed in, so the
// transcript covers more than the winning path.
std::vector<std::string> RecordCommands(Engine& e) {
  std::vector<std::string> cmds = {"look", "inventory", "jump", "help"};
  for (const std::string& c : cmds) e.Step(c);
  while (!e.won() && cmds.size() < 40) {
    std::string cmd = ExpertCommand(e);
    if (cmd.empty()) break;
    e.Step(cmd);
    cmds.push_back(cmd);
    if (cmd.rfind("take ", 0) == 0) {
      std::string obj = cmd.substr(5, cmd.find(" from ") - 5);
      for (const std::string& extra :
           std::vector<std::string>{"examine " + obj, "inventory", "look"}) {
        e.Step(extra);
        cmds.push_back(extra);
      }
    }
  }
  return cmds;
}

TEST(AlfworldGolden, TranscriptsMatchForEveryTaskType) {
  const bool update = std::getenv("ROCK_UPDATE_GOLDEN") != nullptr;
  for (const GoldenCase& c : Cases()) {
    auto gen = GenerateGame(c.type, Split::kTrain, c.index);
    ASSERT_TRUE(gen.ok());
    auto game = MakeGame(gen->problem, gen->id, gen->task_text);
    ASSERT_TRUE(game.ok());
    Engine e(*game, c.grammar);
    const std::string path = std::string(ROCK_ALFWORLD_GOLDEN_DIR) + "/" + c.file;
    if (update) {
      std::vector<std::string> cmds = RecordCommands(e);
      std::ofstream(path) << Transcript(e, cmds);
    }
    std::ifstream in(path);
    ASSERT_TRUE(in) << "missing golden file " << path;
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> commands;
    std::istringstream lines(text.str());
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("> ", 0) == 0) commands.push_back(line.substr(2));
    }
    ASSERT_FALSE(commands.empty()) << path;
    EXPECT_EQ(Transcript(e, commands), text.str()) << path;
    EXPECT_TRUE(e.won()) << path << ": the recorded commands win the game";
  }
}

}  // namespace
}  // namespace rock::alfworld
