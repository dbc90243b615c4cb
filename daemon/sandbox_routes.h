// The sandbox HTTP API of DESIGN.md: create, list, get, delete, restart, exec and files.
#pragma once

#include "daemon/config.h"

namespace rock {

class Router;
class Store;
namespace sandbox {
class Supervisor;
}

// A create or delete is answered once the sandbox's transitions so far are committed to `store`,
// so a sandbox rockd answered for is in its database even if rockd is killed right after.
// `supervisor`, `store` and `config` must outlive the router.
void AddSandboxRoutes(Router& router, sandbox::Supervisor& supervisor, Store& store, const Config& config);

}  // namespace rock
