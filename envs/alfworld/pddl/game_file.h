// Loads ALFWorld games as a user downloads them: `game.tw-pddl` files and the
// `json_2.1.x/<split>/<task>-<Obj>-<MRecep>-<Recep>-<scene>/trial_*/` layout. Malformed files give
// InvalidArgument naming the file and the problem; nothing throws across this header.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "envs/alfworld/pddl/pddl.h"

namespace rock::alfworld::pddl {

// traj_data.json's "pddl_params": what fills the task's goal template.
struct TaskParams {
  std::string object_target;  // "Potato"
  std::string parent_target;  // "SinkBasin"
  std::string mrecep_target;  // "" unless the task uses a movable receptacle
  std::string toggle_target;  // "" unless look_at_obj_in_light
  bool object_sliced = false;
};

struct GameFile {
  std::string id;         // "<split>/<task dir>/<trial dir>" for split games, else the file path
  std::string task_type;  // one of the six ALFWorld task types; "" when the file does not say
  std::string task_text;  // "heat some potato and put it in sinkbasin." ("" when not in the file)
  TaskParams params;      // from traj_data.json when there is one
  Problem problem;
  bool solvable = true;
  std::vector<std::string> walkthrough;
};

// A game.tw-pddl file (JSON: pddl_domain, grammar, pddl_problem, solvable, walkthrough).
StatusOr<GameFile> LoadTwPddl(const std::filesystem::path& file);

// The contents of a game.tw-pddl file, parsed as LoadTwPddl would have had it read them from
// `file` (which names the game and its task type and prefixes error messages; it is not opened).
StatusOr<GameFile> ParseTwPddl(std::string_view json_text, const std::filesystem::path& file);

// A trial directory: game.tw-pddl when present, else initial_state.pddl + traj_data.json.
// traj_data.json, when present, supplies task_type and params. Without a game file there is no
// task_text (ALFWorld draws it from the goal templates when it writes the game file).
StatusOr<GameFile> LoadTrial(const std::filesystem::path& trial_dir);

// The solvable trial directories of `split` ("train", "valid_seen", "valid_unseen") under an
// ALFWORLD_DATA root (which holds json_2.1.x/), sorted so that an index names one game forever.
// Listed: json_2.1.x/<split>/<task dir>/trial_*/ whose task dir starts with one of the six task
// types and is not a sliced-object task ("AppleSliced"), and that has either a game.tw-pddl not
// marked unsolvable (`"solvable": false`, ALFWorld's verdict when its expert could not win the
// game; true, null or absent all count as playable) or, without a game file, initial_state.pddl
// and traj_data.json. Order: task dir name, then trial dir name, bytewise. Of each game file only
// the solvable flag is read (about 0.4 ms a real game; decoding it all would cost 2–4 ms); a flag
// that cannot be read fails the listing, naming the file, other errors show when it is loaded.
StatusOr<std::vector<std::filesystem::path>> ListSplit(const std::filesystem::path& data_root,
                                                       std::string_view split);

}  // namespace rock::alfworld::pddl
