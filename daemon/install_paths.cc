#include "daemon/install_paths.h"

#include <system_error>

namespace rock {

std::filesystem::path InstalledDataDir(std::string_view part) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path prefix = ec ? std::filesystem::path("/usr/local") : exe.parent_path().parent_path();
  return prefix / "share" / "rockd" / part;
}

}  // namespace rock
