// Runs the worker's env messages (reset, step, close: the MessageHandlers) on a thread of their
// own, one at a time in arrival order, so that a long reset or step never delays init's pongs.
// Heartbeats then say whether the worker is alive; whether an env is stuck is the balancer's
// step deadline to say.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <span>
#include <thread>

#include <nlohmann/json.hpp>

#include "sandbox/init.h"

namespace rock::sandbox {

class HandlerThread {
 public:
  // `reply` is called on the handler thread and must be safe to call from it.
  HandlerThread(std::span<MessageHandler* const> handlers, Reply reply);
  // Lets the message in progress finish, drops those still queued and joins.
  ~HandlerThread();
  HandlerThread(const HandlerThread&) = delete;
  HandlerThread& operator=(const HandlerThread&) = delete;

  void Post(nlohmann::json message);
  // Handles `message` on the calling thread instead, if a handler finds it Quick and no message
  // is queued or being handled; false (nothing done) otherwise. Called by the thread that posts.
  bool HandleHereIfIdle(const nlohmann::json& message);

 private:
  void Loop();
  // Runs `message` through the handlers, or replies that no handler knows its type.
  void Handle(const nlohmann::json& message);

  const std::span<MessageHandler* const> handlers_;
  const Reply reply_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<nlohmann::json> queue_;  // guarded by mutex_
  bool stopping_ = false;             // guarded by mutex_
  bool busy_ = false;                 // a message is being handled; guarded by mutex_
  std::thread thread_;                // last: starts once the members above exist
};

}  // namespace rock::sandbox
