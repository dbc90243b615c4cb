// A playable game: the World built from a PDDL problem, its compiled goal and its task text.
// Immutable once made, so one Game serves any number of engines on any number of threads.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "envs/alfworld/goal.h"
#include "envs/alfworld/pddl/pddl.h"
#include "envs/alfworld/task.h"
#include "envs/alfworld/world.h"

namespace rock::alfworld {

struct Game {
  std::string id;
  std::string task_text;         // "heat some potato and put it in sinkbasin" (no final period)
  std::optional<TaskSpec> spec;  // read back from the goal; nullopt for goals of other shapes
  std::shared_ptr<const World> world;
  Goal goal;
};

// `task_text` may end in a period (game files carry one); when empty, the text is made from the
// goal with the first template, or is TextWorld's placeholder "UNKNOWN GOAL".
StatusOr<std::shared_ptr<const Game>> MakeGame(const pddl::Problem& problem, std::string id,
                                               std::string task_text);

}  // namespace rock::alfworld
