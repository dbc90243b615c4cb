#include "envs/swebench/swebench_env.h"

#include <chrono>
#include <fstream>
#include <system_error>
#include <utility>
#include <variant>

#include "envs/swebench/action.h"
#include "envs/swebench/evaluation.h"

namespace rock::envs::swebench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint32_t kDefaultMaxSteps = 50;
constexpr uint32_t kMaxMaxSteps = 1000;
constexpr uint32_t kDefaultBashTimeoutS = 60;
constexpr uint32_t kMaxBashTimeoutS = 3600;
// What one bash action shows the agent, per stream.
constexpr uint64_t kBashOutputBytes = 64 << 10;
// A model patch larger than this is not graded (the exec's output cap decides the real limit).
constexpr uint64_t kPatchBytes = 1 << 20;
constexpr uint32_t kHousekeepingTimeoutS = 120;
// The tail of the test log kept in the final step's info.
constexpr std::size_t kTestLogTail = 16 << 10;

// Every command's environment: git reads only the workspace's own config (ClearWorkspace), no
// pager or prompt, no .pyc files in the diff.
std::map<std::string, std::string> CommandEnv(const std::string& home) {
  return {{"HOME", home},
          {"PYTHONDONTWRITEBYTECODE", "1"},
          {"TERM", "dumb"},
          {"PAGER", "cat"},
          {"GIT_PAGER", "cat"},
          {"GIT_TERMINAL_PROMPT", "0"},
          {"GIT_CONFIG_NOSYSTEM", "1"},
          {"GIT_CONFIG_GLOBAL", home + "/.gitconfig"},
          {"GIT_AUTHOR_NAME", "agent"},
          {"GIT_AUTHOR_EMAIL", "agent@sandbox"},
          {"GIT_COMMITTER_NAME", "agent"},
          {"GIT_COMMITTER_EMAIL", "agent@sandbox"}};
}

Status ReadBound(const json& task, const char* field, uint32_t low, uint32_t high, uint32_t* out) {
  const auto it = task.find(field);
  if (it == task.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer() || it->get<int64_t>() < low || it->get<int64_t>() > high) {
    return InvalidArgument("task '" + std::string(field) + "' must be a whole number from " + std::to_string(low) + " to " +
                           std::to_string(high));
  }
  *out = it->get<uint32_t>();
  return Status::Ok();
}

Status ReadTaskString(const json& task, const char* field, bool required, std::string* out) {
  const auto it = task.find(field);
  if (it == task.end() || it->is_null()) {
    return required ? InvalidArgument("task '" + std::string(field) + "' is required") : Status::Ok();
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    return InvalidArgument("task '" + std::string(field) + "' must be a non-empty string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}

std::string Instructions(const std::string& repo_dir, const std::string& repo, const std::string& base, uint32_t max_steps,
                         uint32_t bash_timeout_s) {
  return "\n\nYou are in a checkout of " + repo + " at " + repo_dir + " (commit " + base.substr(0, 12) +
         "). Change the code so that the issue above is fixed.\n"
         "Act with one JSON object per step:\n"
         "  {\"tool\":\"bash\",\"command\":\"...\"}  runs a command in the repository (a fresh shell each time, " +
         std::to_string(bash_timeout_s) +
         " s at most)\n"
         "  {\"tool\":\"str_replace_editor\",\"command\":\"view\",\"path\":\"...\"}  also create, str_replace, insert, "
         "undo_edit\n"
         "  {\"tool\":\"submit\"}  ends the episode: your changes (git diff) are graded by the project's tests\n"
         "You have " +
         std::to_string(max_steps) + " steps.\n";
}

std::string Summary(const json& report) {
  const json& status = report.at("tests_status");
  const auto count = [&](const char* kind) {
    return std::to_string(status.at(kind).at("success").size()) + "/" +
           std::to_string(status.at(kind).at("success").size() + status.at(kind).at("failure").size());
  };
  std::string text = "Evaluated: patch " +
                     std::string(!report.at("patch_exists").get<bool>()           ? "empty"
                                 : report.at("patch_successfully_applied").get<bool>() ? "applied"
                                                                                        : "did not apply") +
                     "; FAIL_TO_PASS " + count("FAIL_TO_PASS") + " pass, PASS_TO_PASS " + count("PASS_TO_PASS") + " pass";
  if (report.value("tests_timed_out", false)) text += "; the tests timed out";
  if (report.contains("error")) text += "; " + report.at("error").get<std::string>().substr(0, 200);
  return text + (report.at("resolved").get<bool>() ? ". Resolved." : ". Not resolved.");
}

}  // namespace

SwebenchEnv::SwebenchEnv(EnvOptions options)
    : options_(std::move(options)),
      workspace_(options_.workspace_dir),
      repo_dir_((workspace_ / "repo").string()),
      commands_(options_.run_exec, CommandEnv(options_.workspace_dir)) {}

StatusOr<fs::path> SwebenchEnv::DataPath(const std::string& field, const std::string& relative) const {
  const fs::path path = fs::path(relative).lexically_normal();
  if (path.is_absolute() || path.empty() || *path.begin() == "..") {
    return InvalidArgument("task '" + field + "' must be a path inside the SWE-bench data directory, not '" + relative + "'");
  }
  return fs::path(options_.data_dir) / path;
}

StatusOr<const std::vector<Instance>*> SwebenchEnv::InstancesIn(const fs::path& file) {
  std::error_code ec;
  const fs::file_time_type modified = fs::last_write_time(file, ec);
  if (ec) return NotFound("cannot open instance file " + file.string() + ": " + ec.message());
  const auto cached = instance_files_.find(file);
  if (cached != instance_files_.end() && cached->second.modified == modified) return &cached->second.instances;
  auto instances = LoadInstances(file);
  if (!instances.ok()) return instances.status();
  LoadedInstances& loaded = instance_files_[file];
  loaded = {.modified = modified, .instances = std::move(instances).value()};
  return &loaded.instances;
}

StatusOr<SwebenchEnv::Episode> SwebenchEnv::Resolve(const json& task) {
  if (!task.is_object()) return InvalidArgument("a SWE-bench task must be an object with 'instance_id'");
  for (const auto& [key, value] : task.items()) {
    if (key != "instance_id" && key != "instance_file" && key != "repo_path" && key != "max_steps" && key != "bash_timeout_s") {
      return InvalidArgument("unknown task field '" + key + "'");
    }
  }
  if (options_.data_dir.empty()) return FailedPrecondition("this sandbox has no SWE-bench data directory (swebench.data_dir)");
  Episode episode{.max_steps = kDefaultMaxSteps, .bash_timeout_s = kDefaultBashTimeoutS};
  std::string instance_id, instance_file = "instances.jsonl", repo_path;
  for (const Status& s : {ReadTaskString(task, "instance_id", true, &instance_id),
                          ReadTaskString(task, "instance_file", false, &instance_file),
                          ReadTaskString(task, "repo_path", false, &repo_path),
                          ReadBound(task, "max_steps", 1, kMaxMaxSteps, &episode.max_steps),
                          ReadBound(task, "bash_timeout_s", 1, kMaxBashTimeoutS, &episode.bash_timeout_s)}) {
    if (!s.ok()) return s;
  }
  auto file = DataPath("instance_file", instance_file);
  if (!file.ok()) return file.status();
  auto instances = InstancesIn(*file);
  if (!instances.ok()) return instances.status();
  for (const Instance& instance : **instances) {
    if (instance.instance_id == instance_id) episode.instance = instance;
  }
  if (episode.instance.instance_id.empty()) {
    return NotFound("no instance '" + instance_id + "' in " + instance_file);
  }
  auto repos = LoadRepoMap(fs::path(options_.data_dir) / "repos.json");
  if (repos.ok() && repos->contains(episode.instance.repo)) episode.repo = repos->at(episode.instance.repo);
  if (!repo_path.empty()) {
    episode.repo.path = repo_path;
  } else if (!repos.ok()) {
    return repos.status();
  } else if (episode.repo.path.empty()) {
    return NotFound("repos.json has no repo '" + episode.instance.repo + "' (give 'repo_path' in the task)");
  }
  auto mirror = DataPath("repo_path", episode.repo.path);
  if (!mirror.ok()) return mirror.status();
  episode.mirror = mirror->string();
  return episode;
}

Status SwebenchEnv::ClearWorkspace() const {
  std::string dirs = ShellQuote(workspace_.string());
  if (!options_.tmp_dir.empty()) dirs += " " + ShellQuote(options_.tmp_dir);
  const CommandResult cleared =
      commands_.Shell("find " + dirs + " -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +", "/", kHousekeepingTimeoutS, kBashOutputBytes);
  if (!cleared.ok()) return FailedPrecondition("emptying the workspace failed: " + cleared.Output());
  // Git's global config lives here (HOME): the mirrors belong to another uid (safe.directory,
  // which git 2.39 takes only from global or system config), and no hook ever runs. Written
  // anew by every clearing, so what the agent did to it never reaches the grading.
  std::ofstream config(workspace_ / ".gitconfig", std::ios::trunc);
  config << "[safe]\n\tdirectory = *\n[core]\n\thooksPath = /dev/null\n[advice]\n\tdetachedHead = false\n";
  config.close();
  if (!config) return FailedPrecondition("writing " + (workspace_ / ".gitconfig").string() + " failed");
  return Status::Ok();
}

StatusOr<ResetResult> SwebenchEnv::Reset(const json& task, uint64_t /*seed: the instance decides everything*/) {
  if (!options_.run_exec) return FailedPrecondition("the SWE-bench env needs a way to run commands");
  auto episode = Resolve(task);
  if (!episode.ok()) return episode.status();
  episode_.reset();
  const auto started = std::chrono::steady_clock::now();
  if (Status s = ClearWorkspace(); !s.ok()) return s;
  if (Status s = GitCheckout(commands_, episode->mirror, episode->instance.base_commit, repo_dir_); !s.ok()) return s;
  episode->editor = std::make_unique<Editor>(repo_dir_);
  const Instance& instance = episode->instance;
  ResetResult result;
  result.observation = instance.problem_statement +
                       Instructions(repo_dir_, instance.repo, instance.base_commit, episode->max_steps, episode->bash_timeout_s);
  result.info = {{"instance_id", instance.instance_id},
                 {"repo", instance.repo},
                 {"base_commit", instance.base_commit},
                 {"workspace", repo_dir_},
                 {"max_steps", episode->max_steps},
                 {"tools", {"bash", "str_replace_editor", "submit"}},
                 {"setup_ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count()}};
  episode_ = std::move(episode).value();
  return result;
}

StepResult SwebenchEnv::RunBash(const BashAction& bash) const {
  const uint32_t timeout_s = bash.timeout_s == 0 ? episode_->bash_timeout_s : bash.timeout_s;
  const CommandResult run = commands_.Shell(bash.command, repo_dir_, timeout_s, kBashOutputBytes);
  StepResult step;
  step.observation = run.Output();
  if (run.truncated) step.observation += "\n[output cut at " + std::to_string(kBashOutputBytes) + " bytes per stream]";
  if (run.timed_out) {
    step.observation += "\n[the command ran past " + std::to_string(timeout_s) + " s and was killed with its processes]";
  } else if (run.exit_code != 0) {
    step.observation += "\n[exit code " + std::to_string(run.exit_code) + "]";
  }
  step.info = {{"tool", "bash"}, {"exit_code", run.exit_code}, {"timed_out", run.timed_out}, {"duration_ms", run.duration_ms}};
  return step;
}

StatusOr<StepResult> SwebenchEnv::Step(std::string_view text) {
  if (!episode_) return FailedPrecondition("step before reset");
  if (episode_->done) return FailedPrecondition("the episode has ended; reset for a new one");
  ++episode_->steps;
  StepResult step;
  auto action = ParseAction(text);
  if (!action.ok()) {
    step.observation = "Error: " + action.status().message();
    step.info = {{"error", action.status().message()}};
  } else if (std::holds_alternative<SubmitAction>(*action)) {
    return Finish(/*truncated=*/false);
  } else if (const auto* bash = std::get_if<BashAction>(&*action)) {
    step = RunBash(*bash);
  } else {
    auto edited = episode_->editor->Apply(std::get<EditAction>(*action));
    step.observation = edited.ok() ? *edited : edited.status().message();
    step.info = {{"tool", "str_replace_editor"}};
    if (!edited.ok()) step.info["error"] = edited.status().message();
  }
  if (episode_->steps >= episode_->max_steps) {
    StepResult last = Finish(/*truncated=*/true);
    last.observation = step.observation + "\n\n[step limit reached] " + last.observation;
    return last;
  }
  return step;
}

StepResult SwebenchEnv::Finish(bool truncated) {
  episode_->done = true;
  const auto started = std::chrono::steady_clock::now();
  const std::string base = ShellQuote(episode_->instance.base_commit);
  // The agent's prediction, as SWE-agent takes it: every change, new files included.
  const CommandResult diff = commands_.Shell(
      "git add -A && git diff --cached --binary --no-color --no-ext-diff --no-textconv " + base, repo_dir_, kHousekeepingTimeoutS,
      kPatchBytes);
  StepResult step;
  step.truncated = truncated;
  step.terminated = !truncated;
  Evaluation evaluation;
  if (!diff.ok() || diff.truncated) {
    evaluation.report = {{"instance_id", episode_->instance.instance_id},
                         {"patch_is_None", true},
                         {"patch_exists", false},
                         {"patch_successfully_applied", false},
                         {"resolved", false},
                         {"tests_status", json::object()},
                         {"error", diff.truncated ? "the diff is larger than " + std::to_string(kPatchBytes) + " bytes"
                                                  : "git diff failed: " + diff.Output()}};
    step.observation = "Evaluated: no patch could be taken (" + evaluation.report["error"].get<std::string>() + "). Not resolved.";
  } else {
    // Nothing the agent left in the workspace (a conftest.py, a .pth file) may reach the grading.
    const fs::path eval_dir = workspace_ / "eval";
    std::error_code ec;
    if (Status s = ClearWorkspace(); !s.ok()) {
      evaluation.report = {{"error", s.message()}, {"resolved", false}};
    } else if (fs::create_directory(eval_dir, ec); ec) {
      evaluation.report = {{"error", "creating " + eval_dir.string() + ": " + ec.message()}, {"resolved", false}};
    } else {
      evaluation = Evaluate(commands_, {.instance = &episode_->instance,
                                        .repo = &episode_->repo,
                                        .mirror = episode_->mirror,
                                        .model_patch = diff.stdout_text,
                                        .dir = eval_dir.string()});
    }
    step.observation = evaluation.report.contains("tests_status") ? Summary(evaluation.report)
                                                                  : "Evaluation failed: " + evaluation.report.value("error", "");
    step.info["model_patch"] = diff.stdout_text;
  }
  step.reward = evaluation.resolved ? 1.0 : 0.0;
  const std::size_t tail = evaluation.test_output.size() > kTestLogTail ? evaluation.test_output.size() - kTestLogTail : 0;
  step.info["report"] = std::move(evaluation.report);
  step.info["test_output"] = evaluation.test_output.substr(tail);
  step.info["won"] = evaluation.resolved;
  step.info["eval_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return step;
}

}  // namespace rock::envs::swebench
