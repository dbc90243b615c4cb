#include "envs/swebench/action.h"

#include <array>
#include <utility>

#include <nlohmann/json.hpp>

namespace rock::envs::swebench {
namespace {

using nlohmann::json;

constexpr std::string_view kFormat =
    R"(an action is a JSON object: {"tool":"bash","command":"..."}, {"tool":"str_replace_editor","command":"view|create|str_replace|insert|undo_edit","path":"..."} or {"tool":"submit"})";

constexpr std::array<std::pair<std::string_view, EditCommand>, 5> kEditCommands = {{{"view", EditCommand::kView},
                                                                                    {"create", EditCommand::kCreate},
                                                                                    {"str_replace", EditCommand::kStrReplace},
                                                                                    {"insert", EditCommand::kInsert},
                                                                                    {"undo_edit", EditCommand::kUndoEdit}}};

Status CheckKeys(const json& object, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) return InvalidArgument("unknown field '" + key + "' for tool '" + object.at("tool").get<std::string>() + "'");
  }
  return Status::Ok();
}

Status OptionalString(const json& object, const char* field, std::optional<std::string>* out) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return InvalidArgument(std::string("'") + field + "' must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

StatusOr<Action> ParseBash(const json& object) {
  if (Status s = CheckKeys(object, {"tool", "command", "timeout_s"}); !s.ok()) return s;
  const auto command = object.find("command");
  if (command == object.end() || !command->is_string() || command->get<std::string>().empty()) {
    return InvalidArgument("bash needs 'command', a non-empty string");
  }
  BashAction bash{.command = command->get<std::string>()};
  if (const auto timeout = object.find("timeout_s"); timeout != object.end() && !timeout->is_null()) {
    if (!timeout->is_number_integer() || timeout->get<int64_t>() < 1 || timeout->get<int64_t>() > 3600) {
      return InvalidArgument("'timeout_s' must be a whole number of seconds from 1 to 3600");
    }
    bash.timeout_s = timeout->get<uint32_t>();
  }
  return Action(std::move(bash));
}

StatusOr<Action> ParseEdit(const json& object) {
  if (Status s = CheckKeys(object, {"tool", "command", "path", "file_text", "old_str", "new_str", "insert_line", "view_range"});
      !s.ok()) {
    return s;
  }
  EditAction edit;
  const auto command = object.find("command");
  bool known = false;
  if (command != object.end() && command->is_string()) {
    for (const auto& [name, value] : kEditCommands) {
      if (command->get<std::string>() == name) {
        edit.command = value;
        known = true;
      }
    }
  }
  if (!known) return InvalidArgument("str_replace_editor needs 'command': one of view, create, str_replace, insert, undo_edit");
  const auto path = object.find("path");
  if (path == object.end() || !path->is_string() || path->get<std::string>().empty()) {
    return InvalidArgument("str_replace_editor needs 'path', a non-empty string");
  }
  edit.path = path->get<std::string>();
  for (const auto& [field, out] : {std::pair{"file_text", &edit.file_text}, std::pair{"old_str", &edit.old_str},
                                   std::pair{"new_str", &edit.new_str}}) {
    if (Status s = OptionalString(object, field, out); !s.ok()) return s;
  }
  if (const auto line = object.find("insert_line"); line != object.end() && !line->is_null()) {
    if (!line->is_number_integer()) return InvalidArgument("'insert_line' must be an integer");
    edit.insert_line = line->get<int64_t>();
  }
  if (const auto range = object.find("view_range"); range != object.end() && !range->is_null()) {
    if (!range->is_array() || range->size() != 2 || !(*range)[0].is_number_integer() || !(*range)[1].is_number_integer()) {
      return InvalidArgument("'view_range' must be [first_line, last_line] (last -1: to the end)");
    }
    edit.view_range = std::pair((*range)[0].get<int64_t>(), (*range)[1].get<int64_t>());
  }
  switch (edit.command) {
    case EditCommand::kCreate:
      if (!edit.file_text) return InvalidArgument("create needs 'file_text'");
      break;
    case EditCommand::kStrReplace:
      if (!edit.old_str) return InvalidArgument("str_replace needs 'old_str'");
      break;
    case EditCommand::kInsert:
      if (!edit.insert_line || !edit.new_str) return InvalidArgument("insert needs 'insert_line' and 'new_str'");
      break;
    case EditCommand::kView:
    case EditCommand::kUndoEdit:
      break;
  }
  return Action(std::move(edit));
}

}  // namespace

StatusOr<Action> ParseAction(std::string_view text) {
  const json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) return InvalidArgument("not a JSON object; " + std::string(kFormat));
  const auto tool = object.find("tool");
  if (tool == object.end() || !tool->is_string()) return InvalidArgument("'tool' is missing; " + std::string(kFormat));
  const std::string name = tool->get<std::string>();
  if (name == "bash") return ParseBash(object);
  if (name == "str_replace_editor") return ParseEdit(object);
  if (name == "submit") {
    if (Status s = CheckKeys(object, {"tool"}); !s.ok()) return s;
    return Action(SubmitAction{});
  }
  return InvalidArgument("unknown tool '" + name + "'; " + std::string(kFormat));
}

}  // namespace rock::envs::swebench
