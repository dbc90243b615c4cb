// The sandbox HTTP API of DESIGN.md: create, list, get, delete, restart, exec and files.
#pragma once

#include "daemon/config.h"

namespace rock {

class Router;
namespace sandbox {
class Supervisor;
}

// `supervisor` and `config` must outlive the router.
void AddSandboxRoutes(Router& router, sandbox::Supervisor& supervisor, const Config& config);

}  // namespace rock
