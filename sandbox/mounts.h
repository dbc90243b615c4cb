// The sandbox's filesystem: a small tmpfs root with read-only system dirs, a generated /etc,
// fresh /proc, a minimal /dev, size-capped writable /workspace, /tmp and /dev/shm, and the spec's
// data directory read-only at /data. Only the
// contained process's own mount namespace sees any of it: nothing is mounted on the host.
#pragma once

#include <string_view>

#include "common/status.h"
#include "sandbox/spec.h"

namespace rock::sandbox {

// Builds the tree on spec.root_dir, pivots into it, detaches the host root and remounts the new
// root read-only. The caller must be root in a fresh mount namespace and a fresh pid namespace
// (the /proc it mounts shows the caller's pid namespace). `hostname` goes into /etc/hosts. A
// failure names the call and its arguments; the namespace is then half built and must be
// discarded (the caller exits).
Status MountSandboxRoot(const Spec& spec, std::string_view hostname);

}  // namespace rock::sandbox
