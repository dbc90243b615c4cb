// libFuzzer target: arbitrary bytes as commands (one per line) to an ALFWorld engine on generated
// games of every task type. Beyond "no crash", it checks the engine's contract: a command is
// accepted exactly when it is one of the admissible commands listed just before it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "envs/alfworld/engine.h"
#include "envs/alfworld/generator.h"

namespace {

using namespace rock::alfworld;

std::vector<std::unique_ptr<Engine>> MakeEngines() {
  std::vector<std::unique_ptr<Engine>> engines;
  for (TaskType type : kAllTaskTypes) {
    auto gen = GenerateGame(type, Split::kTrain, 0);
    if (!gen.ok()) std::abort();
    auto game = MakeGame(gen->problem, gen->id, gen->task_text);
    if (!game.ok()) std::abort();
    engines.push_back(std::make_unique<Engine>(*game));
  }
  return engines;
}

std::string_view Trimmed(std::string_view s) {
  auto stripped = [](char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
  };
  while (!s.empty() && stripped(s.front())) s.remove_prefix(1);
  while (!s.empty() && stripped(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<std::unique_ptr<Engine>> engines = MakeEngines();
  if (size == 0) return 0;
  Engine& engine = *engines[data[0] % engines.size()];
  engine.Reset();
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!input.empty()) {
    size_t end = input.find('\n');
    std::string_view command = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    bool listed = false;
    for (const std::string& admissible : engine.AdmissibleCommands()) {
      listed = listed || admissible == Trimmed(command);
    }
    if (engine.Step(command).valid != listed) __builtin_trap();
    if (engine.observation().empty()) __builtin_trap();
  }
  return 0;
}
