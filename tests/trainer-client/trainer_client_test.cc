// rock_trainer_client (trainer-client/client/trainer_client.h) against the real rockd: episodes
// of `sleepy` and ALFWorld played through Start/Act in JSON and MessagePack, the credit window,
// acks across reconnects, connections cut every 50 ms through a TCP proxy, kill -9 of rockd and
// a restart on the same data dir, retrying until rockd appears, the bearer token, and malformed
// frames from a stand-in rockd.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/ready_rockd.h"
#include "tests/support/rockd_process.h"
#include "tests/support/tcp_proxy.h"
#include "trainer-client/client/trainer_client.h"

namespace rock::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using trainer::ClientOptions;
using trainer::Encoding;
using trainer::Event;
using trainer::StartRequest;
using trainer::TrainerClient;
using Clock = std::chrono::steady_clock;

// A bound against hangs, never a measurement: sanitizer builds run rockd many times slower.
constexpr milliseconds kTimeout = seconds(120);
// How long a test watches for frames that must not come (after rockd has all it could send).
constexpr milliseconds kQuiet = milliseconds(500);
// How long rockd may take to fill its pools to their minimum (two sleepy, one ALFWorld).
constexpr milliseconds kReadyTimeout = seconds(60);

// Sleepy pools of 32 slots (a group of 50 fits two sandboxes) and one ALFWorld sandbox.
constexpr const char* kConfig = R"({
  "pools": {"sleepy": {"min": 2, "max": 4, "slots": 32, "limits": {"memory_mb": 256}},
            "alfworld": {"min": 1, "max": 2, "slots": 16, "limits": {"memory_mb": 256}}}
})";

json SleepyTask(int steps) { return {{"steps", steps}, {"distribution", "fixed"}, {"scale_ms", 1}}; }

StartRequest Sleepy(int n, int steps) {
  StartRequest start;
  start.env = "sleepy";
  start.task = SleepyTask(steps);
  start.n = n;
  start.policy_version = 7;
  return start;
}

std::unique_ptr<TrainerClient> Connect(ClientOptions options) {
  auto client = TrainerClient::Create(std::move(options));
  if (!client.ok()) {
    ADD_FAILURE() << client.status().ToString();
    return nullptr;
  }
  return std::move(client).value();
}

ClientOptions Options(uint16_t port, const std::string& trainer, int credits = 64) {
  ClientOptions options;
  options.port = port;
  options.trainer = trainer;
  options.credits = credits;
  options.backoff_initial = milliseconds(5);
  options.backoff_max = milliseconds(50);
  return options;
}

// Trajectories rockd has committed for `trainer` (acked or not).
std::size_t Committed(uint16_t port, const std::string& trainer) {
  const HttpReply reply = Http(port, "GET", "/api/v1/trajectories?after_seq=0&limit=1000&trainer=" + trainer);
  const json page = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (reply.status != 200 || !page.is_object() || !page["trajectories"].is_array()) {
    ADD_FAILURE() << "GET /api/v1/trajectories: HTTP " << reply.status << " " << reply.body.substr(0, 300);
    return 0;
  }
  return page["trajectories"].size();
}

// What the application saw of one episode, and what it sent.
struct Episode {
  std::vector<json> obs;                // as handed over, step 0 first
  std::vector<std::string> actions;     // sent, step 1 first
  std::vector<json> trajectories;       // handed over for it
  bool finished() const {
    return !obs.empty() && (obs.back().value("terminated", false) || obs.back().value("truncated", false));
  }
};

// The application side of a test: it takes every event the client hands over, answers each obs
// with an act (sleepy: any action; ALFWorld: an admissible command), and acks each trajectory
// when auto_ack is on. One thread drives it.
class Player {
 public:
  explicit Player(TrainerClient& client) : client_(client) {}

  static constexpr int64_t kPolicyVersion = 11;
  // The behaviour policy's log-probabilities of step `step`: the trajectory must carry them back.
  static std::vector<float> Logprobs(int step) { return {-0.125f * static_cast<float>(step), -1.5f}; }

  bool auto_ack = true;

  // Handles events until `done()`; false when kTimeout passed first.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kTimeout;
    while (!done()) {
      if (Clock::now() > deadline) return false;
      if (auto event = client_.Next(milliseconds(50))) Handle(*event);
    }
    return true;
  }

  // Handles whatever arrives within `window`.
  void Drain(milliseconds window) {
    const auto deadline = Clock::now() + window;
    for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
      if (auto event = client_.Next(std::chrono::duration_cast<milliseconds>(deadline - now))) Handle(*event);
    }
  }

  bool AllFinished(std::size_t episodes) const {
    if (episodes_.size() < episodes) return false;
    for (const auto& [id, e] : episodes_) {
      if (!e.finished()) return false;
    }
    return true;
  }

  const std::map<std::string, Episode>& episodes() const { return episodes_; }
  const std::vector<json>& trajectories() const { return trajectories_; }
  const std::vector<json>& errors() const { return errors_; }
  const std::vector<json>& welcomes() const { return welcomes_; }
  int disconnects() const { return disconnects_; }
  std::size_t obs_count() const { return obs_count_; }

 private:
  void Handle(const Event& event) {
    switch (event.type) {
      case Event::Type::kConnected: welcomes_.push_back(event.body); break;
      case Event::Type::kDisconnected: ++disconnects_; break;
      case Event::Type::kError: errors_.push_back(event.body); break;
      case Event::Type::kObs: OnObs(event.body); break;
      case Event::Type::kTrajectory: {
        trajectories_.push_back(event.body);
        episodes_[event.body["episode"].get<std::string>()].trajectories.push_back(event.body);
        if (auto_ack) client_.Ack(event.body["seq"].get<uint64_t>());
        break;
      }
    }
  }

  void OnObs(const json& obs) {
    ++obs_count_;
    Episode& e = episodes_[obs["episode"].get<std::string>()];
    e.obs.push_back(obs);
    if (e.finished()) return;
    const int step = obs["step"].get<int>() + 1;
    json commands;
    if (obs["info"].is_object() && obs["info"].contains("admissible_commands")) commands = obs["info"]["admissible_commands"];
    const std::string action = !commands.is_array() || commands.empty()
                                   ? "act-" + std::to_string(step)
                                   : commands[static_cast<std::size_t>(step) % commands.size()].get<std::string>();
    e.actions.push_back(action);
    client_.Act(obs["episode"].get<std::string>(), step, action, kPolicyVersion, Logprobs(step));
  }

  TrainerClient& client_;
  std::map<std::string, Episode> episodes_;
  std::vector<json> trajectories_;
  std::vector<json> errors_;
  std::vector<json> welcomes_;
  int disconnects_ = 0;
  std::size_t obs_count_ = 0;
};

// Every one of `count` episodes was handed over as exactly one trajectory that records what the
// player sent, every obs of it once and in step order, and no seq twice.
void ExpectEachEpisodeOnce(const Player& player, std::size_t count) {
  EXPECT_EQ(player.episodes().size(), count);
  EXPECT_EQ(player.trajectories().size(), count);
  std::set<uint64_t> seqs;
  for (const json& t : player.trajectories()) {
    EXPECT_TRUE(seqs.insert(t["seq"].get<uint64_t>()).second) << "seq " << t["seq"] << " handed over twice";
  }
  int reported = 0;
  for (const auto& [id, e] : player.episodes()) {
    if (++reported > 5 && ::testing::Test::HasFailure()) return;  // the first few say enough
    ASSERT_EQ(e.trajectories.size(), 1u) << id;
    for (std::size_t i = 0; i < e.obs.size(); ++i) {
      EXPECT_EQ(e.obs[i]["step"], i) << id << ": obs handed over out of order or twice";
    }
    EXPECT_TRUE(e.finished()) << id;
    ASSERT_EQ(e.actions.size() + 1, e.obs.size()) << id;
    const json& steps = e.trajectories[0]["steps"];
    ASSERT_EQ(steps.size(), e.actions.size()) << id << ": " << steps.dump().substr(0, 500);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const int step = static_cast<int>(i) + 1;
      EXPECT_EQ(steps[i]["step"], step) << id;
      EXPECT_EQ(steps[i]["action"], e.actions[i]) << id << " step " << step;
      EXPECT_EQ(steps[i]["policy_version"], Player::kPolicyVersion) << id;
      const std::vector<float> sent = Player::Logprobs(step);
      ASSERT_TRUE(steps[i]["logprobs"].is_array()) << steps[i].dump();
      ASSERT_EQ(steps[i]["logprobs"].size(), sent.size()) << steps[i].dump();
      for (std::size_t k = 0; k < sent.size(); ++k) {
        EXPECT_EQ(static_cast<float>(steps[i]["logprobs"][k].get<double>()), sent[k]) << steps[i].dump();
      }
    }
    EXPECT_EQ(e.trajectories[0]["policy_version_min"], Player::kPolicyVersion);
  }
}

class TrainerClientTest : public ReadyRockdTest {
 protected:
  TrainerClientTest() : ReadyRockdTest({.config_json = kConfig}, kReadyTimeout) {}
};

class TrainerClientEncoding : public TrainerClientTest, public ::testing::WithParamInterface<Encoding> {
 protected:
  // A client of rockd in this test's encoding.
  std::unique_ptr<TrainerClient> Client(const std::string& trainer) {
    ClientOptions options = Options(rockd_->port(), trainer);
    options.encoding = GetParam();
    return Connect(options);
  }
};

TEST_P(TrainerClientEncoding, PlaysSleepyEpisodesAndReceivesOneTrajectoryEach) {
  auto client = Client("sleepy-player");
  ASSERT_NE(client, nullptr);
  Player player(*client);
  const uint64_t first = client->Start(Sleepy(/*n=*/4, /*steps=*/5));
  const uint64_t second = client->Start(Sleepy(/*n=*/3, /*steps=*/5));
  EXPECT_NE(first, second);
  client->Report({{"loss", 0.5}, {"step", 1}});
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 7; }))
      << player.trajectories().size() << " of 7 trajectories; errors " << json(player.errors()).dump();
  ExpectEachEpisodeOnce(player, 7);
  std::map<uint64_t, int> by_req;
  for (const auto& [id, e] : player.episodes()) ++by_req[e.obs[0]["req"].get<uint64_t>()];
  EXPECT_EQ(by_req, (std::map<uint64_t, int>{{first, 4}, {second, 3}})) << "step 0 echoes each start's req";
  for (const json& t : player.trajectories()) EXPECT_EQ(t["status"], "terminated") << t.dump().substr(0, 300);
  ASSERT_EQ(player.welcomes().size(), 1u);
  EXPECT_EQ(player.welcomes()[0]["trainer"], "sleepy-player");
  EXPECT_TRUE(client->connected());
  EXPECT_EQ(client->reconnects(), 0);
  const uint64_t last = player.trajectories().back()["seq"].get<uint64_t>();
  EXPECT_TRUE(Eventually([&] { return client->acked_seq() == last; })) << client->acked_seq() << " " << last;
  EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump();
}

TEST_P(TrainerClientEncoding, PlaysAlfworldEpisodesWithAdmissibleCommands) {
  auto client = Client("alfworld-player");
  ASSERT_NE(client, nullptr);
  Player player(*client);
  StartRequest start;
  start.env = "alfworld";
  start.task = {{"type", "pick_and_place_simple"}};
  start.seed = 5;
  start.max_steps = 6;
  start.n = 3;
  start.policy_version = 11;
  client->Start(start);
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 3; }))
      << player.trajectories().size() << " of 3 trajectories; errors " << json(player.errors()).dump();
  ExpectEachEpisodeOnce(player, 3);
  for (const json& t : player.trajectories()) {
    EXPECT_EQ(t["env"], "alfworld");
    EXPECT_TRUE(t["status"] == "truncated" || t["status"] == "terminated") << t["status"];
  }
  EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump();
}

INSTANTIATE_TEST_SUITE_P(Encodings, TrainerClientEncoding, ::testing::Values(Encoding::kJson, Encoding::kMsgpack),
                         [](const auto& param_info) { return param_info.param == Encoding::kJson ? "Json" : "Msgpack"; });

// Credits 2, six finished episodes: two are handed over until an ack, also after a reconnect
// (whose hello grants nothing more), and each ack lets exactly as many more through.
TEST_F(TrainerClientTest, TheCreditWindowBoundsHandedOverUnackedTrajectories) {
  TcpProxy proxy(rockd_->port());
  auto client = Connect(Options(proxy.port(), "windowed", /*credits=*/2));
  ASSERT_NE(client, nullptr);
  Player player(*client);
  player.auto_ack = false;
  client->Start(Sleepy(/*n=*/6, /*steps=*/2));
  ASSERT_TRUE(player.RunUntil([&] { return player.AllFinished(6); })) << player.episodes().size() << " episodes";
  ASSERT_TRUE(Eventually([&] { return Committed(rockd_->port(), "windowed") == 6; }, kTimeout));
  player.Drain(kQuiet);
  ASSERT_EQ(player.trajectories().size(), 2u) << "six committed, a window of two";

  proxy.DropAll();
  ASSERT_TRUE(player.RunUntil([&] { return player.welcomes().size() == 2; }));
  player.Drain(kQuiet);
  EXPECT_EQ(player.trajectories().size(), 2u) << "the reconnect's hello grants the window minus the two held";

  // Acking the first frees one credit: rockd redelivers the two unacked ones first (the client
  // drops them, giving their credits back), then the third.
  client->Ack(player.trajectories()[0]["seq"].get<uint64_t>());
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 3; }));
  player.Drain(kQuiet);
  EXPECT_EQ(player.trajectories().size(), 3u);

  client->Ack(player.trajectories()[2]["seq"].get<uint64_t>());
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 5; }));
  player.Drain(kQuiet);
  EXPECT_EQ(player.trajectories().size(), 5u);
  client->Ack(player.trajectories()[4]["seq"].get<uint64_t>());
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 6; }));
  ExpectEachEpisodeOnce(player, 6);
  EXPECT_EQ(player.disconnects(), 1);
  EXPECT_TRUE(player.errors().empty()) << "no ack or credit was refused: " << json(player.errors()).dump();
}

// Release gives a credit back for a trajectory that cannot be acked yet (an older one is still
// held), and the ack that later covers it gives nothing back twice.
TEST_F(TrainerClientTest, ReleaseFreesTheCreditOfAnUnackableTrajectory) {
  auto client = Connect(Options(rockd_->port(), "releaser", /*credits=*/2));
  ASSERT_NE(client, nullptr);
  Player player(*client);
  player.auto_ack = false;
  client->Start(Sleepy(/*n=*/5, /*steps=*/2));
  ASSERT_TRUE(player.RunUntil([&] { return player.AllFinished(5); }));
  ASSERT_TRUE(Eventually([&] { return Committed(rockd_->port(), "releaser") == 5; }, kTimeout));
  player.Drain(kQuiet);
  ASSERT_EQ(player.trajectories().size(), 2u);
  // The first stays held; the second is done with: its credit brings the third.
  client->Release(player.trajectories()[1]["seq"].get<uint64_t>());
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 3; }));
  player.Drain(kQuiet);
  EXPECT_EQ(player.trajectories().size(), 3u);
  // Acking through the third frees the first and the third, not the released second again.
  client->Ack(player.trajectories()[2]["seq"].get<uint64_t>());
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 5; }));
  player.Drain(kQuiet);
  ExpectEachEpisodeOnce(player, 5);
  EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump();
}

// Acks survive the connection: after a drop the welcome shows them, and neither the same client
// nor a new one of the same trainer receives an acked trajectory again.
TEST_F(TrainerClientTest, AckedTrajectoriesNeverComeAgainAfterAReconnect) {
  TcpProxy proxy(rockd_->port());
  uint64_t last = 0;
  {
    auto client = Connect(Options(proxy.port(), "acker", /*credits=*/8));
    ASSERT_NE(client, nullptr);
    Player player(*client);
    client->Start(Sleepy(/*n=*/4, /*steps=*/2));
    ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 4; }));
    last = player.trajectories().back()["seq"].get<uint64_t>();
    EXPECT_TRUE(Eventually([&] { return client->acked_seq() == last; })) << client->acked_seq() << " " << last;
    proxy.DropAll();  // the last ack may be on its way still: the next hello resumes after it
    ASSERT_TRUE(player.RunUntil([&] { return player.welcomes().size() == 2; }));
    EXPECT_EQ(player.welcomes()[1]["acked_seq"], last) << player.welcomes()[1].dump();
    EXPECT_EQ(player.welcomes()[1]["pending"], 0) << player.welcomes()[1].dump();
    client->Start(Sleepy(/*n=*/2, /*steps=*/2));
    ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 6; }));
    player.Drain(kQuiet);
    ExpectEachEpisodeOnce(player, 6);
    EXPECT_EQ(client->reconnects(), 1);
    last = player.trajectories().back()["seq"].get<uint64_t>();
    EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump();
  }
  // A new process of the same trainer, knowing nothing: rockd has nothing for it.
  auto again = Connect(Options(proxy.port(), "acker"));
  ASSERT_NE(again, nullptr);
  Player player(*again);
  ASSERT_TRUE(player.RunUntil([&] { return !player.welcomes().empty(); }));
  EXPECT_EQ(player.welcomes()[0]["acked_seq"], last) << player.welcomes()[0].dump();
  EXPECT_EQ(player.welcomes()[0]["pending"], 0) << player.welcomes()[0].dump();
  player.Drain(kQuiet);
  EXPECT_TRUE(player.trajectories().empty()) << json(player.trajectories()).dump().substr(0, 500);
}

// The acceptance run: waves of 50 episodes of 20 steps while every connection is cut every
// 50 ms. Each episode ends in exactly one trajectory, each obs is handed over once and in order,
// and no act is lost (a lost one would stall its episode until the timeout). A start lost with a
// connection is not repeated (at most once), so each wave starts while the cutter rests.
TEST_F(TrainerClientTest, EveryEpisodeEndsOnceWhileConnectionsAreCutEvery50Ms) {
  constexpr std::size_t kWave = 50, kWaves = 4;
  TcpProxy proxy(rockd_->port());
  auto client = Connect(Options(proxy.port(), "cut-off"));
  ASSERT_NE(client, nullptr);
  Player player(*client);
  std::atomic<bool> cutting{false}, stop{false};
  std::atomic<int> cuts{0};
  std::thread cutter([&] {
    while (!stop) {
      std::this_thread::sleep_for(milliseconds(50));
      if (cutting) {
        proxy.DropAll();
        ++cuts;
      }
    }
  });
  bool played = true;
  for (std::size_t wave = 1; wave <= kWaves && played; ++wave) {
    client->Start(Sleepy(/*n=*/kWave, /*steps=*/20));
    played = player.RunUntil([&] { return player.episodes().size() == wave * kWave; });
    cutting = true;
    played = played && player.RunUntil([&] { return player.trajectories().size() == wave * kWave; });
    cutting = false;
  }
  stop = true;
  cutter.join();
  ASSERT_TRUE(played) << player.episodes().size() << " episodes, " << player.trajectories().size()
                      << " trajectories; errors " << json(player.errors()).dump().substr(0, 1000);
  player.Drain(kQuiet);
  ExpectEachEpisodeOnce(player, kWave * kWaves);
  EXPECT_GE(client->reconnects(), static_cast<int>(kWaves)) << "cuts while episodes ran: " << cuts;
  EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump().substr(0, 2000);
  std::printf("%zu episodes, %zu obs: %d connections cut, %d reconnects, %d connect attempts, %d acts resent, "
              "%d last obs rebuilt from trajectories\n",
              kWave * kWaves, player.obs_count(), proxy.dropped(), client->reconnects(), client->connect_attempts(),
              client->acts_resent(), client->obs_rebuilt());
}

// A rockd on a data dir of its own behind a proxy, for tests that kill it with SIGKILL and start
// a new one on the same data dir behind the same address.
class TrainerClientRecovery : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
    rockd_ = StartReady({.config_json = kConfig, .data_dir = data_}, kReadyTimeout);
    ASSERT_NE(rockd_, nullptr);
    proxy_ = std::make_unique<TcpProxy>(rockd_->port());
  }
  void TearDown() override { PrintLogOnFailure(rockd_.get()); }

  // With the proxy paused and the old rockd killed: the new one, and the proxy leading to it.
  bool Restart() {
    rockd_ = StartReady({.config_json = kConfig, .data_dir = data_}, kReadyTimeout);
    if (rockd_ == nullptr) return false;
    proxy_->SetTarget(rockd_->port());
    return proxy_->Resume();
  }

  TempDir dir_;
  const std::string data_ = dir_.path() + "/data";
  std::unique_ptr<RockdProcess> rockd_;
  std::unique_ptr<TcpProxy> proxy_;
};

// kill -9 of rockd and a new rockd on the same data dir, behind the same address (the proxy):
// the client reconnects by itself and every unacked trajectory arrives exactly once.
TEST_F(TrainerClientRecovery, AKilledRockdRestartedOnTheSameDataDirDeliversUnackedTrajectoriesOnce) {
  auto client = Connect(Options(proxy_->port(), "survivor", /*credits=*/3));
  ASSERT_NE(client, nullptr);
  Player player(*client);
  player.auto_ack = false;
  client->Start(Sleepy(/*n=*/8, /*steps=*/2));
  ASSERT_TRUE(player.RunUntil([&] { return player.AllFinished(8); }));
  ASSERT_TRUE(Eventually([&] { return Committed(rockd_->port(), "survivor") == 8; }, kTimeout));
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 3; }));
  client->Ack(player.trajectories()[0]["seq"].get<uint64_t>());
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 4; }));
  // Three handed over and unacked, four waiting in rockd's SQLite.
  proxy_->Pause();
  ASSERT_EQ(rockd_->Stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(player.RunUntil([&] { return player.disconnects() == 1; }));
  ASSERT_TRUE(Restart());
  ASSERT_TRUE(player.RunUntil([&] { return player.welcomes().size() == 2; }));
  EXPECT_EQ(player.welcomes()[1]["pending"], 7) << player.welcomes()[1].dump();
  while (player.trajectories().size() < 8) {
    const std::size_t before = player.trajectories().size();
    client->Ack(player.trajectories().back()["seq"].get<uint64_t>());
    ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() > before; }))
        << before << " of 8 trajectories";
  }
  client->Ack(player.trajectories().back()["seq"].get<uint64_t>());
  player.Drain(kQuiet);
  ExpectEachEpisodeOnce(player, 8);
  EXPECT_EQ(client->reconnects(), 1);
  EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump();
}

// Starts written while connections are cut every few milliseconds: rockd answers each exactly
// once, whether it got it the first time or the client sent it again after a welcome whose
// last_req showed it missing.
TEST_F(TrainerClientTest, StartsSentWhileConnectionsAreCutAreEachAnsweredOnce) {
  constexpr int kStarts = 300;
  TcpProxy proxy(rockd_->port());
  auto client = Connect(Options(proxy.port(), "starter"));
  ASSERT_NE(client, nullptr);
  Player player(*client);
  std::atomic<bool> stop{false};
  std::thread cutter([&] {
    while (!stop) {
      std::this_thread::sleep_for(milliseconds(3));
      proxy.DropAll();
    }
  });
  std::set<uint64_t> reqs;
  for (int i = 0; i < kStarts; ++i) {
    reqs.insert(client->Start(Sleepy(/*n=*/1, /*steps=*/1)));
    if (i % 10 == 9) player.Drain(milliseconds(2));
  }
  // The cuts stop once every start is out: under a sanitizer a reconnect takes longer than
  // 3 ms, and cutting on would starve the answers, not test them.
  stop = true;
  cutter.join();
  const bool answered = player.RunUntil([&] { return player.episodes().size() >= kStarts; });
  ASSERT_TRUE(answered) << player.episodes().size() << " of " << kStarts << " starts answered; errors "
                        << json(player.errors()).dump().substr(0, 1000);
  ASSERT_TRUE(player.RunUntil([&] { return player.AllFinished(kStarts) && player.trajectories().size() == kStarts; }));
  player.Drain(kQuiet);
  std::map<uint64_t, int> answers;
  for (const auto& [id, e] : player.episodes()) ++answers[e.obs.front().value("req", uint64_t{0})];
  EXPECT_EQ(answers.size(), reqs.size());
  for (const auto& [req, n] : answers) {
    EXPECT_TRUE(reqs.contains(req)) << "req " << req;
    EXPECT_EQ(n, 1) << "req " << req << " answered " << n << " times";
  }
  ExpectEachEpisodeOnce(player, kStarts);
  EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump().substr(0, 2000);
  std::printf("%d starts: %d connections cut, %d starts resent\n", kStarts, proxy.dropped(), client->starts_resent());
}

// kill -9 of rockd while two episodes wait for their act: a welcome from the new process (a new
// boot_id) makes the client report both as "episode_lost", and a start made while no rockd was
// there goes to the new one and is answered.
TEST_F(TrainerClientRecovery, EpisodesOfAKilledRockdAreReportedLostAndLaterStartsGoToTheNextOne) {
  auto client = Connect(Options(proxy_->port(), "bereaved"));
  ASSERT_NE(client, nullptr);
  std::vector<json> welcomes, errors;
  std::map<std::string, json> first_obs;
  const auto handle_until = [&](const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kTimeout;
    while (!done() && Clock::now() < deadline) {
      const std::optional<Event> event = client->Next(milliseconds(50));
      if (!event) continue;
      if (event->type == Event::Type::kConnected) welcomes.push_back(event->body);
      if (event->type == Event::Type::kError) errors.push_back(event->body);
      if (event->type == Event::Type::kObs && event->body["step"] == 0) first_obs[event->body["episode"]] = event->body;
    }
    return done();
  };
  client->Start(Sleepy(/*n=*/2, /*steps=*/5));
  ASSERT_TRUE(handle_until([&] { return first_obs.size() == 2; }));
  proxy_->Pause();
  ASSERT_EQ(rockd_->Stop(SIGKILL), 128 + SIGKILL);
  // Acts for the dead process's episodes wait for a connection; the new process must not get
  // them (it would answer not_found for episodes it never ran).
  for (const auto& [id, obs] : first_obs) client->Act(id, 1, "a", 0, {});
  const uint64_t later = client->Start(Sleepy(/*n=*/1, /*steps=*/1));
  ASSERT_TRUE(Restart());
  ASSERT_TRUE(handle_until([&] { return errors.size() == 2 && first_obs.size() == 3; })) << json(errors).dump();
  // The later episode runs to its end, by which time any answer to a stray act has come too.
  const std::string later_id = [&] {
    for (const auto& [id, obs] : first_obs) {
      if (obs["req"] == later) return id;
    }
    return std::string();
  }();
  client->Act(later_id, 1, "a", 0, {});
  std::optional<json> trajectory;
  const auto deadline = Clock::now() + kTimeout;
  while (!trajectory && Clock::now() < deadline) {
    std::optional<Event> event = client->Next(milliseconds(50));
    if (event && event->type == Event::Type::kError) errors.push_back(event->body);
    if (event && event->type == Event::Type::kTrajectory) trajectory = event->body;
  }
  ASSERT_TRUE(trajectory.has_value());
  EXPECT_EQ((*trajectory)["episode"], later_id);
  EXPECT_EQ(errors.size(), 2u) << json(errors).dump();
  ASSERT_EQ(welcomes.size(), 2u);
  EXPECT_NE(welcomes[0]["boot_id"], welcomes[1]["boot_id"]);
  std::set<std::string> lost;
  for (const json& error : errors) {
    EXPECT_EQ(error["code"], "episode_lost") << error.dump();
    lost.insert(error.value("episode", ""));
  }
  for (const auto& [id, obs] : first_obs) {
    EXPECT_EQ(lost.contains(id), obs["req"] != later) << id << ": " << obs.dump();
  }
  EXPECT_EQ(client->episodes_lost(), 2);
  // The lost ones were failed by the restart, or never reached the database (its writes are
  // batched, and the kill came right after their first obs); they never come back as anything.
  for (const std::string& id : lost) {
    const HttpReply episode = Http(rockd_->port(), "GET", "/api/v1/episodes/" + id);
    if (episode.status == 404) continue;
    EXPECT_EQ(episode.status, 200) << id << ": " << episode.body;
    EXPECT_EQ(episode.json()["state"], "failed") << id << ": " << episode.body;
  }
}

// Nothing listens at first: the client keeps trying, backing off, without a welcome or a crash,
// and connects once rockd is there.
TEST(TrainerClientRetry, RetriesWithBackoffUntilRockdAppears) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  TcpProxy proxy(/*target_port=*/1);
  proxy.Pause();
  ClientOptions options = Options(proxy.port(), "patient");
  options.backoff_initial = milliseconds(10);
  options.backoff_max = milliseconds(100);
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  Player player(*client);
  ASSERT_TRUE(Eventually([&] { return client->connect_attempts() >= 8; }, kTimeout)) << client->connect_attempts();
  player.Drain(milliseconds(50));
  EXPECT_FALSE(client->connected());
  EXPECT_TRUE(player.welcomes().empty());
  EXPECT_EQ(player.disconnects(), 0) << "a refused connection is no disconnect";
  // Messages sent meanwhile wait for the welcome.
  client->Start(Sleepy(/*n=*/2, /*steps=*/3));

  auto rockd = StartReady({.config_json = kConfig}, kReadyTimeout);
  ASSERT_NE(rockd, nullptr);
  proxy.SetTarget(rockd->port());
  ASSERT_TRUE(proxy.Resume());
  const int attempts = client->connect_attempts();
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 2; }))
      << "errors " << json(player.errors()).dump() << "\n" << rockd->Log();
  ExpectEachEpisodeOnce(player, 2);
  EXPECT_EQ(client->reconnects(), 0) << "the first welcome is no reconnect";
  EXPECT_GE(client->connect_attempts(), attempts);
  EXPECT_TRUE(player.errors().empty()) << json(player.errors()).dump();
  std::printf("%d connect attempts before rockd appeared\n", attempts);
}

TEST(TrainerClientAuth, SendsTheTokenAsABearerHeader) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  json config = json::parse(kConfig);
  config["auth"] = {{"token", "s3cret"}};
  auto rockd = StartReady({.config_json = config.dump()}, kReadyTimeout);
  ASSERT_NE(rockd, nullptr);

  ClientOptions options = Options(rockd->port(), "authorized");
  options.token = "s3cret";
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  Player player(*client);
  client->Start(Sleepy(/*n=*/1, /*steps=*/2));
  ASSERT_TRUE(player.RunUntil([&] { return player.trajectories().size() == 1; }))
      << "errors " << json(player.errors()).dump();
  ExpectEachEpisodeOnce(player, 1);

  ClientOptions anonymous_options = Options(rockd->port(), "anonymous");
  anonymous_options.token = "guess";
  auto anonymous = Connect(anonymous_options);
  ASSERT_NE(anonymous, nullptr);
  Player refused(*anonymous);
  ASSERT_TRUE(refused.RunUntil([&] { return refused.errors().size() >= 2; }));
  EXPECT_EQ(refused.errors()[0]["code"], "unauthenticated") << refused.errors()[0].dump();
  EXPECT_NE(refused.errors()[0]["message"].get<std::string>().find("401"), std::string::npos) << refused.errors()[0];
  EXPECT_FALSE(anonymous->connected());
  EXPECT_TRUE(refused.welcomes().empty());
  PrintLogOnFailure(rockd.get());
}

TEST(TrainerClientOptions, BadOptionsAreRefusedWithTheReason) {
  ClientOptions options;
  options.trainer = "no spaces";
  auto bad_name = TrainerClient::Create(options);
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_name.status().message().find("no spaces"), std::string::npos) << bad_name.status().message();
  options.trainer = "fine";
  options.credits = 0;
  auto no_credits = TrainerClient::Create(options);
  ASSERT_FALSE(no_credits.ok());
  EXPECT_NE(no_credits.status().message().find("credits"), std::string::npos) << no_credits.status().message();
  options.credits = 4;
  options.backoff_max = milliseconds(1);
  EXPECT_FALSE(TrainerClient::Create(options).ok());
}

// A stand-in rockd on a plain Beast WebSocket: it checks the hello, welcomes, and then sends
// frames no rockd would. Each is an invalid_argument error event; the client carries on.
TEST(TrainerClientMalformed, MalformedFramesFromRockdAreInvalidArgumentErrors) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  using tcp = asio::ip::tcp;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  json hello;
  std::vector<json> after;  // what the client sent after the welcome; read after the join
  std::atomic<int> received{0};
  std::string server_error;
  std::thread server([&] {
    beast::error_code ec;
    tcp::socket socket(io);
    acceptor.accept(socket, ec);
    websocket::stream<tcp::socket> ws(std::move(socket));
    if (!ec) ws.accept(ec);
    beast::flat_buffer buffer;
    if (!ec) ws.read(buffer, ec);
    if (ec) {
      server_error = ec.message();
      return;
    }
    hello = json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
    buffer.consume(buffer.size());
    const auto text = [&](const std::string& frame) {
      ws.text(true);
      ws.write(asio::buffer(frame), ec);
    };
    text(R"({"type":"welcome","trainer":"picky","head_seq":42,"acked_seq":42,"pending":0})");
    text("not json");
    text("[1, 2]");
    text(R"({"no": "type"})");
    text(R"({"type": "obs", "episode": 7, "step": 0})");
    text(R"({"type": "trajectory", "seq": "one", "episode": "ep-x"})");
    text(R"({"type": "mystery"})");
    ws.binary(true);
    const std::string bad_msgpack = "\xc1";
    ws.write(asio::buffer(bad_msgpack), ec);
    text(R"({"type":"obs","episode":"ep-1","step":0,"observation":"hi","reward":0,"terminated":false,"truncated":false,"info":{}})");
    // The act for ep-1 and the credit for the seq-less trajectory, until the client closes.
    while (!ec) {
      ws.read(buffer, ec);
      if (!ec) after.push_back(json::parse(beast::buffers_to_string(buffer.data()), nullptr, false));
      if (!ec) ++received;
      buffer.consume(buffer.size());
    }
  });
  {
    ClientOptions options = Options(port, "picky", /*credits=*/5);
    options.resume_after_seq = 42;
    auto client = Connect(options);
    ASSERT_NE(client, nullptr);
    Player player(*client);
    ASSERT_TRUE(player.RunUntil([&] { return player.obs_count() == 1 && player.errors().size() >= 7; }))
        << json(player.errors()).dump();
    player.Drain(milliseconds(100));
    ASSERT_EQ(player.errors().size(), 7u) << json(player.errors()).dump();
    for (const json& error : player.errors()) {
      EXPECT_EQ(error["code"], "invalid_argument") << error.dump();
      EXPECT_NE(error["message"].get<std::string>().find("malformed"), std::string::npos) << error.dump();
    }
    EXPECT_EQ(player.episodes().count("ep-1"), 1u) << "the client carried on after the bad frames";
    EXPECT_TRUE(client->connected());
    EXPECT_EQ(client->acked_seq(), 42u);
    ASSERT_TRUE(Eventually([&] { return received >= 2; })) << "the act for ep-1 and a credit";
  }
  server.join();
  ASSERT_EQ(server_error, "");
  EXPECT_EQ(hello["type"], "hello");
  EXPECT_EQ(hello["trainer"], "picky");
  EXPECT_EQ(hello["encoding"], "json");
  EXPECT_EQ(hello["credits"], 5);
  EXPECT_EQ(hello["resume"]["after_seq"], 42);
  std::set<std::string> types;
  for (const json& m : after) types.insert(m.value("type", ""));
  EXPECT_TRUE(types.contains("act")) << json(after).dump();
  EXPECT_TRUE(types.contains("credit")) << "the seq-less trajectory's credit goes back: " << json(after).dump();
}

}  // namespace
}  // namespace rock::test
