// The trainer stream of docs/protocol.md, /ws/trainer: trainers start groups of episodes, act on
// them, and receive each ended episode as a trajectory that is committed to SQLite before it is
// sent and resent until acknowledged, within the credits the trainer granted.
//
// One hub holds every trainer's stream (its connection, credits, acknowledgements and resend
// cursor) and the live episodes trainers started. All of it lives on the hub's strand; the
// WebSocket handlers, the balancer's callbacks and the store's commit callbacks post there.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "daemon/http_server.h"

namespace boost::asio {
class io_context;
}

namespace rock {

class EventBus;
class Metrics;
class Store;
namespace balancer {
class Balancer;
struct EpisodeSummary;
}  // namespace balancer

struct TrainerHubOptions {
  uint32_t max_trainers = 64;
  uint32_t max_episodes_per_trainer = 4096;  // live and starting; a start past it is an error frame
  uint32_t max_staleness = 0;  // 0: episodes never expire for staleness
  std::chrono::seconds retain_acked{86'400};
};

class TrainerHub {
 public:
  // Every reference must outlive the hub.
  TrainerHub(boost::asio::io_context& io, balancer::Balancer& balancer, Store& store, Metrics& metrics, EventBus& bus,
             TrainerHubOptions options);
  ~TrainerHub();
  TrainerHub(const TrainerHub&) = delete;
  TrainerHub& operator=(const TrainerHub&) = delete;

  // The /ws/trainer endpoint for HttpServer::AddWebSocket.
  WsEndpoint Endpoint();
  // The balancer's episode ends (the daemon forwards its observer's): an episode a trainer
  // started becomes its trajectory.
  void OnEpisodeEnded(const balancer::EpisodeSummary& episode);
  // Starts deleting acknowledged trajectories older than retain_acked, once a minute.
  void StartRetention();
  void Stop();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rock
