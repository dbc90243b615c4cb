#include "envs/swebench/evaluation.h"

#include <array>
#include <filesystem>
#include <fstream>

#include "envs/swebench/grading.h"

namespace rock::envs::swebench {
namespace {

constexpr uint32_t kApplyTimeoutS = 60;
constexpr uint64_t kApplyOutputBytes = 64 << 10;
constexpr uint64_t kTestOutputBytes = 1 << 20;

// SWE-bench's GIT_APPLY_CMDS, tried in this order until one succeeds.
constexpr std::array<const char*, 3> kApplyCommands = {"git apply --verbose", "git apply --verbose --reject",
                                                       "patch --batch --fuzz=5 -p1 -i"};

Status WriteText(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return IoError("writing " + file.string() + " failed");
  return Status::Ok();
}

}  // namespace

Evaluation Evaluate(const Commands& commands, const EvaluationRequest& request) {
  const Instance& instance = *request.instance;
  const std::filesystem::path dir(request.dir);
  const std::string repo = (dir / "repo").string();
  Evaluation evaluation;
  nlohmann::json& report = evaluation.report;
  report = {{"instance_id", instance.instance_id},
            {"patch_is_None", false},
            {"patch_exists", !request.model_patch.empty()},
            {"patch_successfully_applied", false},
            {"resolved", false},
            {"tests_status", GradeTests({}, instance.fail_to_pass, instance.pass_to_pass).tests_status},
            {"test_patch_applied", false},
            {"tests_timed_out", false}};
  const auto fail = [&](const std::string& error) {
    report["error"] = error;
    return evaluation;
  };

  if (Status s = GitCheckout(commands, request.mirror, instance.base_commit, repo); !s.ok()) return fail(s.message());

  // An empty patch applies trivially; the tests still run, so the report shows what fails.
  if (request.model_patch.empty()) {
    report["patch_successfully_applied"] = true;
  } else {
    const std::filesystem::path patch_file = dir / "model.patch";
    if (Status s = WriteText(patch_file, request.model_patch); !s.ok()) return fail(s.message());
    std::string log;
    for (const char* apply : kApplyCommands) {
      const CommandResult result =
          commands.Shell(std::string(apply) + " " + ShellQuote(patch_file.string()), repo, kApplyTimeoutS, kApplyOutputBytes);
      log += "$ " + std::string(apply) + "\n" + result.Output();
      if (result.ok()) {
        report["patch_successfully_applied"] = true;
        report["apply_command"] = apply;
        break;
      }
    }
    if (!report["patch_successfully_applied"].get<bool>()) return fail("the model patch does not apply:\n" + log);
  }

  const std::vector<std::string> test_files = PathsOfDiff(instance.test_patch);
  std::string quoted_files;
  for (const std::string& file : test_files) quoted_files += " " + ShellQuote(file);
  // A test file that is not in base_commit is removed, so that test_patch can create it.
  const std::string reset = "for f in" + quoted_files + "; do git checkout -q " + ShellQuote(instance.base_commit) +
                            " -- \"$f\" 2>/dev/null || rm -f -- \"$f\"; done";
  const std::filesystem::path test_patch_file = dir / "test.patch";
  if (Status s = WriteText(test_patch_file, instance.test_patch); !s.ok()) return fail(s.message());
  const CommandResult applied = commands.Shell(reset + " && git apply --verbose " + ShellQuote(test_patch_file.string()), repo,
                                               kApplyTimeoutS, kApplyOutputBytes);
  if (!applied.ok()) return fail("the instance's test_patch does not apply:\n" + applied.Output());
  report["test_patch_applied"] = true;

  const CommandResult tests =
      commands.Shell(request.repo->test_cmd + quoted_files, repo, request.repo->test_timeout_s, kTestOutputBytes);
  evaluation.test_output = tests.Output();
  report["tests_timed_out"] = tests.timed_out;
  // A run cut short grades what its log shows; the tests it never reached count as failed.
  const Grade grade = GradeTests(ParsePytestLog(tests.stdout_text), instance.fail_to_pass, instance.pass_to_pass);
  report["tests_status"] = grade.tests_status;
  evaluation.resolved = grade.resolved && !request.model_patch.empty() && !tests.timed_out;
  report["resolved"] = evaluation.resolved;
  return evaluation;
}

}  // namespace rock::envs::swebench
