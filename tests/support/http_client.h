// Blocking HTTP and WebSocket clients for integration tests (Boost.Beast), with socket
// timeouts so a misbehaving server fails a test instead of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace rock::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;  // 0: no response (connection failed or closed)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// `deadline` bounds the whole exchange, so a silent server fails the test instead of hanging it;
// a request that legitimately runs long (a sandbox command under a sanitizer) passes a longer one.
HttpReply Http(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
               const Headers& headers = {}, std::chrono::seconds deadline = std::chrono::seconds(10));

// Writes `bytes` to a fresh connection and returns all the server sends until it closes the
// connection or `timeout` passes; `closed` tells which.
struct RawReply {
  std::string data;
  bool closed = false;
};
RawReply RawExchange(uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout);

// A connected TCP socket (RAII) for tests that pace their own writes.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool Send(std::string_view bytes);
  // Reads until `timeout`; returns what arrived, and sets closed when the peer closed.
  RawReply Receive(std::chrono::milliseconds timeout, std::size_t stop_after_bytes = SIZE_MAX);
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// One WebSocket message as it arrived: its payload and whether it was a binary frame.
struct WsMessage {
  std::string data;
  bool binary = false;
};

class WsClient {
 public:
  // Connects and completes the handshake; check connected() / error().
  WsClient(uint16_t port, const std::string& target, const Headers& headers = {}, int receive_buffer = 0);
  ~WsClient();
  bool connected() const;
  const std::string& error() const { return error_; }
  // The next message, or nullopt after `timeout` or when closed.
  std::optional<WsMessage> ReadMessage(std::chrono::milliseconds timeout);
  // ReadMessage's payload, for callers that do not care about the frame type.
  std::optional<std::string> Read(std::chrono::milliseconds timeout);
  // Writes one message as a text frame (a binary one when `binary`); false when the connection
  // is closed or the write did not finish within the deadline (the connection is then closed).
  bool Send(const std::string& message, bool binary = false);
  // True once the server closed the connection (reads until close or timeout).
  bool WaitClosed(std::chrono::milliseconds timeout);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

}  // namespace rock::test
