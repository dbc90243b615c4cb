#include "sandbox/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace rock::sandbox {
namespace {

// The root tmpfs holds only mount points, symlinks and the generated /etc files.
constexpr const char* kRootTmpfsOptions = "size=4m,mode=0755";
constexpr const char* kOldRoot = "/.oldroot";
// The tty group owns pseudo-terminals; the generated /etc/group names it.
constexpr gid_t kTtyGid = 5;

// Host paths bound read-only into the sandbox's fresh /etc, where present. Never the whole /etc:
// it holds /etc/shadow and rockd's own configuration.
constexpr auto kHostEtcEntries = std::to_array<const char*>({
    "/etc/alternatives", "/etc/ld.so.cache", "/etc/ssl", "/etc/ca-certificates", "/etc/localtime",
    "/etc/nsswitch.conf", "/etc/gitconfig"});

// On merged-/usr hosts these are symlinks into /usr and are copied as symlinks; a host where
// one is a real directory gets it bound read-only instead.
constexpr auto kTopLevelSystemEntries = std::to_array<const char*>({"/bin", "/lib", "/lib32", "/lib64", "/sbin"});

// Proc files that would let a process reach the kernel (sysctls, sysrq, irq affinity, bus
// devices) stay visible but read-only, bound over themselves (docker's readonly paths).
constexpr auto kReadOnlyProcEntries = std::to_array<const char*>({"sys", "sysrq-trigger", "irq", "bus"});

constexpr auto kDevices = std::to_array<const char*>({"null", "zero", "full", "random", "urandom"});

std::string FlagNames(unsigned long flags) {
  constexpr std::pair<unsigned long, const char*> kNames[] = {
      {MS_RDONLY, "MS_RDONLY"}, {MS_NOSUID, "MS_NOSUID"}, {MS_NODEV, "MS_NODEV"},   {MS_NOEXEC, "MS_NOEXEC"},
      {MS_REMOUNT, "MS_REMOUNT"}, {MS_BIND, "MS_BIND"},   {MS_REC, "MS_REC"},       {MS_PRIVATE, "MS_PRIVATE"}};
  std::string names;
  for (const auto& [flag, name] : kNames) {
    if ((flags & flag) == 0) continue;
    if (!names.empty()) names += '|';
    names += name;
  }
  return names.empty() ? "0" : names;
}

Status Mount(const char* source, const std::string& target, const char* type, unsigned long flags,
             const std::string& data = {}) {
  if (mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) == 0) return Status::Ok();
  return ErrnoError(fmt::format("mount({}, {}, {}, {}, \"{}\")", source ? source : "none", target,
                                type ? type : "none", FlagNames(flags), data),
                    errno);
}

Status MakeDir(const std::string& path, mode_t mode = 0755) {
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Status::Ok();
  return ErrnoError(fmt::format("mkdir({}, {:o})", path, mode), errno);
}

Status WriteFile(const std::string& path, const std::string& content) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(fmt::format("open({}, O_CREAT, 0644)", path), errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return ErrnoError(fmt::format("write({})", path), err);
    }
    done += static_cast<std::size_t>(n);
  }
  close(fd);
  return Status::Ok();
}

Status MakeSymlink(const std::string& target, const std::string& link) {
  if (symlink(target.c_str(), link.c_str()) == 0) return Status::Ok();
  return ErrnoError(fmt::format("symlink({} -> {})", link, target), errno);
}

// A bind mount ignores the flags of its first mount(2) call: they apply only through a remount,
// which must repeat MS_BIND and every flag to keep.
Status Bind(const std::string& source, const std::string& target, unsigned long flags) {
  if (Status s = Mount(source.c_str(), target, nullptr, MS_BIND); !s.ok()) return s;
  return Mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | flags);
}

Status BindReadOnly(const std::string& source, const std::string& target) {
  return Bind(source, target, MS_RDONLY | MS_NOSUID | MS_NODEV);
}

// Makes `host_path` appear read-only at root + host_path: a symlink is copied, a directory or
// file is bound over a fresh mount point. Absent paths are skipped.
Status MirrorReadOnly(const std::string& root, const std::string& host_path) {
  struct stat st {};
  if (lstat(host_path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoError(fmt::format("lstat({})", host_path), errno);
  }
  const std::string target = root + host_path;
  if (S_ISLNK(st.st_mode)) {
    std::string link(PATH_MAX, '\0');
    const ssize_t n = readlink(host_path.c_str(), link.data(), link.size());
    if (n < 0) return ErrnoError(fmt::format("readlink({})", host_path), errno);
    link.resize(static_cast<std::size_t>(n));
    return MakeSymlink(link, target);
  }
  if (S_ISDIR(st.st_mode)) {
    if (Status s = MakeDir(target); !s.ok()) return s;
  } else if (Status s = WriteFile(target, ""); !s.ok()) {
    return s;
  }
  return BindReadOnly(host_path, target);
}

Status MountTmpfs(const std::string& target, unsigned long flags, const std::string& options) {
  if (Status s = MakeDir(target); !s.ok()) return s;
  return Mount("tmpfs", target, "tmpfs", flags, options);
}

std::string Passwd(const Spec& spec) {
  // The sandbox user's home is /workspace; when it is nobody, nobody's entry carries it.
  std::string passwd = "root:x:0:0:root:/root:/bin/bash\n";
  if (spec.uid != 65534) passwd += fmt::format("sandbox:x:{}:{}:sandbox:/workspace:/bin/bash\n", spec.uid, spec.gid);
  passwd += fmt::format("nobody:x:65534:65534:nobody:{}:/usr/sbin/nologin\n",
                        spec.uid == 65534 ? "/workspace" : "/nonexistent");
  return passwd;
}

std::string Group(const Spec& spec) {
  std::string group = fmt::format("root:x:0:\ntty:x:{}:\n", kTtyGid);
  if (spec.gid != 65534 && spec.gid != kTtyGid) group += fmt::format("sandbox:x:{}:\n", spec.gid);
  return group + "nogroup:x:65534:\n";
}

Status MakeEtc(const std::string& root, const Spec& spec, std::string_view hostname) {
  if (Status s = MakeDir(root + "/etc"); !s.ok()) return s;
  const std::pair<const char*, std::string> files[] = {
      {"/etc/passwd", Passwd(spec)},
      {"/etc/group", Group(spec)},
      {"/etc/hostname", fmt::format("{}\n", hostname)},
      {"/etc/hosts", fmt::format("127.0.0.1\tlocalhost {}\n::1\tlocalhost\n", hostname)}};
  for (const auto& [path, content] : files) {
    if (Status s = WriteFile(root + path, content); !s.ok()) return s;
  }
  for (const char* entry : kHostEtcEntries) {
    if (Status s = MirrorReadOnly(root, entry); !s.ok()) return s;
  }
  return Status::Ok();
}

Status MakeProc(const std::string& root) {
  const std::string proc = root + "/proc";
  if (Status s = MakeDir(proc); !s.ok()) return s;
  if (Status s = Mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC); !s.ok()) return s;
  for (const char* entry : kReadOnlyProcEntries) {
    const std::string path = proc + "/" + entry;
    if (access(path.c_str(), F_OK) != 0) continue;
    if (Status s = Bind(path, path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC); !s.ok()) return s;
  }
  return Status::Ok();
}

Status MakeDev(const std::string& root, const Spec& spec) {
  const std::string dev = root + "/dev";
  if (Status s = MountTmpfs(dev, MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755"); !s.ok()) return s;
  for (const char* name : kDevices) {
    const std::string target = dev + "/" + name;
    if (Status s = WriteFile(target, ""); !s.ok()) return s;
    if (Status s = Mount((std::string("/dev/") + name).c_str(), target, nullptr, MS_BIND); !s.ok()) return s;
  }
  if (Status s = MakeDir(dev + "/pts"); !s.ok()) return s;
  if (Status s = Mount("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                       fmt::format("newinstance,ptmxmode=0666,mode=0620,gid={}", kTtyGid));
      !s.ok()) {
    return s;
  }
  if (Status s = MountTmpfs(dev + "/shm", MS_NOSUID | MS_NODEV, fmt::format("size={},mode=1777", spec.limits.disk_bytes));
      !s.ok()) {
    return s;
  }
  const std::pair<const char*, const char*> links[] = {{"pts/ptmx", "/ptmx"},
                                                       {"/proc/self/fd", "/fd"},
                                                       {"/proc/self/fd/0", "/stdin"},
                                                       {"/proc/self/fd/1", "/stdout"},
                                                       {"/proc/self/fd/2", "/stderr"}};
  for (const auto& [target, link] : links) {
    if (Status s = MakeSymlink(target, dev + link); !s.ok()) return s;
  }
  return Status::Ok();
}

Status MakeWritableAreas(const std::string& root, const Spec& spec) {
  const uint64_t size = spec.limits.disk_bytes;
  if (Status s = MountTmpfs(root + "/tmp", MS_NOSUID | MS_NODEV, fmt::format("size={},mode=1777", size)); !s.ok()) {
    return s;
  }
  return MountTmpfs(root + "/workspace", MS_NOSUID | MS_NODEV,
                    fmt::format("size={},mode=0755,uid={},gid={}", size, spec.uid, spec.gid));
}

Status PivotInto(const std::string& root) {
  const std::string old_root = root + kOldRoot;
  if (Status s = MakeDir(old_root, 0700); !s.ok()) return s;
  if (syscall(SYS_pivot_root, root.c_str(), old_root.c_str()) != 0) {
    return ErrnoError(fmt::format("pivot_root({}, {})", root, old_root), errno);
  }
  if (chdir("/") != 0) return ErrnoError("chdir(/)", errno);
  if (umount2(kOldRoot, MNT_DETACH) != 0) return ErrnoError(fmt::format("umount2({}, MNT_DETACH)", kOldRoot), errno);
  if (rmdir(kOldRoot) != 0) return ErrnoError(fmt::format("rmdir({})", kOldRoot), errno);
  // Last, so that every mount point above could still be created on it.
  return Mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV);
}

}  // namespace

Status MountSandboxRoot(const Spec& spec, std::string_view hostname) {
  const std::string& root = spec.root_dir;
  // Private first: nothing mounted below may propagate back to the host's namespace.
  if (Status s = Mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE); !s.ok()) return s;
  if (Status s = Mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, kRootTmpfsOptions); !s.ok()) return s;
  if (Status s = MirrorReadOnly(root, "/usr"); !s.ok()) return s;
  for (const char* entry : kTopLevelSystemEntries) {
    if (Status s = MirrorReadOnly(root, entry); !s.ok()) return s;
  }
  if (Status s = MakeEtc(root, spec, hostname); !s.ok()) return s;
  if (Status s = MakeProc(root); !s.ok()) return s;
  if (Status s = MakeDev(root, spec); !s.ok()) return s;
  if (Status s = MakeWritableAreas(root, spec); !s.ok()) return s;
  if (!spec.data_dir.empty()) {
    const std::string data = root + kSandboxDataDir;
    if (Status s = MakeDir(data); !s.ok()) return s;
    if (Status s = Bind(spec.data_dir, data, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC); !s.ok()) return s;
  }
  return PivotInto(root);
}

}  // namespace rock::sandbox
