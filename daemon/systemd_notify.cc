#include "daemon/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

namespace rock {

void NotifyReady(std::string_view status) {
  const std::string message = "READY=1\nSTATUS=" + std::string(status);
  if (const int rc = sd_notify(0, message.c_str()); rc < 0) spdlog::warn("sd_notify(READY=1): error {}", rc);
}

void NotifyStopping() { sd_notify(0, "STOPPING=1"); }

class Watchdog::Impl : public std::enable_shared_from_this<Impl> {
 public:
  explicit Impl(boost::asio::io_context& io) : timer_(io) {}

  void Arm() {
    timer_.expires_after(interval_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      sd_notify(0, "WATCHDOG=1");
      self->Arm();
    });
  }

  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
};

Watchdog::Watchdog(boost::asio::io_context& io) : impl_(std::make_shared<Impl>(io)) {}

Watchdog::~Watchdog() { Stop(); }

std::chrono::microseconds Watchdog::Start() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::microseconds(0);
  impl_->interval_ = std::chrono::microseconds(usec / 2);
  sd_notify(0, "WATCHDOG=1");
  impl_->Arm();
  return impl_->interval_;
}

void Watchdog::Stop() { impl_->timer_.cancel(); }

}  // namespace rock
