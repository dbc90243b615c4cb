// SWE-bench benchmarks (issue 7), in one run on this machine:
//   workspace  how long a checkout at base_commit takes, by method: ours (a clone sharing the
//              mirror's objects), a plain local clone, a fresh clone through the pack protocol,
//              and a git worktree of a writable clone; run in this process, no sandbox
//   rockd      through a real rockd, each episode in its own sandbox: episode start (cold: the
//              sandbox is created for it; warm: a pooled sandbox is reset), grading on submit,
//              and whole episodes (start, one bash step, the reference fix, submit) with 1, 2, 4
//              and 8 running at once: episodes/s, episode time, and sandbox memory
// Prints markdown for docs/BENCHMARKS.md; needs root for the sandboxes. Nothing is asserted.
//
//   build/bin/swebench_bench [--seconds N]   (window per concurrency row, default 10 s)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sandbox/exec.h"
#include "sandbox/spec.h"
#include "tests/support/http_client.h"
#include "tests/support/rockd_process.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kWorkspaceReps = 20;
constexpr const char* kConfig = R"({"pools": {"alfworld": {"min": 0},
    "swebench": {"min": 0, "max": 16, "slots": 1, "idle_s": 600, "limits": {"memory_mb": 512, "pids": 128, "disk_mb": 256}}},
    "episodes": {"step_timeout_ms": 120000}})";

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(q * static_cast<double>(values.size())))];
}

std::vector<json> Instances() {
  std::vector<json> instances;
  std::ifstream in(std::string(ROCK_SWEBENCH_DATA) + "/instances.jsonl");
  for (std::string line; std::getline(in, line);) instances.push_back(json::parse(line));
  return instances;
}

// Runs `script` with bash here; its wall time in ms, or -1 when it failed.
double TimeShell(const std::string& script) {
  const auto started = Clock::now();
  const json result = rock::sandbox::RunExecHere(
      {{"type", "exec"}, {"id", 0}, {"argv", {"/bin/bash", "-c", script}}, {"cwd", "/"}, {"env", {{"GIT_CONFIG_NOSYSTEM", "1"}}}},
      rock::sandbox::Limits{});
  if (result.value("exit_code", -1) != 0) {
    std::fprintf(stderr, "failed: %s\n%s\n", script.c_str(), result.value("stderr", "").c_str());
    return -1;
  }
  return Ms(Clock::now() - started);
}

std::string WorkspaceRows(const json& instance) {
  const std::string mirror = std::string(ROCK_SWEBENCH_DATA) + "/repos/" +
                             instance.at("repo").get<std::string>().substr(instance.at("repo").get<std::string>().find('/') + 1) +
                             ".git";
  const std::string commit = instance.at("base_commit");
  const fs::path scratch = fs::temp_directory_path() / ("swebench-bench-" + std::to_string(getpid()));
  fs::create_directories(scratch);
  const std::string base = scratch.string() + "/base";
  TimeShell("git clone -q " + mirror + " " + base);
  struct Method {
    const char* name;
    std::string script;  // {dest} is the checkout's directory
  };
  const Method methods[] = {
      {"clone --shared (rockd)", "git clone -q --shared --no-checkout " + mirror + " {dest} && git -C {dest} checkout -q --detach " + commit},
      {"clone (local, hard links)", "git clone -q --no-checkout " + mirror + " {dest} && git -C {dest} checkout -q --detach " + commit},
      {"clone --no-local (pack protocol)", "git clone -q --no-local --no-checkout " + mirror + " {dest} && git -C {dest} checkout -q --detach " + commit},
      {"worktree add (writable clone)", "git -C " + base + " worktree add -q --detach {dest} " + commit},
  };
  std::string rows;
  for (const Method& method : methods) {
    std::vector<double> times;
    for (int i = -1; i < kWorkspaceReps; ++i) {  // -1: a warm-up, not counted
      const std::string dest = scratch.string() + "/w" + std::to_string(i);
      std::string script = method.script;
      for (std::size_t at; (at = script.find("{dest}")) != std::string::npos;) script.replace(at, 6, dest);
      const double ms = TimeShell(script);
      if (ms >= 0 && i >= 0) times.push_back(ms);
      fs::remove_all(dest);
    }
    TimeShell("git -C " + base + " worktree prune");
    rows += fmt::format("| {} | {:.1f} | {:.1f} |\n", method.name, Percentile(times, 0.5), Percentile(times, 0.9));
  }
  fs::remove_all(scratch);
  return rows;
}

struct Episode {
  double start_ms = 0;   // POST /api/v1/episodes → 201
  double setup_ms = 0;   // the workspace part of it, measured in the sandbox
  double submit_ms = 0;  // submit → graded
  double eval_ms = 0;    // the grading part of it, measured in the sandbox
  double total_ms = 0;
  bool resolved = false;
};

rock::test::HttpReply Post(uint16_t port, const std::string& target, const json& body) {
  return rock::test::Http(port, "POST", target, body.dump());
}

// One whole episode: start, a bash step, the reference fix, submit.
bool PlayEpisode(uint16_t port, const json& instance, Episode* out) {
  const auto started = Clock::now();
  const auto start = Post(port, "/api/v1/episodes", {{"env", "swebench"}, {"task", {{"instance_id", instance.at("instance_id")}}}});
  if (start.status != 201) {
    std::fprintf(stderr, "start: %d %s\n", start.status, start.body.c_str());
    return false;
  }
  out->start_ms = Ms(Clock::now() - started);
  const json first = start.json();
  out->setup_ms = first.at("info").value("setup_ms", 0.0);
  const std::string step = "/api/v1/episodes/" + first.at("id").get<std::string>() + "/step";
  const std::string fix = "git apply <<'ROCK_PATCH_END'\n" + instance.at("patch").get<std::string>() + "ROCK_PATCH_END\n";
  for (const std::string& command : {std::string("git status --short && ls"), fix}) {
    if (Post(port, step, {{"action", json{{"tool", "bash"}, {"command", command}}.dump()}}).status != 200) return false;
  }
  const auto submitted = Clock::now();
  const auto graded = Post(port, step, {{"action", R"({"tool":"submit"})"}});
  if (graded.status != 200) return false;
  out->submit_ms = Ms(Clock::now() - submitted);
  out->eval_ms = graded.json().at("info").value("eval_ms", 0.0);
  out->resolved = graded.json().at("reward").get<double>() == 1.0;
  out->total_ms = Ms(Clock::now() - started);
  return true;
}

struct Peak {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sandbox_bytes{0};  // the largest memory_peak_bytes of any sandbox
  std::atomic<uint64_t> total_bytes{0};    // the largest sum of memory_bytes over sandboxes
};

void WatchMemory(uint16_t port, Peak& peak) {
  while (!peak.stop) {
    const auto listed = rock::test::Http(port, "GET", "/api/v1/sandboxes");
    if (listed.status == 200) {
      uint64_t total = 0;
      const json sandboxes = listed.json().at("sandboxes");  // a named value: the loop must not dangle
      for (const json& listed_sandbox : sandboxes) {
        // Usage is read from the cgroup for one sandbox at a time, not in the listing.
        const auto one = rock::test::Http(port, "GET", "/api/v1/sandboxes/" + listed_sandbox.at("id").get<std::string>());
        if (one.status != 200 || !one.json().contains("usage")) continue;
        const json usage = one.json().at("usage");
        total += usage.value("memory_bytes", uint64_t{0});
        peak.sandbox_bytes = std::max<uint64_t>(peak.sandbox_bytes, usage.value("memory_peak_bytes", uint64_t{0}));
      }
      peak.total_bytes = std::max<uint64_t>(peak.total_bytes, total);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string ConcurrencyRow(uint16_t port, const std::vector<json>& instances, int concurrent, std::chrono::seconds window) {
  std::mutex mutex;
  std::vector<Episode> done;
  std::atomic<int> failed{0};
  Peak peak;
  std::thread watcher(WatchMemory, port, std::ref(peak));
  const auto deadline = Clock::now() + window;
  const auto started = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrent; ++c) {
    clients.emplace_back([&, c] {
      for (std::size_t i = static_cast<std::size_t>(c); Clock::now() < deadline; i += static_cast<std::size_t>(concurrent)) {
        Episode episode;
        if (!PlayEpisode(port, instances[i % instances.size()], &episode)) {
          ++failed;
          continue;
        }
        std::lock_guard lock(mutex);
        done.push_back(episode);
      }
    });
  }
  for (std::thread& client : clients) client.join();
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
  peak.stop = true;
  watcher.join();
  std::vector<double> totals;
  int resolved = 0;
  for (const Episode& e : done) {
    totals.push_back(e.total_ms);
    resolved += e.resolved ? 1 : 0;
  }
  return fmt::format("| {} | {} | {:.2f} | {:.0f} | {:.0f} | {}/{} | {:.0f} | {:.0f} |\n", concurrent, done.size(),
                     static_cast<double>(done.size()) / elapsed_s, Percentile(totals, 0.5), Percentile(totals, 0.9), resolved,
                     done.size() + static_cast<std::size_t>(failed.load()), static_cast<double>(peak.sandbox_bytes) / (1 << 20),
                     static_cast<double>(peak.total_bytes) / (1 << 20));
}

int Main(int argc, char** argv) {
  std::chrono::seconds window(10);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--seconds") window = std::chrono::seconds(std::stoi(argv[i + 1]));
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "swebench_bench needs root: episodes run in sandboxes\n");
    return 1;
  }
  const std::vector<json> instances = Instances();
  if (instances.empty()) {
    std::fprintf(stderr, "no instances in %s\n", ROCK_SWEBENCH_DATA);
    return 1;
  }
  std::fprintf(stderr, "workspace checkouts...\n");
  const std::string workspace = WorkspaceRows(instances.front());

  auto rockd = rock::test::RockdProcess::Start({.config_json = kConfig});
  if (rockd == nullptr) return 1;
  const uint16_t port = rockd->port();

  std::fprintf(stderr, "cold and warm episodes...\n");
  std::vector<double> cold_start, warm_start, setup, submit, eval;
  for (int round = 0; round < 2; ++round) {
    for (const json& instance : instances) {
      Episode e;
      if (!PlayEpisode(port, instance, &e)) continue;
      if (round > 0 || &instance != &instances.front()) warm_start.push_back(e.start_ms);
      setup.push_back(e.setup_ms);
      submit.push_back(e.submit_ms);
      eval.push_back(e.eval_ms);
    }
  }
  // Cold starts: the first episode of a fresh rockd, whose pool has no sandbox yet.
  for (int i = 0; i < 5; ++i) {
    auto fresh = rock::test::RockdProcess::Start({.config_json = kConfig});
    Episode e;
    if (fresh != nullptr && PlayEpisode(fresh->port(), instances[static_cast<std::size_t>(i) % instances.size()], &e)) {
      cold_start.push_back(e.start_ms);
    }
  }

  std::string concurrency;
  for (int concurrent : {1, 2, 4, 8}) {
    std::fprintf(stderr, "%d at once...\n", concurrent);
    concurrency += ConcurrencyRow(port, instances, concurrent, window);
  }

  std::printf("Workspace at base_commit, by method (%d checkouts each, ms):\n\n| method | p50 | p90 |\n|---|---|---|\n%s\n",
              kWorkspaceReps, workspace.c_str());
  std::printf("Through rockd, one sandbox per episode (ms; %zu instances, twice each, and %zu cold starts):\n\n", instances.size(),
              cold_start.size());
  std::printf("| phase | p50 | p90 |\n|---|---|---|\n");
  std::printf("| start, cold (sandbox created, workspace checked out) | %.1f | %.1f |\n", Percentile(cold_start, 0.5), Percentile(cold_start, 0.9));
  std::printf("| start, warm (pooled sandbox reset) | %.1f | %.1f |\n", Percentile(warm_start, 0.5), Percentile(warm_start, 0.9));
  std::printf("| of which the workspace, in the sandbox | %.1f | %.1f |\n", Percentile(setup, 0.5), Percentile(setup, 0.9));
  std::printf("| submit → graded | %.1f | %.1f |\n", Percentile(submit, 0.5), Percentile(submit, 0.9));
  std::printf("| of which the grading, in the sandbox | %.1f | %.1f |\n\n", Percentile(eval, 0.5), Percentile(eval, 0.9));
  std::printf("Whole episodes at once (start, a bash step, the reference fix, submit), %lld s each:\n\n",
              static_cast<long long>(window.count()));
  std::printf("| at once | episodes | episodes/s | episode p50 ms | p90 ms | resolved | peak sandbox MiB | peak all sandboxes MiB |\n"
              "|---|---|---|---|---|---|---|---|\n%s",
              concurrency.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
