// seccomp: the last containment step, loaded in the sandbox's first process right before execve.
// Default action ALLOW; the kernel attack surface answers EPERM (clone3 answers ENOSYS, so glibc
// falls back to clone, whose flags the filter can inspect). Syscalls of any ABI other than the
// native one (i386 `int 0x80`, x32) kill the process. Denials reach the kernel audit log (dmesg
// or auditd) where the kernel supports SECCOMP_FILTER_FLAG_LOG (>= 4.14); see logs_denials().
#pragma once

#include <linux/filter.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace rock::sandbox {

// kShell: agents running bash, git, python3. kEnv: the rock-env worker. Equal on purpose for
// now; separate names so a profile can tighten without touching the other's callers.
enum class SeccompProfile { kShell, kEnv };

SeccompProfile SeccompProfileFor(std::string_view env_kind);

// A compiled, immutable BPF program. Build it once per profile in the parent and share it across
// every sandbox launch: loading it needs no allocation and no libseccomp call.
class SeccompFilter {
 public:
  SeccompFilter(std::vector<sock_filter> program, bool logs_denials)
      : program_(std::move(program)), logs_denials_(logs_denials) {}

  const std::vector<sock_filter>& program() const { return program_; }
  // Whether the kernel will log denials (SECCOMP_FILTER_FLAG_LOG was accepted at build time).
  bool logs_denials() const { return logs_denials_; }

 private:
  std::vector<sock_filter> program_;
  bool logs_denials_;
};

// Compiles the profile through libseccomp. Call in the parent, before fork/clone.
StatusOr<SeccompFilter> BuildSeccompFilter(SeccompProfile profile);

// A compiled program as JSON ({"program": [[code, jt, jf, k], ...], "log": bool}), so rockd can
// compile each profile once and hand it to every worker in the spec frame: compiling costs a
// worker about half a millisecond of its start. FromJson checks the shape, not the program; the
// kernel verifies that on load.
nlohmann::json SeccompFilterToJson(const SeccompFilter& filter);
StatusOr<SeccompFilter> SeccompFilterFromJson(const nlohmann::json& json);

// Sets no_new_privs (so this works whether or not the launcher already did) and loads `filter`
// into the calling thread. Two raw syscalls, async-signal-safe: callable in a child of clone()
// in a multithreaded parent. Returns 0 or -errno.
int LoadSeccompFilter(const SeccompFilter& filter);

// BuildSeccompFilter then LoadSeccompFilter, for tests and single-threaded callers.
Status InstallSeccompPolicy(SeccompProfile profile);

// Names of the syscalls the profile denies outright with EPERM on this architecture. Not listed:
// clone (EPERM only with a CLONE_NEW* flag), clone3 (ENOSYS), ioctl (EPERM for TIOCSTI and
// TIOCLINUX) and personality (EPERM for anything but PER_LINUX and the 0xffffffff query).
std::vector<std::string> DeniedSyscalls(SeccompProfile profile);

}  // namespace rock::sandbox
