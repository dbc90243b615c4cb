// The chaos soak: thousands of ALFWorld and SWE-bench episodes over the trainer stream and
// shell sandboxes over HTTP, while pool sandboxes are SIGKILLed and SIGSTOPped, shell sandboxes
// fill their memory and disk, trainer connections are cut, trainers stall, and rockd itself is
// SIGKILLed and started again on its data dir. At the end every start, episode, trajectory and
// sandbox is accounted for against rockd's database, the host is searched for anything the
// stopped rockd left, and the last rockd's memory is compared with its own start.
//
//   chaos_soak [--seconds 90] [--trainers 2] [--in-flight 16] [--fault-every-ms 400]
//              [--stall-ms 2000] [--rockd-kill-every-s 30] [--report soak.json]
//              [--work-dir DIR] [--rockd BINARY] [gtest flags]
//
// ctest runs it for the default 90 s; bench/chaos_soak.sh runs it for 30 minutes and more.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/soak/fault_injector.h"
#include "tests/soak/leak_check.h"
#include "tests/soak/shell_load.h"
#include "tests/soak/soak_rockd.h"
#include "tests/soak/trainer_load.h"
#include "tests/support/rockd_process.h"

namespace rock::soak {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct SoakOptions {
  int seconds = 90;
  int trainers = 2;
  int in_flight = 16;
  int swebench_every = 40;
  int fault_every_ms = 400;
  int stall_ms = 2000;
  int rockd_kill_every_s = 30;
  std::string report;
  std::string work_dir;  // kept (rockd's data and logs); empty: a temporary one, removed
  std::string rockd;     // empty: the rockd of this build
};
SoakOptions g_options;

// Failure detection within 2 s (a sandbox filling its memory may be slow to answer for a
// while, and that is not a hang), no quarantine (sandboxes are killed again and again), failovers
// enough for an episode hit many times; two ALFWorld sandboxes of 16 slots that may grow to
// four, and a SWE-bench sandbox.
constexpr const char* kSoakConfig = R"({
  "health": {"interval_ms": 200, "misses": 10},
  "restart": {"backoff_initial_ms": 10, "backoff_max_ms": 200, "crash_loop_failures": 1000},
  "episodes": {"step_timeout_ms": 15000, "max_failovers": 100},
  "pools": {"alfworld": {"min": 2, "max": 4, "slots": 16, "limits": {"memory_mb": 256}},
            "swebench": {"min": 1, "max": 2, "slots": 1}}
})";
constexpr seconds kReadyTimeout{60};
constexpr seconds kDrainTimeout{120};
// Time for the last rockd to settle before its baseline is taken, and after the drain.
constexpr seconds kWarmUp{10};
constexpr seconds kSettle{3};

template <typename Container>
std::string Join(const Container& lines) {
  std::string out;
  for (const std::string& line : lines) out += "  " + line + "\n";
  return out;
}

TEST(ChaosSoak, EveryStartEpisodeTrajectoryAndSandboxIsAccountedForAndNothingLeaks) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: sandboxes use namespaces, cgroups and mounts";
  const SoakOptions& o = g_options;
  test::TempDir temp;
  const std::string work = o.work_dir.empty() ? temp.path() : o.work_dir;
  const std::string data_dir = work + "/data";
  SoakRockd rockd(kSoakConfig, data_dir, work + "/rockd-", o.rockd);
  ASSERT_TRUE(rockd.Start(kReadyTimeout));

  std::vector<std::unique_ptr<TrainerLoad>> trainers;
  std::vector<TrainerLoad*> targets;
  for (int t = 0; t < o.trainers; ++t) {
    trainers.push_back(std::make_unique<TrainerLoad>(
        TrainerLoadOptions{.name = "soak-" + std::to_string(t), .msgpack = t % 2 == 1, .in_flight = o.in_flight,
                           .swebench_every = o.swebench_every, .seed = static_cast<uint64_t>(t + 1)},
        rockd));
    ASSERT_TRUE(trainers.back()->Connect()) << Join(trainers.back()->tally().problems);
    targets.push_back(trainers.back().get());
  }
  ShellLoad shell(rockd, 1);
  const Clock::time_point began = Clock::now();
  FaultInjector faults({.every = milliseconds(o.fault_every_ms),
                        .stall = milliseconds(o.stall_ms),
                        .rockd_kill_every = seconds(o.rockd_kill_every_s),
                        .rockd_kills_until = seconds(o.seconds * 6 / 10)},
                       rockd, targets);

  std::atomic<bool> starting{true}, running{true}, sampling{true};
  std::atomic<int64_t> drain_deadline_ms{INT64_MAX};
  std::vector<std::thread> threads;
  for (auto& trainer : trainers) threads.emplace_back([&, t = trainer.get()] { t->Run(starting, drain_deadline_ms); });
  threads.emplace_back([&] { shell.Run(running); });
  threads.emplace_back([&] { faults.Run(running, began); });
  std::thread sampler([&] {
    while (sampling) {
      rockd.Sample(began);
      std::this_thread::sleep_for(seconds(1));
    }
  });

  std::this_thread::sleep_for(seconds(o.seconds));
  running = false;
  starting = false;
  drain_deadline_ms = std::chrono::duration_cast<milliseconds>((Clock::now() + kDrainTimeout).time_since_epoch()).count();
  for (std::thread& thread : threads) thread.join();
  const double load_s = std::chrono::duration<double>(Clock::now() - began).count();
  std::this_thread::sleep_for(kSettle);
  sampling = false;
  sampler.join();
  rockd.Sample(began);
  const std::vector<RockdSample> samples = rockd.samples();
  const int final_exit = rockd.Stop();

  for (auto& trainer : trainers) trainer->Reconcile(data_dir);
  shell.Reconcile(data_dir);
  const Leaks leaks = FindLeaks(faults.cgroup_parent(), data_dir);

  // The last rockd's memory after the drain against its own, once warm, under load.
  const int last = samples.empty() ? 0 : samples.back().incarnation;
  double last_began_s = 0;
  long max_rss_kb = 0;
  for (auto it = samples.rbegin(); it != samples.rend() && it->incarnation == last; ++it) last_began_s = it->t_s;
  long baseline_kb = 0;
  for (const RockdSample& s : samples) {
    max_rss_kb = std::max(max_rss_kb, s.rss_kb);
    if (baseline_kb == 0 && s.incarnation == last && s.t_s >= last_began_s + static_cast<double>(kWarmUp.count())) {
      baseline_kb = s.rss_kb;
    }
  }
  const long end_kb = samples.empty() ? 0 : samples.back().rss_kb;

  TrainerTally total;
  for (auto& trainer : trainers) total.Add(trainer->tally());
  std::vector<std::string> problems = total.problems;
  const ShellTally& sh = shell.tally();
  problems.insert(problems.end(), sh.problems.begin(), sh.problems.end());
  const std::vector<std::string> fault_problems = faults.problems();
  problems.insert(problems.end(), fault_problems.begin(), fault_problems.end());
  std::map<std::string, uint64_t> injected = faults.injected();
  injected["shell_memory_fill"] = sh.memory_fills;
  injected["shell_disk_fill"] = sh.disk_fills;

  json rss_series = json::array();
  for (const RockdSample& s : samples) rss_series.push_back({s.t_s, s.incarnation, s.rss_kb, s.open_fds});
  const json report = {
      {"seconds", o.seconds},
      {"load_seconds", load_s},
      {"episodes", {{"starts", total.starts},
                    {"seen", total.episodes},
                    {"steps", total.steps},
                    {"trajectories", total.trajectories},
                    {"statuses", total.statuses},
                    {"lost_with_killed_rockd", total.episodes_lost_with_rockd},
                    {"starts_resent", total.starts_resent},
                    {"errors", total.errors},
                    {"lost", total.lost},
                    {"duplicates", total.duplicates}}},
      {"shell", {{"sandboxes", sh.sandboxes},
                 {"commands", sh.commands},
                 {"restarted_by_memory_fill", sh.restarted_by_fill},
                 {"interrupted_by_rockd_kill", sh.interrupted},
                 {"wrong", sh.wrong},
                 {"left_running", sh.left_running}}},
      {"faults", injected},
      {"trainer_reconnects", total.reconnects},
      {"leaks", {{"processes", leaks.processes.size()},
                 {"cgroups", leaks.cgroups.size()},
                 {"mounts", leaks.mounts.size()},
                 {"files", leaks.files.size()}}},
      {"rockd", {{"incarnations", last},
                 {"final_exit", final_exit},
                 {"rss_baseline_kb", baseline_kb},
                 {"rss_end_kb", end_kb},
                 {"rss_max_kb", max_rss_kb},
                 {"samples", rss_series}}},
      {"problems", problems}};
  if (!o.report.empty()) std::ofstream(o.report) << report.dump(1) << "\n";
  json summary = report;
  summary["rockd"].erase("samples");
  std::printf("%s\n", summary.dump(1).c_str());

  EXPECT_EQ(total.lost, 0u);
  EXPECT_EQ(total.duplicates, 0u);
  EXPECT_EQ(sh.wrong, 0u);
  EXPECT_EQ(sh.left_running, 0u);
  EXPECT_TRUE(problems.empty()) << Join(problems);
  EXPECT_EQ(leaks.count(), 0u) << Join(leaks.processes) << Join(leaks.cgroups) << Join(leaks.mounts)
                               << Join(leaks.files);
  EXPECT_FALSE(faults.cgroup_parent().empty()) << "no sandbox listing showed rockd's cgroup";
  EXPECT_EQ(final_exit, 0) << rockd.Log();
  EXPECT_GT(total.trajectories, 0u);
  for (const char* kind : {"sandbox_sigkill", "sandbox_sigstop", "trainer_connection_cut", "trainer_stall",
                           "shell_memory_fill", "shell_disk_fill"}) {
    EXPECT_GT(injected[kind], 0u) << kind << " was never injected";
  }
  if (o.rockd_kill_every_s < o.seconds * 6 / 10) {
    EXPECT_GT(injected["rockd_sigkill"], 0u);
  }
  // Back near its baseline: within half again and 32 MiB (allocator slack) once drained. Not
  // under ASan, whose quarantine keeps up to 256 MiB of freed memory resident by design.
  EXPECT_GT(baseline_kb, 0);
#ifndef ROCK_SANITIZE_BUILD
  EXPECT_LE(end_kb, baseline_kb * 3 / 2 + 32 * 1024) << "baseline " << baseline_kb << " KiB";
#endif
}

}  // namespace
}  // namespace rock::soak

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  CLI::App app("rockd chaos soak");
  rock::soak::SoakOptions& o = rock::soak::g_options;
  app.add_option("--seconds", o.seconds, "how long the load and the faults run")->check(CLI::Range(10, 86400));
  app.add_option("--trainers", o.trainers, "trainer streams (JSON and MessagePack in turn)")->check(CLI::Range(1, 16));
  app.add_option("--in-flight", o.in_flight, "episodes each trainer keeps in flight")->check(CLI::Range(1, 1024));
  app.add_option("--swebench-every", o.swebench_every, "every Nth start is a SWE-bench episode (0: none)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--fault-every-ms", o.fault_every_ms, "pace of the sandbox and trainer faults")
      ->check(CLI::Range(10, 600000));
  app.add_option("--stall-ms", o.stall_ms, "how long a stalled trainer reads and acks nothing")
      ->check(CLI::Range(1, 600000));
  app.add_option("--rockd-kill-every-s", o.rockd_kill_every_s, "pace of rockd SIGKILLs (none in the last 40%)")
      ->check(CLI::Range(1, 86400));
  app.add_option("--report", o.report, "write the full report (JSON, with the RSS series) here");
  app.add_option("--work-dir", o.work_dir, "keep rockd's data dir and logs here (an empty or new directory)");
  app.add_option("--rockd", o.rockd, "the rockd binary (a copy, so that rebuilding during a long soak changes nothing)");
  CLI11_PARSE(app, argc, argv);
  return RUN_ALL_TESTS();
}
