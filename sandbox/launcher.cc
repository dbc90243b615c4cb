#include "sandbox/launcher.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "sandbox/contain.h"
#include "sandbox/frame.h"

namespace rock::sandbox {
namespace {

constexpr std::size_t kChildStackBytes = 64 * 1024;
constexpr int kExitAttachFailed = 120;
constexpr int kExitDupFailed = 121;
constexpr int kExitExecFailed = 122;

// What the child needs, prepared by the parent: the child shares the parent's memory
// (CLONE_VM) and may not allocate.
struct ChildArgs {
  const std::vector<std::string>* attach_files;
  int control_fd;
  const char* worker;
  char* const* argv;
  char* const* envp;
};

// Runs in the child between clone and exec on its own small stack, sharing memory with the
// suspended parent (CLONE_VFORK): async-signal-safe calls only, never a return into rockd.
// Not instrumented: sanitizers do not expect code on a foreign stack in a vfork child.
__attribute__((no_sanitize("address", "undefined"))) int ChildMain(void* raw) {
  const auto* args = static_cast<const ChildArgs*>(raw);
  // Handlers are the child's own copy (no CLONE_SIGHAND): every signal goes back to its
  // default before unblocking, so nothing of rockd's runs here, and an ignored disposition of
  // rockd's (SIGPIPE) does not leak into the sandbox through exec.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction current {};
    if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler != SIG_DFL) {
      sigaction(sig, &default_action, nullptr);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // Join the cgroup before anything can allocate or fork: "0" moves the writer itself.
  for (const std::string& file : *args->attach_files) {
    const int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) _exit(kExitAttachFailed);
    close(fd);
  }
  if (dup2(args->control_fd, kControlFd) < 0) _exit(kExitDupFailed);
  execve(args->worker, args->argv, args->envp);
  _exit(kExitExecFailed);
}

std::string DescribeChildExit(bool exited, int code) {
  if (!exited) return "crashed: killed by signal " + std::to_string(code) + " (" + strsignal(code) + ")";
  switch (code) {
    case kExitAttachFailed: return "launch: the child could not join its cgroup";
    case kExitDupFailed: return "launch: the child could not place its control socket";
    case kExitExecFailed: return "launch: execve of the worker failed";
    default: return "crashed: exited with status " + std::to_string(code);
  }
}

// Why a child that has already exited (or is exiting: `block`) never served. Empty if it is
// still running.
std::string EarlyExit(int pidfd, bool block) {
  siginfo_t info{};
  const int options = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
  if (waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, options) != 0 || info.si_pid == 0) return {};
  return DescribeChildExit(info.si_code == CLD_EXITED, info.si_status);
}

// SIGKILL through the pidfd (never a recycled pid), then reap; returns the wait status.
std::optional<int> KillAndReap(pid_t pid, int pidfd) {
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  return done == pid ? std::optional<int>(status) : std::nullopt;
}

}  // namespace

std::string DescribeWorkerExit(int wait_status) {
  if (WIFSIGNALED(wait_status)) return DescribeChildExit(false, WTERMSIG(wait_status));
  if (WIFEXITED(wait_status)) return DescribeChildExit(true, WEXITSTATUS(wait_status));
  return "crashed";
}

SandboxProcess::~SandboxProcess() {
  if (Status s = Kill(); !s.ok()) spdlog::error("sandbox pid {}: {}", pid_, s.message());
}

Status SandboxProcess::Kill() {
  if (cgroup_.path().empty()) return Status::Ok();  // already killed and destroyed
  // SIGKILL to the init of a pid namespace kills every process in it, and init is reaped only
  // after they are gone; Destroy's own kill pass then finds at most stragglers.
  if (!wait_status_) wait_status_ = KillAndReap(pid_, pidfd_.get());
  return cgroup_.Destroy().WithContext("killing sandbox pid " + std::to_string(pid_));
}

std::optional<int> SandboxProcess::TryReap() {
  if (wait_status_) return wait_status_;
  int ws = 0;
  if (waitpid(pid_, &ws, WNOHANG) == pid_) wait_status_ = ws;
  return wait_status_;
}

StatusOr<std::unique_ptr<SandboxProcess>> Launch(const Spec& spec, const LaunchOptions& options) {
  if (Status s = ValidateSpec(spec); !s.ok()) return s;
  const std::string& worker_path = options.worker_path;
  auto cgroup = Cgroup::Create(spec.id, {spec.limits.memory_bytes, spec.limits.cpu_millis, spec.limits.pids},
                               options.cgroup_parent);
  if (!cgroup.ok()) return cgroup.status().WithContext("sandbox " + spec.id);

  auto attach_files = cgroup->SelfAttachFiles();
  if (!attach_files.ok()) return attach_files.status().WithContext("sandbox " + spec.id);

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ErrnoError("socketpair(AF_UNIX)", errno);
  UniqueFd control(sv[0]);
  UniqueFd child_end(sv[1]);

  // Everything the child touches is built before clone. The environment is not inherited:
  // rockd's (tokens, paths) is none of the sandbox's business.
  std::string fd_arg = std::to_string(kControlFd);
  char* argv[] = {const_cast<char*>(worker_path.c_str()), const_cast<char*>("--control-fd"), fd_arg.data(), nullptr};
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env, nullptr};
  const ChildArgs args{&*attach_files, child_end.get(), worker_path.c_str(), argv, envp};

  // posix_spawn-style: CLONE_VM|CLONE_VFORK copies no page tables (a fork of rockd would copy
  // all of its mappings, and that grows with every live sandbox) and suspends us until the
  // child has exec'd. Signals stay blocked meanwhile so no handler of ours runs in the child.
  void* stack = mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return ErrnoError("mmap(child stack)", errno);
  sigset_t all;
  sigset_t saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  int raw_pidfd = -1;
  constexpr int kFlags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
                         CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  const pid_t pid = clone(ChildMain, static_cast<char*>(stack) + kChildStackBytes, kFlags,
                          const_cast<ChildArgs*>(&args), &raw_pidfd);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  munmap(stack, kChildStackBytes);
  if (pid < 0) {
    return ErrnoError("clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWUTS|"
                      "CLONE_NEWIPC) for sandbox " + spec.id,
                      clone_errno);
  }
  UniqueFd pidfd(raw_pidfd);
  child_end.Reset();
  // The child has exec'd or died by now; a death before exec says which step failed.
  if (std::string failure = EarlyExit(pidfd.get(), false); !failure.empty()) {
    KillAndReap(pid, pidfd.get());
    return Internal("starting sandbox " + spec.id + ": " + failure);
  }
  auto process = std::make_unique<SandboxProcess>(pid, std::move(pidfd), std::move(control), std::move(cgroup).value());
  nlohmann::json spec_frame = {{"type", "spec"}, {"spec", SpecToJson(spec)}};
  if (options.seccomp != nullptr) spec_frame["seccomp"] = SeccompFilterToJson(*options.seccomp);
  if (Status s = WriteFrame(process->control_fd(), spec_frame); !s.ok()) {
    // EPIPE: the child is gone or going; its exit says more than the broken pipe.
    if (std::string failure = EarlyExit(process->pidfd(), true); !failure.empty()) {
      return Internal("starting sandbox " + spec.id + ": " + failure);
    }
    return s.WithContext("sending the spec to sandbox " + spec.id);
  }
  return process;
}

}  // namespace rock::sandbox
