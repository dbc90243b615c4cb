// The episode host without a sandbox: the answers and errors of reset, step and close.
#include "envs/episode_host.h"
#include "tests/support/env_reply.h"

#include <gtest/gtest.h>

#include <vector>

namespace rock::envs {
namespace {

using nlohmann::json;

class EpisodeHostTest : public ::testing::Test {
 protected:
  // Sends one message; returns the single answer.
  json Ask(const json& message) {
    std::vector<json> answers;
    const bool handled = host_.Handle(message, [&](const json& answer) { answers.push_back(answer); });
    EXPECT_TRUE(handled) << message.dump();
    EXPECT_EQ(answers.size(), 1u) << message.dump();
    return answers.empty() ? json() : answers.front();
  }

  EpisodeHost host_{"alfworld", 2};
  const json task_ = {{"type", "pick_cool_then_place_in_recep"}, {"seed", 3}};
};

TEST_F(EpisodeHostTest, OtherMessageTypesAreNotItsBusiness) {
  EXPECT_FALSE(host_.Handle({{"type", "exec"}, {"id", 1}}, [](const json&) { FAIL(); }));
  EXPECT_FALSE(host_.Handle({{"type", "ping"}}, [](const json&) { FAIL(); }));
}

TEST_F(EpisodeHostTest, ResetStepCloseAnswerWithTheirSlot) {
  json reset = Ask({{"type", "reset"}, {"slot", 1}, {"task", task_}, {"seed", 0}});
  ASSERT_EQ(reset["type"], "reset_result") << reset.dump();
  EXPECT_EQ(reset["slot"], 1);
  EXPECT_NE(reset["observation"].get<std::string>().find("Your task is to: "), std::string::npos);
  EXPECT_TRUE(rock::test::InfoOf(reset)["admissible_commands"].is_array());

  json step = Ask({{"type", "step"}, {"slot", 1}, {"action", "look"}, {"req", 42}});
  ASSERT_EQ(step["type"], "step_result") << step.dump();
  EXPECT_EQ(step["req"], 42);
  EXPECT_EQ(step["reward"], 0.0);
  EXPECT_FALSE(step["terminated"].get<bool>());

  EXPECT_EQ(Ask({{"type", "close"}, {"slot", 1}})["type"], "closed");
}

TEST_F(EpisodeHostTest, MalformedRequestsNameTheFieldAndLeaveSlotsAlone) {
  ASSERT_EQ(Ask({{"type", "reset"}, {"slot", 0}, {"task", task_}})["type"], "reset_result");
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"type", "step"}, {"action", "look"}}, "'slot'"},
      {{{"type", "step"}, {"slot", -1}, {"action", "look"}}, "'slot'"},
      {{{"type", "step"}, {"slot", "0"}, {"action", "look"}}, "'slot'"},
      {{{"type", "step"}, {"slot", 2}, {"action", "look"}}, "out of range"},
      {{{"type", "step"}, {"slot", 0}}, "'action'"},
      {{{"type", "step"}, {"slot", 0}, {"action", 5}}, "'action'"},
      {{{"type", "reset"}, {"slot", 0}, {"task", "pick"}}, "'task'"},
      {{{"type", "reset"}, {"slot", 0}, {"task", task_}, {"seed", -3}}, "'seed'"},
      {{{"type", "reset"}, {"slot", 1}, {"task", {{"type", "juggle"}}}}, "task.type"},
  };
  for (const auto& [message, names] : bad) {
    json answer = Ask(message);
    EXPECT_EQ(answer["type"], "env_error") << message.dump();
    EXPECT_EQ(answer["code"], "invalid_argument") << message.dump();
    EXPECT_NE(answer["message"].get<std::string>().find(names), std::string::npos) << answer.dump();
  }
  // Slot 0's episode went on untouched.
  EXPECT_EQ(Ask({{"type", "step"}, {"slot", 0}, {"action", "inventory"}})["type"], "step_result");
}

TEST_F(EpisodeHostTest, StepWithoutAnEpisodeIsAFailedPrecondition) {
  json never_reset = Ask({{"type", "step"}, {"slot", 0}, {"action", "look"}});
  EXPECT_EQ(never_reset["code"], "failed_precondition");
  ASSERT_EQ(Ask({{"type", "reset"}, {"slot", 0}, {"task", task_}})["type"], "reset_result");
  ASSERT_EQ(Ask({{"type", "close"}, {"slot", 0}})["type"], "closed");
  EXPECT_EQ(Ask({{"type", "step"}, {"slot", 0}, {"action", "look"}})["code"], "failed_precondition");
}

TEST(EpisodeHost, ShellHasNoEpisodes) {
  EpisodeHost shell("shell", 1);
  json answer;
  shell.Handle({{"type", "reset"}, {"slot", 0}}, [&](const json& a) { answer = a; });
  EXPECT_EQ(answer["type"], "env_error");
  EXPECT_NE(answer["message"].get<std::string>().find("no episodes"), std::string::npos);
}

}  // namespace
}  // namespace rock::envs
