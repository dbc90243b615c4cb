// Episodes through the real rockd: the HTTP episode API, groups with redundancy, pools, the
// GEM-compatible API, and failover when pool sandboxes are killed or stopped mid-episode.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "envs/alfworld/alfworld_env.h"
#include "tests/support/chaos_config.h"
#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kConfig = kChaosConfig;

// What a client saw of one step.
struct Seen {
  std::string action;
  std::string observation;
  double reward = 0;
  bool terminated = false;
  bool truncated = false;
};

struct Transcript {
  std::string id;
  uint64_t seed = 0;
  json task;
  std::string first_observation;
  std::vector<Seen> steps;
};

std::string ErrorCode(const HttpReply& reply) {
  try {
    return reply.json()["error"]["code"].get<std::string>();
  } catch (const json::exception& e) {
    return std::string("no error code: ") + e.what() + " in " + reply.body;
  }
}

// The value of one series in Prometheus text, 0 when absent.
double MetricValue(const std::string& metrics, const std::string& series) {
  const std::size_t at = metrics.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stod(metrics.substr(at + series.size() + 2));
}

// Picks an admissible action with `random` (sometimes an invalid one: it counts as a step too).
std::string PickAction(const json& info, std::mt19937_64& random) {
  const json& commands = info.at("admissible_commands");
  if (commands.empty() || random() % 10 == 0) return "dance with the " + std::to_string(random() % 100);
  return commands.at(random() % commands.size()).get<std::string>();
}

// Replays the transcript's task, seed and actions on a fresh engine in this process.
std::string ReplayDiff(const Transcript& t, const std::string& data_dir = "") {
  alfworld::AlfworldEnv env(data_dir);
  auto reset = env.Reset(t.task, t.seed);
  if (!reset.ok()) return "reset: " + reset.status().ToString();
  if (reset->observation != t.first_observation) return "the first observation differs";
  for (std::size_t i = 0; i < t.steps.size(); ++i) {
    auto step = env.Step(t.steps[i].action);
    if (!step.ok()) return "step " + std::to_string(i + 1) + ": " + step.status().ToString();
    const Seen& seen = t.steps[i];
    if (step->observation != seen.observation || step->reward != seen.reward || step->terminated != seen.terminated ||
        step->truncated != seen.truncated) {
      return "step " + std::to_string(i + 1) + " (" + seen.action + ") differs: rockd said '" + seen.observation +
             "', the engine says '" + step->observation + "'";
    }
  }
  return "";
}

class RockdEpisodes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
    rockd_ = RockdProcess::Start({.config_json = kConfig});
    ASSERT_NE(rockd_, nullptr);
    ASSERT_TRUE(Eventually([&] { return Http(port(), "GET", "/readyz").status == 200; }, seconds(20)))
        << "the pool never reached its minimum:\n" << rockd_->Log();
  }

  uint16_t port() const { return rockd_->port(); }

  HttpReply Post(const std::string& target, const json& body) { return Http(port(), "POST", target, body.dump()); }

  // Starts an ALFWorld episode and plays it to its end with actions drawn from `seed`.
  Transcript Play(uint64_t seed, uint32_t max_steps) {
    Transcript t;
    t.seed = seed;
    const HttpReply started = Post("/api/v1/episodes", {{"env", "alfworld"}, {"seed", seed}, {"max_steps", max_steps}});
    EXPECT_EQ(started.status, 201) << started.body;
    if (started.status != 201) return t;
    const json first = started.json();
    t.id = first["id"];
    t.task = {{"max_steps", max_steps}};
    t.first_observation = first["observation"];
    json info = first["info"];
    std::mt19937_64 random(seed);
    for (uint32_t i = 0; i < max_steps + 1; ++i) {
      Seen seen;
      seen.action = PickAction(info, random);
      const HttpReply stepped = Post("/api/v1/episodes/" + t.id + "/step", {{"action", seen.action}});
      EXPECT_EQ(stepped.status, 200) << "episode " << t.id << " step " << i + 1 << ": " << stepped.body;
      if (stepped.status != 200) return t;
      const json reply = stepped.json();
      seen.observation = reply["observation"];
      seen.reward = reply["reward"];
      seen.terminated = reply["terminated"];
      seen.truncated = reply["truncated"];
      info = reply["info"];
      t.steps.push_back(seen);
      if (seen.terminated || seen.truncated) return t;
    }
    ADD_FAILURE() << "episode " << t.id << " did not end within max_steps";
    return t;
  }

  json PoolSandboxes() {
    json live = json::array();
    const json all = Http(port(), "GET", "/api/v1/sandboxes").json();
    for (const json& sb : all["sandboxes"]) {
      if (sb["env"] == "alfworld" && sb["state"] == "ready" && sb["pid"].get<int>() > 0) live.push_back(sb);
    }
    return live;
  }

  json GetPool(const std::string& env) {
    const json all = Http(port(), "GET", "/api/v1/pools").json();
    for (const json& pool : all["pools"]) {
      if (pool["env"] == env) return pool;
    }
    return nullptr;
  }

  std::unique_ptr<RockdProcess> rockd_;
};

TEST_F(RockdEpisodes, AnEpisodeIsPlayedRecordedAndReadBack) {
  const Transcript t = Play(/*seed=*/11, /*max_steps=*/6);
  ASSERT_FALSE(t.steps.empty());
  EXPECT_EQ(ReplayDiff(t), "");
  EXPECT_NE(t.first_observation.find("-= Welcome to TextWorld, ALFRED! =-"), std::string::npos);

  const json got = Http(port(), "GET", "/api/v1/episodes/" + t.id).json();
  EXPECT_EQ(got["state"], "finished");
  EXPECT_EQ(got["seed"], 11);
  EXPECT_EQ(got["observation"], t.first_observation);
  ASSERT_EQ(got["trajectory"].size(), t.steps.size());
  for (std::size_t i = 0; i < t.steps.size(); ++i) {
    EXPECT_EQ(got["trajectory"][i]["action"], t.steps[i].action);
    EXPECT_EQ(got["trajectory"][i]["observation"], t.steps[i].observation);
    EXPECT_GT(got["trajectory"][i]["duration_us"].get<int64_t>(), 0);
  }
  EXPECT_EQ(got["end_reason"], t.steps.back().terminated ? "terminated" : "truncated");

  const HttpReply after = Post("/api/v1/episodes/" + t.id + "/step", {{"action", "look"}});
  EXPECT_EQ(after.status, 409) << after.body;
  EXPECT_EQ(ErrorCode(after), "failed_precondition");

  // SQLite has every step (step 0 is the reset) once the store's batch is written.
  const std::string db = rockd_->data_dir() + "/rockd.db";
  const std::string rows = std::to_string(t.steps.size() + 1) + "\n";
  EXPECT_TRUE(Eventually([&] {
    return SqliteQuery(db, "SELECT count(*) FROM steps WHERE episode_id = '" + t.id + "'") == rows &&
           SqliteQuery(db, "SELECT status FROM episodes WHERE id = '" + t.id + "'") == "finished\n";
  })) << SqliteQuery(db, "SELECT * FROM episodes");
  EXPECT_EQ(SqliteQuery(db, "SELECT action FROM steps WHERE episode_id = '" + t.id + "' AND step = 1"),
            t.steps[0].action + "\n");
  const json listed = Http(port(), "GET", "/api/v1/episodes?state=finished").json()["episodes"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], t.id);
}

TEST_F(RockdEpisodes, BadBodiesAndUnknownIdsGetClearErrorsWhileOtherEpisodesCarryOn) {
  const HttpReply started = Post("/api/v1/episodes", {{"env", "alfworld"}, {"seed", 3}});
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string id = started.json()["id"];

  struct Case {
    std::string method, target, body, code, mentions;
  };
  const std::vector<Case> cases = {
      {"POST", "/api/v1/episodes", "{", "invalid_argument", "JSON"},
      {"POST", "/api/v1/episodes", "[]", "invalid_argument", "object"},
      {"POST", "/api/v1/episodes", "{}", "invalid_argument", "'env'"},
      {"POST", "/api/v1/episodes", R"({"env":"chess"})", "invalid_argument", "'env'"},
      {"POST", "/api/v1/episodes", R"({"env":"shell"})", "invalid_argument", "'env'"},
      {"POST", "/api/v1/episodes", R"({"env":"alfworld","seed":-1})", "invalid_argument", "seed"},
      {"POST", "/api/v1/episodes", R"({"env":"alfworld","seed":"7"})", "invalid_argument", "seed"},
      {"POST", "/api/v1/episodes", R"({"env":"alfworld","max_steps":0})", "invalid_argument", "max_steps"},
      {"POST", "/api/v1/episodes", R"({"env":"alfworld","task":[1]})", "invalid_argument", "'task'"},
      {"POST", "/api/v1/episodes", R"({"env":"alfworld","colour":"red"})", "invalid_argument", "colour"},
      {"POST", "/api/v1/episodes", R"({"env":"sleepy"})", "failed_precondition", "pool"},
      {"POST", "/api/v1/episodes", R"({"env":"alfworld","task":{"type":"juggle"}})", "invalid_argument", "task.type"},
      {"POST", "/api/v1/episodes/" + id + "/step", "{}", "invalid_argument", "'action'"},
      {"POST", "/api/v1/episodes/" + id + "/step", R"({"action":7})", "invalid_argument", "'action'"},
      {"POST", "/api/v1/episodes/" + id + "/step", R"({"action":"look","x":1})", "invalid_argument", "'x'"},
      {"POST", "/api/v1/episodes/" + id + "/step", "not json", "invalid_argument", "JSON"},
      {"POST", "/api/v1/episodes/ep-000000000000/step", R"({"action":"look"})", "not_found", "ep-000000000000"},
      {"GET", "/api/v1/episodes/ep-000000000000", "", "not_found", "ep-000000000000"},
      {"DELETE", "/api/v1/episodes/ep-000000000000", "", "not_found", "ep-000000000000"},
      {"GET", "/api/v1/episodes?state=done", "", "invalid_argument", "'state'"},
      {"POST", "/api/v1/groups", R"({"env":"alfworld"})", "invalid_argument", "'n'"},
      {"POST", "/api/v1/groups", R"({"env":"alfworld","n":0})", "invalid_argument", "n"},
      {"POST", "/api/v1/groups", R"({"env":"alfworld","n":60,"redundancy":5})", "invalid_argument", "cannot fit"},
      {"PUT", "/api/v1/pools/alfworld", R"({"min":5,"max":2})", "invalid_argument", "min"},
      {"PUT", "/api/v1/pools/alfworld", R"({"slots":0})", "invalid_argument", "slots"},
      {"PUT", "/api/v1/pools/alfworld", R"({"size":2,"min":1})", "invalid_argument", "'size'"},
      {"PUT", "/api/v1/pools/alfworld", R"({"limits":{"memory_mb":"lots"}})", "invalid_argument", "memory_mb"},
      {"PUT", "/api/v1/pools/alfworld", R"({"shape":"round"})", "invalid_argument", "shape"},
      {"PUT", "/api/v1/pools/chess", R"({"max":1})", "invalid_argument", "chess"},
  };
  for (const Case& c : cases) {
    const HttpReply reply = Http(port(), c.method, c.target, c.body);
    EXPECT_GE(reply.status, 400) << c.method << " " << c.target << " " << c.body;
    EXPECT_LT(reply.status, 500) << c.method << " " << c.target << " " << c.body << ": " << reply.body;
    EXPECT_EQ(ErrorCode(reply), c.code) << c.method << " " << c.target << " " << c.body << ": " << reply.body;
    EXPECT_NE(reply.body.find(c.mentions), std::string::npos)
        << c.method << " " << c.target << " " << c.body << " should mention " << c.mentions << ": " << reply.body;
  }

  // The episode that was running all along is untouched and still plays.
  const HttpReply step = Post("/api/v1/episodes/" + id + "/step", {{"action", "look"}});
  EXPECT_EQ(step.status, 200) << step.body;
  const json got = Http(port(), "GET", "/api/v1/episodes/" + id).json();
  EXPECT_EQ(got["state"], "running");
  EXPECT_EQ(got["steps"], 1);
  EXPECT_EQ(GetPool("alfworld")["max"], 4) << "a refused PUT changed nothing";

  const HttpReply deleted = Http(port(), "DELETE", "/api/v1/episodes/" + id);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  const HttpReply again = Http(port(), "DELETE", "/api/v1/episodes/" + id);
  EXPECT_EQ(again.status, 409) << again.body;
  const HttpReply cancelled = Post("/api/v1/episodes/" + id + "/step", {{"action", "look"}});
  EXPECT_EQ(ErrorCode(cancelled), "aborted") << cancelled.body;
}

TEST_F(RockdEpisodes, AGroupWithRedundancyCancelsTheRestOnceNHaveFinished) {
  const HttpReply started = Post("/api/v1/groups", {{"env", "alfworld"}, {"seed", 5}, {"max_steps", 2}, {"n", 2}, {"redundancy", 2}});
  ASSERT_EQ(started.status, 201) << started.body;
  const json group = started.json();
  ASSERT_EQ(group["episodes"].size(), 4u);
  std::vector<std::string> ids;
  for (const json& e : group["episodes"]) ids.push_back(e["id"]);
  // Members 1 and 3 finish first (two steps each); then 0 and 2 are redundant.
  for (int index : {1, 3}) {
    for (int i = 0; i < 2; ++i) {
      const HttpReply step = Post("/api/v1/episodes/" + ids[index] + "/step", {{"action", "look"}});
      ASSERT_EQ(step.status, 200) << step.body;
    }
  }
  for (int index : {0, 2}) {
    const json got = Http(port(), "GET", "/api/v1/episodes/" + ids[index]).json();
    EXPECT_EQ(got["state"], "cancelled") << got.dump();
    EXPECT_EQ(got["end_reason"], "redundant");
    EXPECT_EQ(got["group"], group["group"]);
    const HttpReply step = Post("/api/v1/episodes/" + ids[index] + "/step", {{"action", "look"}});
    EXPECT_EQ(ErrorCode(step), "aborted") << step.body;
  }
  for (int index : {1, 3}) EXPECT_EQ(Http(port(), "GET", "/api/v1/episodes/" + ids[index]).json()["state"], "finished");
  EXPECT_TRUE(Eventually([&] { return GetPool("alfworld")["slots_busy"] == 0; })) << "every slot is free again";
  EXPECT_NE(Http(port(), "GET", "/metrics").body.find("rockd_episode_redundant_cancellations_total{env=\"alfworld\"} 2"),
            std::string::npos);
}

TEST_F(RockdEpisodes, QueuedEpisodesStartInArrivalOrderWhenASlotFrees) {
  const HttpReply pool = Http(port(), "PUT", "/api/v1/pools/sleepy", R"({"min":1,"max":1,"slots":1})");
  ASSERT_EQ(pool.status, 200) << pool.body;
  ASSERT_TRUE(Eventually([&] { return GetPool("sleepy")["sandboxes"]["ready"] == 1; }, seconds(20)));
  const json task = {{"steps", 3}, {"distribution", "fixed"}, {"scale_ms", 1}};
  const HttpReply first = Post("/api/v1/episodes", {{"env", "sleepy"}, {"task", task}});
  ASSERT_EQ(first.status, 201) << first.body;

  // Two more wait in the queue, second before third.
  std::vector<HttpReply> waiting(2);
  std::thread second([&] { waiting[0] = Post("/api/v1/episodes", {{"env", "sleepy"}, {"task", task}, {"seed", 2}}); });
  ASSERT_TRUE(Eventually([&] { return GetPool("sleepy")["queued"] == 1; }));
  std::thread third([&] { waiting[1] = Post("/api/v1/episodes", {{"env", "sleepy"}, {"task", task}, {"seed", 3}}); });
  ASSERT_TRUE(Eventually([&] { return GetPool("sleepy")["queued"] == 2; }));

  // The first ending (here: deleted) frees its slot for the second at once.
  ASSERT_EQ(Http(port(), "DELETE", "/api/v1/episodes/" + first.json()["id"].get<std::string>()).status, 200);
  second.join();
  ASSERT_EQ(waiting[0].status, 201) << waiting[0].body;
  EXPECT_EQ(waiting[0].json()["seed"], 2);
  EXPECT_EQ(GetPool("sleepy")["queued"], 1) << "the third still waits";
  // The second plays to its end; that frees the slot for the third.
  const std::string id = waiting[0].json()["id"];
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Post("/api/v1/episodes/" + id + "/step", {{"action", "a"}}).status, 200);
  third.join();
  ASSERT_EQ(waiting[1].status, 201) << waiting[1].body;
  EXPECT_EQ(waiting[1].json()["seed"], 3);
}

TEST_F(RockdEpisodes, APoolGrowsWhileEpisodesWait) {
  const HttpReply pool = Http(port(), "PUT", "/api/v1/pools/sleepy", R"({"min":0,"max":3,"slots":1})");
  ASSERT_EQ(pool.status, 200) << pool.body;
  EXPECT_EQ(pool.json()["sandboxes"]["ready"], 0);
  const json task = {{"steps", 1}, {"distribution", "fixed"}, {"scale_ms", 1}};
  const HttpReply group = Post("/api/v1/groups", {{"env", "sleepy"}, {"task", task}, {"n", 3}});
  ASSERT_EQ(group.status, 201) << group.body;
  std::set<std::string> sandboxes;
  const json started = group.json();
  for (const json& e : started["episodes"]) {
    ASSERT_TRUE(e.contains("id")) << e.dump();
    sandboxes.insert(Http(port(), "GET", "/api/v1/episodes/" + e["id"].get<std::string>()).json()["sandbox"]);
  }
  EXPECT_EQ(sandboxes.size(), 3u) << "one slot each: three sandboxes were made for the three episodes";
  EXPECT_EQ(GetPool("sleepy")["sandboxes"]["ready"], 3);
  const HttpReply too_big = Post("/api/v1/groups", {{"env", "sleepy"}, {"task", task}, {"n", 4}});
  EXPECT_EQ(ErrorCode(too_big), "invalid_argument") << "4 can never fit 3 slots: " << too_big.body;
}

TEST_F(RockdEpisodes, PoolsAreListedResizedAndShrunkWhenIdle) {
  json pool = GetPool("alfworld");
  ASSERT_TRUE(pool.is_object());
  EXPECT_EQ(pool["min"], 2);
  EXPECT_EQ(pool["slots"], 16);
  EXPECT_EQ(pool["sandboxes"]["ready"], 2);
  EXPECT_EQ(pool["limits"]["memory_mb"], 256);

  HttpReply put = Http(port(), "PUT", "/api/v1/pools/alfworld", R"({"size":3})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["min"], 3);
  EXPECT_EQ(put.json()["max"], 3);
  EXPECT_TRUE(Eventually([&] { return GetPool("alfworld")["sandboxes"]["ready"] == 3; }, seconds(20)));
  EXPECT_EQ(Http(port(), "GET", "/readyz").status, 200);

  // Shrinking: the minimum drops and idle sandboxes above it go after idle_s.
  put = Http(port(), "PUT", "/api/v1/pools/alfworld", R"({"min":1,"max":3,"idle_s":1})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_TRUE(Eventually([&] { return GetPool("alfworld")["sandboxes"]["ready"] == 1; }, seconds(20)))
      << GetPool("alfworld").dump();
  EXPECT_TRUE(Eventually([&] { return PoolSandboxes().size() == 1; }, seconds(20))) << PoolSandboxes().dump();

  // New limits drain the old sandbox into a new one.
  const json remaining = PoolSandboxes();
  ASSERT_EQ(remaining.size(), 1u) << remaining.dump();
  const std::string old_id = remaining[0]["id"];
  put = Http(port(), "PUT", "/api/v1/pools/alfworld", R"({"limits":{"memory_mb":128}})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_TRUE(Eventually([&] {
    const json live = PoolSandboxes();
    return live.size() == 1 && live[0]["id"] != old_id && live[0]["limits"]["memory_mb"] == 128;
  }, seconds(20))) << PoolSandboxes().dump();
  const HttpReply started = Post("/api/v1/episodes", {{"env", "alfworld"}});
  EXPECT_EQ(started.status, 201) << started.body;
}

TEST_F(RockdEpisodes, GemEndpointsDriveAFullEpisode) {
  const HttpReply made = Post("/apis/v1/envs/gem/make", {{"env_id", "alfworld"}, {"max_steps", 4}});
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string handle = made.json()["sandbox_id"];
  const HttpReply early = Post("/apis/v1/envs/gem/step", {{"sandbox_id", handle}, {"action", "look"}});
  EXPECT_EQ(ErrorCode(early), "failed_precondition") << early.body;

  const HttpReply reset = Post("/apis/v1/envs/gem/reset", {{"sandbox_id", handle}, {"seed", 21}});
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_NE(reset.json()["observation"].get<std::string>().find("Your task is to:"), std::string::npos);
  EXPECT_TRUE(reset.json()["info"]["admissible_commands"].is_array());
  Transcript t{.id = handle, .seed = 21, .task = {{"max_steps", 4}}, .first_observation = reset.json()["observation"]};
  json reply;
  for (int i = 0; i < 4; ++i) {
    const HttpReply step = Post("/apis/v1/envs/gem/step", {{"sandbox_id", handle}, {"action", "look"}});
    ASSERT_EQ(step.status, 200) << step.body;
    reply = step.json();
    for (const char* key : {"observation", "reward", "terminated", "truncated", "info"}) {
      EXPECT_TRUE(reply.contains(key)) << key << " missing: " << step.body;
    }
    t.steps.push_back({"look", reply["observation"], reply["reward"], reply["terminated"], reply["truncated"]});
  }
  EXPECT_TRUE(reply["truncated"].get<bool>()) << "max_steps 4 ends the episode at the fourth step";
  EXPECT_EQ(ReplayDiff(t), "");

  // A second reset starts a new episode with the same handle.
  const HttpReply again = Post("/apis/v1/envs/gem/reset", {{"sandbox_id", handle}, {"seed", 21}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["observation"], t.first_observation) << "same seed, same game";

  const HttpReply listed = Post("/apis/v1/envs/gem/list", {{"sandbox_id", handle}});
  EXPECT_EQ(listed.status, 200) << listed.body;
  const HttpReply closed = Post("/apis/v1/envs/gem/close", {{"sandbox_id", handle}});
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(closed.json()["sandbox_id"], handle);
  for (const char* op : {"step", "reset", "close"}) {
    const HttpReply gone = Post(std::string("/apis/v1/envs/gem/") + op, {{"sandbox_id", handle}, {"action", "look"}});
    EXPECT_EQ(gone.status, 404) << op << ": " << gone.body;
  }
  EXPECT_EQ(ErrorCode(Post("/apis/v1/envs/gem/make", {{"env_id", "chess"}})), "invalid_argument");
  EXPECT_EQ(ErrorCode(Post("/apis/v1/envs/gem/make", json::object())), "invalid_argument");
  EXPECT_EQ(ErrorCode(Post("/apis/v1/envs/gem/step", {{"action", "look"}})), "invalid_argument");
  EXPECT_EQ(ErrorCode(Http(port(), "POST", "/apis/v1/envs/gem/reset", "{\"sandbox_id\":")), "invalid_argument");
}

TEST(RockdPoolReadiness, ReadyzWaitsForEveryPoolsMinimum) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  // A worker that cannot start keeps the default ALFWorld pool below its minimum of one.
  auto rockd = RockdProcess::Start({.config_json = R"({"sandbox":{"worker":"/bin/false"}})"});
  ASSERT_NE(rockd, nullptr);
  EXPECT_TRUE(Eventually([&] { return Http(rockd->port(), "GET", "/api/v1/pools").json()["pools"][0]["sandboxes"]["quarantined"] > 0; }, seconds(20)));
  const HttpReply ready = Http(rockd->port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("pools are below their minimum"), std::string::npos) << ready.body;
  EXPECT_EQ(Http(rockd->port(), "GET", "/healthz").status, 200) << "alive, only not ready";
  // Without a minimum, the same rockd is ready.
  ASSERT_EQ(Http(rockd->port(), "PUT", "/api/v1/pools/alfworld", R"({"min":0})").status, 200);
  EXPECT_EQ(Http(rockd->port(), "GET", "/readyz").status, 200);
}

// A failover that finds no healthy sandbox (the only one is quarantined and the pool is at its
// maximum) answers the waiting step within the queue timeout instead of never.
TEST(RockdEpisodeRecovery, ARebuildWithNoHealthySandboxFailsWithinTheQueueTimeout) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  auto rockd = RockdProcess::Start({.config_json = R"({
    "restart": {"crash_loop_failures": 1},
    "episodes": {"queue_timeout_ms": 500},
    "pools": {"alfworld": {"min": 1, "max": 1, "slots": 4}}})"});
  ASSERT_NE(rockd, nullptr);
  ASSERT_TRUE(Eventually([&] { return Http(rockd->port(), "GET", "/readyz").status == 200; }, seconds(20)));
  const HttpReply started = Http(rockd->port(), "POST", "/api/v1/episodes", R"({"env":"alfworld","seed":9})");
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string id = started.json()["id"];
  const json listed = Http(rockd->port(), "GET", "/api/v1/sandboxes").json();
  ASSERT_EQ(listed["sandboxes"].size(), 1u) << listed.dump();
  ASSERT_EQ(kill(listed["sandboxes"][0]["pid"].get<pid_t>(), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] {
    return Http(rockd->port(), "GET", "/api/v1/pools").json()["pools"][0]["sandboxes"]["quarantined"] == 1;
  })) << Http(rockd->port(), "GET", "/api/v1/pools").body;
  const HttpReply step = Http(rockd->port(), "POST", "/api/v1/episodes/" + id + "/step", R"({"action":"look"})");
  EXPECT_EQ(step.status, 503) << step.body;
  EXPECT_NE(step.body.find("no healthy sandbox to rebuild it on"), std::string::npos) << step.body;
  const json got = Http(rockd->port(), "GET", "/api/v1/episodes/" + id).json();
  EXPECT_EQ(got["state"], "failed") << got.dump();
}

// An episode live when rockd is killed cannot go on (its sandbox and the balancer's memory of it
// are gone); the next rockd on the data dir records it as failed, keeping its steps. That holds
// too for episodes and groups killed right after their 201: rockd answers a start only once it
// is on disk.
TEST(RockdEpisodeRecovery, EpisodesLiveWhenRockdIsKilledAreFailedOnRestart) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::string id;
  std::vector<std::string> just_started;
  {
    auto rockd = RockdProcess::Start({.data_dir = data});
    ASSERT_NE(rockd, nullptr);
    ASSERT_TRUE(Eventually([&] { return Http(rockd->port(), "GET", "/readyz").status == 200; }, seconds(20)));
    const HttpReply started = Http(rockd->port(), "POST", "/api/v1/episodes", R"({"env":"alfworld","seed":8})");
    ASSERT_EQ(started.status, 201) << started.body;
    id = started.json()["id"];
    ASSERT_EQ(Http(rockd->port(), "POST", "/api/v1/episodes/" + id + "/step", R"({"action":"look"})").status, 200);
    ASSERT_TRUE(Eventually([&] {
      return SqliteQuery(data + "/rockd.db", "SELECT steps FROM episodes WHERE id = '" + id + "'") == "1\n";
    })) << "the step never reached SQLite";
    const HttpReply one = Http(rockd->port(), "POST", "/api/v1/episodes", R"({"env":"alfworld","seed":9})");
    ASSERT_EQ(one.status, 201) << one.body;
    just_started.push_back(one.json()["id"]);
    const HttpReply group = Http(rockd->port(), "POST", "/api/v1/groups", R"({"env":"alfworld","seed":10,"n":2})");
    ASSERT_EQ(group.status, 201) << group.body;
    const json members = group.json().at("episodes");
    for (const json& member : members) just_started.push_back(member.at("id"));
    ASSERT_EQ(rockd->Stop(SIGKILL), 128 + SIGKILL);
  }
  auto rockd = RockdProcess::Start({.data_dir = data});
  ASSERT_NE(rockd, nullptr);
  ASSERT_TRUE(Eventually([&] {
    return Http(rockd->port(), "GET", "/api/v1/episodes/" + id).json().value("state", "") == "failed";
  })) << Http(rockd->port(), "GET", "/api/v1/episodes/" + id).body;
  const json got = Http(rockd->port(), "GET", "/api/v1/episodes/" + id).json();
  EXPECT_EQ(got["end_reason"], "rockd restarted");
  EXPECT_EQ(got["trajectory"].size(), 1u);
  EXPECT_FALSE(got["ended_ms"].is_null());
  ASSERT_EQ(just_started.size(), 3u);
  for (const std::string& started : just_started) {
    const json later = Http(rockd->port(), "GET", "/api/v1/episodes/" + started).json();
    EXPECT_EQ(later.value("state", ""), "failed") << started << ": " << later.dump();
    EXPECT_EQ(later.value("end_reason", ""), "rockd restarted") << later.dump();
    EXPECT_EQ(later.value("trajectory", json(nullptr)), json::array()) << later.dump();
  }
}

// Every task form of the ALFWorld env, started through rockd: a generated game by type and seed,
// and real ALFWorld data (trials in ALFWorld's json_2.1.1 layout) from the configured data dir, by
// split and index or by path.
TEST(RockdAlfworldTasks, EveryTaskFormStartsThroughTheEpisodeApi) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: pool sandboxes use namespaces and cgroups";
  const std::string data = ROCK_ALFWORLD_FIXTURES;
  auto rockd = RockdProcess::Start({.config_json = json{{"alfworld", {{"data_dir", data}}},
                                                        {"pools", {{"alfworld", {{"min", 1}, {"slots", 4}}}}}}
                                                      .dump()});
  ASSERT_NE(rockd, nullptr);
  const std::string trial = "json_2.1.1/valid_seen/pick_and_place_simple-Watch-None-Drawer-301/trial_T20190907_013421_552209";
  const std::vector<std::pair<json, std::string>> tasks = {
      {{{"type", "pick_heat_then_place_in_recep"}, {"seed", 9}}, "put a hot"},
      {{{"type", "pick_cool_then_place_in_recep"}, {"split", "train"}, {"index", 0}}, "put a cool tomato in microwave"},
      {{{"type", "look_at_obj_in_light"}, {"split", "valid_unseen"}, {"index", 0}}, "examine the cd with the desklamp"},
      {{{"gamefile", trial}}, "put a watch in drawer"},
  };
  for (const auto& [task, says] : tasks) {
    const HttpReply started = Http(rockd->port(), "POST", "/api/v1/episodes", json{{"env", "alfworld"}, {"task", task}, {"seed", 1}}.dump());
    ASSERT_EQ(started.status, 201) << task.dump() << ": " << started.body;
    const json first = started.json();
    EXPECT_NE(first["info"]["task"].get<std::string>().find(says), std::string::npos) << task.dump() << ": " << first.dump();
    EXPECT_TRUE(first["info"]["game_id"].is_string());
    Transcript t{.id = first["id"], .seed = 1, .task = task, .first_observation = first["observation"]};
    for (const std::string action : first["info"]["admissible_commands"]) {
      const HttpReply step = Http(rockd->port(), "POST", "/api/v1/episodes/" + t.id + "/step", json{{"action", action}}.dump());
      ASSERT_EQ(step.status, 200) << step.body;
      const json reply = step.json();
      t.steps.push_back({action, reply["observation"], reply["reward"], reply["terminated"], reply["truncated"]});
      if (t.steps.size() == 5) break;
    }
    EXPECT_EQ(ReplayDiff(t, data), "") << task.dump();
  }
  const HttpReply missing = Http(rockd->port(), "POST", "/api/v1/episodes",
                                 R"({"env":"alfworld","task":{"gamefile":"json_2.1.1/nowhere"}})");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_NE(missing.body.find("nowhere"), std::string::npos) << missing.body;
}

// The issue's acceptance run: 1,000 ALFWorld episodes through the HTTP API while pool sandboxes
// are killed (SIGKILL) and stopped (SIGSTOP) at random. Every episode must complete, with the
// transcript a fresh engine produces from the same task, seed and actions.
TEST_F(RockdEpisodes, ThousandEpisodesCompleteWhileSandboxesAreKilledAndStopped) {
  WsClient events(port(), "/ws/events");
  ASSERT_TRUE(events.connected()) << events.error();
  constexpr int kEpisodes = 1000, kClients = 8;
  std::vector<Transcript> transcripts(kEpisodes);
  std::atomic<int> next{0}, completed{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = next++; i < kEpisodes; i = next++) {
        transcripts[i] = Play(1000 + i, 3 + i % 10);
        ++completed;
      }
    });
  }
  // One signal per 40 finished episodes, SIGKILL and SIGSTOP in turn, to a random ready pool
  // sandbox: paced by progress, not by the clock, so a slow or fast machine sees the same chaos.
  std::map<int, int> signals_sent;
  std::thread chaos([&] {
    std::mt19937_64 random(42);
    for (int round = 1; !done; std::this_thread::sleep_for(milliseconds(5))) {
      if (completed < round * 40) continue;
      const json live = PoolSandboxes();
      if (live.empty()) continue;
      const int signal = round % 2 == 0 ? SIGKILL : SIGSTOP;
      if (kill(live[random() % live.size()]["pid"].get<pid_t>(), signal) == 0) ++signals_sent[signal];
      ++round;
    }
  });
  for (auto& client : clients) client.join();
  done = true;
  chaos.join();

  EXPECT_GE(signals_sent[SIGKILL], 10);
  EXPECT_GE(signals_sent[SIGSTOP], 10);
  int diverged = 0;
  uint64_t failovers = 0;
  for (const Transcript& t : transcripts) {
    ASSERT_FALSE(t.steps.empty()) << "episode with seed " << t.seed << " did not complete";
    ASSERT_TRUE(t.steps.back().terminated || t.steps.back().truncated) << t.id;
    const std::string diff = ReplayDiff(t);
    if (!diff.empty() && ++diverged <= 5) ADD_FAILURE() << "episode " << t.id << " (seed " << t.seed << "): " << diff;
  }
  EXPECT_EQ(diverged, 0);
  // rockd's own record agrees with what the clients saw (the last 1,024 are still in memory).
  for (int i = 0; i < kEpisodes; i += 97) {
    const json got = Http(port(), "GET", "/api/v1/episodes/" + transcripts[i].id).json();
    EXPECT_EQ(got["state"], "finished") << got.dump();
    ASSERT_EQ(got["trajectory"].size(), transcripts[i].steps.size());
    for (std::size_t s = 0; s < transcripts[i].steps.size(); ++s) {
      EXPECT_EQ(got["trajectory"][s]["observation"], transcripts[i].steps[s].observation);
    }
  }
  const json finished = Http(port(), "GET", "/api/v1/episodes?state=finished").json();
  for (const json& e : finished["episodes"]) failovers += e["failovers"].get<uint64_t>();
  EXPECT_GT(failovers, 0u) << "the chaos never hit a running episode";
  std::printf("%d episodes, %d SIGKILL and %d SIGSTOP sent, %llu failovers, none diverged\n", kEpisodes,
              signals_sent[SIGKILL], signals_sent[SIGSTOP], static_cast<unsigned long long>(failovers));
  EXPECT_TRUE(Http(port(), "GET", "/api/v1/episodes?state=failed").json()["episodes"].empty());

  // Failovers are counted and published.
  const std::string metrics = Http(port(), "GET", "/metrics").body;
  EXPECT_GT(MetricValue(metrics, R"(rockd_episode_failovers_total{env="alfworld"})"), 0);
  EXPECT_EQ(MetricValue(metrics, R"(rockd_episodes_ended_total{env="alfworld",outcome="terminated"})") +
                MetricValue(metrics, R"(rockd_episodes_ended_total{env="alfworld",outcome="truncated"})"),
            kEpisodes);
  bool saw_failover = false;
  for (int i = 0; i < 100000 && !saw_failover; ++i) {
    auto message = events.Read(seconds(5));
    if (!message) break;
    const json event = json::parse(*message);
    if (event["type"] != "failover") continue;
    saw_failover = true;
    EXPECT_TRUE(event["data"]["from"].is_string()) << event.dump();
    EXPECT_TRUE(event["data"]["replayed_steps"].is_number()) << event.dump();
  }
  EXPECT_TRUE(saw_failover);
}

TEST_F(RockdEpisodes, EpisodeMetricsPassPromtool) {
  Play(/*seed=*/4, /*max_steps=*/3);
  const std::string metrics = Http(port(), "GET", "/metrics").body;
  for (const char* name : {"rockd_episodes{", "rockd_episode_steps_total{", "rockd_episode_step_duration_seconds_bucket{",
                           "rockd_episode_queue_depth{", "rockd_episode_failovers_total{",
                           "rockd_episode_redundant_cancellations_total{", "rockd_pool_sandboxes{", "rockd_pool_slots{"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name;
  }
  EXPECT_NE(metrics.find("rockd_episode_steps_total{env=\"alfworld\"} 3"), std::string::npos);
  TempDir dir;
  const std::string path = dir.path() + "/metrics.txt";
  std::ofstream(path) << metrics;
  ASSERT_EQ(std::system("command -v promtool >/dev/null"), 0) << "promtool (Debian package prometheus) is required";
  EXPECT_EQ(std::system(("promtool check metrics < " + path + " 2>&1").c_str()), 0);
}

}  // namespace
}  // namespace rock::test
