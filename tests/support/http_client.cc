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

void SetReceiveTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

tcp::endpoint Loopback(uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

}  // namespace

HttpReply Http(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
               const Headers& headers) {
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(Loopback(port), ec);
  if (ec) return {};
  SetReceiveTimeout(socket.native_handle(), std::chrono::seconds(10));
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  if (request.method() == http::verb::unknown) request.method_string(method);
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  http::write(socket, request, ec);
  if (ec) return {};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  parser.skip(method == "HEAD");
  http::read(socket, buffer, parser, ec);
  if (ec) return {};
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

class WsClient::Impl {
 public:
  asio::io_context io;
  websocket::stream<tcp::socket> ws{io};
  beast::flat_buffer buffer;
  bool open = false;
};

WsClient::WsClient(uint16_t port, const std::string& target, const Headers& headers, int receive_buffer)
    : impl_(std::make_unique<Impl>()) {
  beast::error_code ec;
  auto& socket = impl_->ws.next_layer();
  socket.open(tcp::v4(), ec);
  if (receive_buffer > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer), ec);
  socket.connect(Loopback(port), ec);
  if (ec) {
    error_ = "connect: " + ec.message();
    return;
  }
  SetReceiveTimeout(socket.native_handle(), std::chrono::seconds(10));
  impl_->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& request) {
    for (const auto& [name, value] : headers) request.set(name, value);
  }));
  websocket::response_type response;
  impl_->ws.handshake(response, "127.0.0.1", target, ec);
  if (ec) {
    error_ = "handshake: " + ec.message() + " (HTTP " + std::to_string(response.result_int()) + ")";
    return;
  }
  impl_->open = true;
}

WsClient::~WsClient() {
  if (impl_->open) {
    beast::error_code ignored;
    impl_->ws.next_layer().close(ignored);
  }
}

bool WsClient::connected() const { return impl_->open; }

std::optional<std::string> WsClient::Read(std::chrono::milliseconds timeout) {
  if (!impl_->open) return std::nullopt;
  pollfd pfd{impl_->ws.next_layer().native_handle(), POLLIN, 0};
  if (impl_->buffer.size() == 0 && poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  beast::error_code ec;
  impl_->buffer.clear();
  impl_->ws.read(impl_->buffer, ec);
  if (ec) {
    impl_->open = false;
    return std::nullopt;
  }
  return beast::buffers_to_string(impl_->buffer.data());
}

bool WsClient::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->open && std::chrono::steady_clock::now() < deadline) {
    Read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
  }
  return !impl_->open;
}

}  // namespace rock::test
