#include "daemon/sandbox_files.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace rock {
namespace {

Status CheckRelativePath(std::string_view path) {
  if (path.empty()) return InvalidArgument("'path' is required");
  if (path.front() == '/') return InvalidArgument("'path' must be relative to /workspace, not absolute");
  if (path.find('\0') != std::string_view::npos) return InvalidArgument("'path' contains a NUL byte");
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const std::string_view part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part == "..") return InvalidArgument("'path' must not contain '..'");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

StatusOr<UniqueFd> OpenWorkspace(pid_t init_pid) {
  const std::string root = "/proc/" + std::to_string(init_pid) + "/root/workspace";
  UniqueFd fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status(Code::kUnavailable, "open(" + root + "): " + std::strerror(errno));
  return fd;
}

StatusOr<UniqueFd> OpenBeneath(int dirfd, std::string_view path, uint64_t flags, uint64_t mode) {
  open_how how{};
  how.flags = flags | O_CLOEXEC | O_NOCTTY;
  how.mode = mode;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const std::string name(path);
  const int fd = static_cast<int>(syscall(SYS_openat2, dirfd, name.c_str(), &how, sizeof(how)));
  if (fd >= 0) return UniqueFd(fd);
  const int err = errno;
  if (err == EXDEV) return InvalidArgument("'" + name + "' leads outside the sandbox workspace");
  if (err == ENOENT) return NotFound("no such file or directory in the workspace: " + name);
  if (err == EISDIR) return InvalidArgument("'" + name + "' is a directory");
  if (err == ELOOP) return InvalidArgument("'" + name + "' has too many symlinks");
  return ErrnoError("openat2(workspace, " + name + ")", err);
}

}  // namespace

StatusOr<std::string> ReadSandboxFile(pid_t init_pid, std::string_view path, uint64_t max_bytes) {
  if (Status s = CheckRelativePath(path); !s.ok()) return s;
  auto workspace = OpenWorkspace(init_pid);
  if (!workspace.ok()) return workspace.status();
  auto file = OpenBeneath(workspace->get(), path, O_RDONLY | O_NONBLOCK, 0);
  if (!file.ok()) return file.status();
  struct stat st {};
  if (fstat(file->get(), &st) != 0) return ErrnoError("fstat(" + std::string(path) + ")", errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument("'" + std::string(path) + "' is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status(Code::kResourceExhausted, "'" + std::string(path) + "' is " + std::to_string(st.st_size) +
                                                " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = read(file->get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read(" + std::string(path) + ")", errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

Status WriteSandboxFile(pid_t init_pid, std::string_view path, std::string_view data, uid_t uid, gid_t gid) {
  if (Status s = CheckRelativePath(path); !s.ok()) return s;
  auto workspace = OpenWorkspace(init_pid);
  if (!workspace.ok()) return workspace.status();
  auto file = OpenBeneath(workspace->get(), path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, 0644);
  if (!file.ok()) return file.status();
  struct stat st {};
  if (fstat(file->get(), &st) != 0) return ErrnoError("fstat(" + std::string(path) + ")", errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument("'" + std::string(path) + "' is not a regular file");
  if (fchown(file->get(), uid, gid) != 0) return ErrnoError("fchown(" + std::string(path) + ")", errno);
  while (!data.empty()) {
    const ssize_t n = write(file->get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOSPC) return Status(Code::kResourceExhausted, "the sandbox workspace is full");
    if (n < 0) return ErrnoError("write(" + std::string(path) + ")", errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

}  // namespace rock
