// ALFWorld's six task types: their names, the goal templates that make the task text
// (alfworld/gen/goal_library.py) and the PDDL goals they stand for.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "envs/alfworld/pddl/pddl.h"

namespace rock::alfworld {

enum class TaskType {
  kPickAndPlaceSimple,
  kLookAtObjInLight,
  kPickCleanThenPlace,
  kPickHeatThenPlace,
  kPickCoolThenPlace,
  kPickTwoObjAndPlace,
};

inline constexpr std::array<TaskType, 6> kAllTaskTypes = {
    TaskType::kPickAndPlaceSimple, TaskType::kLookAtObjInLight,  TaskType::kPickCleanThenPlace,
    TaskType::kPickHeatThenPlace,  TaskType::kPickCoolThenPlace, TaskType::kPickTwoObjAndPlace};

// "pick_heat_then_place_in_recep", ...
std::string_view TaskTypeName(TaskType type);
std::optional<TaskType> ParseTaskType(std::string_view name);

// What one task asks for, in ALFRED class names ("Potato", "SinkBasin", "DeskLamp").
struct TaskSpec {
  TaskType type = TaskType::kPickAndPlaceSimple;
  std::string object;
  std::string receptacle;  // "" for look_at_obj_in_light
  std::string toggle;      // the lamp of look_at_obj_in_light, else ""
};

inline constexpr int kTemplatesPerTask = 2;

// The goal template `index` (mod 2) filled in, lowercased as ALFWorld does, without the final
// period: "heat some potato and put it in sinkbasin".
std::string TaskText(const TaskSpec& spec, int index);

// The :goal ALFWorld writes for the task.
pddl::Formula GoalFormula(const TaskSpec& spec);

// Reads a task back from a goal of GoalFormula's shapes (what real game files hold); nullopt
// when the goal is of no known shape.
std::optional<TaskSpec> InferTaskSpec(const pddl::Formula& goal);

}  // namespace rock::alfworld
