// Server events for the dashboard: publishers hand in (type, data); every subscriber gets the
// same serialized envelope {"seq","ts_ms","type","data"}. Sinks are called under the bus lock
// and must not block (WebSocket sinks only queue onto their connection's strand).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace rock {

class EventBus {
 public:
  using Sink = std::function<void(const std::shared_ptr<const std::string>& event)>;

  // Returns an id for Unsubscribe.
  uint64_t Subscribe(Sink sink);
  void Unsubscribe(uint64_t id);
  void Publish(std::string_view type, const nlohmann::json& data);

  std::size_t subscribers() const;

 private:
  mutable std::mutex mutex_;
  std::map<uint64_t, Sink> sinks_;
  uint64_t next_id_ = 1;
  uint64_t seq_ = 0;
};

}  // namespace rock
