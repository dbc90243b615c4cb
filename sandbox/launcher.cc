#include "sandbox/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "sandbox/contain.h"
#include "sandbox/frame.h"

namespace rock::sandbox {
namespace {

pid_t Clone3(uint64_t flags, int* pidfd) {
  clone_args args{};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  args.exit_signal = SIGCHLD;
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof(args)));
}

// In the child, between clone and exec: async-signal-safe calls only, and no return.
[[noreturn]] void ExecWorker(int go_fd, int control_fd, const char* worker, char* const argv[], char* const envp[]) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  char go = 0;
  while (read(go_fd, &go, 1) < 0 && errno == EINTR) {
  }
  if (go != 'g') _exit(120);  // the parent gave up on us
  if (dup2(control_fd, kControlFd) < 0) _exit(121);
  execve(worker, argv, envp);
  _exit(122);
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

SandboxProcess::~SandboxProcess() {
  if (Status s = Kill(); !s.ok()) spdlog::error("sandbox pid {}: {}", pid_, s.message());
}

Status SandboxProcess::Kill() {
  if (cgroup_.path().empty()) return Status::Ok();  // already killed and destroyed
  Status status = cgroup_.KillAll();
  if (!wait_status_) wait_status_ = KillAndReap(pid_, pidfd_.get());
  if (Status s = cgroup_.Destroy(); !s.ok() && status.ok()) status = s;
  return status.WithContext("killing sandbox pid " + std::to_string(pid_));
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

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ErrnoError("socketpair(AF_UNIX)", errno);
  UniqueFd control(sv[0]);
  UniqueFd child_end(sv[1]);
  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) return ErrnoError("pipe2(O_CLOEXEC)", errno);
  UniqueFd go_read(go[0]);
  UniqueFd go_write(go[1]);

  // Everything the child touches is built before clone. The environment is not inherited:
  // rockd's (tokens, paths) is none of the sandbox's business.
  std::string fd_arg = std::to_string(kControlFd);
  char* argv[] = {const_cast<char*>(worker_path.c_str()), const_cast<char*>("--control-fd"), fd_arg.data(), nullptr};
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char* envp[] = {path_env, nullptr};

  int raw_pidfd = -1;
  const pid_t pid = Clone3(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC, &raw_pidfd);
  if (pid < 0) {
    return ErrnoError("clone3(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWUTS|CLONE_NEWIPC) for sandbox " + spec.id,
                      errno);
  }
  if (pid == 0) ExecWorker(go_read.get(), child_end.get(), worker_path.c_str(), argv, envp);
  UniqueFd pidfd(raw_pidfd);
  child_end.Reset();
  go_read.Reset();

  // The child waits on `go` so it is in its cgroup before it can allocate or fork.
  if (Status s = cgroup->Attach(pid); !s.ok()) {
    KillAndReap(pid, pidfd.get());
    return s.WithContext("sandbox " + spec.id);
  }
  const char go_byte = 'g';
  if (write(go_write.get(), &go_byte, 1) != 1) {
    const int err = errno;
    KillAndReap(pid, pidfd.get());
    return ErrnoError("write(go pipe) for sandbox " + spec.id, err);
  }
  go_write.Reset();
  auto process = std::make_unique<SandboxProcess>(pid, std::move(pidfd), std::move(control), std::move(cgroup).value());
  if (Status s = WriteFrame(process->control_fd(), {{"type", "spec"}, {"spec", SpecToJson(spec)}}); !s.ok()) {
    return s.WithContext("sending the spec to sandbox " + spec.id);
  }
  return process;
}

}  // namespace rock::sandbox
