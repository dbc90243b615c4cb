#include "sandbox/seccomp_policy.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <seccomp.h>
#include <spdlog/spdlog.h>

namespace rock::sandbox {
namespace {

// Denied with EPERM whatever their arguments. chroot is harmless without CAP_SYS_CHROOT, which
// the sandbox has dropped; it is denied anyway so the profile does not lean on one other layer.
constexpr auto kDeniedOutright = std::to_array<const char*>({
    // Mounts and the root.
    "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick",
    // Reading or steering other processes.
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    // Kernel code and kernel-side programs.
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    // Keyrings are not namespaced.
    "keyctl", "add_key", "request_key",
    // Namespaces (clone's CLONE_NEW* flags are denied by an argument rule).
    "unshare", "setns",
    // File handles bypass the mount namespace's view of paths.
    "open_by_handle_at", "name_to_handle_at",
    // Host-wide state.
    "swapon", "swapoff", "reboot", "syslog", "acct", "quotactl", "quotactl_fd", "lookup_dcookie", "iopl",
    "ioperm", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "vhangup",
    "nfsservctl", "uselib", "fanotify_init",
    // Obsolete or rarely needed, each with a history of kernel bugs.
    "_sysctl", "ustat", "sysfs", "create_module", "get_kernel_syms", "query_module",
    "vm86", "vm86old"});

// The flags are clone(2)'s first argument on x86_64 and aarch64 (s390 swaps the first two, and
// would need A1). CLONE_NEWTIME shares its bit with the exit signal in clone(2); it is reachable only
// through clone3 and unshare, both denied.
constexpr std::array<uint64_t, 7> kNamespaceCloneFlags = {
    CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP};

// ioctl requests that push input into, or reprogram, a terminal another process reads.
constexpr std::array<uint64_t, 2> kDeniedIoctls = {TIOCSTI, TIOCLINUX};

constexpr uint64_t kLow32 = 0xffffffff;

// socket(2) families a sandbox has a use for; every other fails with EAFNOSUPPORT, as if the
// kernel lacked it. AF_VSOCK reaches the hypervisor's host, which no network namespace hides;
// AF_ALG, AF_TIPC, AF_RDS, AF_CAN and the like have a history of kernel bugs, and asking for
// one can autoload its module. AF_NETLINK is the highest allowed: everything above it is
// refused by one comparison, the few below it one by one.
constexpr std::array<uint64_t, 4> kSocketFamilies = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};
static_assert(AF_UNIX < AF_INET && AF_INET < AF_INET6 && AF_INET6 < AF_NETLINK);

std::span<const char* const> DeniedOutright(SeccompProfile profile) {
  switch (profile) {
    case SeccompProfile::kShell:
    case SeccompProfile::kEnv: return kDeniedOutright;
  }
  return kDeniedOutright;
}

std::string_view ProfileName(SeccompProfile profile) {
  switch (profile) {
    case SeccompProfile::kShell: return "shell";
    case SeccompProfile::kEnv: return "env";
  }
  return "unknown";
}

using FilterContext = std::unique_ptr<void, decltype(&seccomp_release)>;

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Status LibseccompError(std::string_view call, int rc) {
  Status status = Internal(fmt::format("{}: {}", call, std::strerror(-rc)));
  spdlog::error("seccomp: {}", status.message());
  return status;
}

std::string DescribeArgs(std::span<const scmp_arg_cmp> args) {
  std::string out;
  for (const scmp_arg_cmp& cmp : args) {
    out += fmt::format(", A{} & {:#x} == {:#x}", cmp.arg, cmp.datum_a, cmp.datum_b);
  }
  return out;
}

// Adds one rule; a syscall this architecture does not have needs none and is skipped.
Status AddRule(scmp_filter_ctx ctx, int err, const char* name, std::span<const scmp_arg_cmp> args) {
  const int nr = seccomp_syscall_resolve_name(name);
  if (nr < 0) return Status::Ok();
  const int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(static_cast<uint16_t>(err)), nr,
                                        static_cast<unsigned>(args.size()), args.data());
  if (rc != 0) {
    return LibseccompError(
        fmt::format("seccomp_rule_add({}, {}{})", name, strerrorname_np(err), DescribeArgs(args)), rc);
  }
  return Status::Ok();
}

scmp_arg_cmp MaskedEq(unsigned arg, uint64_t mask, uint64_t value) {
  return {.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = value};
}

Status AddRules(scmp_filter_ctx ctx, SeccompProfile profile) {
  for (const char* name : DeniedOutright(profile)) {
    if (Status s = AddRule(ctx, EPERM, name, {}); !s.ok()) return s;
  }
  // One rule per flag: a rule may compare an argument once, and rules are OR-ed.
  for (uint64_t flag : kNamespaceCloneFlags) {
    const std::array args = {MaskedEq(0, flag, flag)};
    if (Status s = AddRule(ctx, EPERM, "clone", args); !s.ok()) return s;
  }
  // clone3's flags live in user memory, out of the filter's sight. ENOSYS makes glibc (2.34+:
  // pthread_create, posix_spawn) fall back to clone, whose flags the rules above do see.
  if (Status s = AddRule(ctx, ENOSYS, "clone3", {}); !s.ok()) return s;
  // The kernel reads the request as an unsigned int: compare the low 32 bits only, or garbage
  // in the high half would slip past.
  for (uint64_t request : kDeniedIoctls) {
    const std::array args = {MaskedEq(1, kLow32, request)};
    if (Status s = AddRule(ctx, EPERM, "ioctl", args); !s.ok()) return s;
  }
  // The kernel reads the family as an int: any value with high bits set is above AF_NETLINK
  // and refused, so the exact comparisons below it may look at the low 32 bits only.
  const std::array above = {scmp_arg_cmp{.arg = 0, .op = SCMP_CMP_GT, .datum_a = AF_NETLINK, .datum_b = 0}};
  if (Status s = AddRule(ctx, EAFNOSUPPORT, "socket", above); !s.ok()) return s;
  for (uint64_t family = 0; family < AF_NETLINK; ++family) {
    if (std::find(kSocketFamilies.begin(), kSocketFamilies.end(), family) != kSocketFamilies.end()) continue;
    const std::array args = {MaskedEq(0, kLow32, family)};
    if (Status s = AddRule(ctx, EAFNOSUPPORT, "socket", args); !s.ok()) return s;
  }
  // personality(2) may only read (0xffffffff) or set PER_LINUX (0): other personas turn off ASLR
  // (ADDR_NO_RANDOMIZE) or make data executable (READ_IMPLIES_EXEC). Those two values are the
  // 32-bit words whose bits are all equal, so a value is denied iff some bit i is 1 while bit
  // i+1 (cyclically) is 0: 32 masked rules, low 32 bits only as the kernel reads an unsigned int.
  for (unsigned bit = 0; bit < 32; ++bit) {
    const uint64_t one = uint64_t{1} << bit;
    const uint64_t next = uint64_t{1} << ((bit + 1) % 32);
    const std::array args = {MaskedEq(0, one | next, one)};
    if (Status s = AddRule(ctx, EPERM, "personality", args); !s.ok()) return s;
  }
  return Status::Ok();
}

// libseccomp 2.5 has no export to memory; a memfd stands in.
StatusOr<std::vector<sock_filter>> ExportProgram(scmp_filter_ctx ctx) {
  ScopedFd fd(memfd_create("rock-seccomp-bpf", MFD_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    spdlog::error("seccomp: memfd_create(rock-seccomp-bpf): {}", std::strerror(err));
    return ErrnoError("memfd_create(rock-seccomp-bpf)", err);
  }
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc != 0) return LibseccompError("seccomp_export_bpf", rc);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoError("fstat(rock-seccomp-bpf)", errno);
  const auto bytes = static_cast<size_t>(st.st_size);
  if (bytes == 0 || bytes % sizeof(sock_filter) != 0 || bytes / sizeof(sock_filter) > BPF_MAXINSNS) {
    return LibseccompError(fmt::format("seccomp_export_bpf: program of {} bytes", bytes), -EINVAL);
  }
  std::vector<sock_filter> program(bytes / sizeof(sock_filter));
  if (pread(fd.get(), program.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
    return ErrnoError("pread(rock-seccomp-bpf)", errno == 0 ? EIO : errno);
  }
  return program;
}

}  // namespace

StatusOr<SeccompFilter> BuildSeccompFilter(SeccompProfile profile) {
  FilterContext ctx(seccomp_init(SCMP_ACT_ALLOW), &seccomp_release);
  if (!ctx) return LibseccompError("seccomp_init(SCMP_ACT_ALLOW)", -ENOMEM);
  const auto context = [profile](const Status& s) {
    return s.WithContext(fmt::format("seccomp profile {}", ProfileName(profile)));
  };
  // Only the native ABI is in the filter; any other (i386 via int 0x80, x32) kills the process.
  // Adding those ABIs with the same rules would also work, but every added ABI is another
  // syscall table to get right, and nothing in a sandbox needs them.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0) {
    return context(LibseccompError("seccomp_attr_set(ACT_BADARCH, KILL_PROCESS)", rc));
  }
  // A binary tree of syscall numbers: allowed syscalls pay log(rules), not a linear scan.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return context(LibseccompError("seccomp_attr_set(CTL_OPTIMIZE, 2)", rc));
  }
  // Log denials to the audit log. Kernels before 4.14 lack the flag; the filter still denies.
  bool logs_denials = true;
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_LOG, 1); rc != 0) {
    logs_denials = false;
    spdlog::warn("seccomp: seccomp_attr_set(CTL_LOG, 1): {}; denials will not be logged", std::strerror(-rc));
  }
  if (Status s = AddRules(ctx.get(), profile); !s.ok()) return context(s);
  StatusOr<std::vector<sock_filter>> program = ExportProgram(ctx.get());
  if (!program.ok()) return context(program.status());
  return SeccompFilter(std::move(program).value(), logs_denials);
}

SeccompProfile SeccompProfileFor(std::string_view env_kind) {
  return env_kind == "shell" ? SeccompProfile::kShell : SeccompProfile::kEnv;
}

nlohmann::json SeccompFilterToJson(const SeccompFilter& filter) {
  nlohmann::json program = nlohmann::json::array();
  for (const sock_filter& insn : filter.program()) program.push_back({insn.code, insn.jt, insn.jf, insn.k});
  return {{"program", std::move(program)}, {"log", filter.logs_denials()}};
}

StatusOr<SeccompFilter> SeccompFilterFromJson(const nlohmann::json& json) {
  const auto program = json.find("program");
  const auto log = json.find("log");
  if (!json.is_object() || program == json.end() || !program->is_array() || log == json.end() || !log->is_boolean()) {
    return InvalidArgument("seccomp filter: expected {\"program\": [...], \"log\": bool}");
  }
  if (program->empty() || program->size() > BPF_MAXINSNS) {
    return InvalidArgument(fmt::format("seccomp filter: {} instructions, expected 1 to {}", program->size(), BPF_MAXINSNS));
  }
  std::vector<sock_filter> instructions;
  instructions.reserve(program->size());
  for (const nlohmann::json& insn : *program) {
    const bool well_formed = insn.is_array() && insn.size() == 4 &&
                             std::all_of(insn.begin(), insn.end(), [](const nlohmann::json& v) { return v.is_number_unsigned(); });
    if (!well_formed || insn[0].get<uint64_t>() > 0xffff || insn[1].get<uint64_t>() > 0xff ||
        insn[2].get<uint64_t>() > 0xff || insn[3].get<uint64_t>() > 0xffffffff) {
      return InvalidArgument("seccomp filter: instruction " + insn.dump() + " is not [code, jt, jf, k]");
    }
    instructions.push_back({static_cast<uint16_t>(insn[0].get<uint64_t>()), static_cast<uint8_t>(insn[1].get<uint64_t>()),
                            static_cast<uint8_t>(insn[2].get<uint64_t>()), static_cast<uint32_t>(insn[3].get<uint64_t>())});
  }
  return SeccompFilter(std::move(instructions), log->get<bool>());
}

int LoadSeccompFilter(const SeccompFilter& filter) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -errno;
  sock_fprog prog{.len = static_cast<unsigned short>(filter.program().size()),
                  .filter = const_cast<sock_filter*>(filter.program().data())};
  const unsigned flags = filter.logs_denials() ? SECCOMP_FILTER_FLAG_LOG : 0;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0) return -errno;
  return 0;
}

Status InstallSeccompPolicy(SeccompProfile profile) {
  StatusOr<SeccompFilter> filter = BuildSeccompFilter(profile);
  if (!filter.ok()) return filter.status();
  if (int rc = LoadSeccompFilter(*filter); rc != 0) {
    spdlog::error("seccomp: seccomp(SECCOMP_SET_MODE_FILTER, {} instructions, profile {}): {}",
                  filter->program().size(), ProfileName(profile), std::strerror(-rc));
    return ErrnoError(fmt::format("seccomp(SECCOMP_SET_MODE_FILTER, profile {})", ProfileName(profile)), -rc);
  }
  return Status::Ok();
}

std::vector<std::string> DeniedSyscalls(SeccompProfile profile) {
  std::vector<std::string> names;
  for (const char* name : DeniedOutright(profile)) {
    if (seccomp_syscall_resolve_name(name) >= 0) names.emplace_back(name);
  }
  return names;
}

}  // namespace rock::sandbox
