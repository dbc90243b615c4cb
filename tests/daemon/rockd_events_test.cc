// /ws/events of the real rockd: broadcast to every client, and a client that stops reading
// is dropped without hurting the others.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace rock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The next event of `type`, skipping others.
std::optional<nlohmann::json> NextEvent(WsClient& client, std::string_view type) {
  for (int i = 0; i < 200; ++i) {
    auto message = client.Read(seconds(5));
    if (!message) return std::nullopt;
    auto event = nlohmann::json::parse(*message);
    if (event["type"] == type) return event;
  }
  return std::nullopt;
}

TEST(RockdEvents, EveryClientReceivesTheSameEventsInOrder) {
  auto rockd = RockdProcess::Start({.config_json = R"({"events":{"stats_interval_ms":20}})"});
  ASSERT_NE(rockd, nullptr);
  WsClient first(rockd->port(), "/ws/events");
  WsClient second(rockd->port(), "/ws/events");
  ASSERT_TRUE(first.connected()) << first.error();
  ASSERT_TRUE(second.connected()) << second.error();
  auto a = NextEvent(first, "stats");
  auto b = NextEvent(second, "stats");
  ASSERT_TRUE(a && b);
  EXPECT_TRUE((*a)["data"]["uptime_s"].is_number());
  EXPECT_TRUE((*a)["ts_ms"].is_number_integer());
  // Both see a strictly increasing sequence; catch them up to a common seq.
  uint64_t last = (*a)["seq"];
  for (int i = 0; i < 5; ++i) {
    auto next = NextEvent(first, "stats");
    ASSERT_TRUE(next);
    EXPECT_GT((*next)["seq"].get<uint64_t>(), last);
    last = (*next)["seq"];
  }
  EXPECT_TRUE(Eventually([&] {
    auto event = NextEvent(second, "stats");
    return event && (*event)["seq"].get<uint64_t>() >= last;
  }));
  EXPECT_TRUE(Eventually([&] {
    return Http(rockd->port(), "GET", "/metrics").body.find("rockd_websocket_clients{endpoint=\"/ws/events\"} 2") !=
           std::string::npos;
  }));
}

TEST(RockdEvents, ClientThatStopsReadingIsDroppedAndOthersKeepReceiving) {
  auto rockd = RockdProcess::Start(
      {.config_json = R"({"events":{"stats_interval_ms":1,"client_queue_messages":16}})"});
  ASSERT_NE(rockd, nullptr);
  WsClient stalled(rockd->port(), "/ws/events", {}, /*receive_buffer=*/1024);
  WsClient healthy(rockd->port(), "/ws/events");
  ASSERT_TRUE(stalled.connected() && healthy.connected());
  const bool dropped = Eventually(
      [&] {
        // Keep the healthy client drained while the stalled one never reads.
        for (int i = 0; i < 500 && healthy.Read(milliseconds(1)); ++i) {
        }
        return Http(rockd->port(), "GET", "/metrics").body.find("rockd_websocket_clients_dropped_total{endpoint=\"/ws/events\"} 1") !=
               std::string::npos;
      },
      seconds(60));
  EXPECT_TRUE(dropped) << "the stalled client is cut off once its queue is full";
  EXPECT_TRUE(healthy.Read(seconds(5)).has_value()) << "the healthy client still receives";
  EXPECT_NE(rockd->Log().find("dropping it"), std::string::npos);
}

TEST(RockdEvents, UnknownWebSocketPathIs404) {
  auto rockd = RockdProcess::Start();
  ASSERT_NE(rockd, nullptr);
  WsClient client(rockd->port(), "/ws/nothing-here");
  EXPECT_FALSE(client.connected());
  EXPECT_NE(client.error().find("404"), std::string::npos) << client.error();
}

}  // namespace
}  // namespace rock::test
