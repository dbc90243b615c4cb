// Pools of sandboxes per env kind: GET /api/v1/pools, PUT /api/v1/pools/{env}; and the balancer
// pool config that the config file's pools and those requests become.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "balancer/pool.h"
#include "common/status.h"
#include "daemon/config.h"

namespace rock {

class Router;
namespace balancer {
class Balancer;
}

// The pool of `env` as the balancer runs it: settings plus the config's sandbox identity,
// limits over sandbox.defaults and, for alfworld, the data dir.
StatusOr<balancer::PoolConfig> MakePoolConfig(const std::string& env, const PoolSettings& settings, const Config& config);

nlohmann::json PoolToJson(const balancer::PoolView& pool);

// `balancer` and `config` must outlive the router.
void AddPoolRoutes(Router& router, balancer::Balancer& balancer, const Config& config);

}  // namespace rock
