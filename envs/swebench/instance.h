// SWE-bench task instances, in the dataset's own format: one JSON object per instance with the
// standard fields (FAIL_TO_PASS and PASS_TO_PASS as JSON-encoded lists, as the dataset ships
// them; plain lists are taken too), read from a JSON array or from JSON lines.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace rock::envs::swebench {

struct Instance {
  std::string instance_id;
  std::string repo;  // "owner/name", looked up in the repo map
  std::string base_commit;
  std::string patch;       // the reference fix (git diff)
  std::string test_patch;  // tests that tell the fix from the bug
  std::string problem_statement;
  std::string hints_text;
  std::string created_at;
  std::string version;
  std::string environment_setup_commit;
  std::vector<std::string> fail_to_pass;
  std::vector<std::string> pass_to_pass;
};

// InvalidArgument naming the field (and the instance, when its id is known).
StatusOr<Instance> ParseInstance(const nlohmann::json& json);
nlohmann::json InstanceToJson(const Instance& instance);

// A file holding a JSON array of instances or one instance per line; errors name the line.
StatusOr<std::vector<Instance>> LoadInstances(const std::filesystem::path& file);

// Where a repo's mirror is and how its tests run.
struct RepoEntry {
  std::string path;  // a git repository or bare mirror; relative paths are the data dir's
  std::string test_cmd = "python3 -m pytest -rA -p no:cacheprovider";
  uint32_t test_timeout_s = 300;
};

// `{"owner/name": {"path", "test_cmd"?, "test_timeout_s"?}}`, as in a data dir's repos.json.
StatusOr<std::map<std::string, RepoEntry>> ParseRepoMap(const nlohmann::json& json);
StatusOr<std::map<std::string, RepoEntry>> LoadRepoMap(const std::filesystem::path& file);

}  // namespace rock::envs::swebench
