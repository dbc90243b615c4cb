// Makes the Env of an env kind (envs/env_kinds.h); each call is a fresh, independent Env.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "envs/env.h"

namespace rock::envs {

// Runs one exec message (sandbox/exec.h's `{"type":"exec","id","argv"|"shell",...}`) to its end
// and returns the exec_result: through init inside a sandbox (sandbox/local_exec.h), in the
// calling process elsewhere (sandbox::RunExecHere).
using RunExec = std::function<nlohmann::json(const nlohmann::json& exec)>;

struct EnvOptions {
  // The kind's data (ALFWorld: what ALFWORLD_DATA names, json_2.1.x/ inside; SWE-bench: the
  // instances, repo map and mirrors); empty: none.
  std::string data_dir;
  // Writable and the env's alone (SWE-bench's checkouts).
  std::string workspace_dir = "/workspace";
  // Emptied with the workspace by every reset, so that nothing an episode left there reaches
  // the next one on the same sandbox (SWE-bench: /tmp in a sandbox); empty: none.
  std::string tmp_dir;
  // For kinds whose episodes run commands (SWE-bench); others ignore it.
  RunExec run_exec;
};

// InvalidArgument for "shell" (no episodes) and unknown kinds.
StatusOr<std::unique_ptr<Env>> MakeEnv(std::string_view kind, const EnvOptions& options);

}  // namespace rock::envs
