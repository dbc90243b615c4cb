// cgroup's `favordynmods` option. Every task migration between cgroups (each sandbox's first
// process joining its group) takes a global per-CPU rwsem for writing; without the option, a
// writer waits for an RCU grace period whenever none has passed recently, which is the 10–25 ms
// tail of sandbox creation on an otherwise idle host (docs/BENCHMARKS.md). With it, fork and exit
// pay a slightly slower read side instead: the right trade for a host that makes sandboxes.
//
// The option belongs to the host (it lives on the cgroup2 superblock and affects every cgroup
// hierarchy, v1 included), so rockd sets it only when configured to (`sandbox.favordynmods`).
#pragma once

#include "common/status.h"

namespace rock::sandbox {

// Whether the option is on. FailedPrecondition without a cgroup2 mount or kernel support (6.0+).
StatusOr<bool> FavorDynmodsEnabled();

// Reconfigures the cgroup2 mount with the option on or off, keeping its other options (a
// reconfigure resets every option it is not given); nothing to do when it already is. Needs CAP_SYS_ADMIN in the initial
// namespaces.
Status SetFavorDynmods(bool enabled);

}  // namespace rock::sandbox
