#include "sandbox/local_exec.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

#include "sandbox/exec.h"

namespace rock::sandbox {

LocalExecs::LocalExecs() : wake_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_.valid()) spdlog::error("local exec: eventfd: {}", std::strerror(errno));
}

nlohmann::json LocalExecs::Run(nlohmann::json message) {
  const nlohmann::json id = message.value("id", nlohmann::json());
  std::future<nlohmann::json> result;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || !wake_.valid()) return ExecFailure(id, "rock-env: stopping; the command did not run");
    LocalExecRequest& request = queue_.emplace_back(LocalExecRequest{.message = std::move(message)});
    result = request.result.get_future();
  }
  const uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof(one)) < 0 && errno != EAGAIN) {
    spdlog::error("local exec: write(eventfd {}): {}", wake_.get(), std::strerror(errno));
  }
  return result.get();
}

std::vector<LocalExecRequest> LocalExecs::Take() {
  uint64_t count = 0;
  (void)!read(wake_.get(), &count, sizeof(count));  // resets the counter; EAGAIN when already 0
  std::lock_guard lock(mutex_);
  return std::exchange(queue_, {});
}

void LocalExecs::Close() {
  std::vector<LocalExecRequest> waiting;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    waiting = std::exchange(queue_, {});
  }
  for (LocalExecRequest& request : waiting) {
    request.result.set_value(ExecFailure(request.message.value("id", nlohmann::json()), "rock-env: stopping; the command did not run"));
  }
}

}  // namespace rock::sandbox
