// ROCK's GEM-compatible API, so that ROCK/ROLL GEM clients work unchanged:
//   POST /apis/v1/envs/gem/make  {env_id}             → {sandbox_id}
//   POST /apis/v1/envs/gem/reset {sandbox_id, seed}   → {observation, info}
//   POST /apis/v1/envs/gem/step  {sandbox_id, action} → {observation, reward, terminated, truncated, info}
//   POST /apis/v1/envs/gem/close {sandbox_id}         → {sandbox_id}
//   POST /apis/v1/envs/gem/list  {sandbox_id}         → {env_id: [...]}
// A GEM "sandbox" is a handle on a sequence of episodes: each reset starts a new one through the
// balancer (ending the previous one), so GEM clients get pooling and failover too. `env_id` is
// an env kind; `task` and `max_steps` in make are our extensions.
#pragma once

namespace rock {

class ClientQuota;
class Router;
namespace balancer {
class Balancer;
}

// `balancer` and `quota` must outlive the router; each reset's episode counts against
// `quota` for the client's address, as in AddEpisodeRoutes.
void AddGemRoutes(Router& router, balancer::Balancer& balancer, ClientQuota& quota);

}  // namespace rock
