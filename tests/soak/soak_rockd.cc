#include "tests/soak/soak_rockd.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "tests/support/ready_rockd.h"

namespace rock::soak {

long ResidentKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kb = -1;
      status >> kb;
      return kb;
    }
    status.ignore(1 << 16, '\n');
  }
  return -1;
}

int OpenFds(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error);
  if (error) return -1;
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) ++count;
  return count;
}

SoakRockd::SoakRockd(std::string config_json, std::string data_dir, std::string log_prefix, std::string binary)
    : config_json_(std::move(config_json)),
      data_dir_(std::move(data_dir)),
      log_prefix_(std::move(log_prefix)),
      binary_(std::move(binary)) {}

SoakRockd::~SoakRockd() = default;

bool SoakRockd::Start(std::chrono::milliseconds ready_timeout) {
  // Info, not debug: a soak's debug log would grow by gigabytes.
  auto rockd = test::StartReady({.config_json = config_json_, .data_dir = data_dir_, .log_level = "info", .binary = binary_},
                                ready_timeout);
  if (rockd == nullptr) return false;
  std::lock_guard lock(mu_);
  port_ = rockd->port();
  rockd_ = std::move(rockd);
  ++incarnation_;
  return true;
}

void SoakRockd::Kill() {
  std::lock_guard lock(mu_);
  port_ = 0;
  if (rockd_ == nullptr) return;
  rockd_->Stop(SIGKILL);
  KeepLogLocked();
  rockd_.reset();
}

int SoakRockd::Stop() {
  std::lock_guard lock(mu_);
  port_ = 0;
  if (rockd_ == nullptr) return -1;
  const int code = rockd_->Stop(SIGTERM, std::chrono::seconds(30));
  KeepLogLocked();
  return code;
}

pid_t SoakRockd::pid() const {
  std::lock_guard lock(mu_);
  return rockd_ != nullptr ? rockd_->pid() : -1;
}

std::string SoakRockd::Log() const {
  std::lock_guard lock(mu_);
  return rockd_ != nullptr ? rockd_->Log() : std::string();
}

void SoakRockd::KeepLogLocked() const {
  std::ofstream(log_prefix_ + std::to_string(incarnation_.load()) + ".log") << rockd_->Log();
}

void SoakRockd::Sample(std::chrono::steady_clock::time_point began) {
  std::lock_guard lock(mu_);
  if (rockd_ == nullptr || rockd_->pid() <= 0) return;
  RockdSample sample;
  sample.t_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  sample.incarnation = incarnation_;
  sample.rss_kb = ResidentKb(rockd_->pid());
  sample.open_fds = OpenFds(rockd_->pid());
  if (sample.rss_kb > 0) samples_.push_back(sample);
}

std::vector<RockdSample> SoakRockd::samples() const {
  std::lock_guard lock(mu_);
  return samples_;
}

}  // namespace rock::soak
