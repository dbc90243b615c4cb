#include "tests/soak/shell_load.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "tests/soak/json_field.h"
#include "tests/soak/soak_rockd.h"
#include "tests/support/http_client.h"

namespace rock::soak {
namespace {

using json = nlohmann::json;

constexpr std::size_t kProblemsKept = 20;
// Small limits, so that the fills are quick: 64 MiB of memory, 16 MiB of /tmp.
const json kSpec = {{"env", "shell"}, {"limits", {{"memory_mb", 64}, {"disk_mb", 16}, {"pids", 64}, {"wall_s", 120}}}};
// Pipes 256 MiB of zeros into tail, which keeps the whole newline-free last line in memory.
constexpr const char* kMemoryFill = "head -c 268435456 /dev/zero | tail -n 1 > /dev/null";
constexpr const char* kDiskFill = "dd if=/dev/zero of=/tmp/fill bs=1M count=64 status=none";

}  // namespace

void ShellLoad::Run(const std::atomic<bool>& running) {
  while (running) {
    if (rockd_.port() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    OneSandbox();
  }
}

bool ShellLoad::Interrupted(int incarnation) const {
  return rockd_.port() == 0 || rockd_.incarnation() != incarnation;
}

void ShellLoad::Wrong(std::string what) {
  ++tally_.wrong;
  if (tally_.problems.size() < kProblemsKept) tally_.problems.push_back(std::move(what));
}

ShellLoad::Outcome ShellLoad::Exec(const std::string& id, const std::string& cmd, int* exit_code,
                                   std::string* stdout_text, bool restart_expected) {
  const int incarnation = rockd_.incarnation();
  const test::HttpReply reply = test::Http(rockd_.port(), "POST", "/api/v1/sandboxes/" + id + "/exec",
                                           json{{"cmd", cmd}, {"timeout_s", 30}}.dump());
  if (reply.status == 200) {
    const json answer = json::parse(reply.body, nullptr, false);
    *exit_code = IntField(answer, "exit_code", -1);  // null for a command killed by a signal
    *stdout_text = StringField(answer, "stdout");
    return Outcome::kAnswered;
  }
  if (reply.status == 503 && restart_expected) return Outcome::kSandboxRestarted;
  if (!Interrupted(incarnation)) Wrong("exec in " + id + ": " + std::to_string(reply.status) + " " + reply.body);
  return Outcome::kFailed;
}

void ShellLoad::Echo(const std::string& id, uint64_t k, bool after_fill) {
  const std::string word = "soak-" + std::to_string(k);
  int code = -1;
  std::string out;
  Outcome outcome = Outcome::kSandboxRestarted;
  // A sandbox restarted by its fill answers 503 until it is ready again.
  for (int attempt = 0; outcome == Outcome::kSandboxRestarted && attempt < 100; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    outcome = Exec(id, "rm -f /tmp/fill; echo " + word, &code, &out, /*restart_expected=*/after_fill && attempt < 99);
  }
  if (outcome != Outcome::kAnswered) return;
  if (code != 0 || out != word + "\n") {
    return Wrong(id + ": echo " + word + " gave exit " + std::to_string(code) + " and '" + out + "'");
  }
  ++tally_.commands;
}

void ShellLoad::OneSandbox() {
  const int incarnation = rockd_.incarnation();
  const test::HttpReply created = test::Http(rockd_.port(), "POST", "/api/v1/sandboxes", kSpec.dump());
  if (created.status != 201) {
    if (Interrupted(incarnation)) return;
    return Wrong("create: " + std::to_string(created.status) + " " + created.body);
  }
  const std::string id = StringField(json::parse(created.body, nullptr, false), "id");
  created_.push_back({id, incarnation, false, 0});
  ++tally_.sandboxes;
  const uint64_t k = next_++;
  const bool memory = k % 3 == 1, disk = k % 3 == 2;
  bool fill_ok = true;
  if (memory || disk) {
    int code = -1;
    std::string out;
    const Outcome outcome = Exec(id, memory ? kMemoryFill : kDiskFill, &code, &out, /*restart_expected=*/memory);
    fill_ok = outcome != Outcome::kFailed;
    if (outcome == Outcome::kAnswered && code == 0) {
      fill_ok = false;
      Wrong(id + (memory ? ": filling 256 MiB under a 64 MiB limit succeeded" : ": writing 64 MiB to a 16 MiB /tmp succeeded"));
    }
    if (outcome == Outcome::kSandboxRestarted) ++tally_.restarted_by_fill;
  }
  // Whatever came before, the sandbox answers a plain command exactly.
  if (fill_ok) {
    const uint64_t answered = tally_.commands;
    Echo(id, k, memory);
    if (tally_.commands > answered) {
      tally_.memory_fills += memory ? 1 : 0;
      tally_.disk_fills += disk ? 1 : 0;
    }
  }
  const test::HttpReply deleted = test::Http(rockd_.port(), "DELETE", "/api/v1/sandboxes/" + id);
  created_.back().delete_status = deleted.status;
  if (deleted.status != 200 && !Interrupted(incarnation)) {
    Wrong("delete " + id + ": " + std::to_string(deleted.status) + " " + deleted.body);
  }
  if (Interrupted(incarnation)) {
    ++tally_.interrupted;
    created_.back().interrupted = true;
  }
}

void ShellLoad::Reconcile(const std::string& data_dir) {
  SQLite::Database db(data_dir + "/rockd.db", SQLite::OPEN_READONLY);
  SQLite::Statement state(db, "SELECT state FROM sandboxes WHERE id = ?");
  SQLite::Statement events(db,
                           "SELECT ts, from_state, to_state, reason FROM sandbox_events WHERE sandbox_id = ?"
                           " ORDER BY rowid DESC LIMIT 4");
  for (const Created& sandbox : created_) {
    state.reset();
    state.bind(1, sandbox.id);
    const std::string as_stored = state.executeStep() ? state.getColumn(0).getString() : "not stored";
    if (as_stored == "stopped") continue;
    ++tally_.left_running;
    if (tally_.problems.size() >= kProblemsKept) continue;
    // What is needed to tell why: the process that made it, and the last transitions stored.
    std::string what = sandbox.id + " (created by rockd process " + std::to_string(sandbox.incarnation) +
                       (sandbox.interrupted ? ", killed while it was in use" : "") + "; DELETE answered " +
                       std::to_string(sandbox.delete_status) + ") is " + as_stored +
                       " in the database; its last events, newest first:";
    events.reset();
    events.bind(1, sandbox.id);
    while (events.executeStep()) {
      what += " [" + std::to_string(events.getColumn(0).getInt64()) + " " + events.getColumn(1).getString() + "→" +
              events.getColumn(2).getString() + ": " + events.getColumn(3).getString() + "]";
    }
    tally_.problems.push_back(std::move(what));
  }
}

}  // namespace rock::soak
