// Real cgroups, real processes: these need root and a writable cgroup hierarchy and say so when
// they skip. Every group is named <what>-<pid>-<n> so parallel runs never share one.
#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

namespace rock::sandbox {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr uint64_t kMiB = 1024 * 1024;

bool IsV2() {
  struct statfs root {};
  return statfs("/sys/fs/cgroup", &root) == 0 && root.f_type == CGROUP2_SUPER_MAGIC;
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string out = text.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The controllers whose directories a group must have (and must lose on destroy).
std::vector<std::string> Controllers() {
  if (IsV2()) return {""};
  std::vector<std::string> out;
  for (const char* c : {"memory", "cpu", "pids", "cpuacct", "freezer"}) {
    if (fs::exists(fmt::format("/sys/fs/cgroup/{}/cgroup.procs", c))) out.push_back(c);
  }
  return out;
}

std::string ControllerDir(std::string_view controller, std::string_view path) {
  if (IsV2()) return fmt::format("/sys/fs/cgroup/{}", path);
  return fmt::format("/sys/fs/cgroup/{}/{}", controller, path);
}

// Empty when the tests can run, else why not.
std::string WhyCannotRun() {
  if (geteuid() != 0) return fmt::format("euid is {}, not 0", geteuid());
  if (IsV2()) {
    if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK) != 0) {
      return fmt::format("/sys/fs/cgroup/cgroup.subtree_control: {}", std::strerror(errno));
    }
    std::string controllers = ReadTrimmed("/sys/fs/cgroup/cgroup.controllers");
    for (const char* c : {"memory", "cpu", "pids"}) {
      if (controllers.find(c) == std::string::npos) return fmt::format("no {} controller", c);
    }
    return "";
  }
  for (const char* c : {"memory", "cpu", "pids"}) {
    std::string dir = fmt::format("/sys/fs/cgroup/{}", c);
    if (access(dir.c_str(), W_OK) != 0) return fmt::format("{}: {}", dir, std::strerror(errno));
  }
  return "";
}

#define SKIP_UNLESS_CGROUPS_WRITABLE()                                                     \
  if (std::string why = WhyCannotRun(); !why.empty())                                      \
  GTEST_SKIP() << "needs root and a writable cgroup hierarchy: " << why

std::string UniqueName(std::string_view what) {
  static int counter = 0;
  return fmt::format("{}-{}-{}", what, getpid(), ++counter);
}

// Orphaned grandchildren come back to this process, so the tests can reap them and prove
// they died of SIGKILL rather than guess from /proc.
void BecomeSubreaper() { ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0) << std::strerror(errno); }

// True once `pid` no longer exists (reaping it if it is ours); false after 5 s.
bool WaitGone(pid_t pid) {
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (steady_clock::now() < deadline) {
    waitpid(pid, nullptr, WNOHANG);
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return false;
}

// True once the group's pids count reads `want`, reaping dead orphans meanwhile; false after 5 s.
bool PidsSettleAt(const Cgroup& cg, uint64_t want) {
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  uint64_t last = 0;
  while (steady_clock::now() < deadline) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    StatusOr<CgroupUsage> usage = cg.Usage();
    if (!usage.ok()) {
      ADD_FAILURE() << usage.status().ToString();
      return false;
    }
    last = usage->pids;
    if (last == want) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  ADD_FAILURE() << "pids stayed at " << last << ", wanted " << want;
  return false;
}

class Pipe {
 public:
  Pipe() { EXPECT_EQ(pipe2(fds_, O_CLOEXEC), 0) << std::strerror(errno); }
  ~Pipe() {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  void Write(int value) {
    EXPECT_EQ(write(fds_[1], &value, sizeof value), static_cast<ssize_t>(sizeof value));
  }
  // -1 on EOF (the writer died).
  int Read() {
    int value = -1;
    if (read(fds_[0], &value, sizeof value) != static_cast<ssize_t>(sizeof value)) return -1;
    return value;
  }

 private:
  int fds_[2] = {-1, -1};
};

// A forked child running `body`; killed and reaped when the object goes, whatever happened.
class Child {
 public:
  explicit Child(const std::function<int()>& body) : pid_(fork()) {
    if (pid_ == 0) _exit(body());  // never return into GoogleTest in the child
    EXPECT_GT(pid_, 0) << "fork: " << std::strerror(errno);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // The raw wait status.
  int Wait() {
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

// Removes a test's own parent group even when the test fails half-way.
class StaleParentGuard {
 public:
  explicit StaleParentGuard(std::string parent) : parent_(std::move(parent)) {}
  ~StaleParentGuard() { EXPECT_TRUE(Cgroup::RemoveStale(parent_).ok()); }
  StaleParentGuard(const StaleParentGuard&) = delete;
  StaleParentGuard& operator=(const StaleParentGuard&) = delete;

 private:
  std::string parent_;
};

TEST(CgroupTest, CreateSetsLimitsVisibleInControllerFiles) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  StatusOr<Cgroup> cg = Cgroup::Create(UniqueName("limits"), {64 * kMiB, 500, 32});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  const std::string& path = cg->path();
  if (IsV2()) {
    EXPECT_EQ(ReadTrimmed(ControllerDir("", path) + "/memory.max"), "67108864");
    if (fs::exists(ControllerDir("", path) + "/memory.swap.max")) {
      EXPECT_EQ(ReadTrimmed(ControllerDir("", path) + "/memory.swap.max"), "0");
    }
    EXPECT_EQ(ReadTrimmed(ControllerDir("", path) + "/cpu.max"), "50000 100000");
  } else {
    EXPECT_EQ(ReadTrimmed(ControllerDir("memory", path) + "/memory.limit_in_bytes"), "67108864");
    if (fs::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")) {
      EXPECT_EQ(ReadTrimmed(ControllerDir("memory", path) + "/memory.memsw.limit_in_bytes"),
                "67108864");
    }
    EXPECT_EQ(ReadTrimmed(ControllerDir("cpu", path) + "/cpu.cfs_period_us"), "100000");
    EXPECT_EQ(ReadTrimmed(ControllerDir("cpu", path) + "/cpu.cfs_quota_us"), "50000");
  }
  EXPECT_EQ(ReadTrimmed(ControllerDir("pids", path) + "/pids.max"), "32");
}

TEST(CgroupTest, CreatingAnExistingGroupIsRefused) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  std::string name = UniqueName("twice");
  StatusOr<Cgroup> first = Cgroup::Create(name, {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  StatusOr<Cgroup> second = Cgroup::Create(name, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kAlreadyExists) << second.status().ToString();
}

TEST(CgroupTest, BadNamesAreRefusedWithInvalidArgument) {
  // No root needed: validation comes before any cgroup is touched.
  for (std::string_view bad : {"", "a/b", "/abs", "..", "../escape", "x..y", ".", "sp ace"}) {
    StatusOr<Cgroup> cg = Cgroup::Create(bad, {});
    ASSERT_FALSE(cg.ok()) << "name '" << bad << "'";
    EXPECT_EQ(cg.status().code(), Code::kInvalidArgument) << cg.status().ToString();
    EXPECT_EQ(Cgroup::Create("ok", {}, bad).status().code(), Code::kInvalidArgument)
        << "parent '" << bad << "'";
    EXPECT_EQ(Cgroup::RemoveStale(bad).code(), Code::kInvalidArgument) << "prefix '" << bad << "'";
  }
  EXPECT_EQ(Cgroup::Create("cpu", {0, 5, 0}).status().code(), Code::kInvalidArgument)
      << "a CPU quota below the kernel's 1 ms minimum";
}

TEST(CgroupTest, AttachedChildIsCountedInUsage) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  StatusOr<Cgroup> cg = Cgroup::Create(UniqueName("usage"), {});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  Pipe go;
  Pipe ready;
  Child child([&] {
    if (go.Read() != 1) return 1;
    // Work done after the attach: CPU time and 16 MiB of touched pages land in the group.
    auto until = steady_clock::now() + milliseconds(100);
    while (steady_clock::now() < until) {
    }
    std::vector<char> memory(16 * kMiB, 1);
    ready.Write(static_cast<int>(memory.size() / kMiB));
    pause();
    return 0;
  });
  ASSERT_TRUE(cg->Attach(child.pid()).ok());
  go.Write(1);
  ASSERT_EQ(ready.Read(), 16);

  StatusOr<CgroupUsage> usage = cg->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_EQ(usage->pids, 1u);
  EXPECT_GE(usage->memory_bytes, 8 * kMiB);
  EXPECT_GE(usage->cpu_ns, 50'000'000u);
  EXPECT_EQ(usage->oom_kills, 0u);
  if (usage->memory_peak_bytes != 0) {
    EXPECT_GE(usage->memory_peak_bytes, usage->memory_bytes);
  }
}

TEST(CgroupTest, MemoryHogIsOomKilledAndCounted) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  StatusOr<Cgroup> cg = Cgroup::Create(UniqueName("oom"), {32 * kMiB, 0, 0});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  Child hog([&] {
    if (!cg->Attach(getpid()).ok()) return 2;
    size_t size = 256 * kMiB;
    void* raw = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return 3;
    auto* bytes = static_cast<volatile char*>(raw);
    for (size_t i = 0; i < size; i += 4096) bytes[i] = 1;
    return 0;  // survived: the limit did not hold
  });
  int status = hog.Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  StatusOr<CgroupUsage> usage = cg->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_GE(usage->oom_kills, 1u);
  EXPECT_LE(usage->memory_peak_bytes, 32 * kMiB);
}

TEST(CgroupTest, ForkBombIsCappedByPidsLimit) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  BecomeSubreaper();
  StatusOr<Cgroup> cg = Cgroup::Create(UniqueName("forkbomb"), {0, 0, 16});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  Pipe counts;
  Child bomb([&] {
    if (!cg->Attach(getpid()).ok()) return 2;
    int forked = 0;
    int eagain = 0;
    int other = 0;
    for (int i = 0; i < 100; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        pause();
        _exit(0);
      }
      if (pid > 0) {
        ++forked;
      } else if (errno == EAGAIN) {
        ++eagain;
      } else {
        ++other;
      }
    }
    counts.Write(forked);
    counts.Write(eagain);
    counts.Write(other);
    pause();
    return 0;
  });
  int forked = counts.Read();
  int eagain = counts.Read();
  int other = counts.Read();
  EXPECT_EQ(forked + eagain + other, 100);
  EXPECT_LE(forked, 15) << "the bomb itself is one of the 16";
  EXPECT_GE(eagain, 85);
  EXPECT_EQ(other, 0);
  StatusOr<CgroupUsage> usage = cg->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_LE(usage->pids, 16u);

  ASSERT_TRUE(cg->KillAll().ok());
  int status = bomb.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

TEST(CgroupTest, KillAllKillsEveryProcessIncludingStoppedOnes) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  BecomeSubreaper();
  StatusOr<Cgroup> cg = Cgroup::Create(UniqueName("killall"), {});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  constexpr int kStopped = 3;
  constexpr int kDaemons = 2;
  Pipe go;
  Pipe pids;
  Child parent([&] {
    if (go.Read() != 1) return 1;
    for (int i = 0; i < kStopped; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        raise(SIGSTOP);
        for (;;) pause();
      }
      pids.Write(pid);
    }
    for (int i = 0; i < kDaemons; ++i) {
      // The classic escape: fork, setsid, fork again, and let the middle one exit, so the
      // daemon has neither our parent nor our session.
      pid_t middle = fork();
      if (middle == 0) {
        setsid();
        pid_t daemon = fork();
        if (daemon == 0) {
          pids.Write(getpid());
          for (;;) pause();
        }
        _exit(0);
      }
      waitpid(middle, nullptr, 0);
    }
    pause();
    return 0;
  });
  ASSERT_TRUE(cg->Attach(parent.pid()).ok());
  go.Write(1);
  std::vector<pid_t> descendants;
  for (int i = 0; i < kStopped + kDaemons; ++i) descendants.push_back(pids.Read());
  ASSERT_EQ(std::count(descendants.begin(), descendants.end(), -1), 0);
  // Wait until the stopped ones really are stopped.
  for (int i = 0; i < kStopped; ++i) {
    std::string stat;
    for (int tries = 0; tries < 1000 && stat.find(") T") == std::string::npos; ++tries) {
      stat = ReadTrimmed(fmt::format("/proc/{}/stat", descendants[i]));
      std::this_thread::sleep_for(milliseconds(1));
    }
    ASSERT_NE(stat.find(") T"), std::string::npos) << stat;
  }
  // The middle processes of the double forks may still be on their way out.
  EXPECT_TRUE(PidsSettleAt(*cg, 1 + kStopped + kDaemons));

  Status killed = cg->KillAll();
  ASSERT_TRUE(killed.ok()) << killed.ToString();
  for (const std::string& c : Controllers()) {
    EXPECT_EQ(ReadTrimmed(ControllerDir(c, cg->path()) + "/cgroup.procs"), "") << c;
  }
  int status = parent.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  for (pid_t pid : descendants) EXPECT_TRUE(WaitGone(pid)) << "pid " << pid << " survived";
  // The pids controller counts a zombie until it is reaped (middle processes the killed parent
  // never waited for come to us as orphans), so only then does it read 0.
  EXPECT_TRUE(PidsSettleAt(*cg, 0));
}

TEST(CgroupTest, KillAllStopsAForkBombThatIsStillForking) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  BecomeSubreaper();
  StatusOr<Cgroup> cg = Cgroup::Create(UniqueName("livebomb"), {0, 0, 64});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  Pipe started;
  Child bomb([&] {
    if (!cg->Attach(getpid()).ok()) return 2;
    started.Write(1);
    for (;;) fork();  // every child forks too; only the pids limit holds it
  });
  ASSERT_EQ(started.Read(), 1);
  std::this_thread::sleep_for(milliseconds(50));

  Status killed = cg->KillAll();
  ASSERT_TRUE(killed.ok()) << killed.ToString();
  int status = bomb.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE(PidsSettleAt(*cg, 0));
}

TEST(CgroupTest, DestroyLeavesNoDirectoryBehind) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  StatusOr<Cgroup> cg = Cgroup::Create(UniqueName("destroy"), {64 * kMiB, 1000, 64});
  ASSERT_TRUE(cg.ok()) << cg.status().ToString();
  std::string path = cg->path();
  for (const std::string& c : Controllers()) {
    ASSERT_TRUE(fs::exists(ControllerDir(c, path))) << ControllerDir(c, path);
  }
  Child sleeper([] {
    pause();
    return 0;
  });
  ASSERT_TRUE(cg->Attach(sleeper.pid()).ok());

  Status destroyed = cg->Destroy();
  ASSERT_TRUE(destroyed.ok()) << destroyed.ToString();
  for (const std::string& c : Controllers()) {
    EXPECT_FALSE(fs::exists(ControllerDir(c, path))) << ControllerDir(c, path);
  }
  EXPECT_TRUE(cg->path().empty());
  EXPECT_TRUE(cg->Destroy().ok()) << "a second Destroy is a no-op";
  int status = sleeper.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(CgroupTest, RemoveStaleCleansLeftoversOfAKilledPredecessor) {
  SKIP_UNLESS_CGROUPS_WRITABLE();
  BecomeSubreaper();
  // A parent of its own, not "rockd": a live rockd or a parallel test may own groups there.
  std::string parent = UniqueName("rockd-stale");
  StaleParentGuard guard(parent);
  constexpr int kGroups = 2;
  Pipe workers;
  Child predecessor([&] {
    std::vector<Cgroup> groups;
    for (int i = 0; i < kGroups; ++i) {
      StatusOr<Cgroup> cg = Cgroup::Create(fmt::format("sandbox-{}", i), {64 * kMiB, 0, 0}, parent);
      if (!cg.ok()) return 2;
      pid_t worker = fork();
      if (worker == 0) {
        for (;;) pause();
      }
      if (!cg->Attach(worker).ok()) return 3;
      workers.Write(worker);
      groups.push_back(std::move(cg).value());
    }
    pause();  // killed with SIGKILL: no destructor runs, exactly like kill -9 of rockd
    return 0;
  });
  std::vector<pid_t> orphans;
  for (int i = 0; i < kGroups; ++i) orphans.push_back(workers.Read());
  ASSERT_EQ(std::count(orphans.begin(), orphans.end(), -1), 0);
  kill(predecessor.pid(), SIGKILL);
  predecessor.Wait();
  for (const std::string& c : Controllers()) {
    ASSERT_TRUE(fs::exists(ControllerDir(c, parent + "/sandbox-0"))) << "nothing left to clean";
  }

  Status removed = Cgroup::RemoveStale(parent);
  ASSERT_TRUE(removed.ok()) << removed.ToString();
  for (const std::string& c : Controllers()) {
    EXPECT_FALSE(fs::exists(ControllerDir(c, parent))) << ControllerDir(c, parent);
  }
  for (pid_t pid : orphans) EXPECT_TRUE(WaitGone(pid)) << "worker " << pid << " survived";
  EXPECT_TRUE(Cgroup::RemoveStale(parent).ok()) << "nothing left is not an error";
}

}  // namespace
}  // namespace rock::sandbox
