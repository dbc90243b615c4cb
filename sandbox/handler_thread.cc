#include "sandbox/handler_thread.h"

#include <string>
#include <utility>

#include <fmt/format.h>

namespace rock::sandbox {

HandlerThread::HandlerThread(std::span<MessageHandler* const> handlers, Reply reply)
    : handlers_(handlers), reply_(std::move(reply)), thread_([this] { Loop(); }) {}

HandlerThread::~HandlerThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void HandlerThread::Post(nlohmann::json message) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(message));
  }
  wake_.notify_one();
}

bool HandlerThread::HandleHereIfIdle(const nlohmann::json& message) {
  bool quick = false;
  for (MessageHandler* handler : handlers_) quick = quick || handler->Quick(message);
  if (!quick) return false;
  {
    std::lock_guard lock(mutex_);
    if (busy_ || !queue_.empty() || stopping_) return false;
    busy_ = true;
  }
  Handle(message);
  bool posted = false;
  {
    std::lock_guard lock(mutex_);
    busy_ = false;
    posted = !queue_.empty();
  }
  // The loop waits while busy_: wake it for anything posted meanwhile, and only then (waking it
  // for nothing cost a context switch per step).
  if (posted) wake_.notify_one();
  return true;
}

void HandlerThread::Loop() {
  for (;;) {
    nlohmann::json message;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !busy_); });
      if (stopping_) return;
      message = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    Handle(message);
    std::lock_guard lock(mutex_);
    busy_ = false;
  }
}

void HandlerThread::Handle(const nlohmann::json& message) {
  bool handled = false;
  for (MessageHandler* handler : handlers_) {
    if ((handled = handler->Handle(message, reply_))) break;
  }
  if (!handled) {
    const auto type = message.find("type");
    reply_({{"type", "error"},
            {"message", fmt::format("unknown message type '{}'",
                                    type != message.end() && type->is_string() ? type->get<std::string>() : "")}});
  }
}

}  // namespace rock::sandbox
