// The /ws/events WebSocket endpoint: every server event, as JSON text frames, to every client.
// A client that falls `events.client_queue_messages` behind is dropped by the server.
#pragma once

#include "daemon/http_server.h"

namespace rock {

class EventBus;

// `bus` must outlive every connection the endpoint serves.
WsEndpoint MakeEventsEndpoint(EventBus& bus);

}  // namespace rock
