// Evaluation as the SWE-bench harness grades a prediction, in a fresh checkout:
//   1. check out base_commit;
//   2. apply the model patch, falling back from `git apply` to `git apply --reject` to
//      `patch --fuzz=5` (SWE-bench's order);
//   3. reset the files test_patch touches to base_commit (or remove them), then apply it;
//   4. run the repo's test command on those test files under a time limit;
//   5. grade the log (grading.h): resolved when every FAIL_TO_PASS and PASS_TO_PASS test passes.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "envs/swebench/commands.h"
#include "envs/swebench/instance.h"

namespace rock::envs::swebench {

struct EvaluationRequest {
  const Instance* instance = nullptr;
  const RepoEntry* repo = nullptr;
  std::string mirror;       // the repo's git mirror
  std::string model_patch;  // empty: the agent changed nothing
  std::string dir;          // an empty, writable directory for the checkout and the patches
};

struct Evaluation {
  bool resolved = false;
  // SWE-bench's report: patch_is_None, patch_exists, patch_successfully_applied, resolved,
  // tests_status; and ours: apply_command, test_patch_applied, tests_timed_out, error.
  nlohmann::json report;
  std::string test_output;  // the test run's log (capped)
};

Evaluation Evaluate(const Commands& commands, const EvaluationRequest& request);

}  // namespace rock::envs::swebench
