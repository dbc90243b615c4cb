// Shell sandboxes under the soak: each is created through the HTTP API, runs one command (a
// plain one whose output is checked, or one that fills its memory or its disk, after which the
// sandbox must still answer correctly) and is deleted. At the end every one of them must be
// stopped in rockd's database.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rock::soak {

class SoakRockd;

struct ShellTally {
  uint64_t sandboxes = 0;     // created
  uint64_t commands = 0;      // answered as expected
  uint64_t memory_fills = 0;  // contained: the command was killed, the sandbox answered after
  uint64_t disk_fills = 0;    // contained: the write failed, the sandbox answered after
  // Of the memory fills, those whose sandbox was too slow to answer its heartbeats meanwhile,
  // so was restarted (and answered after).
  uint64_t restarted_by_fill = 0;
  uint64_t interrupted = 0;   // a sandbox that went down with a killed rockd
  uint64_t wrong = 0;         // an answer that was not what the command must give: must be 0
  uint64_t left_running = 0;  // created and not stopped at the end: must be 0
  std::vector<std::string> problems;
};

class ShellLoad {
 public:
  explicit ShellLoad(SoakRockd& rockd, uint64_t seed) : rockd_(rockd), next_(seed) {}
  // Until `running` is false.
  void Run(const std::atomic<bool>& running);
  // After rockd has stopped: every sandbox created is stopped in rockd.db.
  void Reconcile(const std::string& data_dir);
  const ShellTally& tally() const { return tally_; }

 private:
  void OneSandbox();
  enum class Outcome { kAnswered, kSandboxRestarted, kFailed };
  // Runs `cmd` in sandbox `id`. kSandboxRestarted: the sandbox went down meanwhile (503); a
  // failure is counted as wrong unless rockd itself was down or restarted.
  Outcome Exec(const std::string& id, const std::string& cmd, int* exit_code, std::string* stdout_text,
               bool restart_expected);
  // The plain command, retried while the sandbox comes back from a restart.
  void Echo(const std::string& id, uint64_t k, bool after_fill);
  bool Interrupted(int incarnation) const;
  void Wrong(std::string what);

  SoakRockd& rockd_;
  uint64_t next_;
  struct Created {
    std::string id;
    int incarnation;  // the rockd process that created it
    bool interrupted;  // that process was killed while the sandbox was in use
    int delete_status;  // the HTTP status of its DELETE (0: not sent)
  };
  std::vector<Created> created_;
  ShellTally tally_;
};

}  // namespace rock::soak
