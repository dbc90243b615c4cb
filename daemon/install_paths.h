// Where rockd's installed data lives: <prefix>/share/rockd/<part>, found from the binary's own
// path, so that a build tree (build/bin, build/share) and an installed tree look alike.
#pragma once

#include <filesystem>
#include <string_view>

namespace rock {

std::filesystem::path InstalledDataDir(std::string_view part);

}  // namespace rock
