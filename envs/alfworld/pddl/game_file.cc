#include "envs/alfworld/pddl/game_file.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "envs/alfworld/pddl/json_skim.h"

namespace rock::alfworld::pddl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::array<std::string_view, 6> kTaskTypes = {
    "pick_and_place_simple",         "look_at_obj_in_light",          "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep", "pick_two_obj_and_place",
};

// Real game files are 30–300 KiB and traj_data.json at most a few MiB; the cap only keeps a
// wrong path (a disk image, /dev/zero) from being read into memory.
constexpr uintmax_t kMaxFileBytes = uintmax_t{64} << 20;

constexpr std::string_view kGameFile = "game.tw-pddl";
constexpr std::string_view kInitialState = "initial_state.pddl";
constexpr std::string_view kTrajData = "traj_data.json";

// alfred.twl2's task rule is "Your task is to: UNKNOWN GOAL."; ALFWorld replaces UNKNOWN GOAL
// with the task description when it writes a game file.
constexpr std::string_view kTaskPrefix = "Your task is to: ";
constexpr std::string_view kUnfilledTask = "UNKNOWN GOAL.";

Status FileError(const fs::path& file, std::string_view message) {
  return InvalidArgument(file.string() + ": " + std::string(message));
}

// "a/b/" and "a/./b" name the same trial as "a/b"; ids and parent lookups need one spelling.
fs::path Normalize(const fs::path& path) {
  fs::path out = path.lexically_normal();
  if (!out.has_filename() && out.has_parent_path()) out = out.parent_path();
  return out;
}

bool IsFile(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

StatusOr<std::string> ReadFile(const fs::path& file) {
  std::error_code ec;
  uintmax_t size = fs::file_size(file, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return NotFound(file.string() + ": no such file");
    return IoError(file.string() + ": " + ec.message());
  }
  if (size > kMaxFileBytes) {
    return FileError(file, std::to_string(size) + " bytes is more than a game file may have (64 MiB)");
  }
  std::ifstream in(file, std::ios::binary);
  std::string text(size, '\0');
  if (!in || !in.read(text.data(), static_cast<std::streamsize>(size))) {
    return IoError(file.string() + ": read failed");
  }
  return text;
}

// nlohmann reports bad JSON by exception (parse_error for syntax, out_of_range for a number too
// large); they are turned into a Status here and never leave this file.
StatusOr<json> ParseJsonObject(std::string_view text, const fs::path& file) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 9: <why>; last
    // read: '<token>'"; the id means nothing to a user and the token can be megabytes long.
    constexpr size_t kMaxShown = 160;
    std::string_view what = e.what();
    if (size_t id_end = what.find("] "); id_end != std::string_view::npos) what.remove_prefix(id_end + 2);
    what = what.substr(0, what.find("; last read:"));
    std::string shown(what.substr(0, kMaxShown));
    if (what.size() > kMaxShown) shown += "...";
    return FileError(file, "not valid JSON: " + shown);
  }
  if (!doc.is_object()) {
    return FileError(file, std::string("top level is ") + doc.type_name() + ", expected an object");
  }
  return doc;
}

Status WrongType(const fs::path& file, std::string_view field, const json& got, json::value_t expected) {
  return FileError(file, "field '" + std::string(field) + "' is " + got.type_name() + ", expected " +
                             json(expected).type_name());
}

// The field `key` of `obj`, which must have `type`. `where` names obj in messages.
StatusOr<const json*> Field(const json& obj, std::string_view key, json::value_t type,
                            const fs::path& file, std::string_view where = "") {
  std::string name = std::string(where) + std::string(key);
  auto it = obj.find(key);
  if (it == obj.end()) return FileError(file, "missing field '" + name + "'");
  if (it->type() != type) return WrongType(file, name, *it, type);
  return &*it;
}

StatusOr<std::string> StringField(const json& obj, std::string_view key, const fs::path& file,
                                  std::string_view where = "") {
  StatusOr<const json*> field = Field(obj, key, json::value_t::string, file, where);
  if (!field.ok()) return field.status();
  return field.value()->get<std::string>();
}

// "solvable" is true or false once ALFWorld's expert has tried the game; alfworld-generate writes
// null before that and old game files have no field. Only an explicit false marks a game
// unsolvable.
StatusOr<bool> SolvableField(const json& doc, const fs::path& file) {
  auto it = doc.find("solvable");
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_boolean()) return WrongType(file, "solvable", *it, json::value_t::boolean);
  return it->get<bool>();
}

bool IsTaskType(std::string_view name) {
  return std::find(kTaskTypes.begin(), kTaskTypes.end(), name) != kTaskTypes.end();
}

// The task type that starts a name like "pick_heat_then_place_in_recep-Potato-None-SinkBasin-14",
// or "" when the name does not start with one of the six.
std::string TaskTypeOfName(std::string_view name) {
  std::string_view prefix = name.substr(0, name.find('-'));
  return IsTaskType(prefix) ? std::string(prefix) : std::string();
}

// A game file or trial directory says its task type through the task directory it sits in (or
// its own name, for a game file kept outside the json_2.1.x layout).
std::string TaskTypeOfPath(const fs::path& path) {
  for (const fs::path& p : {path, path.parent_path(), path.parent_path().parent_path()}) {
    std::string type = TaskTypeOfName(p.stem().string());
    if (!type.empty()) return type;
  }
  return {};
}

// "<split>/<task dir>/<trial dir>" for a trial inside json_2.1.x/, else the path itself.
std::string GameId(const fs::path& trial_dir, const fs::path& fallback) {
  fs::path task = trial_dir.parent_path();
  fs::path split = task.parent_path();
  if (!split.parent_path().filename().string().starts_with("json_2.1.")) return fallback.string();
  return (split.filename() / task.filename() / trial_dir.filename()).generic_string();
}

// The task text from the grammar's "task" rule: `"rhs": "Your task is to: <text>"`, decoded as
// the JSON string it is. "" when the grammar has no filled-in task rule.
std::string TaskTextOfGrammar(std::string_view grammar) {
  size_t rule = grammar.find("\"task\"");
  if (rule == std::string_view::npos) return {};
  size_t rhs = grammar.find("\"rhs\"", rule);
  if (rhs == std::string_view::npos) return {};
  size_t open = grammar.find('"', grammar.find(':', rhs + 5));
  if (open == std::string_view::npos) return {};
  size_t close = open + 1;
  while (close < grammar.size() && grammar[close] != '"') close += grammar[close] == '\\' ? 2 : 1;
  if (close >= grammar.size()) return {};
  json literal = json::parse(grammar.substr(open, close - open + 1), nullptr, /*allow_exceptions=*/false);
  if (!literal.is_string()) return {};
  std::string text = literal.get<std::string>();
  if (!text.starts_with(kTaskPrefix) || text.ends_with(kUnfilledTask)) return {};
  return text.substr(kTaskPrefix.size());
}

Status CheckAlfred(const std::string& domain, const fs::path& file, std::string_view where) {
  if (domain == "alfred") return Status::Ok();
  return FileError(file, std::string(where) + " is for domain '" + domain + "', expected 'alfred'");
}

StatusOr<Problem> ParseAlfredProblem(std::string_view text, const fs::path& file, std::string_view where) {
  StatusOr<Problem> problem = ParseProblem(text);
  if (!problem.ok()) return problem.status().WithContext(file.string() + ": " + std::string(where));
  if (Status s = CheckAlfred(problem->domain, file, where); !s.ok()) return s;
  return problem;
}

// traj_data.json: the task type and the pddl_params that fill the task's goal template.
Status LoadTrajData(const fs::path& file, GameFile* game) {
  StatusOr<std::string> text = ReadFile(file);
  if (!text.ok()) return text.status();
  StatusOr<json> doc = ParseJsonObject(*text, file);
  if (!doc.ok()) return doc.status();
  StatusOr<std::string> type = StringField(*doc, "task_type", file);
  if (!type.ok()) return type.status();
  if (!IsTaskType(*type)) {
    return FileError(file, "task_type '" + *type + "' is not one of the six ALFWorld task types");
  }
  StatusOr<const json*> params = Field(*doc, "pddl_params", json::value_t::object, file);
  if (!params.ok()) return params.status();
  TaskParams out;
  const std::pair<std::string_view, std::string*> strings[] = {
      {"object_target", &out.object_target},
      {"parent_target", &out.parent_target},
      {"mrecep_target", &out.mrecep_target},
      {"toggle_target", &out.toggle_target},
  };
  for (const auto& [key, target] : strings) {
    StatusOr<std::string> value = StringField(**params, key, file, "pddl_params.");
    if (!value.ok()) return value.status();
    *target = std::move(value.value());
  }
  StatusOr<const json*> sliced =
      Field(**params, "object_sliced", json::value_t::boolean, file, "pddl_params.");
  if (!sliced.ok()) return sliced.status();
  out.object_sliced = sliced.value()->get<bool>();
  game->task_type = std::move(type.value());
  game->params = std::move(out);
  return Status::Ok();
}

// ALFWorld never made game files for sliced-object trials ("AppleSliced") nor for the seventh
// ALFRED task type, pick_and_place_with_movable_recep: its TextWorld games do not support them,
// so they are not part of any split.
bool IsSupportedTaskDir(const std::string& name) {
  return !TaskTypeOfName(name).empty() && name.find("Sliced") == std::string::npos;
}

// Whether a trial belongs in its split; see ListSplit.
StatusOr<bool> IsPlayableTrial(const fs::path& trial_dir) {
  fs::path game_file = trial_dir / kGameFile;
  if (!IsFile(game_file)) return IsFile(trial_dir / kInitialState) && IsFile(trial_dir / kTrajData);
  StatusOr<std::string> text = ReadFile(game_file);
  if (!text.ok()) return text.status();
  switch (SkimTopLevelLiteral(*text, "solvable")) {
    case SkimmedLiteral::kFalse: return false;
    case SkimmedLiteral::kTrue:
    case SkimmedLiteral::kNull:
    case SkimmedLiteral::kAbsent: return true;
    case SkimmedLiteral::kUnknown: break;
  }
  // Not a literal, or not JSON the skim can follow: decoding it names the problem.
  StatusOr<json> doc = ParseJsonObject(*text, game_file);
  if (!doc.ok()) return doc.status();
  return SolvableField(*doc, game_file);
}

// Subdirectory names of `dir` (those `keep` accepts), sorted bytewise.
StatusOr<std::vector<std::string>> SortedSubdirs(const fs::path& dir, bool (*keep)(const std::string&)) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    std::string name = it->path().filename().string();
    if (it->is_directory(type_ec) && keep(name)) names.push_back(std::move(name));
  }
  if (ec == std::errc::no_such_file_or_directory) return NotFound(dir.string() + ": no such directory");
  if (ec) return IoError(dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

StatusOr<GameFile> ParseTwPddl(std::string_view json_text, const fs::path& file) {
  StatusOr<json> doc = ParseJsonObject(json_text, file);
  if (!doc.ok()) return doc.status();

  StatusOr<std::string> domain_text = StringField(*doc, "pddl_domain", file);
  if (!domain_text.ok()) return domain_text.status();
  StatusOr<std::string> domain = ParseDomainName(*domain_text);
  if (!domain.ok()) return domain.status().WithContext(file.string() + ": pddl_domain");
  if (Status s = CheckAlfred(*domain, file, "pddl_domain"); !s.ok()) return s;

  StatusOr<std::string> grammar = StringField(*doc, "grammar", file);
  if (!grammar.ok()) return grammar.status();
  StatusOr<std::string> problem_text = StringField(*doc, "pddl_problem", file);
  if (!problem_text.ok()) return problem_text.status();
  StatusOr<Problem> problem = ParseAlfredProblem(*problem_text, file, "pddl_problem");
  if (!problem.ok()) return problem.status();
  StatusOr<bool> solvable = SolvableField(*doc, file);
  if (!solvable.ok()) return solvable.status();

  GameFile game;
  // Written by alfworld-generate once its expert has won the game; absent from older files.
  if (auto it = doc->find("walkthrough"); it != doc->end() && !it->is_null()) {
    if (!it->is_array()) return WrongType(file, "walkthrough", *it, json::value_t::array);
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return WrongType(file, "walkthrough[" + std::to_string(i) + "]", (*it)[i], json::value_t::string);
      }
      game.walkthrough.push_back((*it)[i].get<std::string>());
    }
  }
  fs::path path = Normalize(file);
  game.id = path.filename() == kGameFile ? GameId(path.parent_path(), file) : file.string();
  game.task_type = TaskTypeOfPath(path);
  game.task_text = TaskTextOfGrammar(*grammar);
  game.problem = std::move(problem.value());
  game.solvable = *solvable;
  return game;
}

StatusOr<GameFile> LoadTwPddl(const fs::path& file) {
  StatusOr<std::string> text = ReadFile(file);
  if (!text.ok()) return text.status();
  return ParseTwPddl(*text, file);
}

StatusOr<GameFile> LoadTrial(const fs::path& trial_dir) {
  fs::path dir = Normalize(trial_dir);
  GameFile game;
  if (IsFile(dir / kGameFile)) {
    StatusOr<GameFile> loaded = LoadTwPddl(dir / kGameFile);
    if (!loaded.ok()) return loaded.status();
    game = std::move(loaded.value());
    game.id = GameId(dir, trial_dir);
  } else if (IsFile(dir / kInitialState)) {
    // Without a game file the task comes from traj_data.json alone, so it must be there.
    if (!IsFile(dir / kTrajData)) {
      return NotFound(trial_dir.string() + ": has initial_state.pddl but no traj_data.json");
    }
    fs::path file = dir / kInitialState;
    StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) return text.status();
    StatusOr<Problem> problem = ParseAlfredProblem(*text, file, "problem");
    if (!problem.ok()) return problem.status();
    game.id = GameId(dir, trial_dir);
    game.task_type = TaskTypeOfPath(dir);
    game.problem = std::move(problem.value());
  } else {
    return NotFound(trial_dir.string() + ": has neither game.tw-pddl nor initial_state.pddl");
  }
  if (IsFile(dir / kTrajData)) {
    if (Status s = LoadTrajData(dir / kTrajData, &game); !s.ok()) return s;
  }
  return game;
}

StatusOr<std::vector<fs::path>> ListSplit(const fs::path& data_root, std::string_view split) {
  // The split comes from API requests; it must name a directory, never walk out of the tree.
  if (split.empty() || split == "." || split == ".." || split.find('/') != std::string_view::npos) {
    return InvalidArgument("split '" + std::string(split) + "' is not a split name");
  }
  StatusOr<std::vector<std::string>> versions = SortedSubdirs(
      data_root, [](const std::string& name) { return name.starts_with("json_2.1."); });
  if (!versions.ok()) return versions.status();
  if (versions->empty()) {
    return NotFound(data_root.string() + ": no json_2.1.x directory (is it the ALFWORLD_DATA folder?)");
  }
  // json_2.1.1 is the only release; should another appear, the newest one is served.
  fs::path split_dir = data_root / versions->back() / split;
  std::error_code ec;
  if (!fs::is_directory(split_dir, ec)) return NotFound(split_dir.string() + ": no such split directory");

  StatusOr<std::vector<std::string>> tasks = SortedSubdirs(split_dir, IsSupportedTaskDir);
  if (!tasks.ok()) return tasks.status();
  std::vector<fs::path> trials;
  for (const std::string& task : *tasks) {
    StatusOr<std::vector<std::string>> names = SortedSubdirs(
        split_dir / task, [](const std::string& name) { return name.starts_with("trial_"); });
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      fs::path trial = split_dir / task / name;
      StatusOr<bool> playable = IsPlayableTrial(trial);
      if (!playable.ok()) return playable.status();
      if (*playable) trials.push_back(std::move(trial));
    }
  }
  return trials;
}

}  // namespace rock::alfworld::pddl
