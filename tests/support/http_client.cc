#include "tests/support/http_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace rock::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::seconds kHttpDeadline{10};  // the WebSocket client's handshake and writes

tcp::endpoint Loopback(uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

}  // namespace

// Async operations with a deadline on the stream: Asio's blocking calls re-poll on EAGAIN, so
// SO_RCVTIMEO would not bound them and a silent server would hang the test.
HttpReply Http(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
               const Headers& headers, std::chrono::seconds deadline) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  if (request.method() == http::verb::unknown) request.method_string(method);
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(method == "HEAD");
  bool done = false;
  stream.expires_after(deadline);
  stream.async_connect(Loopback(port), [&](beast::error_code ec) {
    if (ec) return;
    http::async_write(stream, request, [&](beast::error_code write_ec, std::size_t) {
      if (write_ec) return;
      http::async_read(stream, buffer, parser, [&](beast::error_code read_ec, std::size_t) { done = !read_ec; });
    });
  });
  io.run();
  if (!done) return {};
  HttpReply reply;
  const auto& response = parser.get();
  reply.status = static_cast<int>(response.result_int());
  reply.body = response.body();
  for (const auto& field : response) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  return reply;
}

RawConnection::RawConnection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

RawReply RawConnection::Receive(std::chrono::milliseconds timeout, std::size_t stop_after_bytes) {
  RawReply reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char chunk[4096];
  while (reply.data.size() < stop_after_bytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      reply.closed = true;
      break;
    }
    reply.data.append(chunk, static_cast<std::size_t>(n));
  }
  return reply;
}

RawReply RawExchange(uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout) {
  RawConnection connection(port);
  if (connection.fd() < 0 || !connection.Send(bytes)) return {"", true};
  return connection.Receive(timeout);
}

// A read that outlives one Read() call stays pending and completes in a later one, so a
// timeout never cancels a WebSocket read half way through a frame.
class WsClient::Impl {
 public:
  // Runs handlers until `finished()` or `timeout`; returns finished().
  template <typename Finished>
  bool RunUntil(std::chrono::milliseconds timeout, Finished finished) {
    io.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!finished() && std::chrono::steady_clock::now() < deadline) {
      if (io.run_one_until(deadline) == 0) break;
    }
    return finished();
  }

  void StartRead() {
    reading = true;
    ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
      reading = false;
      if (ec) {
        open = false;
        return;
      }
      message = WsMessage{beast::buffers_to_string(buffer.data()), ws.got_binary()};
      buffer.consume(buffer.size());
    });
  }

  // The write's state lives here, not in Send's frame: a write that outlives its deadline is
  // cancelled by closing the socket, and its handler may run in a later call.
  void StartWrite(const std::string& data, bool binary) {
    writing = true;
    outgoing = data;
    ws.binary(binary);
    ws.async_write(asio::buffer(outgoing), [this](beast::error_code ec, std::size_t) {
      writing = false;
      if (ec) open = false;
    });
  }

  asio::io_context io;
  websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;
  std::optional<WsMessage> message;
  std::string outgoing;
  bool open = false;
  bool reading = false;
  bool writing = false;
};

WsClient::WsClient(uint16_t port, const std::string& target, const Headers& headers, int receive_buffer)
    : impl_(std::make_unique<Impl>()) {
  beast::error_code ec;
  auto& socket = beast::get_lowest_layer(impl_->ws).socket();
  socket.open(tcp::v4(), ec);
  if (receive_buffer > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer), ec);
  impl_->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& request) {
    for (const auto& [name, value] : headers) request.set(name, value);
  }));
  websocket::response_type response;
  bool done = false;
  beast::get_lowest_layer(impl_->ws).expires_after(kHttpDeadline);
  beast::get_lowest_layer(impl_->ws).async_connect(Loopback(port), [&](beast::error_code connect_ec) {
    if (connect_ec) {
      error_ = "connect: " + connect_ec.message();
      done = true;
      return;
    }
    impl_->ws.async_handshake(response, "127.0.0.1", target, [&](beast::error_code handshake_ec) {
      done = true;
      if (handshake_ec) {
        error_ = "handshake: " + handshake_ec.message() + " (HTTP " + std::to_string(response.result_int()) + ")";
      } else {
        impl_->open = true;
      }
    });
  });
  if (!impl_->RunUntil(kHttpDeadline, [&] { return done; })) error_ = "handshake timed out";
  beast::get_lowest_layer(impl_->ws).expires_never();
}

WsClient::~WsClient() {
  beast::error_code ignored;
  beast::get_lowest_layer(impl_->ws).socket().close(ignored);
}

bool WsClient::connected() const { return impl_->open; }

std::optional<WsMessage> WsClient::ReadMessage(std::chrono::milliseconds timeout) {
  if (!impl_->message && impl_->open && !impl_->reading) impl_->StartRead();
  if (!impl_->message && impl_->reading) impl_->RunUntil(timeout, [this] { return !impl_->reading; });
  return std::exchange(impl_->message, std::nullopt);
}

std::optional<std::string> WsClient::Read(std::chrono::milliseconds timeout) {
  auto message = ReadMessage(timeout);
  if (!message) return std::nullopt;
  return std::move(message->data);
}

bool WsClient::Send(const std::string& message, bool binary) {
  if (!impl_->open || impl_->writing) return false;
  impl_->StartWrite(message, binary);
  if (!impl_->RunUntil(kHttpDeadline, [this] { return !impl_->writing; })) {
    beast::error_code ignored;
    beast::get_lowest_layer(impl_->ws).socket().close(ignored);
    impl_->open = false;
    return false;
  }
  return impl_->open;
}

bool WsClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->open && std::chrono::steady_clock::now() < deadline) {
    Read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
  }
  return !impl_->open;
}

}  // namespace rock::test
