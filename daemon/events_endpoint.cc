#include "daemon/events_endpoint.h"

#include "daemon/event_bus.h"

namespace rock {
namespace {

class EventsHandler : public WsHandler {
 public:
  EventsHandler(EventBus& bus, const std::shared_ptr<WsChannel>& channel)
      : bus_(bus), id_(bus.Subscribe([weak = std::weak_ptr<WsChannel>(channel)](const auto& event) {
          if (auto live = weak.lock()) live->Send(event, false);
        })) {}

  // The stream is server to client only; client frames are read (to see closes) and ignored.
  void OnMessage(std::string_view, bool) override {}
  void OnClose() override { bus_.Unsubscribe(id_); }

 private:
  EventBus& bus_;
  const uint64_t id_;
};

}  // namespace

WsEndpoint MakeEventsEndpoint(EventBus& bus) {
  return [&bus](std::shared_ptr<WsChannel> channel, const HttpRequest&) -> std::shared_ptr<WsHandler> {
    return std::make_shared<EventsHandler>(bus, channel);
  };
}

}  // namespace rock
