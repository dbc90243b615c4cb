// The trainer stream /ws/trainer of the real rockd (docs/protocol.md): sessions, malformed
// frames, credits, redelivery after a reconnect and after kill -9 of rockd, MessagePack, memory
// under a trainer that grants no credits, and exactly-once delivery while sandboxes are killed.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/chaos_config.h"
#include "tests/support/http_client.h"
#include "tests/support/ready_rockd.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kConfig = kChaosConfig;

// How long a test waits for one awaited frame; a bound against hangs, never a measurement.
constexpr milliseconds kFrameTimeout = seconds(30);
// How long rockd may take to fill its pools to their minimum.
constexpr milliseconds kReadyTimeout = seconds(20);

// `object[key]`, or null when `object` is not an object or lacks it.
const json& At(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// A string value as it is, anything else as JSON text.
std::string Str(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// The keys of `keys` (space-separated) that `object` lacks, space-separated; "" when none is.
std::string MissingFields(const json& object, const std::string& keys) {
  std::string missing;
  std::istringstream in(keys);
  for (std::string key; in >> key;) {
    if (!object.is_object() || !object.contains(key)) missing += (missing.empty() ? "" : " ") + key;
  }
  return missing;
}

// What a trainer saw and sent of one episode.
struct Episode {
  std::string id;
  std::vector<json> obs;   // obs frames: step 0 (the reset) first
  std::vector<json> acts;  // act frames sent: step 1 first
  bool delivered = false;  // its trajectory arrived
  bool hold = false;       // the trainer does not act on it
  // Its last obs said terminated or truncated.
  bool finished() const {
    return !obs.empty() && (At(obs.back(), "terminated") == true || At(obs.back(), "truncated") == true);
  }
  bool ended() const { return delivered || finished(); }
  // An act is out and its obs has not come back yet.
  bool awaiting() const { return obs.size() == acts.size(); }
};

// A trainer over one WsClient: it sends in the encoding its hello asks for, keeps what every
// frame says (obs per episode, trajectories, errors, pongs) and plays episodes to their end with
// admissible actions drawn from a seeded RNG. Not thread-safe: one thread drives one Trainer.
class Trainer {
 public:
  Trainer(uint16_t port, std::string name, bool msgpack = false, uint64_t seed = 1,
          const std::string& target = "/ws/trainer", const Headers& headers = {})
      : ws_(port, target, headers), name_(std::move(name)), msgpack_(msgpack), random_(seed) {}

  bool connected() const { return ws_.connected(); }
  const std::string& error() const { return ws_.error(); }
  const std::string& name() const { return name_; }

  // Sent with every act (and start); the trajectory must carry them back as sent.
  uint64_t policy_version = 3;
  std::size_t logprob_count = 2;

  bool Send(const json& message) {
    if (!msgpack_) return ws_.Send(message.dump());
    const std::vector<uint8_t> bytes = json::to_msgpack(message);
    return ws_.Send(std::string(bytes.begin(), bytes.end()), /*binary=*/true);
  }
  bool SendRaw(const std::string& bytes, bool binary) { return ws_.Send(bytes, binary); }

  // Sends hello and waits for welcome; null when none came (error() says why a connection
  // failed).
  json Hello(uint64_t credits, uint64_t after_seq = 0, const json& extra = json::object()) {
    json hello = {{"type", "hello"},
                  {"trainer", name_},
                  {"encoding", msgpack_ ? "msgpack" : "json"},
                  {"credits", credits},
                  {"resume", {{"after_seq", after_seq}}}};
    hello.update(extra);
    if (!Send(hello)) return nullptr;
    PumpUntil([&] { return !welcome_.is_null(); });
    return welcome_;
  }

  // Asks for `n` episodes of one ALFWorld task and seed; `extra` adds or replaces fields.
  bool Start(const json& req, int n, int max_steps, uint64_t seed, const json& extra = json::object()) {
    json start = {{"type", "start"},
                  {"req", req},
                  {"env", "alfworld"},
                  {"seed", seed},
                  {"n", n},
                  {"max_steps", max_steps},
                  {"policy_version", policy_version}};
    start.update(extra);
    requested_ += n + (At(extra, "redundancy").is_number_integer() ? extra["redundancy"].get<std::size_t>() : 0);
    return Send(start);
  }

  // Starts a group and plays it to its end: true once its n trajectories have arrived.
  bool PlayGroup(const json& req, int n, int max_steps, uint64_t seed) {
    const std::size_t before = trajectories_.size();
    return Start(req, n, max_steps, seed) && AwaitEpisodes() && PlayToEnd() && AwaitTrajectories(before + n);
  }

  // Starts one episode and plays its first step; null when that failed.
  Episode* StartOne(const json& req, int max_steps, uint64_t seed, const json& extra = json::object()) {
    if (!Start(req, 1, max_steps, seed, extra) || !AwaitEpisodes()) return nullptr;
    Episode* episode = ByReq(req);
    return episode != nullptr && Step(*episode) ? episode : nullptr;
  }

  // Waits until every episode asked for so far has its step 0.
  bool AwaitEpisodes() {
    return PumpUntil([&] { return episodes_.size() >= requested_; });
  }

  // Answers the last obs of `episode` with the next step.
  bool Act(Episode& episode) {
    const json& last = episode.obs.back();
    const uint64_t step = At(last, "step").get<uint64_t>() + 1;
    json logprobs = json::array();
    for (std::size_t k = 0; k < logprob_count; ++k) logprobs.push_back(-static_cast<double>((step * 7 + k) % 64) / 16);
    json act = {{"type", "act"},
                {"episode", episode.id},
                {"step", step},
                {"action", PickAction(At(last, "info"))},
                {"policy_version", policy_version},
                {"logprobs", std::move(logprobs)}};
    episode.acts.push_back(act);
    return Send(act);
  }

  // Acts on `episode` and waits for the obs answering it.
  bool Step(Episode& episode) {
    const std::size_t seen = episode.obs.size();
    return Act(episode) && PumpUntil([&] { return episode.obs.size() > seen; });
  }

  // An episode whose step 0 echoed `req`; null when none did.
  Episode* ByReq(const json& req) {
    for (auto& [id, episode] : episodes_) {
      if (At(episode.obs[0], "req") == req) return &episode;
    }
    return nullptr;
  }

  // Acts on every episode whose last obs is answered and that has not ended.
  bool ActAll() {
    for (auto& [id, episode] : episodes_) {
      if (!episode.ended() && !episode.hold && !episode.awaiting() && !Act(episode)) return false;
    }
    return true;
  }

  // Plays every episode it knows to its end (their trajectories may still be on the way).
  bool PlayToEnd(milliseconds timeout = kFrameTimeout * 4) {
    return PumpUntil(
               [&] {
                 if (!ActAll()) return true;  // closed: Pump reports it
                 return AllEnded();
               },
               timeout) &&
           AllEnded();
  }

  bool Ack(uint64_t seq) { return Send({{"type", "ack"}, {"seq", seq}}); }
  bool Credit(uint64_t n) { return Send({{"type", "credit"}, {"n", n}}); }

  // Pings and waits for the pong: rockd has handled everything sent before it.
  bool Sync() {
    const std::string id = "sync-" + std::to_string(++pings_);
    if (!Send({{"type", "ping"}, {"id", id}})) return false;
    return PumpUntil([&] { return pongs_.count(id) > 0; });
  }

  // The pong answering the ping with `id`; null when none came.
  json AwaitPong(const std::string& id) {
    PumpUntil([&] { return pongs_.count(id) > 0; });
    return pongs_.count(id) > 0 ? pongs_[id] : json();
  }

  bool AwaitTrajectories(std::size_t count, milliseconds timeout = kFrameTimeout) {
    return PumpUntil([&] { return trajectories_.size() >= count; }, timeout);
  }

  // The next error frame not taken yet; null when none comes.
  json AwaitError() {
    if (!PumpUntil([&] { return errors_.size() > errors_taken_; }, seconds(10))) return nullptr;
    return errors_[errors_taken_++];
  }

  // Reads and files one frame; false on timeout or when the connection is closed.
  bool Pump(milliseconds timeout) {
    const std::optional<WsMessage> message = ws_.ReadMessage(timeout);
    if (!message) return false;
    ++(message->binary ? binary_frames_ : text_frames_);
    json frame;
    try {
      frame = message->binary ? json::from_msgpack(message->data) : json::parse(message->data);
    } catch (const json::exception& e) {
      ADD_FAILURE() << name_ << ": undecodable " << (message->binary ? "binary" : "text") << " frame: " << e.what();
      return true;
    }
    File(std::move(frame));
    return true;
  }

  template <typename Done>
  bool PumpUntil(Done done, milliseconds timeout = kFrameTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !Pump(left)) return done();
    }
    return true;
  }

  bool WaitClosed(milliseconds timeout) { return ws_.WaitClosed(timeout); }

  // Takes over the record of an episode another connection of this trainer began.
  void Adopt(const Episode& episode) {
    episodes_[episode.id] = episode;
    ++requested_;
  }

  std::map<std::string, Episode>& episodes() { return episodes_; }
  std::vector<json>& trajectories() { return trajectories_; }
  std::vector<json>& errors() { return errors_; }
  int repeated_obs() const { return repeated_obs_; }
  const json& welcome() const { return welcome_; }
  int text_frames() const { return text_frames_; }
  int binary_frames() const { return binary_frames_; }

 private:
  bool AllEnded() const {
    for (const auto& [id, episode] : episodes_) {
      if (!episode.ended() && !episode.hold) return false;
    }
    return true;
  }

  std::string PickAction(const json& info) {
    const json& commands = At(info, "admissible_commands");
    if (!commands.is_array() || commands.empty()) return "look";
    return commands.at(random_() % commands.size()).get<std::string>();
  }

  void File(json frame) {
    const json& type = At(frame, "type");
    if (type == "obs") {
      const std::string id = Str(At(frame, "episode"));
      const json& step = At(frame, "step");
      auto it = episodes_.find(id);
      if (it == episodes_.end()) {
        if (step != 0) {
          ADD_FAILURE() << name_ << ": obs of an episode that had no step 0: " << frame.dump().substr(0, 500);
          return;
        }
        it = episodes_.emplace(id, Episode{.id = id}).first;
      } else if (!it->second.obs.empty() && frame == it->second.obs.back()) {
        // After a hello rockd sends again the last obs of each episode waiting for an act
        // (docs/protocol.md): the same frame, nothing new.
        ++repeated_obs_;
        return;
      } else if (step != it->second.obs.size() || !it->second.awaiting()) {
        json brief = frame;
        brief.erase("info");
        ADD_FAILURE() << name_ << ": obs out of turn (" << it->second.obs.size() << " obs and "
                      << it->second.acts.size() << " acts so far): " << brief.dump().substr(0, 1000);
        return;
      }
      it->second.obs.push_back(std::move(frame));
    } else if (type == "trajectory") {
      if (auto it = episodes_.find(Str(At(frame, "episode"))); it != episodes_.end()) it->second.delivered = true;
      trajectories_.push_back(std::move(frame));
    } else if (type == "error") {
      errors_.push_back(std::move(frame));
    } else if (type == "pong") {
      const std::string id = Str(At(frame, "id"));
      pongs_[id] = std::move(frame);
    } else if (type == "welcome") {
      EXPECT_TRUE(welcome_.is_null()) << name_ << ": a second welcome: " << frame.dump();
      welcome_ = std::move(frame);
    } else {
      ADD_FAILURE() << name_ << ": a frame of no type docs/protocol.md lists: " << frame.dump().substr(0, 500);
    }
  }

  WsClient ws_;
  std::string name_;
  bool msgpack_;
  std::mt19937_64 random_;
  std::size_t requested_ = 0;
  std::map<std::string, Episode> episodes_;
  std::vector<json> trajectories_;
  std::vector<json> errors_;
  std::size_t errors_taken_ = 0;
  std::map<std::string, json> pongs_;  // by id
  int repeated_obs_ = 0;  // last obs sent again after a hello
  int pings_ = 0;
  json welcome_;
  int text_frames_ = 0;
  int binary_frames_ = 0;
};

// What docs/protocol.md says each frame and each recorded step carries.
constexpr const char* kObsFields = "episode step observation reward terminated truncated info group";
constexpr const char* kTrajectoryFields =
    "type seq episode group trainer env task seed observation steps return status end_reason failovers "
    "policy_version_min policy_version_max started_ms ended_ms";
constexpr const char* kStepFields =
    "step action observation reward terminated truncated policy_version logprobs ts_ms duration_us";

// "" when `t` records exactly what the trainer sent and saw of `e`; else the first difference.
// The status is checked when an obs ended the episode; the caller checks any other ending.
std::string TrajectoryDiff(const json& t, const Episode& e) {
  if (At(t, "episode") != e.id) return "episode " + At(t, "episode").dump() + ", expected " + e.id;
  if (e.obs.empty()) return "no obs seen";
  if (At(t, "group") != At(e.obs[0], "group"))
    return "group " + At(t, "group").dump() + " vs obs " + At(e.obs[0], "group").dump();
  if (At(t, "observation") != At(e.obs[0], "observation")) return "the reset's observation differs";
  const json& steps = At(t, "steps");
  if (!steps.is_array() || steps.size() != e.acts.size() || e.obs.size() != e.acts.size() + 1) {
    return "steps: " + std::to_string(steps.size()) + " recorded, " + std::to_string(e.acts.size()) + " acts sent, " +
           std::to_string(e.obs.size()) + " obs seen";
  }
  double total = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const json& s = steps[i];
    const std::string where = "step " + std::to_string(i + 1) + ": ";
    if (const std::string missing = MissingFields(s, kStepFields); !missing.empty()) return where + "lacks " + missing;
    if (At(s, "step") != i + 1) return where + "numbered " + At(s, "step").dump();
    for (const char* key : {"action", "policy_version", "logprobs"}) {
      if (At(s, key) != At(e.acts[i], key))
        return where + key + " " + At(s, key).dump() + ", sent " + At(e.acts[i], key).dump();
    }
    for (const char* key : {"observation", "reward", "terminated", "truncated"}) {
      if (At(s, key) != At(e.obs[i + 1], key))
        return where + key + " " + At(s, key).dump() + ", obs said " + At(e.obs[i + 1], key).dump();
    }
    if (!At(s, "reward").is_number()) return where + "reward is not a number";
    total += At(s, "reward").get<double>();
  }
  if (e.finished()) {
    const std::string status = At(e.obs.back(), "terminated") == true ? "terminated" : "truncated";
    if (At(t, "status") != status) return "status " + At(t, "status").dump() + ", expected " + status;
  }
  if (!At(t, "return").is_number() || std::abs(At(t, "return").get<double>() - total) > 1e-9) {
    return "return " + At(t, "return").dump() + ", rewards sum to " + std::to_string(total);
  }
  return "";
}

// The seqs of `trajectories`, in arrival order.
std::vector<uint64_t> Seqs(const std::vector<json>& trajectories) {
  std::vector<uint64_t> seqs;
  for (const json& t : trajectories)
    seqs.push_back(At(t, "seq").is_number_integer() ? At(t, "seq").get<uint64_t>() : 0);
  return seqs;
}

bool StrictlyIncreasing(const std::vector<uint64_t>& seqs) {
  for (std::size_t i = 1; i < seqs.size(); ++i) {
    if (seqs[i] <= seqs[i - 1]) return false;
  }
  return true;
}

// Every trajectory of `trainer` rockd lists (acknowledged or not), paged by after_seq.
json ListTrajectories(uint16_t port, const std::string& trainer) {
  json all = json::array();
  uint64_t after = 0;
  for (;;) {
    const HttpReply reply = Http(
        port, "GET", "/api/v1/trajectories?trainer=" + trainer + "&after_seq=" + std::to_string(after) + "&limit=100");
    if (reply.status != 200) {
      ADD_FAILURE() << "GET /api/v1/trajectories: HTTP " << reply.status << ": " << reply.body.substr(0, 500);
      return all;
    }
    const json page = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    if (!At(page, "trajectories").is_array()) {
      ADD_FAILURE() << "GET /api/v1/trajectories has no 'trajectories' array: " << reply.body.substr(0, 500);
      return all;
    }
    if (page["trajectories"].empty()) return all;
    for (const json& t : page["trajectories"]) all.push_back(t);
    after = all.back()["seq"].get<uint64_t>();
  }
}

// Whether /metrics has `series` with exactly `value`.
bool MetricIs(uint16_t port, const std::string& series, const std::string& value) {
  return Http(port, "GET", "/metrics").body.find("\n" + series + " " + value + "\n") != std::string::npos;
}

// Resident memory of `pid` in KiB (VmRSS of /proc/<pid>/status), -1 when unreadable.
long VmRssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Pids of the ALFWorld pool's ready sandboxes.
std::vector<pid_t> ReadyPoolPids(uint16_t port) {
  std::vector<pid_t> pids;
  const HttpReply reply = Http(port, "GET", "/api/v1/sandboxes");
  if (reply.status != 200) return pids;
  const json listed = reply.json();
  for (const json& sb : listed["sandboxes"]) {
    if (sb["env"] == "alfworld" && sb["state"] == "ready" && sb["pid"].get<int>() > 0) pids.push_back(sb["pid"]);
  }
  return pids;
}

class RockdTrainer : public ReadyRockdTest {
 protected:
  RockdTrainer() : ReadyRockdTest({.config_json = kConfig}, kReadyTimeout) {}
};

TEST_F(RockdTrainer, AGroupIsPlayedAndEveryEpisodeArrivesAsOneTrajectory) {
  Trainer trainer(port(), "ppo-1");
  ASSERT_TRUE(trainer.connected()) << trainer.error();
  trainer.policy_version = 12;
  json welcome = trainer.Hello(/*credits=*/8);
  ASSERT_FALSE(welcome.is_null()) << "no welcome";
  EXPECT_EQ(welcome["trainer"], "ppo-1") << welcome.dump();
  EXPECT_EQ(welcome["head_seq"], 0) << welcome.dump();
  EXPECT_EQ(welcome["acked_seq"], 0) << welcome.dump();
  EXPECT_EQ(welcome["pending"], 0) << welcome.dump();

  const json req = {{"batch", 1}, {"note", "first group"}};
  ASSERT_TRUE(
      trainer.Start(req, /*n=*/3, /*max_steps=*/5, /*seed=*/7, {{"task", {{"type", "pick_and_place_simple"}}}}));
  ASSERT_TRUE(trainer.AwaitEpisodes()) << trainer.episodes().size() << " of 3 episodes started";
  ASSERT_EQ(trainer.episodes().size(), 3u);
  std::set<std::string> groups, first_observations;
  for (auto& [id, e] : trainer.episodes()) {
    json& obs = e.obs[0];
    EXPECT_EQ(MissingFields(obs, kObsFields), "") << obs.dump();
    EXPECT_EQ(obs["step"], 0);
    EXPECT_EQ(obs["req"], req) << "step 0 echoes the start's req: " << obs.dump();
    EXPECT_EQ(obs["terminated"], false);
    EXPECT_EQ(obs["truncated"], false);
    EXPECT_NE(obs["observation"].get<std::string>().find("-= Welcome to TextWorld, ALFRED! =-"), std::string::npos);
    EXPECT_TRUE(At(obs["info"], "admissible_commands").is_array()) << obs.dump();
    groups.insert(obs["group"].dump());
    first_observations.insert(obs["observation"].dump());
  }
  EXPECT_EQ(groups.size(), 1u) << "one start, one group";
  EXPECT_NE(*groups.begin(), "\"\"");
  EXPECT_EQ(first_observations.size(), 1u) << "one task and seed: one game";

  ASSERT_TRUE(trainer.PlayToEnd());
  for (const auto& [id, e] : trainer.episodes()) {
    for (std::size_t i = 1; i < e.obs.size(); ++i) {
      EXPECT_EQ(MissingFields(e.obs[i], kObsFields), "") << e.obs[i].dump();
      EXPECT_FALSE(e.obs[i].contains("req")) << "req is on step 0 only";
    }
  }
  ASSERT_TRUE(trainer.AwaitTrajectories(3)) << trainer.trajectories().size() << " of 3 trajectories";
  ASSERT_TRUE(trainer.Sync());
  std::vector<json>& got = trainer.trajectories();
  ASSERT_EQ(got.size(), 3u) << "one trajectory per episode";
  EXPECT_TRUE(StrictlyIncreasing(Seqs(got))) << json(Seqs(got)).dump();
  std::set<std::string> episodes;
  for (json& t : got) {
    EXPECT_EQ(MissingFields(t, kTrajectoryFields), "") << t.dump().substr(0, 2000);
    const std::string id = Str(At(t, "episode"));
    ASSERT_EQ(trainer.episodes().count(id), 1u) << "a trajectory of no episode of ours: " << t.dump().substr(0, 500);
    EXPECT_TRUE(episodes.insert(id).second) << "twice: " << id;
    EXPECT_EQ(TrajectoryDiff(t, trainer.episodes()[id]), "") << t.dump().substr(0, 2000);
    EXPECT_EQ(t["trainer"], "ppo-1");
    EXPECT_EQ(t["env"], "alfworld");
    EXPECT_EQ(At(t["task"], "type"), "pick_and_place_simple") << t["task"].dump();
    EXPECT_EQ(t["seed"], 7);
    EXPECT_EQ(t["end_reason"], t["status"]);
    EXPECT_EQ(t["failovers"], 0);
    EXPECT_EQ(t["policy_version_min"], 12);
    EXPECT_EQ(t["policy_version_max"], 12);
    EXPECT_LE(t["started_ms"].get<int64_t>(), t["ended_ms"].get<int64_t>());
  }
  EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
  EXPECT_TRUE(MetricIs(port(), "rockd_trainers_connected", "1")) << Http(port(), "GET", "/metrics").body;
  EXPECT_TRUE(MetricIs(port(), R"(rockd_trainer_trajectories_sent_total{trainer="ppo-1"})", "3"))
      << Http(port(), "GET", "/metrics").body;

  const uint64_t last = got.back()["seq"];
  ASSERT_TRUE(trainer.Ack(last));
  ASSERT_TRUE(trainer.Sync());
  EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();

  // The REST API lists the same trajectories, acknowledged ones included.
  json listed = ListTrajectories(port(), "ppo-1");
  ASSERT_EQ(listed.size(), 3u) << listed.dump().substr(0, 2000);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(listed[i]["seq"], got[i]["seq"]);
    EXPECT_EQ(listed[i]["episode"], got[i]["episode"]);
    EXPECT_EQ(listed[i]["steps"], got[i]["steps"]);
  }

  // The ack stuck: the next connection of this trainer finds nothing pending.
  Trainer again(port(), "ppo-1");
  ASSERT_TRUE(again.connected()) << again.error();
  json resumed = again.Hello(/*credits=*/8);
  EXPECT_EQ(resumed["head_seq"], last) << resumed.dump();
  EXPECT_EQ(resumed["acked_seq"], last) << resumed.dump();
  EXPECT_EQ(resumed["pending"], 0) << resumed.dump();
  ASSERT_TRUE(again.Sync());
  EXPECT_TRUE(again.trajectories().empty()) << again.trajectories()[0].dump().substr(0, 500);
}

TEST_F(RockdTrainer, MalformedFramesGetAnErrorWhileTheStreamCarriesOn) {
  Trainer trainer(port(), "sloppy");
  ASSERT_TRUE(trainer.connected()) << trainer.error();
  ASSERT_TRUE(trainer.Send({{"type", "start"}, {"req", "too-early"}, {"env", "alfworld"}}));
  json early = trainer.AwaitError();
  EXPECT_EQ(At(early, "code"), "failed_precondition") << "a start before hello: " << early.dump();
  EXPECT_TRUE(trainer.episodes().empty());
  for (const std::string& name : std::vector<std::string>{"has spaces", "", std::string(65, 'x'), "sl/ash"}) {
    ASSERT_TRUE(trainer.Send({{"type", "hello"}, {"trainer", name}}));
    json refused = trainer.AwaitError();
    EXPECT_EQ(At(refused, "code"), "invalid_argument") << "trainer name '" << name << "': " << refused.dump();
  }
  ASSERT_TRUE(trainer.Send({{"type", "hello"}, {"trainer", "sloppy"}, {"credits", -1}}));
  EXPECT_EQ(At(trainer.AwaitError(), "code"), "invalid_argument") << "negative credits";
  ASSERT_TRUE(trainer.Send({{"type", "hello"}, {"trainer", "sloppy"}, {"encoding", "xml"}}));
  EXPECT_EQ(At(trainer.AwaitError(), "code"), "invalid_argument") << "an unknown encoding";
  ASSERT_TRUE(trainer.welcome().is_null()) << "a refused hello opens nothing";

  const json welcome = trainer.Hello(/*credits=*/16, 0, {{"colour", "red"}});
  ASSERT_FALSE(welcome.is_null()) << "hello with an unknown field is still a hello";

  // Two delivered trajectories give the acks below something to refer to.
  ASSERT_TRUE(trainer.PlayGroup("quick", /*n=*/2, /*max_steps=*/1, /*seed=*/2));
  const uint64_t first = trainer.trajectories()[0]["seq"], second = trainer.trajectories()[1]["seq"];
  ASSERT_LT(first, second);

  // The survivor is mid-episode while the bad frames arrive.
  const Episode* started = trainer.StartOne("survivor", /*max_steps=*/4, /*seed=*/3, {{"shape", "round"}});
  ASSERT_NE(started, nullptr) << "a start with an unknown field is still a start";
  const std::string survivor = started->id;
  ASSERT_TRUE(trainer.Ack(first));
  ASSERT_TRUE(trainer.Ack(second));
  ASSERT_TRUE(trainer.Sync());
  const std::size_t refused = trainer.errors().size();
  ASSERT_EQ(refused, 7u) << "valid acks are not errors: " << json(trainer.errors()).dump();

  struct Case {
    std::string what, bytes;
    bool binary;
    std::string code;
    json about;  // the error's req or episode, when it is about one
  };
  const auto text = [](const json& j) { return j.dump(); };
  const std::vector<Case> cases = {
      {"not JSON", "this is not json", false, "invalid_argument", nullptr},
      {"a JSON array", "[1,2,3]", false, "invalid_argument", nullptr},
      {"no type", text({{"episode", survivor}, {"step", 2}}), false, "invalid_argument", nullptr},
      {"a type rockd does not know", text({{"type", "juggle"}}), false, "invalid_argument", nullptr},
      {"a start without env",
       text({{"type", "start"}, {"req", "no-env"}, {"n", 1}}),
       false,
       "invalid_argument",
       {{"req", "no-env"}}},
      {"a start with n 0",
       text({{"type", "start"}, {"req", "n-0"}, {"env", "alfworld"}, {"n", 0}}),
       false,
       "invalid_argument",
       {{"req", "n-0"}}},
      {"an act of an unknown episode",
       text({{"type", "act"}, {"episode", "ep-000000000000"}, {"step", 1}, {"action", "look"}}),
       false,
       "not_found",
       {{"episode", "ep-000000000000"}}},
      {"an act with the wrong step",
       text({{"type", "act"}, {"episode", survivor}, {"step", 5}, {"action", "look"}}),
       false,
       "failed_precondition",
       {{"episode", survivor}}},
      {"an act with a number for action", text({{"type", "act"}, {"episode", survivor}, {"step", 2}, {"action", 7}}),
       false, "invalid_argument", nullptr},
      {"an ack above the highest seq delivered", text({{"type", "ack"}, {"seq", second + 1000}}), false,
       "failed_precondition", nullptr},
      {"an ack below the last ack", text({{"type", "ack"}, {"seq", first}}), false, "failed_precondition", nullptr},
      {"an ack without seq", text({{"type", "ack"}}), false, "invalid_argument", nullptr},
      {"credit n 0", text({{"type", "credit"}, {"n", 0}}), false, "invalid_argument", nullptr},
      {"a report without metrics", text({{"type", "report"}}), false, "invalid_argument", nullptr},
      {"invalid MessagePack", std::string("\xc1\xff\x00", 3), true, "invalid_argument", nullptr},
      {"a MessagePack array", std::string("\x91\x01", 2), true, "invalid_argument", nullptr},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(trainer.SendRaw(c.bytes, c.binary)) << c.what << ": the connection was closed";
    json error = trainer.AwaitError();
    ASSERT_FALSE(error.is_null()) << c.what << ": no error frame";
    EXPECT_EQ(At(error, "code"), c.code) << c.what << ": " << error.dump();
    EXPECT_TRUE(At(error, "message").is_string() && !error["message"].get<std::string>().empty())
        << c.what << ": " << error.dump();
    if (c.about.is_object()) {
      for (const auto& [key, value] : c.about.items())
        EXPECT_EQ(At(error, key.c_str()), value) << c.what << ": " << error.dump();
    }
  }
  ASSERT_TRUE(trainer.Sync());
  EXPECT_EQ(trainer.errors().size(), cases.size() + refused)
      << "one error per bad frame: " << json(trainer.errors()).dump();
  EXPECT_EQ(trainer.episodes().size(), 3u) << "no bad start began an episode";

  // The survivor plays on to its end and arrives.
  ASSERT_TRUE(trainer.PlayToEnd());
  ASSERT_TRUE(trainer.AwaitTrajectories(3));
  ASSERT_TRUE(trainer.Sync());
  ASSERT_EQ(trainer.trajectories().size(), 3u);
  json& last = trainer.trajectories()[2];
  EXPECT_EQ(last["episode"], survivor);
  EXPECT_GT(last["seq"].get<uint64_t>(), second);
  EXPECT_EQ(TrajectoryDiff(last, trainer.episodes()[survivor]), "") << last.dump().substr(0, 2000);
  EXPECT_EQ(trainer.errors().size(), cases.size() + refused) << json(trainer.errors()).dump();
}

TEST_F(RockdTrainer, CreditsBoundTrajectoriesInFlight) {
  Trainer trainer(port(), "frugal");
  ASSERT_FALSE(trainer.Hello(/*credits=*/0).is_null()) << "no welcome: " << trainer.error();
  ASSERT_TRUE(trainer.Start("four", /*n=*/4, /*max_steps=*/3, /*seed=*/4));
  ASSERT_TRUE(trainer.AwaitEpisodes());
  ASSERT_TRUE(trainer.PlayToEnd()) << "obs flow without credits";
  // All four are committed, and none came: there was no credit.
  EXPECT_TRUE(Eventually([&] { return ListTrajectories(port(), "frugal").size() == 4; }))
      << ListTrajectories(port(), "frugal").dump().substr(0, 1000);
  ASSERT_TRUE(trainer.Sync());
  EXPECT_TRUE(trainer.trajectories().empty()) << trainer.trajectories()[0].dump().substr(0, 500);
  EXPECT_TRUE(Eventually([&] {
    return MetricIs(port(), R"(rockd_trainer_pending_trajectories{trainer="frugal"})", "4");
  })) << Http(port(), "GET", "/metrics").body;

  ASSERT_TRUE(trainer.Credit(2));
  ASSERT_TRUE(trainer.AwaitTrajectories(2));
  ASSERT_TRUE(trainer.Sync());
  EXPECT_EQ(trainer.trajectories().size(), 2u) << "two credits, two trajectories";

  ASSERT_TRUE(trainer.Credit(2));
  ASSERT_TRUE(trainer.AwaitTrajectories(4));
  ASSERT_TRUE(trainer.Sync());
  ASSERT_EQ(trainer.trajectories().size(), 4u);
  EXPECT_TRUE(StrictlyIncreasing(Seqs(trainer.trajectories()))) << json(Seqs(trainer.trajectories())).dump();
  std::set<std::string> episodes;
  for (json& t : trainer.trajectories()) {
    const std::string id = Str(At(t, "episode"));
    EXPECT_TRUE(episodes.insert(id).second) << "twice: " << id;
    EXPECT_EQ(TrajectoryDiff(t, trainer.episodes()[id]), "") << t.dump().substr(0, 2000);
  }
  EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
  EXPECT_TRUE(MetricIs(port(), R"(rockd_trainer_credit_stalls_total{trainer="frugal"})", "4"))
      << Http(port(), "GET", "/metrics").body;
  EXPECT_TRUE(MetricIs(port(), R"(rockd_trainer_trajectories_sent_total{trainer="frugal"})", "4"))
      << Http(port(), "GET", "/metrics").body;
}

TEST_F(RockdTrainer, UnackedTrajectoriesAreRedeliveredOnceInOrderAfterAReconnect) {
  std::vector<json> delivered;
  {
    Trainer trainer(port(), "flaky");
    ASSERT_FALSE(trainer.Hello(/*credits=*/16).is_null()) << "no welcome: " << trainer.error();
    ASSERT_TRUE(trainer.PlayGroup("four", /*n=*/4, /*max_steps=*/2, /*seed=*/5));
    delivered = trainer.trajectories();
    ASSERT_TRUE(trainer.Ack(delivered[0]["seq"]));
    ASSERT_TRUE(trainer.Sync());
    EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
  }  // disconnected
  const std::vector<uint64_t> seqs = Seqs(delivered);
  ASSERT_TRUE(StrictlyIncreasing(seqs)) << json(seqs).dump();

  const auto reconnect = [&](uint64_t after_seq, int redelivered_before) {
    Trainer trainer(port(), "flaky");
    ASSERT_TRUE(trainer.connected()) << trainer.error();
    json welcome = trainer.Hello(/*credits=*/16, after_seq);
    EXPECT_EQ(welcome["head_seq"], seqs[3]) << welcome.dump();
    EXPECT_EQ(welcome["acked_seq"], seqs[0]) << welcome.dump();
    EXPECT_EQ(welcome["pending"], 3) << welcome.dump();
    ASSERT_TRUE(trainer.AwaitTrajectories(3)) << trainer.trajectories().size() << " of 3 redelivered";
    ASSERT_TRUE(trainer.Sync());
    ASSERT_EQ(trainer.trajectories().size(), 3u) << "each unacked one once";
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(trainer.trajectories()[i]["seq"], seqs[i + 1]) << "in seq order, the acked one never";
      EXPECT_EQ(trainer.trajectories()[i]["steps"], delivered[i + 1]["steps"]) << "the same record";
    }
    EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
    EXPECT_TRUE(Eventually([&] {
      return MetricIs(port(), R"(rockd_trainer_redeliveries_total{trainer="flaky"})",
                      std::to_string(redelivered_before + 3));
    })) << Http(port(), "GET", "/metrics").body;
  };
  reconnect(/*after_seq=*/seqs[0], 0);
  // Again without acking, now resuming from 0: the acknowledged first one stays acknowledged.
  reconnect(/*after_seq=*/0, 3);
}

TEST_F(RockdTrainer, ASecondHelloWithTheSameNameTakesTheStreamOverWithItsEpisodes) {
  Trainer older(port(), "handover");
  ASSERT_FALSE(older.Hello(/*credits=*/4).is_null()) << "no welcome: " << older.error();
  Episode* started = older.StartOne("one", /*max_steps=*/3, /*seed=*/6);
  ASSERT_NE(started, nullptr);
  const Episode& episode = *started;

  Trainer newer(port(), "handover");
  ASSERT_FALSE(newer.Hello(/*credits=*/4).is_null()) << "no welcome: " << newer.error();
  EXPECT_TRUE(older.WaitClosed(seconds(10))) << "the older connection is closed";
  newer.Adopt(episode);
  ASSERT_TRUE(newer.PlayToEnd()) << "the episode belongs to the name, not to the connection";
  EXPECT_EQ(newer.repeated_obs(), 1) << "after hello, the last obs of the waiting episode comes again";
  ASSERT_TRUE(newer.AwaitTrajectories(1));
  EXPECT_EQ(TrajectoryDiff(newer.trajectories()[0], newer.episodes()[episode.id]), "")
      << newer.trajectories()[0].dump().substr(0, 2000);
  EXPECT_TRUE(newer.errors().empty()) << json(newer.errors()).dump();
}

// welcome.last_req is the highest start req rockd read in the session hello names, so that a
// client knows which starts to send again; another session (a restarted client) starts from 0.
// boot_id names the rockd process and stays put across connections.
TEST_F(RockdTrainer, WelcomeSaysTheLastStartReqOfTheSessionAndTheProcess) {
  const json first_session = {{"session", "s-1"}};
  json first_welcome;
  {
    Trainer trainer(port(), "numbered");
    first_welcome = trainer.Hello(/*credits=*/4, /*after_seq=*/0, first_session);
    ASSERT_FALSE(first_welcome.is_null()) << "no welcome: " << trainer.error();
    EXPECT_EQ(first_welcome["last_req"], 0) << first_welcome.dump();
    ASSERT_TRUE(first_welcome["boot_id"].is_string()) << first_welcome.dump();
    ASSERT_TRUE(trainer.Start(7, /*n=*/1, /*max_steps=*/2, /*seed=*/70));
    ASSERT_TRUE(trainer.Start("not-a-number", /*n=*/1, /*max_steps=*/2, /*seed=*/71));
    ASSERT_TRUE(trainer.Start(5, /*n=*/1, /*max_steps=*/2, /*seed=*/72));
    ASSERT_TRUE(trainer.Sync());
  }
  Trainer again(port(), "numbered");
  const json welcome = again.Hello(/*credits=*/4, /*after_seq=*/0, first_session);
  ASSERT_FALSE(welcome.is_null()) << "no welcome: " << again.error();
  EXPECT_EQ(welcome["last_req"], 7) << "the highest numeric req, not the last: " << welcome.dump();
  EXPECT_EQ(welcome["boot_id"], first_welcome["boot_id"]);
  Trainer restarted(port(), "numbered");
  const json fresh = restarted.Hello(/*credits=*/4, /*after_seq=*/0, {{"session", "s-2"}});
  ASSERT_FALSE(fresh.is_null()) << "no welcome: " << restarted.error();
  EXPECT_EQ(fresh["last_req"], 0) << fresh.dump();
  Trainer sessionless(port(), "numbered");
  EXPECT_EQ(sessionless.Hello(/*credits=*/4)["last_req"], 0);
  Trainer bad(port(), "numbered");
  ASSERT_TRUE(bad.Send({{"type", "hello"}, {"trainer", "numbered"}, {"session", 12}}));
  const json refused = bad.AwaitError();
  EXPECT_EQ(refused["code"], "invalid_argument") << refused.dump();
  EXPECT_NE(refused.value("message", "").find("session"), std::string::npos) << refused.dump();
}

// An error answering a start while its trainer has no connection comes after the session's next
// welcome: the client will not send that start again, as it is at or below welcome.last_req.
// Here the start waits for the only sleepy slot, which another episode holds, until the queue
// timeout fails it; the trainer has gone away meanwhile.
TEST(RockdTrainerStarts, AStartErrorWhileTheTrainerIsAwayComesAfterItsNextWelcome) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  auto rockd = RockdProcess::Start({.config_json = R"({"episodes":{"queue_timeout_ms":1000},)"
                                                   R"("pools":{"alfworld":{"min":0},"sleepy":{"min":1,"max":1,"slots":1}}})"});
  ASSERT_NE(rockd, nullptr);
  const uint16_t port = rockd->port();
  ASSERT_TRUE(Eventually([&] { return Http(port, "GET", "/readyz").status == 200; }, kReadyTimeout));
  const json session = {{"session", "away-1"}};
  const json sleepy = {{"env", "sleepy"}, {"task", {{"steps", 5}}}};
  {
    Trainer trainer(port, "away");
    ASSERT_FALSE(trainer.Hello(/*credits=*/4, /*after_seq=*/0, session).is_null()) << trainer.error();
    ASSERT_TRUE(trainer.Start(1, /*n=*/1, /*max_steps=*/5, /*seed=*/1, sleepy));
    ASSERT_TRUE(trainer.AwaitEpisodes()) << "the first episode holds the only slot";
    ASSERT_TRUE(trainer.Start(2, /*n=*/1, /*max_steps=*/5, /*seed=*/2, sleepy));
    ASSERT_TRUE(trainer.Sync()) << "rockd has read start 2";
  }
  ASSERT_TRUE(Eventually([&] {
    const HttpReply failed = Http(port, "GET", "/api/v1/episodes?state=failed");
    return failed.status == 200 && !failed.json()["episodes"].empty();
  })) << "start 2 timed out in the queue while the trainer was away";
  Trainer back(port, "away");
  const json welcome = back.Hello(/*credits=*/4, /*after_seq=*/0, session);
  ASSERT_FALSE(welcome.is_null()) << back.error();
  EXPECT_EQ(welcome["last_req"], 2) << welcome.dump();
  const json error = back.AwaitError();
  EXPECT_EQ(error["req"], 2) << error.dump();
  EXPECT_EQ(error["code"], "unavailable") << error.dump();
  EXPECT_NE(error.value("message", "").find("no slot"), std::string::npos) << error.dump();
}

// A resume.after_seq beyond anything stored (a trainer's state file from another data dir, say)
// acknowledges what exists and hides nothing that comes later.
TEST_F(RockdTrainer, AResumePastTheNewestTrajectoryHidesNoLaterOne) {
  Trainer trainer(port(), "eager");
  const json welcome = trainer.Hello(/*credits=*/4, /*after_seq=*/1'000'000'000'000);
  ASSERT_FALSE(welcome.is_null()) << "no welcome: " << trainer.error();
  EXPECT_EQ(welcome["acked_seq"], 0) << welcome.dump();
  ASSERT_TRUE(trainer.PlayGroup("later", /*n=*/2, /*max_steps=*/2, /*seed=*/60)) << "the trajectories never came";
  EXPECT_EQ(trainer.trajectories().size(), 2u);
  EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
}

TEST_F(RockdTrainer, MessagePackAndJsonSessionsRunSideBySide) {
  Trainer packed(port(), "packed", /*msgpack=*/true, /*seed=*/11);
  Trainer plain(port(), "plain", /*msgpack=*/false, /*seed=*/12);
  ASSERT_TRUE(packed.connected()) << packed.error();
  ASSERT_TRUE(plain.connected()) << plain.error();
  const auto play = [](Trainer* trainer) {
    json welcome = trainer->Hello(/*credits=*/8);
    EXPECT_EQ(At(welcome, "trainer"), trainer->name()) << welcome.dump();
    for (int g = 0; g < 2; ++g) {
      EXPECT_TRUE(trainer->Start(g, /*n=*/3, /*max_steps=*/4, /*seed=*/20 + g,
                                 {{"group", trainer->name() + "-" + std::to_string(g)}}));
    }
    EXPECT_TRUE(trainer->AwaitEpisodes()) << trainer->name();
    EXPECT_TRUE(trainer->PlayToEnd()) << trainer->name();
    EXPECT_TRUE(trainer->AwaitTrajectories(6)) << trainer->name();
    EXPECT_TRUE(trainer->Sync()) << trainer->name();
  };
  std::thread packed_thread(play, &packed), plain_thread(play, &plain);
  packed_thread.join();
  plain_thread.join();

  for (Trainer* trainer : {&packed, &plain}) {
    ASSERT_EQ(trainer->trajectories().size(), 6u) << trainer->name();
    std::set<std::string> episodes;
    for (json& t : trainer->trajectories()) {
      const std::string id = Str(At(t, "episode"));
      EXPECT_TRUE(episodes.insert(id).second) << trainer->name() << " twice: " << id;
      Episode& e = trainer->episodes()[id];
      EXPECT_EQ(TrajectoryDiff(t, e), "") << trainer->name() << ": " << t.dump().substr(0, 2000);
      EXPECT_EQ(t["trainer"], trainer->name());
      EXPECT_EQ(t["group"], trainer->name() + "-" + e.obs[0]["req"].dump()) << "the group label";
    }
    EXPECT_TRUE(trainer->errors().empty()) << json(trainer->errors()).dump();
  }
  EXPECT_EQ(packed.text_frames(), 0) << "rockd writes the encoding hello asked for";
  EXPECT_GT(packed.binary_frames(), 0);
  EXPECT_EQ(plain.binary_frames(), 0);
  EXPECT_GT(plain.text_frames(), 0);

  // rockd reads either kind at any time: a JSON ping on the MessagePack session is answered
  // in MessagePack.
  const int binary_before = packed.binary_frames();
  ASSERT_TRUE(packed.SendRaw(R"({"type":"ping","id":"as-text","n":7})", /*binary=*/false));
  json pong = packed.AwaitPong("as-text");
  EXPECT_EQ(pong["n"], 7) << "a pong carries the ping's fields: " << pong.dump();
  ASSERT_TRUE(packed.Sync());
  EXPECT_GE(packed.binary_frames(), binary_before + 2) << "two pongs";
  EXPECT_EQ(packed.text_frames(), 0);
  EXPECT_TRUE(packed.errors().empty()) << json(packed.errors()).dump();
}

TEST_F(RockdTrainer, ReportsArePublishedOnTheEventStream) {
  WsClient events(port(), "/ws/events");
  ASSERT_TRUE(events.connected()) << events.error();
  Trainer trainer(port(), "reporter");
  ASSERT_FALSE(trainer.Hello(/*credits=*/0).is_null()) << "no welcome: " << trainer.error();
  const json metrics = {{"step", 42}, {"loss", 0.5}, {"mean_return", 0.25}, {"lr", 0.0003}};
  ASSERT_TRUE(trainer.Send({{"type", "report"}, {"metrics", metrics}}));
  ASSERT_TRUE(trainer.Sync());
  EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();

  json report;
  for (int i = 0; i < 1000 && report.is_null(); ++i) {
    const auto message = events.Read(seconds(10));
    if (!message) break;
    json event = json::parse(*message, nullptr, /*allow_exceptions=*/false);
    if (event["type"] == "trainer_report" && At(event["data"], "trainer") == "reporter") report = event;
  }
  ASSERT_FALSE(report.is_null()) << "no trainer_report event";
  EXPECT_EQ(report["data"]["metrics"], metrics) << report.dump();
  EXPECT_TRUE(report["seq"].is_number_integer()) << report.dump();
  // The last report is stored with the trainer.
  const std::string db = rockd_->data_dir() + "/rockd.db";
  EXPECT_TRUE(Eventually([&] {
    const std::string stored = SqliteQuery(db, "SELECT last_report_json FROM trainers WHERE name = 'reporter'");
    return json::parse(stored, nullptr, false) == metrics;
  })) << SqliteQuery(db, "SELECT * FROM trainers");
}

TEST_F(RockdTrainer, ReportsAreKeptAndListedNewestLast) {
  Trainer historian(port(), "historian");
  Trainer other(port(), "other");
  ASSERT_FALSE(historian.Hello(/*credits=*/0).is_null()) << "no welcome: " << historian.error();
  ASSERT_FALSE(other.Hello(/*credits=*/0).is_null()) << "no welcome: " << other.error();
  for (int step = 1; step <= 3; ++step) {
    ASSERT_TRUE(historian.Send({{"type", "report"}, {"metrics", {{"step", step}, {"loss", 1.0 / step}}}}));
  }
  ASSERT_TRUE(other.Send({{"type", "report"}, {"metrics", {{"step", 99}}}}));
  ASSERT_TRUE(historian.Sync());
  ASSERT_TRUE(other.Sync());

  const auto list = [&](const std::string& query) { return Http(port(), "GET", "/api/v1/trainer-reports" + query); };
  json all;
  ASSERT_TRUE(Eventually([&] {
    all = list("").json();
    return all["reports"].size() == 4;
  })) << all.dump();
  const json mine = list("?trainer=historian").json();
  ASSERT_EQ(mine["reports"].size(), 3u) << mine.dump();
  for (int i = 0; i < 3; ++i) {
    const json& r = mine["reports"][i];
    EXPECT_EQ(r["trainer"], "historian");
    EXPECT_EQ(r["metrics"]["step"], i + 1) << "oldest first: " << mine.dump();
    EXPECT_EQ(r["policy_version"], 0) << "no act gave a version yet";
    EXPECT_TRUE(r["ts_ms"].is_number_integer());
  }
  EXPECT_EQ(mine["last_id"], mine["reports"][2]["id"]);

  // limit keeps the newest; after_id only those after it.
  const json newest = list("?trainer=historian&limit=2").json();
  ASSERT_EQ(newest["reports"].size(), 2u) << newest.dump();
  EXPECT_EQ(newest["reports"][0]["metrics"]["step"], 2);
  EXPECT_EQ(newest["reports"][1]["metrics"]["step"], 3);
  const uint64_t first_id = mine["reports"][0]["id"].get<uint64_t>();
  const json after = list("?trainer=historian&after_id=" + std::to_string(first_id)).json();
  EXPECT_EQ(after["reports"].size(), 2u) << after.dump();
  const json past = list("?after_id=" + std::to_string(all["last_id"].get<uint64_t>())).json();
  EXPECT_TRUE(past["reports"].empty()) << past.dump();
  EXPECT_EQ(past["last_id"], all["last_id"]) << "nothing new: last_id stays where it was asked from";
  EXPECT_TRUE(list("?trainer=nobody").json()["reports"].empty());

  for (const char* bad : {"?limit=0", "?limit=10001", "?limit=ten", "?limit=-1", "?after_id=-1", "?after_id=1x",
                          "?after_id=9223372036854775808"}) {
    const HttpReply reply = list(bad);
    EXPECT_EQ(reply.status, 400) << bad;
    EXPECT_EQ(reply.json()["error"]["code"], "invalid_argument") << bad << ": " << reply.body;
  }
}

TEST_F(RockdTrainer, EndedEpisodesArriveWithTheirStatusAndRefuseMoreActs) {
  Trainer trainer(port(), "pruner");
  ASSERT_FALSE(trainer.Hello(/*credits=*/8).is_null()) << "no welcome: " << trainer.error();

  // A cancel mid-way: the trajectory has the steps so far, and the episode takes no more acts.
  Episode* started = trainer.StartOne("cancel-me", /*max_steps=*/6, /*seed=*/30);
  ASSERT_NE(started, nullptr);
  const Episode& cancelled = *started;
  ASSERT_TRUE(trainer.Send({{"type", "cancel"}, {"episode", cancelled.id}}));
  ASSERT_TRUE(trainer.AwaitTrajectories(1));
  json& first = trainer.trajectories()[0];
  EXPECT_EQ(first["status"], "cancelled") << first.dump().substr(0, 1000);
  EXPECT_EQ(TrajectoryDiff(first, cancelled), "") << first.dump().substr(0, 2000);
  ASSERT_TRUE(trainer.Send({{"type", "act"}, {"episode", cancelled.id}, {"step", 2}, {"action", "look"}}));
  json refused = trainer.AwaitError();
  EXPECT_EQ(At(refused, "code"), "aborted") << "an act on a cancelled episode: " << refused.dump();
  EXPECT_EQ(At(refused, "episode"), cancelled.id) << refused.dump();
  const std::string cancelled_id = cancelled.id;

  // n 2 with redundancy 1: three start, and the one left behind ends as redundant once two
  // have finished.
  ASSERT_TRUE(trainer.Start("redundant", /*n=*/2, /*max_steps=*/2, /*seed=*/31, {{"redundancy", 1}}));
  ASSERT_TRUE(trainer.AwaitEpisodes());
  ASSERT_EQ(trainer.episodes().size(), 4u) << "n + redundancy episodes";
  std::string laggard;
  for (auto& [id, e] : trainer.episodes()) {
    if (id != cancelled_id && laggard.empty()) {
      laggard = id;
      e.hold = true;
    }
  }
  ASSERT_TRUE(trainer.PlayToEnd());
  ASSERT_TRUE(trainer.AwaitTrajectories(4));
  ASSERT_TRUE(trainer.Sync());
  ASSERT_EQ(trainer.trajectories().size(), 4u) << "one trajectory per episode, the redundant one too";
  std::string finished;
  for (json& t : trainer.trajectories()) {
    const std::string id = Str(At(t, "episode"));
    if (id == cancelled_id) continue;
    EXPECT_EQ(TrajectoryDiff(t, trainer.episodes()[id]), "") << t.dump().substr(0, 2000);
    if (id == laggard) {
      EXPECT_EQ(t["status"], "redundant") << t.dump().substr(0, 1000);
      EXPECT_TRUE(t["steps"].empty());
    } else {
      finished = id;
    }
  }
  // Cancelled as redundant is aborted, as on the HTTP API; finished is failed_precondition.
  for (const auto& [id, code] : {std::pair{laggard, "aborted"}, std::pair{finished, "failed_precondition"}}) {
    ASSERT_TRUE(trainer.Send({{"type", "act"}, {"episode", id}, {"step", 3}, {"action", "look"}}));
    refused = trainer.AwaitError();
    EXPECT_EQ(At(refused, "code"), code) << "an act on an ended episode: " << refused.dump();
    EXPECT_EQ(At(refused, "episode"), id) << refused.dump();
  }
  EXPECT_EQ(trainer.errors().size(), 3u) << json(trainer.errors()).dump();
}

// With stream.max_staleness K, an episode whose first action came from policy version v ends as
// expired once the trainer's newest policy version passes v + K.
TEST(RockdTrainerStaleness, EpisodesOlderThanTheStalenessBoundExpire) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  json config = json::parse(kConfig);
  config["stream"]["max_staleness"] = 2;
  auto rockd = StartReady({.config_json = config.dump()}, kReadyTimeout);
  ASSERT_NE(rockd, nullptr);
  Trainer trainer(rockd->port(), "async");
  ASSERT_TRUE(trainer.connected()) << trainer.error();
  trainer.policy_version = 1;
  ASSERT_FALSE(trainer.Hello(/*credits=*/8).is_null());
  Episode* started = trainer.StartOne("old", /*max_steps=*/8, /*seed=*/40);
  ASSERT_NE(started, nullptr);
  Episode& old = *started;
  old.hold = true;

  // Version 3 is within the bound (1 + 2): nothing expires.
  trainer.policy_version = 3;
  ASSERT_TRUE(trainer.PlayGroup("within", /*n=*/1, /*max_steps=*/2, /*seed=*/41));
  ASSERT_TRUE(trainer.Sync());
  ASSERT_EQ(trainer.trajectories().size(), 1u) << "only 'within' ended";
  EXPECT_NE(trainer.trajectories()[0]["episode"], old.id);

  // Version 4 passes it: the old episode expires.
  trainer.policy_version = 4;
  ASSERT_TRUE(trainer.Start("newer", /*n=*/1, /*max_steps=*/2, /*seed=*/42));
  ASSERT_TRUE(trainer.AwaitEpisodes());
  ASSERT_TRUE(trainer.PumpUntil([&] { return old.delivered; })) << "the old episode never expired";
  for (json& t : trainer.trajectories()) {
    if (t["episode"] != old.id) continue;
    EXPECT_EQ(t["status"], "expired") << t.dump().substr(0, 1000);
    EXPECT_EQ(TrajectoryDiff(t, old), "") << t.dump().substr(0, 2000);
    EXPECT_EQ(t["policy_version_min"], 1);
  }
  ASSERT_TRUE(trainer.Send({{"type", "act"}, {"episode", old.id}, {"step", 2}, {"action", "look"}}));
  EXPECT_EQ(At(trainer.AwaitError(), "code"), "aborted") << "an act on an expired episode";
  ASSERT_TRUE(trainer.PlayToEnd()) << "the newer episode plays on";
  ASSERT_TRUE(trainer.AwaitTrajectories(3));
  EXPECT_EQ(trainer.errors().size(), 1u) << json(trainer.errors()).dump();
  PrintLogOnFailure(rockd.get());
}

TEST(RockdTrainerLimits, TrainerNamesBeyondMaxTrainersAreRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  json config = json::parse(kConfig);
  config["stream"]["max_trainers"] = 2;
  auto rockd = StartReady({.config_json = config.dump()}, kReadyTimeout);
  ASSERT_NE(rockd, nullptr);
  Trainer a(rockd->port(), "a"), b(rockd->port(), "b"), c(rockd->port(), "c");
  ASSERT_FALSE(a.Hello(/*credits=*/1).is_null());
  ASSERT_FALSE(b.Hello(/*credits=*/1).is_null());
  ASSERT_TRUE(c.Send({{"type", "hello"}, {"trainer", "c"}}));
  json refused = c.AwaitError();
  EXPECT_EQ(At(refused, "code"), "resource_exhausted") << refused.dump();
  EXPECT_TRUE(c.welcome().is_null());
  // The known names carry on.
  EXPECT_TRUE(a.PlayGroup("still", /*n=*/1, /*max_steps=*/1, /*seed=*/50));
  PrintLogOnFailure(rockd.get());
}

TEST(RockdTrainerAuth, WithATokenTheStreamNeedsItInAHeaderOrTheQuery) {
  auto rockd = RockdProcess::Start({.config_json = R"({"auth":{"token":"s3cret"},"pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  Trainer anonymous(rockd->port(), "anon");
  EXPECT_FALSE(anonymous.connected());
  EXPECT_NE(anonymous.error().find("401"), std::string::npos) << anonymous.error();
  Trainer wrong(rockd->port(), "wrong", false, 1, "/ws/trainer?access_token=guess");
  EXPECT_FALSE(wrong.connected());
  Trainer header(rockd->port(), "header", false, 1, "/ws/trainer", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(header.connected()) << header.error();
  EXPECT_FALSE(header.Hello(/*credits=*/1).is_null());
  Trainer query(rockd->port(), "query", false, 1, "/ws/trainer?access_token=s3cret");
  ASSERT_TRUE(query.connected()) << query.error();
  EXPECT_FALSE(query.Hello(/*credits=*/1).is_null());
}

// The issue's acceptance run for the stream: 1,000 ALFWorld episodes through /ws/trainer on four
// trainer connections while pool sandboxes are killed (SIGKILL) and stopped (SIGSTOP) at random.
// Every episode must arrive as exactly one trajectory recording what its trainer sent and saw.
TEST_F(RockdTrainer, ThousandEpisodesArriveExactlyOnceWhileSandboxesAreKilledAndStopped) {
  constexpr int kEpisodes = 1000, kTrainers = 4, kInFlight = 12;
  std::atomic<int> completed{0};
  std::atomic<bool> done{false};
  std::vector<std::unique_ptr<Trainer>> trainers;
  for (int t = 0; t < kTrainers; ++t) {
    trainers.push_back(
        std::make_unique<Trainer>(port(), "chaos-" + std::to_string(t), /*msgpack=*/t % 2 == 1, 100 + t));
    ASSERT_TRUE(trainers.back()->connected()) << trainers.back()->error();
  }
  // Trainer t plays episodes t, t + 4, ...: episode i has seed 1000 + i and max_steps 3 + i % 10.
  // Each trajectory is acked and its credit given back, so 8 are in flight at most.
  const auto drive = [&](int t) {
    Trainer& trainer = *trainers[t];
    if (trainer.Hello(/*credits=*/8).is_null()) {
      ADD_FAILURE() << trainer.name() << ": no welcome";
      return;
    }
    const std::size_t quota = kEpisodes / kTrainers;
    std::size_t requested = 0, processed = 0;
    while (processed < quota) {
      while (requested < quota && requested - processed < kInFlight) {
        const int i = static_cast<int>(requested++) * kTrainers + t;
        if (!trainer.Start(i, /*n=*/1, /*max_steps=*/3 + i % 10, /*seed=*/1000 + i)) break;
      }
      if (!trainer.ActAll() || !trainer.Pump(kFrameTimeout)) {
        ADD_FAILURE() << trainer.name() << ": the stream went quiet or closed after " << processed << " trajectories";
        return;
      }
      for (; processed < trainer.trajectories().size(); ++processed) {
        trainer.Ack(trainer.trajectories()[processed]["seq"]);
        trainer.Credit(1);
        ++completed;
      }
    }
    trainer.Sync();
  };
  // One signal per 40 trajectories, SIGKILL and SIGSTOP in turn, to a random ready pool sandbox:
  // paced by progress, not by the clock, so a slow or fast machine sees the same chaos.
  std::map<int, int> signals_sent;
  std::thread chaos([&] {
    std::mt19937_64 random(42);
    for (int round = 1; !done; std::this_thread::sleep_for(milliseconds(5))) {
      if (completed < round * 40) continue;
      const std::vector<pid_t> live = ReadyPoolPids(port());
      if (live.empty()) continue;
      const int signal = round % 2 == 0 ? SIGKILL : SIGSTOP;
      if (kill(live[random() % live.size()], signal) == 0) ++signals_sent[signal];
      ++round;
    }
  });
  std::vector<std::thread> drivers;
  for (int t = 0; t < kTrainers; ++t) drivers.emplace_back(drive, t);
  for (auto& driver : drivers) driver.join();
  done = true;
  chaos.join();

  EXPECT_GE(signals_sent[SIGKILL], 10);
  EXPECT_GE(signals_sent[SIGSTOP], 10);
  std::set<uint64_t> seqs;
  std::set<int> reqs;
  std::map<std::string, int> statuses;
  int diverged = 0;
  uint64_t failovers = 0;
  for (const auto& trainer : trainers) {
    EXPECT_TRUE(trainer->errors().empty()) << trainer->name() << ": " << json(trainer->errors()).dump();
    EXPECT_TRUE(StrictlyIncreasing(Seqs(trainer->trajectories()))) << trainer->name();
    EXPECT_EQ(trainer->episodes().size(), static_cast<std::size_t>(kEpisodes / kTrainers)) << trainer->name();
    std::set<std::string> episodes;
    for (json& t : trainer->trajectories()) {
      EXPECT_TRUE(seqs.insert(At(t, "seq").is_number_integer() ? t["seq"].get<uint64_t>() : 0).second)
          << "seq twice: " << t["seq"];
      const std::string id = Str(At(t, "episode"));
      EXPECT_TRUE(episodes.insert(id).second) << trainer->name() << ": episode twice: " << id;
      const auto it = trainer->episodes().find(id);
      if (it == trainer->episodes().end()) {
        ADD_FAILURE() << trainer->name() << ": a trajectory of no episode it started: " << id;
        continue;
      }
      reqs.insert(it->second.obs[0]["req"].get<int>());
      ++statuses[Str(At(t, "status"))];
      failovers += At(t, "failovers").is_number_integer() ? t["failovers"].get<uint64_t>() : 0;
      const std::string diff = TrajectoryDiff(t, it->second);
      if (!diff.empty() && ++diverged <= 5) ADD_FAILURE() << trainer->name() << " episode " << id << ": " << diff;
    }
  }
  EXPECT_EQ(diverged, 0);
  EXPECT_EQ(reqs.size(), static_cast<std::size_t>(kEpisodes)) << "every episode, once";
  EXPECT_EQ(seqs.size(), static_cast<std::size_t>(kEpisodes));
  EXPECT_EQ(statuses["terminated"] + statuses["truncated"], kEpisodes) << json(statuses).dump();
  EXPECT_GT(failovers, 0u) << "the chaos never hit a running episode";
  std::printf("%d episodes, %d SIGKILL and %d SIGSTOP sent, %llu failovers, %s\n", kEpisodes, signals_sent[SIGKILL],
              signals_sent[SIGSTOP], static_cast<unsigned long long>(failovers), json(statuses).dump().c_str());
}

// Trajectories of a trainer that grants no credits wait in SQLite, not in rockd's memory. Each
// step carries 4,096 log-probabilities, so 300 episodes held in memory would be some 25 MiB.
TEST(RockdTrainerMemory, ATrainerGrantingNoCreditsDoesNotGrowRockdsMemory) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  json config = json::parse(kConfig);
  config["episodes"]["keep_finished"] = 8;  // the balancer's memory of ended episodes stays small
  // In the sanitizer build AddressSanitizer holds freed memory in a quarantine (256 MiB by
  // default), which would make RSS measure churn, not what rockd keeps; no effect elsewhere.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_options = std::string(asan != nullptr ? asan : "") + ":quarantine_size_mb=0";
  auto rockd = StartReady({.config_json = config.dump(), .env = {{"ASAN_OPTIONS", asan_options}}}, kReadyTimeout);
  ASSERT_NE(rockd, nullptr);
  const std::string db = rockd->data_dir() + "/rockd.db";
  const auto committed = [&] {
    const std::string count = SqliteQuery(db, "SELECT count(*) FROM trajectories WHERE trainer = 'hoarder'");
    return count.empty() ? -1 : std::stoi(count);
  };
  Trainer trainer(rockd->port(), "hoarder");
  ASSERT_TRUE(trainer.connected()) << trainer.error();
  trainer.logprob_count = 4096;
  ASSERT_FALSE(trainer.Hello(/*credits=*/0).is_null());
  constexpr int kGroup = 30;
  int groups = 0;
  const auto play = [&](int count) {
    for (int g = 0; g < count; ++g, ++groups) {
      ASSERT_TRUE(trainer.Start(groups, kGroup, /*max_steps=*/2, /*seed=*/groups));
      ASSERT_TRUE(trainer.AwaitEpisodes());
      ASSERT_TRUE(trainer.PlayToEnd());
    }
    ASSERT_TRUE(Eventually([&] { return committed() == groups * kGroup; }, seconds(30))) << committed();
  };
  // Warm-up: the pool, SQLite's cache and the allocator reach their working size.
  ASSERT_NO_FATAL_FAILURE(play(2));
  const long before = VmRssKiB(rockd->pid());
  ASSERT_NO_FATAL_FAILURE(play(10));
  const long after = VmRssKiB(rockd->pid());
  ASSERT_GT(before, 0);
  std::printf("rockd's VmRSS: %ld KiB before, %ld KiB after %d uncredited trajectories\n", before, after, 10 * kGroup);
  EXPECT_LT(after - before, 16 * 1024) << "rockd grew from " << before << " KiB to " << after << " KiB holding "
                                       << 10 * kGroup << " trajectories no credit let out";
  ASSERT_TRUE(trainer.Sync());
  EXPECT_TRUE(trainer.trajectories().empty());
  EXPECT_EQ(ListTrajectories(rockd->port(), "hoarder").size(), static_cast<std::size_t>(groups * kGroup));

  const std::size_t total = static_cast<std::size_t>(groups * kGroup);
  ASSERT_TRUE(trainer.Credit(total));
  ASSERT_TRUE(trainer.AwaitTrajectories(total, seconds(60))) << trainer.trajectories().size() << " of " << total;
  ASSERT_TRUE(trainer.Sync());
  EXPECT_EQ(trainer.trajectories().size(), total);
  EXPECT_TRUE(StrictlyIncreasing(Seqs(trainer.trajectories())));
  int diverged = 0;
  for (json& t : trainer.trajectories()) {
    const std::string diff = TrajectoryDiff(t, trainer.episodes()[Str(At(t, "episode"))]);
    if (!diff.empty() && ++diverged <= 3) ADD_FAILURE() << t["episode"] << ": " << diff;
  }
  EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
}

// kill -9 of rockd: the next rockd on the same data dir delivers exactly the trajectories the
// trainer had not acknowledged, in order; an episode live at the kill produces none.
TEST(RockdTrainerRecovery, KilledRockdRestartedOnTheSameDataDirLosesAndDuplicatesNothing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::vector<json> delivered;
  std::string live_episode;
  {
    auto rockd = StartReady({.config_json = kConfig, .data_dir = data}, kReadyTimeout);
    ASSERT_NE(rockd, nullptr);
    Trainer trainer(rockd->port(), "survivor");
    ASSERT_FALSE(trainer.Hello(/*credits=*/16).is_null()) << "no welcome: " << trainer.error();
    ASSERT_TRUE(trainer.PlayGroup("five", /*n=*/5, /*max_steps=*/2, /*seed=*/9));
    delivered = trainer.trajectories();
    ASSERT_TRUE(trainer.Ack(delivered[1]["seq"]));
    // One more episode is mid-way when rockd dies.
    const Episode* live = trainer.StartOne("live", /*max_steps=*/5, /*seed=*/10);
    ASSERT_NE(live, nullptr);
    live_episode = live->id;
    ASSERT_TRUE(trainer.Sync());
    EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
    ASSERT_EQ(rockd->Stop(SIGKILL), 128 + SIGKILL);
  }
  const std::vector<uint64_t> seqs = Seqs(delivered);
  ASSERT_TRUE(StrictlyIncreasing(seqs)) << json(seqs).dump();

  auto rockd = StartReady({.config_json = kConfig, .data_dir = data}, kReadyTimeout);
  ASSERT_NE(rockd, nullptr);
  Trainer trainer(rockd->port(), "survivor");
  ASSERT_TRUE(trainer.connected()) << trainer.error();
  json welcome = trainer.Hello(/*credits=*/16, /*after_seq=*/seqs[1]);
  EXPECT_EQ(welcome["head_seq"], seqs[4]) << welcome.dump();
  EXPECT_EQ(welcome["acked_seq"], seqs[1]) << welcome.dump();
  EXPECT_EQ(welcome["pending"], 3) << welcome.dump();
  ASSERT_TRUE(trainer.AwaitTrajectories(3)) << trainer.trajectories().size() << " of 3\n" << rockd->Log();
  ASSERT_TRUE(trainer.Sync());
  ASSERT_EQ(trainer.trajectories().size(), 3u) << "exactly the unacked ones";
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(trainer.trajectories()[i]["seq"], seqs[i + 2]);
    EXPECT_EQ(trainer.trajectories()[i]["episode"], delivered[i + 2]["episode"]);
    EXPECT_EQ(trainer.trajectories()[i]["steps"], delivered[i + 2]["steps"]);
  }
  EXPECT_TRUE(trainer.errors().empty()) << json(trainer.errors()).dump();
  // The live episode was failed on restart and has no trajectory.
  const json got = Http(rockd->port(), "GET", "/api/v1/episodes/" + live_episode).json();
  EXPECT_EQ(At(got, "state"), "failed") << got.dump();
  EXPECT_EQ(ListTrajectories(rockd->port(), "survivor").size(), 5u);
}


class RockdTrainerEpisodeCap : public ReadyRockdTest {
 protected:
  RockdTrainerEpisodeCap()
      : ReadyRockdTest({.config_json = R"({"stream":{"max_episodes_per_trainer":3},)"
                                       R"("pools":{"alfworld":{"min":1,"max":1,"slots":8}}})"},
                       kReadyTimeout) {}
};

TEST_F(RockdTrainerEpisodeCap, StartsPastThePerTrainerEpisodeCapGetAnErrorAndAnEndedEpisodeFreesItsUnit) {
  Trainer trainer(port(), "capped");
  ASSERT_TRUE(trainer.connected()) << trainer.error();
  ASSERT_FALSE(trainer.Hello(/*credits=*/8).is_null());
  ASSERT_TRUE(trainer.Start(1, /*n=*/2, /*max_steps=*/3, /*seed=*/7));
  ASSERT_TRUE(trainer.AwaitEpisodes());
  ASSERT_TRUE(trainer.Send({{"type", "start"}, {"req", 2}, {"env", "alfworld"}, {"n", 2}}));
  const json refused = trainer.AwaitError();
  EXPECT_EQ(At(refused, "code"), "resource_exhausted") << refused.dump();
  EXPECT_EQ(At(refused, "req"), 2) << refused.dump();
  EXPECT_NE(Str(At(refused, "message")).find("stream.max_episodes_per_trainer"), std::string::npos) << refused.dump();
  Trainer other(port(), "other");
  ASSERT_FALSE(other.Hello(/*credits=*/8).is_null());
  ASSERT_TRUE(other.Start(1, /*n=*/3, /*max_steps=*/3, /*seed=*/7));
  EXPECT_TRUE(other.AwaitEpisodes()) << "another trainer is not charged";

  ASSERT_TRUE(trainer.PlayToEnd());
  ASSERT_TRUE(trainer.AwaitTrajectories(2));
  ASSERT_TRUE(trainer.Start(3, /*n=*/3, /*max_steps=*/3, /*seed=*/7));
  EXPECT_TRUE(trainer.AwaitEpisodes()) << "the ended episodes gave their units back";
  EXPECT_EQ(trainer.episodes().size(), 5u);
}

}  // namespace
}  // namespace rock::test
