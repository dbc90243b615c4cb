// What a stopped rockd must not leave behind on the host: processes in its sandboxes' cgroups,
// those cgroups and their parent, mounts under its data dir, and sandbox directories.
#pragma once

#include <string>
#include <vector>

namespace rock::soak {

struct Leaks {
  std::vector<std::string> processes;  // "pid comm"
  std::vector<std::string> cgroups;    // paths
  std::vector<std::string> mounts;     // mountinfo lines
  std::vector<std::string> files;      // under <data_dir>/sandboxes
  std::size_t count() const { return processes.size() + cgroups.size() + mounts.size() + files.size(); }
};

// `cgroup_parent` is the "rockd-<hash>" directory that holds the sandboxes' cgroups.
Leaks FindLeaks(const std::string& cgroup_parent, const std::string& data_dir);

}  // namespace rock::soak
