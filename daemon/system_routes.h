// Liveness, readiness, metrics and build/runtime info: GET /healthz, /readyz, /metrics,
// /api/v1/info, and the route list /api/v1/routes.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "daemon/config.h"

namespace rock {

class Metrics;
class Router;
class Store;

struct SystemRoutesContext {
  const Config& config;
  Metrics& metrics;
  Store& store;
  const std::atomic<bool>& ready;
  std::function<bool()> pools_ready;  // every pool has its minimum of ready sandboxes
  const std::atomic<uint16_t>& port;
  std::chrono::system_clock::time_point started;
};

// The context's references must outlive the router.
void AddSystemRoutes(Router& router, const SystemRoutesContext& context);

}  // namespace rock
