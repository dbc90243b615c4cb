// Process-wide logging setup (spdlog to stderr; journald adds its own timestamps under systemd).
#pragma once

#include <string_view>

namespace rock {

// `level` is one of trace, debug, info, warn, error, critical, off (validated by the caller).
void InitLogging(std::string_view level);

// Changes the level of the running process; `level` as for InitLogging.
void SetLogLevel(std::string_view level);
// The current level, in the same names InitLogging takes.
std::string_view CurrentLogLevel();

}  // namespace rock
