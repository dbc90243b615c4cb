// Generates solvable ALFWorld games from ALFRED's floor plans, with no download: the room's
// receptacles come from its layout, objects of the room's classes are scattered over receptacles
// that can hold them, and a task of the requested type is chosen among those the room allows
// (ALFRED's GOALS_VALID). Deterministic: the same (type, split, index) gives the same game on
// every machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "envs/alfworld/pddl/pddl.h"
#include "envs/alfworld/task.h"

namespace rock::alfworld {

// valid_unseen holds out ALFRED's valid-unseen rooms (FloorPlan10, 219, 308, 424); train and
// valid_seen share the other 116 rooms and differ in the games drawn from them.
enum class Split { kTrain, kValidSeen, kValidUnseen };

std::string_view SplitName(Split split);
std::optional<Split> ParseSplit(std::string_view name);
// The floor plan numbers a split draws its games from, ascending.
std::vector<int> SplitFloorPlans(Split split);

struct GeneratedGame {
  std::string id;  // "generated/<split>/<task type>/<index>"
  TaskSpec spec;
  std::string task_text;  // without the final period
  int floor_plan = 0;
  pddl::Problem problem;
};

// Any index is valid (the supply is unlimited). FailedPrecondition only if no room of the split
// can host the task type, which the shipped layouts never cause.
StatusOr<GeneratedGame> GenerateGame(TaskType type, Split split, uint64_t index);

}  // namespace rock::alfworld
