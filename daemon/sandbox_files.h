// The files API: reads and writes files in a sandbox's /workspace from rockd. Paths are
// relative to /workspace; absolute paths, ".." and symlinks that lead out of the workspace
// are refused (InvalidArgument), checked by the kernel (openat2 RESOLVE_BENEATH) so a
// sandbox cannot race a symlink swap past the check.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rock {

// `init_pid` is the sandbox's init on the host; `max_bytes` bounds what is read (larger is
// ResourceExhausted). Only regular files are read: a FIFO or device never blocks rockd.
StatusOr<std::string> ReadSandboxFile(pid_t init_pid, std::string_view path, uint64_t max_bytes);

// Creates or replaces the file, owned by the sandbox's uid/gid, mode 0644. The parent
// directory must exist (NotFound otherwise).
Status WriteSandboxFile(pid_t init_pid, std::string_view path, std::string_view data, uid_t uid, gid_t gid);

}  // namespace rock
