// The episode HTTP API of DESIGN.md for simple clients: POST /api/v1/episodes (start),
// POST /api/v1/episodes/{id}/step, GET /api/v1/episodes[/{id}], DELETE /api/v1/episodes/{id};
// and POST /api/v1/groups (n episodes of one task, plus redundant ones).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "balancer/episode.h"
#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace rock {

class ClientQuota;
class Router;
class Store;
namespace balancer {
class Balancer;
}

// The episode a start request asks for: env, task, seed (drawn at random when absent, so that
// every episode can be replayed), max_steps. `allowed` extra keys are left to the caller.
StatusOr<balancer::EpisodeSpec> EpisodeSpecFromRequest(const nlohmann::json& body,
                                                       std::initializer_list<std::string_view> allowed);

// A step's answer as the episode and GEM APIs give it, as JSON text: observation, reward,
// terminated, truncated and the env's info (spliced, not parsed again).
std::string ReplyText(const balancer::EnvReply& reply);

// `balancer`, `store` and `quota` must outlive the router; store reads run on `io`. Each
// episode started takes a unit of `quota` for the client's address, given back when it ends
// (the balancer observer's OnEpisodeEnded must Release its spec.owner) or fails to start.
void AddEpisodeRoutes(Router& router, balancer::Balancer& balancer, Store& store, boost::asio::io_context& io,
                      ClientQuota& quota);

}  // namespace rock
