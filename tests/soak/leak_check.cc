#include "tests/soak/leak_check.h"

#include <filesystem>
#include <fstream>
#include <string>

namespace rock::soak {
namespace {

namespace fs = std::filesystem;

std::string FirstLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

void FindProcesses(const std::string& cgroup_parent, Leaks* leaks) {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc", error)) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cgroups(entry.path() / "cgroup");
    for (std::string line; std::getline(cgroups, line);) {
      if (line.find("/" + cgroup_parent + "/") != std::string::npos) {
        leaks->processes.push_back(pid + " " + FirstLine(entry.path() / "comm") + " in " + line);
        break;
      }
    }
  }
}

// cgroup v1 has one hierarchy per controller (/sys/fs/cgroup/<controller>/...), v2 one tree;
// rockd's parent sits a level or two down either way.
void FindCgroups(const std::string& cgroup_parent, Leaks* leaks) {
  std::error_code error;
  fs::recursive_directory_iterator it("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_directory(error)) continue;
    if (it.depth() >= 3) {
      it.disable_recursion_pending();
      continue;
    }
    // A clean stop removes the sandboxes' groups and then their parent.
    if (it->path().filename() != cgroup_parent) continue;
    it.disable_recursion_pending();
    leaks->cgroups.push_back(it->path());
    for (const fs::directory_entry& child : fs::directory_iterator(it->path(), error)) {
      if (child.is_directory(error)) leaks->cgroups.push_back(child.path());
    }
  }
}

void FindMounts(const std::string& data_dir, Leaks* leaks) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    if (line.find(data_dir) != std::string::npos) leaks->mounts.push_back(line);
  }
}

void FindFiles(const std::string& data_dir, Leaks* leaks) {
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(data_dir) / "sandboxes", error)) {
    leaks->files.push_back(entry.path());
  }
}

}  // namespace

Leaks FindLeaks(const std::string& cgroup_parent, const std::string& data_dir) {
  Leaks leaks;
  if (!cgroup_parent.empty()) {
    FindProcesses(cgroup_parent, &leaks);
    FindCgroups(cgroup_parent, &leaks);
  }
  FindMounts(data_dir, &leaks);
  FindFiles(data_dir, &leaks);
  return leaks;
}

}  // namespace rock::soak
