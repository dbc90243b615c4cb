// rock-env: the worker that runs inside a sandbox. The launcher starts it as PID 1 of fresh
// namespaces, still root on the host filesystem, with the control socket on --control-fd; the
// first frame is the sandbox's spec. It contains itself by the spec, then serves as init.
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/log.h"
#include "envs/env_kinds.h"
#include "envs/episode_host.h"
#include "sandbox/contain.h"
#include "sandbox/frame.h"
#include "sandbox/init.h"
#include "sandbox/local_exec.h"
#include "sandbox/spec.h"

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer stops the world with ptrace at exit, which this process's own seccomp profile
// denies (EPERM), and would hang a sanitizer build's clean exit. Leak checking of this code
// happens in the unit tests, outside a sandbox.
extern "C" int __lsan_is_turned_off() { return 1; }
#endif

namespace {

int Fail(int fd, const std::string& message) {
  spdlog::error("rock-env: {}", message);
  (void)rock::sandbox::WriteFrame(fd, {{"type", "error"}, {"message", message}});
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  rock::InitLogging("info");
  if (argc != 3 || std::string_view(argv[1]) != "--control-fd") {
    spdlog::error("usage: rock-env --control-fd N");
    return 2;
  }
  char* end = nullptr;
  const long control_fd = std::strtol(argv[2], &end, 10);
  if (*end != '\0' || control_fd < 0 || control_fd > 1024) {
    spdlog::error("rock-env: --control-fd '{}' is not a descriptor number", argv[2]);
    return 2;
  }
  const int fd = static_cast<int>(control_fd);
  auto first = rock::sandbox::ReadFrame(fd);
  if (!first.ok()) return Fail(fd, "reading the spec frame: " + first.status().ToString());
  if (first->value("type", "") != "spec" || !first->contains("spec")) {
    return Fail(fd, "the first frame must be {\"type\":\"spec\",\"spec\":{...}}");
  }
  auto spec = rock::sandbox::SpecFromJson(first->at("spec"));
  if (!spec.ok()) return Fail(fd, spec.status().ToString());
  std::optional<rock::sandbox::SeccompFilter> filter;
  if (first->contains("seccomp")) {
    auto sent = rock::sandbox::SeccompFilterFromJson(first->at("seccomp"));
    if (!sent.ok()) return Fail(fd, sent.status().ToString());
    filter = std::move(sent).value();
  }
  if (rock::Status s = rock::sandbox::Contain(*spec, fd, std::move(filter)); !s.ok()) {
    return Fail(rock::sandbox::kControlFd, "containment: " + s.ToString());
  }
  if (!rock::envs::HasEpisodes(spec->env)) return rock::sandbox::RunInit(*spec, rock::sandbox::kControlFd);
  rock::sandbox::LocalExecs local_execs;
  rock::envs::EpisodeHost episodes(
      spec->env, spec->slots,
      {.data_dir = spec->data_dir.empty() ? "" : rock::sandbox::kSandboxDataDir,
       .workspace_dir = "/workspace",
       .tmp_dir = "/tmp",
       .run_exec = [&local_execs](const nlohmann::json& exec) { return local_execs.Run(exec); }});
  rock::sandbox::MessageHandler* const handlers[] = {&episodes};
  return rock::sandbox::RunInit(*spec, rock::sandbox::kControlFd, handlers, &local_execs);
}
