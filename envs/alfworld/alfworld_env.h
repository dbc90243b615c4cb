// ALFWorld as an rock::envs::Env. A task is one of
//   {"type": "<task type>", "seed": N}                 a generated game (train rooms); without
//                                                      "type", the seed picks one of the six
//   {"type": "<task type>", "split": "<split>", "index": N}
//        a generated game of the split; with ALFWORLD_DATA set, the N-th real game of that type
//        in the split's solvable trials (pddl::ListSplit)
//   {"gamefile": "/path/game.tw-pddl"}                 a real game file (or a trial directory)
// plus optional "max_steps" (default 50; every step counts, valid or not) and
// "alfworld_version": "0.3" | "0.4" (default 0.4: "move {o} to {r}", "You arrive at {r}.")
// and "reward": "won" (default: 1 on the winning step, else 0) | "progress" (+1 for each
// command by which a step brought the expert's plan to the goal below its shortest so far, else
// 0: the return is how far the episode got, so an RL agent learns from every episode, not only
// from the rare win, and a detour or mistake costs only the steps it takes; info then carries
// expert_plan_length) and "expert": true (info carries expert_action, the oracle expert's next
// command, whenever it has one: the label an imitation learner trains on, like ALFWorld's
// expert_plan extra; it sees the whole state, so a policy never reads it as input) and
// "start_near_goal": N (the episode starts where the expert, playing from the game's start, has
// N commands left: a reverse curriculum's easy starts; a plan of N or fewer starts at the start).
// `seed` of Reset stands in for a missing task seed. info carries admissible_commands, won,
// task (the task text), game_id and, for files, gamefile.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "envs/alfworld/engine.h"
#include "envs/env.h"

namespace rock::alfworld {

inline constexpr int kDefaultMaxSteps = 50;

class AlfworldEnv : public envs::Env {
 public:
  // `data_dir`: the real ALFWorld data for {type, split, index} tasks and relative gamefile
  // paths; empty: the ALFWORLD_DATA environment variable, if set.
  explicit AlfworldEnv(std::string data_dir = "");
  ~AlfworldEnv() override;

  StatusOr<envs::ResetResult> Reset(const nlohmann::json& task, uint64_t seed) override;
  StatusOr<envs::StepResult> Step(std::string_view action) override;

 private:
  nlohmann::json Info();
  // What the expert would do from the current state, as far as the task asks: plan_length_
  // (the commands it needs; kExpertPlanBudget when it cannot finish) for the progress reward,
  // expert_action_ (its next command; "" when it has none) for task.expert.
  void PlanFromHere();
  // Plays the expert's plan from the current state until `commands_left` of it remain; the
  // steps it plays are the game's, not the episode's (they count toward no step limit).
  void StartNearGoal(int commands_left);

  std::string data_dir_;
  std::string game_key_;  // what the current game was made from, to reuse it on the next Reset
  std::string gamefile_;
  std::shared_ptr<const Game> game_;
  std::unique_ptr<Engine> engine_;
  int max_steps_ = kDefaultMaxSteps;
  int steps_ = 0;
  bool done_ = true;
  bool progress_reward_ = false;
  bool expert_ = false;
  std::string expert_action_;
  int plan_length_ = 0;
  int best_plan_length_ = 0;
};

}  // namespace rock::alfworld
