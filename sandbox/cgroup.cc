#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

namespace rock::sandbox {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr std::string_view kCgroupRoot = "/sys/fs/cgroup";
constexpr uint64_t kCpuPeriodUs = 100000;
// The v1 kernel refuses a cfs quota below 1 ms.
constexpr uint32_t kMinCpuMillis = 10;
// KillAll: each round freezes, kills, thaws and waits this long for the group to empty.
constexpr int kKillRounds = 20;
constexpr milliseconds kRoundWait{250};
constexpr milliseconds kFreezeWait{500};

struct Controller {
  std::string name;
  std::string mount;  // where libcgroup found it mounted
};

struct Layout {
  bool v2 = false;
  std::vector<Controller> controllers;
};

Status Logged(Status status) {
  spdlog::error("cgroup: {}", status.ToString());
  return status;
}

Status LibcgroupError(std::string_view call, std::string_view what, int rc) {
  return Logged(Internal(fmt::format("{}({}): {}", call, what, cgroup_strerror(rc))));
}

struct CgroupFree {
  void operator()(cgroup* group) const { cgroup_free(&group); }
};
using CgroupPtr = std::unique_ptr<cgroup, CgroupFree>;

StatusOr<Layout> DetectLayout() {
  Layout layout;
  // libcgroup 2.0.2 has no cgroup_setup_mode(); a cgroup2 filesystem at the root is the unified
  // layout, anything else (tmpfs with v1 hierarchies below, "hybrid" included) is v1.
  struct statfs root {};
  if (statfs(std::string(kCgroupRoot).c_str(), &root) != 0) {
    return Logged(ErrnoError(fmt::format("statfs({})", kCgroupRoot), errno));
  }
  layout.v2 = root.f_type == CGROUP2_SUPER_MAGIC;
  if (int rc = cgroup_init(); rc != 0) {
    return Logged(Unavailable(fmt::format("cgroup_init(): {}", cgroup_strerror(rc))));
  }
  struct Wanted {
    const char* name;
    bool required;
  };
  // v1 keeps CPU time in cpuacct and the freezer (used by KillAll) in its own hierarchy; v2
  // has both in the core, so only the three limiting controllers are named there.
  std::vector<Wanted> wanted = {{"memory", true}, {"cpu", true}, {"pids", true}};
  if (!layout.v2) {
    wanted.push_back({"cpuacct", false});
    wanted.push_back({"freezer", false});
  }
  for (const Wanted& w : wanted) {
    char* mount = nullptr;
    int rc = cgroup_get_subsys_mount_point(w.name, &mount);
    std::unique_ptr<char, decltype(&free)> owned(mount, &free);
    if (rc != 0 || mount == nullptr) {
      if (!w.required) continue;
      return Logged(Unavailable(fmt::format("cgroup_get_subsys_mount_point({}): {}", w.name,
                                            cgroup_strerror(rc))));
    }
    layout.controllers.push_back({w.name, mount});
  }
  return layout;
}

StatusOr<const Layout*> GetLayout() {
  static const StatusOr<Layout> layout = DetectLayout();
  if (!layout.ok()) return layout.status();
  return &layout.value();
}

const Controller* FindController(const Layout& layout, std::string_view name) {
  for (const Controller& c : layout.controllers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string Dir(const Controller& controller, std::string_view path) {
  return fmt::format("{}/{}", controller.mount, path);
}

// The controllers of `names` that have their own directory for `path`: one per hierarchy, as
// co-mounted v1 controllers (cpu,cpuacct) and all of v2 share one.
std::vector<const Controller*> OnePerDir(const Layout& layout,
                                         const std::vector<std::string>& names) {
  std::vector<const Controller*> out;
  std::set<std::string> mounts;
  for (const std::string& name : names) {
    const Controller* c = FindController(layout, name);
    if (c != nullptr && mounts.insert(c->mount).second) out.push_back(c);
  }
  return out;
}

// The directories of `path`, one per hierarchy.
std::vector<std::string> GroupDirs(const Layout& layout, const std::vector<std::string>& names,
                                   const std::string& path) {
  std::vector<std::string> dirs;
  for (const Controller* c : OnePerDir(layout, names)) dirs.push_back(Dir(*c, path));
  return dirs;
}

Status ValidateComponent(std::string_view what, std::string_view value) {
  bool ok = !value.empty() && value.size() <= 128 && value.find("..") == std::string_view::npos &&
            value != ".";
  for (char ch : value) {
    bool allowed = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    ok = ok && allowed;
  }
  if (ok) return Status::Ok();
  return Logged(InvalidArgument(fmt::format(
      "cgroup {} '{}' must be 1-128 characters of [A-Za-z0-9._-] without '..'", what, value)));
}

StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(fmt::format("open({})", path), errno);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return ErrnoError(fmt::format("read({})", path), err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// For the v2 core files (cgroup.kill, cgroup.freeze), which libcgroup 2.0.2 has no controller for.
Status WriteFile(const std::string& path, std::string_view value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Logged(ErrnoError(fmt::format("open({})", path), errno));
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n < 0) return Logged(ErrnoError(fmt::format("write({}, {})", path, value), err));
  return Status::Ok();
}

StatusOr<uint64_t> ParseU64(std::string_view text, std::string_view where) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Logged(Internal(fmt::format("{}: not a number: '{}'", where, text)));
  }
  return value;
}

StatusOr<uint64_t> ReadU64(const std::string& path) {
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return Logged(text.status());
  return ParseU64(*text, path);
}

// The value of `key` in a flat-keyed file ("key value" lines: memory.events, cpu.stat,
// memory.oom_control); NotFound if the kernel does not report it.
StatusOr<uint64_t> ReadKeyed(const std::string& path, std::string_view key) {
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return Logged(text.status());
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ') {
      return ParseU64(line.substr(key.size() + 1), fmt::format("{} {}", path, key));
    }
  }
  return NotFound(fmt::format("{}: no '{}' line", path, key));
}

StatusOr<CgroupPtr> NewGroup(const std::string& path,
                             const std::vector<const Controller*>& controllers) {
  CgroupPtr group(cgroup_new_cgroup(path.c_str()));
  if (!group) return Logged(Internal(fmt::format("cgroup_new_cgroup({}) failed", path)));
  for (const Controller* c : controllers) {
    if (cgroup_add_controller(group.get(), c->name.c_str()) == nullptr) {
      return Logged(Internal(fmt::format("cgroup_add_controller({}, {}) failed", path, c->name)));
    }
  }
  return group;
}

Status AddValue(cgroup_controller* controller, const std::string& path, const char* file,
                const std::string& value) {
  if (int rc = cgroup_add_value_string(controller, file, value.c_str()); rc != 0) {
    return LibcgroupError("cgroup_add_value_string", fmt::format("{}, {}={}", path, file, value),
                          rc);
  }
  return Status::Ok();
}

// Writes one controller file through libcgroup (cgroup_modify_cgroup writes every value the
// struct holds, so the struct holds just this one).
Status SetValue(const std::string& path, const Controller& controller, const char* file,
                const std::string& value) {
  StatusOr<CgroupPtr> group = NewGroup(path, {&controller});
  if (!group.ok()) return group.status();
  cgroup_controller* c = cgroup_get_controller(group->get(), controller.name.c_str());
  if (Status s = AddValue(c, path, file, value); !s.ok()) return s;
  if (int rc = cgroup_modify_cgroup(group->get()); rc != 0) {
    return LibcgroupError("cgroup_modify_cgroup", fmt::format("{}, {}={}", path, file, value), rc);
  }
  return Status::Ok();
}

// Every process in `dirs` and below. A group can have subgroups (a sandbox with its own
// cgroup namespace may make some), and a kill-all that missed them would not be one.
std::set<pid_t> ListProcs(const std::vector<std::string>& dirs) {
  std::set<pid_t> pids;
  auto add = [&pids](const fs::path& dir) {
    StatusOr<std::string> text = ReadFile((dir / "cgroup.procs").string());
    if (!text.ok()) return;  // the group went away under us: nothing left in it
    std::string_view rest = *text;
    while (!rest.empty()) {
      size_t eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
      pid_t pid = 0;
      if (std::from_chars(line.data(), line.data() + line.size(), pid).ec == std::errc()) {
        pids.insert(pid);
      }
    }
  };
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    add(dir);
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec)) add(it->path());
    }
  }
  return pids;
}

bool WaitEmpty(const std::vector<std::string>& dirs, milliseconds budget) {
  auto deadline = steady_clock::now() + budget;
  for (;;) {
    if (ListProcs(dirs).empty()) return true;
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
}

// Freezing stops every process of the group where it stands, so the list read next is complete
// (a fork bomb cannot add children faster than we kill them) and no listed pid can exit and be
// reused by an unrelated process before our kill() reaches it. SIGKILL takes effect on thaw.
// Best effort: without a freezer the kill loop still converges, only in more rounds.
void Freeze(const Layout& layout, const std::string& path, bool frozen) {
  if (layout.v2) {
    std::string dir = Dir(layout.controllers.front(), path);
    if (access((dir + "/cgroup.freeze").c_str(), W_OK) != 0) return;
    if (!WriteFile(dir + "/cgroup.freeze", frozen ? "1" : "0").ok() || !frozen) return;
    auto deadline = steady_clock::now() + kFreezeWait;
    while (steady_clock::now() < deadline) {
      StatusOr<uint64_t> done = ReadKeyed(dir + "/cgroup.events", "frozen");
      if (!done.ok() || *done == 1) return;
      std::this_thread::sleep_for(milliseconds(1));
    }
    return;
  }
  const Controller* freezer = FindController(layout, "freezer");
  if (freezer == nullptr || access(Dir(*freezer, path).c_str(), F_OK) != 0) return;
  if (!SetValue(path, *freezer, "freezer.state", frozen ? "FROZEN" : "THAWED").ok() || !frozen) {
    return;
  }
  // Writing FROZEN returns while the state may still read FREEZING.
  std::string state_file = Dir(*freezer, path) + "/freezer.state";
  auto deadline = steady_clock::now() + kFreezeWait;
  while (steady_clock::now() < deadline) {
    StatusOr<std::string> state = ReadFile(state_file);
    if (!state.ok() || state->starts_with("FROZEN")) return;
    std::this_thread::sleep_for(milliseconds(1));
  }
  spdlog::warn("cgroup: {} did not reach FROZEN in {} ms; killing anyway", state_file,
               kFreezeWait.count());
}

Status KillTree(const Layout& layout, const std::vector<std::string>& controllers,
                const std::string& path) {
  std::vector<std::string> dirs = GroupDirs(layout, controllers, path);
  if (layout.v2) {
    // cgroup.kill (Linux 5.14+) kills the whole subtree atomically, forks in flight included.
    std::string kill_file = dirs.front() + "/cgroup.kill";
    if (access(kill_file.c_str(), W_OK) == 0) {
      if (Status s = WriteFile(kill_file, "1"); !s.ok()) return s;
      if (WaitEmpty(dirs, kRoundWait * kKillRounds)) return Status::Ok();
    }
  }
  for (int round = 0; round < kKillRounds; ++round) {
    Freeze(layout, path, true);
    for (pid_t pid : ListProcs(dirs)) {
      if (kill(pid, SIGKILL) != 0 && errno != ESRCH) {
        spdlog::error("cgroup: kill({}, SIGKILL) in {}: {}", pid, path, std::strerror(errno));
      }
    }
    Freeze(layout, path, false);
    if (WaitEmpty(dirs, kRoundWait)) return Status::Ok();
  }
  std::set<pid_t> left = ListProcs(dirs);
  return Logged(Status(Code::kDeadlineExceeded,
                       fmt::format("kill all in cgroup {}: {} processes left after {} rounds "
                                   "(first: {})",
                                   path, left.size(), kKillRounds,
                                   left.empty() ? 0 : *left.begin())));
}

Status DeleteTree(const Layout& layout, const std::vector<std::string>& controllers,
                  const std::string& path) {
  std::vector<const Controller*> existing;
  for (const Controller* c : OnePerDir(layout, controllers)) {
    if (access(Dir(*c, path).c_str(), F_OK) == 0) existing.push_back(c);
  }
  if (existing.empty()) return Status::Ok();
  StatusOr<CgroupPtr> group = NewGroup(path, existing);
  if (!group.ok()) return group.status();
  // Recursive: subgroups made inside the sandbox go with it.
  if (int rc = cgroup_delete_cgroup_ext(group->get(), CGFLAG_DELETE_RECURSIVE); rc != 0) {
    return LibcgroupError("cgroup_delete_cgroup_ext", path, rc);
  }
  return Status::Ok();
}

std::vector<std::string> AllNames(const Layout& layout) {
  std::vector<std::string> names;
  for (const Controller& c : layout.controllers) names.push_back(c.name);
  return names;
}

// Queues the limit values on `group` for cgroup_create_cgroup to write.
Status AddLimits(const Layout& layout, cgroup* group, const std::string& path,
                 const CgroupLimits& limits) {
  cgroup_controller* memory = cgroup_get_controller(group, "memory");
  cgroup_controller* cpu = cgroup_get_controller(group, "cpu");
  cgroup_controller* pids = cgroup_get_controller(group, "pids");
  std::vector<Status> added;
  if (limits.memory_bytes != 0) {
    std::string bytes = std::to_string(limits.memory_bytes);
    if (layout.v2) {
      added.push_back(AddValue(memory, path, "memory.max", bytes));
    } else {
      added.push_back(AddValue(memory, path, "memory.limit_in_bytes", bytes));
      // Without a RAM+swap limit a sandbox on a host with swap pages out past its limit and
      // is never OOM-killed. The file exists only with swap accounting on; written after
      // limit_in_bytes because the kernel wants memsw >= limit at every step.
      std::string memsw = Dir(*FindController(layout, "memory"), "memory.memsw.limit_in_bytes");
      if (access(memsw.c_str(), F_OK) == 0) {
        added.push_back(AddValue(memory, path, "memory.memsw.limit_in_bytes", bytes));
      }
    }
  }
  if (limits.cpu_millis != 0) {
    uint64_t quota_us = uint64_t{limits.cpu_millis} * kCpuPeriodUs / 1000;
    if (layout.v2) {
      added.push_back(AddValue(cpu, path, "cpu.max", fmt::format("{} {}", quota_us, kCpuPeriodUs)));
    } else {
      added.push_back(AddValue(cpu, path, "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)));
      added.push_back(AddValue(cpu, path, "cpu.cfs_quota_us", std::to_string(quota_us)));
    }
  }
  if (limits.pids != 0) {
    added.push_back(AddValue(pids, path, "pids.max", std::to_string(limits.pids)));
  }
  for (const Status& s : added) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Cgroup> Cgroup::Create(std::string_view name, const CgroupLimits& limits,
                                std::string_view parent) {
  if (Status s = ValidateComponent("name", name); !s.ok()) return s;
  if (Status s = ValidateComponent("parent", parent); !s.ok()) return s;
  if (limits.cpu_millis != 0 && limits.cpu_millis < kMinCpuMillis) {
    return Logged(InvalidArgument(fmt::format("cgroup {}/{}: cpu_millis {} is below the minimum {}",
                                              parent, name, limits.cpu_millis, kMinCpuMillis)));
  }
  StatusOr<const Layout*> layout = GetLayout();
  if (!layout.ok()) return layout.status();
  const Layout& l = **layout;
  std::string path = fmt::format("{}/{}", parent, name);
  std::vector<std::string> names = AllNames(l);

  // libcgroup creates with mkdir -p semantics and would silently adopt an existing group,
  // limits and processes included.
  for (const Controller& c : l.controllers) {
    if (access(Dir(c, path).c_str(), F_OK) == 0) {
      return Logged(Status(Code::kAlreadyExists, fmt::format("cgroup {} already exists in {}",
                                                             path, Dir(c, path))));
    }
  }
  std::vector<const Controller*> all;
  for (const Controller& c : l.controllers) all.push_back(&c);
  StatusOr<CgroupPtr> group = NewGroup(path, all);
  if (!group.ok()) return group.status();
  if (Status s = AddLimits(l, group->get(), path, limits); !s.ok()) return s;
  Cgroup made(path, names);  // from here on, a failure removes what was made
  if (int rc = cgroup_create_cgroup(group->get(), 0); rc != 0) {
    return LibcgroupError("cgroup_create_cgroup",
                          fmt::format("{}, memory={} cpu_millis={} pids={}", path,
                                      limits.memory_bytes, limits.cpu_millis, limits.pids),
                          rc);
  }
  if (l.v2 && limits.memory_bytes != 0) {
    // Same reason as memsw on v1; the file is missing when the kernel has no swap controller.
    const Controller& memory = *FindController(l, "memory");
    if (access((Dir(memory, path) + "/memory.swap.max").c_str(), F_OK) == 0) {
      if (Status s = SetValue(path, memory, "memory.swap.max", "0"); !s.ok()) return s;
    }
  }
  return made;
}

Status Cgroup::RemoveStale(std::string_view parent) {
  if (Status s = ValidateComponent("parent", parent); !s.ok()) return s;
  StatusOr<const Layout*> layout = GetLayout();
  if (!layout.ok()) return layout.status();
  std::string path(parent);
  std::vector<std::string> names = AllNames(**layout);
  std::vector<std::string> dirs = GroupDirs(**layout, names, path);
  std::error_code ec;
  auto exists = [&ec](const std::string& dir) { return fs::exists(dir, ec); };
  if (std::none_of(dirs.begin(), dirs.end(), exists)) return Status::Ok();
  size_t found = ListProcs(dirs).size();
  if (Status s = KillTree(**layout, names, path); !s.ok()) return s;
  if (Status s = DeleteTree(**layout, names, path); !s.ok()) return s;
  spdlog::info("cgroup: removed {} and everything below it ({} processes killed)", path, found);
  return Status::Ok();
}

Cgroup::Cgroup(Cgroup&& other) noexcept
    : path_(std::exchange(other.path_, {})), controllers_(std::move(other.controllers_)) {}

Cgroup& Cgroup::operator=(Cgroup&& other) noexcept {
  if (this != &other) {
    if (Status s = Destroy(); !s.ok()) {
      spdlog::error("cgroup {}: destroy on reassignment failed: {}", path_, s.ToString());
    }
    path_ = std::exchange(other.path_, {});
    controllers_ = std::move(other.controllers_);
  }
  return *this;
}

Cgroup::~Cgroup() {
  if (Status s = Destroy(); !s.ok()) {
    spdlog::error("cgroup {}: destroy in destructor failed, left behind: {}", path_, s.ToString());
  }
}

Status Cgroup::Attach(pid_t pid) {
  if (path_.empty()) return Logged(FailedPrecondition("attach to a destroyed cgroup"));
  StatusOr<const Layout*> layout = GetLayout();
  if (!layout.ok()) return layout.status();
  std::vector<const Controller*> controllers;
  for (const std::string& name : controllers_) {
    controllers.push_back(FindController(**layout, name));
  }
  StatusOr<CgroupPtr> group = NewGroup(path_, controllers);
  if (!group.ok()) return group.status();
  if (int rc = cgroup_attach_task_pid(group->get(), pid); rc != 0) {
    return LibcgroupError("cgroup_attach_task_pid", fmt::format("{}, pid {}", path_, pid), rc);
  }
  return Status::Ok();
}

StatusOr<std::vector<std::string>> Cgroup::SelfAttachFiles() const {
  if (path_.empty()) return Logged(FailedPrecondition("attach to a destroyed cgroup"));
  StatusOr<const Layout*> layout = GetLayout();
  if (!layout.ok()) return layout.status();
  std::vector<std::string> files;
  for (const std::string& name : controllers_) {
    std::string file = Dir(*FindController(**layout, name), path_) + "/cgroup.procs";
    // Co-mounted controllers (and every controller on v2) share one directory.
    if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(std::move(file));
  }
  return files;
}

Status Cgroup::KillAll() {
  if (path_.empty()) return Logged(FailedPrecondition("kill all in a destroyed cgroup"));
  StatusOr<const Layout*> layout = GetLayout();
  if (!layout.ok()) return layout.status();
  return KillTree(**layout, controllers_, path_);
}

// Read from the controller files directly: libcgroup's way (cgroup_get_cgroup) reads every
// file of every controller, far too much for a metrics scrape across a thousand sandboxes.
StatusOr<CgroupUsage> Cgroup::Usage() const {
  if (path_.empty()) return Logged(FailedPrecondition("usage of a destroyed cgroup"));
  StatusOr<const Layout*> layout = GetLayout();
  if (!layout.ok()) return layout.status();
  const Layout& l = **layout;
  std::string memory = Dir(*FindController(l, "memory"), path_);
  std::string pids = Dir(*FindController(l, "pids"), path_);
  CgroupUsage usage;
  auto take = [](uint64_t* out, StatusOr<uint64_t> value) {
    if (value.ok()) *out = *value;
    return value.ok() ? Status::Ok() : value.status();
  };
  std::vector<Status> read;
  read.push_back(take(&usage.pids, ReadU64(pids + "/pids.current")));
  if (l.v2) {
    read.push_back(take(&usage.memory_bytes, ReadU64(memory + "/memory.current")));
    if (access((memory + "/memory.peak").c_str(), F_OK) == 0) {
      read.push_back(take(&usage.memory_peak_bytes, ReadU64(memory + "/memory.peak")));
    }
    read.push_back(take(&usage.oom_kills, ReadKeyed(memory + "/memory.events", "oom_kill")));
    std::string cpu = Dir(*FindController(l, "cpu"), path_);
    StatusOr<uint64_t> usec = ReadKeyed(cpu + "/cpu.stat", "usage_usec");
    read.push_back(take(&usage.cpu_ns, usec.ok() ? StatusOr<uint64_t>(*usec * 1000) : usec));
  } else {
    read.push_back(take(&usage.memory_bytes, ReadU64(memory + "/memory.usage_in_bytes")));
    read.push_back(take(&usage.memory_peak_bytes, ReadU64(memory + "/memory.max_usage_in_bytes")));
    StatusOr<uint64_t> ooms = ReadKeyed(memory + "/memory.oom_control", "oom_kill");
    if (ooms.status().code() == Code::kNotFound) {
      // Kernels before 4.13 do not count OOM kills; failcnt (times the limit was hit) is the
      // closest signal they have, an upper bound.
      ooms = ReadU64(memory + "/memory.failcnt");
    }
    read.push_back(take(&usage.oom_kills, std::move(ooms)));
    if (const Controller* cpuacct = FindController(l, "cpuacct"); cpuacct != nullptr) {
      read.push_back(take(&usage.cpu_ns, ReadU64(Dir(*cpuacct, path_) + "/cpuacct.usage")));
    }
  }
  for (const Status& s : read) {
    if (!s.ok()) return s.WithContext(fmt::format("usage of cgroup {}", path_));
  }
  return usage;
}

Status Cgroup::Destroy() {
  if (path_.empty()) return Status::Ok();
  StatusOr<const Layout*> layout = GetLayout();
  if (!layout.ok()) return layout.status();
  if (Status s = KillTree(**layout, controllers_, path_); !s.ok()) return s;
  if (Status s = DeleteTree(**layout, controllers_, path_); !s.ok()) return s;
  path_.clear();
  return Status::Ok();
}

}  // namespace rock::sandbox
