#include "envs/alfworld/alfworld_env.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "envs/alfworld/expert.h"
#include "envs/alfworld/generator.h"
#include "envs/alfworld/pddl/game_file.h"

namespace rock::alfworld {
namespace {

constexpr std::string_view kFields[] = {"type",      "seed",             "split", "index", "gamefile",
                                        "max_steps", "alfworld_version", "reward", "expert",
                                        "start_near_goal"};

// Commands the expert may take to finish from any state; a plan longer than this counts as
// unreachable for the progress reward (the expert needs at most a few dozen).
constexpr int kExpertPlanBudget = 200;

Status FieldError(std::string_view field, std::string_view want) {
  return InvalidArgument("task." + std::string(field) + ": expected " + std::string(want));
}

struct TaskRequest {
  std::optional<TaskType> type;
  std::optional<uint64_t> seed, index;
  std::optional<Split> split;
  std::string split_name;
  std::string gamefile;
  int max_steps = kDefaultMaxSteps;
  Grammar grammar = Grammar::kV04;
  bool progress_reward = false;
  bool expert = false;
  int start_near_goal = 0;  // 0: from the game's start
};

// "0.3", "0.3.2", "0.4", ...: versions before 0.4 use the old grammar.
bool ParseVersion(const std::string& v, Grammar* grammar) {
  int major = 0, minor = 0;
  char dot = 0;
  int consumed = 0;
  if (std::sscanf(v.c_str(), "%d%c%d%n", &major, &dot, &minor, &consumed) != 3 || dot != '.') {
    return false;
  }
  const std::string rest = v.substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest[0] != '.') return false;
  *grammar = (major == 0 && minor < 4) ? Grammar::kV03 : Grammar::kV04;
  return true;
}

StatusOr<TaskRequest> ParseTask(const nlohmann::json& task, uint64_t seed) {
  if (!task.is_object()) return InvalidArgument("task: expected an object");
  for (const auto& [key, value] : task.items()) {
    if (std::find(std::begin(kFields), std::end(kFields), key) == std::end(kFields)) {
      return InvalidArgument("task." + key + ": unknown field");
    }
  }
  TaskRequest req;
  auto unsigned_field = [&](const char* name, std::optional<uint64_t>* out) -> Status {
    if (!task.contains(name)) return Status::Ok();
    const nlohmann::json& v = task.at(name);
    // JSON numbers written as 3 parse as signed integers; any integer >= 0 will do.
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
      return FieldError(name, "a non-negative integer");
    }
    *out = v.get<uint64_t>();
    return Status::Ok();
  };
  if (Status st = unsigned_field("seed", &req.seed); !st.ok()) return st;
  if (Status st = unsigned_field("index", &req.index); !st.ok()) return st;
  if (task.contains("type")) {
    const nlohmann::json& v = task.at("type");
    if (!v.is_string()) return FieldError("type", "a task type string");
    req.type = ParseTaskType(v.get<std::string>());
    if (!req.type) return FieldError("type", "one of the six ALFWorld task types");
  }
  if (task.contains("split")) {
    const nlohmann::json& v = task.at("split");
    if (!v.is_string()) return FieldError("split", "\"train\", \"valid_seen\" or \"valid_unseen\"");
    req.split_name = v.get<std::string>();
    req.split = ParseSplit(req.split_name);
    if (!req.split) return FieldError("split", "\"train\", \"valid_seen\" or \"valid_unseen\"");
  }
  if (task.contains("gamefile")) {
    const nlohmann::json& v = task.at("gamefile");
    if (!v.is_string() || v.get<std::string>().empty()) return FieldError("gamefile", "a path");
    req.gamefile = v.get<std::string>();
  }
  if (task.contains("max_steps")) {
    const nlohmann::json& v = task.at("max_steps");
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1000000) {
      return FieldError("max_steps", "an integer in [1, 1000000]");
    }
    req.max_steps = static_cast<int>(v.get<int64_t>());
  }
  if (task.contains("alfworld_version")) {
    const nlohmann::json& v = task.at("alfworld_version");
    if (!v.is_string() || !ParseVersion(v.get<std::string>(), &req.grammar)) {
      return FieldError("alfworld_version", "a version string such as \"0.3\" or \"0.4\"");
    }
  }
  if (task.contains("reward")) {
    const nlohmann::json& v = task.at("reward");
    if (!v.is_string() || (v != "won" && v != "progress")) return FieldError("reward", "\"won\" or \"progress\"");
    req.progress_reward = v == "progress";
  }
  if (task.contains("expert")) {
    const nlohmann::json& v = task.at("expert");
    if (!v.is_boolean()) return FieldError("expert", "true or false");
    req.expert = v.get<bool>();
  }
  if (task.contains("start_near_goal")) {
    const nlohmann::json& v = task.at("start_near_goal");
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kExpertPlanBudget) {
      return FieldError("start_near_goal", "an integer in [1, " + std::to_string(kExpertPlanBudget) + "]");
    }
    req.start_near_goal = static_cast<int>(v.get<int64_t>());
  }
  if (!req.gamefile.empty()) {
    if (req.type || req.split || req.seed || req.index) {
      return InvalidArgument("task.gamefile: cannot be combined with type/split/seed/index");
    }
    return req;
  }
  if (!req.type && req.split) return FieldError("type", "a task type with split (or give task.gamefile)");
  if (req.split && !req.index) return FieldError("index", "a non-negative integer with split");
  if (req.index && !req.split) return FieldError("split", "a split name with index");
  if (req.split && req.seed) return InvalidArgument("task.seed: cannot be combined with split");
  if (!req.split && !req.seed) req.seed = seed;
  // Generic clients (GEM's make/reset) know only a seed: it picks the task type too.
  if (!req.type) req.type = kAllTaskTypes[*req.seed % kAllTaskTypes.size()];
  return req;
}

// The real games of one split and task type under ALFWORLD_DATA, listed once per process.
StatusOr<std::filesystem::path> RealTrial(const std::string& root, const std::string& split,
                                          TaskType type, uint64_t index) {
  static std::mutex mu;
  static std::map<std::string, std::vector<std::filesystem::path>> cache;
  const std::string key = root + "\n" + split + "\n" + std::string(TaskTypeName(type));
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it == cache.end()) {
    StatusOr<std::vector<std::filesystem::path>> trials = pddl::ListSplit(root, split);
    if (!trials.ok()) return trials.status().WithContext("ALFWORLD_DATA=" + root);
    std::vector<std::filesystem::path> of_type;
    const std::string prefix = std::string(TaskTypeName(type)) + "-";
    for (const auto& trial : *trials) {
      if (trial.parent_path().filename().string().rfind(prefix, 0) == 0) of_type.push_back(trial);
    }
    it = cache.emplace(key, std::move(of_type)).first;
  }
  if (index >= it->second.size()) {
    return InvalidArgument("task.index: " + std::to_string(index) + " is past the " +
                           std::to_string(it->second.size()) + " " +
                           std::string(TaskTypeName(type)) + " games of " + split);
  }
  return it->second[index];
}

// Games are immutable, so every episode of one task in this process (a group of episodes on
// several slots, a replay after failover) shares one: a new game costs about a millisecond to
// build, a cached one nothing. Bounded; the least recently used game goes first. A game file
// is read once while its game stays cached.
class GameCache {
 public:
  template <typename Make>
  StatusOr<std::shared_ptr<const Game>> Get(const std::string& key, Make&& make) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = games_.find(key);
      if (it != games_.end()) {
        it->second.last_use = ++clock_;
        return it->second.game;
      }
    }
    // Built outside the lock: another slot's reset need not wait for this one.
    StatusOr<std::shared_ptr<const Game>> game = make();
    if (!game.ok()) return game;
    std::lock_guard<std::mutex> lock(mu_);
    if (games_.size() >= kCapacity) {
      auto older = [](const auto& a, const auto& b) {
        return a.second.last_use < b.second.last_use;
      };
      auto oldest = std::min_element(games_.begin(), games_.end(), older);
      games_.erase(oldest);
    }
    games_[key] = {*game, ++clock_};
    return game;
  }

 private:
  static constexpr size_t kCapacity = 256;
  struct Entry {
    std::shared_ptr<const Game> game;
    uint64_t last_use = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> games_;
  uint64_t clock_ = 0;
};

GameCache& Cache() {
  static GameCache cache;
  return cache;
}

StatusOr<std::shared_ptr<const Game>> LoadGameFile(const std::filesystem::path& path) {
  std::error_code ec;
  StatusOr<pddl::GameFile> file =
      std::filesystem::is_directory(path, ec) ? pddl::LoadTrial(path) : pddl::LoadTwPddl(path);
  if (!file.ok()) return file.status();
  return MakeGame(file->problem, file->id, file->task_text);
}

}  // namespace

AlfworldEnv::AlfworldEnv(std::string data_dir) : data_dir_(std::move(data_dir)) {
  if (const char* from_env = std::getenv("ALFWORLD_DATA"); data_dir_.empty() && from_env != nullptr) data_dir_ = from_env;
}
AlfworldEnv::~AlfworldEnv() = default;

StatusOr<envs::ResetResult> AlfworldEnv::Reset(const nlohmann::json& task, uint64_t seed) {
  StatusOr<TaskRequest> parsed = ParseTask(task, seed);
  if (!parsed.ok()) return parsed.status();
  const TaskRequest& req = *parsed;

  // The game a task names; made again only when the task names another one.
  std::string key, gamefile;
  Split split = req.split.value_or(Split::kTrain);
  uint64_t index = req.split ? *req.index : req.seed.value_or(0);
  if (!req.gamefile.empty()) {
    // Relative to the data (inside a sandbox the only place game files are).
    gamefile = req.gamefile.front() == '/' || data_dir_.empty() ? req.gamefile
                                                                  : (std::filesystem::path(data_dir_) / req.gamefile).string();
  } else if (req.split && !data_dir_.empty()) {
    StatusOr<std::filesystem::path> trial = RealTrial(data_dir_, req.split_name, *req.type, index);
    if (!trial.ok()) return trial.status();
    gamefile = trial->string();
  }
  key = !gamefile.empty() ? "file:" + gamefile
                          : "gen:" + std::string(SplitName(split)) + ":" +
                                std::string(TaskTypeName(*req.type)) + ":" + std::to_string(index);
  if (key != game_key_ || !game_) {
    auto make = [&]() -> StatusOr<std::shared_ptr<const Game>> {
      if (!gamefile.empty()) return LoadGameFile(gamefile);
      StatusOr<GeneratedGame> gen = GenerateGame(*req.type, split, index);
      if (!gen.ok()) return gen.status();
      return MakeGame(gen->problem, gen->id, gen->task_text);
    };
    StatusOr<std::shared_ptr<const Game>> game = Cache().Get(key, make);
    if (!game.ok()) return game.status();
    game_ = std::move(*game);
    engine_.reset();
  }
  if (engine_ && engine_->grammar() == req.grammar) {
    engine_->Reset();
  } else {
    engine_ = std::make_unique<Engine>(game_, req.grammar);
  }
  game_key_ = key;
  gamefile_ = gamefile;
  max_steps_ = req.max_steps;
  steps_ = 0;
  done_ = engine_->won();
  progress_reward_ = req.progress_reward;
  expert_ = req.expert;
  if (req.start_near_goal > 0) StartNearGoal(req.start_near_goal);
  PlanFromHere();
  best_plan_length_ = plan_length_;
  envs::ResetResult result;
  result.observation = engine_->observation();
  result.info = Info();
  return result;
}

StatusOr<envs::StepResult> AlfworldEnv::Step(std::string_view action) {
  if (!engine_) return FailedPrecondition("step before reset");
  if (done_) return FailedPrecondition("the episode has ended; reset first");
  Engine::Outcome outcome = engine_->Step(action);
  ++steps_;
  envs::StepResult result;
  result.observation = engine_->observation();
  result.terminated = outcome.won;
  result.reward = outcome.won ? 1.0 : 0.0;
  PlanFromHere();
  if (progress_reward_) {
    result.reward = std::max(0, best_plan_length_ - plan_length_);
    best_plan_length_ = std::min(best_plan_length_, plan_length_);
  }
  result.truncated = !outcome.won && steps_ >= max_steps_;
  done_ = result.terminated || result.truncated;
  result.info = Info();
  return result;
}

void AlfworldEnv::StartNearGoal(int commands_left) {
  Engine copy = *engine_;
  const std::vector<std::string> plan = RunExpert(copy, kExpertPlanBudget);
  if (!copy.won()) return;
  for (size_t i = 0; i + static_cast<size_t>(commands_left) < plan.size(); i++) engine_->Step(plan[i]);
}

void AlfworldEnv::PlanFromHere() {
  expert_action_.clear();
  plan_length_ = 0;
  if (engine_->won()) return;
  if (!progress_reward_) {
    if (expert_) expert_action_ = ExpertCommand(*engine_);
    return;
  }
  // The whole plan's first command is the expert's next one: one run of the expert for both.
  Engine copy = *engine_;
  std::vector<std::string> plan = RunExpert(copy, kExpertPlanBudget);
  plan_length_ = copy.won() ? static_cast<int>(plan.size()) : kExpertPlanBudget;
  if (expert_ && !plan.empty()) expert_action_ = std::move(plan.front());
}

nlohmann::json AlfworldEnv::Info() {
  nlohmann::json info = nlohmann::json::object();
  nlohmann::json commands = nlohmann::json::array();
  for (const std::string& c : engine_->AdmissibleCommands()) commands.push_back(c);
  info["admissible_commands"] = std::move(commands);
  info["won"] = engine_->won();
  info["task"] = engine_->game().task_text;
  info["game_id"] = engine_->game().id;
  if (progress_reward_) info["expert_plan_length"] = plan_length_;
  if (expert_ && !done_ && !expert_action_.empty()) info["expert_action"] = expert_action_;
  if (!gamefile_.empty()) info["gamefile"] = gamefile_;
  return info;
}

}  // namespace rock::alfworld
