// Commands a SWE-bench episode runs (the agent's bash, git, the tests), each one exec through
// RunExec: its own process tree, killed whole at its end or timeout, its output capped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "envs/env_factory.h"

namespace rock::envs::swebench {

struct CommandResult {
  int exit_code = -1;
  bool signaled = false;
  bool timed_out = false;
  bool truncated = false;
  std::string stdout_text;
  std::string stderr_text;
  int64_t duration_ms = 0;

  bool ok() const { return exit_code == 0 && !timed_out && !signaled; }
  // What a terminal would show: stdout, then stderr.
  std::string Output() const { return stdout_text + stderr_text; }
};

class Commands {
 public:
  // `env` is added to every command's environment (exec.h's base: PATH, HOME, LANG).
  Commands(RunExec run_exec, std::map<std::string, std::string> env);

  // `bash -c script` in `cwd`.
  CommandResult Shell(const std::string& script, const std::string& cwd, uint32_t timeout_s, uint64_t max_output_bytes) const;

 private:
  RunExec run_exec_;
  std::map<std::string, std::string> env_;
};

// `text` as one word for bash: single-quoted, with embedded quotes escaped.
std::string ShellQuote(std::string_view text);

// Clones `mirror` (a git repository) into `dest` sharing its objects, and checks out `commit`
// detached: no object is copied, which makes a workspace take milliseconds.
Status GitCheckout(const Commands& commands, const std::string& mirror, const std::string& commit, const std::string& dest);

// The files a unified (git) diff touches, in order, each once.
std::vector<std::string> PathsOfDiff(std::string_view diff);

}  // namespace rock::envs::swebench
