// The env kinds rock-env serves, for rockd to check requests against without linking the envs.
#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace rock::envs {

// "shell" sandboxes run commands (exec) and have no episodes; every other kind is an Env.
inline constexpr std::string_view kShellKind = "shell";
inline constexpr std::array<std::string_view, 5> kEnvKinds = {kShellKind, "alfworld", "bandit", "sleepy",
                                                               "swebench"};

inline bool IsEnvKind(std::string_view kind) {
  return std::find(kEnvKinds.begin(), kEnvKinds.end(), kind) != kEnvKinds.end();
}

inline bool HasEpisodes(std::string_view kind) { return IsEnvKind(kind) && kind != kShellKind; }

}  // namespace rock::envs
