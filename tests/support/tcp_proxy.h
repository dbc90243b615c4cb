// A TCP proxy for tests that cut connections: it listens on 127.0.0.1 (an ephemeral port, kept
// for its lifetime) and forwards every connection it accepts to a target port on 127.0.0.1. It
// runs its own I/O thread; every method is thread-safe and returns once it has taken effect.
#pragma once

#include <cstdint>
#include <memory>

namespace rock::test {

class TcpProxy {
 public:
  explicit TcpProxy(uint16_t target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const;
  // Connections accepted from now on go to `target_port`.
  void SetTarget(uint16_t target_port);
  // Closes every proxied connection, both sides, as a network failure would.
  void DropAll();
  // Stops listening, so that connections are refused, until Resume listens again on the same
  // port; Resume is false (with a test failure) when the port cannot be bound again.
  void Pause();
  bool Resume();
  // Connections accepted, and connections closed by DropAll, so far.
  int accepted() const;
  int dropped() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rock::test
