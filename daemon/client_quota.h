// How much of one kind of resource each client holds, against a cap per client: open
// connections in the HTTP server, open episodes in the episode APIs. A client is whatever
// string the caller keys it by (the peer's IP address); behind a proxy every client shares
// the proxy's. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status.h"

namespace rock {

class ClientQuota {
 public:
  // `what` names the resource in errors ("open episodes").
  ClientQuota(std::string what, uint32_t max_per_client) : what_(std::move(what)), max_(max_per_client) {}

  // Takes `n` for `client`; nothing is taken, and ResourceExhausted names the cap, when that
  // would pass it.
  Status Acquire(const std::string& client, uint32_t n = 1);
  // Gives back what Acquire took; more than was taken is a caller bug and is clamped.
  void Release(const std::string& client, uint32_t n = 1);

 private:
  const std::string what_;
  const uint32_t max_;
  std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> held_;
};

// One unit of a ClientQuota, given back when destroyed; movable, so a connection's slot can
// follow its socket from the HTTP session into a WebSocket session.
class ClientSlot {
 public:
  ClientSlot() = default;
  ClientSlot(std::shared_ptr<ClientQuota> quota, std::string client)
      : quota_(std::move(quota)), client_(std::move(client)) {}
  ClientSlot(ClientSlot&& other) noexcept = default;
  ClientSlot& operator=(ClientSlot&& other) noexcept;
  ClientSlot(const ClientSlot&) = delete;
  ClientSlot& operator=(const ClientSlot&) = delete;
  ~ClientSlot();

 private:
  std::shared_ptr<ClientQuota> quota_;
  std::string client_;
};

}  // namespace rock
