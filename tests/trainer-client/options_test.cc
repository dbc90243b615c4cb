// rock-trainer's flags: defaults, what a flag changes, and refusals with the flag named.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trainer-client/trainer/options.h"

namespace rock::trainer {
namespace {

StatusOr<TrainerOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "rock-trainer");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(TrainerOptions, DefaultsTrainAlfworldAsynchronouslyAgainstLocalRockd) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->endpoints.size(), 1u);
  EXPECT_EQ(o->endpoints[0].host, "127.0.0.1");
  EXPECT_EQ(o->endpoints[0].port, 8080);
  EXPECT_EQ(o->env, "alfworld");
  EXPECT_EQ(o->task_types.size(), 6u);
  EXPECT_EQ(o->alpha, 1);
  EXPECT_EQ(o->algorithm, Algorithm::kGrpo);
  EXPECT_EQ(o->loss.correction, rl::OffPolicyCorrection::kTruncatedIs);
}

TEST(TrainerOptions, FlagsSetWhatTheySay) {
  auto o = Parse({"--endpoint", "10.0.0.2:9000", "--endpoint", "[::1]:81", "--encoding", "msgpack", "--algo", "ppo",
                  "--correction", "decoupled", "--alpha", "0", "--task", R"({"arms": ["a"], "rewards": [1]})",
                  "--env", "bandit", "--lr", "0", "--imitation", "0.5", "--match-slots", "6"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->endpoints.size(), 2u);
  EXPECT_EQ(o->endpoints[1].host, "::1");
  EXPECT_EQ(o->endpoints[1].port, 81);
  EXPECT_EQ(o->encoding, Encoding::kMsgpack);
  EXPECT_EQ(o->algorithm, Algorithm::kPpo);
  EXPECT_EQ(o->loss.correction, rl::OffPolicyCorrection::kDecoupled);
  EXPECT_EQ(o->alpha, 0);
  EXPECT_EQ(o->task["arms"][0], "a");
  EXPECT_EQ(o->imitation, 0.5);
  EXPECT_EQ(o->model.match_slots, 6);
  // --lr 0 is the random-agent baseline: the schedule must not climb back to --min-lr.
  EXPECT_EQ(o->adamw.lr, 0.0f);
  EXPECT_EQ(o->adamw.min_lr, 0.0f);
}

TEST(TrainerOptions, MalformedValuesAreRefusedWithTheFlag) {
  for (const auto& [args, flag] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--endpoint", "localhost"}, "--endpoint"},
           {{"--endpoint", "localhost:0"}, "--endpoint"},
           {{"--endpoint", "localhost:70000"}, "--endpoint"},
           {{"--task", "[1, 2]"}, "--task"},
           {{"--task", "{"}, "--task"},
           {{"--lr", "0.001", "--min-lr", "0.01"}, "--min-lr"},
           {{"--prompt-bytes", "250", "--max-seq", "256"}, "--prompt-bytes"},
           {{"--heads", "3"}, "model"},
           {{"--imitation", "1", "--action", "generate"}, "--imitation"},
           {{"--lm-loss", "0.5", "--action", "generate"}, "--lm-loss"},
           {{"--match-slots", "4", "--action", "generate"}, "--match-slots"},
           {{"--env", "bandit", "--curriculum", "2"}, "--curriculum"},
           {{"--credits", "15", "--alpha", "1", "--batch-groups", "2", "--group-size", "4"}, "--credits"},
       }) {
    auto o = Parse(args);
    ASSERT_FALSE(o.ok()) << args[0];
    EXPECT_EQ(o.status().code(), Code::kInvalidArgument);
    EXPECT_NE(o.status().message().find(flag), std::string::npos) << o.status().message();
  }
  // CLI11's own checks print their message and leave the status's empty.
  for (const char* flag : {"--alpha", "--curriculum", "--lm-loss", "--match-slots"}) {
    auto range = Parse({flag, "-1"});
    ASSERT_FALSE(range.ok()) << flag;
    EXPECT_EQ(range.status().code(), Code::kInvalidArgument) << flag;
  }
}

}  // namespace
}  // namespace rock::trainer
