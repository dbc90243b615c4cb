// Starts the real rockd binary for integration tests: a fresh data dir, an ephemeral port
// read from --port-file, stderr captured to a file, SIGKILL on destruction if still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rock::test {

using EnvList = std::vector<std::pair<std::string, std::string>>;

struct RockdOptions {
  std::string config_json;          // written to a file and passed with --config when set
  std::vector<std::string> args;    // extra flags
  EnvList env;                      // added to the environment
  std::string data_dir;             // empty: a fresh temporary directory
  std::string log_level = "debug";  // long runs (the soak) log less
  std::string binary;               // empty: the rockd of this build
};

// A fresh directory under $TMPDIR, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A program of the project run for a test: stdout and stderr to a file, its own process group,
// SIGKILLed on destruction if still running. rockd (below) and rock-trainer run this way.
class ChildProcess {
 public:
  static std::unique_ptr<ChildProcess> Start(const std::string& binary, const std::vector<std::string>& args,
                                             const EnvList& env = {});
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  std::string Log() const;
  // Sends `signal` and waits; returns the exit status, or 128+signal when killed by one,
  // or -1 on timeout.
  int Stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  int WaitExit(std::chrono::milliseconds timeout);

 private:
  ChildProcess() = default;
  std::unique_ptr<TempDir> dir_;
  std::string log_path_;
  pid_t pid_ = -1;
};

class RockdProcess {
 public:
  // Starts rockd and waits for its port file; on failure the test fails with rockd's output
  // and the result is null.
  static std::unique_ptr<RockdProcess> Start(RockdOptions options = {});
  ~RockdProcess();

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  const std::string& data_dir() const { return data_dir_; }
  // What rockd wrote to stderr so far.
  std::string Log() const { return process_->Log(); }
  int Stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return process_->Stop(signal, timeout);
  }
  int WaitExit(std::chrono::milliseconds timeout) { return process_->WaitExit(timeout); }

 private:
  RockdProcess() = default;
  std::unique_ptr<TempDir> dir_;
  std::string data_dir_;
  std::unique_ptr<ChildProcess> process_;
  uint16_t port_ = 0;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs rockd with `args` to completion (for --print-config and start-up failures).
RunResult RunRockd(const std::vector<std::string>& args, const EnvList& env = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Runs `sql` on the SQLite database `db` with the sqlite3 shell; returns what it printed.
std::string SqliteQuery(const std::string& db, const std::string& sql);

// Polls `condition` until true or `timeout`; returns its last value.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    struct timespec pause {0, 20'000'000};
    nanosleep(&pause, nullptr);
  }
  return condition();
}

}  // namespace rock::test
