// rock-trainer end to end against the real rockd: it learns the bandit, keeps alpha, survives
// connection cuts, and resumes after a stop with every trajectory consumed exactly once.
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"
#include "tests/support/tcp_proxy.h"

namespace rock::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Sanitizer builds run everything many times slower; the runs get more time, not fewer checks.
#ifdef ROCK_SANITIZE_BUILD
constexpr auto kRunTimeout = 600s;
#else
constexpr auto kRunTimeout = 180s;
#endif

const std::string kBanditConfig = R"({"pools": {"alfworld": {"min": 0}, "bandit": {"min": 1, "max": 2, "slots": 64}}})";
const std::string kBanditTask = R"({"arms": ["red", "green", "blue", "yellow"], "rewards": [0, 1, 0, 0], "steps": 4})";

std::vector<std::string> BanditArgs(uint16_t port, const std::string& dir, const std::string& name) {
  return {"--endpoint", "127.0.0.1:" + std::to_string(port), "--name", name, "--env", "bandit", "--task", kBanditTask,
          "--group-size", "8", "--batch-groups", "2", "--dim", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1",
          "--hidden", "48", "--max-seq", "96", "--prompt-bytes", "64", "--summary", dir + "/summary.json",
          "--ledger", dir + "/ledger.jsonl"};
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, false);
}

std::vector<json> ReadLedger(const std::string& path) {
  std::vector<json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

// Runs rock-trainer to its end; the test fails with its output when it does not exit 0.
json RunTrainer(const std::vector<std::string>& args, const std::string& dir) {
  auto trainer = ChildProcess::Start(ROCK_TRAINER_BINARY, args);
  const int code = trainer->WaitExit(kRunTimeout);
  EXPECT_EQ(code, 0) << trainer->Log();
  return ReadJson(dir + "/summary.json");
}

double MeanReward(const json& curve, size_t first, size_t count) {
  double sum = 0;
  for (size_t i = first; i < first + count; i++) sum += curve.at(i).at("reward_mean").get<double>();
  return sum / static_cast<double>(count);
}

// Every consumed seq once, and each one a trajectory rockd has for this trainer.
void ExpectEachTrajectoryConsumedOnce(const std::vector<json>& ledger, uint16_t port, const std::string& name) {
  std::set<uint64_t> seqs;
  for (const json& line : ledger) {
    EXPECT_TRUE(seqs.insert(line.at("seq").get<uint64_t>()).second) << "seq consumed twice: " << line.dump();
  }
  const HttpReply listing = Http(port, "GET", "/api/v1/trajectories?limit=10000&trainer=" + name);
  ASSERT_EQ(listing.status, 200) << listing.body;
  std::set<uint64_t> known;
  const json body = listing.json();
  for (const json& t : body.at("trajectories")) known.insert(t.at("seq").get<uint64_t>());
  for (uint64_t seq : seqs) EXPECT_TRUE(known.count(seq)) << "ledger seq " << seq << " is not rockd's";
}

TEST(RockTrainer, HelpDocumentsEveryFlagAndBadFlagsFail) {
  auto help = ChildProcess::Start(ROCK_TRAINER_BINARY, {"--help"});
  ASSERT_EQ(help->WaitExit(30s), 0) << help->Log();
  const std::string text = help->Log();
  for (const char* flag : {"--endpoint", "--token", "--encoding", "--env", "--task", "--group-size", "--redundancy",
                           "--batch-groups", "--action", "--algo", "--alpha", "--correction", "--ppo-epochs", "--lr",
                           "--checkpoint-dir", "--versions", "--ledger", "--summary", "--imitation", "--curriculum"}) {
    EXPECT_NE(text.find(flag), std::string::npos) << flag;
  }
  auto bad = ChildProcess::Start(ROCK_TRAINER_BINARY, {"--alpha", "-1"});
  EXPECT_EQ(bad->WaitExit(30s), 2) << bad->Log();
  auto bad_task = ChildProcess::Start(ROCK_TRAINER_BINARY, {"--task", "[1,2"});
  EXPECT_EQ(bad_task->WaitExit(30s), 2);
  EXPECT_NE(bad_task->Log().find("--task"), std::string::npos) << bad_task->Log();
}

TEST(RockTrainer, LearnsTheBanditAndReportsToRockd) {
  auto rockd = RockdProcess::Start({.config_json = kBanditConfig});
  ASSERT_TRUE(rockd);
  TempDir dir;
  std::vector<std::string> args = BanditArgs(rockd->port(), dir.path(), "bandit-learner");
  args.insert(args.end(), {"--versions", "20", "--seed", "3"});
  const json summary = RunTrainer(args, dir.path());
  const json& curve = summary.at("curve");
  ASSERT_EQ(curve.size(), 20u) << summary.dump();
  // Four pulls, one good arm of four: a uniform policy earns 1 per episode, a learnt one 4.
  const double early = MeanReward(curve, 0, 2), late = MeanReward(curve, 17, 3);
  EXPECT_LT(early, 2.5) << summary.dump();
  EXPECT_GT(late, 3.0) << summary.dump();
  EXPECT_GT(late, early + 1.0);
  for (const json& point : curve) EXPECT_LE(point.at("staleness").get<double>(), 1.0);  // alpha 1
  // rockd has the reports the dashboard draws.
  const HttpReply reports = Http(rockd->port(), "GET", "/api/v1/trainer-reports?trainer=bandit-learner");
  ASSERT_EQ(reports.status, 200);
  ASSERT_EQ(reports.json().at("reports").size(), 20u);
  EXPECT_EQ(reports.json().at("reports").back().at("metrics").at("policy_version"), 20);
  ExpectEachTrajectoryConsumedOnce(ReadLedger(dir.path() + "/ledger.jsonl"), rockd->port(), "bandit-learner");
}

// The expert's labels travel env -> rock-env -> rockd -> trainer: every update reports how often
// the policy agreed with them and the imitation loss it trained; without --imitation, neither.
TEST(RockTrainer, ImitationTrainsOnTheAlfworldExpertsLabelsThroughRockd) {
  auto rockd = RockdProcess::Start({});
  ASSERT_TRUE(rockd);
  for (const bool imitate : {true, false}) {
    TempDir dir;
    std::vector<std::string> args = {"--endpoint", "127.0.0.1:" + std::to_string(rockd->port()), "--name",
                                     imitate ? "imitator" : "plain", "--env", "alfworld", "--task-types",
                                     "pick_and_place_simple", "--max-steps", "6", "--group-size", "2",
                                     "--batch-groups", "1", "--dim", "16", "--layers", "1", "--heads", "2",
                                     "--kv-heads", "1", "--hidden", "32", "--prompt-bytes", "64", "--versions", "3", "--summary", dir.path() + "/summary.json", "--quiet"};
    if (imitate) args.insert(args.end(), {"--imitation", "1"});
    const json summary = RunTrainer(args, dir.path());
    ASSERT_EQ(summary.at("curve").size(), 3u) << summary.dump();
    for (const json& point : summary.at("curve")) {
      if (!imitate) {
        EXPECT_FALSE(point.contains("expert_agreement")) << point.dump();
        continue;
      }
      ASSERT_TRUE(point.contains("expert_agreement")) << point.dump();
      EXPECT_GE(point.at("expert_agreement").get<double>(), 0.0);
      EXPECT_LE(point.at("expert_agreement").get<double>(), 1.0);
      // -log pi(expert) of a near-uniform policy over a dozen or more commands.
      EXPECT_GT(point.at("imitation_loss").get<double>(), 1.0) << point.dump();
    }
  }
}

// --curriculum 1: groups alternate between one expert command from the goal and the task's
// start; rockd's episodes carry the start, and the success and return reported count only the
// episodes from the start.
TEST(RockTrainer, CurriculumStartsGroupsNearTheGoalAndReportsOnlyEpisodesFromTheStart) {
  auto rockd = RockdProcess::Start({});
  ASSERT_TRUE(rockd);
  TempDir dir;
  const std::vector<std::string> args = {
      "--endpoint", "127.0.0.1:" + std::to_string(rockd->port()), "--name", "curriculum", "--env", "alfworld",
      "--task-types", "pick_and_place_simple", "--max-steps", "4", "--group-size", "2", "--batch-groups", "1",
      "--alpha", "0", "--curriculum", "1", "--dim", "16", "--layers", "1", "--heads", "2", "--kv-heads", "1",
      "--hidden", "32", "--prompt-bytes", "64", "--versions", "4", "--summary", dir.path() + "/summary.json",
      "--ledger", dir.path() + "/ledger.jsonl", "--quiet"};
  const json summary = RunTrainer(args, dir.path());
  ASSERT_EQ(summary.at("curve").size(), 4u) << summary.dump();
  int near_points = 0, start_points = 0;
  for (const json& point : summary.at("curve")) {
    const int from_start = point.at("episodes_from_start");
    const int near = point.value("episodes_near_goal", 0);
    EXPECT_EQ(from_start + near, point.at("episodes").get<int>()) << point.dump();
    EXPECT_EQ(point.contains("success_rate"), from_start > 0) << point.dump();
    EXPECT_EQ(point.contains("reward_mean"), from_start > 0) << point.dump();
    EXPECT_EQ(point.contains("success_near_goal"), near > 0) << point.dump();
    near_points += near > 0 ? 1 : 0;
    start_points += from_start > 0 ? 1 : 0;
  }
  // Synchronous, one group per update: the updates alternate.
  EXPECT_EQ(near_points, 2);
  EXPECT_EQ(start_points, 2);
  int near = 0, start = 0;
  for (const json& line : ReadLedger(dir.path() + "/ledger.jsonl")) {
    const HttpReply reply = Http(rockd->port(), "GET", "/api/v1/episodes/" + line.at("episode").get<std::string>());
    ASSERT_EQ(reply.status, 200) << reply.body;
    const json episode = reply.json();
    const bool intro = episode.at("observation").get<std::string>().rfind("-= Welcome to TextWorld", 0) == 0;
    if (episode.at("task").contains("start_near_goal")) {
      EXPECT_EQ(episode.at("task").at("start_near_goal"), 1) << episode.dump();
      EXPECT_FALSE(intro) << "the expert's first commands were played at reset: " << episode.dump();
      near++;
    } else {
      EXPECT_TRUE(intro) << episode.dump();
      start++;
    }
  }
  EXPECT_EQ(near, 4);
  EXPECT_EQ(start, 4);
}

TEST(RockTrainer, SynchronousModeTrainsOnlyOnTheCurrentVersion) {
  auto rockd = RockdProcess::Start({.config_json = kBanditConfig});
  ASSERT_TRUE(rockd);
  TempDir dir;
  std::vector<std::string> args = BanditArgs(rockd->port(), dir.path(), "bandit-sync");
  args.insert(args.end(), {"--versions", "5", "--alpha", "0"});
  const json summary = RunTrainer(args, dir.path());
  ASSERT_EQ(summary.at("curve").size(), 5u);
  for (const json& point : summary.at("curve")) {
    EXPECT_EQ(point.at("staleness").get<double>(), 0.0) << point.dump();
    EXPECT_EQ(point.at("episodes").get<int>(), 16) << point.dump();
  }
  EXPECT_EQ(summary.at("trajectories").at("stale"), 0);
}

// Groups finish out of seq order on a heavy-tailed env, so the ack point waits for the slowest
// group while later trajectories are consumed. With the smallest window the trainer accepts
// (the 6 trajectories of the 3 groups alpha 2 lets run), a trainer that kept their credits
// until the ack would never receive the trajectory the slow group waits for (measured: 3 of 3
// runs stalled that way; with Release they finish in about 2 s).
TEST(RockTrainer, ASlowGroupDoesNotStarveTheCreditWindow) {
  auto rockd = RockdProcess::Start(
      {.config_json = R"({"pools": {"alfworld": {"min": 0}, "sleepy": {"min": 8, "max": 8, "slots": 1}}})"});
  ASSERT_TRUE(rockd);
  TempDir dir;
  const json summary = RunTrainer(
      {"--endpoint", "127.0.0.1:" + std::to_string(rockd->port()), "--name", "sleepy-window", "--env", "sleepy",
       "--task", R"({"steps": 3, "distribution": "pareto", "scale_ms": 2, "shape": 0.7, "cap_ms": 1500})",
       "--action", "generate", "--gen-tokens", "2", "--group-size", "2", "--batch-groups", "1", "--alpha", "2",
       "--credits", "6", "--versions", "30", "--dim", "16", "--layers", "1", "--heads", "2", "--kv-heads", "1",
       "--hidden", "32", "--max-seq", "96", "--prompt-bytes", "48", "--summary", dir.path() + "/summary.json",
       "--ledger", dir.path() + "/ledger.jsonl"},
      dir.path());
  EXPECT_EQ(summary.at("versions"), 30) << summary.dump();
  ExpectEachTrajectoryConsumedOnce(ReadLedger(dir.path() + "/ledger.jsonl"), rockd->port(), "sleepy-window");
}

TEST(RockTrainer, ConnectionCutsLoseAndDoubleNothing) {
  auto rockd = RockdProcess::Start({.config_json = kBanditConfig});
  ASSERT_TRUE(rockd);
  TcpProxy proxy(rockd->port());
  TempDir dir;
  std::vector<std::string> args = BanditArgs(proxy.port(), dir.path(), "bandit-cuts");
  args.insert(args.end(), {"--versions", "10"});
  auto trainer = ChildProcess::Start(ROCK_TRAINER_BINARY, args);
  std::atomic<bool> running{true};
  // Every connection is cut 50 ms after it is made, so the run meets cuts however fast it trains
  // (cutting on a fixed period let a fast trainer finish before the first cut).
  std::thread cutter([&] {
    int seen = 0;
    while (running) {
      if (proxy.accepted() == seen) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      seen = proxy.accepted();
      std::this_thread::sleep_for(50ms);
      proxy.DropAll();
    }
  });
  const int code = trainer->WaitExit(kRunTimeout);
  running = false;
  cutter.join();
  ASSERT_EQ(code, 0) << trainer->Log();
  EXPECT_GT(proxy.dropped(), 0);
  const json summary = ReadJson(dir.path() + "/summary.json");
  EXPECT_EQ(summary.at("versions"), 10);
  const std::vector<json> ledger = ReadLedger(dir.path() + "/ledger.jsonl");
  EXPECT_EQ(static_cast<int64_t>(ledger.size()), summary.at("trajectories").at("consumed").get<int64_t>());
  EXPECT_GE(summary.at("trajectories").at("trained").get<int64_t>(), 10 * 16);
  ExpectEachTrajectoryConsumedOnce(ledger, rockd->port(), "bandit-cuts");
}

TEST(RockTrainer, ResumesFromItsCheckpointAfterAStopInTheMiddle) {
  auto rockd = RockdProcess::Start({.config_json = kBanditConfig});
  ASSERT_TRUE(rockd);
  TempDir dir;
  std::vector<std::string> args = BanditArgs(rockd->port(), dir.path(), "bandit-resume");
  args.insert(args.end(), {"--checkpoint-dir", dir.path() + "/ckpt", "--checkpoint-every", "1"});
  // First run: stopped by SIGTERM once it has made a few updates, with episodes in flight.
  auto first = ChildProcess::Start(ROCK_TRAINER_BINARY, args);
  ASSERT_TRUE(Eventually([&] { return first->Log().find("version 4 ") != std::string::npos; }, kRunTimeout))
      << first->Log();
  ASSERT_EQ(first->Stop(SIGTERM, 60s), 0) << first->Log();
  const json state = ReadJson(dir.path() + "/ckpt/trainer-state.json");
  const int64_t stopped_at = state.at("version").get<int64_t>();
  ASSERT_GE(stopped_at, 4);
  // Second run: the same directory, to a later version.
  args.insert(args.end(), {"--versions", std::to_string(stopped_at + 4)});
  auto second = ChildProcess::Start(ROCK_TRAINER_BINARY, args);
  ASSERT_EQ(second->WaitExit(kRunTimeout), 0) << second->Log();
  EXPECT_NE(second->Log().find("resumed version " + std::to_string(stopped_at)), std::string::npos) << second->Log();
  const json summary = ReadJson(dir.path() + "/summary.json");
  EXPECT_EQ(summary.at("versions"), stopped_at + 4);
  EXPECT_EQ(summary.at("curve").size(), 4u);  // this run's updates only
  // The bandit's text is words ("task: pull the green arm"): the resumed run's tokenizer has
  // them (that they come back from the checkpoint with their ids is Checkpoints.* in policy_tests).
  EXPECT_GT(summary.at("vocabulary_words").get<int>(), 0);
  const std::vector<json> ledger = ReadLedger(dir.path() + "/ledger.jsonl");
  ExpectEachTrajectoryConsumedOnce(ledger, rockd->port(), "bandit-resume");
  // What the first run left behind (episodes in flight, trajectories of unfinished groups) came
  // to the second as orphans; nothing rockd acknowledged is missing from the ledger.
  const json final_state = ReadJson(dir.path() + "/ckpt/trainer-state.json");
  const uint64_t acked = final_state.at("clients").at(0).at("acked").get<uint64_t>();
  std::set<uint64_t> consumed;
  for (const json& line : ledger) consumed.insert(line.at("seq").get<uint64_t>());
  const HttpReply listing = Http(rockd->port(), "GET", "/api/v1/trajectories?limit=10000&trainer=bandit-resume");
  ASSERT_EQ(listing.status, 200);
  int checked = 0;
  const json body = listing.json();
  for (const json& t : body.at("trajectories")) {
    const uint64_t seq = t.at("seq").get<uint64_t>();
    if (seq > acked) continue;
    EXPECT_TRUE(consumed.count(seq)) << "acked seq " << seq << " was never consumed";
    checked++;
  }
  EXPECT_GT(checked, 8 * 16);
}

}  // namespace
}  // namespace rock::test
