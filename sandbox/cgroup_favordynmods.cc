#include "sandbox/cgroup_favordynmods.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/unique_fd.h"

namespace rock::sandbox {
namespace {

constexpr std::string_view kOption = "favordynmods";

struct Cgroup2Mount {
  std::string mount_point;
  std::vector<std::string> options;  // superblock options, "rw" included
};

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

// mountinfo: "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate"
StatusOr<Cgroup2Mount> FindCgroup2Mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  if (!mountinfo) return ErrnoError("open(/proc/self/mountinfo)", errno);
  for (std::string line; std::getline(mountinfo, line);) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    const std::vector<std::string> before = Split(line.substr(0, dash), ' ');
    const std::vector<std::string> after = Split(line.substr(dash + 3), ' ');
    if (before.size() < 5 || after.size() < 3 || after[0] != "cgroup2") continue;
    return Cgroup2Mount{before[4], Split(after[2], ',')};
  }
  return FailedPrecondition("no cgroup2 filesystem is mounted");
}

bool HasOption(const Cgroup2Mount& mount) {
  return std::find(mount.options.begin(), mount.options.end(), kOption) != mount.options.end();
}

Status CheckKernelSupport() {
  std::ifstream features("/sys/kernel/cgroup/features");
  for (std::string feature; features >> feature;) {
    if (feature == kOption) return Status::Ok();
  }
  return FailedPrecondition("the kernel has no cgroup favordynmods (/sys/kernel/cgroup/features; Linux 6.0+)");
}

}  // namespace

StatusOr<bool> FavorDynmodsEnabled() {
  if (Status s = CheckKernelSupport(); !s.ok()) return s;
  StatusOr<Cgroup2Mount> mount = FindCgroup2Mount();
  if (!mount.ok()) return mount.status();
  return HasOption(*mount);
}

Status SetFavorDynmods(bool enabled) {
  if (Status s = CheckKernelSupport(); !s.ok()) return s;
  StatusOr<Cgroup2Mount> mount = FindCgroup2Mount();
  if (!mount.ok()) return mount.status();
  if (HasOption(*mount) == enabled) return Status::Ok();
  const char* where = mount->mount_point.c_str();
  UniqueFd fs(static_cast<int>(syscall(SYS_fspick, AT_FDCWD, where, FSPICK_CLOEXEC)));
  if (fs.get() < 0) return ErrnoError(fmt::format("fspick({})", where), errno);
  std::vector<std::string> options;
  for (const std::string& option : mount->options) {
    if (option != "rw" && option != "ro" && option != kOption) options.push_back(option);
  }
  if (enabled) options.emplace_back(kOption);
  for (const std::string& option : options) {
    if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0) != 0) {
      return ErrnoError(fmt::format("fsconfig({}, FSCONFIG_SET_FLAG, {})", where, option), errno);
    }
  }
  const std::string listed = fmt::format("{}", fmt::join(options, ","));
  if (syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_RECONFIGURE, nullptr, nullptr, 0) != 0) {
    return ErrnoError(fmt::format("fsconfig({}, FSCONFIG_CMD_RECONFIGURE) with options '{}'", where, listed), errno);
  }
  spdlog::info("cgroup2 at {} reconfigured with options '{}'", where, listed);
  return Status::Ok();
}

}  // namespace rock::sandbox
