// The real rockd binary on an ephemeral port: endpoints, malformed and oversized requests,
// timeouts, concurrency, metrics and auth.
#include <sys/resource.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RockdHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    rockd_ = RockdProcess::Start();
    ASSERT_NE(rockd_, nullptr);
  }
  uint16_t port() const { return rockd_->port(); }
  std::unique_ptr<RockdProcess> rockd_;
};

std::string ErrorCode(const HttpReply& reply) { return reply.json()["error"]["code"].get<std::string>(); }

TEST_F(RockdHttp, HealthzAndReadyzAnswer) {
  const HttpReply health = Http(port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  // Ready once the default ALFWorld pool has its warm sandbox (RockdEpisodes tests the 503).
  HttpReply ready;
  EXPECT_TRUE(Eventually([&] {
    ready = Http(port(), "GET", "/readyz");
    return ready.status == 200;
  })) << ready.body;
  EXPECT_EQ(ready.json()["status"], "ready");
}

TEST_F(RockdHttp, InfoReportsVersionBuildAndStore) {
  const HttpReply info = Http(port(), "GET", "/api/v1/info");
  ASSERT_EQ(info.status, 200);
  const auto body = info.json();
  EXPECT_EQ(body["name"], "rockd");
  EXPECT_FALSE(body["version"].get<std::string>().empty());
  EXPECT_FALSE(body["git_revision"].get<std::string>().empty());
  EXPECT_TRUE(body["build"]["cuda"].is_boolean());
  EXPECT_EQ(body["listen"]["port"], port());
  EXPECT_EQ(body["store"]["schema_version"], 3);
  EXPECT_GE(body["uptime_s"].get<double>(), 0.0);
  EXPECT_EQ(info.headers.at("content-type"), "application/json");
}

TEST_F(RockdHttp, DashboardPageIsServedAtRoot) {
  const HttpReply page = Http(port(), "GET", "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.headers.at("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("app.js"), std::string::npos);
  // The bundle (esbuild, dashboard/web/CMakeLists.txt) beside it, as JavaScript, reading the API.
  const HttpReply app = Http(port(), "GET", "/app.js");
  ASSERT_EQ(app.status, 200);
  EXPECT_NE(app.headers.at("content-type").find("text/javascript"), std::string::npos);
  EXPECT_NE(app.body.find("/api/v1/info"), std::string::npos);
  const HttpReply again = Http(port(), "GET", "/", "", {{"If-None-Match", page.headers.at("etag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(Http(port(), "GET", "/../../etc/passwd").status, 404);
  EXPECT_EQ(Http(port(), "GET", "/%2e%2e/%2e%2e/etc/passwd").status, 404);
}

TEST_F(RockdHttp, UnknownRouteIs404Envelope) {
  const HttpReply reply = Http(port(), "GET", "/api/v1/nope");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(ErrorCode(reply), "not_found");
}

TEST_F(RockdHttp, WrongMethodIs405WithAllow) {
  const HttpReply reply = Http(port(), "DELETE", "/healthz");
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(ErrorCode(reply), "method_not_allowed");
  EXPECT_EQ(reply.headers.at("allow"), "GET");
}

TEST_F(RockdHttp, HeadHasHeadersButNoBody) {
  const HttpReply reply = Http(port(), "HEAD", "/api/v1/info");
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.body.empty());
  EXPECT_NE(reply.headers.at("content-length"), "0");
}

TEST_F(RockdHttp, MalformedJsonBodyIs400AndLosesNothing) {
  for (const char* body : {"{", "not json", "[1,2]", "\"level\"", ""}) {
    const HttpReply reply = Http(port(), "PUT", "/api/v1/log-level", body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_EQ(ErrorCode(reply), "invalid_argument") << body;
  }
  EXPECT_EQ(Http(port(), "PUT", "/api/v1/log-level", R"({"level":"loud"})").status, 400);
  EXPECT_EQ(Http(port(), "PUT", "/api/v1/log-level", R"({"level":3})").status, 400);
  EXPECT_EQ(Http(port(), "GET", "/api/v1/log-level").json()["level"], "debug") << "bad requests changed nothing";
  const HttpReply set = Http(port(), "PUT", "/api/v1/log-level", R"({"level":"warn"})");
  EXPECT_EQ(set.status, 200);
  EXPECT_EQ(Http(port(), "GET", "/api/v1/log-level").json()["level"], "warn");
}

TEST_F(RockdHttp, MalformedRequestLinesGet400Envelope) {
  for (const char* request : {"GARBAGE\r\n\r\n", "GET /healthz HTTP/9\r\n\r\n", "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
                              "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", "GET /api%00/v1/info HTTP/1.1\r\nHost: x\r\n\r\n",
                              "POST /api/v1/log-level HTTP/1.1\r\nContent-Length: x\r\n\r\n"}) {
    const RawReply reply = RawExchange(port(), request, seconds(5));
    EXPECT_TRUE(reply.data.starts_with("HTTP/1.1 400")) << request << " -> " << reply.data;
    EXPECT_NE(reply.data.find(R"({"error":{"code":"bad_request")"), std::string::npos) << reply.data;
    EXPECT_TRUE(reply.closed) << "a connection with broken framing is closed";
  }
  EXPECT_EQ(Http(port(), "GET", "/healthz").status, 200) << "the server survives";
}

TEST_F(RockdHttp, OversizedBodyIs413BeforeItIsRead) {
  const std::string head = "PUT /api/v1/log-level HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(64 << 20) +
                           "\r\n\r\n";
  const RawReply reply = RawExchange(port(), head, seconds(5));
  EXPECT_TRUE(reply.data.starts_with("HTTP/1.1 413")) << reply.data;
  EXPECT_NE(reply.data.find("payload_too_large"), std::string::npos);
  EXPECT_TRUE(reply.closed);
}

TEST_F(RockdHttp, ExpectContinueIsRefusedEarlyForOversizedBodies) {
  const std::string head = "PUT /api/v1/log-level HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
                           std::to_string(64 << 20) + "\r\n\r\n";
  EXPECT_TRUE(RawExchange(port(), head, seconds(5)).data.starts_with("HTTP/1.1 413"));

  RawConnection connection(port());
  const std::string body = R"({"level":"info"})";
  ASSERT_TRUE(connection.Send("PUT /api/v1/log-level HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n"));
  const RawReply interim = connection.Receive(seconds(5), 25);
  EXPECT_TRUE(interim.data.starts_with("HTTP/1.1 100 Continue")) << interim.data;
  ASSERT_TRUE(connection.Send(body));
  const RawReply final_reply = connection.Receive(milliseconds(500));
  EXPECT_NE(final_reply.data.find("HTTP/1.1 200"), std::string::npos) << final_reply.data;
}

TEST_F(RockdHttp, OversizedHeadIs431) {
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 << 10, 'a') + "\r\n\r\n";
  const RawReply reply = RawExchange(port(), head, seconds(5));
  EXPECT_TRUE(reply.data.starts_with("HTTP/1.1 431")) << reply.data.substr(0, 200);
}

TEST_F(RockdHttp, KeepAliveServesManyRequestsOnOneConnection) {
  RawConnection connection(port());
  std::string pipelined;
  for (int i = 0; i < 50; ++i) pipelined += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(connection.Send(pipelined));
  std::string received;
  Eventually([&] {
    received += connection.Receive(milliseconds(100)).data;
    std::size_t count = 0;
    for (auto at = received.find("HTTP/1.1 200"); at != std::string::npos; at = received.find("HTTP/1.1 200", at + 1)) {
      ++count;
    }
    return count == 50;
  });
  std::size_t count = 0;
  for (auto at = received.find("HTTP/1.1 200"); at != std::string::npos; at = received.find("HTTP/1.1 200", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 50u);
}

TEST_F(RockdHttp, ThousandConcurrentKeepAliveConnectionsAreServed) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, 1100u) << "needs 1,100 file descriptors for the client side";

  constexpr int kConnections = 1000;
  std::vector<std::unique_ptr<RawConnection>> connections;
  for (int i = 0; i < kConnections; ++i) {
    connections.push_back(std::make_unique<RawConnection>(port()));
    ASSERT_GE(connections.back()->fd(), 0) << "connection " << i;
  }
  // Two rounds on every connection: all stay open and are served again (keep-alive).
  for (int round = 0; round < 2; ++round) {
    for (auto& connection : connections) ASSERT_TRUE(connection->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    int ok = 0;
    for (auto& connection : connections) {
      const RawReply reply = connection->Receive(seconds(10), 1);
      std::string data = reply.data;
      while (data.find("\r\n\r\n") == std::string::npos || data.find("}") == std::string::npos) {
        const RawReply more = connection->Receive(seconds(5), 1);
        if (more.data.empty()) break;
        data += more.data;
      }
      ok += data.starts_with("HTTP/1.1 200") ? 1 : 0;
    }
    EXPECT_EQ(ok, kConnections) << "round " << round;
  }
  const HttpReply metrics = Http(port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find(R"(rockd_http_requests_total{code="200",method="GET",route="/healthz"} 2000)"),
            std::string::npos);
}

TEST_F(RockdHttp, MetricsPassPromtoolAndCountRequests) {
  Http(port(), "GET", "/healthz");
  Http(port(), "GET", "/api/v1/nope");
  const HttpReply metrics = Http(port(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.headers.at("content-type").find("text/plain; version=0.0.4"), std::string::npos);
  for (const char* name : {"rockd_http_requests_total", "rockd_http_request_duration_seconds_bucket",
                           "process_resident_memory_bytes", "process_open_fds", "rockd_uptime_seconds",
                           "rockd_websocket_clients"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
  EXPECT_NE(metrics.body.find(R"(rockd_http_requests_total{code="404",method="GET",route="unmatched"} 1)"),
            std::string::npos);
  TempDir dir;
  const std::string path = dir.path() + "/metrics.txt";
  std::ofstream(path) << metrics.body;
  const std::string command = "promtool check metrics < " + path + " 2>&1";
  ASSERT_EQ(std::system("command -v promtool >/dev/null"), 0) << "promtool (Debian package prometheus) is required";
  EXPECT_EQ(std::system(command.c_str()), 0) << "promtool check metrics failed";
}

TEST_F(RockdHttp, MethodLabelsStayBoundedForUnknownMethods) {
  for (const char* method : {"BREW", "FOO", "XYZZY"}) {
    RawExchange(port(), std::string(method) + " /healthz HTTP/1.1\r\nHost: x\r\n\r\n", seconds(2));
  }
  const std::string metrics = Http(port(), "GET", "/metrics").body;
  EXPECT_EQ(metrics.find("BREW"), std::string::npos);
  EXPECT_EQ(metrics.find("XYZZY"), std::string::npos);
}

class RockdTimeouts : public ::testing::Test {
 protected:
  void SetUp() override {
    rockd_ = RockdProcess::Start({.config_json = R"({"http":{"header_timeout_ms":400,"idle_timeout_ms":400}})"});
    ASSERT_NE(rockd_, nullptr);
  }
  std::unique_ptr<RockdProcess> rockd_;
};

TEST_F(RockdTimeouts, SilentConnectionIsClosed) {
  RawConnection connection(rockd_->port());
  const RawReply reply = connection.Receive(seconds(10));
  EXPECT_TRUE(reply.closed);
  EXPECT_TRUE(reply.data.empty());
}

TEST_F(RockdTimeouts, IdleKeepAliveConnectionIsClosedAfterItsRequest) {
  RawConnection connection(rockd_->port());
  ASSERT_TRUE(connection.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const RawReply reply = connection.Receive(seconds(10));
  EXPECT_TRUE(reply.data.starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(reply.closed) << "closed once idle";
}

TEST_F(RockdTimeouts, SlowlorisTrickleIsClosedAlthoughBytesKeepComing) {
  RawConnection connection(rockd_->port());
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  bool closed = false;
  for (std::size_t i = 0; i < head.size() && !closed; ++i) {
    closed = !connection.Send(head.substr(i, 1));
    closed = closed || connection.Receive(milliseconds(100)).closed;
  }
  EXPECT_TRUE(closed) << "a head trickled byte by byte outlives header_timeout and is cut";
  EXPECT_EQ(Http(rockd_->port(), "GET", "/healthz").status, 200);
}

class RockdAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    rockd_ = RockdProcess::Start({.env = {{"ROCKD_TOKEN", "t0ken-for-tests"}}});
    ASSERT_NE(rockd_, nullptr);
  }
  std::unique_ptr<RockdProcess> rockd_;
};

TEST_F(RockdAuth, ApiNeedsTheBearerToken) {
  const HttpReply anonymous = Http(rockd_->port(), "GET", "/api/v1/info");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(ErrorCode(anonymous), "unauthenticated");
  EXPECT_EQ(anonymous.headers.at("www-authenticate"), "Bearer realm=\"rockd\"");
  EXPECT_EQ(Http(rockd_->port(), "GET", "/api/v1/info", "", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(Http(rockd_->port(), "GET", "/api/v1/info", "", {{"Authorization", "Bearer t0ken-for-test"}}).status, 401);
  EXPECT_EQ(Http(rockd_->port(), "GET", "/api/v1/info", "", {{"Authorization", "t0ken-for-tests"}}).status, 401);
  EXPECT_EQ(Http(rockd_->port(), "GET", "/api/v1/info", "", {{"Authorization", "Bearer t0ken-for-tests"}}).status,
            200);
  EXPECT_EQ(Http(rockd_->port(), "PUT", "/api/v1/log-level", R"({"level":"info"})").status, 401);
  EXPECT_EQ(Http(rockd_->port(), "GET", "/apis/v1/envs/gem/make").status, 401) << "unknown /apis paths too";
}

TEST_F(RockdAuth, HealthAndReadinessStayOpen) {
  EXPECT_EQ(Http(rockd_->port(), "GET", "/healthz").status, 200);
  EXPECT_TRUE(Eventually([&] { return Http(rockd_->port(), "GET", "/readyz").status == 200; }));
}

TEST_F(RockdAuth, WebSocketsNeedTheTokenInHeaderOrQuery) {
  WsClient anonymous(rockd_->port(), "/ws/events");
  EXPECT_FALSE(anonymous.connected());
  EXPECT_NE(anonymous.error().find("401"), std::string::npos) << anonymous.error();
  WsClient with_header(rockd_->port(), "/ws/events", {{"Authorization", "Bearer t0ken-for-tests"}});
  EXPECT_TRUE(with_header.connected()) << with_header.error();
  WsClient with_query(rockd_->port(), "/ws/events?access_token=t0ken-for-tests");
  EXPECT_TRUE(with_query.connected()) << with_query.error();
}

}  // namespace
}  // namespace rock::test
