#include "daemon/http_server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "daemon/auth.h"
#include "daemon/browser_origin.h"
#include "daemon/client_quota.h"
#include "daemon/metrics.h"
#include "daemon/router.h"

namespace rock {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kServerHeader = "rockd";
constexpr int kWsSendBuffer = 256 << 10;

// Method label for metrics: a fixed set, so a client cannot mint label values.
std::string_view MethodLabel(http::verb verb) {
  switch (verb) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::post:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::patch:
    case http::verb::options: return http::to_string(verb);
    default: return "OTHER";
  }
}

// Converts Beast's request; fails on a target that is not an absolute path or is badly escaped.
Status ToHttpRequest(http::request<http::string_body>&& in, HttpRequest* out) {
  out->method = std::string(in.method_string());
  out->target = std::string(in.target());
  const std::string_view target = out->target;
  const auto question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  if (!raw_path.starts_with('/')) return InvalidArgument("request target must be an absolute path");
  if (!PercentDecode(raw_path, false, &out->path) || out->path.find('\0') != std::string::npos) {
    return InvalidArgument("malformed percent-encoding in the request path");
  }
  if (question != std::string_view::npos) out->query = std::string(target.substr(question + 1));
  out->headers.reserve(8);
  for (const auto& field : in) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out->headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out->body = std::move(in.body());
  return Status::Ok();
}

}  // namespace

// A live connection the server can ask to wind down.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void Drain() = 0;
};

class HttpServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, HttpServerOptions options, const Router& router, Metrics& metrics)
      : io_(io),
        options_(std::move(options)),
        router_(router),
        metrics_(metrics),
        connection_quota_(std::make_shared<ClientQuota>("open connections", options_.max_connections_per_client)),
        browser_origin_{.loopback_hosts_only = options_.auth_token.empty() && !options_.allow_remote_without_token},
        acceptor_(asio::make_strand(io)),
        accept_retry_(acceptor_.get_executor()) {}

  Status Listen();
  void Accept();
  void Drain(std::function<void()> done);

  uint64_t Register(std::weak_ptr<Connection> connection) {
    std::lock_guard lock(mutex_);
    const uint64_t id = next_id_++;
    connections_.emplace(id, std::move(connection));
    return id;
  }

  void Unregister(uint64_t id) {
    std::function<void()> done;
    {
      std::lock_guard lock(mutex_);
      connections_.erase(id);
      if (draining_ && connections_.empty() && drained_) done = std::exchange(drained_, nullptr);
    }
    if (done) asio::post(io_, std::move(done));
  }

  bool draining() const { return draining_.load(); }
  uint16_t port() const { return port_; }

  asio::io_context& io_;
  const HttpServerOptions options_;
  const Router& router_;
  Metrics& metrics_;
  std::unordered_map<std::string, WsEndpoint> ws_endpoints_;
  const std::shared_ptr<ClientQuota> connection_quota_;
  const BrowserOriginPolicy browser_origin_;

 private:
  void OnAccept(beast::error_code ec, tcp::socket socket);

  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::atomic<bool> draining_{false};
  std::mutex mutex_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;
  uint64_t next_id_ = 0;
  std::function<void()> drained_;
  uint16_t port_ = 0;
};

class WsSession : public Connection, public WsChannel, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(std::shared_ptr<HttpServer::Impl> server, tcp::socket socket, std::string path, ClientSlot slot)
      : server_(std::move(server)), ws_(std::move(socket)), path_(std::move(path)), slot_(std::move(slot)) {}

  ~WsSession() override {
    if (id_) server_->Unregister(*id_);
  }

  void Run(http::request<http::string_body> upgrade, const HttpRequest& request, const WsEndpoint& endpoint) {
    id_ = server_->Register(weak_from_this());
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, kServerHeader); }));
    ws_.read_message_max(server_->options_.max_body_bytes);
    // A fixed send buffer (no autotuning to megabytes) keeps what a stalled client can hold
    // in the kernel small, so its backlog shows up in our bounded queue and it gets dropped.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(asio::socket_base::send_buffer_size(kWsSendBuffer), ignored);
    handler_ = endpoint(shared_from_this(), request);
    ws_.async_accept(upgrade, [self = shared_from_this()](beast::error_code ec) { self->OnAccept(ec); });
  }

  void Send(std::shared_ptr<const std::string> message, bool binary) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), message = std::move(message), binary]() mutable {
      self->Enqueue(std::move(message), binary);
    });
  }

  void Close() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->CloseFrame(websocket::close_code::normal); });
  }

  void Drain() override {
    asio::post(ws_.get_executor(), [self = shared_from_this()] { self->CloseFrame(websocket::close_code::going_away); });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) {
      spdlog::debug("websocket {}: handshake failed: {}", path_, ec.message());
      return Finish();
    }
    open_ = true;
    server_->metrics_.WsClientConnected(path_);
    if (!queue_.empty()) WriteNext();
    Read();
  }

  void Enqueue(std::shared_ptr<const std::string> message, bool binary) {
    if (finished_ || closing_) return;
    if (queue_.size() >= server_->options_.ws_queue_messages) {
      // A client that does not keep up is cut off rather than allowed to grow our memory.
      spdlog::warn("websocket {}: client is {} messages behind, dropping it", path_, queue_.size());
      server_->metrics_.WsClientDropped(path_);
      queue_.clear();
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
      return Finish();
    }
    queue_.emplace_back(std::move(message), binary);
    if (open_ && !writing_) WriteNext();
  }

  void WriteNext() {
    writing_ = true;
    ws_.binary(queue_.front().second);
    ws_.async_write(asio::buffer(*queue_.front().first),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) return self->Finish();
                      if (!self->queue_.empty()) self->queue_.pop_front();
                      if (!self->queue_.empty() && !self->closing_) self->WriteNext();
                    });
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Finish();
      const auto data = self->buffer_.cdata();
      if (self->handler_) {
        self->handler_->OnMessage(std::string_view(static_cast<const char*>(data.data()), data.size()),
                                  self->ws_.got_binary());
      }
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  }

  void CloseFrame(websocket::close_code code) {
    if (finished_ || closing_) return;
    if (!open_) {
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
      return;
    }
    closing_ = true;
    ws_.async_close(code, [self = shared_from_this()](beast::error_code) {});
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    if (open_) server_->metrics_.WsClientDisconnected(path_);
    if (handler_) std::exchange(handler_, nullptr)->OnClose();
  }

  std::shared_ptr<HttpServer::Impl> server_;
  websocket::stream<beast::tcp_stream> ws_;
  std::string path_;
  ClientSlot slot_;  // the connection's unit of the client's quota, from its HTTP session
  std::optional<uint64_t> id_;
  beast::flat_buffer buffer_;
  std::deque<std::pair<std::shared_ptr<const std::string>, bool>> queue_;
  std::shared_ptr<WsHandler> handler_;
  bool open_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  // `admitted` is the client's connection quota: Ok with `slot` held, or why it is refused.
  HttpSession(std::shared_ptr<HttpServer::Impl> server, tcp::socket socket, std::string client, ClientSlot slot,
              Status admitted)
      : server_(std::move(server)),
        stream_(std::move(socket)),
        client_(std::move(client)),
        slot_(std::move(slot)),
        admitted_(std::move(admitted)) {}

  ~HttpSession() override {
    if (id_) server_->Unregister(*id_);
  }

  void Start() {
    id_ = server_->Register(weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForRequest(); });
  }

  void Drain() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      // A busy connection closes after its response (keep-alive is off while draining).
      if (!self->busy_) self->CloseSocket();
    });
  }

 private:
  const HttpServerOptions& options() const { return server_->options_; }

  // Waits for the first byte of the next request. A new connection gets header_timeout for
  // that, a kept-alive one idle_timeout; once bytes arrive the whole head is due within
  // header_timeout, so a trickling client cannot hold the connection.
  void WaitForRequest() {
    busy_ = false;
    if (server_->draining()) return CloseSocket();
    if (buffer_.size() > 0) return ReadHeader();
    stream_.expires_after(served_ == 0 ? options().header_timeout : options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->OnReadError(ec);
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    busy_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    stream_.expires_after(options().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnHeader();
    });
  }

  void OnHeader() {
    const auto& head = parser_->get();
    method_ = MethodLabel(head.method());
    if (!admitted_.ok()) return Reject(429, "too_many_connections", admitted_.message());
    if (websocket::is_upgrade(head)) return Upgrade();
    if (beast::iequals(head[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, head.version());
      stream_.expires_after(options().write_timeout);
      http::async_write(stream_, *continue_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->CloseSocket();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return OnRequest();
    stream_.expires_after(options().body_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnRequest();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Reject(413, "payload_too_large",
                    "request body exceeds " + std::to_string(options().max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return Reject(431, "request_header_fields_too_large",
                    "request head exceeds " + std::to_string(options().max_header_bytes) + " bytes");
    }
    const bool parse_error = ec.category() == http::make_error_code(http::error::bad_target).category() &&
                             ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (parse_error) {
      return Reject(400, "bad_request", "malformed HTTP request: " + ec.message());
    }
    // Timeouts, resets, EOF and aborts: nothing to answer.
    if (ec == beast::error::timeout) spdlog::debug("closing connection: no complete request in time");
    CloseSocket();
  }

  void Reject(int status, std::string_view code, const std::string& message) {
    route_ = "rejected";
    if (method_.empty()) method_ = "OTHER";
    close_after_ = true;
    Write(ErrorResponse(status, code, message));
  }

  void OnRequest() {
    started_ = std::chrono::steady_clock::now();
    auto head = parser_->release();
    keep_alive_ = head.keep_alive();
    version_ = head.version();
    is_head_ = head.method() == http::verb::head;
    HttpRequest request;
    if (Status s = ToHttpRequest(std::move(head), &request); !s.ok()) {
      return Reject(400, "bad_request", s.message());
    }
    request.remote = client_;
    if (!Authorized(request, options().auth_token)) {
      route_ = "unauthorized";
      return Write(Unauthorized());
    }
    if (Status s = CheckBrowserOrigin(request, server_->browser_origin_); !s.ok()) {
      route_ = "rejected";
      return Write(ErrorResponse(403, "forbidden_origin", s.message()));
    }
    responded_ = false;
    auto respond = [self = shared_from_this()](HttpResponse response) {
      if (self->responded_.exchange(true)) return;
      asio::dispatch(self->stream_.get_executor(),
                     [self, response = std::move(response)]() mutable { self->Write(std::move(response)); });
    };
    // A handler bug answers this request with a 500; it must not unwind through the event loop
    // and take the daemon and every other connection down.
    try {
      server_->router_.Dispatch(request, respond, &route_);
    } catch (const std::exception& e) {
      spdlog::error("handler for {} {} threw: {}", request.method, request.path, e.what());
      respond(ErrorResponse(500, "internal", std::string("internal error: ") + e.what()));
    }
  }

  void Upgrade() {
    auto upgrade = parser_->release();
    HttpRequest request;
    if (Status s = ToHttpRequest(http::request<http::string_body>(upgrade), &request); !s.ok()) {
      return Reject(400, "bad_request", s.message());
    }
    route_ = "websocket";
    keep_alive_ = false;
    version_ = upgrade.version();
    started_ = std::chrono::steady_clock::now();
    const auto endpoint = server_->ws_endpoints_.find(request.path);
    if (endpoint == server_->ws_endpoints_.end()) {
      return Reject(404, "not_found", "no WebSocket endpoint at " + request.path);
    }
    if (!Authorized(request, options().auth_token)) return Write(Unauthorized());
    if (Status s = CheckBrowserOrigin(request, server_->browser_origin_); !s.ok()) {
      return Write(ErrorResponse(403, "forbidden_origin", s.message()));
    }
    if (server_->draining()) return Reject(503, "unavailable", "rockd is shutting down");
    server_->metrics_.ObserveHttp(route_, method_, 101, 0);
    auto session = std::make_shared<WsSession>(server_, stream_.release_socket(), request.path, std::move(slot_));
    session->Run(std::move(upgrade), request, endpoint->second);
  }

  void Write(HttpResponse response) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), version_);
    res->set(http::field::server, kServerHeader);
    res->set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res->set(name, value);
    res->body() = std::move(response.body);
    res->keep_alive(keep_alive_ && !close_after_ && !server_->draining());
    res->prepare_payload();
    if (is_head_) res->body().clear();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    server_->metrics_.ObserveHttp(route_, method_, response.status, seconds);
    stream_.expires_after(options().write_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec) return self->CloseSocket();
      ++self->served_;
      if (!res->keep_alive()) {
        beast::error_code ignored;
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return self->CloseSocket();
      }
      self->WaitForRequest();
    });
  }

  void CloseSocket() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  std::shared_ptr<HttpServer::Impl> server_;
  beast::tcp_stream stream_;
  const std::string client_;  // the peer's IP address
  ClientSlot slot_;
  const Status admitted_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<uint64_t> id_;
  std::chrono::steady_clock::time_point started_;
  std::string_view route_ = "unmatched";
  std::string_view method_;
  uint64_t served_ = 0;
  // Guards the one answer per request; handlers may answer from any thread.
  std::atomic<bool> responded_{false};
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool close_after_ = false;
  bool is_head_ = false;
  bool busy_ = false;
};

Status HttpServer::Impl::Listen() {
  beast::error_code ec;
  const std::string address = options_.listen.host + ":" + std::to_string(options_.listen.port);
  tcp::resolver resolver(io_);
  const auto results = resolver.resolve(options_.listen.host, std::to_string(options_.listen.port),
                                        tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) return Unavailable("resolve " + address + ": " + ec.message());
  const tcp::endpoint endpoint = results.begin()->endpoint();
  if (options_.auth_token.empty() && !endpoint.address().is_loopback()) {
    const std::string exposed = address + " (" + endpoint.address().to_string() + ")";
    if (!options_.allow_remote_without_token) {
      return FailedPrecondition("refusing to serve " + exposed +
                                " without a token: anyone who can reach it could run code in sandboxes. Set "
                                "auth.token (or ROCKD_TOKEN), listen on 127.0.0.1, or set "
                                "auth.allow_remote_without_token to accept the risk");
    }
    spdlog::warn("SERVING {} WITHOUT A TOKEN (auth.allow_remote_without_token): anyone who can reach it can create "
                 "sandboxes, run commands in them and read every trajectory",
                 exposed);
  }
  if (acceptor_.open(endpoint.protocol(), ec); ec) return Unavailable("socket for " + address + ": " + ec.message());
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return Unavailable("setsockopt(SO_REUSEADDR) on " + address + ": " + ec.message());
  }
  if (acceptor_.bind(endpoint, ec); ec) return Unavailable("bind " + address + ": " + ec.message());
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Unavailable("listen " + address + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    self->OnAccept(ec, std::move(socket));
  });
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (draining_ || !acceptor_.is_open()) return;
  if (ec) {
    // EMFILE and friends: keep serving the connections we have, try again shortly.
    spdlog::warn("accept on port {}: {}", acceptor_.local_endpoint(ec).port(), ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([self = shared_from_this()](beast::error_code) { self->Accept(); });
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  const auto peer = socket.remote_endpoint(ec);
  if (ec) {
    // Reset before we looked: nothing to serve.
    Accept();
    return;
  }
  std::string client = peer.address().to_string();
  Status admitted = connection_quota_->Acquire(client);
  ClientSlot slot = admitted.ok() ? ClientSlot(connection_quota_, client) : ClientSlot();
  std::make_shared<HttpSession>(shared_from_this(), std::move(socket), std::move(client), std::move(slot),
                                std::move(admitted))
      ->Start();
  Accept();
}

void HttpServer::Impl::Drain(std::function<void()> done) {
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    drained_ = std::move(done);
    for (auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
    if (connections_.empty() && drained_) asio::post(io_, std::exchange(drained_, nullptr));
  }
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
    self->accept_retry_.cancel();
  });
  for (auto& connection : live) connection->Drain();
}

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, const Router& router, Metrics& metrics)
    : impl_(std::make_shared<Impl>(io, std::move(options), router, metrics)) {}

HttpServer::~HttpServer() = default;

void HttpServer::AddWebSocket(std::string path, WsEndpoint endpoint) {
  impl_->ws_endpoints_.emplace(std::move(path), std::move(endpoint));
}

Status HttpServer::Listen() { return impl_->Listen(); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Start() { impl_->Accept(); }

void HttpServer::Drain(std::function<void()> done) { impl_->Drain(std::move(done)); }

}  // namespace rock
