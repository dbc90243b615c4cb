// HandlerThread alone: quick messages run on the posting thread only while the handler thread
// is idle, so replies keep the order the messages arrived in.
#include "sandbox/handler_thread.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace rock::sandbox {
namespace {

using nlohmann::json;

// "slow" waits until released; "quick" says it is Quick. Each reply records its type and thread.
class TestHandler : public MessageHandler {
 public:
  bool Handle(const json& message, const Reply& reply) override {
    if (message.value("type", "") == "slow") {
      std::unique_lock lock(mutex_);
      slow_started_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return released_; });
    }
    reply(message);
    return true;
  }
  bool Quick(const json& message) const override { return message.value("type", "") == "quick"; }

  void WaitSlowStarted() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return slow_started_; });
  }
  void Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool slow_started_ = false;
  bool released_ = false;
};

struct Replies {
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<std::pair<std::string, std::thread::id>> seen;

  void Add(const json& message) {
    std::lock_guard lock(mutex);
    seen.emplace_back(message.value("type", ""), std::this_thread::get_id());
    arrived.notify_all();
  }
  bool WaitFor(std::size_t n) {
    std::unique_lock lock(mutex);
    return arrived.wait_for(lock, std::chrono::seconds(10), [&] { return seen.size() >= n; });
  }
};

TEST(HandlerThread, AQuickMessageRunsOnTheCallerWhileIdle) {
  TestHandler handler;
  MessageHandler* const handlers[] = {&handler};
  Replies replies;
  HandlerThread thread(handlers, [&](const json& m) { replies.Add(m); });
  EXPECT_TRUE(thread.HandleHereIfIdle({{"type", "quick"}}));
  ASSERT_EQ(replies.seen.size(), 1u);
  EXPECT_EQ(replies.seen[0].second, std::this_thread::get_id());
  EXPECT_FALSE(thread.HandleHereIfIdle({{"type", "other"}})) << "only Quick messages run here";
  thread.Post({{"type", "other"}});
  ASSERT_TRUE(replies.WaitFor(2));
  EXPECT_NE(replies.seen[1].second, std::this_thread::get_id());
}

TEST(HandlerThread, AQuickMessageWaitsBehindARunningOneAndKeepsItsPlace) {
  TestHandler handler;
  MessageHandler* const handlers[] = {&handler};
  Replies replies;
  HandlerThread thread(handlers, [&](const json& m) { replies.Add(m); });
  thread.Post({{"type", "slow"}});
  handler.WaitSlowStarted();
  EXPECT_FALSE(thread.HandleHereIfIdle({{"type", "quick"}})) << "the handler thread is busy";
  thread.Post({{"type", "quick"}});
  handler.Release();
  ASSERT_TRUE(replies.WaitFor(2));
  EXPECT_EQ(replies.seen[0].first, "slow");
  EXPECT_EQ(replies.seen[1].first, "quick");
  // Idle again (once the thread has finished the message it replied to): the next one runs here.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool here = false;
  while (!(here = thread.HandleHereIfIdle({{"type", "quick"}})) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(here);
  ASSERT_TRUE(replies.WaitFor(3));
  EXPECT_EQ(replies.seen[2].second, std::this_thread::get_id());
}

}  // namespace
}  // namespace rock::sandbox
