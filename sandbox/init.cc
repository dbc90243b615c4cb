#include "sandbox/init.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/unique_fd.h"
#include "sandbox/exec.h"
#include "sandbox/frame.h"
#include "sandbox/handler_thread.h"
#include "sandbox/local_exec.h"

namespace rock::sandbox {
namespace {

constexpr int kExitStopped = 0;
constexpr int kExitIoError = 1;
constexpr int kExitProtocolError = 2;

// From PID 1, kill(-1) reaches every other process of the pid namespace. Repeated until no child
// is left, in case one was forked between a kill and the wait.
void KillEverything() {
  while (true) {
    kill(-1, SIGKILL);
    if (waitpid(-1, nullptr, 0) < 0 && errno != EINTR) return;
  }
}

void ReapZombies() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

struct PendingExec {
  RunningExec exec;
  FrameDecoder decoder;
  std::optional<std::promise<nlohmann::json>> local;  // asked by a handler, not by rockd
};

class Init {
 public:
  Init(const Spec& spec, int control_fd, std::span<MessageHandler* const> handlers, LocalExecs* local_execs)
      : spec_(spec), control_fd_(control_fd), handlers_(handlers), local_execs_(local_execs) {}

  int Run() {
    // SIGCHLD arrives through the signalfd; SIGPIPE would kill us on a closed socket or pipe.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal_fd_.Reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!signal_fd_.valid()) {
      spdlog::error("init: signalfd(SIGCHLD): {}", std::strerror(errno));
      return kExitIoError;
    }
    // After the mask above, which the handler thread inherits: SIGCHLD stays the signalfd's.
    if (!handlers_.empty()) {
      handler_thread_ = std::make_unique<HandlerThread>(handlers_, [this](const nlohmann::json& m) {
        // A failed write is the main loop's to act on: the control socket then reads EOF.
        if (Status s = Write(m); !s.ok()) spdlog::error("init: {}", s.ToString());
      });
    }
    Send({{"type", "ready"}, {"env", spec_.env}, {"pid", getpid()}});
    while (!exit_code_) Poll();
    KillEverything();
    // A handler may be waiting on a local exec: answer it, or joining its thread would hang.
    for (PendingExec& pending : execs_) {
      if (pending.local) pending.local->set_value(ExecFailure(pending.exec.id, "rock-env: stopping; the command was killed"));
    }
    if (local_execs_ != nullptr) local_execs_->Close();
    handler_thread_.reset();
    return *exit_code_;
  }

 private:
  // One frame at a time on the control socket, from the init loop and the handler thread.
  Status Write(const nlohmann::json& message) {
    std::lock_guard lock(write_mutex_);
    return WriteFrame(control_fd_, message);
  }

  void Send(const nlohmann::json& message) {
    if (exit_code_) return;
    if (Status s = Write(message); !s.ok()) {
      spdlog::error("init: {}", s.ToString());
      exit_code_ = kExitIoError;
    }
  }

  void Poll() {
    std::vector<pollfd> fds = {{.fd = control_fd_, .events = POLLIN},
                               {.fd = signal_fd_.get(), .events = POLLIN},
                               {.fd = local_execs_ != nullptr ? local_execs_->wake_fd() : -1, .events = POLLIN}};
    for (const PendingExec& pending : execs_) fds.push_back({.fd = pending.exec.result.get(), .events = POLLIN});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) return;
      spdlog::error("init: poll: {}", std::strerror(errno));
      exit_code_ = kExitIoError;
      return;
    }
    if (fds[1].revents != 0) {
      signalfd_siginfo info;
      while (read(signal_fd_.get(), &info, sizeof(info)) > 0) {
      }
      ReapZombies();
    }
    std::size_t index = 3;
    for (auto it = execs_.begin(); it != execs_.end(); ++index) {
      it = fds[index].revents != 0 && !ReadExecResult(*it) ? execs_.erase(it) : std::next(it);
    }
    // After the loop above, which walks only the execs that were polled.
    if (fds[2].revents != 0) {
      for (LocalExecRequest& request : local_execs_->Take()) StartExecFor(request.message, std::move(request.result));
    }
    if (fds[0].revents != 0) ReadControl();
  }

  // Forwards the reaper's result; false once its pipe is at EOF (the reaper has exited).
  bool ReadExecResult(PendingExec& pending) {
    char buffer[65536];
    while (true) {
      const ssize_t n = read(pending.exec.result.get(), buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n > 0) {
        pending.decoder.Append(std::string_view(buffer, static_cast<std::size_t>(n)));
        continue;
      }
      auto result = pending.decoder.Next();
      // A reaper killed from inside (kill -9 -1 reaches it) leaves no result; say so.
      Answer(pending, result.ok() && *result ? **result
                                             : ExecFailure(pending.exec.id, "rock-env: the exec's reaper ended without a result"));
      return false;
    }
  }

  void ReadControl() {
    char buffer[65536];
    const ssize_t n = read(control_fd_, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return;
      spdlog::error("init: read(control fd {}): {}", control_fd_, std::strerror(errno));
      exit_code_ = kExitIoError;
      return;
    }
    if (n == 0) {  // rockd closed its end: same as stop
      exit_code_ = kExitStopped;
      return;
    }
    decoder_.Append(std::string_view(buffer, static_cast<std::size_t>(n)));
    while (!exit_code_) {
      auto message = decoder_.Next();
      if (!message.ok()) {
        spdlog::error("init: control socket: {}", message.status().ToString());
        exit_code_ = kExitProtocolError;
        return;
      }
      if (!*message) return;
      Dispatch(**message);
    }
  }

  void Dispatch(const nlohmann::json& message) {
    const auto type_it = message.find("type");
    const std::string type = type_it != message.end() && type_it->is_string() ? type_it->get<std::string>() : "";
    if (type == "ping") {
      Send({{"type", "pong"}, {"seq", message.value("seq", nlohmann::json())}});
    } else if (type == "exec") {
      StartExecFor(message);
    } else if (type == "stop") {
      exit_code_ = kExitStopped;
    } else if (handler_thread_) {
      if (!handler_thread_->HandleHereIfIdle(message)) handler_thread_->Post(message);
    } else {
      Send({{"type", "error"}, {"message", fmt::format("unknown message type '{}'", type)}});
    }
  }

  // An exec's result goes to whoever asked: rockd, or the handler waiting on it.
  void Answer(PendingExec& pending, const nlohmann::json& result) {
    if (pending.local) {
      pending.local->set_value(result);
    } else {
      Send(result);
    }
  }

  void StartExecFor(const nlohmann::json& message, std::optional<std::promise<nlohmann::json>> local = std::nullopt) {
    PendingExec pending{.local = std::move(local)};
    StatusOr<ExecRequest> request = ParseExecRequest(message, spec_.limits);
    if (!request.ok()) {
      pending.exec.id = message.value("id", nlohmann::json());
      if (!message.contains("id") && !pending.local) {
        Send({{"type", "error"}, {"message", request.status().message()}});
      } else {
        Answer(pending, ExecFailure(pending.exec.id, "rock-env: " + request.status().message()));
      }
      return;
    }
    StatusOr<RunningExec> exec = StartExec(*request);
    if (!exec.ok()) {
      Answer(pending, ExecFailure(request->id, "rock-env: " + exec.status().message()));
      return;
    }
    pending.exec = std::move(exec).value();
    execs_.push_back(std::move(pending));
  }

  const Spec& spec_;
  const int control_fd_;
  const std::span<MessageHandler* const> handlers_;
  LocalExecs* const local_execs_;  // may be null
  UniqueFd signal_fd_;
  FrameDecoder decoder_;
  std::list<PendingExec> execs_;
  std::optional<int> exit_code_;
  std::mutex write_mutex_;
  std::unique_ptr<HandlerThread> handler_thread_;  // when there are handlers
};

}  // namespace

int RunInit(const Spec& spec, int control_fd, std::span<MessageHandler* const> handlers, LocalExecs* local_execs) {
  return Init(spec, control_fd, handlers, local_execs).Run();
}

}  // namespace rock::sandbox
