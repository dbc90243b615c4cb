// Sandboxes through the real rockd: the REST API, supervision (crash, hang, crash loop) and
// cleanup, including after a kill -9 of rockd itself. Needs root (namespaces, cgroups).
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kFastSupervision =
    R"({"health":{"interval_ms":100,"misses":3},"restart":{"backoff_initial_ms":50,"crash_loop_failures":3},)"
    R"("pools":{"alfworld":{"min":0}}})";

// `cgroup` is the sandbox's "<parent>/<id>" from the API.
bool CgroupExists(const std::string& cgroup) { return std::filesystem::exists("/sys/fs/cgroup/memory/" + cgroup); }
// Whether the status's transitions include a restart whose reason starts with `reason`.
bool RestartedFor(const json& status, std::string_view reason) {
  for (const auto& t : status["transitions"]) {
    if (t["to"] == "restarting" && t["reason"].get<std::string>().starts_with(reason)) return true;
  }
  return false;
}

bool ProcessAlive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

class RockdSandboxes : public ::testing::Test {
 protected:
  void SetUp() override { Start(kFastSupervision); }

  void Start(const std::string& config) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
    rockd_ = RockdProcess::Start({.config_json = config});
    ASSERT_NE(rockd_, nullptr);
  }

  json Create(const std::string& body = R"({"limits":{"memory_mb":128,"pids":64,"disk_mb":16}})") {
    const HttpReply reply = Http(rockd_->port(), "POST", "/api/v1/sandboxes", body);
    EXPECT_EQ(reply.status, 201) << reply.body;
    return reply.status == 201 ? reply.json() : json();
  }

  json Get(const std::string& id) { return Http(rockd_->port(), "GET", "/api/v1/sandboxes/" + id).json(); }

  HttpReply Exec(const std::string& id, const json& body) {
    return Http(rockd_->port(), "POST", "/api/v1/sandboxes/" + id + "/exec", body.dump());
  }

  // Waits until the sandbox is ready with a pid other than `old_pid`; returns its status.
  json WaitReplaced(const std::string& id, pid_t old_pid) {
    json status;
    Eventually([&] {
      status = Get(id);
      return status["state"] == "ready" && status["pid"].get<pid_t>() != old_pid;
    });
    return status;
  }

  std::string Metrics() { return Http(rockd_->port(), "GET", "/metrics").body; }

  std::unique_ptr<RockdProcess> rockd_;
};

TEST_F(RockdSandboxes, CreateExecDeleteLeavesNothingBehind) {
  const json sandbox = Create();
  const std::string id = sandbox["id"];
  const pid_t pid = sandbox["pid"];
  const std::string cgroup = sandbox["cgroup"];
  EXPECT_EQ(sandbox["state"], "ready");
  EXPECT_EQ(sandbox["limits"]["memory_mb"], 128);
  EXPECT_TRUE(cgroup.ends_with("/" + id)) << cgroup;
  EXPECT_TRUE(CgroupExists(cgroup));

  const HttpReply echo = Exec(id, {{"cmd", {"echo", "hello"}}});
  ASSERT_EQ(echo.status, 200) << echo.body;
  EXPECT_EQ(echo.json()["stdout"], "hello\n");
  EXPECT_EQ(echo.json()["exit_code"], 0);

  const HttpReply shell = Exec(id, {{"cmd", "cat; echo $GREETING from $(pwd) >&2; exit 3"},
                                    {"stdin", "in"},
                                    {"env", {{"GREETING", "hi"}}},
                                    {"cwd", "/tmp"}});
  EXPECT_EQ(shell.json()["stdout"], "in");
  EXPECT_EQ(shell.json()["stderr"], "hi from /tmp\n");
  EXPECT_EQ(shell.json()["exit_code"], 3);

  const HttpReply removed = Http(rockd_->port(), "DELETE", "/api/v1/sandboxes/" + id);
  EXPECT_EQ(removed.status, 200);
  EXPECT_EQ(Http(rockd_->port(), "GET", "/api/v1/sandboxes/" + id).status, 404);
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(CgroupExists(cgroup));
  EXPECT_FALSE(std::filesystem::exists(rockd_->data_dir() + "/sandboxes/" + id));
}

TEST_F(RockdSandboxes, CleanShutdownRemovesItsParentCgroup) {
  const std::string cgroup = Create()["cgroup"];
  const std::string parent = cgroup.substr(0, cgroup.find('/'));
  EXPECT_TRUE(CgroupExists(parent));
  ASSERT_EQ(rockd_->Stop(SIGTERM), 0);
  EXPECT_FALSE(CgroupExists(cgroup));
  EXPECT_FALSE(CgroupExists(parent)) << "a stopped rockd leaves no cgroup behind";
}

TEST_F(RockdSandboxes, ExecTimeoutKillsStoppedAndDaemonizedChildren) {
  const std::string id = Create()["id"];
  const HttpReply reply =
      Exec(id, {{"cmd", "setsid sleep 300 & (sleep 300 &); sh -c 'kill -STOP $$' & sleep 300"}, {"timeout_s", 0.5}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json()["timed_out"], true);
  const HttpReply left = Exec(id, {{"cmd", "cat /proc/[0-9]*/comm"}});
  EXPECT_EQ(left.json()["stdout"].get<std::string>().find("sleep"), std::string::npos) << left.body;
}

TEST_F(RockdSandboxes, OutputBeyondTheCapIsTruncated) {
  const std::string id = Create()["id"];
  const json result = Exec(id, {{"cmd", "head -c 100000 /dev/zero"}, {"max_output_bytes", 1000}}).json();
  EXPECT_EQ(result["truncated"], true);
  EXPECT_EQ(result["stdout"].get<std::string>().size(), 1000u);
  EXPECT_EQ(result["exit_code"], 0);
}

TEST_F(RockdSandboxes, FilesAreBinarySafeAndConfinedToTheWorkspace) {
  const std::string id = Create()["id"];
  const std::string bytes("bin\0\xff\x01 end", 9);
  const std::string target = "/api/v1/sandboxes/" + id + "/files?path=";
  EXPECT_EQ(Http(rockd_->port(), "PUT", target + "data.bin", bytes).status, 200);
  const HttpReply read = Http(rockd_->port(), "GET", target + "data.bin");
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(read.body, bytes);
  EXPECT_EQ(Exec(id, {{"cmd", "stat -c %U data.bin"}}).json()["stdout"], "nobody\n") << "owned by the sandbox user";

  Exec(id, {{"cmd", "ln -s /etc/passwd out; ln -s ../../etc deep; mkdir d; mkfifo fifo"}});
  for (const char* path : {"../etc/passwd", "/etc/passwd", "out", "deep/passwd", "d/../../x", "fifo", "d", ""}) {
    const HttpReply refused = Http(rockd_->port(), "GET", target + path);
    EXPECT_EQ(refused.status, 400) << path << ": " << refused.body;
  }
  EXPECT_EQ(Http(rockd_->port(), "PUT", target + "out", "x").status, 400) << "writing through an escaping link";
  EXPECT_EQ(Http(rockd_->port(), "GET", target + "missing").status, 404);
  EXPECT_EQ(Http(rockd_->port(), "PUT", target + "no/such/dir/f", "x").status, 404);
}

TEST_F(RockdSandboxes, MalformedRequestsAreRefusedWithTheFieldNamed) {
  const auto post = [&](const std::string& target, const std::string& body) {
    return Http(rockd_->port(), "POST", target, body);
  };
  for (const char* body : {"{", "[]", R"({"env":"doom"})", R"({"limit":{}})", R"({"limits":{"memory_mb":1}})",
                           R"({"limits":{"cpus":0}})", R"({"limits":{"pids":"many"}})", R"({"network":"host"})",
                           R"({"labels":{"a":1}})", R"({"limits":{"memory_mb":64,"swap":1}})", R"({"env":5})",
                           R"({"network":5})", R"({"limits":[]})"}) {
    const HttpReply reply = post("/api/v1/sandboxes", body);
    EXPECT_EQ(reply.status, 400) << body << " -> " << reply.body;
    EXPECT_EQ(reply.json()["error"]["code"], "invalid_argument") << body;
  }
  EXPECT_EQ(Http(rockd_->port(), "GET", "/api/v1/sandboxes").json()["sandboxes"].size(), 0u) << "nothing was created";

  const std::string id = Create()["id"];
  for (const char* body : {"{}", R"({"cmd":""})", R"({"cmd":[]})", R"({"cmd":[1]})", R"({"cmd":"true","timeout_s":-1})",
                           R"({"cmd":"true","env":{"A=B":"c"}})", R"({"cmd":"true","bogus":1})"}) {
    EXPECT_EQ(post("/api/v1/sandboxes/" + id + "/exec", body).status, 400) << body;
  }
  EXPECT_EQ(post("/api/v1/sandboxes/sb-nope/exec", R"({"cmd":"true"})").status, 404);
  EXPECT_EQ(Http(rockd_->port(), "DELETE", "/api/v1/sandboxes/sb-nope").status, 404);
  EXPECT_EQ(Exec(id, {{"cmd", "echo still fine"}}).json()["stdout"], "still fine\n");
}

TEST_F(RockdSandboxes, KilledWorkerIsRestartedAndReadyAgain) {
  const json sandbox = Create();
  const std::string id = sandbox["id"];
  const pid_t pid = sandbox["pid"];
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  const json after = WaitReplaced(id, pid);
  EXPECT_EQ(after["state"], "ready");
  EXPECT_EQ(after["restarts"], 1);
  EXPECT_EQ(Exec(id, {{"cmd", "echo back"}}).json()["stdout"], "back\n");
  EXPECT_TRUE(RestartedFor(after, "crashed: killed by signal 9")) << after.dump();
  EXPECT_NE(Metrics().find(R"(rockd_sandbox_restarts_total{reason="crash"} 1)"), std::string::npos);
}

TEST_F(RockdSandboxes, StoppedWorkerIsDeclaredHungAndRestarted) {
  const json sandbox = Create();
  const std::string id = sandbox["id"];
  const pid_t pid = sandbox["pid"];
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  const json after = WaitReplaced(id, pid);
  EXPECT_EQ(after["state"], "ready");
  EXPECT_TRUE(RestartedFor(after, "hung")) << after.dump();
  EXPECT_FALSE(ProcessAlive(pid)) << "the hung worker was killed, not left stopped";
  EXPECT_NE(Metrics().find(R"(rockd_sandbox_restarts_total{reason="hung"} 1)"), std::string::npos);
}

TEST_F(RockdSandboxes, CrashLoopQuarantinesWithoutBlockingOthers) {
  const std::string healthy = Create()["id"];
  const json victim = Create();
  const std::string id = victim["id"];
  pid_t pid = victim["pid"];
  // crash_loop_failures is 3: two crashes restart it, the third quarantines it.
  for (int crash = 0; crash < 3; ++crash) {
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    if (crash < 2) pid = WaitReplaced(id, pid)["pid"];
  }
  ASSERT_TRUE(Eventually([&] { return Get(id)["state"] == "quarantined"; })) << Get(id).dump();
  EXPECT_NE(Get(id)["last_error"].get<std::string>().find("crashed"), std::string::npos);
  EXPECT_EQ(Exec(id, {{"cmd", "true"}}).status, 503) << "a quarantined sandbox runs nothing";
  EXPECT_EQ(Exec(healthy, {{"cmd", "echo ok"}}).json()["stdout"], "ok\n") << "others keep serving";
  EXPECT_NE(Metrics().find(R"(rockd_sandboxes{state="quarantined"} 1)"), std::string::npos);

  const HttpReply restarted = Http(rockd_->port(), "POST", "/api/v1/sandboxes/" + id + "/restart");
  ASSERT_EQ(restarted.status, 200) << restarted.body;
  EXPECT_EQ(restarted.json()["state"], "ready");
  EXPECT_EQ(Exec(id, {{"cmd", "echo revived"}}).json()["stdout"], "revived\n");
}

TEST_F(RockdSandboxes, RequestedRestartIsCountedLikeAnyOther) {
  const json sandbox = Create();
  const std::string id = sandbox["id"];
  const HttpReply restarted = Http(rockd_->port(), "POST", "/api/v1/sandboxes/" + id + "/restart");
  ASSERT_EQ(restarted.status, 200) << restarted.body;
  EXPECT_EQ(restarted.json()["restarts"], 1);
  EXPECT_NE(restarted.json()["pid"], sandbox["pid"]);
  EXPECT_FALSE(ProcessAlive(sandbox["pid"].get<pid_t>())) << "the old worker is gone before the new one is ready";
  EXPECT_NE(Metrics().find(R"(rockd_sandbox_restarts_total{reason="requested"} 1)"), std::string::npos);
  ASSERT_EQ(rockd_->Stop(SIGTERM), 0);
  EXPECT_EQ(SqliteQuery(rockd_->data_dir() + "/rockd.db", "SELECT restarts FROM sandboxes WHERE id = '" + id + "'"),
            "1\n");
}

TEST_F(RockdSandboxes, AlfworldSandboxIsCreatedWithItsSlots) {
  const json sandbox = Create(R"({"env":"alfworld","slots":16,"limits":{"memory_mb":128,"pids":64,"disk_mb":16}})");
  EXPECT_EQ(sandbox["env"], "alfworld");
  EXPECT_EQ(sandbox["slots"], 16);
  EXPECT_EQ(sandbox["state"], "ready");
  for (const char* body : {R"({"env":"alfworld","slots":0})", R"({"env":"alfworld","slots":"many"})",
                           R"({"env":"alfworld","slots":100000})", R"({"env":"chess"})"}) {
    const HttpReply reply = Http(rockd_->port(), "POST", "/api/v1/sandboxes", body);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_NE(reply.body.find(std::string(body).find("chess") != std::string::npos ? "alfworld" : "'slots'"),
              std::string::npos)
        << reply.body;
  }
}

// A rockd with alfworld.data_dir set.
class RockdAlfworldData : public RockdSandboxes {
 protected:
  void SetUp() override {
    Start(json{{"alfworld", {{"data_dir", std::string(ROCK_SOURCE_DIR) + "/tests/alfworld/pddl/fixtures"}}}}.dump());
  }
};

TEST_F(RockdAlfworldData, AlfworldSandboxesSeeTheDataReadOnlyAndShellsDoNot) {
  const std::string alfworld = Create(R"({"env":"alfworld"})")["id"];
  EXPECT_EQ(Exec(alfworld, {{"cmd", "ls /data/json_2.1.1"}}).json()["stdout"], "train\nvalid_seen\nvalid_unseen\n");
  EXPECT_NE(Exec(alfworld, {{"cmd", "touch /data/json_2.1.1/x"}}).json()["exit_code"], 0);
  const std::string shell = Create(R"({"env":"shell"})")["id"];
  EXPECT_NE(Exec(shell, {{"cmd", "ls /data"}}).json()["exit_code"], 0) << "only alfworld sandboxes get the data";
}

TEST_F(RockdSandboxes, TransitionsAreStoredAndPublished) {
  WsClient events(rockd_->port(), "/ws/events");
  ASSERT_TRUE(events.connected());
  const std::string id = Create()["id"];
  std::vector<std::string> seen;
  Eventually([&] {
    while (auto message = events.Read(std::chrono::milliseconds(50))) {
      const json event = json::parse(*message);
      if (event["type"] == "sandbox" && event["data"]["id"] == id) seen.push_back(event["data"]["to"]);
    }
    return seen.size() >= 2;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"starting", "ready"}));
  ASSERT_EQ(Http(rockd_->port(), "DELETE", "/api/v1/sandboxes/" + id).status, 200);
  ASSERT_EQ(rockd_->Stop(SIGTERM), 0);
  const std::string states =
      SqliteQuery(rockd_->data_dir() + "/rockd.db",
                  "SELECT group_concat(to_state, ',') FROM sandbox_events WHERE sandbox_id = '" + id + "'");
  EXPECT_EQ(states, "starting,ready,stopped\n");
}

// A create or a delete is answered only once its record is committed, so what rockd answered
// is in its database even if rockd is killed the next moment. Another process holding the
// database shows it: the sandbox is ready (or gone) at once, and the answer waits for the lock.
TEST_F(RockdSandboxes, CreateAndDeleteAreAnsweredOnlyOnceTheirRecordIsCommitted) {
  const std::string db_file = rockd_->data_dir() + "/rockd.db";
  const uint16_t port = rockd_->port();
  SQLite::Database other(db_file, SQLite::OPEN_READWRITE);
  constexpr auto kAnsweredMeanwhile = std::chrono::milliseconds(300);

  other.exec("BEGIN IMMEDIATE");
  auto created = std::async(std::launch::async, [port] {
    return Http(port, "POST", "/api/v1/sandboxes", R"({"limits":{"memory_mb":64}})");
  });
  std::string id;
  ASSERT_TRUE(Eventually([&] {
    const json listed = Http(port, "GET", "/api/v1/sandboxes").json();
    for (const json& s : listed["sandboxes"]) {
      if (s["state"] == "ready") id = s["id"];
    }
    return !id.empty();
  }));
  EXPECT_EQ(created.wait_for(kAnsweredMeanwhile), std::future_status::timeout) << "answered before it was stored";
  other.exec("ROLLBACK");
  const HttpReply reply = created.get();
  ASSERT_EQ(reply.status, 201) << reply.body;
  EXPECT_EQ(reply.json()["id"], id);
  EXPECT_EQ(SqliteQuery(db_file, "SELECT state FROM sandboxes WHERE id = '" + id + "'"), "ready\n");

  other.exec("BEGIN IMMEDIATE");
  auto deleted = std::async(std::launch::async, [port, id] { return Http(port, "DELETE", "/api/v1/sandboxes/" + id); });
  ASSERT_TRUE(Eventually([&] { return Http(port, "GET", "/api/v1/sandboxes/" + id).status == 404; }));
  EXPECT_EQ(deleted.wait_for(kAnsweredMeanwhile), std::future_status::timeout) << "answered before it was stored";
  other.exec("ROLLBACK");
  EXPECT_EQ(deleted.get().status, 200);
  EXPECT_EQ(SqliteQuery(db_file, "SELECT state FROM sandboxes WHERE id = '" + id + "'"), "stopped\n");
}

TEST(RockdSandboxRecovery, LeftoversOfAKilledRockdAreRemovedAtStartup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::string id;
  std::string cgroup;
  pid_t pid = 0;
  {
    auto first = RockdProcess::Start({.data_dir = data});
    ASSERT_NE(first, nullptr);
    const HttpReply created = Http(first->port(), "POST", "/api/v1/sandboxes", R"({"limits":{"memory_mb":64}})");
    ASSERT_EQ(created.status, 201) << created.body;
    id = created.json()["id"];
    pid = created.json()["pid"];
    cgroup = created.json()["cgroup"];
    ASSERT_EQ(first->Stop(SIGKILL), 128 + SIGKILL);
  }
  ASSERT_TRUE(std::filesystem::exists(data + "/sandboxes/" + id)) << "kill -9 left the sandbox's directory";
  auto second = RockdProcess::Start({.data_dir = data});
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(Eventually([&] { return !ProcessAlive(pid); })) << "the orphaned sandbox is gone";
  EXPECT_FALSE(CgroupExists(cgroup));
  EXPECT_FALSE(std::filesystem::exists(data + "/sandboxes/" + id));
  ASSERT_EQ(second->Stop(SIGTERM), 0);
  EXPECT_EQ(SqliteQuery(data + "/rockd.db", "SELECT state FROM sandboxes WHERE id = '" + id + "'"), "stopped\n");
}


TEST(RockdSandboxWorker, WorkerThatAlwaysCrashesIsQuarantinedAndReported) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
  auto rockd = RockdProcess::Start(
      {.config_json = R"({"sandbox":{"worker":"/bin/false"},"restart":{"backoff_initial_ms":10,"crash_loop_failures":3},)"
                    R"("pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  const HttpReply created = Http(rockd->port(), "POST", "/api/v1/sandboxes", "{}");
  EXPECT_EQ(created.status, 500) << created.body;
  EXPECT_EQ(created.json()["error"]["code"], "sandbox_failed");
  EXPECT_NE(created.body.find("exited with status 1"), std::string::npos) << created.body;
  json listed;
  EXPECT_TRUE(Eventually([&] {
    listed = Http(rockd->port(), "GET", "/api/v1/sandboxes").json()["sandboxes"];
    return listed.size() == 1 && listed[0]["state"] == "quarantined";
  })) << listed.dump();
  EXPECT_EQ(Http(rockd->port(), "GET", "/healthz").status, 200);
}

TEST(RockdSandboxWorker, MissingWorkerBinaryIsAClearStartFailure) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
  auto rockd = RockdProcess::Start({.config_json = R"({"sandbox":{"worker":"/nonexistent/rock-env"}})"});
  ASSERT_NE(rockd, nullptr);
  const HttpReply created = Http(rockd->port(), "POST", "/api/v1/sandboxes", "{}");
  EXPECT_EQ(created.status, 500) << created.body;
  EXPECT_NE(created.body.find("execve of the worker failed"), std::string::npos) << created.body;
}


TEST(RockdSandboxSignals, SandboxedCommandsGetDefaultSignalDispositions) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
  auto rockd = RockdProcess::Start();
  ASSERT_NE(rockd, nullptr);
  const HttpReply created = Http(rockd->port(), "POST", "/api/v1/sandboxes", "{}");
  ASSERT_EQ(created.status, 201) << created.body;
  // rockd ignores SIGPIPE; a pipeline in the sandbox must still end by it.
  const HttpReply reply = Http(rockd->port(), "POST", "/api/v1/sandboxes/" + created.json()["id"].get<std::string>() +
                                                          "/exec",
                               R"({"cmd":"grep SigIgn /proc/self/status; yes | head -c 3","timeout_s":5})");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const std::string out = reply.json()["stdout"];
  ASSERT_TRUE(out.starts_with("SigIgn:\t")) << out;
  const uint64_t ignored = std::stoull(out.substr(8, 16), nullptr, 16);
  EXPECT_EQ(ignored & (1ull << (SIGPIPE - 1)), 0u) << "SIGPIPE is ignored inside the sandbox: " << out;
  EXPECT_TRUE(out.ends_with("\ny\ny")) << "yes ends by SIGPIPE once head has its bytes: " << out;
  EXPECT_EQ(reply.json()["timed_out"], false);
}

}  // namespace
}  // namespace rock::test
