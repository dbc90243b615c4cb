// The SWE-bench env in this process (commands run through sandbox::RunExecHere, not a sandbox):
// every shipped instance graded both ways, the tools, malformed actions, the step and test-time
// limits. tests/daemon/rockd_swebench_test.cc plays it in real sandboxes through rockd.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "envs/swebench/evaluation.h"
#include "envs/swebench/instance.h"
#include "envs/swebench/swebench_env.h"
#include "sandbox/exec.h"
#include "sandbox/spec.h"

namespace rock::envs::swebench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class SwebenchEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_ = fs::temp_directory_path() / ("swebench-test-" + std::to_string(getpid()));
    fs::create_directories(workspace_);
  }
  void TearDown() override { fs::remove_all(workspace_); }

  std::unique_ptr<SwebenchEnv> MakeEnv(const std::string& data_dir = ROCK_SWEBENCH_DATA) {
    EnvOptions options{.data_dir = data_dir, .workspace_dir = workspace_.string()};
    options.run_exec = [](const json& exec) { return sandbox::RunExecHere(exec, sandbox::Limits{}); };
    return std::make_unique<SwebenchEnv>(std::move(options));
  }

  static std::string Bash(const std::string& command) { return json{{"tool", "bash"}, {"command", command}}.dump(); }
  static std::string Submit() { return R"({"tool":"submit"})"; }
  // A bash action that applies `patch` in the repository.
  static std::string ApplyPatch(const std::string& patch) {
    return Bash("git apply <<'ROCK_PATCH_END'\n" + patch + "ROCK_PATCH_END\n");
  }

  fs::path workspace_;
};

TEST_F(SwebenchEnvTest, EveryShippedInstanceIsResolvedByItsPatchAndNotByAnEmptyOne) {
  auto instances = LoadInstances(fs::path(ROCK_SWEBENCH_DATA) / "instances.jsonl");
  ASSERT_TRUE(instances.ok()) << instances.status().ToString();
  ASSERT_GE(instances->size(), 12u);
  std::set<std::string> repos;
  for (const Instance& instance : *instances) {
    SCOPED_TRACE(instance.instance_id);
    repos.insert(instance.repo);
    auto env = MakeEnv();
    auto reset = env->Reset({{"instance_id", instance.instance_id}}, 0);
    ASSERT_TRUE(reset.ok()) << reset.status().ToString();
    EXPECT_NE(reset->observation.find(instance.problem_statement), std::string::npos);
    auto empty = env->Step(Submit());
    ASSERT_TRUE(empty.ok()) << empty.status().ToString();
    const json& empty_report = empty->info.at("report");
    EXPECT_EQ(empty->reward, 0.0);
    EXPECT_TRUE(empty->terminated);
    EXPECT_FALSE(empty_report.at("patch_exists").get<bool>());
    EXPECT_FALSE(empty_report.at("resolved").get<bool>());
    EXPECT_FALSE(empty_report.at("tests_status").at("FAIL_TO_PASS").at("failure").empty()) << empty->info.at("test_output");
    EXPECT_TRUE(empty_report.at("tests_status").at("PASS_TO_PASS").at("failure").empty()) << empty->info.at("test_output");

    ASSERT_TRUE(env->Reset({{"instance_id", instance.instance_id}}, 0).ok());
    auto applied = env->Step(ApplyPatch(instance.patch));
    ASSERT_TRUE(applied.ok());
    ASSERT_EQ(applied->info.at("exit_code"), 0) << applied->observation;
    auto fixed = env->Step(Submit());
    ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
    const json& report = fixed->info.at("report");
    EXPECT_EQ(fixed->reward, 1.0) << report.dump(2) << fixed->info.at("test_output");
    EXPECT_TRUE(report.at("patch_exists").get<bool>());
    EXPECT_TRUE(report.at("patch_successfully_applied").get<bool>());
    EXPECT_EQ(report.at("apply_command"), "git apply --verbose");
    EXPECT_EQ(report.at("tests_status").at("FAIL_TO_PASS").at("success").size(), instance.fail_to_pass.size());
    EXPECT_EQ(report.at("tests_status").at("PASS_TO_PASS").at("success").size(), instance.pass_to_pass.size());
    EXPECT_EQ(fixed->info.at("model_patch"), instance.patch);
  }
  EXPECT_GE(repos.size(), 3u);
}

TEST_F(SwebenchEnvTest, ToolsWorkOnTheCheckoutAndMalformedActionsLeaveTheEpisodeGoing) {
  auto env = MakeEnv();
  ASSERT_TRUE(env->Reset({{"instance_id", "rockd-tasks__textkit-1"}}, 0).ok());
  const std::string repo = (workspace_ / "repo").string();

  for (const std::string bad : {"not json", "{}", R"({"tool":"rm"})", R"({"tool":"bash"})", R"({"tool":"bash","command":7})",
                                R"({"tool":"str_replace_editor","command":"explode","path":"x"})",
                                R"({"tool":"str_replace_editor","command":"create","path":"x"})",
                                R"({"tool":"bash","command":"ls","extra":1})"}) {
    SCOPED_TRACE(bad);
    auto step = env->Step(bad);
    ASSERT_TRUE(step.ok());
    EXPECT_TRUE(step->observation.starts_with("Error: ")) << step->observation;
    EXPECT_TRUE(step->info.contains("error"));
    EXPECT_FALSE(step->terminated || step->truncated);
  }

  auto ls = env->Step(Bash("ls && git status --short | wc -l"));
  ASSERT_TRUE(ls.ok());
  EXPECT_NE(ls->observation.find("textkit"), std::string::npos) << ls->observation;
  EXPECT_NE(ls->observation.find("0\n"), std::string::npos) << ls->observation;

  auto failing = env->Step(Bash("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->observation, "out\nerr\n\n[exit code 3]");
  EXPECT_EQ(failing->info.at("exit_code"), 3);

  auto timed_out = env->Step(json{{"tool", "bash"}, {"command", "sleep 30"}, {"timeout_s", 1}}.dump());
  ASSERT_TRUE(timed_out.ok());
  EXPECT_TRUE(timed_out->info.at("timed_out").get<bool>());
  EXPECT_NE(timed_out->observation.find("ran past 1 s"), std::string::npos);

  auto created = env->Step(
      json{{"tool", "str_replace_editor"}, {"command", "create"}, {"path", repo + "/notes.txt"}, {"file_text", "one\ntwo\n"}}.dump());
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->observation, "File created successfully at: " + repo + "/notes.txt");
  auto outside = env->Step(json{{"tool", "str_replace_editor"}, {"command", "view"}, {"path", "/etc/passwd"}}.dump());
  ASSERT_TRUE(outside.ok());
  EXPECT_NE(outside->observation.find("outside the repository"), std::string::npos) << outside->observation;
  auto viewed = env->Step(json{{"tool", "str_replace_editor"}, {"command", "view"}, {"path", "notes.txt"}}.dump());
  ASSERT_TRUE(viewed.ok());
  EXPECT_EQ(viewed->observation, "Here's the result of running `cat -n` on " + repo + "/notes.txt:\n     1\tone\n     2\ttwo\n");

  // The agent's new file is part of its patch.
  auto submitted = env->Step(Submit());
  ASSERT_TRUE(submitted.ok());
  EXPECT_NE(submitted->info.at("model_patch").get<std::string>().find("+++ b/notes.txt"), std::string::npos);
  EXPECT_EQ(submitted->reward, 0.0);
  auto after = env->Step(Bash("ls"));
  EXPECT_EQ(after.status().code(), Code::kFailedPrecondition);
}

TEST_F(SwebenchEnvTest, TheStepLimitGradesTheLastStep) {
  auto env = MakeEnv();
  auto instances = LoadInstances(fs::path(ROCK_SWEBENCH_DATA) / "instances.jsonl");
  ASSERT_TRUE(instances.ok());
  const Instance& instance = instances->front();
  ASSERT_TRUE(env->Reset({{"instance_id", instance.instance_id}, {"max_steps", 2}}, 0).ok());
  auto first = env->Step(Bash("true"));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->truncated);
  auto last = env->Step(ApplyPatch(instance.patch));
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->truncated);
  EXPECT_FALSE(last->terminated);
  EXPECT_EQ(last->reward, 1.0) << last->info.dump(2);
  EXPECT_NE(last->observation.find("[step limit reached]"), std::string::npos);
}

TEST_F(SwebenchEnvTest, TestsThatRunPastTheTimeLimitAreKilledAndFail) {
  // A copy of the data dir whose repo map gives the tests 2 s.
  const fs::path data = workspace_.parent_path() / ("swebench-data-" + std::to_string(getpid()));
  fs::copy(ROCK_SWEBENCH_DATA, data, fs::copy_options::recursive);
  json repos;
  std::ifstream(data / "repos.json") >> repos;
  for (auto& [name, entry] : repos.items()) entry["test_timeout_s"] = 2;
  std::ofstream(data / "repos.json") << repos.dump();
  auto env = MakeEnv(data.string());
  ASSERT_TRUE(env->Reset({{"instance_id", "rockd-tasks__textkit-1"}}, 0).ok());
  // Importing the package now hangs: the tests cannot finish.
  auto hang = env->Step(Bash("echo 'import time; time.sleep(600)' >> textkit/__init__.py"));
  ASSERT_TRUE(hang.ok());
  auto graded = env->Step(Submit());
  fs::remove_all(data);
  ASSERT_TRUE(graded.ok());
  EXPECT_EQ(graded->reward, 0.0);
  EXPECT_TRUE(graded->info.at("report").at("tests_timed_out").get<bool>());
  EXPECT_FALSE(graded->info.at("report").at("resolved").get<bool>());
}

TEST_F(SwebenchEnvTest, AnInstanceFileAndRepoPathOfTheTaskAreUsed) {
  // An instance file of the user's beside the shipped set, its repo named by the task alone.
  const fs::path data = workspace_.parent_path() / ("swebench-own-" + std::to_string(getpid()));
  fs::copy(ROCK_SWEBENCH_DATA, data, fs::copy_options::recursive);
  auto instances = LoadInstances(data / "instances.jsonl");
  ASSERT_TRUE(instances.ok());
  Instance own = instances->back();
  own.instance_id = "mine-1";
  own.repo = "someone/elsewhere";
  fs::create_directories(data / "mine");
  std::ofstream(data / "mine" / "set.jsonl") << InstanceToJson(own).dump() << "\n";
  fs::rename(data / "repos" / (instances->back().repo.substr(instances->back().repo.find('/') + 1) + ".git"), data / "mine" / "mirror.git");
  auto env = MakeEnv(data.string());
  auto missing_repo = env->Reset({{"instance_id", "mine-1"}, {"instance_file", "mine/set.jsonl"}}, 0);
  EXPECT_EQ(missing_repo.status().code(), Code::kNotFound) << missing_repo.status().ToString();
  auto reset = env->Reset({{"instance_id", "mine-1"}, {"instance_file", "mine/set.jsonl"}, {"repo_path", "mine/mirror.git"}}, 0);
  ASSERT_TRUE(reset.ok()) << reset.status().ToString();
  ASSERT_TRUE(env->Step(ApplyPatch(own.patch)).ok());
  auto graded = env->Step(Submit());
  fs::remove_all(data);
  ASSERT_TRUE(graded.ok());
  EXPECT_EQ(graded->reward, 1.0) << graded->info.dump(2);
}

TEST_F(SwebenchEnvTest, APatchWithStaleContextFallsBackToPatchWithFuzz) {
  auto instances = LoadInstances(fs::path(ROCK_SWEBENCH_DATA) / "instances.jsonl");
  ASSERT_TRUE(instances.ok());
  const Instance& instance = instances->front();
  auto repos = LoadRepoMap(fs::path(ROCK_SWEBENCH_DATA) / "repos.json");
  ASSERT_TRUE(repos.ok());
  // The first context line of the fix no longer matches the code: git apply refuses the hunk,
  // patch --fuzz applies it.
  std::string stale = instance.patch;
  const std::size_t hunk = stale.find("\n@@ ");
  ASSERT_NE(hunk, std::string::npos);
  const std::size_t context = stale.find("\n ", hunk + 1);
  ASSERT_NE(context, std::string::npos);
  stale.insert(context + 2, "# an edit the prediction did not see ");
  const RepoEntry& repo = repos->at(instance.repo);
  Commands commands([](const json& exec) { return sandbox::RunExecHere(exec, sandbox::Limits{}); },
                    {{"HOME", workspace_.string()}, {"GIT_CONFIG_GLOBAL", "/dev/null"}, {"PYTHONDONTWRITEBYTECODE", "1"}});
  const Evaluation evaluation = Evaluate(commands, {.instance = &instance,
                                                    .repo = &repo,
                                                    .mirror = (fs::path(ROCK_SWEBENCH_DATA) / repo.path).string(),
                                                    .model_patch = stale,
                                                    .dir = workspace_.string()});
  EXPECT_EQ(evaluation.report.value("apply_command", ""), "patch --batch --fuzz=5 -p1 -i") << evaluation.report.dump(2);
  EXPECT_TRUE(evaluation.resolved) << evaluation.report.dump(2) << evaluation.test_output;
}

TEST_F(SwebenchEnvTest, BadTasksAreRefusedWithTheFieldNamed) {
  auto env = MakeEnv();
  const std::pair<json, std::string> cases[] = {
      {json::array(), "object"},
      {json::object(), "'instance_id' is required"},
      {{{"instance_id", 3}}, "'instance_id' must be a non-empty string"},
      {{{"instance_id", "nope"}}, "no instance 'nope'"},
      {{{"instance_id", "rockd-tasks__textkit-1"}, {"instance_file", "../../etc/passwd"}}, "inside the SWE-bench data directory"},
      {{{"instance_id", "rockd-tasks__textkit-1"}, {"instance_file", "/etc/passwd"}}, "inside the SWE-bench data directory"},
      {{{"instance_id", "rockd-tasks__textkit-1"}, {"max_steps", 0}}, "'max_steps'"},
      {{{"instance_id", "rockd-tasks__textkit-1"}, {"colour", "red"}}, "unknown task field 'colour'"},
  };
  for (const auto& [task, message] : cases) {
    SCOPED_TRACE(task.dump());
    auto reset = env->Reset(task, 0);
    ASSERT_FALSE(reset.ok());
    EXPECT_NE(reset.status().message().find(message), std::string::npos) << reset.status().message();
  }
  EXPECT_EQ(env->Step(Submit()).status().code(), Code::kFailedPrecondition);
  auto no_data = MakeEnv("");
  EXPECT_EQ(no_data->Reset({{"instance_id", "x"}}, 0).status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace rock::envs::swebench
