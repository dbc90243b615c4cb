// The worker's PID-1 loop, run once Contain has succeeded: it answers the control socket, runs
// execs (several at once, each answered by id), reaps every zombie in the pid namespace (orphans
// reparent to PID 1) and takes the whole tree down on stop.
#pragma once

#include <functional>
#include <span>

#include <nlohmann/json_fwd.hpp>

#include "sandbox/spec.h"

namespace rock::sandbox {

class LocalExecs;

// Sends one message to rockd.
using Reply = std::function<void(const nlohmann::json&)>;

// Serves message types beyond init's own (ping, exec, stop): the env messages (reset, step,
// close). Handlers run one message at a time on a thread of their own (handler_thread.h), so
// they may take long without delaying heartbeats.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // Handles `message` and returns true if its type is this handler's; false lets the next try.
  virtual bool Handle(const nlohmann::json& message, const Reply& reply) = 0;
  // True when handling `message` takes microseconds (an ALFWorld step): init then runs it on its
  // own thread whenever the handler thread is idle, which saves a hand-off between threads per
  // step and keeps arrival order (nothing else is waiting or running).
  virtual bool Quick(const nlohmann::json& /*message*/) const { return false; }
};

// Sends `ready`, then serves until `stop` or EOF on the control socket (returns 0, every other
// process killed and reaped), a malformed frame (returns 2: rockd restarts the worker) or a
// control socket error (returns 1). Unknown types get an `error` reply. Must be PID 1.
// `local_execs`, when given, are the handlers' own execs (local_exec.h), run beside rockd's.
int RunInit(const Spec& spec, int control_fd, std::span<MessageHandler* const> handlers = {},
            LocalExecs* local_execs = nullptr);

}  // namespace rock::sandbox
