// rockd's lifetime: open the store, serve, and on SIGTERM/SIGINT drain and exit.
#pragma once

#include <string>

#include "daemon/config.h"

namespace rock {

// Runs rockd until SIGTERM or SIGINT; returns the process exit code. `port_file`, when set,
// receives the bound port once the server accepts connections.
int RunDaemon(const Config& config, const std::string& port_file);

}  // namespace rock
