// Containment of the sandbox's first process (the rock-env worker, PID 1 of its pid namespace):
// after Contain it runs unprivileged, in its own root, with only the control socket open and the
// seccomp filter loaded. The order of the steps is fixed and documented in contain.cc.
#pragma once

#include <optional>

#include "common/status.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/spec.h"

namespace rock::sandbox {

// The descriptor of the control socket once contained; every other descriptor above 2 is closed
// and 0, 1, 2 read and write /dev/null.
inline constexpr int kControlFd = 3;
inline constexpr const char* kSandboxHostname = "sandbox";

// Contains the calling process by `spec`. Preconditions: root, single-threaded, in fresh pid,
// mount, net, uts and ipc namespaces, already attached to the sandbox's cgroup. On return, success
// or not, the control socket (`control_fd` on entry) is kControlFd. On failure the process is
// half contained: it must report the Status on kControlFd and exit. `filter` is the spec's
// profile as rockd compiled it; without one, Contain compiles it.
Status Contain(const Spec& spec, int control_fd, std::optional<SeccompFilter> filter);

}  // namespace rock::sandbox
