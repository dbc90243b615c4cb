// Start-up, configuration errors, systemd notification and graceful shutdown of the real
// rockd binary.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(RockdConfig, PrintConfigShowsEffectiveValues) {
  const RunResult result = RunRockd({"--print-config", "--listen", "[::1]:0", "--log-level", "warn"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto config = nlohmann::json::parse(result.output);
  EXPECT_EQ(config["http"]["listen"], "[::1]:0");
  EXPECT_EQ(config["log_level"], "warn");
  EXPECT_EQ(config["http"]["threads"], 2);
}

TEST(RockdConfig, UnknownKeyStopsStartupNamingTheKey) {
  TempDir dir;
  const std::string path = dir.path() + "/rockd.json";
  std::ofstream(path) << R"({"http":{"listen":"127.0.0.1:0","idle_timout_ms":5}})";
  const RunResult result = RunRockd({"--config", path, "--data-dir", dir.path() + "/data"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("unknown key 'http.idle_timout_ms'"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data")) << "nothing is created before the config is valid";
}

TEST(RockdConfig, BadValuesAndFlagsStopStartup) {
  TempDir dir;
  const std::string path = dir.path() + "/rockd.json";
  std::ofstream(path) << R"({"http":{"threads":0}})";
  RunResult result = RunRockd({"--config", path});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("'http.threads'"), std::string::npos) << result.output;

  result = RunRockd({"--listen", "nowhere"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("--listen"), std::string::npos) << result.output;

  result = RunRockd({"--log-level", "chatty", "--print-config"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("log_level"), std::string::npos) << result.output;

  result = RunRockd({"--config", dir.path() + "/missing.json"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("missing.json"), std::string::npos) << result.output;

  std::ofstream(path) << "{ not json";
  result = RunRockd({"--config", path});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("invalid JSON"), std::string::npos) << result.output;
}

TEST(RockdStore, CorruptDatabaseStopsStartupAndIsLeftUntouched) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/data");
  const std::string db = dir.path() + "/data/rockd.db";
  std::ofstream(db, std::ios::binary) << std::string(8192, '\x5a');
  const std::string before = FileBytes(db);
  const RunResult result = RunRockd({"--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/data"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("rockd.db"), std::string::npos) << result.output;
  EXPECT_EQ(FileBytes(db), before);
}

TEST(RockdStore, SecondRockdOnTheSameDataDirIsRefused) {
  auto first = RockdProcess::Start();
  ASSERT_NE(first, nullptr);
  const RunResult second = RunRockd({"--listen", "127.0.0.1:0", "--data-dir", first->data_dir()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.output.find("in use by another rockd"), std::string::npos) << second.output;
  EXPECT_EQ(Http(first->port(), "GET", "/healthz").status, 200) << "the first one is unaffected";
}

TEST(RockdStore, StartAndStopAreRecordedAndSurviveRestart) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  for (int run = 0; run < 2; ++run) {
    auto rockd = RockdProcess::Start({.data_dir = data});
    ASSERT_NE(rockd, nullptr);
    ASSERT_EQ(rockd->Stop(SIGTERM), 0) << rockd->Log();
  }
  const std::string kinds = SqliteQuery(data + "/rockd.db", "SELECT kind FROM daemon_events ORDER BY id");
  EXPECT_EQ(kinds, "start\nstop\nstart\nstop\n");
}

TEST(RockdListen, BusyPortStopsStartupNamingTheAddress) {
  auto first = RockdProcess::Start();
  ASSERT_NE(first, nullptr);
  TempDir dir;
  const std::string listen = "127.0.0.1:" + std::to_string(first->port());
  const RunResult second = RunRockd({"--listen", listen, "--data-dir", dir.path()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.output.find("bind " + listen), std::string::npos) << second.output;
}

TEST(RockdShutdown, SigtermFinishesInFlightRequestAndExitsZero) {
  auto rockd = RockdProcess::Start();
  ASSERT_NE(rockd, nullptr);
  RawConnection idle(rockd->port());
  ASSERT_TRUE(idle.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.Receive(seconds(5), 1).data.starts_with("HTTP/1.1 200"));
  WsClient events(rockd->port(), "/ws/events");
  ASSERT_TRUE(events.connected()) << events.error();

  // A request whose body is still on its way when SIGTERM lands.
  RawConnection in_flight(rockd->port());
  const std::string body = R"({"level":"info"})";
  ASSERT_TRUE(in_flight.Send("PUT /api/v1/log-level HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 5)));
  std::this_thread::sleep_for(milliseconds(100));
  kill(rockd->pid(), SIGTERM);
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_TRUE(in_flight.Send(body.substr(5)));
  const RawReply answer = in_flight.Receive(seconds(5));
  EXPECT_TRUE(answer.data.starts_with("HTTP/1.1 200")) << answer.data;
  EXPECT_NE(answer.data.find("Connection: close"), std::string::npos) << answer.data;
  EXPECT_TRUE(answer.closed);

  EXPECT_TRUE(idle.Receive(seconds(5)).closed) << "idle keep-alive connections are closed";
  EXPECT_TRUE(events.WaitClosed(seconds(5))) << "WebSocket clients get a close";
  EXPECT_EQ(rockd->WaitExit(seconds(5)), 0) << rockd->Log();
  EXPECT_NE(rockd->Log().find("rockd stopped"), std::string::npos);
}

TEST(RockdShutdown, SigintAlsoDrainsAndExitsZero) {
  auto rockd = RockdProcess::Start();
  ASSERT_NE(rockd, nullptr);
  EXPECT_EQ(rockd->Stop(SIGINT, seconds(5)), 0) << rockd->Log();
}

// A unix datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  NotifySocket() : path_(dir_.path() + "/notify") {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{0, 100'000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() { close(fd_); }
  const std::string& path() const { return path_; }
  std::string Receive() {
    char buffer[512];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(RockdSystemd, NotifiesReadyPingsWatchdogAndSaysStopping) {
  NotifySocket notify;
  auto rockd = RockdProcess::Start({.env = {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "200000"}}});
  ASSERT_NE(rockd, nullptr);
  std::string messages;
  int watchdogs = 0;
  Eventually([&] {
    const std::string message = notify.Receive();
    messages += message + "\n";
    watchdogs += message == "WATCHDOG=1" ? 1 : 0;
    return watchdogs >= 3 && messages.find("READY=1") != std::string::npos;
  });
  EXPECT_NE(messages.find("READY=1"), std::string::npos) << messages;
  EXPECT_GE(watchdogs, 3) << "pings every WatchdogSec/2";
  ASSERT_EQ(rockd->Stop(SIGTERM), 0);
  bool stopping = false;
  for (int i = 0; i < 50 && !stopping; ++i) stopping = notify.Receive() == "STOPPING=1";
  EXPECT_TRUE(stopping);
}

}  // namespace
}  // namespace rock::test
