// Reconfigures the host's cgroup2 mount and puts it back: needs root and Linux 6.0+.
#include "sandbox/cgroup_favordynmods.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace rock::sandbox {
namespace {

// The cgroup2 superblock options from mountinfo, e.g. "rw,nsdelegate,favordynmods".
std::string Cgroup2Options() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    const std::size_t dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string type, source, options;
    rest >> type >> source >> options;
    return options;
  }
  return "";
}

std::string Without(std::string options, const std::string& option) {
  const std::string needle = "," + option;
  if (auto at = options.find(needle); at != std::string::npos) options.erase(at, needle.size());
  return options;
}

TEST(CgroupFavorDynmods, TogglesTheOptionAndKeepsTheOthers) {
  if (geteuid() != 0) GTEST_SKIP() << "reconfiguring the cgroup2 mount needs root";
  StatusOr<bool> initially = FavorDynmodsEnabled();
  if (!initially.ok()) GTEST_SKIP() << initially.status().ToString();
  // On systemd hosts the mount also carries nsdelegate and memory_recursiveprot: they must stay.
  const std::string before = Cgroup2Options();

  ASSERT_TRUE(SetFavorDynmods(false).ok());
  EXPECT_FALSE(FavorDynmodsEnabled().value());
  EXPECT_EQ(Cgroup2Options(), Without(before, "favordynmods"));

  ASSERT_TRUE(SetFavorDynmods(true).ok());
  EXPECT_TRUE(FavorDynmodsEnabled().value());
  EXPECT_NE(Cgroup2Options().find("favordynmods"), std::string::npos);
  EXPECT_EQ(Without(Cgroup2Options(), "favordynmods"), Without(before, "favordynmods"));

  ASSERT_TRUE(SetFavorDynmods(*initially).ok());
  EXPECT_EQ(Cgroup2Options(), before);
}

}  // namespace
}  // namespace rock::sandbox
