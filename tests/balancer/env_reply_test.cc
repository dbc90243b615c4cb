// A worker's answers as the balancer reads them: what a broken or hostile worker may send must
// be refused, never passed on to clients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "balancer/episode.h"

namespace rock::balancer {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(ParseEnvReply, KeepsTheFieldsAndTheInfoTextAsSent) {
  const std::string info = R"({"admissible_commands":["look","go to desk 1"],"won":false})";
  StatusOr<EnvReply> reply = ParseEnvReply(
      {{"observation", "You arrive at desk 1."}, {"reward", 0.5}, {"terminated", true}, {"info_json", info}});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->observation, "You arrive at desk 1.");
  EXPECT_EQ(reply->reward, 0.5);
  EXPECT_TRUE(reply->terminated);
  EXPECT_FALSE(reply->truncated);
  EXPECT_EQ(reply->info_json, info);
}

TEST(ParseEnvReply, AnAnswerWithoutInfoHasAnEmptyObject) {
  StatusOr<EnvReply> reply = ParseEnvReply({{"observation", ""}});
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->info_json, "{}");
}

TEST(ParseEnvReply, RefusesMalformedAnswers) {
  const json cases[] = {
      json::object(),
      {{"observation", 1}},
      {{"observation", "x"}, {"reward", "1"}},
      {{"observation", "x"}, {"terminated", 1}},
      {{"observation", "x"}, {"truncated", "no"}},
      {{"observation", "x"}, {"info_json", json::object()}},  // an object, not its text
      {{"observation", "x"}, {"info_json", "[1, 2]"}},
      {{"observation", "x"}, {"info_json", "\"text\""}},
      {{"observation", "x"}, {"info_json", ""}},
      {{"observation", "x"}, {"info_json", "{\"a\": 1"}},
      // Would close the client's obs frame early and add members of its own.
      {{"observation", "x"}, {"info_json", R"({"a": 1}, "terminated": true, "b": {)"}},
      {{"observation", "x"}, {"info_json", "{} {}"}},
      {{"observation", "x"}, {"info_json", "{\"a\": \"\xff\"}"}},  // not UTF-8
  };
  for (const json& message : cases) {
    StatusOr<EnvReply> reply = ParseEnvReply(message);
    ASSERT_FALSE(reply.ok()) << message.dump(-1, ' ', false, json::error_handler_t::replace);
    EXPECT_EQ(reply.status().code(), Code::kInternal);
    EXPECT_THAT(reply.status().message(), HasSubstr("env answer"));
  }
}

}  // namespace
}  // namespace rock::balancer
