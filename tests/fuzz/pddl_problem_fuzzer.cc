// libFuzzer target for the PDDL parser and the game-file loader: every input goes through
// ParseProblem, ParseDomainName, ParseTwPddl and the "solvable" skim ListSplit uses, and a game
// file that parses becomes a game (MakeGame: the world, the goal, the task) that an engine plays
// through its walkthrough and its first admissible commands, as the ALFWorld env does with a
// real file. Besides "no crash, no sanitizer report" it checks what they promise: formulas have
// the arity of their kind, every name has a type, every error says where it is, the skim agrees
// with a JSON decoder, and a game's engine always has something to say.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "envs/alfworld/engine.h"
#include "envs/alfworld/game.h"
#include "envs/alfworld/pddl/game_file.h"
#include "envs/alfworld/pddl/json_skim.h"
#include "envs/alfworld/pddl/pddl.h"
#include "tests/fuzz/require.h"

namespace rock::alfworld::pddl {
namespace {

using fuzz::Require;

void CheckFormula(const Formula& formula) {
  switch (formula.kind) {
    case Formula::Kind::kAtom:
      Require(!formula.atom.predicate.empty() && formula.children.empty());
      break;
    case Formula::Kind::kEquals:
      Require(formula.atom.args.size() == 2 && formula.children.empty());
      break;
    case Formula::Kind::kNot: Require(formula.children.size() == 1); break;
    case Formula::Kind::kImply: Require(formula.children.size() == 2); break;
    case Formula::Kind::kExists:
    case Formula::Kind::kForall:
      Require(formula.children.size() == 1 && !formula.vars.empty());
      for (const TypedName& var : formula.vars) Require(var.name.starts_with('?') && !var.type.empty());
      break;
    case Formula::Kind::kAnd:
    case Formula::Kind::kOr: break;
  }
  for (const Formula& child : formula.children) CheckFormula(child);
}

void CheckProblem(const Problem& problem) {
  Require(!problem.name.empty() && !problem.domain.empty());
  for (const TypedName& object : problem.objects) Require(!object.name.empty() && !object.type.empty());
  for (const Atom& atom : problem.init) Require(!atom.predicate.empty());
  CheckFormula(problem.goal);
}

// Where the skim answers, it must answer what nlohmann's decoder sees in a valid document.
void CheckSkim(std::string_view text) {
  SkimmedLiteral skimmed = SkimTopLevelLiteral(text, "solvable");
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (skimmed == SkimmedLiteral::kUnknown || !doc.is_object()) return;
  auto it = doc.find("solvable");
  SkimmedLiteral decoded = it == doc.end()     ? SkimmedLiteral::kAbsent
                           : it->is_null()     ? SkimmedLiteral::kNull
                           : !it->is_boolean() ? SkimmedLiteral::kUnknown
                           : it->get<bool>()   ? SkimmedLiteral::kTrue
                                               : SkimmedLiteral::kFalse;
  Require(skimmed == decoded);
}

// A few steps are enough to reach every rule of the engine on a small fuzzed world; each step of a
// large one costs more than parsing it.
constexpr std::size_t kMaxSteps = 16;

void PlaysTheGame(const GameFile& file) {
  auto game = MakeGame(file.problem, file.id, file.task_text);
  if (!game.ok()) {
    Require(!game.status().message().empty());
    return;
  }
  Engine engine(*game);
  Require(!engine.Reset().empty());
  std::size_t steps = 0;
  for (const std::string& command : file.walkthrough) {
    if (steps++ == kMaxSteps) return;
    engine.Step(command);
    Require(!engine.observation().empty());
  }
  while (steps++ < kMaxSteps && !engine.won()) {
    const auto admissible = engine.AdmissibleCommands();
    if (admissible.empty()) return;
    const std::string command = admissible[steps % admissible.size()];
    Require(engine.Step(command).valid);
  }
}

void ParseEverything(std::string_view text) {
  StatusOr<Problem> problem = ParseProblem(text);
  if (problem.ok()) {
    CheckProblem(*problem);
  } else {
    Require(problem.status().message().starts_with("line "));
  }
  StatusOr<std::string> domain = ParseDomainName(text);
  Require(domain.ok() || domain.status().message().starts_with("line "));

  constexpr std::string_view kName = "fuzz/game.tw-pddl";
  StatusOr<GameFile> game = ParseTwPddl(text, kName);
  if (game.ok()) {
    CheckProblem(game->problem);
    PlaysTheGame(*game);
  } else {
    Require(game.status().message().starts_with(kName));
  }
  CheckSkim(text);
}

}  // namespace
}  // namespace rock::alfworld::pddl

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rock::alfworld::pddl::ParseEverything(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
