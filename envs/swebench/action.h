// The actions a SWE-bench agent takes, one JSON object per step (docs/swebench.md):
//   {"tool":"bash", "command":"pytest -x", "timeout_s"?:60}
//   {"tool":"str_replace_editor", "command":"view"|"create"|"str_replace"|"insert"|"undo_edit",
//    "path", "file_text"?, "old_str"?, "new_str"?, "insert_line"?, "view_range"?:[first, last]}
//   {"tool":"submit"}
// The editor follows SWE-agent 1.x's str_replace_editor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"

namespace rock::envs::swebench {

struct BashAction {
  std::string command;
  uint32_t timeout_s = 0;  // 0: the env's default
};

enum class EditCommand { kView, kCreate, kStrReplace, kInsert, kUndoEdit };

struct EditAction {
  EditCommand command = EditCommand::kView;
  std::string path;
  std::optional<std::string> file_text;
  std::optional<std::string> old_str;
  std::optional<std::string> new_str;
  std::optional<int64_t> insert_line;
  std::optional<std::pair<int64_t, int64_t>> view_range;  // 1-based; last -1: to the end
};

struct SubmitAction {};

using Action = std::variant<BashAction, EditAction, SubmitAction>;

// InvalidArgument with a message meant for the agent: what is wrong and what would be right.
StatusOr<Action> ParseAction(std::string_view text);

}  // namespace rock::envs::swebench
