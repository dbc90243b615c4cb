#include "envs/alfworld/game.h"

namespace rock::alfworld {

StatusOr<std::shared_ptr<const Game>> MakeGame(const pddl::Problem& problem, std::string id,
                                               std::string task_text) {
  StatusOr<std::shared_ptr<const World>> world = BuildWorld(problem);
  if (!world.ok()) return world.status().WithContext("game " + id);
  StatusOr<Goal> goal = Goal::Compile(problem.goal, **world);
  if (!goal.ok()) return goal.status().WithContext("game " + id);
  auto game = std::make_shared<Game>();
  game->id = std::move(id);
  game->spec = InferTaskSpec(problem.goal);
  while (!task_text.empty() && (task_text.back() == '.' || task_text.back() == ' ')) {
    task_text.pop_back();
  }
  if (task_text.empty()) task_text = game->spec ? TaskText(*game->spec, 0) : "UNKNOWN GOAL";
  game->task_text = std::move(task_text);
  game->world = std::move(*world);
  game->goal = std::move(*goal);
  return std::shared_ptr<const Game>(std::move(game));
}

}  // namespace rock::alfworld
