// Sandbox benchmarks (issue 3), all in one run so that every figure shares the machine state:
//   floor     fork + unshare(pid, mount, net, uts, ipc) + fork + exec /bin/true + wait, and the
//             same through util-linux `unshare -fpmnui true`
//   steps     where a launch spends its time: cgroup create/destroy, Launch() in rockd,
//             exec → containment → `ready` in the worker, kill + reap + cgroup removal
//   create    create→ready through the real Supervisor (rock-env, cgroup, seccomp): one at a time,
//             then 100 and 1,000 created at once
//   density   sandboxes live at once, host memory per sandbox, time to delete them all
//   crash     SIGKILL a sandbox's init, time until the supervisor's replacement is ready
// Prints a markdown block for docs/BENCHMARKS.md on stdout and progress on stderr. Needs root.
// A benchmark, not a test: timings are reported, never asserted. Everything it creates lives in
// a temporary state directory and cgroups named after its pid, and is removed on the way out,
// also after a failure or SIGINT/SIGTERM.
#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/status.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_favordynmods.h"
#include "sandbox/frame.h"
#include "sandbox/launcher.h"
#include "sandbox/spec.h"
#include "sandbox/supervisor.h"

#ifndef ROCK_ENV_BINARY
#error "ROCK_ENV_BINARY must name the rock-env worker (bench/CMakeLists.txt defines it)"
#endif

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using rock::Status;
using rock::StatusOr;
using rock::sandbox::Spec;
using rock::sandbox::Supervisor;
using rock::sandbox::SupervisorOptions;

std::atomic<bool> g_interrupted{false};

extern "C" void OnSignal(int) { g_interrupted = true; }

constexpr int kCreateBatch = 100;  // density: sandboxes created at once per round
// 1,000 launches queued on the supervisor's one strand take longer than rockd's default ready
// timeout (10 s) on a loaded 2-core host; a timeout would turn into restarts and spoil the figure.
constexpr std::chrono::milliseconds kReadyTimeout{60'000};
// How long the bench waits for a batch's answers before it gives up on them.
constexpr auto kWaitPerSandbox = std::chrono::milliseconds(200);
constexpr auto kWaitFloor = std::chrono::seconds(30);

struct Options {
  bool quick = false;
  int sequential = 200;      // floor and create→ready one at a time
  int concurrent_small = 100;
  int concurrent_large = 1000;
  int density = 1000;        // --max
  int crash_pool = 10;
  int crashes = 50;
  std::string worker = ROCK_ENV_BINARY;
};

void Progress(const std::string& line) { fmt::print(stderr, "sandbox_bench: {}\n", line); }

std::string FailureNote(std::size_t failed, const std::string& first_error) {
  return failed == 0 ? "" : fmt::format("{} failed, the first: {}", failed, first_error);
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Summary {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;  // ms
};

// Nearest-rank percentiles.
Summary Summarize(std::vector<double> samples) {
  Summary s;
  s.n = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double p) {
    const auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(samples.size())));
    return samples[std::clamp<std::size_t>(index, 1, samples.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p99 = rank(0.99);
  s.max = samples.back();
  return s;
}

// ---- what the supervisor reports, per sandbox ---------------------------------------------------

struct Record {
  Clock::time_point submitted;
  bool done = false;  // Create's callback ran
  bool ok = false;
  std::string error;
  uint32_t ready_count = 0;
  Clock::time_point ready_at;
  std::chrono::microseconds ready_latency{0};  // the supervisor's launch→ready
  uint32_t failures = 0;                        // transitions to restarting or quarantined
  Clock::time_point failed_at;
  std::string last_failure;
};

// Collects OnReady, transitions and callbacks (all on the io thread) for the main thread.
class Tracker : public rock::sandbox::SupervisorObserver {
 public:
  void OnTransition(const rock::sandbox::Transition& t) override {
    if (t.to != rock::sandbox::State::kRestarting && t.to != rock::sandbox::State::kQuarantined) return;
    std::lock_guard lock(mu_);
    Record& r = records_[t.sandbox_id];
    ++r.failures;
    r.failed_at = Clock::now();
    r.last_failure = t.reason;
    cv_.notify_all();
  }

  void OnReady(const std::string& id, std::chrono::microseconds latency) override {
    std::lock_guard lock(mu_);
    Record& r = records_[id];
    ++r.ready_count;
    r.ready_at = Clock::now();
    r.ready_latency = latency;
    cv_.notify_all();
  }

  void Submitted(const std::string& id) {
    std::lock_guard lock(mu_);
    records_[id] = Record{.submitted = Clock::now()};
  }

  void Created(const std::string& id, const StatusOr<rock::sandbox::SandboxStatus>& result) {
    std::lock_guard lock(mu_);
    Record& r = records_[id];
    r.done = true;
    r.ok = result.ok();
    if (!result.ok()) r.error = result.status().ToString();
    cv_.notify_all();
  }

  void Deleted(const Status& status) {
    std::lock_guard lock(mu_);
    ++deleted_;
    if (!status.ok() && status.code() != rock::Code::kNotFound && delete_error_.empty()) {
      delete_error_ = status.ToString();
    }
    cv_.notify_all();
  }

  // Waits until `done(records, deleted)` holds; false on timeout or SIGINT/SIGTERM.
  bool WaitUntil(const std::function<bool(const std::map<std::string, Record>&, std::size_t)>& done,
                 Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(mu_);
    while (!done(records_, deleted_)) {
      if (g_interrupted || Clock::now() >= deadline) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    return true;
  }

  Record Get(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = records_.find(id);
    return it == records_.end() ? Record{} : it->second;
  }

  std::size_t deleted() {
    std::lock_guard lock(mu_);
    return deleted_;
  }
  std::string delete_error() {
    std::lock_guard lock(mu_);
    return delete_error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Record> records_;
  std::size_t deleted_ = 0;
  std::string delete_error_;
};

// ---- results -----------------------------------------------------------------------------------

struct LatencyRow {
  std::string what;
  Summary summary;
  std::optional<double> per_second;
  std::string target;
  std::string note;  // failures and the like
};

struct TeardownRow {
  std::string what;
  std::size_t count = 0;
  double total_ms = 0;
};

struct Density {
  int requested = 0;
  std::size_t live = 0;
  double create_s = 0;
  std::optional<double> mem_available_per_sandbox_kib;
  // Kernel-side deltas per sandbox from /proc/meminfo: unlike MemAvailable, another process's
  // heap growing during the phase does not show in them.
  std::optional<double> kernel_per_sandbox_kib;  // Slab + KernelStack + PageTables
  std::optional<double> shmem_per_sandbox_kib;   // tmpfs and shared memory
  std::optional<double> cgroup_memory_per_sandbox_kib;
  double delete_ms = 0;
  std::string stopped_by;  // why creation stopped short, if it did
};

// ---- host facts --------------------------------------------------------------------------------

std::optional<uint64_t> MeminfoKib(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  uint64_t value = 0;
  std::string unit;
  while (in >> name >> value >> unit) {
    if (name == key + ":") return value;
  }
  return std::nullopt;
}

std::optional<uint64_t> KernelMemoryKib() {
  uint64_t sum = 0;
  for (const char* key : {"Slab", "KernelStack", "PageTables"}) {
    auto value = MeminfoKib(key);
    if (!value) return std::nullopt;
    sum += *value;
  }
  return sum;
}

std::string FirstLineValue(const std::string& path, const std::string& key, char separator) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    auto pos = line.find(separator);
    if (pos == std::string::npos) continue;
    std::string value = line.substr(pos + 1);
    value.erase(0, value.find_first_not_of(" \t\""));
    while (!value.empty() && (value.back() == '"' || value.back() == ' ')) value.pop_back();
    return value;
  }
  return "unknown";
}

std::string CommandOutput(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "unknown";
  char buffer[256];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  if (pclose(pipe) != 0 || out.empty()) return "unknown";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The 1, 5 and 15 minute load averages: a shared machine's other work shows in every figure.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(in >> one >> five >> fifteen)) return "unknown";
  return one + " " + five + " " + fifteen;
}

std::string CgroupLayout() {
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers")) return "v2 (unified)";
  if (fs::exists("/sys/fs/cgroup/unified")) return "v1 (hybrid)";
  return "v1";
}

std::string Compiler() {
#if defined(__clang__)
  return fmt::format("Clang {}", __clang_version__);
#elif defined(__GNUC__)
  return fmt::format("GCC {}", __VERSION__);
#else
  return "unknown compiler";
#endif
}

// ---- the floor: namespaces without rockd ---------------------------------------------------------

constexpr int kFloorNamespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC;

// What `unshare -fpmnui true` does: unshare, make mounts private (unshare(1)'s default
// propagation), fork the namespace's PID 1, exec. Async-signal-safe calls only after fork.
StatusOr<double> SpawnUnshared() {
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) return rock::ErrnoError("fork()", errno);
  if (pid == 0) {
    if (unshare(kFloorNamespaces) != 0) _exit(101);
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(102);
    const pid_t init = fork();
    if (init < 0) _exit(103);
    if (init == 0) {
      char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
      char* const envp[] = {nullptr};
      execve("/bin/true", argv, envp);
      _exit(104);
    }
    int status = 0;
    while (waitpid(init, &status, 0) < 0 && errno == EINTR) {
    }
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 105);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const auto elapsed = Clock::now() - start;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return rock::Internal(fmt::format("unshare(pid|mnt|net|uts|ipc) child ended with wait status {:#x}", status));
  }
  return Ms(elapsed);
}

StatusOr<double> SpawnCommand(const std::vector<std::string>& argv_strings) {
  std::vector<char*> argv;
  for (const auto& a : argv_strings) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char* const envp[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) return rock::ErrnoError("fork()", errno);
  if (pid == 0) {
    execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const auto elapsed = Clock::now() - start;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return rock::Internal(fmt::format("{} ended with wait status {:#x}", argv_strings[0], status));
  }
  return Ms(elapsed);
}

// ---- the bench ---------------------------------------------------------------------------------

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)), work_(asio::make_work_guard(io_)) {
    io_thread_ = std::thread([this] { io_.run(); });
  }

  // Deletes every sandbox, stops the io thread, removes the cgroup parent (with anything a
  // failed phase left in it) and the state directory.
  ~Bench() {
    StopSupervisor();
    RestoreHost();
    work_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    if (Status s = rock::sandbox::Cgroup::RemoveStale(cgroup_parent_); !s.ok()) {
      Progress("removing cgroup parent " + cgroup_parent_ + ": " + s.ToString());
    }
    if (!state_dir_.empty()) {
      std::error_code ec;
      fs::remove_all(state_dir_, ec);
      if (ec) Progress(fmt::format("removing {}: {}", state_dir_.string(), ec.message()));
    }
  }
  Bench(const Bench&) = delete;
  Bench& operator=(const Bench&) = delete;

  Status Run() {
    char dir_template[] = "/tmp/rock-sandbox-bench-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) return rock::ErrnoError("mkdtemp(/tmp/rock-sandbox-bench-XXXXXX)", errno);
    state_dir_ = dir_template;
    Progress("state directory " + state_dir_.string() + ", worker " + options_.worker);
    if (access(options_.worker.c_str(), X_OK) != 0) {
      return rock::ErrnoError("access(" + options_.worker + ", X_OK)", errno);
    }

    // rockd turns the host's favordynmods on (sandbox.favordynmods); (a) runs once without it
    // first, for the comparison, where the kernel has it. The host's setting is restored at exit.
    StatusOr<bool> favordynmods = rock::sandbox::FavorDynmodsEnabled();
    if (favordynmods.ok()) favordynmods_at_start_ = *favordynmods;
    std::vector<std::function<Status()>> phases = {
        [this] { return favordynmods_at_start_ ? rock::sandbox::SetFavorDynmods(false) : Status::Ok(); },
        [this] { return favordynmods_at_start_ ? CreateSequential("without favordynmods") : Status::Ok(); },
        [this] { return favordynmods_at_start_ ? rock::sandbox::SetFavorDynmods(true) : Status::Ok(); },
        [this] { return Floor(); },
        [this] { return Steps(); },
        [this] { return CreateSequential(""); },
        [this] { return CreateConcurrent(options_.concurrent_small, DefaultLimits(), "b"); },
        [this] { return CreateConcurrent(options_.concurrent_large, SmallLimits(), "c"); },
        [this] { return MeasureDensity(); },
        [this] { return Crashes(); },
    };
    for (auto& phase : phases) {
      if (g_interrupted) return rock::Internal("interrupted");
      if (Status s = phase(); !s.ok()) return s;
    }
    return Status::Ok();
  }

  void PrintMarkdown(const std::string& command_line, const Status& outcome) const {
    utsname uts{};
    uname(&uts);
    const auto mem_total = MeminfoKib("MemTotal").value_or(0);
    fmt::print("Command: `{}` (as root)\n\n", command_line);
    fmt::print("- machine: {} cores, {}, {:.1f} GiB, Linux {}, {}, cgroup {}; load average at start {}\n",
               sysconf(_SC_NPROCESSORS_ONLN), FirstLineValue("/proc/cpuinfo", "model name", ':'),
               static_cast<double>(mem_total) / (1 << 20), uts.release,
               FirstLineValue("/etc/os-release", "PRETTY_NAME", '='), CgroupLayout(), load_at_start_);
    fmt::print("- rockd: git {}, {}{}; worker {}\n", revision_, Compiler(),
#ifdef __OPTIMIZE__
               " (optimized)",
#else
               " (not optimized)",
#endif
               options_.worker);
    fmt::print("- supervisor: 1 io thread and its default pool for launches and kills; ready_timeout {} ms; limits default (512 MiB, 1 CPU, 256 pids, 256 MiB "
               "disk) for (a) and (b); small (64 MiB, 64 pids, 16 MiB disk) for (c), density and crash; network none\n",
               kReadyTimeout.count());
    fmt::print("- cgroups: `{}/<id>` in each hierarchy (SupervisorOptions::cgroup_parent), removed at exit\n",
               cgroup_parent_);
    fmt::print("- cgroup favordynmods: {}\n",
               favordynmods_at_start_
                   ? fmt::format("on for every row (as rockd sets it) except those marked \"without\"; {} at start, "
                                 "restored at exit",
                                 *favordynmods_at_start_ ? "on" : "off")
                   : std::string("not available here"));
    fmt::print("- launch→ready: the supervisor's OnReady latency (its Launch() began → `ready` frame read); "
               "Create→ready: the bench's Create call → OnReady, queueing on the supervisor strand included\n");
    if (!outcome.ok()) fmt::print("- **run incomplete**: {}\n", outcome.ToString());
    fmt::print("\n| measurement | n | p50 (ms) | p99 (ms) | max (ms) | ready/s | target | note |\n");
    fmt::print("|---|---:|---:|---:|---:|---:|---|---|\n");
    for (const auto& row : rows_) {
      fmt::print("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {} | {} | {} |\n", row.what, row.summary.n, row.summary.p50,
                 row.summary.p99, row.summary.max, row.per_second ? fmt::format("{:.0f}", *row.per_second) : "",
                 row.target, row.note);
    }
    if (density_) {
      const Density& d = *density_;
      fmt::print("\n| density | value |\n|---|---:|\n");
      fmt::print("| sandboxes requested (`--max`) | {} |\n", d.requested);
      fmt::print("| live at once | {} |\n", d.live);
      if (!d.stopped_by.empty()) fmt::print("| creation stopped by | {} |\n", d.stopped_by);
      fmt::print("| time to create them ({} at a time) | {:.1f} s |\n", kCreateBatch, d.create_s);
      if (d.mem_available_per_sandbox_kib) {
        fmt::print("| host memory per sandbox (MemAvailable drop / live) | {:.0f} KiB |\n",
                   *d.mem_available_per_sandbox_kib);
      }
      if (d.kernel_per_sandbox_kib) {
        fmt::print("| kernel objects per sandbox (Δ Slab + KernelStack + PageTables / live; slab partly "
                   "reclaimable) | {:.0f} KiB |\n",
                   *d.kernel_per_sandbox_kib);
      }
      if (d.shmem_per_sandbox_kib) {
        fmt::print("| tmpfs per sandbox (Δ Shmem / live) | {:.0f} KiB |\n", *d.shmem_per_sandbox_kib);
      }
      if (d.cgroup_memory_per_sandbox_kib) {
        fmt::print("| cgroup memory per sandbox (sum of memory.usage over the ready ones / their count) | "
                   "{:.0f} KiB |\n",
                   *d.cgroup_memory_per_sandbox_kib);
      }
      fmt::print("| time to delete them all (Deletes posted at once) | {:.0f} ms ({:.2f} ms each) |\n", d.delete_ms,
                 d.live == 0 ? 0.0 : d.delete_ms / static_cast<double>(d.live));
    }
    if (!teardowns_.empty()) {
      fmt::print("\n| teardown (all Deletes posted at once) | sandboxes | total (ms) | per sandbox (ms) |\n");
      fmt::print("|---|---:|---:|---:|\n");
      for (const auto& t : teardowns_) {
        fmt::print("| {} | {} | {:.0f} | {:.2f} |\n", t.what, t.count, t.total_ms,
                   t.count == 0 ? 0.0 : t.total_ms / static_cast<double>(t.count));
      }
    }
  }

  void set_revision(std::string revision) { revision_ = std::move(revision); }

 private:
  static rock::sandbox::Limits DefaultLimits() { return {}; }
  static rock::sandbox::Limits SmallLimits() {
    rock::sandbox::Limits limits;
    limits.memory_bytes = 64ull << 20;
    limits.pids = 64;
    limits.disk_bytes = 16ull << 20;
    return limits;
  }

  std::string NewId(const std::string& phase) {
    return fmt::format("bench{}-{}-{}", getpid(), phase, next_id_++);
  }

  Spec MakeSpec(const std::string& phase, const rock::sandbox::Limits& limits) {
    Spec spec;
    spec.id = NewId(phase);
    spec.limits = limits;
    return spec;
  }

  void StartSupervisor(SupervisorOptions options) {
    options.worker_path = options_.worker;
    options.cgroup_parent = cgroup_parent_;
    options.state_dir = state_dir_;
    options.ready_timeout = kReadyTimeout;
    supervisor_ = std::make_unique<Supervisor>(io_, std::move(options), tracker_);
  }

  // StopAll, bounded: a wedged strand must not keep the bench from removing its directory.
  void StopSupervisor() {
    if (!supervisor_) return;
    auto stopped = std::make_shared<std::promise<void>>();
    supervisor_->StopAll([stopped] { stopped->set_value(); });
    if (stopped->get_future().wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
      Progress("StopAll did not finish within 120 s");
    }
    supervisor_.reset();
  }

  // ---- 1. floor ----
  Status Floor() {
    const int n = options_.sequential;
    Progress(fmt::format("floor: {} × fork + unshare(pid|mnt|net|uts|ipc) + fork + exec /bin/true", n));
    std::vector<double> direct;
    for (int i = 0; i < n && !g_interrupted; ++i) {
      auto ms = SpawnUnshared();
      if (!ms.ok()) return ms.status();
      direct.push_back(*ms);
    }
    rows_.push_back({"floor: fork + unshare(pid,mnt,net,uts,ipc) + fork + exec `/bin/true` + wait", Summarize(direct),
                     std::nullopt, "", "in-process syscalls, sequential"});
    const std::string unshare_path = "/usr/bin/unshare";
    if (access(unshare_path.c_str(), X_OK) == 0) {
      Progress(fmt::format("floor: {} × unshare -fpmnui true", n));
      std::vector<double> tool;
      for (int i = 0; i < n && !g_interrupted; ++i) {
        auto ms = SpawnCommand({unshare_path, "-fpmnui", "/bin/true"});
        if (!ms.ok()) return ms.status();
        tool.push_back(*ms);
      }
      rows_.push_back({"floor: `unshare -fpmnui true` (util-linux)", Summarize(tool), std::nullopt, "",
                       "fork + exec of unshare(1) included"});
    }
    return Status::Ok();
  }

  // ---- where a launch spends its time, without the supervisor ----
  Status Steps() {
    const int n = options_.sequential;
    Progress(fmt::format("steps: {} × cgroup alone, then Launch() → ready frame → kill", n));
    std::vector<double> cg_create, cg_destroy, launch, contain, kill, total;
    std::size_t failed = 0;
    std::string first_error;
    // A sandbox lost to something outside the bench is counted and skipped, not allowed to end
    // the run.
    auto skip = [&](const Status& s) {
      if (failed++ == 0) first_error = s.ToString();
    };
    for (int i = 0; i < n && !g_interrupted; ++i) {
      Spec spec = MakeSpec("s", SmallLimits());
      const auto t0 = Clock::now();
      auto cgroup = rock::sandbox::Cgroup::Create(
          spec.id + "-cg", {spec.limits.memory_bytes, spec.limits.cpu_millis, spec.limits.pids}, cgroup_parent_);
      const auto t1 = Clock::now();
      if (!cgroup.ok()) {
        skip(cgroup.status().WithContext("cgroup alone"));
        continue;
      }
      if (Status s = cgroup->Destroy(); !s.ok()) {
        skip(s.WithContext("cgroup alone"));
        continue;
      }
      const auto t2 = Clock::now();
      cg_create.push_back(Ms(t1 - t0));
      cg_destroy.push_back(Ms(t2 - t1));

      const fs::path dir = state_dir_ / spec.id;
      spec.root_dir = (dir / "root").string();
      std::error_code ec;
      fs::create_directories(spec.root_dir, ec);
      if (ec) return rock::IoError("create " + spec.root_dir + ": " + ec.message());
      const auto t3 = Clock::now();
      auto process = rock::sandbox::Launch(spec, {.worker_path = options_.worker, .cgroup_parent = cgroup_parent_});
      const auto t4 = Clock::now();
      if (!process.ok()) {
        skip(process.status().WithContext("Launch"));
        fs::remove_all(dir, ec);
        continue;
      }
      Status ready = AwaitReadyFrame((*process)->control_fd());
      const auto t5 = Clock::now();
      process->reset();
      const auto t6 = Clock::now();
      fs::remove_all(dir, ec);
      if (!ready.ok()) {
        skip(ready.WithContext("sandbox " + spec.id));
        continue;
      }
      launch.push_back(Ms(t4 - t3));
      contain.push_back(Ms(t5 - t4));
      kill.push_back(Ms(t6 - t5));
      total.push_back(Ms(t5 - t3));
    }
    const std::string note = FailureNote(failed, first_error);
    if (total.empty()) return rock::Unavailable("steps: no sandbox became ready: " + first_error);
    rows_.push_back({"step: cgroup create (libcgroup; memory, cpu, pids)", Summarize(cg_create), std::nullopt, "", ""});
    rows_.push_back({"step: cgroup destroy (empty group)", Summarize(cg_destroy), std::nullopt, "", ""});
    rows_.push_back({"step: Launch() in rockd: cgroup + socketpair + clone (vfork-style, child joins its cgroup) + spec frame", Summarize(launch),
                     std::nullopt, "", ""});
    rows_.push_back({"step: exec rock-env → contain (mounts … seccomp) → `ready` frame", Summarize(contain),
                     std::nullopt, "", ""});
    rows_.push_back({"step: launch→ready without the supervisor (sum of the two above)", Summarize(total),
                     std::nullopt, "", note});
    rows_.push_back({"step: kill + reap + cgroup removal (~SandboxProcess)", Summarize(kill), std::nullopt, "", ""});
    return Status::Ok();
  }

  static Status AwaitReadyFrame(int fd) {
    while (true) {
      pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
      const int rc = poll(&p, 1, 10'000);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return rock::ErrnoError("poll(control socket)", errno);
      if (rc == 0) return rock::Unavailable("no ready frame within 10 s");
      auto frame = rock::sandbox::ReadFrame(fd);
      if (!frame.ok()) return frame.status();
      const std::string type = frame->value("type", "");
      if (type == "ready") return Status::Ok();
      if (type == "error") return rock::Internal("worker: " + frame->value("message", ""));
    }
  }

  // Posts every Create at once and waits for each one's callback.
  struct Created {
    std::vector<std::string> ids;  // all submitted
    std::vector<std::string> ready;
    std::vector<double> launch_ms, create_ms;
    Clock::time_point start, last_ready;
    std::size_t failed = 0;
    std::string first_error;
    bool complete = false;
  };

  Created CreateAll(std::vector<Spec> specs) {
    Created out;
    out.start = Clock::now();
    for (auto& spec : specs) {
      const std::string id = spec.id;
      out.ids.push_back(id);
      tracker_.Submitted(id);
      supervisor_->Create(std::move(spec),
                          [this, id](StatusOr<rock::sandbox::SandboxStatus> result) { tracker_.Created(id, result); });
    }
    const auto timeout = kWaitFloor + kWaitPerSandbox * static_cast<int64_t>(out.ids.size());
    out.complete = tracker_.WaitUntil(
        [&](const std::map<std::string, Record>& records, std::size_t) {
          return std::all_of(out.ids.begin(), out.ids.end(), [&](const std::string& id) {
            auto it = records.find(id);
            return it != records.end() && it->second.done;
          });
        },
        timeout);
    out.last_ready = out.start;
    for (const auto& id : out.ids) {
      const Record r = tracker_.Get(id);
      if (r.done && r.ok && r.ready_count > 0) {
        out.ready.push_back(id);
        out.launch_ms.push_back(std::chrono::duration<double, std::milli>(r.ready_latency).count());
        out.create_ms.push_back(Ms(r.ready_at - r.submitted));
        out.last_ready = std::max(out.last_ready, r.ready_at);
      } else {
        ++out.failed;
        if (out.first_error.empty()) out.first_error = r.done ? r.error : "no answer before the bench's deadline";
      }
    }
    return out;
  }

  // Posts every Delete at once; returns the wall time until the last one answered.
  StatusOr<double> DeleteAll(const std::vector<std::string>& ids) {
    const std::size_t before = tracker_.deleted();
    const auto start = Clock::now();
    for (const auto& id : ids) supervisor_->Delete(id, [this](Status s) { tracker_.Deleted(s); });
    const bool complete = tracker_.WaitUntil(
        [&](const std::map<std::string, Record>&, std::size_t deleted) { return deleted - before >= ids.size(); },
        kWaitFloor + kWaitPerSandbox * static_cast<int64_t>(ids.size()));
    const double ms = Ms(Clock::now() - start);
    if (!complete) return rock::Unavailable(fmt::format("deleting {} sandboxes did not finish", ids.size()));
    if (auto error = tracker_.delete_error(); !error.empty()) return rock::Internal("delete: " + error);
    return ms;
  }

  // Puts the host's favordynmods back as the bench found it.
  void RestoreHost() {
    if (!favordynmods_at_start_) return;
    if (Status s = rock::sandbox::SetFavorDynmods(*favordynmods_at_start_); !s.ok()) {
      Progress("restoring favordynmods: " + s.ToString());
    }
  }

  // ---- 2a. one at a time ----
  Status CreateSequential(const std::string& condition) {
    const int n = options_.sequential;
    const std::string suffix = condition.empty() ? "" : ", " + condition;
    Progress(fmt::format("create→ready (a{}): {} × create, wait ready, delete", suffix, n));
    StartSupervisor({});
    std::vector<double> launch, create, remove;
    std::size_t failed = 0;
    std::string first_error;
    for (int i = 0; i < n && !g_interrupted; ++i) {
      Created c = CreateAll({MakeSpec("a", DefaultLimits())});
      launch.insert(launch.end(), c.launch_ms.begin(), c.launch_ms.end());
      create.insert(create.end(), c.create_ms.begin(), c.create_ms.end());
      failed += c.failed;
      if (first_error.empty()) first_error = c.first_error;
      auto ms = DeleteAll(c.ids);
      if (!ms.ok()) return ms.status();
      remove.push_back(*ms);
    }
    StopSupervisor();
    const std::string note = FailureNote(failed, first_error);
    rows_.push_back({"(a) launch→ready, 1 at a time" + suffix, Summarize(launch), std::nullopt, "p50 ≤ 5, p99 ≤ 25", note});
    rows_.push_back({"(a) Create→ready, 1 at a time" + suffix, Summarize(create), std::nullopt, "p50 ≤ 5, p99 ≤ 25", ""});
    rows_.push_back({"(a) Delete of 1 live sandbox" + suffix, Summarize(remove), std::nullopt, "", ""});
    return Status::Ok();
  }

  // ---- 2b, 2c. many at once ----
  Status CreateConcurrent(int n, const rock::sandbox::Limits& limits, const std::string& label) {
    Progress(fmt::format("create→ready ({}): {} created at once", label, n));
    StartSupervisor({});
    std::vector<Spec> specs;
    for (int i = 0; i < n; ++i) specs.push_back(MakeSpec(label, limits));
    Created c = CreateAll(std::move(specs));
    const double wall_s = std::chrono::duration<double>(c.last_ready - c.start).count();
    const std::optional<double> rate =
        c.ready.empty() || wall_s <= 0 ? std::nullopt
                                       : std::optional<double>(static_cast<double>(c.ready.size()) / wall_s);
    Progress(fmt::format("create→ready ({}): {} ready, {} failed, {:.2f} s to the last ready", label, c.ready.size(),
                         c.failed, wall_s));
    rows_.push_back({fmt::format("({}) launch→ready, {} at once", label, n), Summarize(c.launch_ms), std::nullopt,
                     "p50 ≤ 5, p99 ≤ 25", FailureNote(c.failed, c.first_error)});
    rows_.push_back({fmt::format("({}) Create→ready, {} at once", label, n), Summarize(c.create_ms), rate, "",
                     "ready/s: ready sandboxes ÷ (last ready − first Create)"});
    auto ms = DeleteAll(c.ids);
    if (!ms.ok()) return ms.status();
    teardowns_.push_back({fmt::format("({}) {} live", label, n), c.ids.size(), *ms});
    StopSupervisor();
    if (!c.complete) return rock::Unavailable(fmt::format("({}) creation did not finish", label));
    return Status::Ok();
  }

  // ---- 3. density ----
  Status MeasureDensity() {
    Density d;
    d.requested = options_.density;
    Progress(fmt::format("density: creating up to {} sandboxes, {} at a time", d.requested, kCreateBatch));
    StartSupervisor({});
    std::this_thread::sleep_for(std::chrono::seconds(1));  // let the previous phase's memory settle
    const auto available_before = MeminfoKib("MemAvailable");
    const auto kernel_before = KernelMemoryKib();
    const auto shmem_before = MeminfoKib("Shmem");
    std::vector<std::string> all, live;
    const auto start = Clock::now();
    while (static_cast<int>(live.size()) < d.requested && !g_interrupted) {
      const int batch = std::min<int>(kCreateBatch, d.requested - static_cast<int>(live.size()));
      std::vector<Spec> specs;
      for (int i = 0; i < batch; ++i) specs.push_back(MakeSpec("d", SmallLimits()));
      Created c = CreateAll(std::move(specs));
      all.insert(all.end(), c.ids.begin(), c.ids.end());
      live.insert(live.end(), c.ready.begin(), c.ready.end());
      Progress(fmt::format("density: {} live", live.size()));
      if (c.failed > 0) {
        d.stopped_by = FailureNote(c.failed, c.first_error);
        break;
      }
    }
    d.create_s = std::chrono::duration<double>(Clock::now() - start).count();
    d.live = live.size();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto available_after = MeminfoKib("MemAvailable");
    const auto kernel_after = KernelMemoryKib();
    const auto shmem_after = MeminfoKib("Shmem");
    auto per_sandbox = [&](std::optional<uint64_t> before, std::optional<uint64_t> after) -> std::optional<double> {
      if (!before || !after || live.empty()) return std::nullopt;
      return (static_cast<double>(*after) - static_cast<double>(*before)) / static_cast<double>(live.size());
    };
    if (auto drop = per_sandbox(available_after, available_before)) d.mem_available_per_sandbox_kib = drop;
    d.kernel_per_sandbox_kib = per_sandbox(kernel_before, kernel_after);
    d.shmem_per_sandbox_kib = per_sandbox(shmem_before, shmem_after);
    auto statuses = std::make_shared<std::promise<std::vector<rock::sandbox::SandboxStatus>>>();
    supervisor_->List(
        [statuses](std::vector<rock::sandbox::SandboxStatus> list) { statuses->set_value(std::move(list)); });
    auto future = statuses->get_future();
    if (future.wait_for(std::chrono::seconds(60)) == std::future_status::ready && !live.empty()) {
      uint64_t sum = 0;
      std::size_t read = 0;
      for (const auto& s : future.get()) {
        if (s.state != rock::sandbox::State::kReady || !s.usage) continue;
        sum += s.usage->memory_bytes;
        ++read;
      }
      if (read > 0) d.cgroup_memory_per_sandbox_kib = static_cast<double>(sum) / 1024.0 / static_cast<double>(read);
    }
    Progress(fmt::format("density: deleting {} sandboxes", all.size()));
    auto ms = DeleteAll(all);
    if (!ms.ok()) return ms.status();
    d.delete_ms = *ms;
    density_ = d;
    StopSupervisor();
    return Status::Ok();
  }

  // ---- 4. crash → replacement ready ----
  Status Crashes() {
    Progress(fmt::format("crash: {} live sandboxes, {} SIGKILLs of init", options_.crash_pool, options_.crashes));
    // Every crash is the first failure in its window, so the supervisor restarts at once (as
    // after a first crash in production) rather than backing off; and never quarantines.
    SupervisorOptions options;
    options.crash_loop_failures = 1'000'000;
    options.crash_loop_window = std::chrono::milliseconds(1);
    StartSupervisor(options);
    std::vector<Spec> specs;
    for (int i = 0; i < options_.crash_pool; ++i) specs.push_back(MakeSpec("k", SmallLimits()));
    Created pool = CreateAll(std::move(specs));
    if (pool.ready.empty()) return rock::Unavailable("crash: no sandbox became ready: " + pool.first_error);
    std::vector<double> replaced, detected, relaunch;
    std::size_t lost = 0;
    for (int i = 0; i < options_.crashes && !g_interrupted; ++i) {
      const std::string& id = pool.ready[static_cast<std::size_t>(i) % pool.ready.size()];
      auto status = std::make_shared<std::promise<StatusOr<rock::sandbox::SandboxStatus>>>();
      supervisor_->Get(id, [status](StatusOr<rock::sandbox::SandboxStatus> s) { status->set_value(std::move(s)); });
      auto future = status->get_future();
      if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        return rock::Unavailable("crash: Get hung");
      }
      auto snapshot = future.get();
      if (!snapshot.ok()) return snapshot.status().WithContext("crash: Get " + id);
      if (snapshot->state != rock::sandbox::State::kReady || snapshot->pid <= 0) {
        ++lost;
        continue;
      }
      const Record before = tracker_.Get(id);
      const auto killed_at = Clock::now();
      if (kill(snapshot->pid, SIGKILL) != 0) {
        return rock::ErrnoError(fmt::format("kill({}, SIGKILL)", snapshot->pid), errno);
      }
      const bool back = tracker_.WaitUntil(
          [&](const std::map<std::string, Record>& records, std::size_t) {
            auto it = records.find(id);
            return it != records.end() && it->second.ready_count > before.ready_count;
          },
          std::chrono::seconds(10));
      if (!back) {
        ++lost;
        continue;
      }
      const Record after = tracker_.Get(id);
      replaced.push_back(Ms(after.ready_at - killed_at));
      if (after.failures > before.failures) detected.push_back(Ms(after.failed_at - killed_at));
      relaunch.push_back(std::chrono::duration<double, std::milli>(after.ready_latency).count());
    }
    const std::string note = lost == 0 ? "" : fmt::format("{} not ready again within 10 s", lost);
    rows_.push_back(
        {"crash: SIGKILL init → replacement ready (OnReady)", Summarize(replaced), std::nullopt, "≤ 50", note});
    rows_.push_back({"crash: SIGKILL init → failure recorded (pidfd seen; the old tree is then killed off the event loop)",
                     Summarize(detected), std::nullopt, "", ""});
    rows_.push_back(
        {"crash: relaunch → ready (supervisor's OnReady latency)", Summarize(relaunch), std::nullopt, "", ""});
    auto ms = DeleteAll(pool.ids);
    if (!ms.ok()) return ms.status();
    StopSupervisor();
    return Status::Ok();
  }

  Options options_;
  Tracker tracker_;  // outlives the supervisors and the io thread's handlers
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread io_thread_;
  fs::path state_dir_;
  std::unique_ptr<Supervisor> supervisor_;
  uint64_t next_id_ = 0;
  // Our own parent: another rockd on this host clears its parent at startup, never ours.
  const std::string cgroup_parent_ = fmt::format("rock-sandbox-bench-{}", getpid());
  std::string revision_ = "unknown";
  std::string load_at_start_ = LoadAverage();
  std::vector<LatencyRow> rows_;
  std::vector<TeardownRow> teardowns_;
  std::optional<Density> density_;
  std::optional<bool> favordynmods_at_start_;  // none: the kernel or the mounts lack the option
};

void Usage() {
  fmt::print(stderr,
             "usage: sandbox_bench [--quick] [--max N]\n"
             "  --quick  smoke run: N=20 sequential, 10 and 50 at once, density 100, 10 crashes\n"
             "  --max N  density: create until N sandboxes are live (default 1000) or creation fails\n"
             "Needs root. Markdown for docs/BENCHMARKS.md on stdout, progress on stderr.\n");
}

std::optional<Options> ParseArgs(int argc, char** argv) {
  Options options;
  std::optional<int> max;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--max" && i + 1 < argc) {
      char* end = nullptr;
      const long value = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || value < 1 || value > 100'000) {
        fmt::print(stderr, "sandbox_bench: --max '{}' is not a count in [1, 100000]\n", argv[i]);
        return std::nullopt;
      }
      max = static_cast<int>(value);
    } else {
      Usage();
      return std::nullopt;
    }
  }
  if (options.quick) {
    options.sequential = 20;
    options.concurrent_small = 10;
    options.concurrent_large = 50;
    options.density = 100;
    options.crashes = 10;
  }
  if (max) options.density = *max;
  return options;
}

// Four descriptors per live sandbox (control socket and pidfd, each with the Asio duplicate).
void RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    Progress(fmt::format("setrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)));
  }
}

std::string QuoteArg(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t'\"\\$`") == std::string::npos) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

int main(int argc, char** argv) {
  auto options = ParseArgs(argc, argv);
  if (!options) return 2;
  if (geteuid() != 0) {
    fmt::print(stderr, "sandbox_bench: needs root (namespaces, cgroups, pivot_root)\n");
    return 1;
  }
  rock::InitLogging("warn");
  RaiseFdLimit();
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i == 0 ? "" : " ") + QuoteArg(argv[i]);

  Status outcome;
  std::unique_ptr<Bench> bench = std::make_unique<Bench>(*options);
#ifdef ROCK_SOURCE_DIR
  bench->set_revision(CommandOutput("git -C " + QuoteArg(ROCK_SOURCE_DIR) + " describe --always --dirty 2>/dev/null"));
#endif
  outcome = bench->Run();
  if (!outcome.ok()) Progress("stopped: " + outcome.ToString());
  bench->PrintMarkdown(command_line, outcome);
  bench.reset();  // deletes every sandbox and the state directory
  Progress("cleaned up");
  return outcome.ok() ? 0 : 1;
}
