// Hostile code in real sandboxes, through rockd's API. Every test asserts containment, and its
// teardown asserts that the host, rockd and a neighbour sandbox were unaffected and that deleting
// each sandbox left no process, cgroup or state directory behind. Needs root, like rockd itself.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kToken = "secret-token";
// Small enough that every bomb hits its limit at once; big enough for bash and python3 beside the
// worker, whose sanitizer build alone holds about 48 MiB.
const json kVictimLimits = {{"memory_mb", 128}, {"pids", 32}, {"disk_mb", 16}, {"wall_s", 10}, {"cpus", 0.5}};
const json kNeighbourLimits = {{"memory_mb", 128}, {"pids", 64}, {"disk_mb", 16}, {"wall_s", 10}};
constexpr const char* kNeighbourFile = "neighbour.txt";
constexpr const char* kNeighbourContent = "the neighbour's own bytes\n";

std::string ReadHostFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool ProcessGone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

// Where the sandbox's group (`cgroup` is "<parent>/<id>" from the API) of `controller` lives:
// its own hierarchy on v1, the unified one on v2.
std::string CgroupDir(const std::string& controller, const std::string& cgroup) {
  if (std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers")) return "/sys/fs/cgroup/" + cgroup;
  return "/sys/fs/cgroup/" + controller + "/" + cgroup;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Headers Auth() { return {{"Authorization", std::string("Bearer ") + kToken}}; }

// After DELETE: the init is gone (reaped, not a zombie), and so are its cgroups and state dir.
void ExpectCleanedUp(const RockdProcess& rockd, const std::string& id, pid_t pid, const std::string& cgroup) {
  SCOPED_TRACE("cleanup of " + id);
  EXPECT_EQ(Http(rockd.port(), "GET", "/api/v1/sandboxes/" + id, "", Auth()).status, 404);
  EXPECT_TRUE(Eventually([&] { return ProcessGone(pid); }, seconds(5))) << "sandbox init " << pid << " still exists";
  for (const char* controller : {"memory", "pids", "cpu"}) {
    const std::string dir = CgroupDir(controller, cgroup);
    EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(dir); }, seconds(5))) << dir << " is left";
  }
  const std::string state = rockd.data_dir() + "/sandboxes/" + id;
  EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(state); }, seconds(5))) << state << " is left";
}

class HostileSandboxTest : public ::testing::Test {
 protected:
  struct Sandbox {
    std::string id;
    pid_t pid = 0;
    std::string cgroup;
  };

  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: sandboxes need namespaces, cgroups and mounts";
    }
    rockd_ = RockdProcess::Start({.config_json = R"({"log_level":"info"})", .env = {{"ROCKD_TOKEN", kToken}}});
    ASSERT_NE(rockd_, nullptr);
    neighbour_ = Create(kNeighbourLimits);
    ASSERT_FALSE(neighbour_.id.empty());
    ASSERT_EQ(Put(neighbour_.id, kNeighbourFile, kNeighbourContent).status, 200);
    victim_ = Create(kVictimLimits);
    ASSERT_FALSE(victim_.id.empty());
  }

  void TearDown() override {
    if (rockd_ == nullptr) return;
    ExpectHostRockdAndNeighbourUnaffected();
    // Victims first, so the neighbour is checked while they are being torn down.
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      const HttpReply reply = Http(rockd_->port(), "DELETE", "/api/v1/sandboxes/" + it->id, "", Auth());
      EXPECT_EQ(reply.status, 200) << it->id << ": " << reply.body;
      ExpectCleanedUp(*rockd_, it->id, it->pid, it->cgroup);
    }
    if (HasFailure()) ADD_FAILURE() << "rockd's log:\n" << rockd_->Log();
  }

  void ExpectHostRockdAndNeighbourUnaffected() {
    SCOPED_TRACE("host, rockd and neighbour after the attack");
    EXPECT_EQ(Http(rockd_->port(), "GET", "/healthz").status, 200);
    const json neighbour = Get(neighbour_.id);
    EXPECT_EQ(neighbour.value("state", ""), "ready") << neighbour.dump();
    EXPECT_EQ(neighbour.value("restarts", -1), 0) << neighbour.dump();
    EXPECT_EQ(neighbour.value("pid", 0), neighbour_.pid) << neighbour.dump();
    const json echo = Exec(neighbour_.id, "cat " + std::string(kNeighbourFile), 5);
    EXPECT_EQ(echo.value("exit_code", json()), 0) << echo.dump();
    EXPECT_EQ(echo.value("stdout", ""), kNeighbourContent) << echo.dump();
  }

  // Creates a sandbox that the teardown deletes and checks; empty id on failure.
  Sandbox Create(const json& limits, const std::string& network = "none") {
    const json body = {{"env", "shell"}, {"limits", limits}, {"network", network}, {"labels", {{"test", "hostile"}}}};
    const HttpReply reply = Http(rockd_->port(), "POST", "/api/v1/sandboxes", body.dump(), Auth());
    EXPECT_EQ(reply.status, 201) << reply.body;
    if (reply.status != 201) return {};
    const json created = reply.json();
    EXPECT_EQ(created["state"], "ready") << reply.body;
    Sandbox sandbox{created["id"].get<std::string>(), created["pid"].get<pid_t>(),
                    created["cgroup"].get<std::string>()};
    created_.push_back(sandbox);
    return sandbox;
  }

  json Get(const std::string& id) {
    const HttpReply reply = Http(rockd_->port(), "GET", "/api/v1/sandboxes/" + id, "", Auth());
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? reply.json() : json::object();
  }

  HttpReply ExecReply(const std::string& id, const std::string& cmd, double timeout_s, const std::string& stdin_data) {
    json body = {{"cmd", cmd}, {"timeout_s", timeout_s}};
    if (!stdin_data.empty()) body["stdin"] = stdin_data;
    return Http(rockd_->port(), "POST", "/api/v1/sandboxes/" + id + "/exec", body.dump(), Auth());
  }

  // Runs a shell command; the exec result, or an empty object (and a failure) if there is none.
  json Exec(const std::string& id, const std::string& cmd, double timeout_s, const std::string& stdin_data = "") {
    const HttpReply reply = ExecReply(id, cmd, timeout_s, stdin_data);
    EXPECT_EQ(reply.status, 200) << cmd << ": " << reply.body;
    return reply.status == 200 ? reply.json() : json::object();
  }

  // The sandbox is ready and runs a fresh command, possibly after rockd restarted it.
  void ExpectServing(const std::string& id) {
    EXPECT_TRUE(Eventually([&] { return Get(id).value("state", "") == "ready"; }, seconds(10))) << Get(id).dump();
    const json echo = Exec(id, "echo alive", 5);
    EXPECT_EQ(echo.value("stdout", ""), "alive\n") << echo.dump();
  }

  HttpReply Put(const std::string& id, const std::string& path, const std::string& data) {
    return Http(rockd_->port(), "PUT", "/api/v1/sandboxes/" + id + "/files?path=" + path, data, Auth());
  }

  std::unique_ptr<RockdProcess> rockd_;
  Sandbox neighbour_;
  Sandbox victim_;
  std::vector<Sandbox> created_;
};

// Returns the most of `value` seen while `work` runs, sampled every 20 ms.
template <typename Work, typename Value>
auto PeakWhile(Work& work, Value value) {
  auto peak = value();
  while (work.wait_for(milliseconds(20)) != std::future_status::ready) peak = std::max(peak, value());
  return peak;
}

uint64_t ReadCounter(const std::string& path) {
  uint64_t value = 0;
  std::ifstream(path) >> value;
  return value;
}

TEST_F(HostileSandboxTest, ForkBombIsCappedByPidsLimit) {
  const std::string pids_current = CgroupDir("pids", victim_.cgroup) + "/pids.current";
  // bash's bomb: each process forks two and returns, so the exec's own shell exits at once and
  // the tree lives on under the reaper. python's: every process forks forever, to the timeout.
  const std::string python_bomb =
      "python3 -c 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass'";
  for (const std::string& bomb : {std::string(":(){ :|:& };:"), python_bomb}) {
    SCOPED_TRACE(bomb);
    // The sandbox's own pids counter, not the host's process count: other work on the host
    // (builds, benchmarks) moves that by hundreds and would make the check meaningless.
    auto exec = std::async(std::launch::async, [&] { return ExecReply(victim_.id, bomb, 3, ""); });
    const uint64_t sandbox_peak = PeakWhile(exec, [&] { return ReadCounter(pids_current); });
    const HttpReply reply = exec.get();
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_LE(sandbox_peak, 32u) << "the pids cgroup let the bomb grow past its limit";
    // Whatever way the exec ended, the bomb ended with it: only the init is left.
    EXPECT_TRUE(Eventually([&] { return ReadCounter(pids_current) == 1; }, seconds(5)))
        << ReadCounter(pids_current) << " processes left; exec: " << reply.body.substr(0, 300);
  }
  ExpectServing(victim_.id);
}

TEST_F(HostileSandboxTest, MemoryBombIsOomKilledInsideTheSandbox) {
  const json result = Exec(victim_.id, "python3 -c 'data = b\"x\" * (1 << 30); print(len(data))'", 10);
  EXPECT_TRUE(result.value("signal", json()) == 9 || result.value("exit_code", json()) != 0) << result.dump();
  EXPECT_EQ(result.value("stdout", ""), "") << "1 GiB was allocated under a 128 MiB limit";
  EXPECT_TRUE(Eventually([&] { return Get(victim_.id)["usage"].value("oom_kills", 0) >= 1; }, seconds(5)))
      << Get(victim_.id).dump();
  ExpectServing(victim_.id);
}

TEST_F(HostileSandboxTest, FillingTmpfsIsBoundedByMemoryAndDiskLimits) {
  const std::string name = "fill-" + victim_.id;
  for (const std::string dir : {"/tmp", "/dev/shm"}) {
    SCOPED_TRACE(dir);
    const std::string file = dir + "/" + name;
    const json result = Exec(victim_.id, "dd if=/dev/zero of=" + file + " bs=1M count=1000", 10);
    EXPECT_NE(result.value("exit_code", json()), 0) << result.dump();
    EXPECT_TRUE(Contains(result.value("stderr", ""), "No space left on device")) << result.dump();
    const json size = Exec(victim_.id, "stat -c %s " + file, 5);
    EXPECT_LE(std::stoull(size.value("stdout", "0")), 16ull << 20) << size.dump();
    EXPECT_FALSE(std::filesystem::exists(file)) << "the sandbox's " << dir << " is the host's";
  }
  ExpectServing(victim_.id);
}

TEST_F(HostileSandboxTest, DiskFillOfWorkspaceStopsAtTheDiskLimit) {
  ASSERT_EQ(Put(victim_.id, "small.txt", "still here").status, 200);
  const json result = Exec(victim_.id, "dd if=/dev/zero of=/workspace/fill bs=1M count=1000", 10);
  EXPECT_NE(result.value("exit_code", json()), 0) << result.dump();
  EXPECT_TRUE(Contains(result.value("stderr", ""), "No space left on device")) << result.dump();
  const json size = Exec(victim_.id, "stat -c %s /workspace/fill", 5);
  const uint64_t bytes = std::stoull(size.value("stdout", "0"));
  EXPECT_LE(bytes, 16ull << 20) << size.dump();
  EXPECT_GE(bytes, 12ull << 20) << "the workspace filled up long before its limit: " << size.dump();
  const HttpReply read = Http(rockd_->port(), "GET", "/api/v1/sandboxes/" + victim_.id + "/files?path=small.txt", "",
                              Auth());
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.body, "still here");
  EXPECT_EQ(Exec(victim_.id, "rm /workspace/fill", 5).value("exit_code", json()), 0);
  EXPECT_EQ(Put(victim_.id, "after.txt", "room again").status, 200);
  ExpectServing(victim_.id);
}

TEST_F(HostileSandboxTest, CpuSpinPastTheWallLimitIsKilled) {
  json limits = kVictimLimits;
  limits["wall_s"] = 1;
  const Sandbox spinner = Create(limits);
  ASSERT_FALSE(spinner.id.empty());
  const auto start = std::chrono::steady_clock::now();
  const json result = Exec(spinner.id, "while true; do :; done", 30);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.value("timed_out", false), true) << result.dump();
  // A containment bound (the wall limit clamps the requested 30 s), not a performance target.
  EXPECT_LT(result.value("duration_ms", 1'000'000), 5000) << result.dump();
  EXPECT_LT(elapsed, seconds(5));
  ExpectServing(spinner.id);
}

TEST_F(HostileSandboxTest, SetsidDoubleForkEscapeFromTimeoutIsKilled) {
  const json result = Exec(victim_.id, "setsid sleep 300 & (sleep 300 &); sleep 300", 1);
  EXPECT_EQ(result.value("timed_out", false), true) << result.dump();
  const json listing = Exec(victim_.id, "cat /proc/[0-9]*/comm", 5);
  EXPECT_FALSE(Contains(listing.value("stdout", ""), "sleep")) << listing.dump();
  // The host's view agrees: nothing but the init is left in the sandbox's group.
  const std::string procs = CgroupDir("pids", victim_.cgroup) + "/cgroup.procs";
  EXPECT_TRUE(Eventually([&] {
    std::ifstream in(procs);
    pid_t pid = 0;
    while (in >> pid) {
      if (Contains(ReadHostFile("/proc/" + std::to_string(pid) + "/comm"), "sleep")) return false;
    }
    return true;
  })) << ReadHostFile(procs);
}

TEST_F(HostileSandboxTest, HostSecretsAreInvisible) {
  const std::string data_dir = rockd_->data_dir();
  const std::string config = std::filesystem::path(data_dir).parent_path().string() + "/rockd.json";
  ASSERT_TRUE(std::filesystem::exists(data_dir + "/rockd.db"));
  ASSERT_TRUE(std::filesystem::exists(config));
  for (const std::string& path : {std::string("/etc/shadow"), data_dir + "/rockd.db", config, data_dir,
                                 data_dir + "/sandboxes/" + neighbour_.id + "/root/workspace/" + kNeighbourFile}) {
    const json result = Exec(victim_.id, "ls -l " + path + " && cat " + path, 5);
    EXPECT_NE(result.value("exit_code", json()), 0) << path << " is reachable: " << result.dump();
  }
  // The token is in rockd's environment; nothing the sandbox can read carries it.
  const json environ = Exec(victim_.id, "cat /proc/1/environ; cat /proc/*/environ; env", 5);
  EXPECT_FALSE(Contains(environ.dump(), kToken)) << environ.dump();
  EXPECT_FALSE(Contains(ReadHostFile("/proc/" + std::to_string(victim_.pid) + "/environ"), kToken))
      << "the sandbox init inherited rockd's environment";

  const std::string marker = "marker-" + neighbour_.id;
  ASSERT_EQ(Put(neighbour_.id, marker, "neighbour secret").status, 200);
  const json found = Exec(victim_.id,
                          "find / -path /proc -prune -o -name " + marker + " -print 2>/dev/null; "
                          "cat /proc/[0-9]*/root/workspace/" + marker + " 2>/dev/null; true",
                          10);
  EXPECT_EQ(found.value("stdout", "?"), "") << found.dump();
}

TEST_F(HostileSandboxTest, TcpToAHostLoopbackListenerFails) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string port = std::to_string(ntohs(address.sin_port));

  const Sandbox with_loopback = Create(kVictimLimits, "loopback");
  ASSERT_FALSE(with_loopback.id.empty());
  for (const std::string& id : {victim_.id, with_loopback.id}) {
    SCOPED_TRACE(id);
    // The listener, and rockd's own API on the host's loopback.
    for (const std::string& target : {port, std::to_string(rockd_->port())}) {
      const json bash = Exec(id, "echo > /dev/tcp/127.0.0.1/" + target, 5);
      EXPECT_NE(bash.value("exit_code", json()), 0) << bash.dump();
      const json python = Exec(id,
                               "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", " + target +
                                   "), timeout=2); print(\"connected\")'",
                               5);
      EXPECT_NE(python.value("exit_code", json()), 0) << python.dump();
      EXPECT_FALSE(Contains(python.value("stdout", ""), "connected")) << python.dump();
    }
  }
  EXPECT_LT(accept(listener, nullptr, nullptr), 0) << "a sandbox reached the host's loopback";
  EXPECT_EQ(errno, EAGAIN);
  close(listener);
}

TEST_F(HostileSandboxTest, PtraceOfASiblingIsDenied) {
  const json result = Exec(victim_.id,
                           "sleep 100 & pid=$!; "
                           "python3 -c 'import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
                           "rc = libc.ptrace(16, int(sys.argv[1]), 0, 0); print(rc, ctypes.get_errno())' $pid; "
                           "kill $pid",
                           5);
  EXPECT_EQ(result.value("stdout", ""), "-1 1\n") << "PTRACE_ATTACH must fail with EPERM: " << result.dump();
  // The init and the exec reaper are not dumpable: their memory is closed to the sandbox.
  const json mem = Exec(victim_.id, "cat /proc/1/mem; cat /proc/1/environ", 5);
  EXPECT_TRUE(Contains(mem.value("stderr", ""), "cat: /proc/1/mem: Permission denied")) << mem.dump();
  EXPECT_TRUE(Contains(mem.value("stderr", ""), "cat: /proc/1/environ: Permission denied")) << mem.dump();
}

TEST_F(HostileSandboxTest, MountUnshareSetnsAreDenied) {
  for (const char* command : {"unshare -m true", "unshare -U true", "unshare -n true", "unshare -p -f true",
                              "nsenter -t 1 -m true", "nsenter -t 1 -n true"}) {
    const json result = Exec(victim_.id, command, 5);
    EXPECT_NE(result.value("exit_code", json()), 0) << command << ": " << result.dump();
  }
  const std::string calls = R"(
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def report(name, rc):
    print(name, rc, ctypes.get_errno())
report("unshare", libc.unshare(0x10000000))
report("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
report("umount", libc.umount2(b"/proc", 2))
report("setns", libc.setns(os.open("/proc/self/ns/mnt", os.O_RDONLY), 0))
)";
  const json result = Exec(victim_.id, "python3 -", 5, calls);
  EXPECT_EQ(result.value("stdout", ""), "unshare -1 1\nmount -1 1\numount -1 1\nsetns -1 1\n") << result.dump();
}

// The seccomp profile is really loaded in a sandbox: the kernel interfaces that have no use
// there fail from inside one (sandbox/seccomp_policy.cc; seccomp_policy_test.cc covers each).
TEST_F(HostileSandboxTest, KernelInterfacesAndExoticSocketsAreRefused) {
  const std::string calls = R"(
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": {"bpf": 321, "perf_event_open": 298, "io_uring_setup": 425, "keyctl": 250,
                 "kexec_load": 246, "init_module": 175, "clock_settime": 227, "reboot": 169},
      "aarch64": {"bpf": 280, "perf_event_open": 241, "io_uring_setup": 425, "keyctl": 219,
                  "kexec_load": 104, "init_module": 105, "clock_settime": 112, "reboot": 142}}[os.uname().machine]
for name in sorted(nr):
    rc = libc.syscall(nr[name], 0, 0, 0, 0, 0)
    print(name, rc, errno.errorcode.get(ctypes.get_errno(), "?"))
for family, label in ((40, "vsock"), (38, "alg"), (30, "tipc")):
    try:
        socket.socket(family, socket.SOCK_SEQPACKET).close()
        print(label, "opened")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
)";
  const json result = Exec(victim_.id, "python3 -", 10, calls);
  EXPECT_EQ(result.value("stdout", ""),
            "bpf -1 EPERM\nclock_settime -1 EPERM\ninit_module -1 EPERM\nio_uring_setup -1 EPERM\n"
            "kexec_load -1 EPERM\nkeyctl -1 EPERM\nperf_event_open -1 EPERM\nreboot -1 EPERM\n"
            "vsock EAFNOSUPPORT\nalg EAFNOSUPPORT\ntipc EAFNOSUPPORT\n")
      << result.dump();
}

TEST_F(HostileSandboxTest, KillMinusOneDoesNotKillInitOrNeighbours) {
  const HttpReply reply = ExecReply(victim_.id, "kill -9 -1; sleep 1", 5, "");
  // The exec may be reported as killed or as failed (its reaper died too); either way it ends.
  EXPECT_NE(reply.status, 0) << "rockd did not answer the exec";
  ExpectServing(victim_.id);
}

TEST_F(HostileSandboxTest, OnlyTheControlSocketIsInherited) {
  const json self = Exec(victim_.id, "ls /proc/self/fd | tr '\\n' ' '", 5);
  EXPECT_EQ(self.value("stdout", ""), "0 1 2 3 ") << "3 is ls's own directory: " << self.dump();
  const json links = Exec(victim_.id, "readlink /proc/$$/fd/*", 5);
  for (const char* kind : {"socket:", "/data", ".db", "rockd"}) {
    EXPECT_FALSE(Contains(links.value("stdout", ""), kind)) << links.dump();
  }
  const json init = Exec(victim_.id, "ls /proc/1/fd", 5);
  EXPECT_NE(init.value("exit_code", json()), 0) << init.dump();

  // From the host: the init holds /dev/null on 0-2, the control socket on 3, and nothing of
  // rockd's; anon inodes and pipes are its own (its signalfd, an exec reaper's result pipe).
  int sockets = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(victim_.pid) + "/fd")) {
    const std::string fd = entry.path().filename().string();
    const std::string target = std::filesystem::read_symlink(entry.path()).string();
    if (fd == "0" || fd == "1" || fd == "2") {
      EXPECT_EQ(target, "/dev/null") << "fd " << fd;
    } else if (target.starts_with("socket:")) {
      EXPECT_EQ(fd, "3") << "a second socket: " << target;
      ++sockets;
    } else {
      EXPECT_TRUE(target.starts_with("anon_inode:") || target.starts_with("pipe:")) << "fd " << fd << " -> " << target;
    }
  }
  EXPECT_EQ(sockets, 1);
}

TEST_F(HostileSandboxTest, WritingUnderProcSysFails) {
  const std::vector<std::string> readable = {"/proc/sys/kernel/pid_max", "/proc/sys/vm/swappiness",
                                             "/proc/sys/kernel/hostname"};
  std::vector<std::string> before;
  for (const std::string& path : readable) before.push_back(ReadHostFile(path));
  for (const char* command : {"echo 1 > /proc/sys/kernel/sysrq", "echo 3 > /proc/sys/vm/drop_caches",
                              "echo 4194000 > /proc/sys/kernel/pid_max", "echo 17 > /proc/sys/vm/swappiness",
                              "echo h > /proc/sysrq-trigger"}) {
    const json result = Exec(victim_.id, command, 5);
    EXPECT_NE(result.value("exit_code", json()), 0) << command << ": " << result.dump();
  }
  for (std::size_t i = 0; i < readable.size(); ++i) EXPECT_EQ(ReadHostFile(readable[i]), before[i]) << readable[i];
}

TEST_F(HostileSandboxTest, TiocstiIsDenied) {
  const std::string inject = R"(
import fcntl, os, termios
leader, follower = os.openpty()
try:
    fcntl.ioctl(follower, termios.TIOCSTI, b"x")
    print("injected")
except PermissionError:
    print("EPERM")
except OSError as e:
    print("errno", e.errno)
)";
  const json result = Exec(victim_.id, "python3 -", 5, inject);
  EXPECT_EQ(result.value("stdout", ""), "EPERM\n") << result.dump();
}

}  // namespace
}  // namespace rock::test
