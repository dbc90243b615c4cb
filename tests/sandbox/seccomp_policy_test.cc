// Each test forks a child that loads the policy and then makes the syscall for real; the child's
// exit code carries the errno back. Denial tests first run the same call unconfined, so an EPERM
// under the policy is proven to come from the filter and not from missing privileges.
#include "sandbox/seccomp_policy.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rock::sandbox {

// Names the profile in gtest's failure messages.
void PrintTo(SeccompProfile profile, std::ostream* os) {
  *os << (profile == SeccompProfile::kShell ? "kShell" : "kEnv");
}

namespace {

constexpr const char* kMissingPath = "/nonexistent-rock-seccomp-test";
constexpr int kInstallFailed = 250;
constexpr int kKilledBySignal = 1000;  // Outcome of a child killed by signal s: kKilledBySignal + s.

// The child's exit code, or kKilledBySignal + signal.
int Outcome(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return kKilledBySignal + WTERMSIG(status);
  return -1;
}

// Runs `attempt` in a forked child, under `profile` when given, and returns the child's outcome.
// The child leaves with _exit: no atexit handlers (LeakSanitizer's needs ptrace) run there.
template <typename Attempt>
int RunInChild(const SeccompProfile* profile, Attempt attempt) {
  const pid_t pid = fork();
  if (pid == 0) {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (profile != nullptr && !InstallSeccompPolicy(*profile).ok()) _exit(kInstallFailed);
    _exit(attempt());
  }
  return pid < 0 ? -1 : Outcome(pid);
}

// errno of `call` (a raw syscall returning -1 on failure), 0 when it succeeded.
template <typename Call>
int ErrnoOf(const SeccompProfile* profile, Call call) {
  return RunInChild(profile, [&] {
    errno = 0;
    return call() == -1 ? errno : 0;
  });
}

// clone(2) as fork with extra flags; the new process leaves at once. 0 when it was created.
long CloneAndReap(uint64_t flags) {
  const long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid < 0) return -1;
  return Outcome(static_cast<pid_t>(pid)) == 0 ? 0 : -1;
}

long ProcessVm(bool write) {
  char local[8] = "abcdefg";
  char remote[8] = {};
  iovec local_iov{local, sizeof local};
  iovec remote_iov{remote, sizeof remote};
  return syscall(write ? SYS_process_vm_writev : SYS_process_vm_readv, getpid(), &local_iov, 1, &remote_iov, 1, 0);
}

long Setns() {
  const int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -1 : syscall(SYS_setns, fd, CLONE_NEWUTS);
}

long Adjtimex() {
  timex tx{};
  return syscall(SYS_adjtimex, &tx);
}

std::string ProfileName(SeccompProfile profile) { return profile == SeccompProfile::kShell ? "Shell" : "Env"; }

// A syscall the policy denies with EPERM, made with harmless arguments: unconfined it succeeds
// or fails with some other errno (as root), so it never changes the host.
struct DeniedCall {
  const char* name;
  long (*call)();
};

const DeniedCall kDeniedCalls[] = {
    {"mount", [] { return syscall(SYS_mount, "none", kMissingPath, "tmpfs", 0, nullptr); }},
    {"umount2", [] { return syscall(SYS_umount2, kMissingPath, 0); }},
    {"pivot_root", [] { return syscall(SYS_pivot_root, kMissingPath, kMissingPath); }},
    {"chroot", [] { return syscall(SYS_chroot, kMissingPath); }},
    {"open_tree", [] { return syscall(SYS_open_tree, -1, kMissingPath, 0); }},
    {"fsopen", [] { return syscall(SYS_fsopen, "rock-no-such-fs", 0); }},
    {"ptrace_traceme", [] { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }},
    {"ptrace_seize_parent", [] { return syscall(SYS_ptrace, PTRACE_SEIZE, getppid(), 0, 0); }},
    {"process_vm_readv", [] { return ProcessVm(false); }},
    {"process_vm_writev", [] { return ProcessVm(true); }},
    {"pidfd_getfd", [] { return syscall(SYS_pidfd_getfd, -1, 0, 0); }},
    {"kcmp", [] { return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, 0); }},
    {"unshare_newns", [] { return syscall(SYS_unshare, CLONE_NEWNS); }},
    {"unshare_newuser", [] { return syscall(SYS_unshare, CLONE_NEWUSER); }},
    {"unshare_newnet", [] { return syscall(SYS_unshare, CLONE_NEWNET); }},
    {"setns", [] { return Setns(); }},
    {"clone_newns", [] { return CloneAndReap(CLONE_NEWNS); }},
    {"clone_newuser", [] { return CloneAndReap(CLONE_NEWUSER); }},
    {"clone_newpid", [] { return CloneAndReap(CLONE_NEWPID); }},
    {"clone_newnet", [] { return CloneAndReap(CLONE_NEWNET); }},
    {"clone_newuts", [] { return CloneAndReap(CLONE_NEWUTS); }},
    {"clone_newipc", [] { return CloneAndReap(CLONE_NEWIPC); }},
    {"clone_newcgroup", [] { return CloneAndReap(CLONE_NEWCGROUP); }},
    {"bpf", [] { return syscall(SYS_bpf, -1, nullptr, 0); }},
    {"perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }},
    {"userfaultfd", [] { return syscall(SYS_userfaultfd, O_CLOEXEC); }},
    {"keyctl", [] { return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 0); }},
    {"add_key", [] { return syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0); }},
    {"request_key", [] { return syscall(SYS_request_key, nullptr, nullptr, nullptr, 0); }},
    {"io_uring_setup", [] { return syscall(SYS_io_uring_setup, 0, nullptr); }},
    {"open_by_handle_at", [] { return syscall(SYS_open_by_handle_at, -1, nullptr, 0); }},
    {"name_to_handle_at", [] { return syscall(SYS_name_to_handle_at, -1, kMissingPath, nullptr, nullptr, 0); }},
    {"kexec_load", [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0); }},
    {"init_module", [] { return syscall(SYS_init_module, nullptr, 0, ""); }},
    {"finit_module", [] { return syscall(SYS_finit_module, -1, "", 0); }},
    {"delete_module", [] { return syscall(SYS_delete_module, "rock_no_such_module", O_NONBLOCK); }},
    {"swapon", [] { return syscall(SYS_swapon, kMissingPath, 0); }},
    {"quotactl_fd", [] { return syscall(SYS_quotactl_fd, -1, 0, 0, nullptr); }},
    {"reboot_bad_magic", [] { return syscall(SYS_reboot, 0, 0, 0, nullptr); }},
    {"syslog_size", [] { return syscall(SYS_syslog, 10, nullptr, 0); }},
    {"clock_settime", [] { return syscall(SYS_clock_settime, CLOCK_REALTIME, nullptr); }},
    {"adjtimex_read", [] { return Adjtimex(); }},
    {"fanotify_init", [] { return syscall(SYS_fanotify_init, 0, 0); }},
    {"personality_no_aslr", [] { return syscall(SYS_personality, ADDR_NO_RANDOMIZE); }},
    {"personality_read_implies_exec", [] { return syscall(SYS_personality, READ_IMPLIES_EXEC); }},
    {"personality_high_bits", [] { return syscall(SYS_personality, (uint64_t{1} << 32) | ADDR_NO_RANDOMIZE); }},
};

class DeniedSyscallTest : public ::testing::TestWithParam<std::tuple<SeccompProfile, DeniedCall>> {};

TEST_P(DeniedSyscallTest, FailsWithEpermOnlyUnderThePolicy) {
  const auto& [profile, denied] = GetParam();
  const int unconfined = ErrnoOf(nullptr, denied.call);
  if (unconfined == EPERM) GTEST_SKIP() << denied.name << " fails with EPERM even unconfined (not root?)";
  EXPECT_EQ(ErrnoOf(&profile, denied.call), EPERM) << denied.name;
}

INSTANTIATE_TEST_SUITE_P(Profiles, DeniedSyscallTest,
                         ::testing::Combine(::testing::Values(SeccompProfile::kShell, SeccompProfile::kEnv),
                                            ::testing::ValuesIn(kDeniedCalls)),
                         [](const auto& p) {
                           return ProfileName(std::get<0>(p.param)) + "_" + std::get<1>(p.param).name;
                         });

class SeccompPolicyTest : public ::testing::TestWithParam<SeccompProfile> {
 protected:
  const SeccompProfile* profile() const { return &GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Profiles, SeccompPolicyTest,
                         ::testing::Values(SeccompProfile::kShell, SeccompProfile::kEnv),
                         [](const auto& p) { return ProfileName(p.param); });

TEST_P(SeccompPolicyTest, CloneWithoutNamespaceFlagsStillCreatesAProcess) {
  EXPECT_EQ(ErrnoOf(profile(), [] { return CloneAndReap(0); }), 0);
}

TEST_P(SeccompPolicyTest, Clone3FailsWithEnosys) {
  EXPECT_EQ(ErrnoOf(profile(),
                    [] {
                      // struct clone_args, version 0: flags, pidfd, child_tid, parent_tid,
                      // exit_signal, stack, stack_size, tls.
                      std::array<uint64_t, 8> args{};
                      args[4] = SIGCHLD;
                      const long pid = syscall(SYS_clone3, &args, sizeof args);
                      if (pid == 0) _exit(0);
                      return pid > 0 ? 0L : -1L;
                    }),
            ENOSYS);
}

TEST_P(SeccompPolicyTest, GlibcFallsBackFromClone3ForThreadsForkAndSpawn) {
  EXPECT_EQ(RunInChild(profile(),
                       [] {
                         pthread_t thread;
                         if (pthread_create(&thread, nullptr, [](void*) -> void* { return nullptr; }, nullptr) != 0) {
                           return 1;
                         }
                         if (pthread_join(thread, nullptr) != 0) return 2;
                         const pid_t child = fork();
                         if (child == 0) _exit(0);
                         if (child < 0 || Outcome(child) != 0) return 3;
                         pid_t spawned = 0;
                         char arg0[] = "true";
                         char* argv[] = {arg0, nullptr};
                         if (posix_spawn(&spawned, "/bin/true", nullptr, nullptr, argv, environ) != 0) return 4;
                         return Outcome(spawned) == 0 ? 0 : 5;
                       }),
            0);
}

TEST_P(SeccompPolicyTest, SocketFamiliesOtherThanUnixInetAndNetlinkDoNotExist) {
  const auto socket_errno = [this](const SeccompProfile* p, uint64_t family, int type, int protocol) {
    return ErrnoOf(p, [=] {
      const long fd = syscall(SYS_socket, family, type | SOCK_CLOEXEC, protocol);
      if (fd >= 0) close(static_cast<int>(fd));
      return fd < 0 ? -1L : 0L;
    });
  };
  // vsock, the kernel crypto API, TIPC, RDS, raw packets, PF_KEY, AppleTalk, and vsock again
  // with garbage in the high half of the register.
  for (uint64_t family : {uint64_t{AF_VSOCK}, uint64_t{AF_ALG}, uint64_t{AF_TIPC}, uint64_t{AF_RDS},
                          uint64_t{AF_PACKET}, uint64_t{AF_KEY}, uint64_t{AF_APPLETALK}, (uint64_t{1} << 32) | AF_VSOCK}) {
    EXPECT_EQ(socket_errno(profile(), family, SOCK_DGRAM, 0), EAFNOSUPPORT) << "family " << family;
  }
  for (auto [family, type, protocol] : {std::tuple{AF_UNIX, SOCK_STREAM, 0}, std::tuple{AF_INET, SOCK_STREAM, 0},
                                        std::tuple{AF_INET6, SOCK_DGRAM, 0}, std::tuple{AF_NETLINK, SOCK_RAW, 0}}) {
    EXPECT_EQ(socket_errno(profile(), family, type, protocol), socket_errno(nullptr, family, type, protocol))
        << "family " << family << " must work as it does unconfined";
  }
}

TEST_P(SeccompPolicyTest, TiocstiOnAPtyIsDenied) {
  const auto tiocsti = [](uint64_t request) {
    return [request] {
      int master = -1;
      int slave = -1;
      if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return -2L;
      const char c = '\n';
      return syscall(SYS_ioctl, slave, request, &c);
    };
  };
  const int unconfined = ErrnoOf(nullptr, tiocsti(TIOCSTI));
  if (unconfined == EPERM) GTEST_SKIP() << "TIOCSTI fails with EPERM even unconfined";
  EXPECT_EQ(ErrnoOf(profile(), tiocsti(TIOCSTI)), EPERM);
  // The kernel reads the request as 32 bits; garbage above them must not get past the filter.
  EXPECT_EQ(ErrnoOf(profile(), tiocsti((uint64_t{1} << 32) | TIOCSTI)), EPERM);
}

TEST_P(SeccompPolicyTest, TiocgwinszOnAPtyStillWorks) {
  EXPECT_EQ(ErrnoOf(profile(),
                    [] {
                      int master = -1;
                      int slave = -1;
                      if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return -2L;
                      winsize ws{};
                      return syscall(SYS_ioctl, slave, TIOCGWINSZ, &ws);
                    }),
            0);
}

TEST_P(SeccompPolicyTest, PersonalityMayQueryAndSetPerLinux) {
  EXPECT_EQ(ErrnoOf(profile(), [] { return syscall(SYS_personality, 0xffffffffUL); }), 0);
  EXPECT_EQ(ErrnoOf(profile(), [] { return syscall(SYS_personality, PER_LINUX); }), 0);
}

TEST_P(SeccompPolicyTest, FileReadAndWriteStillWork) {
  const std::string path = ::testing::TempDir() + "rock_seccomp_file_" + std::to_string(getpid());
  EXPECT_EQ(RunInChild(profile(),
                       [&path] {
                         const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
                         if (fd < 0) return 1;
                         char buf[5] = {};
                         if (write(fd, "rock", 4) != 4 || pread(fd, buf, 4, 0) != 4) return 2;
                         close(fd);
                         if (unlink(path.c_str()) != 0) return 3;
                         return std::strcmp(buf, "rock") == 0 ? 0 : 4;
                       }),
            0);
}

TEST_P(SeccompPolicyTest, ExecveStillWorks) {
  EXPECT_EQ(RunInChild(profile(),
                       [] {
                         execl("/bin/true", "true", static_cast<char*>(nullptr));
                         return 127;
                       }),
            0);
}

TEST_P(SeccompPolicyTest, UnixSocketsStillWork) {
  EXPECT_EQ(ErrnoOf(profile(),
                    [] { return syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0 ? -1L : 0L; }),
            0);
  EXPECT_EQ(ErrnoOf(profile(),
                    [] {
                      int fds[2];
                      return static_cast<long>(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds));
                    }),
            0);
}

TEST_P(SeccompPolicyTest, LoadingSetsNoNewPrivs) {
  EXPECT_EQ(RunInChild(profile(), [] { return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); }), 1);
}

TEST_P(SeccompPolicyTest, OneBuiltFilterLoadsInManyChildren) {
  StatusOr<SeccompFilter> filter = BuildSeccompFilter(GetParam());
  ASSERT_TRUE(filter.ok()) << filter.status().ToString();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(RunInChild(nullptr,
                         [&filter] {
                           if (LoadSeccompFilter(*filter) != 0) return kInstallFailed;
                           return syscall(SYS_umount2, kMissingPath, 0) == -1 ? errno : 0;
                         }),
              EPERM);
  }
}

TEST(SeccompFilterTest, LoadingAnEmptyProgramReturnsMinusEinval) {
  const SeccompFilter empty({}, false);
  EXPECT_EQ(RunInChild(nullptr, [&empty] { return -LoadSeccompFilter(empty); }), EINVAL);
}

#if defined(__x86_64__)
// getpid through the i386 entry point; returns what the kernel answered.
int Int80Getpid() {
  long ret = 20;  // __NR_getpid on i386
  asm volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
  return ret == getpid() ? 0 : 1;
}

TEST_P(SeccompPolicyTest, I386SyscallsKillTheProcess) {
  if (RunInChild(nullptr, Int80Getpid) != 0) GTEST_SKIP() << "this kernel does not serve int 0x80 (no IA32 emulation)";
  EXPECT_EQ(RunInChild(profile(), Int80Getpid), kKilledBySignal + SIGSYS);
}

TEST_P(SeccompPolicyTest, X32SyscallsKillTheProcess) {
  constexpr long kX32SyscallBit = 0x40000000;
  EXPECT_EQ(RunInChild(profile(), [] { return static_cast<int>(syscall(kX32SyscallBit | SYS_getpid) == getpid()); }),
            kKilledBySignal + SIGSYS);
}
#endif

TEST(SeccompFilterTest, RequestsDenialLoggingWhenTheKernelCanLog) {
  StatusOr<SeccompFilter> filter = BuildSeccompFilter(SeccompProfile::kShell);
  ASSERT_TRUE(filter.ok()) << filter.status().ToString();
  // SECCOMP_RET_LOG and SECCOMP_FILTER_FLAG_LOG arrived together, in Linux 4.14.
  uint32_t log_action = SECCOMP_RET_LOG;
  const bool kernel_can_log = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &log_action) == 0;
  EXPECT_EQ(filter->logs_denials(), kernel_can_log);
}

TEST(SeccompFilterTest, DeniedSyscallsListsTheKernelAttackSurface) {
  for (SeccompProfile profile : {SeccompProfile::kShell, SeccompProfile::kEnv}) {
    const std::vector<std::string> denied = DeniedSyscalls(profile);
    for (const char* name :
         {"mount", "umount2", "pivot_root", "ptrace", "process_vm_readv", "process_vm_writev", "kexec_load",
          "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf", "perf_event_open", "userfaultfd",
          "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "unshare",
          "setns", "open_by_handle_at"}) {
      EXPECT_THAT(denied, ::testing::Contains(name)) << ProfileName(profile);
    }
    EXPECT_THAT(denied, ::testing::Not(::testing::Contains("clone")));
    EXPECT_THAT(denied, ::testing::Not(::testing::Contains("read")));
  }
}

TEST(SeccompFilterTest, CompiledProgramSurvivesTheSpecFrameUnchanged) {
  StatusOr<SeccompFilter> built = BuildSeccompFilter(SeccompProfile::kEnv);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  // Through text, as the frame carries it.
  StatusOr<SeccompFilter> back = SeccompFilterFromJson(nlohmann::json::parse(SeccompFilterToJson(*built).dump()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->program().size(), built->program().size());
  EXPECT_EQ(std::memcmp(back->program().data(), built->program().data(), built->program().size() * sizeof(sock_filter)), 0);
  EXPECT_EQ(back->logs_denials(), built->logs_denials());
}

TEST(SeccompFilterTest, MalformedProgramsAreRefused) {
  for (const char* text : {R"([])", R"({"program":[],"log":true})", R"({"program":[[1,2,3,4]]})",
                           R"({"program":[[1,2,3]],"log":true})", R"({"program":[[1,2,3,-4]],"log":true})",
                           R"({"program":[[65536,0,0,0]],"log":true})", R"({"program":[[6,256,0,0]],"log":false})",
                           R"({"program":[[6,0,0,4294967296]],"log":false})", R"({"program":[["6",0,0,0]],"log":false})",
                           R"({"program":"x","log":false})"}) {
    EXPECT_EQ(SeccompFilterFromJson(nlohmann::json::parse(text)).status().code(), Code::kInvalidArgument) << text;
  }
}

TEST(SeccompFilterTest, ShellSandboxesGetTheShellProfile) {
  EXPECT_EQ(SeccompProfileFor("shell"), SeccompProfile::kShell);
  EXPECT_EQ(SeccompProfileFor("alfworld"), SeccompProfile::kEnv);
}

}  // namespace
}  // namespace rock::sandbox
