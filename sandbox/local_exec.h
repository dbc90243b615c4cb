// Execs that rock-env asks of itself: an env's agent tools (SWE-bench's bash, git and test runs)
// run commands exactly as rockd's `exec` does, under a reaper that kills the command's whole tree.
//
// Init forks every reaper: it is the process's only single-threaded context and the one that
// reaps (its waitpid(-1) would steal any other thread's child). Env messages run on the handler
// thread (handler_thread.h), so an env queues its exec here and waits for init to answer it.
#pragma once

#include <future>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace rock::sandbox {

// An exec message as rockd would send it (`{"type":"exec","id",...}`, exec.h) and the promise
// of its exec_result.
struct LocalExecRequest {
  nlohmann::json message;
  std::promise<nlohmann::json> result;
};

class LocalExecs {
 public:
  LocalExecs();
  LocalExecs(const LocalExecs&) = delete;
  LocalExecs& operator=(const LocalExecs&) = delete;

  // Any thread but init's: queues `message` and blocks until its exec_result. Once init has
  // stopped (Close), answers at once with an exec_result that says so.
  nlohmann::json Run(nlohmann::json message);

  // Init's side: readable while requests wait to be taken.
  int wake_fd() const { return wake_.get(); }
  std::vector<LocalExecRequest> Take();
  // Answers every waiting and later request with a failure; init calls it when it stops.
  void Close();

 private:
  UniqueFd wake_;  // eventfd
  std::mutex mutex_;
  std::vector<LocalExecRequest> queue_;  // guarded by mutex_
  bool closed_ = false;                  // guarded by mutex_
};

}  // namespace rock::sandbox
