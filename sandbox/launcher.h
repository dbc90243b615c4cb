// Starts a sandbox: the first half of the containment order, run in rockd.
//
//   1. validate the spec              4. clone into new pid, mount, net, uts and ipc namespaces
//   2. create its cgroup (limits)        (CLONE_VM|CLONE_VFORK like posix_spawn; CLONE_PIDFD:
//   3. socketpair for control            exit is seen from the process itself)
//                                     5. the child joins its cgroup, then execs rock-env on the
//                                        control socket (fd 3)
//                                     6. send the spec frame; rock-env contains itself by it
//                                        (sandbox/contain.h: mounts ... seccomp last)
//
// The child runs only async-signal-safe calls between clone and exec: rockd is multithreaded.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "common/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/spec.h"

namespace rock::sandbox {

// A launched sandbox: its init process (rock-env, PID 1 inside), control socket and cgroup.
// Destruction kills whatever still runs in it and removes its cgroup.
class SandboxProcess {
 public:
  SandboxProcess(pid_t pid, UniqueFd pidfd, UniqueFd control, Cgroup cgroup)
      : pid_(pid), pidfd_(std::move(pidfd)), control_(std::move(control)), cgroup_(std::move(cgroup)) {}
  ~SandboxProcess();
  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  pid_t pid() const { return pid_; }  // in rockd's pid namespace
  int pidfd() const { return pidfd_.get(); }
  int control_fd() const { return control_.get(); }
  // Hands the control socket to its reader (rockd's event loop), which then owns it.
  UniqueFd ReleaseControl() { return std::move(control_); }
  Cgroup& cgroup() { return cgroup_; }

  // Kills every process of the sandbox and reaps init. Idempotent.
  Status Kill();
  // Reaps init if it has exited; returns its wait status, or nullopt while it runs.
  std::optional<int> TryReap();

 private:
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd control_;
  Cgroup cgroup_;
  std::optional<int> wait_status_;
};

// Why a sandbox's init ended, from its wait status: a failed launch step before exec
// ("launch: execve of the worker failed") or a crash ("crashed: killed by signal 9 (Killed)").
std::string DescribeWorkerExit(int wait_status);

struct LaunchOptions {
  std::string worker_path;    // rock-env
  std::string cgroup_parent;  // the sandbox's cgroup is <cgroup_parent>/<spec.id>
  // The spec's seccomp profile, compiled once by the caller and sent with the spec; null: the
  // worker compiles it. Must outlive the Launch call.
  const SeccompFilter* seccomp = nullptr;
};

StatusOr<std::unique_ptr<SandboxProcess>> Launch(const Spec& spec, const LaunchOptions& options);

}  // namespace rock::sandbox
