// ALFWorld engine benchmarks (issue 4), one thread, generated games:
//   step        Engine::Step on replayed random-agent commands (no admissible list), and the
//               random agent's loop with the admissible list computed every step
//   env step    AlfworldEnv::Step, which also builds the info JSON (what rock-env serves)
//   reset       a new game (generate + build + intro), Engine::Reset of a built game, and
//               AlfworldEnv::Reset of a new task
//   expert      episodes/s played by the expert, with and without generating the game
//   random      the random agent's success rate per task type (50 steps, 1,000 games each)
// Prints markdown for docs/BENCHMARKS.md. A benchmark, not a test: nothing is asserted.
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "envs/alfworld/alfworld_env.h"
#include "envs/alfworld/engine.h"
#include "envs/alfworld/expert.h"
#include "envs/alfworld/generator.h"
#include "envs/alfworld/random_agent.h"

namespace {

using namespace rock::alfworld;
using Clock = std::chrono::steady_clock;

constexpr int kGamesPerType = 100;
constexpr int kEpisodeSteps = 50;
constexpr double kMinSeconds = 2.0;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::shared_ptr<const Game> Make(TaskType type, uint64_t index) {
  auto gen = GenerateGame(type, Split::kTrain, index);
  if (!gen.ok()) {
    fmt::print(stderr, "generate: {}\n", gen.status().ToString());
    std::exit(1);
  }
  auto game = MakeGame(gen->problem, gen->id, gen->task_text);
  if (!game.ok()) {
    fmt::print(stderr, "make: {}\n", game.status().ToString());
    std::exit(1);
  }
  return *game;
}

struct Episode {
  std::shared_ptr<const Game> game;
  std::vector<std::string> commands;  // a random agent's 50 commands, replayed as is
};

// Runs `body` over and over until kMinSeconds have passed; returns calls per second.
template <typename F>
double Rate(F&& body, long* calls_out = nullptr) {
  long calls = 0;
  Clock::time_point start = Clock::now();
  double elapsed = 0;
  do {
    calls += body();
    elapsed = Seconds(start);
  } while (elapsed < kMinSeconds);
  if (calls_out != nullptr) *calls_out = calls;
  return static_cast<double>(calls) / elapsed;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

}  // namespace

int main() {
  std::vector<Episode> episodes;
  for (TaskType type : kAllTaskTypes) {
    for (int i = 0; i < kGamesPerType; ++i) {
      Episode ep{Make(type, static_cast<uint64_t>(i)), {}};
      Engine e(ep.game);
      RandomAgent agent(static_cast<uint64_t>(i));
      for (int s = 0; s < kEpisodeSteps; ++s) {
        ep.commands.emplace_back(agent.Act(e.AdmissibleCommands()));
        e.Step(ep.commands.back());
      }
      episodes.push_back(std::move(ep));
    }
  }
  std::vector<Engine> engines;
  for (const Episode& ep : episodes) engines.emplace_back(ep.game);

  // Replay: every engine plays its recorded commands; no admissible lists.
  long valid = 0, replayed = 0;
  double step_rate = Rate(
      [&] {
        long n = 0;
        for (size_t g = 0; g < episodes.size(); ++g) {
          Engine& e = engines[g];
          e.Reset();
          for (const std::string& cmd : episodes[g].commands) {
            valid += e.Step(cmd).valid;
            ++n;
          }
        }
        return n;
      },
      &replayed);

  // Random agent: admissible list every step, then the step.
  double random_rate = Rate([&] {
    long n = 0;
    for (size_t g = 0; g < episodes.size(); ++g) {
      Engine& e = engines[g];
      e.Reset();
      RandomAgent agent(g);
      for (int s = 0; s < kEpisodeSteps; ++s) {
        e.Step(agent.Act(e.AdmissibleCommands()));
        ++n;
      }
    }
    return n;
  });

  // The Env layer: JSON info with the admissible list on every step. Each pass resets 20 envs
  // to games they played before (cached, ~1% of the time) and replays those games' commands.
  std::vector<AlfworldEnv> envs(20);
  double env_step_rate = Rate([&] {
    long n = 0;
    for (size_t k = 0; k < envs.size(); ++k) {
      const size_t index = k * episodes.size() / envs.size();
      const Episode& ep = episodes[index];
      nlohmann::json task = {{"type", TaskTypeName(ep.game->spec->type)},
                             {"seed", index % kGamesPerType}};
      if (!envs[k].Reset(task, 0).ok()) std::exit(1);
      for (const std::string& cmd : ep.commands) {
        auto step = envs[k].Step(cmd);
        ++n;
        if (!step.ok() || step->terminated || step->truncated) break;
      }
    }
    return n;
  });

  uint64_t fresh = 1000000;
  double new_game_rate = Rate([&] {
    Engine e(Make(kAllTaskTypes[fresh % 6], fresh));
    ++fresh;
    return 1;
  });
  double engine_reset_rate = Rate([&] {
    for (Engine& e : engines) e.Reset();
    return static_cast<long>(engines.size());
  });
  AlfworldEnv env;
  uint64_t env_seed = 2000000;
  double env_reset_rate = Rate([&] {
    nlohmann::json task = {{"type", TaskTypeName(kAllTaskTypes[env_seed % 6])}, {"seed", env_seed}};
    ++env_seed;
    return env.Reset(task, 0).ok() ? 1L : 0L;
  });

  // Tasks another env of this process played before share its game (GameCache).
  AlfworldEnv warm, other;
  for (int i = 0; i < 100; ++i) {
    if (!warm.Reset({{"type", "pick_and_place_simple"}, {"seed", 4000000 + i}}, 0).ok()) {
      std::exit(1);
    }
  }
  int shared_seed = 0;
  double env_shared_reset_rate = Rate([&] {
    nlohmann::json task = {{"type", "pick_and_place_simple"}, {"seed", 4000000 + shared_seed}};
    shared_seed = (shared_seed + 1) % 100;
    return other.Reset(task, 0).ok() ? 1L : 0L;
  });

  long expert_won = 0, expert_episodes = 0;
  uint64_t expert_index = 3000000;
  double expert_rate = Rate([&] {
    Engine e(Make(kAllTaskTypes[expert_index % 6], expert_index));
    ++expert_index;
    RunExpert(e, kEpisodeSteps);
    expert_won += e.won();
    ++expert_episodes;
    return 1;
  });
  double expert_built_rate = Rate([&] {
    for (Engine& e : engines) {
      e.Reset();
      RunExpert(e, kEpisodeSteps);
    }
    return static_cast<long>(engines.size());
  });

  struct utsname uts {};
  uname(&uts);
  fmt::print("- machine: {} cores, {}, Linux {}\n", sysconf(_SC_NPROCESSORS_ONLN), CpuModel(),
             uts.release);
  fmt::print("- workload: {} generated train games ({} per task type); one thread\n\n",
             episodes.size(), kGamesPerType);
  fmt::print("| measure | result |\n|---|---:|\n");
  fmt::print(
      "| Engine::Step, replayed random-agent commands ({:.0f}% valid), no admissible list | "
      "{:.0f} steps/s ({:.0f} ns/step) |\n",
      100.0 * static_cast<double>(valid) / static_cast<double>(replayed), step_rate,
      1e9 / step_rate);
  fmt::print("| random agent: AdmissibleCommands() + Step | {:.0f} steps/s ({:.0f} ns/step) |\n",
             random_rate, 1e9 / random_rate);
  fmt::print(
      "| AlfworldEnv::Step (info JSON with admissible commands) | {:.0f} steps/s "
      "({:.1f} µs/step) |\n",
      env_step_rate, 1e6 / env_step_rate);
  fmt::print("| new game: generate + build world + compile goal + intro | {:.1f} µs |\n",
             1e6 / new_game_rate);
  fmt::print("| Engine::Reset of a built game | {:.2f} µs |\n", 1e6 / engine_reset_rate);
  fmt::print("| AlfworldEnv::Reset, new task each time | {:.1f} µs |\n", 1e6 / env_reset_rate);
  fmt::print("| AlfworldEnv::Reset, task another env played (shared game) | {:.1f} µs |\n",
             1e6 / env_shared_reset_rate);
  fmt::print("| expert episodes, game generated each time | {:.0f} episodes/s ({} of {} won) |\n",
             expert_rate, expert_won, expert_episodes);
  fmt::print("| expert episodes on built games | {:.0f} episodes/s |\n\n", expert_built_rate);

  fmt::print(
      "Random agent (uniform over admissible commands, {} steps, 1,000 train games per "
      "type, agent seed = game index):\n\n| task type | success rate |\n|---|---:|\n",
      kEpisodeSteps);
  for (TaskType type : kAllTaskTypes) {
    int won = 0;
    for (uint64_t i = 0; i < 1000; ++i) {
      Engine e(Make(type, i));
      RandomAgent agent(i);
      for (int s = 0; s < kEpisodeSteps && !e.won(); ++s) e.Step(agent.Act(e.AdmissibleCommands()));
      won += e.won();
    }
    fmt::print("| {} | {:.1f}% |\n", TaskTypeName(type), won / 10.0);
  }
  return 0;
}
