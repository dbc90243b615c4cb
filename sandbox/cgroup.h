// One cgroup per sandbox, made through libcgroup: memory, CPU and pids limits, usage for the
// supervisor and metrics, and a kill-all that leaves nothing running. Works on cgroup v1
// (controllers in their own hierarchies, also the "hybrid" layout) and on v2 (unified).
// Needs root (or a delegated, writable hierarchy).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace rock::sandbox {

// 0 means unlimited.
struct CgroupLimits {
  uint64_t memory_bytes = 0;  // RAM, and RAM+swap, so swap cannot extend it
  uint32_t cpu_millis = 0;    // CPU time per wall time; 1000 = one CPU
  uint32_t pids = 0;          // processes and threads
};

struct CgroupUsage {
  uint64_t memory_bytes = 0;
  uint64_t memory_peak_bytes = 0;  // 0 where the kernel does not track it (v2 before 5.19)
  uint64_t cpu_ns = 0;             // 0 on v1 without a cpuacct hierarchy
  uint64_t pids = 0;
  uint64_t oom_kills = 0;
};

// The group `<parent>/<name>` in every controller it uses. Move-only; the destructor destroys
// the group (kills what runs in it, removes it) and logs a failure. Not thread-safe: one
// owner at a time; distinct objects may be used from distinct threads.
class Cgroup {
 public:
  static constexpr std::string_view kDefaultParent = "rockd";

  // `name` and `parent` are single path components of [A-Za-z0-9._-] (no "/", no ".."),
  // else InvalidArgument. AlreadyExists if the group exists (a live sandbox or a leftover).
  static StatusOr<Cgroup> Create(std::string_view name, const CgroupLimits& limits,
                                 std::string_view parent = kDefaultParent);

  // Kills everything under `<parent>/` and removes it: what a kill -9'd predecessor left.
  // Call at startup, before this process creates groups under the same parent.
  static Status RemoveStale(std::string_view parent = kDefaultParent);

  Cgroup(Cgroup&& other) noexcept;
  Cgroup& operator=(Cgroup&& other) noexcept;
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;
  ~Cgroup();

  // Moves `pid` into the group in every controller. On v1 this moves one thread: attach a
  // process before it starts threads (between fork and exec, as the launcher does).
  Status Attach(pid_t pid);
  // The cgroup.procs files a process writes "0" into to move itself into the group: one per
  // hierarchy. Lets a child join its cgroup between clone and exec with plain open/write.
  StatusOr<std::vector<std::string>> SelfAttachFiles() const;
  // SIGKILLs every process in the group and its subgroups, stopped and daemonized ones too,
  // and returns once the group is empty (bounded; DeadlineExceeded if it never empties).
  Status KillAll();
  StatusOr<CgroupUsage> Usage() const;
  // KillAll, then remove the group from every controller. Idempotent.
  Status Destroy();

  // "<parent>/<name>", the path below each controller's mount point; empty once destroyed.
  const std::string& path() const { return path_; }

 private:
  Cgroup(std::string path, std::vector<std::string> controllers)
      : path_(std::move(path)), controllers_(std::move(controllers)) {}

  std::string path_;
  std::vector<std::string> controllers_;  // the controllers the group was created in
};

}  // namespace rock::sandbox
