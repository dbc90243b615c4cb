// sd_notify integration for Type=notify units: READY=1 once serving, WATCHDOG=1 at half of
// the unit's WatchdogSec, STOPPING=1 on shutdown. All of it is a no-op outside systemd.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace rock {

void NotifyReady(std::string_view status);
void NotifyStopping();

// Pings the systemd watchdog from `io`'s threads, so a wedged event loop stops the pings.
class Watchdog {
 public:
  explicit Watchdog(boost::asio::io_context& io);
  ~Watchdog();
  // Starts pinging if the unit has a watchdog; returns the ping interval (zero when none).
  std::chrono::microseconds Start();
  void Stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace rock
