// Integration tests of the rock-env worker: each test starts the real binary as PID 1 of fresh
// pid, mount, net, uts and ipc namespaces (what the launcher does, minus the cgroup), sends the
// spec and talks the frame protocol to it.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "envs/alfworld/alfworld_env.h"
#include "envs/sleepy/sleepy_env.h"
#include "sandbox/frame.h"
#include "sandbox/spec.h"
#include "tests/support/env_reply.h"

namespace rock::sandbox {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr uint64_t kDiskBytes = 8ull << 20;

// One worker in its own namespaces. The host-side process tree is
//   test ─fork─▶ starter (unshares) ─fork─▶ rock-env (PID 1 inside)
// and the starter exits with the worker's status, so the test can check how the worker ended.
class Worker {
 public:
  // `root_dir` empty: a fresh directory, removed with the worker.
  static std::unique_ptr<Worker> Start(Network network = Network::kNone, const std::string& root_dir = "",
                                       const std::string& env = "shell", uint32_t slots = 1,
                                       const std::string& data_dir = "") {
    auto worker = std::unique_ptr<Worker>(new Worker());
    char root_template[] = "/tmp/rockd-worker-test-XXXXXX";
    if (root_dir.empty() && mkdtemp(root_template) == nullptr) return nullptr;
    worker->root_dir_ = root_dir.empty() ? root_template : root_dir;
    worker->owns_root_dir_ = root_dir.empty();
    int sockets[2];
    int pid_pipe[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0 || pipe2(pid_pipe, O_CLOEXEC) != 0) return nullptr;
    worker->starter_ = fork();
    if (worker->starter_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) != 0) _exit(120);
      const pid_t child = fork();
      if (child == 0) {
        if (dup2(sockets[1], 3) < 0) _exit(121);
        execl(ROCK_ENV_BINARY, "rock-env", "--control-fd", "3", static_cast<char*>(nullptr));
        _exit(122);
      }
      if (write(pid_pipe[1], &child, sizeof(child)) != sizeof(child)) _exit(123);
      int status = 0;
      if (waitpid(child, &status, 0) != child) _exit(124);
      _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    close(sockets[1]);
    close(pid_pipe[1]);
    worker->fd_ = sockets[0];
    const bool got_pid = read(pid_pipe[0], &worker->pid_, sizeof(worker->pid_)) == sizeof(worker->pid_);
    close(pid_pipe[0]);
    if (!got_pid) return nullptr;
    Spec spec;
    spec.id = "worker-test";
    spec.env = env;
    spec.slots = slots;
    spec.data_dir = data_dir;
    spec.network = network;
    spec.limits.disk_bytes = kDiskBytes;
    spec.limits.wall_ms = 20'000;
    spec.root_dir = worker->root_dir_;
    if (!WriteFrame(worker->fd_, {{"type", "spec"}, {"spec", SpecToJson(spec)}}).ok()) return nullptr;
    return worker;
  }

  ~Worker() {
    if (fd_ >= 0) close(fd_);
    if (pid_ > 0) kill(pid_, SIGKILL);  // PID 1 of the namespace: takes everything inside with it
    if (starter_ > 0) waitpid(starter_, nullptr, 0);
    if (owns_root_dir_) rmdir(root_dir_.c_str());
  }

  void Send(const json& message) { ASSERT_TRUE(WriteFrame(fd_, message).ok()); }

  void SendRaw(const std::string& bytes) { ASSERT_EQ(write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size())); }

  // The next message, or a json null after `timeout` or at EOF.
  json Receive(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    pollfd pfd{.fd = fd_, .events = POLLIN};
    if (poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return nullptr;
    auto message = ReadFrame(fd_);
    return message.ok() ? *message : json();
  }

  json ReceiveReady() {
    json ready = Receive();
    EXPECT_EQ(ready.value("type", ""), "ready") << ready.dump();
    return ready;
  }

  // Runs one exec to its result.
  json Exec(json request) {
    request["type"] = "exec";
    if (!request.contains("id")) request["id"] = ++next_id_;
    Send(request);
    return Receive();
  }

  json Shell(const std::string& command, json extra = json::object()) {
    extra["shell"] = command;
    return Exec(std::move(extra));
  }

  // The worker's exit status as the starter reports it (blocks until it exits or `timeout`).
  std::optional<int> WaitExit(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(starter_, &status, WNOHANG) == starter_) {
        starter_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::nullopt;
  }

  pid_t host_pid() const { return pid_; }

 private:
  Worker() = default;

  int fd_ = -1;
  pid_t starter_ = -1;
  pid_t pid_ = -1;
  std::string root_dir_;
  bool owns_root_dir_ = false;
  int next_id_ = 0;
};

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: the worker mounts, pivots and changes uid";
    worker_ = Worker::Start();
    ASSERT_NE(worker_, nullptr);
    ready_ = worker_->ReceiveReady();
  }

  std::unique_ptr<Worker> worker_;
  json ready_;
};

// Pids visible in /proc, minus 1 (init), the lister and its parent (the exec's reaper).
constexpr const char* kListOtherPids =
    "import os; skip = {1, os.getpid(), os.getppid()}; "
    "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in skip))";

TEST_F(WorkerTest, ReadyAfterContainment) {
  EXPECT_EQ(ready_["env"], "shell");
  EXPECT_EQ(ready_["pid"], 1);
}

TEST_F(WorkerTest, PingPong) {
  worker_->Send({{"type", "ping"}, {"seq", 7}});
  EXPECT_EQ(worker_->Receive(), json({{"type", "pong"}, {"seq", 7}}));
}

TEST_F(WorkerTest, UnknownMessageTypeIsAnErrorAndKeepsGoing) {
  worker_->Send({{"type", "dance"}});
  const json error = worker_->Receive();
  EXPECT_EQ(error["type"], "error");
  EXPECT_EQ(error["message"], "unknown message type 'dance'");
  worker_->Send({{"type", "ping"}, {"seq", 1}});
  EXPECT_EQ(worker_->Receive()["type"], "pong");
}

TEST_F(WorkerTest, ExecReturnsOutputAndExitCode) {
  const json result = worker_->Shell("echo out; echo err >&2; exit 3");
  EXPECT_EQ(result["type"], "exec_result");
  EXPECT_EQ(result["id"], 1);
  EXPECT_EQ(result["stdout"], "out\n");
  EXPECT_EQ(result["stderr"], "err\n");
  EXPECT_EQ(result["exit_code"], 3);
  EXPECT_TRUE(result["signal"].is_null());
  EXPECT_EQ(result["timed_out"], false);
  EXPECT_EQ(result["truncated"], false);
  EXPECT_GE(result["duration_ms"].get<int>(), 0);

  const json cat = worker_->Exec({{"argv", {"cat"}}, {"stdin", "hello"}});
  EXPECT_EQ(cat["stdout"], "hello");
  EXPECT_EQ(cat["exit_code"], 0);

  // Feeding stdin and draining stdout at once: neither side may wait for the other.
  const json big = worker_->Exec({{"argv", {"cat"}}, {"stdin", std::string(300'000, 'x')}});
  EXPECT_EQ(big["stdout"], std::string(300'000, 'x'));

  const json env = worker_->Shell("echo $FOO $HOME $LANG; pwd", {{"env", {{"FOO", "bar"}}}, {"cwd", "/tmp"}});
  EXPECT_EQ(env["stdout"], "bar /workspace C.UTF-8\n/tmp\n");

  const json killed = worker_->Shell("kill -TERM $$");
  EXPECT_TRUE(killed["exit_code"].is_null());
  EXPECT_EQ(killed["signal"], SIGTERM);
}

TEST_F(WorkerTest, ExecReportsStartFailuresLikeAShell) {
  const json missing = worker_->Exec({{"argv", {"no-such-command"}}});
  EXPECT_EQ(missing["exit_code"], 127);
  EXPECT_THAT(missing["stderr"].get<std::string>(), HasSubstr("No such file or directory"));

  const json not_executable = worker_->Exec({{"argv", {"/etc/passwd"}}});
  EXPECT_EQ(not_executable["exit_code"], 126);
  EXPECT_THAT(not_executable["stderr"].get<std::string>(), HasSubstr("Permission denied"));

  const json bad_cwd = worker_->Exec({{"argv", {"true"}}, {"cwd", "/nowhere"}});
  EXPECT_EQ(bad_cwd["exit_code"], 127);
  EXPECT_THAT(bad_cwd["stderr"].get<std::string>(), HasSubstr("cd /nowhere"));

  const json empty = worker_->Exec({{"argv", json::array()}});
  EXPECT_EQ(empty["exit_code"], 127);
  EXPECT_THAT(empty["stderr"].get<std::string>(), HasSubstr("'argv' is empty"));
}

TEST_F(WorkerTest, ExecRunsAsUnprivilegedUserWithNoCapabilities) {
  const json result = worker_->Shell("id -u; id -g; id -G; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status");
  EXPECT_EQ(result["stdout"],
            "65534\n65534\n65534\n"
            "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
            "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n")
      << result.dump();
  // Init itself is contained the same way.
  const json init = worker_->Shell("grep -E '^(Uid|CapEff|CapBnd)' /proc/1/status");
  EXPECT_EQ(init["stdout"], "Uid:\t65534\t65534\t65534\t65534\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n");
  const json hostname = worker_->Exec({{"argv", {"hostname"}}});
  EXPECT_EQ(hostname["stdout"], "sandbox\n");
}

TEST_F(WorkerTest, ExecTimeoutKillsDaemonizedChildren) {
  const json result = worker_->Shell(
      "setsid sleep 1000 & (sleep 1000 &); (setsid bash -c 'sleep 1000 & kill -STOP $$' &); "
      "sleep 0.2; kill -STOP $$",
      {{"timeout_ms", 700}});
  EXPECT_EQ(result["timed_out"], true) << result.dump();
  EXPECT_EQ(result["signal"], SIGKILL);
  EXPECT_GE(result["duration_ms"].get<int>(), 700);
  EXPECT_LT(result["duration_ms"].get<int>(), 5000);
  const json others = worker_->Exec({{"argv", {"python3", "-c", kListOtherPids}}});
  EXPECT_EQ(others["stdout"], "[]\n") << others.dump();
}

TEST_F(WorkerTest, ExecLeavesNoBackgroundProcessBehind) {
  const json result = worker_->Shell("setsid sleep 1000 & (sleep 1000 &); echo started");
  EXPECT_EQ(result["exit_code"], 0);
  EXPECT_EQ(result["timed_out"], false);
  EXPECT_EQ(result["stdout"], "started\n");
  EXPECT_LT(result["duration_ms"].get<int>(), 5000);
  const json others = worker_->Exec({{"argv", {"python3", "-c", kListOtherPids}}});
  EXPECT_EQ(others["stdout"], "[]\n") << others.dump();
}

TEST_F(WorkerTest, OutputCapSetsTruncated) {
  const json result = worker_->Shell("head -c 5000000 /dev/zero | tr '\\0' a; echo done >&2", {{"max_output_bytes", 1000}});
  EXPECT_EQ(result["exit_code"], 0) << "a full pipe must never block the command";
  EXPECT_EQ(result["stdout"], std::string(1000, 'a'));
  EXPECT_EQ(result["stderr"], "done\n");
  EXPECT_EQ(result["truncated"], true);
}

TEST_F(WorkerTest, ShadowAndHostFilesAreInvisible) {
  const json result = worker_->Shell(
      "for p in /etc/shadow /etc/gshadow /root /var/lib /home /work /etc/rockd /.oldroot; do "
      "  test -e $p && echo present $p; done; ls /; cat /etc/passwd");
  EXPECT_EQ(result["exit_code"], 0);
  const std::string out = result["stdout"];
  EXPECT_THAT(out, ::testing::Not(HasSubstr("present")));
  EXPECT_THAT(out, HasSubstr("nobody:x:65534:65534:nobody:/workspace:"));
  EXPECT_THAT(out, ::testing::StartsWith("bin\ndev\netc\nlib\nlib32\nlib64\nproc\nsbin\ntmp\nusr\nworkspace\n"));
  const json init_environ = worker_->Shell("cat /proc/1/environ");
  EXPECT_NE(init_environ["exit_code"], 0);
}

TEST_F(WorkerTest, ProcSysIsReadOnly) {
  const json result = worker_->Shell("echo 1 > /proc/sys/kernel/sysrq");
  EXPECT_NE(result["exit_code"], 0);
  // Of sysrq-trigger, irq and bus, those this kernel has must be bound read-only as well.
  const json mounted = worker_->Shell("grep -E ' /proc/(sys|sysrq-trigger|irq|bus) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1");
  const json present = worker_->Shell("for p in sys sysrq-trigger irq bus; do test -e /proc/$p && echo /proc/$p ro; done");
  EXPECT_EQ(mounted["stdout"], present["stdout"]);
  EXPECT_THAT(mounted["stdout"].get<std::string>(), ::testing::StartsWith("/proc/sys ro\n"));
}

TEST_F(WorkerTest, RootIsReadOnlyButWorkspaceAndTmpAreWritable) {
  const json root = worker_->Shell("touch /x");
  EXPECT_NE(root["exit_code"], 0);
  EXPECT_THAT(root["stderr"].get<std::string>(), HasSubstr("Read-only file system"));
  EXPECT_NE(worker_->Shell("touch /usr/x")["exit_code"], 0);
  EXPECT_NE(worker_->Shell("touch /etc/x")["exit_code"], 0);
  const json writable = worker_->Shell("touch /workspace/a /tmp/b /dev/shm/c && stat -c '%u %a' /workspace /tmp");
  EXPECT_EQ(writable["exit_code"], 0) << writable.dump();
  EXPECT_EQ(writable["stdout"], "65534 755\n0 1777\n");
}

TEST_F(WorkerTest, WorkspaceSizeIsCapped) {
  const json result = worker_->Shell("dd if=/dev/zero of=/workspace/big bs=1M count=16");
  EXPECT_NE(result["exit_code"], 0);
  EXPECT_THAT(result["stderr"].get<std::string>(), HasSubstr("No space left on device"));
  const json size = worker_->Shell("stat -c %s /workspace/big");
  EXPECT_LE(std::stoull(size["stdout"].get<std::string>()), kDiskBytes);
}

// 1 if lo is up, then the interface names.
constexpr const char* kLoopbackState =
    "import fcntl, socket, struct; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
    "r = fcntl.ioctl(s, 0x8913, struct.pack('16sh22x', b'lo', 0)); "  // SIOCGIFFLAGS
    "print(struct.unpack('16sh22x', r)[1] & 1, [n for _, n in socket.if_nameindex()])";

TEST_F(WorkerTest, NoNetworkInterfacesButLoopback) {
  EXPECT_EQ(worker_->Exec({{"argv", {"python3", "-c", kLoopbackState}}})["stdout"], "0 ['lo']\n");

  auto loopback = Worker::Start(Network::kLoopback);
  ASSERT_NE(loopback, nullptr);
  loopback->ReceiveReady();
  EXPECT_EQ(loopback->Exec({{"argv", {"python3", "-c", kLoopbackState}}})["stdout"], "1 ['lo']\n");
  const json talk = loopback->Exec(
      {{"argv", {"python3", "-c",
                 "import socket; l = socket.create_server(('127.0.0.1', 0)); "
                 "c = socket.create_connection(l.getsockname()); print('connected')"}}});
  EXPECT_EQ(talk["stdout"], "connected\n") << talk.dump();
}

TEST_F(WorkerTest, OnlyTheControlFdIsInherited) {
  const json own = worker_->Exec({{"argv", {"ls", "/proc/self/fd"}}});
  EXPECT_EQ(own["stdout"], "0\n1\n2\n3\n") << "0-2 are the exec's pipes, 3 is ls's own directory";
  const json init = worker_->Exec({{"argv", {"ls", "/proc/1/fd"}}});
  EXPECT_NE(init["exit_code"], 0);
  EXPECT_THAT(init["stderr"].get<std::string>(), HasSubstr("Permission denied"));
}

TEST_F(WorkerTest, KillMinusOneCannotKillInit) {
  const json result = worker_->Shell("kill -9 -1; sleep 1");
  EXPECT_EQ(result["type"], "exec_result");
  worker_->Send({{"type", "ping"}, {"seq", 2}});
  EXPECT_EQ(worker_->Receive(), json({{"type", "pong"}, {"seq", 2}}));
  EXPECT_EQ(worker_->Shell("echo still here")["stdout"], "still here\n");
}

TEST_F(WorkerTest, ConcurrentExecsAreAnsweredById) {
  worker_->Send({{"type", "exec"}, {"id", "slow"}, {"shell", "sleep 0.6; echo slow"}});
  worker_->Send({{"type", "exec"}, {"id", "medium"}, {"shell", "sleep 0.3; echo medium"}});
  worker_->Send({{"type", "exec"}, {"id", "fast"}, {"argv", {"echo", "fast"}}});
  for (const char* id : {"fast", "medium", "slow"}) {
    const json result = worker_->Receive();
    EXPECT_EQ(result["id"], id);
    EXPECT_EQ(result["stdout"], std::string(id) + "\n");
  }
}

TEST_F(WorkerTest, MalformedFrameEndsTheWorker) {
  worker_->SendRaw(std::string("\0\0\0\x08not json", 12));
  EXPECT_EQ(worker_->WaitExit(), 2);
  EXPECT_EQ(kill(worker_->host_pid(), 0), -1);
}

TEST_F(WorkerTest, StopKillsEverythingAndExits) {
  worker_->Send({{"type", "exec"}, {"id", 1}, {"shell", "setsid sleep 1000 & sleep 1000"}});
  worker_->Send({{"type", "ping"}, {"seq", 1}});
  ASSERT_EQ(worker_->Receive()["type"], "pong");
  worker_->Send({{"type", "stop"}});
  EXPECT_EQ(worker_->WaitExit(), 0);
  EXPECT_EQ(kill(worker_->host_pid(), 0), -1);
}

TEST(WorkerContainmentFailure, BadRootDirIsReportedWithTheFailedCall) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the worker mounts, pivots and changes uid";
  auto worker = Worker::Start(Network::kNone, "/nonexistent-rockd-root");
  ASSERT_NE(worker, nullptr);
  const json error = worker->Receive();
  EXPECT_EQ(error["type"], "error");
  EXPECT_THAT(error["message"].get<std::string>(),
              HasSubstr("mount(tmpfs, /nonexistent-rockd-root, tmpfs, MS_NOSUID|MS_NODEV, \"size=4m,mode=0755\")"));
  EXPECT_EQ(worker->WaitExit(), 1);
}

}  // namespace
}  // namespace rock::sandbox

namespace rock::sandbox {
namespace {

// The same task, seed and actions played by rock-env in a sandbox and by an AlfworldEnv here
// give the same transcript; slots are independent episodes.
TEST(WorkerEpisodes, AlfworldSlotsMatchAnInProcessEnv) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the worker mounts, pivots and changes uid";
  auto worker = Worker::Start(Network::kNone, "", "alfworld", 4);
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->ReceiveReady()["env"], "alfworld");

  const json task = {{"type", "pick_and_place_simple"}, {"seed", 7}};
  alfworld::AlfworldEnv reference;
  auto expected_reset = reference.Reset(task, 0);
  ASSERT_TRUE(expected_reset.ok()) << expected_reset.status().ToString();

  worker->Send({{"type", "reset"}, {"slot", 2}, {"task", task}, {"seed", 0}, {"req", "r1"}});
  json reset = worker->Receive();
  ASSERT_EQ(reset.value("type", ""), "reset_result") << reset.dump();
  EXPECT_EQ(reset["slot"], 2);
  EXPECT_EQ(reset["req"], "r1");
  EXPECT_EQ(reset["observation"], expected_reset->observation);
  EXPECT_EQ(rock::test::InfoOf(reset), expected_reset->info);

  // Slot 3 plays another task in between; slot 2 must not notice.
  worker->Send({{"type", "reset"}, {"slot", 3}, {"task", {{"type", "pick_heat_then_place_in_recep"}, {"seed", 1}}}});
  EXPECT_EQ(worker->Receive().value("type", ""), "reset_result");

  const auto commands = expected_reset->info["admissible_commands"].get<std::vector<std::string>>();
  ASSERT_FALSE(commands.empty());
  for (const std::string& action : {commands.front(), std::string("dance wildly"), commands.back()}) {
    auto expected = reference.Step(action);
    ASSERT_TRUE(expected.ok()) << expected.status().ToString();
    worker->Send({{"type", "step"}, {"slot", 2}, {"action", action}});
    json step = worker->Receive();
    ASSERT_EQ(step.value("type", ""), "step_result") << step.dump();
    EXPECT_EQ(step["observation"], expected->observation) << action;
    EXPECT_EQ(step["reward"], expected->reward);
    EXPECT_EQ(step["terminated"], expected->terminated);
    EXPECT_EQ(step["truncated"], expected->truncated);
    EXPECT_EQ(rock::test::InfoOf(step), expected->info);
  }

  worker->Send({{"type", "close"}, {"slot", 2}});
  EXPECT_EQ(worker->Receive().value("type", ""), "closed");
  worker->Send({{"type", "step"}, {"slot", 2}, {"action", "look"}});
  json after_close = worker->Receive();
  EXPECT_EQ(after_close.value("type", ""), "env_error");
  EXPECT_EQ(after_close["code"], "failed_precondition");

  // The worker is still serving: heartbeats and the other slot.
  worker->Send({{"type", "ping"}, {"seq", 1}});
  EXPECT_EQ(worker->Receive().value("type", ""), "pong");
  worker->Send({{"type", "step"}, {"slot", 3}, {"action", "look"}});
  EXPECT_EQ(worker->Receive().value("type", ""), "step_result");
}

// Real ALFWorld games from the data directory, which the sandbox sees read-only at /data.
TEST(WorkerEpisodes, AlfworldPlaysRealGamesFromTheReadOnlyDataDir) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the worker mounts, pivots and changes uid";
  auto worker = Worker::Start(Network::kNone, "", "alfworld", 2, ROCK_ALFWORLD_FIXTURES);
  ASSERT_NE(worker, nullptr);
  worker->ReceiveReady();

  const json task = {{"type", "pick_heat_then_place_in_recep"}, {"split", "train"}, {"index", 0}};
  alfworld::AlfworldEnv reference(ROCK_ALFWORLD_FIXTURES);
  auto expected = reference.Reset(task, 0);
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  worker->Send({{"type", "reset"}, {"slot", 0}, {"task", task}});
  json reset = worker->Receive();
  ASSERT_EQ(reset.value("type", ""), "reset_result") << reset.dump();
  EXPECT_EQ(reset["observation"], expected->observation);
  EXPECT_EQ(rock::test::InfoOf(reset)["game_id"], expected->info["game_id"]);
  EXPECT_TRUE(rock::test::InfoOf(reset)["game_id"].get<std::string>().starts_with("train/pick_heat_then_place_in_recep-Egg"))
      << rock::test::InfoOf(reset).dump();

  // A game file named relative to the data directory.
  const std::string trial = rock::test::InfoOf(reset)["game_id"].get<std::string>();
  worker->Send({{"type", "reset"}, {"slot", 1}, {"task", {{"gamefile", "json_2.1.1/" + trial + "/game.tw-pddl"}}}});
  json by_file = worker->Receive();
  ASSERT_EQ(by_file.value("type", ""), "reset_result") << by_file.dump();
  EXPECT_EQ(by_file["observation"], expected->observation);

  json write = worker->Exec({{"shell", "touch /data/x"}});
  EXPECT_NE(write["exit_code"], 0) << "the data directory is read-only: " << write.dump();
  EXPECT_FALSE(std::filesystem::exists(std::string(ROCK_ALFWORLD_FIXTURES) + "/x"));
}

// Env messages run on their own thread: a ping sent while a step sleeps is answered before the
// step is, so a long step never looks like a hung worker.
TEST(WorkerEpisodes, PingsAreAnsweredWhileAStepRuns) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the worker mounts, pivots and changes uid";
  auto worker = Worker::Start(Network::kNone, "", "sleepy", 1);
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->ReceiveReady()["env"], "sleepy");
  worker->Send({{"type", "reset"}, {"slot", 0}, {"task", {{"steps", 1}, {"distribution", "fixed"}, {"scale_ms", 2000}}}});
  ASSERT_EQ(worker->Receive().value("type", ""), "reset_result");
  worker->Send({{"type", "step"}, {"slot", 0}, {"action", "wait"}});
  worker->Send({{"type", "ping"}, {"seq", 7}});
  const json first = worker->Receive();
  EXPECT_EQ(first.value("type", ""), "pong") << "the ping waited for the 2 s step: " << first.dump();
  EXPECT_EQ(first.value("seq", 0), 7);
  const json second = worker->Receive();
  EXPECT_EQ(second.value("type", ""), "step_result") << second.dump();
  EXPECT_EQ(second["terminated"], true) << second.dump();
}

// A sleepy episode in a sandbox: its steps sleep (clock_nanosleep) under the env seccomp
// profile, and draw what SleepyEnv::SleepMs computes outside it.
TEST(WorkerEpisodes, SleepyStepsSleepTheirDrawsUnderTheEnvSeccompProfile) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the worker mounts, pivots and changes uid";
  auto worker = Worker::Start(Network::kNone, "", "sleepy", 1);
  ASSERT_NE(worker, nullptr);
  EXPECT_EQ(worker->ReceiveReady()["env"], "sleepy");

  const json task = {{"steps", 3}, {"scale_ms", 10}, {"cap_ms", 100}};
  auto parsed = envs::SleepyEnv::ParseTask(task);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  worker->Send({{"type", "reset"}, {"slot", 0}, {"task", task}, {"seed", 11}});
  json reset = worker->Receive();
  ASSERT_EQ(reset.value("type", ""), "reset_result") << reset.dump();
  for (uint64_t k = 0; k < 3; ++k) {
    const double draw = envs::SleepyEnv::SleepMs(*parsed, 11, k, "wait");
    const auto start = std::chrono::steady_clock::now();
    worker->Send({{"type", "step"}, {"slot", 0}, {"action", "wait"}});
    json step = worker->Receive();
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(step.value("type", ""), "step_result") << step.dump();
    EXPECT_EQ(rock::test::InfoOf(step)["slept_ms"].get<double>(), draw);
    EXPECT_GE(elapsed.count(), draw) << "step " << k;
    EXPECT_EQ(step["terminated"], k == 2);
  }
}

}  // namespace
}  // namespace rock::sandbox
