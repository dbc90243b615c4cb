#include "tests/support/tcp_proxy.h"

#include <array>
#include <atomic>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace rock::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// One proxied connection: bytes are pumped both ways until either side fails or closes, which
// closes both.
struct Link {
  explicit Link(asio::io_context& io) : client(io), server(io) {}
  tcp::socket client;
  tcp::socket server;
  std::array<char, 64 * 1024> upstream{};    // client → server
  std::array<char, 64 * 1024> downstream{};  // server → client
  bool closed = false;
};

const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

}  // namespace

class TcpProxy::Impl {
 public:
  explicit Impl(uint16_t target_port) : target_(target_port) {
    if (Listen(0)) {
      port_ = acceptor_.local_endpoint().port();
      Accept();
    }
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    Call([this] {
      error_code ignored;
      acceptor_.close(ignored);
      while (!links_.empty()) Close(*links_.begin());
    });
    work_.reset();
    thread_.join();
  }

  uint16_t port() const { return port_; }
  void SetTarget(uint16_t port) { target_ = port; }
  int accepted() const { return accepted_; }
  int dropped() const { return dropped_; }

  void DropAll() {
    Call([this] {
      while (!links_.empty()) {
        ++dropped_;
        Close(*links_.begin());
      }
    });
  }

  void Pause() {
    Call([this] {
      error_code ignored;
      acceptor_.close(ignored);
    });
  }

  bool Resume() {
    bool listening = false;
    Call([&] {
      if (acceptor_.is_open() || !Listen(port_)) return;
      listening = true;
      Accept();
    });
    return listening;
  }

 private:
  // Runs `f` on the proxy's thread and waits for it.
  template <typename F>
  void Call(F f) {
    std::promise<void> done;
    asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

  bool Listen(uint16_t port) {
    error_code ec;
    const tcp::endpoint endpoint(kLoopback, port);
    if (acceptor_.open(endpoint.protocol(), ec); !ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      ADD_FAILURE() << "proxy: listen on 127.0.0.1:" << port << ": " << ec.message();
      error_code ignored;
      acceptor_.close(ignored);
      return false;
    }
    return true;
  }

  void Accept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
      if (ec) {
        // Paused (the acceptor closed) or shutting down; anything else is worth a retry.
        if (acceptor_.is_open()) Accept();
        return;
      }
      ++accepted_;
      auto link = std::make_shared<Link>(io_);
      link->client = std::move(socket);
      links_.insert(link);
      link->server.async_connect(tcp::endpoint(kLoopback, target_), [this, link](const error_code& connect_ec) {
        if (link->closed) return;
        if (connect_ec) return Close(link);
        error_code ignored;
        link->client.set_option(tcp::no_delay(true), ignored);
        link->server.set_option(tcp::no_delay(true), ignored);
        Pump(link, link->client, link->server, link->upstream);
        Pump(link, link->server, link->client, link->downstream);
      });
      Accept();
    });
  }

  void Pump(const std::shared_ptr<Link>& link, tcp::socket& from, tcp::socket& to, std::array<char, 64 * 1024>& buffer) {
    from.async_read_some(asio::buffer(buffer), [this, link, &from, &to, &buffer](const error_code& ec, std::size_t n) {
      if (link->closed) return;
      if (ec) return Close(link);
      asio::async_write(to, asio::buffer(buffer.data(), n), [this, link, &from, &to, &buffer](const error_code& write_ec, std::size_t) {
        if (link->closed) return;
        if (write_ec) return Close(link);
        Pump(link, from, to, buffer);
      });
    });
  }

  // By value: `link` may be the set's own copy, which erase frees.
  void Close(std::shared_ptr<Link> link) {
    link->closed = true;
    error_code ignored;
    link->client.close(ignored);
    link->server.close(ignored);
    links_.erase(link);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  tcp::acceptor acceptor_{io_};
  std::set<std::shared_ptr<Link>> links_;
  std::atomic<uint16_t> target_;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> dropped_{0};
  std::thread thread_;
};

TcpProxy::TcpProxy(uint16_t target_port) : impl_(std::make_unique<Impl>(target_port)) {}
TcpProxy::~TcpProxy() = default;
uint16_t TcpProxy::port() const { return impl_->port(); }
void TcpProxy::SetTarget(uint16_t target_port) { impl_->SetTarget(target_port); }
void TcpProxy::DropAll() { impl_->DropAll(); }
void TcpProxy::Pause() { impl_->Pause(); }
bool TcpProxy::Resume() { return impl_->Resume(); }
int TcpProxy::accepted() const { return impl_->accepted(); }
int TcpProxy::dropped() const { return impl_->dropped(); }

}  // namespace rock::test
