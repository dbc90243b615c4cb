// SWE-bench episodes through the real rockd, each in its own sandbox: the episode API, GEM and
// the trainer stream grade the shipped instances, and hostile actions (rm -rf /, a fork bomb,
// network access, reading another episode's workspace) stay inside the sandbox they ran in.
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kInstance = "rockd-tasks__minicalc-2";

// The reference patch of a shipped instance, read from the task set rockd serves.
std::string ReferencePatch(const std::string& instance_id) {
  std::ifstream in(std::string(ROCK_SWEBENCH_DATA) + "/instances.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    const json instance = json::parse(line);
    if (instance.at("instance_id") == instance_id) return instance.at("patch").get<std::string>();
  }
  return "";
}

std::string Bash(const std::string& command, int timeout_s = 0) {
  json action = {{"tool", "bash"}, {"command", command}};
  if (timeout_s > 0) action["timeout_s"] = timeout_s;
  return action.dump();
}

std::string ApplyPatch(const std::string& patch) { return Bash("git apply <<'ROCK_PATCH_END'\n" + patch + "ROCK_PATCH_END\n"); }

class RockdSwebench : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: SWE-bench episodes run in sandboxes (namespaces and cgroups)";
    rockd_ = RockdProcess::Start({.config_json = R"({"pools": {"alfworld": {"min": 0},
        "swebench": {"min": 0, "max": 3, "slots": 1, "limits": {"memory_mb": 512, "pids": 128, "disk_mb": 256}}},
        "episodes": {"step_timeout_ms": 120000}})"});
    ASSERT_NE(rockd_, nullptr);
  }

  uint16_t port() const { return rockd_->port(); }
  // A step runs a shell command in a sandbox (rm -rf / walks a whole root): well within the
  // episode's step timeout, but on a loaded host or under ASan it can take longer than the
  // client's usual 10 s.
  HttpReply Post(const std::string& target, const json& body) {
    return Http(port(), "POST", target, body.dump(), {}, std::chrono::seconds(120));
  }

  // Starts an episode of `instance_id`; its id, or empty (with a test failure).
  std::string Start(const std::string& instance_id, json* first = nullptr) {
    const HttpReply started = Post("/api/v1/episodes", {{"env", "swebench"}, {"task", {{"instance_id", instance_id}}}});
    EXPECT_EQ(started.status, 201) << started.body;
    if (started.status != 201) return "";
    if (first != nullptr) *first = started.json();
    return started.json().at("id").get<std::string>();
  }

  json Step(const std::string& id, const std::string& action) {
    const HttpReply step = Post("/api/v1/episodes/" + id + "/step", {{"action", action}});
    EXPECT_EQ(step.status, 200) << step.body;
    return step.status == 200 ? step.json() : json{{"observation", step.body}, {"info", json::object()}};
  }

  std::unique_ptr<RockdProcess> rockd_;
};

TEST_F(RockdSwebench, TheEpisodeApiGradesAnInstanceInASandbox) {
  json first;
  const std::string id = Start(kInstance, &first);
  ASSERT_FALSE(id.empty());
  EXPECT_NE(first.at("observation").get<std::string>().find("You are in a checkout of rockd-tasks/minicalc at /workspace/repo"),
            std::string::npos)
      << first.dump();
  EXPECT_EQ(first.at("info").at("instance_id"), kInstance);

  const json who = Step(id, Bash("id -u; pwd; git log --oneline | wc -l"));
  EXPECT_EQ(who.at("observation"), "65534\n/workspace/repo\n2\n") << who.dump();
  const json malformed = Step(id, "{not json");
  EXPECT_TRUE(malformed.at("observation").get<std::string>().starts_with("Error: ")) << malformed.dump();
  EXPECT_FALSE(malformed.at("terminated").get<bool>());

  const json applied = Step(id, ApplyPatch(ReferencePatch(kInstance)));
  EXPECT_EQ(applied.at("info").at("exit_code"), 0) << applied.dump();
  const json graded = Step(id, R"({"tool":"submit"})");
  EXPECT_EQ(graded.at("reward"), 1.0) << graded.dump(2);
  EXPECT_TRUE(graded.at("terminated").get<bool>());
  EXPECT_TRUE(graded.at("info").at("report").at("resolved").get<bool>());

  const HttpReply recorded = Http(port(), "GET", "/api/v1/episodes/" + id);
  ASSERT_EQ(recorded.status, 200);
  EXPECT_EQ(recorded.json().at("steps"), 4) << recorded.body;
  EXPECT_EQ(recorded.json().at("trajectory").size(), 4u) << recorded.body;
  EXPECT_EQ(recorded.json().at("state"), "finished") << recorded.body;
}

TEST_F(RockdSwebench, GemAndTheTrainerStreamPlayItToo) {
  const HttpReply made = Post("/apis/v1/envs/gem/make", {{"env_id", "swebench"}, {"task", {{"instance_id", kInstance}}}});
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string handle = made.json().at("sandbox_id");
  const HttpReply reset = Post("/apis/v1/envs/gem/reset", {{"sandbox_id", handle}});
  ASSERT_EQ(reset.status, 200) << reset.body;
  const HttpReply empty = Post("/apis/v1/envs/gem/step", {{"sandbox_id", handle}, {"action", R"({"tool":"submit"})"}});
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.json().at("reward"), 0.0) << empty.body;
  EXPECT_FALSE(empty.json().at("info").at("report").at("tests_status").at("FAIL_TO_PASS").at("failure").empty());

  WsClient ws(port(), "/ws/trainer");
  ASSERT_TRUE(ws.connected()) << ws.error();
  const auto next = [&ws](const std::string& type) {
    for (int i = 0; i < 20; ++i) {
      const auto text = ws.Read(seconds(60));
      if (!text) return json();
      const json message = json::parse(*text);
      if (message.at("type") == type) return message;
    }
    return json();
  };
  ASSERT_TRUE(ws.Send(json{{"type", "hello"}, {"trainer", "swe"}, {"credits", 4}}.dump()));
  ASSERT_FALSE(next("welcome").is_null());
  ASSERT_TRUE(ws.Send(json{{"type", "start"}, {"req", 1}, {"env", "swebench"}, {"task", {{"instance_id", kInstance}}}}.dump()));
  const json step0 = next("obs");
  ASSERT_FALSE(step0.is_null());
  const std::string episode = step0.at("episode");
  ASSERT_TRUE(ws.Send(json{{"type", "act"}, {"episode", episode}, {"step", 1}, {"action", ApplyPatch(ReferencePatch(kInstance))}}.dump()));
  ASSERT_FALSE(next("obs").is_null());
  ASSERT_TRUE(ws.Send(json{{"type", "act"}, {"episode", episode}, {"step", 2}, {"action", R"({"tool":"submit"})"}}.dump()));
  const json last = next("obs");
  ASSERT_FALSE(last.is_null());
  EXPECT_TRUE(last.at("terminated").get<bool>());
  const json trajectory = next("trajectory");
  ASSERT_FALSE(trajectory.is_null());
  EXPECT_EQ(trajectory.at("env"), "swebench");
  EXPECT_EQ(trajectory.at("return"), 1.0) << trajectory.dump();
  EXPECT_EQ(trajectory.at("steps").size(), 2u);
}

TEST_F(RockdSwebench, HostileActionsStayInTheirSandbox) {
  const std::string victim = Start(kInstance);
  const std::string attacker = Start(kInstance);
  ASSERT_FALSE(victim.empty());
  ASSERT_FALSE(attacker.empty());
  Step(victim, Bash("echo s3cret-of-the-victim > SECRET.txt && cat SECRET.txt"));

  // Another episode's workspace is in another mount namespace: nowhere to be found.
  const json look = Step(attacker, Bash("cat /proc/*/root/workspace/repo/SECRET.txt; find / -name SECRET.txt 2>/dev/null; "
                                        "grep -rs s3cret-of-the-victim /workspace /tmp /proc/*/cwd | head -1; echo done"));
  EXPECT_EQ(look.at("observation").get<std::string>().find("s3cret-of-the-victim"), std::string::npos) << look.dump();

  // rm -rf / leaves the read-only root and the host alone; only the attacker's workspace goes.
  const json removed = Step(attacker, Bash("rm -rf / 2>/dev/null; ls /usr/bin | wc -l; ls /workspace | wc -l"));
  const std::string counts = removed.at("observation").get<std::string>();
  EXPECT_GT(std::stoi(counts), 100) << counts;
  EXPECT_TRUE(std::filesystem::exists("/usr/bin/bash"));

  // A fork bomb hits the sandbox's pid limit and dies, every process of it, with the command.
  const json bomb = Step(attacker, Bash(":(){ :|:& };:; sleep 30", 3));
  EXPECT_TRUE(bomb.at("info").at("timed_out").get<bool>()) << bomb.dump();
  const json after = Step(attacker, Bash("echo still here; ls /proc | grep -c '^[0-9]'"));
  const std::string survivors = after.at("observation").get<std::string>();
  ASSERT_TRUE(survivors.starts_with("still here\n")) << after.dump();
  EXPECT_LE(std::stoi(survivors.substr(11)), 6) << "processes left in the sandbox: " << survivors;

  // No network: not rockd on the host's loopback, not anything else.
  const json net = Step(attacker, Bash("python3 -c \"import socket; socket.create_connection(('127.0.0.1', " +
                                       std::to_string(port()) + "), timeout=2)\" 2>&1 | tail -1", 10));
  EXPECT_NE(net.at("observation").get<std::string>().find("Error"), std::string::npos) << net.dump();

  // The victim never noticed, and grades as usual.
  const json intact = Step(victim, Bash("cat SECRET.txt"));
  EXPECT_EQ(intact.at("observation"), "s3cret-of-the-victim\n");
  Step(victim, ApplyPatch(ReferencePatch(kInstance)));
  EXPECT_EQ(Step(victim, R"({"tool":"submit"})").at("reward"), 1.0);
  EXPECT_EQ(Http(port(), "GET", "/healthz").status, 200);
}

TEST(RockdSwebenchReuse, TheNextEpisodeOnASandboxFindsNothingTheLastOneLeft) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: SWE-bench episodes run in sandboxes (namespaces and cgroups)";
  // One sandbox, so the second episode runs where the first did.
  auto rockd = RockdProcess::Start({.config_json = R"({"pools": {"alfworld": {"min": 0}, "swebench": {"min": 1, "max": 1}}})"});
  ASSERT_NE(rockd, nullptr);
  const auto post = [&](const std::string& target, const json& body) { return Http(rockd->port(), "POST", target, body.dump()); };
  std::string sandbox;
  for (int episode = 0; episode < 2; ++episode) {
    const HttpReply started = post("/api/v1/episodes", {{"env", "swebench"}, {"task", {{"instance_id", kInstance}}}});
    ASSERT_EQ(started.status, 201) << started.body;
    const std::string step = "/api/v1/episodes/" + started.json().at("id").get<std::string>() + "/step";
    const json seen = post(step, {{"action", Bash("ls /tmp /workspace/repo/LEFT.txt 2>&1; echo left > /tmp/LEFT.txt; "
                                                  "echo left > LEFT.txt; git config user.name planted")}})
                          .json();
    if (episode == 1) {
      EXPECT_NE(seen.at("observation").get<std::string>().find("No such file"), std::string::npos) << seen.dump();
      EXPECT_EQ(seen.at("observation").get<std::string>().find("LEFT.txt\n"), std::string::npos) << seen.dump();
    }
    const json listed = Http(rockd->port(), "GET", "/api/v1/sandboxes").json();
    ASSERT_EQ(listed.at("sandboxes").size(), 1u);
    if (episode == 0) sandbox = listed.at("sandboxes")[0].at("id");
    EXPECT_EQ(listed.at("sandboxes")[0].at("id"), sandbox);
    ASSERT_EQ(post(step, {{"action", R"({"tool":"submit"})"}}).status, 200);
  }
}

}  // namespace
}  // namespace rock::test
