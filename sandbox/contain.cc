#include "sandbox/contain.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "sandbox/mounts.h"
#include "sandbox/seccomp_policy.h"

namespace rock::sandbox {
namespace {

Status MoveControlFd(int control_fd) {
  if (control_fd == kControlFd) return Status::Ok();
  if (dup2(control_fd, kControlFd) < 0) return ErrnoError(fmt::format("dup2({}, {})", control_fd, kControlFd), errno);
  close(control_fd);
  return Status::Ok();
}

Status SetUpNetwork(Network network) {
  if (sethostname(kSandboxHostname, std::strlen(kSandboxHostname)) != 0) {
    return ErrnoError(fmt::format("sethostname({})", kSandboxHostname), errno);
  }
  // The namespace is fresh: its only interface, lo, starts down. kNone leaves it so.
  if (network == Network::kNone) return Status::Ok();
  const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return ErrnoError("socket(AF_INET, SOCK_DGRAM)", errno);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  Status status;
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
    status = ErrnoError("ioctl(lo, SIOCGIFFLAGS)", errno);
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) status = ErrnoError("ioctl(lo, SIOCSIFFLAGS, IFF_UP)", errno);
  }
  close(sock);
  return status;
}

Status SetLimit(int resource, const char* name, rlim_t value) {
  const rlimit limit{.rlim_cur = value, .rlim_max = value};
  if (setrlimit(resource, &limit) == 0) return Status::Ok();
  return ErrnoError(fmt::format("setrlimit({}, {})", name, value), errno);
}

// No RLIMIT_NPROC: it counts per uid across every sandbox; the pids cgroup bounds processes.
// RLIMIT_FSIZE is one byte over the size of the writable tmpfses, so that a file filling one
// meets ENOSPC (which tools report) before SIGXFSZ (which kills them); a larger file is refused
// on any filesystem.
Status SetLimits(const Limits& limits) {
  if (Status s = SetLimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", limits.open_files); !s.ok()) return s;
  if (Status s = SetLimit(RLIMIT_CORE, "RLIMIT_CORE", 0); !s.ok()) return s;
  return SetLimit(RLIMIT_FSIZE, "RLIMIT_FSIZE", limits.disk_bytes + 1);
}

Status VerifyNoCapabilities() {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return ErrnoError("capget(self)", errno);
  for (const auto& word : data) {
    if (word.effective != 0 || word.permitted != 0 || word.inheritable != 0) {
      return Internal(fmt::format("capabilities remain after setresuid: effective {:#x} permitted {:#x} inheritable {:#x}",
                                  word.effective, word.permitted, word.inheritable));
    }
  }
  return Status::Ok();
}

// Bounding set first (dropping needs CAP_SETPCAP, which setresuid below takes away), then the
// identity; leaving uid 0 clears the permitted and effective sets, which capget confirms.
Status DropPrivileges(uid_t uid, gid_t gid) {
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return ErrnoError(fmt::format("prctl(PR_CAPBSET_DROP, {})", cap), errno);
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    return ErrnoError("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)", errno);
  }
  if (setgroups(0, nullptr) != 0) return ErrnoError("setgroups(0, {})", errno);
  if (setresgid(gid, gid, gid) != 0) return ErrnoError(fmt::format("setresgid({0}, {0}, {0})", gid), errno);
  if (setresuid(uid, uid, uid) != 0) return ErrnoError(fmt::format("setresuid({0}, {0}, {0})", uid), errno);
  return VerifyNoCapabilities();
}

// 0, 1 and 2 read and write the sandbox's /dev/null; nothing else but the control socket stays.
Status CloseInheritedFds() {
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return ErrnoError("open(/dev/null, O_RDWR)", errno);
  for (int fd = 0; fd <= 2; ++fd) {
    if (dup2(null, fd) < 0) return ErrnoError(fmt::format("dup2(/dev/null, {})", fd), errno);
  }
  if (close_range(kControlFd + 1, ~0U, 0) != 0) return ErrnoError(fmt::format("close_range({}, ~0)", kControlFd + 1), errno);
  return Status::Ok();
}

}  // namespace

// The containment order, top to bottom. Each step needs the privileges the later ones remove:
//   0. control socket to kControlFd; the seccomp filter compiled unless rockd sent it (compiling
//      allocates and uses a memfd).
//   1. unshare(CLONE_NEWCGROUP): the launcher attached us already, so our group is our root.
//   2. mounts: private propagation, tmpfs root with read-only /usr and a generated /etc, fresh
//      /proc with read-only sys/sysrq-trigger/irq/bus, minimal /dev, size-capped /tmp,
//      /workspace and /dev/shm; pivot_root, detach the host root, remount / read-only.
//   3. hostname "sandbox"; loopback up for Network::kLoopback, left down for kNone.
//   4. rlimits: RLIMIT_NOFILE, RLIMIT_CORE = 0, RLIMIT_FSIZE = disk + 1 byte.
//   5. privileges: empty bounding and ambient sets, no supplementary groups, gid, uid; verified.
//   6. no_new_privs.
//   7. every fd closed but the control socket; 0, 1, 2 on the new root's /dev/null.
//   8. seccomp, last: from here on the process cannot mount, unshare, ptrace, ...
Status Contain(const Spec& spec, int control_fd, std::optional<SeccompFilter> compiled) {
  if (Status s = MoveControlFd(control_fd); !s.ok()) return s;
  StatusOr<SeccompFilter> filter =
      compiled ? StatusOr<SeccompFilter>(std::move(*compiled)) : BuildSeccompFilter(SeccompProfileFor(spec.env));
  if (!filter.ok()) return filter.status();

  if (unshare(CLONE_NEWCGROUP) != 0) return ErrnoError("unshare(CLONE_NEWCGROUP)", errno);
  if (Status s = MountSandboxRoot(spec, kSandboxHostname); !s.ok()) return s;
  if (Status s = SetUpNetwork(spec.network); !s.ok()) return s;
  if (Status s = SetLimits(spec.limits); !s.ok()) return s;
  if (Status s = DropPrivileges(spec.uid, spec.gid); !s.ok()) return s;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return ErrnoError("prctl(PR_SET_NO_NEW_PRIVS, 1)", errno);
  if (Status s = CloseInheritedFds(); !s.ok()) return s;
  if (int rc = LoadSeccompFilter(*filter); rc != 0) {
    return ErrnoError(fmt::format("seccomp(SECCOMP_SET_MODE_FILTER, {} instructions)", filter->program().size()), -rc);
  }
  return Status::Ok();
}

}  // namespace rock::sandbox
