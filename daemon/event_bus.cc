#include "daemon/event_bus.h"

#include <chrono>

#include <nlohmann/json.hpp>

namespace rock {

uint64_t EventBus::Subscribe(Sink sink) {
  std::lock_guard lock(mutex_);
  const uint64_t id = next_id_++;
  sinks_.emplace(id, std::move(sink));
  return id;
}

void EventBus::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mutex_);
  sinks_.erase(id);
}

void EventBus::Publish(std::string_view type, const nlohmann::json& data) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::lock_guard lock(mutex_);
  // Serialized once under the lock so seq order is delivery order for every subscriber.
  auto event = std::make_shared<const std::string>(
      nlohmann::json{{"seq", ++seq_},
                     {"ts_ms", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()},
                     {"type", type},
                     {"data", data}}
          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  for (const auto& [id, sink] : sinks_) sink(event);
}

std::size_t EventBus::subscribers() const {
  std::lock_guard lock(mutex_);
  return sinks_.size();
}

}  // namespace rock
