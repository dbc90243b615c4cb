// The SWE-bench env: one episode is one instance, worked on in a fresh checkout of its repo at
// base_commit, with a bash tool, SWE-agent's file editor and `submit` (action.h). Submitting, or
// reaching the step limit, grades the workspace's diff as SWE-bench does (evaluation.h): reward 1
// when resolved, else 0, with SWE-bench's report in `info`.
//
// Tasks (docs/swebench.md):
//   {"instance_id"}                                   an instance of the data dir's instances.jsonl
//   {"instance_file", "instance_id", "repo_path"?}    another file of the data dir (and its mirror)
// plus "max_steps"? (default 50) and "bash_timeout_s"? (default 60).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "envs/env.h"
#include "envs/env_factory.h"
#include "envs/swebench/commands.h"
#include "envs/swebench/editor.h"
#include "envs/swebench/instance.h"

namespace rock::envs::swebench {

class SwebenchEnv : public Env {
 public:
  // `options.data_dir` holds instances.jsonl, repos.json and the mirrors they name;
  // `options.workspace_dir` (and `tmp_dir`) are emptied by every reset.
  explicit SwebenchEnv(EnvOptions options);

  StatusOr<ResetResult> Reset(const nlohmann::json& task, uint64_t seed) override;
  StatusOr<StepResult> Step(std::string_view action) override;

 private:
  struct Episode {
    Instance instance;
    RepoEntry repo;
    std::string mirror;
    uint32_t max_steps = 50;
    uint32_t bash_timeout_s = 60;
    uint32_t steps = 0;
    bool done = false;
    std::unique_ptr<Editor> editor;
  };

  StatusOr<Episode> Resolve(const nlohmann::json& task);
  // The instances of a file, parsed again only when the file has changed: a dataset of thousands
  // of instances is not re-read by every reset.
  StatusOr<const std::vector<Instance>*> InstancesIn(const std::filesystem::path& file);
  // A data-dir-relative path from a task, confined to the data dir.
  StatusOr<std::filesystem::path> DataPath(const std::string& field, const std::string& relative) const;
  Status ClearWorkspace() const;
  StepResult RunBash(const BashAction& bash) const;
  // Grades the workspace: the last step of every episode.
  StepResult Finish(bool truncated);

  EnvOptions options_;
  std::filesystem::path workspace_;
  std::string repo_dir_;  // the agent's checkout
  Commands commands_;
  std::optional<Episode> episode_;
  struct LoadedInstances {
    std::filesystem::file_time_type modified;
    std::vector<Instance> instances;
  };
  std::map<std::filesystem::path, LoadedInstances> instance_files_;
};

}  // namespace rock::envs::swebench
