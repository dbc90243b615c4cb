#include "tests/soak/fault_injector.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "tests/soak/json_field.h"
#include "tests/soak/soak_rockd.h"
#include "tests/soak/trainer_load.h"
#include "tests/support/http_client.h"

namespace rock::soak {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kRockdReadyTimeout{60};

}  // namespace

FaultInjector::FaultInjector(FaultOptions options, SoakRockd& rockd, std::vector<TrainerLoad*> trainers)
    : options_(options), rockd_(rockd), trainers_(std::move(trainers)), random_(options.seed) {}

void FaultInjector::Run(const std::atomic<bool>& running, Clock::time_point began) {
  Clock::time_point next_rockd_kill = began + options_.rockd_kill_every;
  Clock::time_point next_fault = began;
  for (uint64_t round = 0; running; ++round) {
    next_fault += options_.every;
    while (running && Clock::now() < next_fault) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!running) break;
    const Clock::time_point now = Clock::now();
    if (now >= next_rockd_kill && now - began < options_.rockd_kills_until) {
      RestartRockd();
      next_rockd_kill = Clock::now() + options_.rockd_kill_every;
      continue;
    }
    TrainerLoad& trainer = *trainers_[random_() % trainers_.size()];
    switch (round % 4) {
      case 0:
        if (SignalPoolSandbox(SIGKILL)) Count("sandbox_sigkill");
        break;
      case 1:
        if (SignalPoolSandbox(SIGSTOP)) Count("sandbox_sigstop");
        break;
      case 2:
        trainer.CutConnection();
        Count("trainer_connection_cut");
        break;
      case 3:
        trainer.Stall(options_.stall);
        Count("trainer_stall");
        break;
    }
  }
}

bool FaultInjector::SignalPoolSandbox(int signal) {
  const uint16_t port = rockd_.port();
  if (port == 0) return false;
  const test::HttpReply reply = test::Http(port, "GET", "/api/v1/sandboxes");
  if (reply.status != 200) return false;
  const json listed = json::parse(reply.body, nullptr, false);
  std::vector<std::pair<std::string, int>> ready;  // sandbox id, pid
  const json sandboxes = listed.is_object() ? listed.value("sandboxes", json::array()) : json::array();
  for (const json& sandbox : sandboxes) {
    const std::string cgroup = StringField(sandbox, "cgroup");
    if (!cgroup.empty()) {
      std::lock_guard lock(mu_);
      cgroup_parent_ = cgroup.substr(0, cgroup.find('/'));
    }
    const std::string env = StringField(sandbox, "env");
    const int pid = IntField(sandbox, "pid", 0);  // null for a sandbox between processes
    if ((env == "alfworld" || env == "swebench") && StringField(sandbox, "state") == "ready" && pid > 0) {
      ready.emplace_back(StringField(sandbox, "id"), pid);
    }
  }
  if (ready.empty()) return false;
  const auto& [id, pid] = ready[random_() % ready.size()];
  // The pid may have been recycled since the listing (that sandbox restarted, and another
  // process, maybe a shell sandbox's, took the number): hold the process first, then check
  // that it is still the sandbox's, and signal exactly that process.
  UniqueFd process(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (process.get() < 0) return false;
  const test::HttpReply again = test::Http(port, "GET", "/api/v1/sandboxes/" + id);
  const json now = json::parse(again.body, nullptr, false);
  if (again.status != 200 || StringField(now, "state") != "ready" || IntField(now, "pid", 0) != pid) {
    return false;
  }
  return syscall(SYS_pidfd_send_signal, process.get(), signal, nullptr, 0) == 0;
}

void FaultInjector::RestartRockd() {
  rockd_.Kill();
  Count("rockd_sigkill");
  if (!rockd_.Start(kRockdReadyTimeout)) {
    std::lock_guard lock(mu_);
    problems_.push_back("rockd did not come back after a SIGKILL");
    return;
  }
  for (TrainerLoad* trainer : trainers_) trainer->RockdMoved(rockd_.port());
}

void FaultInjector::Count(const std::string& kind) {
  std::lock_guard lock(mu_);
  ++injected_[kind];
}

std::map<std::string, uint64_t> FaultInjector::injected() const {
  std::lock_guard lock(mu_);
  return injected_;
}

std::string FaultInjector::cgroup_parent() const {
  std::lock_guard lock(mu_);
  return cgroup_parent_;
}

std::vector<std::string> FaultInjector::problems() const {
  std::lock_guard lock(mu_);
  return problems_;
}

}  // namespace rock::soak
