// Process-wide logging setup (spdlog to stderr; journald adds its own timestamps under systemd).
#pragma once

#include <string_view>

namespace rock {

// `level` is one of trace, debug, info, warn, error, critical, off (validated by the caller).
void InitLogging(std::string_view level);

}  // namespace rock
