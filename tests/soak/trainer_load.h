// One trainer of the soak: a TrainerClient (the library rock-trainer uses) connected to rockd
// through a TcpProxy, so that the soak can cut its connection, keeping a fixed number of
// episodes in flight (ALFWorld, and every Nth a SWE-bench instance) and acting at random among
// the admissible commands. It keeps an account of every start, episode and trajectory, and
// checks it against rockd's database at the end.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer-client/client/trainer_client.h"
#include "tests/support/tcp_proxy.h"

namespace rock::soak {

class SoakRockd;

struct TrainerLoadOptions {
  std::string name;
  bool msgpack = false;
  int in_flight = 16;
  int swebench_every = 0;  // every Nth start is a SWE-bench episode; 0: none
  uint64_t seed = 1;
};

struct TrainerTally {
  uint64_t starts = 0;
  uint64_t episodes = 0;       // distinct episodes seen
  uint64_t steps = 0;          // obs received
  uint64_t trajectories = 0;   // handed over, each acked
  std::map<std::string, uint64_t> statuses;  // of the trajectories
  std::map<std::string, uint64_t> errors;    // error frames by code
  uint64_t reconnects = 0;
  uint64_t stalls = 0;
  uint64_t starts_resent = 0;  // by the client, after a reconnect
  // Episodes a killed rockd took along: reported "episode_lost" by the client, and failed by
  // the restart in rockd's database (or never stored there).
  uint64_t episodes_lost_with_rockd = 0;
  // What must be zero.
  uint64_t lost = 0;        // an episode or start that ended in nothing
  uint64_t duplicates = 0;  // a seq or an episode handed over twice
  std::vector<std::string> problems;  // the first of them, described

  // Adds another trainer's counts to these (the soak's total).
  void Add(const TrainerTally& other);
};

class TrainerLoad {
 public:
  TrainerLoad(TrainerLoadOptions options, SoakRockd& rockd);
  ~TrainerLoad();
  TrainerLoad(const TrainerLoad&) = delete;
  TrainerLoad& operator=(const TrainerLoad&) = delete;

  bool Connect();  // false (with a problem noted) when the client cannot be created

  // The trainer's thread: starts episodes while `starting`, then plays the ones in flight to
  // their end; returns when none is left or `drain_deadline` passes.
  void Run(const std::atomic<bool>& starting, const std::atomic<int64_t>& drain_deadline_ms);

  // Faults, from another thread.
  void CutConnection();                     // both sides, as a network failure
  void Stall(std::chrono::milliseconds d);  // reads nothing and acks nothing for `d`
  void RockdMoved(uint16_t port);           // a restarted rockd listens there

  // After rockd has stopped: the account against its database (rockd.db in `data_dir`).
  void Reconcile(const std::string& data_dir);
  const TrainerTally& tally() const { return tally_; }
  const std::string& name() const { return options_.name; }

 private:
  struct Episode {
    enum class End { kNone, kTrajectory, kLostWithRockd };
    std::string env;
    End end = End::kNone;
  };

  void StartOne();
  void Handle(const trainer::Event& event);
  void OnObs(const nlohmann::json& obs);
  void OnTrajectory(const nlohmann::json& trajectory);
  void OnError(const nlohmann::json& error);
  std::string ChooseAction(const Episode& episode, int step, const nlohmann::json& info);
  std::size_t InFlight() const;
  void Problem(std::string what);

  const TrainerLoadOptions options_;
  SoakRockd& rockd_;
  std::unique_ptr<test::TcpProxy> proxy_;
  std::unique_ptr<trainer::TrainerClient> client_;
  std::mt19937_64 random_;
  std::atomic<int64_t> stall_until_ms_{0};
  std::atomic<uint64_t> stalls_{0};
  uint64_t next_start_ = 0;
  std::map<uint64_t, std::string> starts_;   // req -> group, awaiting its step-0 obs or error
  std::map<std::string, Episode> episodes_;  // every episode seen, ended or not
  std::size_t live_ = 0;                     // episodes not ended
  std::set<uint64_t> seqs_;
  TrainerTally tally_;
};

}  // namespace rock::soak
