// The promises of docs/security.md against the real rockd: every route behind the token but the
// probes, no unauthenticated listener off loopback, size caps that answer clearly and lose
// nothing else, and per-client caps on connections and episodes.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/ready_rockd.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kToken[] = "t0ken-for-security-tests";
const Headers kBearer = {{"Authorization", std::string("Bearer ") + kToken}};

std::string ErrorCode(const HttpReply& reply) { return reply.json()["error"]["code"].get<std::string>(); }

// Kilobytes of rockd's resident memory, from /proc.
long ResidentKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

TEST(RockdRouteAuth, EveryRouteButTheProbesAnswers401WithoutTheTokenAndNever401WithIt) {
  auto rockd = RockdProcess::Start({.config_json = R"({"pools":{"alfworld":{"min":0}}})",
                                    .env = {{"ROCKD_TOKEN", kToken}}});
  ASSERT_NE(rockd, nullptr);
  const HttpReply listed = Http(rockd->port(), "GET", "/api/v1/routes", "", kBearer);
  ASSERT_EQ(listed.status, 200) << listed.body;
  std::set<std::string> open, seen;
  const json routes = listed.json()["routes"];
  for (const json& route : routes) {
    const std::string method = route["method"], pattern = route["path"];
    seen.insert(pattern);
    // Ids that name nothing, and a body no handler accepts: each route answers without acting.
    const std::string path = std::regex_replace(pattern, std::regex("\\{[a-z_]+\\}"), "no-such-id");
    const HttpReply anonymous = Http(rockd->port(), method, path, "[]");
    const HttpReply authorized = Http(rockd->port(), method, path, "[]", kBearer);
    EXPECT_NE(authorized.status, 401) << method << " " << pattern << ": " << authorized.body;
    EXPECT_NE(authorized.status, 0) << method << " " << pattern;
    if (route["needs_token"].get<bool>()) {
      EXPECT_EQ(anonymous.status, 401) << method << " " << pattern << ": " << anonymous.body;
    } else {
      EXPECT_NE(anonymous.status, 401) << method << " " << pattern;
      open.insert(pattern);
    }
  }
  EXPECT_EQ(open, (std::set<std::string>{"/healthz", "/readyz"})) << "a new open route must be a decision";
  for (const char* expected : {"/metrics", "/ws/events", "/ws/trainer", "/api/v1/sandboxes/{id}/files",
                               "/apis/v1/envs/gem/reset", "/api/v1/routes"}) {
    EXPECT_TRUE(seen.contains(expected)) << expected << " is served but not listed";
  }
  for (const char* ws : {"/ws/events", "/ws/trainer"}) {
    WsClient anonymous(rockd->port(), ws);
    EXPECT_FALSE(anonymous.connected()) << ws;
    EXPECT_NE(anonymous.error().find("401"), std::string::npos) << ws << ": " << anonymous.error();
    WsClient authorized(rockd->port(), ws, kBearer);
    EXPECT_TRUE(authorized.connected()) << ws << ": " << authorized.error();
  }
  // Other spellings of a protected path either need the token too or match no route.
  for (const char* spelling : {"//api/v1/info", "/./api/v1/info", "/api/v1/info/", "/api%2Fv1/info", "/metrics/",
                               "/METRICS", "/ws/events/"}) {
    EXPECT_NE(Http(rockd->port(), "GET", spelling).status, 200) << spelling;
  }
  EXPECT_EQ(Http(rockd->port(), "GET", "/").status, 200) << "the dashboard loads to ask for the token";
}

TEST(RockdRouteAuth, WebSocketPathsWithoutTheUpgradeSay426) {
  auto rockd = RockdProcess::Start({.config_json = R"({"pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  const HttpReply plain = Http(rockd->port(), "GET", "/ws/trainer");
  EXPECT_EQ(plain.status, 426) << plain.body;
  EXPECT_EQ(ErrorCode(plain), "upgrade_required");
}

TEST(RockdBrowserOrigin, CrossSiteRequestsAndReboundHostNamesAreRefused) {
  auto rockd = RockdProcess::Start({.config_json = R"({"pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  const json level_before = Http(rockd->port(), "GET", "/api/v1/log-level").json()["level"];
  const HttpReply cross_site =
      Http(rockd->port(), "PUT", "/api/v1/log-level", R"({"level":"off"})", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(cross_site.status, 403) << cross_site.body;
  EXPECT_EQ(ErrorCode(cross_site), "forbidden_origin");
  EXPECT_EQ(Http(rockd->port(), "GET", "/api/v1/log-level").json()["level"], level_before) << "the refused PUT did nothing";
  const std::string self = "http://127.0.0.1:" + std::to_string(rockd->port());
  const Headers same_origin = {{"Host", "127.0.0.1:" + std::to_string(rockd->port())}, {"Origin", self}};
  EXPECT_EQ(Http(rockd->port(), "GET", "/api/v1/info", "", same_origin).status, 200) << "the dashboard's own requests";

  const HttpReply rebound = Http(rockd->port(), "GET", "/api/v1/info", "", {{"Host", "evil.example:8080"}});
  EXPECT_EQ(rebound.status, 403) << rebound.body;
  EXPECT_NE(rebound.body.find("DNS rebinding"), std::string::npos) << rebound.body;
  const HttpReply rebound_with_origin = Http(rockd->port(), "GET", "/metrics", "",
                                             {{"Host", "evil.example"}, {"Origin", "http://evil.example"}});
  EXPECT_EQ(rebound_with_origin.status, 403) << "a matching Origin does not make a foreign Host loopback";
  for (const char* host : {"localhost", "LOCALHOST:1", "app.localhost", "127.0.0.1", "127.8.9.10:80", "[::1]:8080"}) {
    EXPECT_EQ(Http(rockd->port(), "GET", "/api/v1/info", "", {{"Host", host}}).status, 200) << host;
  }
  for (const char* host : {"127.0.0.1.evil.example", "localhost.evil.example", "127.1", "[::2]"}) {
    EXPECT_EQ(Http(rockd->port(), "GET", "/api/v1/info", "", {{"Host", host}}).status, 403) << host;
  }
  EXPECT_EQ(Http(rockd->port(), "GET", "/healthz", "", {{"Host", "evil.example"}}).status, 200) << "probes stay open";
  WsClient from_a_page(rockd->port(), "/ws/events", {{"Origin", "http://evil.example"}});
  EXPECT_FALSE(from_a_page.connected());
  EXPECT_NE(from_a_page.error().find("403"), std::string::npos) << from_a_page.error();
}

TEST(RockdBrowserOrigin, WithATokenAnyHostNameIsServedButCrossSiteStillIsNot) {
  auto rockd = RockdProcess::Start({.config_json = R"({"pools":{"alfworld":{"min":0}}})",
                                    .env = {{"ROCKD_TOKEN", kToken}}});
  ASSERT_NE(rockd, nullptr);
  Headers named = kBearer;
  named.emplace_back("Host", "rockd.example:8080");
  EXPECT_EQ(Http(rockd->port(), "GET", "/api/v1/info", "", named).status, 200);
  named.emplace_back("Origin", "http://evil.example");
  EXPECT_EQ(Http(rockd->port(), "GET", "/api/v1/info", "", named).status, 403);
}

// rockd started by hand, for listen addresses RockdProcess does not use.
struct Listening {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::unique_ptr<ChildProcess> process;
  uint16_t port = 0;
};

Listening StartListening(const std::string& listen, const std::string& config_json, const EnvList& env) {
  Listening l;
  const std::string config = l.dir->path() + "/rockd.json", port_file = l.dir->path() + "/port";
  std::ofstream(config) << config_json;
  l.process = ChildProcess::Start(ROCKD_BINARY,
                                  {"--listen", listen, "--port-file", port_file, "--data-dir", l.dir->path() + "/data",
                                   "--config", config},
                                  env);
  EXPECT_TRUE(Eventually([&] { return std::filesystem::exists(port_file); })) << l.process->Log();
  std::ifstream(port_file) >> l.port;
  return l;
}

TEST(RockdListenPolicy, DefaultConfigListensOnLoopbackOnly) {
  const RunResult printed = RunRockd({"--print-config"});
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_EQ(json::parse(printed.output)["http"]["listen"], "127.0.0.1:8080");
  EXPECT_EQ(json::parse(printed.output)["auth"]["allow_remote_without_token"], false);
}

TEST(RockdListenPolicy, NonLoopbackWithoutATokenIsRefusedNamingTheWayOut) {
  TempDir dir;
  const std::string config = dir.path() + "/rockd.json";
  std::ofstream(config) << R"({"pools":{"alfworld":{"min":0}}})";
  const RunResult run =
      RunRockd({"--listen", "0.0.0.0:0", "--data-dir", dir.path() + "/data", "--config", config});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("refusing to serve 0.0.0.0:0"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("auth.token"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("auth.allow_remote_without_token"), std::string::npos) << run.output;
}

TEST(RockdListenPolicy, NonLoopbackServesWithATokenOrWithTheExplicitOptOutAndAWarning) {
  Listening with_token = StartListening("0.0.0.0:0", R"({"pools":{"alfworld":{"min":0}}})", {{"ROCKD_TOKEN", kToken}});
  ASSERT_NE(with_token.port, 0);
  EXPECT_EQ(Http(with_token.port, "GET", "/api/v1/info").status, 401);
  EXPECT_EQ(with_token.process->Stop(SIGTERM), 0);

  Listening opted_out = StartListening(
      "0.0.0.0:0", R"({"auth":{"allow_remote_without_token":true},"pools":{"alfworld":{"min":0}}})", {});
  ASSERT_NE(opted_out.port, 0);
  EXPECT_EQ(Http(opted_out.port, "GET", "/api/v1/info").status, 200);
  EXPECT_NE(opted_out.process->Log().find("WITHOUT A TOKEN"), std::string::npos) << opted_out.process->Log();
  EXPECT_EQ(opted_out.process->Stop(SIGTERM), 0);
}

TEST(RockdClientLimits, ConnectionsPastThePerClientCapGet429UntilOneCloses) {
  auto rockd = RockdProcess::Start(
      {.config_json = R"({"http":{"max_connections_per_client":4},"pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawConnection>(rockd->port()));
  WsClient events(rockd->port(), "/ws/events");
  ASSERT_TRUE(events.connected()) << events.error() << ": a WebSocket counts like any connection";
  HttpReply refused;
  EXPECT_TRUE(Eventually([&] {
    refused = Http(rockd->port(), "GET", "/healthz");
    return refused.status == 429;
  })) << refused.status << " " << refused.body;
  EXPECT_EQ(ErrorCode(refused), "too_many_connections");
  EXPECT_NE(refused.body.find("the limit is 4"), std::string::npos) << refused.body;
  held.pop_back();
  EXPECT_TRUE(Eventually([&] { return Http(rockd->port(), "GET", "/healthz").status == 200; }));
  EXPECT_TRUE(events.connected()) << "the connections it held are untouched";
}

TEST(RockdSizeCaps, WebSocketMessageOverTheBodyCapClosesOnlyThatConnection) {
  auto rockd = RockdProcess::Start(
      {.config_json = R"({"http":{"max_body_bytes":4096},"pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  WsClient big(rockd->port(), "/ws/trainer");
  WsClient bystander(rockd->port(), "/ws/events");
  ASSERT_TRUE(big.connected() && bystander.connected()) << big.error() << bystander.error();
  big.Send(std::string(8192, 'x'));
  EXPECT_TRUE(big.WaitClosed(seconds(5)));
  EXPECT_TRUE(bystander.connected());
  WsClient next(rockd->port(), "/ws/trainer");
  EXPECT_TRUE(next.connected()) << next.error();
  EXPECT_EQ(Http(rockd->port(), "GET", "/healthz").status, 200);
}

TEST(RockdSizeCaps, FilesOverTheBodyCapAre413BothWaysAndTheSandboxLivesOn) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
  auto rockd = RockdProcess::Start(
      {.config_json = R"({"http":{"max_body_bytes":65536},"pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  const HttpReply created = Http(rockd->port(), "POST", "/api/v1/sandboxes", R"({"env":"shell"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string base = "/api/v1/sandboxes/" + created.json()["id"].get<std::string>();
  const HttpReply made =
      Http(rockd->port(), "POST", base + "/exec", R"({"cmd":"head -c 70000 /dev/zero > big; echo hi > small"})");
  ASSERT_EQ(made.status, 200) << made.body;
  const HttpReply too_big = Http(rockd->port(), "GET", base + "/files?path=big");
  EXPECT_EQ(too_big.status, 413) << too_big.body;
  EXPECT_EQ(ErrorCode(too_big), "file_too_large");
  EXPECT_NE(too_big.body.find("70000 bytes"), std::string::npos) << too_big.body;
  const RawReply put = RawExchange(
      rockd->port(), "PUT " + base + "/files?path=upload HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
      seconds(5));
  EXPECT_TRUE(put.data.starts_with("HTTP/1.1 413")) << put.data;
  EXPECT_EQ(Http(rockd->port(), "GET", base + "/files?path=small").body, "hi\n");
  EXPECT_EQ(Http(rockd->port(), "GET", base + "/files?path=small%00.txt").status, 400) << "a NUL byte in the path";
}

// A hostile worker claims a 4 GiB frame: rockd must refuse it from the header, not allocate it.
TEST(RockdSizeCaps, HostileWorkerFrameLengthIsRefusedWithoutAllocatingIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces and cgroups";
  TempDir dir;
  const std::string worker = dir.path() + "/hostile-worker";
  std::ofstream(worker) << "#!/bin/sh\nprintf '\\377\\377\\377\\377' >&$2\nsleep 30\n";
  std::filesystem::permissions(worker, std::filesystem::perms::owner_all);
  auto rockd = RockdProcess::Start({.config_json = R"({"sandbox":{"worker":")" + worker +
                                                   R"("},"restart":{"crash_loop_failures":1},)"
                                                   R"("pools":{"alfworld":{"min":0}}})"});
  ASSERT_NE(rockd, nullptr);
  const HttpReply created = Http(rockd->port(), "POST", "/api/v1/sandboxes", "{}");
  EXPECT_EQ(created.status, 500) << created.body;
  EXPECT_NE(created.body.find("exceeds the limit"), std::string::npos) << created.body;
  EXPECT_EQ(Http(rockd->port(), "GET", "/healthz").status, 200);
  EXPECT_LT(ResidentKb(rockd->pid()), 1 << 20) << "rockd holds a gigabyte: it allocated the claimed frame";
}

class RockdEpisodeLimits : public ReadyRockdTest {
 protected:
  RockdEpisodeLimits()
      : ReadyRockdTest({.config_json = R"({"episodes":{"max_per_client":2},)"
                                       R"("pools":{"alfworld":{"min":1,"max":1,"slots":8}}})"},
                       seconds(60)) {}

  HttpReply Post(const std::string& path, const json& body) { return Http(port(), "POST", path, body.dump()); }
};

TEST_F(RockdEpisodeLimits, EpisodesPastThePerClientCapGet429AndAnEndedOneFreesItsUnit) {
  const HttpReply first = Post("/api/v1/episodes", {{"env", "alfworld"}});
  ASSERT_EQ(first.status, 201) << first.body;
  ASSERT_EQ(Post("/api/v1/episodes", {{"env", "alfworld"}}).status, 201);
  const HttpReply third = Post("/api/v1/episodes", {{"env", "alfworld"}});
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_NE(third.body.find("open episodes"), std::string::npos) << third.body;
  EXPECT_EQ(Post("/api/v1/groups", {{"env", "alfworld"}, {"n", 1}}).status, 429);
  const HttpReply handle = Post("/apis/v1/envs/gem/make", {{"env_id", "alfworld"}});
  ASSERT_EQ(handle.status, 200) << handle.body;
  const json gem = {{"sandbox_id", handle.json()["sandbox_id"]}};
  EXPECT_EQ(Post("/apis/v1/envs/gem/reset", gem).status, 429) << "GEM episodes count too";

  const std::string id = first.json()["id"];
  ASSERT_EQ(Http(port(), "DELETE", "/api/v1/episodes/" + id).status, 200);
  const HttpReply reset = Post("/apis/v1/envs/gem/reset", gem);
  EXPECT_EQ(reset.status, 200) << reset.body;
  const HttpReply again = Post("/apis/v1/envs/gem/reset", gem);
  EXPECT_EQ(again.status, 200) << "a reset at the cap ends its previous episode first: " << again.body;
  EXPECT_EQ(Post("/api/v1/episodes", {{"env", "alfworld"}}).status, 429);
}

}  // namespace
}  // namespace rock::test
