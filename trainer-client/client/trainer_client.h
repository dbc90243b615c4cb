// A C++ client for rockd's trainer stream (`/ws/trainer`, docs/protocol.md), for rock-trainer
// and any other C++ program. It owns one WebSocket to one rockd and an I/O thread; every public
// method is thread-safe and never blocks on the network.
//
// What it takes off the application:
// - Reconnects with exponential backoff (jittered) whenever the connection drops or cannot be
//   made, and says hello again with resume.after_seq = the last seq the application acked, so
//   rockd redelivers exactly the unacknowledged trajectories.
// - Hands each trajectory to the application once: a redelivered seq it already handed over is
//   dropped (and its credit given back).
// - Keeps the credit window: at most `credits` trajectories are handed over and not yet acked.
//   Ack(seq) returns their credits to rockd.
// - Acts survive a reconnect: rockd resends the last obs of every episode that waits for an act;
//   when that obs is the one an act in flight answered, the client sends the act again instead of
//   handing the obs over twice. Every obs reaches the application once, in step order: an
//   episode's last obs lost with a connection after the episode ended (rockd resends only the
//   obs of running episodes) is rebuilt from its trajectory's steps and handed over just before
//   it, marked "from_trajectory": true, with an empty `info`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace rock::trainer {

enum class Encoding { kJson, kMsgpack };

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string token;  // sent as "Authorization: Bearer <token>" when not empty
  std::string trainer = "rock-trainer";
  Encoding encoding = Encoding::kJson;
  int credits = 64;              // the window of handed-over, unacked trajectories (>= 1)
  uint64_t resume_after_seq = 0; // the last seq the application processed before (its checkpoint)
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  std::chrono::milliseconds connect_timeout{5000};
};

struct StartRequest {
  std::string env;
  nlohmann::json task = nlohmann::json::object();
  std::optional<uint64_t> seed;
  std::optional<int> max_steps;
  int n = 1;
  int redundancy = 0;
  std::string group;            // empty: rockd names it
  int64_t policy_version = 0;
};

struct Event {
  enum class Type {
    kConnected,     // a welcome arrived; body is the welcome
    kDisconnected,  // the connection dropped; body {"message": why}; the client reconnects
    kObs,           // body is the obs frame (step 0 carries the start's req)
    kTrajectory,    // body is the trajectory frame
    kError,         // body is the error frame (code, message, req/episode when about one), or
                    // code "episode_lost" for an episode a killed rockd took along (see above)
  };
  Type type;
  nlohmann::json body;
};

class TrainerClient {
 public:
  // Starts the I/O thread and the first connection attempt; fails only on bad options.
  static StatusOr<std::unique_ptr<TrainerClient>> Create(ClientOptions options);
  // Closes the connection and joins the I/O thread.
  ~TrainerClient();
  TrainerClient(const TrainerClient&) = delete;
  TrainerClient& operator=(const TrainerClient&) = delete;

  // The next event, waiting up to `timeout`; nullopt on timeout or after Close.
  std::optional<Event> Next(std::chrono::milliseconds timeout);

  // Each returns the req id echoed in the step-0 obs of its episodes and in its errors.
  // Messages sent while disconnected wait and go out, in order, after the next welcome.
  uint64_t Start(const StartRequest& request);
  void Act(const std::string& episode, int step, const std::string& action, int64_t policy_version,
           const std::vector<float>& logprobs);
  void Cancel(const std::string& episode);
  // Cumulative: every handed-over trajectory with seq <= `seq` is processed.
  void Ack(uint64_t seq);
  // The application is done with handed-over trajectory `seq` but cannot ack it yet, because
  // an older one is still held and acks are cumulative (a trainer waiting for the rest of a
  // group): its credit goes back now, so one slow trajectory cannot hold the whole window. The
  // ack that later covers it gives nothing back again. A seq not held is ignored.
  void Release(uint64_t seq);
  void Report(const nlohmann::json& metrics);

  bool connected() const;
  uint64_t acked_seq() const;      // the highest seq acked by the application
  int reconnects() const;          // welcomes after the first
  int connect_attempts() const;    // connections tried, failed ones included
  int acts_resent() const;         // acts sent again because rockd never received them
  int obs_rebuilt() const;         // obs handed over from a trajectory (see above)
  int starts_resent() const;       // starts sent again because rockd never received them
  int episodes_lost() const;       // "episode_lost" errors: episodes a killed rockd took along
  // A WebSocket close (cut after 1 s), then joins the I/O thread; events not yet taken are
  // dropped and Next returns nullopt from then on. Idempotent; the destructor calls it.
  void Close();

 private:
  struct Impl;
  explicit TrainerClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rock::trainer
