// One command run for an `exec` message, under a per-exec reaper process:
//   init ─fork─▶ reaper (child subreaper) ─fork─▶ command (own process group)
// The reaper feeds stdin, captures stdout and stderr up to a cap (the rest is read and dropped,
// so the command never blocks on a full pipe), enforces the timeout and, when the command exits
// or times out, SIGKILLs every descendant still alive (stopped, setsid, double-forked: orphans
// reparent to the reaper, so it finds them all). It then writes one `exec_result` frame to its
// result pipe and exits: an exec leaves nothing running.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/unique_fd.h"
#include "sandbox/spec.h"

namespace rock::sandbox {

struct ExecRequest {
  nlohmann::json id;               // echoed in the result
  std::vector<std::string> argv;   // `argv`, or /bin/bash -c `shell`
  std::vector<std::string> env;    // KEY=VALUE: the base environment, then the request's
  std::string stdin_data;
  std::string cwd = "/workspace";
  uint32_t timeout_ms = 0;         // clamped to limits.wall_ms
  uint64_t max_output_bytes = 0;   // per stream, clamped to limits.output_bytes
};

// Parses `{"type":"exec","id":N,"argv":[...]|"shell":"...","stdin","env","cwd","timeout_ms",
// "max_output_bytes"}`. InvalidArgument names the field.
StatusOr<ExecRequest> ParseExecRequest(const nlohmann::json& message, const Limits& limits);

// A started exec, owned by init until its result arrives.
struct RunningExec {
  nlohmann::json id;
  UniqueFd result;  // read end of the reaper's result pipe: one exec_result frame, then EOF
  pid_t reaper = -1;
};

// Forks the reaper. The caller must be single-threaded and reap the reaper (it is its child);
// the result pipe is non-blocking and close-on-exec.
StatusOr<RunningExec> StartExec(const ExecRequest& request);

// Parses, runs and waits for one exec message in the calling process, for programs outside a
// sandbox (tests, benchmarks, tools) that have no init: the same reaper and result as inside.
// The caller must be single-threaded while it runs, like StartExec's.
nlohmann::json RunExecHere(const nlohmann::json& message, const Limits& limits);

// The result of an exec that never ran its command: exit_code 127 and `reason` on stderr, as a
// shell reports a command it could not run.
nlohmann::json ExecFailure(const nlohmann::json& id, std::string_view reason);

}  // namespace rock::sandbox
