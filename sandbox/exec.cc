#include "sandbox/exec.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "sandbox/frame.h"

namespace rock::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

// Where the reaper writes its result frame (its only descriptor above stderr).
constexpr int kResultFd = 3;
// Rounds of scan-and-kill before the reaper gives up on descendants (each sleeps 1 ms).
constexpr int kMaxKillRounds = 2000;
// After the tree is killed its pipes reach EOF at once; this only bounds a pathological case.
constexpr auto kDrainGrace = std::chrono::seconds(1);

const std::pair<const char*, const char*> kBaseEnv[] = {
    {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
    {"HOME", "/workspace"},
    {"LANG", "C.UTF-8"}};

// A pipe end being read into a capped buffer; fd -1 once at EOF.
struct Capture {
  int fd;
  uint64_t cap;
  std::string data;
  bool truncated = false;

  // Reads what is available; beyond the cap it is read and dropped so the writer never blocks.
  void Drain() {
    char buffer[65536];
    while (fd >= 0) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        close(fd);
        fd = -1;
        return;
      }
      const auto got = static_cast<uint64_t>(n);
      const uint64_t keep = std::min<uint64_t>(got, cap - std::min<uint64_t>(cap, data.size()));
      data.append(buffer, keep);
      if (keep < got) truncated = true;
    }
  }
};

[[noreturn]] void FailCommand(int exit_code, const std::string& message) {
  const std::string line = message + "\n";
  // Best effort: with stderr gone there is nowhere left to report to.
  [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, line.data(), line.size());
  _exit(exit_code);
}

// In the command's process: its own process group, default signal state, pipes on 0, 1, 2 and
// nothing else open. Exit codes for failures before the command runs follow the shell's.
[[noreturn]] void RunCommand(const ExecRequest& request, int stdin_fd, int stdout_fd, int stderr_fd) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  if (dup2(stdin_fd, STDIN_FILENO) < 0 || dup2(stdout_fd, STDOUT_FILENO) < 0 || dup2(stderr_fd, STDERR_FILENO) < 0) {
    FailCommand(127, fmt::format("rock-env: dup2: {}", std::strerror(errno)));
  }
  close_range(3, ~0U, 0);
  if (chdir(request.cwd.c_str()) != 0) {
    FailCommand(127, fmt::format("rock-env: cd {}: {}", request.cwd, std::strerror(errno)));
  }
  std::vector<char*> argv;
  for (const std::string& arg : request.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> env;
  for (const std::string& entry : request.env) env.push_back(const_cast<char*>(entry.c_str()));
  env.push_back(nullptr);
  // execvp searches the PATH of `environ`, so the request's PATH decides.
  environ = env.data();
  execvp(argv[0], argv.data());
  const int err = errno;
  FailCommand(err == ENOENT ? 127 : 126, fmt::format("rock-env: {}: {}", request.argv[0], std::strerror(err)));
}

std::optional<pid_t> ParentOf(const char* pid) {
  char buffer[512];
  const int fd = open(fmt::format("/proc/{}/stat", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const ssize_t n = read(fd, buffer, sizeof(buffer) - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  buffer[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
  const char* close_paren = std::strrchr(buffer, ')');
  char state = 0;
  int ppid = 0;
  if (close_paren == nullptr || std::sscanf(close_paren, ") %c %d", &state, &ppid) != 2) return std::nullopt;
  return ppid;
}

// Every live process whose parent chain reaches `ancestor`, from one scan of /proc.
std::vector<pid_t> Descendants(pid_t ancestor) {
  std::unordered_map<pid_t, pid_t> parent_of;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return {};
  while (const dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (std::optional<pid_t> ppid = ParentOf(entry->d_name)) parent_of[static_cast<pid_t>(pid)] = *ppid;
  }
  closedir(proc);
  std::vector<pid_t> found;
  for (const auto& [pid, ppid] : parent_of) {
    pid_t up = ppid;
    for (std::size_t hops = 0; up > 1 && up != ancestor && hops < parent_of.size(); ++hops) {
      const auto it = parent_of.find(up);
      if (it == parent_of.end()) break;
      up = it->second;
    }
    if (up == ancestor) found.push_back(pid);
  }
  return found;
}

// SIGKILLs the whole tree under this (subreaper) process and reaps it, until it has no children.
// SIGKILL ends stopped processes too; orphans of the killed reparent here and are found in the
// next scan. `reaped` sees every reaped child.
void KillDescendants(pid_t group, const std::function<void(pid_t, int)>& reaped) {
  kill(-group, SIGKILL);
  const pid_t self = getpid();
  for (int round = 0; round < kMaxKillRounds; ++round) {
    for (pid_t pid : Descendants(self)) kill(pid, SIGKILL);
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) reaped(pid, status);
    if (pid < 0 && errno == ECHILD) return;
    usleep(1000);
  }
}

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

struct Outcome {
  std::optional<int> wait_status;  // of the command; none if it could not be reaped
  bool timed_out = false;
  int64_t duration_ms = 0;
};

nlohmann::json ResultJson(const ExecRequest& request, const Outcome& outcome, const Capture& out, const Capture& err) {
  nlohmann::json exit_code = nullptr;
  nlohmann::json signal = nullptr;
  if (outcome.wait_status && WIFEXITED(*outcome.wait_status)) exit_code = WEXITSTATUS(*outcome.wait_status);
  if (outcome.wait_status && WIFSIGNALED(*outcome.wait_status)) signal = WTERMSIG(*outcome.wait_status);
  return {{"type", "exec_result"},      {"id", request.id},
          {"exit_code", exit_code},     {"signal", signal},
          {"stdout", out.data},         {"stderr", err.data},
          {"timed_out", outcome.timed_out}, {"truncated", out.truncated || err.truncated},
          {"duration_ms", outcome.duration_ms}};
}

// Runs the command to its exit or timeout, feeding stdin and capturing output; then kills what
// remains of its tree and drains the pipes to EOF.
Outcome Supervise(const ExecRequest& request, pid_t command, int stdin_fd, Capture& out, Capture& err) {
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + std::chrono::milliseconds(request.timeout_ms);
  Outcome outcome;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, command, 0));
  std::size_t stdin_done = 0;
  if (request.stdin_data.empty()) {
    close(stdin_fd);
    stdin_fd = -1;
  }
  while (!outcome.wait_status) {
    const int wait_ms = RemainingMs(deadline);
    if (wait_ms == 0 || pidfd < 0) {
      outcome.timed_out = pidfd >= 0;
      break;
    }
    pollfd fds[] = {{.fd = pidfd, .events = POLLIN},
                    {.fd = out.fd, .events = POLLIN},
                    {.fd = err.fd, .events = POLLIN},
                    {.fd = stdin_fd, .events = POLLOUT}};
    if (poll(fds, 4, wait_ms) < 0 && errno != EINTR) break;
    out.Drain();
    err.Drain();
    if (fds[3].revents != 0) {
      const ssize_t n = write(stdin_fd, request.stdin_data.data() + stdin_done, request.stdin_data.size() - stdin_done);
      if (n > 0) stdin_done += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || stdin_done == request.stdin_data.size()) {
        close(stdin_fd);
        stdin_fd = -1;
      }
    }
    int status = 0;
    if (fds[0].revents != 0 && waitpid(command, &status, WNOHANG) == command) outcome.wait_status = status;
  }
  outcome.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  if (pidfd >= 0) close(pidfd);
  if (stdin_fd >= 0) close(stdin_fd);
  KillDescendants(command, [&](pid_t pid, int status) {
    if (pid == command) outcome.wait_status = status;
  });
  const Clock::time_point drain_deadline = Clock::now() + kDrainGrace;
  while ((out.fd >= 0 || err.fd >= 0) && RemainingMs(drain_deadline) > 0) {
    pollfd fds[] = {{.fd = out.fd, .events = POLLIN}, {.fd = err.fd, .events = POLLIN}};
    poll(fds, 2, RemainingMs(drain_deadline));
    out.Drain();
    err.Drain();
  }
  return outcome;
}

// The reaper: a child subreaper, so every orphan of the command's tree reparents to it.
[[noreturn]] void RunReaper(const ExecRequest& request) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    (void)WriteFrame(kResultFd, ExecFailure(request.id, fmt::format("rock-env: prctl(PR_SET_CHILD_SUBREAPER): {}",
                                                                    std::strerror(errno))));
    _exit(1);
  }
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    (void)WriteFrame(kResultFd, ExecFailure(request.id, fmt::format("rock-env: pipe2: {}", std::strerror(errno))));
    _exit(1);
  }
  const pid_t command = fork();
  if (command == 0) RunCommand(request, in[0], out[1], err[1]);
  if (command < 0) {
    (void)WriteFrame(kResultFd, ExecFailure(request.id, fmt::format("rock-env: fork: {}", std::strerror(errno))));
    _exit(1);
  }
  setpgid(command, command);  // also done by the command; whichever runs first wins the race
  close(in[0]);
  close(out[1]);
  close(err[1]);
  for (int fd : {in[1], out[0], err[0]}) fcntl(fd, F_SETFL, O_NONBLOCK);
  Capture stdout_capture{.fd = out[0], .cap = request.max_output_bytes};
  Capture stderr_capture{.fd = err[0], .cap = request.max_output_bytes};
  const Outcome outcome = Supervise(request, command, in[1], stdout_capture, stderr_capture);
  _exit(WriteFrame(kResultFd, ResultJson(request, outcome, stdout_capture, stderr_capture)).ok() ? 0 : 1);
}

template <typename T>
StatusOr<T> Field(const nlohmann::json& message, const char* name, T fallback) {
  const auto it = message.find(name);
  if (it == message.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return InvalidArgument(fmt::format("exec: '{}' has the wrong type", name));
  }
}

}  // namespace

StatusOr<ExecRequest> ParseExecRequest(const nlohmann::json& message, const Limits& limits) {
  ExecRequest request;
  if (!message.contains("id")) return InvalidArgument("exec: 'id' is required");
  request.id = message.at("id");
  if (message.contains("argv")) {
    auto argv = Field<std::vector<std::string>>(message, "argv", {});
    if (!argv.ok()) return argv.status();
    request.argv = std::move(argv).value();
    if (request.argv.empty()) return InvalidArgument("exec: 'argv' is empty");
  } else if (message.contains("shell")) {
    auto shell = Field<std::string>(message, "shell", "");
    if (!shell.ok()) return shell.status();
    request.argv = {"/bin/bash", "-c", std::move(shell).value()};
  } else {
    return InvalidArgument("exec: one of 'argv' or 'shell' is required");
  }
  auto env = Field<std::map<std::string, std::string>>(message, "env", {});
  auto stdin_data = Field<std::string>(message, "stdin", "");
  auto cwd = Field<std::string>(message, "cwd", request.cwd);
  auto timeout_ms = Field<uint64_t>(message, "timeout_ms", limits.wall_ms);
  auto max_output = Field<uint64_t>(message, "max_output_bytes", limits.output_bytes);
  for (const Status& s : {env.status(), stdin_data.status(), cwd.status(), timeout_ms.status(), max_output.status()}) {
    if (!s.ok()) return s;
  }
  std::map<std::string, std::string> merged(std::begin(kBaseEnv), std::end(kBaseEnv));
  for (auto& [key, value] : *env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return InvalidArgument(fmt::format("exec: env name '{}' is empty or holds '='", key));
    }
    merged[key] = value;
  }
  for (const auto& [key, value] : merged) request.env.push_back(key + "=" + value);
  request.stdin_data = std::move(stdin_data).value();
  request.cwd = std::move(cwd).value();
  if (request.cwd.empty()) return InvalidArgument("exec: 'cwd' is empty");
  request.timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(*timeout_ms == 0 ? limits.wall_ms : *timeout_ms, limits.wall_ms));
  request.max_output_bytes = std::min(*max_output, limits.output_bytes);
  return request;
}

StatusOr<RunningExec> StartExec(const ExecRequest& request) {
  int result[2];
  if (pipe2(result, O_CLOEXEC) != 0) return ErrnoError("pipe2(exec result)", errno);
  const pid_t reaper = fork();
  if (reaper == 0) {
    // Only the result pipe stays open: the control socket, the signalfd and other execs'
    // pipes are the worker's, not the command's.
    if (dup2(result[1], kResultFd) < 0) _exit(1);
    close_range(kResultFd + 1, ~0U, 0);
    RunReaper(request);
  }
  const int fork_errno = errno;
  close(result[1]);
  if (reaper < 0) {
    close(result[0]);
    return ErrnoError("fork(exec reaper)", fork_errno);
  }
  fcntl(result[0], F_SETFL, O_NONBLOCK);
  return RunningExec{.id = request.id, .result = UniqueFd(result[0]), .reaper = reaper};
}

nlohmann::json RunExecHere(const nlohmann::json& message, const Limits& limits) {
  const nlohmann::json id = message.value("id", nlohmann::json());
  StatusOr<ExecRequest> request = ParseExecRequest(message, limits);
  if (!request.ok()) return ExecFailure(id, "rock-env: " + request.status().message());
  StatusOr<RunningExec> exec = StartExec(*request);
  if (!exec.ok()) return ExecFailure(id, "rock-env: " + exec.status().message());
  FrameDecoder decoder;
  char buffer[65536];
  pollfd readable{.fd = exec->result.get(), .events = POLLIN};
  while (true) {
    const ssize_t n = read(exec->result.get(), buffer, sizeof(buffer));
    if (n > 0) {
      decoder.Append(std::string_view(buffer, static_cast<std::size_t>(n)));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN) {
      poll(&readable, 1, -1);
    } else if (errno != EINTR) {
      break;
    }
  }
  while (waitpid(exec->reaper, nullptr, 0) < 0 && errno == EINTR) {
  }
  auto result = decoder.Next();
  return result.ok() && *result ? **result : ExecFailure(id, "rock-env: the exec's reaper ended without a result");
}

nlohmann::json ExecFailure(const nlohmann::json& id, std::string_view reason) {
  return {{"type", "exec_result"}, {"id", id},           {"exit_code", 127},    {"signal", nullptr},
          {"stdout", ""},          {"stderr", std::string(reason) + "\n"}, {"timed_out", false},
          {"truncated", false},    {"duration_ms", 0}};
}

}  // namespace rock::sandbox
