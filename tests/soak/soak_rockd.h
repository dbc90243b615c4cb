// The rockd under soak: one data dir for every incarnation, SIGKILLed and started again on it
// while the load runs, and sampled once a second for its resident memory and open files.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/support/rockd_process.h"

namespace rock::soak {

struct RockdSample {
  double t_s = 0;        // since the soak began
  int incarnation = 0;   // 1 for the first rockd, +1 per restart
  long rss_kb = 0;
  int open_fds = 0;
};

// VmRSS of `pid` in KiB and its open descriptors; -1 when it cannot be read (it is gone).
long ResidentKb(pid_t pid);
int OpenFds(pid_t pid);

class SoakRockd {
 public:
  // Each incarnation's log is kept as <log_prefix><incarnation>.log once it has stopped.
  // `binary` empty: the rockd of this build.
  SoakRockd(std::string config_json, std::string data_dir, std::string log_prefix, std::string binary);
  ~SoakRockd();

  // Starts rockd (the first time or after Kill) and waits until /readyz is 200.
  bool Start(std::chrono::milliseconds ready_timeout);
  // SIGKILL, as an OOM killer or a power cut would; port() is 0 until the next Start.
  void Kill();
  // SIGTERM: drains, stops every sandbox and exits; returns its exit status.
  int Stop();

  uint16_t port() const { return port_.load(); }
  pid_t pid() const;
  int incarnation() const { return incarnation_.load(); }
  const std::string& data_dir() const { return data_dir_; }
  std::string Log() const;

  // Records one sample of the live rockd (nothing while it is down).
  void Sample(std::chrono::steady_clock::time_point began);
  std::vector<RockdSample> samples() const;

 private:
  void KeepLogLocked() const;  // mu_ held

  const std::string config_json_;
  const std::string data_dir_;
  const std::string log_prefix_;
  const std::string binary_;
  mutable std::mutex mu_;  // guards rockd_ and samples_
  std::unique_ptr<test::RockdProcess> rockd_;
  std::vector<RockdSample> samples_;
  std::atomic<uint16_t> port_{0};
  std::atomic<int> incarnation_{0};
};

}  // namespace rock::soak
