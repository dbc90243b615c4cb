// rockd's HTTP/1.1 + WebSocket server (Boost.Beast), the only place Beast is compiled.
//
// One session per connection on its own strand. Each client IP holds at most
// max_connections_per_client connections; one more is read up to its head and answered 429. The whole request head must arrive within
// header_timeout (slowloris), the body within body_timeout; a keep-alive connection with no
// request for idle_timeout is closed. Oversized heads get 431, bodies 413, malformed requests
// 400, all with the JSON error envelope, and the connection is closed since its framing can no
// longer be trusted.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "daemon/config.h"
#include "daemon/http_message.h"

namespace boost::asio {
class io_context;
}

namespace rock {

class Metrics;
class Router;

struct HttpServerOptions {
  ListenAddress listen;
  uint64_t max_body_bytes = 8 << 20;
  uint64_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{30'000};
  // Messages a WebSocket client may have queued before it is dropped as too slow.
  std::size_t ws_queue_messages = 1024;
  // When non-empty, the paths of daemon/auth.h need it.
  std::string auth_token;
  // Without a token, Listen refuses an address that is not loopback unless this is set; and
  // requests must name a loopback Host (daemon/browser_origin.h) unless this is set.
  bool allow_remote_without_token = false;
  // Connections (HTTP and WebSocket) one client IP may hold open; past it a request gets 429.
  uint32_t max_connections_per_client = 4096;
};

// The server's side of one WebSocket connection. Thread-safe.
class WsChannel {
 public:
  virtual ~WsChannel() = default;
  // Queues a message; a client already `ws_queue_messages` behind is disconnected instead.
  virtual void Send(std::shared_ptr<const std::string> message, bool binary) = 0;
  virtual void Close() = 0;
};

// An endpoint's side of one WebSocket connection. Called on the connection's strand.
class WsHandler {
 public:
  virtual ~WsHandler() = default;
  virtual void OnMessage(std::string_view message, bool binary) = 0;
  virtual void OnClose() = 0;
};

using WsEndpoint = std::function<std::shared_ptr<WsHandler>(std::shared_ptr<WsChannel>, const HttpRequest&)>;

class HttpServer {
 public:
  // `router` and `metrics` must outlive the server.
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, const Router& router, Metrics& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Before Start(): serve WebSocket upgrades of `path` with `endpoint`.
  void AddWebSocket(std::string path, WsEndpoint endpoint);

  // Binds and listens; the error names the address. Without a token, a non-loopback address
  // is refused unless allow_remote_without_token (then a warning says what is exposed).
  Status Listen();
  uint16_t port() const;
  void Start();

  // Stops accepting, closes idle connections and WebSockets, lets in-flight requests finish
  // (answered with "Connection: close"); `done` runs once no connection is left.
  void Drain(std::function<void()> done);

  // Opaque; public only so the connection classes in http_server.cc can name it.
  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rock
